/**
 * What shapes a layer's graph (the pass and the machine: GraphContext), which sites are deferred and
 * how deep (DeferChoice), and the units the ops' work is counted in (per-element op counts, vector work).
 */
import type { AttentionKernel, DeferredStatistic, EagerNormMultiply, NormKernel } from '../hardware/profile';
import type { Activation, AttentionSpec, LayerKind, ModelSpec } from '../model/spec';
import type { DeferDepth, Phase, SoftmaxOffset } from '../terms';
import type { Op, Tile, Work } from './ops';
import type { Site } from './sites';

/** Everything about the pass and the machine that changes the shape of a layer's graph. */
export interface GraphContext {
  phase: Phase;
  batch: number;
  /** Prompt length (prefill) or encoder length (cross-attention). */
  seq: number;
  /** Tokens already cached (decode). */
  context: number;
  tp: number;
  weightBytes: number;
  activationBytes: number;
  tiles: number;
  softmaxOffset: SoftmaxOffset;
  /** In-memory compute: weights never move. */
  weightsResident: boolean;
  /** Weights stream from memory ahead of the matmul, on the memory engine. */
  prefetch: boolean;
  /** Epilogues run inside the matmul that produces their input. */
  fusedEpilogue: boolean;
  /** P: compute units one activation vector is spread over. */
  computeUnits: number;
  /** The attention and norm kernels the serving software runs (hardware profile's `kernels`). */
  attention: AttentionKernel;
  norm: NormKernel;
  eagerNormMultiply: EagerNormMultiply;
  /** How a deferred norm's statistic runs beside the matmul (hardware profile's `kernels.deferredStatistic`). */
  deferredStatistic: DeferredStatistic;
}

/** FlashNorm's adaptive dispatch overlaps the statistic only from this many token rows (`second-stream-from-512`). */
export const SECOND_STREAM_MIN_ROWS = 512;

/** How deep each eligible site is deferred, or null where it is kept; ineligible sites are always kept. */
export type DeferChoice = (siteId: string) => DeferDepth | null;

/** A deferred scale not yet applied: it travels past the consumers' outputs to a later op. */
export interface PendingScale {
  site: Site;
  depth: DeferDepth;
  /** The op after which the gathered statistic is there. */
  gathered: number;
}

/** Per-element op counts of the vector work (add/mul-equivalents), see DESIGN.md §1. */
export const OPS = {
  rmsStat: 2, // x², running sum
  lnStat: 3, // x, x², two running sums
  rmsApply: 2, // ·r, ·γ
  lnApply: 4, // −μ, ·r, ·γ, +β
  scale: 1, // r·y
  scaleBias: 2, // r·y + c
  residual: 1,
  rope: 3,
  gatedMul: 1,
} as const;

/** Activation cost per element: add/mul-equivalents plus exps and divisions. */
export function activationCost(activation: Activation): { ops: number; exps: number; divs: number } {
  switch (activation) {
    case 'relu':
    case 'relu-like':
      return { ops: 1, exps: 0, divs: 0 };
    case 'gelu':
      return { ops: 7, exps: 1, divs: 1 }; // tanh form: tanh via one exp and one division
    case 'silu':
    case 'other':
      return { ops: 2, exps: 1, divs: 1 }; // silu/swish: x / (1 + e^−x); an unknown name is priced as SiLU
  }
}

/** What an op is part of, beyond its role and site (ops.ts): set where the op is built. */
export type OpAbout = Pick<Op, 'linear' | 'tile' | 'attention' | 'normStep'>;

// Tiles and their tags by count, then index: made once and shared by every op of every graph (nothing
// changes them), so a build allocates neither the tiles nor the tags of its ops' names.
const TILES: { tile: Tile; tag: string }[][] = [];

function tilesOf(count: number): { tile: Tile; tag: string }[] {
  let tiles = TILES[count];
  if (!tiles) TILES[count] = tiles = Array.from({ length: count }, (_, index) => ({ tile: { index, count }, tag: `[${index + 1}/${count}]` }));
  return tiles;
}

/** Tile t (0-based) of `count`. */
export function tileOf(index: number, count: number): Tile {
  return tilesOf(count)[index]!.tile;
}

/** The tag of tile t (0-based) of `count` in an op's name: `[t+1/count]`. */
export function tileTag(index: number, count: number): string {
  return tilesOf(count)[index]!.tag;
}

export type VectorExtra = Partial<Pick<Extract<Work, { kind: 'vector' }>, 'exps' | 'rsqrts' | 'divs'>>;

/** Elementwise work over `elements` values, `ops` each, reading and writing `bytes` where operands live in memory. */
export const vec = (elements: number, ops: number, bytes: number, extra: VectorExtra = {}): Work => ({
  kind: 'vector',
  elements,
  ops,
  exps: extra.exps ?? 0,
  rsqrts: extra.rsqrts ?? 0,
  divs: extra.divs ?? 0,
  bytes,
});

/** Bytes of one fp32 statistic per row. */
export const STAT_BYTES = 4;

/** Average number of keys each query attends to. */
export function keysPerQuery(attn: AttentionSpec, ctx: GraphContext, cross: boolean): number {
  if (cross) return ctx.seq;
  const w = attn.window ?? Infinity;
  if (ctx.phase === 'decode') return Math.min(ctx.context + 1, w);
  const t = ctx.seq;
  if (!attn.causal) return Math.min(t, w);
  if (w >= t) return (t + 1) / 2;
  return ((w * (w + 1)) / 2 + (t - w) * w) / t;
}

/** Tokens one layer of this stack processes in one pass. */
export function rowsFor(kind: LayerKind, ctx: GraphContext, topology: ModelSpec['topology']): number {
  if (ctx.phase === 'decode') return ctx.batch;
  // Prefill of an encoder-decoder: the encoder reads the prompt, the decoder makes its first token.
  if (topology === 'encoder-decoder' && kind.stack === 'decoder') return ctx.batch;
  return ctx.batch * ctx.seq;
}
