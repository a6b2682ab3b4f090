/**
 * What one site's pseudo-code is made of (SiteCodeInput), and the lines every listing of a site opens
 * with: what the site is, and the decision with its simulated numbers. Read by the norm listings
 * (site.ts) and the Softmax listings (site-softmax.ts).
 */
import type { Site } from '../graph/sites';
import type { LayerKind, ModelSpec } from '../model/spec';
import type { DeferDepth, SoftmaxOffset } from '../terms';
import type { SiteResult } from '../report/types';
import { blank, comment, count, layerRange, us, type Line } from './text';

/** Where a deferred site's epilogue runs: its own vector pass, or inside the matmul that produces its input. */
export type EpilogueEngine = 'vector' | 'fused' | 'unknown';

/** The shape of one attention's Softmax → ·V, as the simulated graph has it. */
export interface SoftmaxShape {
  offset: SoftmaxOffset;
  heads: number;
  kvHeads: number;
  /** Keys each query row attends to (an average in a causal prefill). */
  keys: number;
  /** Width of q and k per head as multiplied (MLA decode: the latent width). */
  qkDim: number;
  /** Width of v per head as multiplied: the values the deferred division acts on per row. */
  vDim: number;
}

/** Everything one site's pseudo-code is made of. */
export interface SiteCodeInput {
  site: Site;
  layerKind: { id: string; label: string; layers: readonly number[] };
  /** The decision and its numbers, from the report. */
  result: Pick<SiteResult, 'decision' | 'keptUs' | 'deferredUs' | 'reason'>;
  /** Compute units the statistic is gathered over (from the graph's collective); null when it is local. */
  units: number | null;
  epilogue: EpilogueEngine;
  /** Experts a token is routed to, when a router reads this norm. */
  topK: number | null;
  /** Softmax sites only. */
  softmax: SoftmaxShape | null;
  /**
   * How far the deferred scale travels before it is applied (norm sites; default 'linear', the
   * output of the linear layer right after the norm). A depth the algebra does not allow for this
   * site (see `depthRefusal`) is shown as 'linear' with the reason in words.
   */
  depth?: DeferDepth;
  /** The spec's layer kind of the site (absent for the head): names q, k, v, the activation and the down projection at deeper depths. */
  layer?: LayerKind;
  /** The model's positions ('rope': a rotary embedding sits between q, k and q·kᵀ). */
  positions?: ModelSpec['positions'];
}

export const MATRIX = 'matrix engine';
export const VECTOR = 'vector engine';

export function epilogueEngine(e: EpilogueEngine): string {
  switch (e) {
    case 'vector':
      return VECTOR;
    case 'fused':
      return 'matrix engine, fused into the matmul epilogue';
    case 'unknown':
      return 'epilogue (vector engine, or fused into the matmul)';
  }
}

export function header(input: SiteCodeInput): Line[] {
  const { site, layerKind } = input;
  const what = site.norm
    ? `${site.norm.kind === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm'} over ${site.norm.width} values (${site.norm.placement}-norm)`
    : softmaxWhat(input);
  return [comment(`${site.name}  ·  ${what}`), comment(`layer kind "${layerKind.id}": ${layerKind.label} (${layerRange(layerKind.layers)})`), comment(decision(input))];
}

function softmaxWhat(input: SiteCodeInput): string {
  const s = input.softmax;
  const att = input.site.attention === 'cross' ? 'cross-attention' : 'self-attention';
  if (!s) return att;
  return `${att}, ${s.heads} heads (${s.kvHeads} KV heads), ${count(s.keys)} keys per row, q·k over ${s.qkDim}, v width ${s.vDim}`;
}

/** Values per row the deferred epilogue scales, and where. */
function epilogueWork(input: SiteCodeInput): string {
  if (input.site.kind === 'softmax') {
    return input.softmax ? `divides ${input.softmax.vDim} values per row` : 'divides the p·V output';
  }
  const values = input.site.consumers.reduce((n, l) => n + l.out * (l.copies?.active ?? 1), 0);
  return `scales ${values} values per row (${input.site.consumers.map((l) => l.name).join(', ')})`;
}

/** The decision with its numbers, from the report. */
export function decision(input: SiteCodeInput): string {
  const r = input.result;
  const per = input.layerKind.id === 'head' ? 'for the head' : 'per layer';
  switch (r.decision) {
    case 'defer':
      return `deferred: ${us(r.deferredUs)} instead of ${us(r.keptUs)} ${per} (simulated)`;
    case 'ineligible':
      return `ineligible: ${input.site.ineligible ?? r.reason}`;
    case 'keep': {
      const gather = input.site.kind === 'softmax' ? 'the gathers it would hide' : 'the gather it would hide';
      if (r.deferredUs > r.keptUs) {
        return `kept: deferring would take ${us(r.deferredUs)} instead of ${us(r.keptUs)} ${per} (simulated); the epilogue ${epilogueWork(input)}, which costs more than ${gather}`;
      }
      if (r.deferredUs === r.keptUs) {
        return `kept: deferring would save nothing (${us(r.keptUs)} ${per} either way, simulated); ${gather} are not on the critical path`;
      }
      return `kept: deferring this site alone would take ${us(r.deferredUs)} instead of ${us(r.keptUs)} ${per}, but the layer with its deferrals was slower than the usual schedule, so the usual schedule was kept (simulated)`;
    }
  }
}

/** Why there is no rewrite, or the rewrite that was rejected, above the `after` code. */
export function afterPreamble(input: SiteCodeInput): Line[] {
  switch (input.result.decision) {
    case 'defer':
      return header(input);
    case 'keep':
      return [...header(input), comment('REJECTED rewrite: not applied, the usual schedule (before) is kept; shown for reference'), blank];
    case 'ineligible':
      return [...header(input), comment('no rewrite: the usual schedule (before) stays as it is')];
  }
}
