import { layerSites } from '../graph/sites';
import type { ModelSpec } from '../model/spec';
import { checkNumerics, DEFAULT_TOLERANCE, numericsShapeFor } from '../numerics/check';
import type { NumericsOptions, NumericsResult, NumericsSiteKind } from '../numerics/types';
import { table } from './text';

/** Which rewrites the model has, and its sizes, as options for the numerics check. */
export function numericsOptionsFor(spec: ModelSpec, seed = 1, tolerance = DEFAULT_TOLERANCE): NumericsOptions {
  const kinds = new Set<NumericsSiteKind>();
  let linearBias = false;
  for (const kind of spec.layerKinds) {
    for (const site of layerSites(kind, 'eager', spec.positions)) {
      if (site.kind === 'softmax') {
        kinds.add('softmax-v');
        continue;
      }
      if (site.ineligible !== null) continue;
      kinds.add(site.kind === 'layernorm' ? 'layernorm-linear' : 'rmsnorm-linear');
      if (site.consumers.length > 1) kinds.add('norm-multi-linear');
      linearBias ||= site.consumers.some((c) => c.bias);
      // Deeper deferral (issue 10): every depth the algebra allows for the site is a candidate the
      // simulator may pick by cost, so the check covers it whatever the cost decides. The
      // attention entries run their q and k through RoPE, so they need rotary positions.
      const allows = (depth: 'rope' | 'attention' | 'down'): boolean => site.depths.includes(depth);
      if (allows('rope')) kinds.add('rmsnorm-rope');
      if (allows('attention') && spec.positions === 'rope') kinds.add('rmsnorm-attention');
      if (allows('down')) kinds.add('rmsnorm-relu-down');
    }
  }
  if (spec.finalNorm && spec.lmHead) kinds.add(spec.finalNorm.kind === 'layernorm' ? 'layernorm-linear' : 'rmsnorm-linear');
  const first = spec.layerKinds[0]!;
  const shape = numericsShapeFor({
    hidden: spec.hidden,
    headDim: first.attention.headDim,
    ffn: first.mlp.ffn,
    vocab: spec.vocab,
    kvHeads: first.attention.kvHeads,
    heads: first.attention.heads,
  });
  return {
    sites: [...kinds],
    normKind: spec.normKind,
    linearBias,
    shape,
    dtypes: ['fp32', 'bf16', 'fp16'],
    accumulate: 'fp32',
    seed,
    tolerance,
  };
}

/** Baseline vs deferred on small tensors shaped like the model's own. */
export function numericsFor(spec: ModelSpec, seed = 1): NumericsResult {
  return checkNumerics(numericsOptionsFor(spec, seed));
}

/** True when every deferred form is within its baseline's own error (times the tolerance). */
export function numericsPass(result: NumericsResult): boolean {
  return result.entries.every((e) => e.withinBaseline) && (result.layerNormFold?.ok ?? true);
}

const sci = (x: number): string => (x === 0 ? '0' : Number.isFinite(x) ? x.toExponential(2) : String(x));

/** The numerics check as a terminal table, then the Softmax overflow cases and the LayerNorm fold. */
export function formatNumerics(result: NumericsResult, modelName: string): string {
  const rows = result.entries.map((e) => [
    e.site,
    e.dtype,
    e.offset ?? '',
    sci(e.baselineMaxRelErr),
    sci(e.deferredMaxRelErr),
    sci(e.deferredMeanRelErr),
    e.withinBaseline ? 'yes' : 'NO',
  ]);
  const out = [
    `Numerics of the rewrite for ${modelName}: baseline and deferred forms against a float64 reference`,
    `(seed ${result.seed}; tensors ${result.shape.rows} rows × hidden ${result.shape.hidden}, outputs ${result.shape.outFeatures}, head_dim ${result.shape.headDim}, context ${result.shape.context}; accumulation ${result.accumulate}).`,
    `"Within" means the deferred form's max relative error is at most ${result.tolerance}× the baseline's own.`,
    '',
    table(['Site', 'Dtype', 'Offset', 'Baseline max', 'Deferred max', 'Deferred mean', 'Within'], rows, ['left', 'left', 'left', 'right', 'right', 'right', 'left']),
  ];
  if (result.overflow.length > 0) {
    out.push('', 'Softmax offset and overflow:');
    for (const o of result.overflow) out.push(`  ${o.dtype}, max logit ${o.maxLogit}, offset ${o.offset}: ${o.overflowed ? 'overflows' : 'finite'}. ${o.note}`);
  }
  if (result.layerNormFold) {
    const f = result.layerNormFold;
    out.push('', `LayerNorm fold W̃ = (I − 11ᵀ/n)·diag(γ)·W, c = β·W + b against the unfolded layer in float64: max relative error ${sci(f.maxRelErr)} (${f.ok ? 'ok' : 'WRONG'}).`);
  }
  out.push('', numericsPass(result) ? 'Every deferred form is within its baseline.' : 'Some deferred form is worse than its baseline beyond the tolerance.');
  return out.join('\n') + '\n';
}
