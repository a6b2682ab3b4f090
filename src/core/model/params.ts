/**
 * Parameter count from a ModelSpec alone.
 *
 * Counted: every linear's weight and bias (MoE experts × their copies; per token
 * only the active copies), every norm's learned weight (and bias), the final norm,
 * lm_head (its weight only when not tied to the embeddings; a bias always), and
 * `extraParams`: token/position/token-type embeddings, embedding norms, poolers,
 * projections, relative-position tables and skipped hybrid layers. Buffers
 * (rotary inv_freq, causal masks, final_logits_bias) are not parameters.
 */
import type { LayerKind, LinearSpec, ModelSpec, NormSpec } from './spec';

export function linearParams(l: LinearSpec, which: 'total' | 'active' = 'total'): number {
  const one = l.in * l.out + (l.bias ? l.out : 0);
  if (!l.copies) return one;
  return one * (which === 'total' ? l.copies.total : l.copies.active);
}

export function normParamCount(n: NormSpec): number {
  switch (n.affine) {
    case 'weight':
    case 'one-plus-weight':
      return n.width;
    case 'weight+bias':
      return 2 * n.width;
    case 'none':
      return 0;
  }
}

/** Parameters of one layer of a kind. */
export function layerParams(kind: LayerKind, which: 'total' | 'active' = 'total'): number {
  let n = 0;
  for (const l of kind.linears) n += linearParams(l, which);
  for (const norm of kind.norms) n += normParamCount(norm);
  return n;
}

export function countParams(spec: Pick<ModelSpec, 'layerKinds' | 'finalNorm' | 'lmHead' | 'tiedEmbeddings' | 'vocab' | 'hidden' | 'extraParams'>): {
  total: number;
  active: number;
} {
  let total = 0;
  let active = 0;
  for (const kind of spec.layerKinds) {
    total += kind.layers.length * layerParams(kind, 'total');
    active += kind.layers.length * layerParams(kind, 'active');
  }
  let outside = 0;
  if (spec.finalNorm) outside += normParamCount(spec.finalNorm);
  if (spec.lmHead) {
    // A tied lm_head reuses the embedding matrix; only its bias is its own.
    outside += spec.tiedEmbeddings ? (spec.lmHead.bias ? spec.lmHead.out : 0) : linearParams(spec.lmHead);
  }
  total += outside;
  active += outside;
  if (spec.extraParams) {
    for (const p of spec.extraParams) {
      total += p.count;
      active += p.active ?? p.count;
    }
  } else {
    // A spec built elsewhere without extras: assume one token embedding table.
    total += spec.vocab * spec.hidden;
    active += spec.vocab * spec.hidden;
  }
  return { total, active };
}
