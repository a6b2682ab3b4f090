/**
 * checkNumerics: baseline vs deferred schedule of every rewrite site, per storage dtype, against a
 * float64 reference computed on the same stored inputs. Pure: no I/O, no clock, no global state.
 *
 * Sizes are capped inside (see NUMERICS_CAPS), so any caller gets a fast check; `result.shape` is
 * the shape actually used and `result.requestedShape` the one asked for when a cap applied.
 */

import { InputError, describeValue } from '../errors';
import { Precision, roundArray, rounder } from './floats';
import {
  FP64,
  FoldedLinear,
  KernelConfig,
  NormKind,
  NormParams,
  SoftmaxOffsetSpec,
  foldLayerNorm,
  foldNorm,
  foldRmsNorm,
  kernelConfig,
  normLinearBaseline,
  normLinearDeferred,
  normScales,
  normalizeRows,
  linear,
  scaledLinear,
  softmaxVBaseline,
  softmaxVDeferred,
  storeFolded,
} from './kernels';
import { AttentionInputs, activations, attentionUnit, betaVector, biasVector, gammaVector, scaleLogits, weight } from './inputs';
import { DeepMutation, LogitScales, MlpWeights, applyRope, attentionForm, mlpHidden, ropeTables, scaleRows } from './deep';
import { ErrorStats, FLOOR_FRACTION, maxAbsError, relErrorStats } from './metrics';
import type {
  DeferDepth,
  NumericsDtype,
  NumericsEntry,
  NumericsOptions,
  NumericsResult,
  NumericsShape,
  NumericsSiteKind,
  SoftmaxOffset,
} from './types';

/**
 * Caps on the tensors the check builds, applied inside checkNumerics (and by numericsShapeFor), so
 * no caller can make it slow. The full report runs the check on every `profile --format json`, where
 * a cold process pays for V8's warm-up of every kernel: with these caps the largest fixture's check
 * costs ≈ 90 ms on a cold first call on the 2-core dev VM (≈ 180 ms with the former caps of hidden
 * 1024, outputs 128, context 512). The hidden cap shortens the dot products (fp32 accumulation error
 * grows like √n at most), so errors at a model's full width may be a little larger than measured,
 * for both schedules alike; the output caps only reduce the number of samples the max is taken over
 * (4 rows × 64 per consumer); the context cap keeps 4 key blocks of the online offset (ONLINE_BLOCK).
 * Consumers of one norm are scaled down together so their ratio (e.g. q : kv = 4 : 1) is kept.
 * The tolerance below was re-measured at these caps (see DEFAULT_TOLERANCE).
 */
export const NUMERICS_CAPS = {
  hidden: 512,
  outFeatures: 64,
  multiOut: 64,
  multiCount: 4,
  headDim: 256,
  context: 256,
  rows: 8,
} as const;

/**
 * How much worse than the baseline's own max error the deferred form may be. A max over a few hundred
 * outputs is noisy: over 40 seeds × the 35 profiled fixtures the deferred/baseline ratio reached 3.79
 * (fp16 Softmax with the 'bound' offset; 3.60 with the former, larger caps). Real defects (LayerNorm
 * cancellation, overflow) are orders of magnitude off.
 */
export const DEFAULT_TOLERANCE = 4;
export const RMSNORM_EPS = 1e-6;
export const LAYERNORM_EPS = 1e-5;
/** Logit scale of the Softmax entries (logit std ≈ 2). */
export const LOGIT_SCALE = 2;
/** The 'bound' offset of the Softmax entries: the tensor's largest logit plus this slack. */
export const BOUND_SLACK = 2;
/** Key block of the 'online' offset. */
export const ONLINE_BLOCK = 64;
/** Row max of the overflow demonstration's logits: exp(24) ≈ 2.6e10 > 65504. */
export const OVERFLOW_MAX_LOGIT = 24;
/** ln(65504): the largest exponent whose exp is finite in float16. */
export const FP16_LN_MAX = Math.log(65504);

const SITE_LABEL: Record<NumericsSiteKind, string> = {
  'rmsnorm-linear': 'RMSNorm → Linear',
  'layernorm-linear': 'LayerNorm → Linear',
  'softmax-v': 'Softmax → ·V',
  'norm-multi-linear': 'Norm → several Linears',
  'rmsnorm-rope': 'RMSNorm → q, k → RoPE, r after RoPE',
  'rmsnorm-attention': 'RMSNorm → attention, r on the logits and after Σ',
  'rmsnorm-relu-down': 'RMSNorm → ReLU MLP, r after down',
};

const SITE_KINDS: readonly NumericsSiteKind[] = [
  'rmsnorm-linear',
  'layernorm-linear',
  'softmax-v',
  'norm-multi-linear',
  'rmsnorm-rope',
  'rmsnorm-attention',
  'rmsnorm-relu-down',
];
/** The site kinds of deeper deferral (issue 10): the scale travels past RoPE, into the attention, or to the down projection. */
const DEEP_KINDS: readonly NumericsSiteKind[] = ['rmsnorm-rope', 'rmsnorm-attention', 'rmsnorm-relu-down'];
const DTYPES: readonly NumericsDtype[] = ['fp32', 'bf16', 'fp16'];
const OFFSETS: readonly SoftmaxOffset[] = ['exact', 'bound', 'online'];

/** The capped slice sizes for a model's dimensions. */
export function numericsShapeFor(dims: {
  hidden: number;
  headDim: number;
  ffn: number;
  vocab: number;
  kvHeads: number;
  heads: number;
}): NumericsShape {
  const c = NUMERICS_CAPS;
  const pos = (v: number, fallback: number): number => (Number.isFinite(v) && v >= 1 ? Math.floor(v) : fallback);
  const headDim = Math.min(pos(dims.headDim, 64), c.headDim);
  const heads = pos(dims.heads, 1);
  const kvHeads = Math.min(pos(dims.kvHeads, heads), heads);
  const hidden = Math.min(pos(dims.hidden, heads * headDim), c.hidden);
  const outWidth = dims.ffn >= 1 ? dims.ffn : pos(dims.vocab, hidden);
  // K and V keep their ratio to Q (grouped-query attention).
  const [q, kv] = capWidths([heads * headDim, kvHeads * headDim], c.multiOut) as [number, number];
  return {
    hidden,
    outFeatures: Math.min(Math.floor(outWidth), c.outFeatures),
    multiOut: [q, kv, kv],
    headDim,
    context: c.context,
    rows: 4,
  };
}

/** Scale consumer widths down together so the widest is at most `cap` (keeps e.g. q : kv = 4 : 1), at least 16 each. */
function capWidths(widths: number[], cap: number): number[] {
  const widest = Math.max(...widths);
  if (widest <= cap) return widths.slice();
  return widths.map((w) => Math.min(w, Math.max(16, Math.round((w * cap) / widest))));
}

/** Apply NUMERICS_CAPS to a shape (validated first). */
export function capShape(shape: NumericsShape): NumericsShape {
  const c = NUMERICS_CAPS;
  const sizes: [keyof NumericsShape, number][] = [
    ['hidden', shape.hidden],
    ['outFeatures', shape.outFeatures],
    ['headDim', shape.headDim],
    ['context', shape.context],
    ['rows', shape.rows],
  ];
  for (const [field, v] of sizes)
    if (!Number.isInteger(v) || v < 1) throw new InputError('numerics options', `shape.${field}`, 'a positive integer', describeValue(v));
  if (!Array.isArray(shape.multiOut) || shape.multiOut.length === 0)
    throw new InputError('numerics options', 'shape.multiOut', 'a non-empty array of positive integers', describeValue(shape.multiOut));
  shape.multiOut.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 1)
      throw new InputError('numerics options', `shape.multiOut[${i}]`, 'a positive integer', describeValue(v));
  });
  return {
    hidden: Math.min(shape.hidden, c.hidden),
    outFeatures: Math.min(shape.outFeatures, c.outFeatures),
    multiOut: capWidths(shape.multiOut.slice(0, c.multiCount), c.multiOut),
    headDim: Math.min(shape.headDim, c.headDim),
    context: Math.min(shape.context, c.context),
    rows: Math.min(shape.rows, c.rows),
  };
}

function validate(options: NumericsOptions): void {
  const t = options.tolerance;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 1)
    throw new InputError('numerics options', 'tolerance', 'a finite number ≥ 1', describeValue(t));
  if (!Number.isFinite(options.seed)) throw new InputError('numerics options', 'seed', 'a finite number', describeValue(options.seed));
  for (const s of options.sites)
    if (!SITE_KINDS.includes(s)) throw new InputError('numerics options', 'sites', `one of ${SITE_KINDS.join(', ')}`, describeValue(s));
  for (const d of options.dtypes)
    if (!DTYPES.includes(d)) throw new InputError('numerics options', 'dtypes', `one of ${DTYPES.join(', ')}`, describeValue(d));
  if (options.normKind !== 'rmsnorm' && options.normKind !== 'layernorm')
    throw new InputError('numerics options', 'normKind', "'rmsnorm' or 'layernorm'", describeValue(options.normKind));
  if (options.accumulate !== 'fp32' && options.accumulate !== 'storage')
    throw new InputError('numerics options', 'accumulate', "'fp32' or 'storage'", describeValue(options.accumulate));
}

function makeEntry(
  siteKind: NumericsSiteKind,
  site: string,
  dtype: NumericsDtype,
  base: ErrorStats,
  def: ErrorStats,
  tolerance: number,
  extra: Partial<NumericsEntry> = {},
): NumericsEntry {
  return {
    site,
    siteKind,
    dtype,
    ...extra,
    baselineMaxRelErr: base.max,
    baselineMeanRelErr: base.mean,
    deferredMaxRelErr: def.max,
    deferredMeanRelErr: def.mean,
    withinBaseline: def.max <= base.max * tolerance,
  };
}

interface NormSiteInputs {
  x: Float64Array;
  norm: NormParams;
  /** Each consumer's weight, stored in a precision (W(p) is already rounded to p). */
  consumers: { W: (p: Precision) => Float64Array; b: Float64Array | null; m: number }[];
}

/**
 * One n×width weight pool per check, ~N(0, 1/n); each consumer takes its own block of columns
 * (sites share the pool: independent draws would only cost time, as normal sampling dominates).
 */
class WeightPool {
  private pool: Float64Array | null = null;
  /** Stored (rounded) column blocks, by "c0:m:precision": sites that share a block round it once. */
  private readonly blocks = new Map<string, Float64Array>();
  constructor(
    private readonly seed: number,
    private readonly label: string,
    private readonly n: number,
    private readonly width: number,
  ) {}
  /**
   * Columns [c0, c0 + m) of the pool as an n×m matrix (wrapping around when c0 + m > width),
   * stored in precision p. Do not modify the result: it is shared.
   */
  columns(c0: number, m: number, p: Precision): Float64Array {
    const key = `${c0}:${m}:${p}`;
    const hit = this.blocks.get(key);
    if (hit !== undefined) return hit;
    this.pool ??= weight(this.seed, this.label, this.n, this.width);
    const pool = this.pool;
    const { n, width } = this;
    const out = new Float64Array(n * m);
    for (let j = 0; j < m; j++) {
      const col = (c0 + j) % width;
      for (let i = 0; i < n; i++) out[i * m + j] = pool[i * width + col]!;
    }
    roundArray(p, out, out);
    this.blocks.set(key, out);
    return out;
  }
}

function normSiteInputs(
  seed: number,
  label: string,
  kind: NormKind,
  shape: NumericsShape,
  widths: number[],
  withBias: boolean,
  pool: WeightPool,
  offset = 0,
): NormSiteInputs {
  const n = shape.hidden;
  let c0 = 0;
  return {
    x: activations(seed, label, shape.rows, n, offset),
    norm: {
      kind,
      gamma: gammaVector(seed, label, n),
      beta: kind === 'layernorm' ? betaVector(seed, label, n) : null,
      eps: kind === 'layernorm' ? LAYERNORM_EPS : RMSNORM_EPS,
    },
    consumers: widths.map((m, c) => {
      const start = c0;
      c0 += m;
      return { W: (p: Precision) => pool.columns(start, m, p), b: withBias ? biasVector(seed, `${label}:${c}`, m) : null, m };
    }),
  };
}

function storeNorm(p: Precision, norm: NormParams): NormParams {
  return { ...norm, gamma: roundArray(p, norm.gamma), beta: norm.beta === null ? null : roundArray(p, norm.beta) };
}

/** Errors of one norm site in one dtype: one statistic, one epilogue per consumer, worst consumer. */
function measureNormSite(inputs: NormSiteInputs, cfg: KernelConfig): { base: ErrorStats; def: ErrorStats; worst: number } {
  const p = cfg.storage;
  const rows = inputs.x.length / inputs.norm.gamma.length;
  const x = roundArray(p, inputs.x);
  const norm = storeNorm(p, inputs.norm);
  // Shared per-row work, as the hardware does it: one x̂ (baseline) and one r (deferred) per row.
  const xhatRef = normalizeRows(FP64, norm, x, rows);
  const xhat = normalizeRows(cfg, norm, x, rows);
  const scales = normScales(cfg, norm, x, rows);
  const base: ErrorStats = { max: 0, mean: 0 };
  const def: ErrorStats = { max: 0, mean: 0 };
  let worst = 0;
  inputs.consumers.forEach((c, idx) => {
    const W = c.W(p);
    const b = c.b === null ? null : roundArray(p, c.b);
    const ref = linear(FP64, xhatRef, rows, W, c.m, b);
    const yb = linear(cfg, xhat, rows, W, c.m, b);
    const folded: FoldedLinear = storeFolded(cfg, foldNorm(norm, W, b), true);
    const yd = scaledLinear(cfg, x, rows, folded, c.m, scales);
    const eb = relErrorStats(yb, ref);
    const ed = relErrorStats(yd, ref);
    if (idx === 0 || ed.max > def.max) worst = idx;
    base.max = Math.max(base.max, eb.max);
    base.mean = Math.max(base.mean, eb.mean);
    def.max = Math.max(def.max, ed.max);
    def.mean = Math.max(def.mean, ed.mean);
  });
  return { base, def, worst };
}

function rowMaxes(logits: Float64Array, rows: number): Float64Array {
  const L = logits.length / rows;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < L; j++) m = Math.max(m, logits[r * L + j]!);
    out[r] = m;
  }
  return out;
}

function offsetSpec(offset: SoftmaxOffset | 'none', c: Float64Array): SoftmaxOffsetSpec {
  switch (offset) {
    case 'none':
      return { kind: 'none' };
    case 'exact':
      return { kind: 'exact' };
    case 'online':
      return { kind: 'online', block: ONLINE_BLOCK };
    case 'bound':
      return { kind: 'bound', c };
  }
}

/** The attention inputs of one check: one draw of q, k, V, used at ordinary and at large scale. */
function attentionFor(seed: number, shape: NumericsShape): AttentionInputs {
  return attentionUnit(seed, 'attention', shape.rows, shape.context, shape.headDim);
}

/** Logits (and V) as stored in a dtype, with the float64 reference of the usual schedule on them. */
interface StoredAttention {
  s: Float64Array;
  V: Float64Array;
  ref: Float64Array;
  rowMax: Float64Array;
  maxLogit: number;
  /** Cauchy–Schwarz bound per row, in logit units. */
  csBound: Float64Array;
}

/**
 * The attention tensors of one check at ordinary scale (the accuracy entries) and at large scale
 * (the overflow cases), each stored once per dtype with its reference: the accuracy entries and the
 * overflow cases share them instead of rounding and computing the same reference twice.
 */
class AttentionStore {
  private readonly sets: Record<'large' | 'ordinary', AttentionInputs>;
  private readonly stored = new Map<string, StoredAttention>();
  private readonly storedV = new Map<NumericsDtype, Float64Array>();
  constructor(
    unit: AttentionInputs,
    private readonly rows: number,
    private readonly d: number,
  ) {
    // V is shared by both sets (scaleLogits does not copy it).
    this.sets = { large: scaleLogits(unit, LOGIT_SCALE, OVERFLOW_MAX_LOGIT), ordinary: scaleLogits(unit, LOGIT_SCALE) };
  }
  get(set: 'large' | 'ordinary', dtype: NumericsDtype): StoredAttention {
    const key = `${set}:${dtype}`;
    let e = this.stored.get(key);
    if (e === undefined) {
      const s = roundArray(dtype, this.sets[set].logits);
      let V = this.storedV.get(dtype);
      if (V === undefined) {
        V = roundArray(dtype, this.sets[set].V);
        this.storedV.set(dtype, V);
      }
      const rowMax = rowMaxes(s, this.rows);
      let maxLogit = -Infinity;
      for (const m of rowMax) maxLogit = Math.max(maxLogit, m);
      e = { s, V, ref: softmaxVBaseline(FP64, s, this.rows, V, this.d).out, rowMax, maxLogit, csBound: this.sets[set].csBound };
      this.stored.set(key, e);
    }
    return e;
  }
}

function softmaxEntries(options: NumericsOptions, shape: NumericsShape, dtype: NumericsDtype, store: AttentionStore): NumericsEntry[] {
  const { rows, context: L, headDim: d } = shape;
  const cfg = kernelConfig(dtype, options.accumulate);
  const { s, V, ref, maxLogit } = store.get('ordinary', dtype);
  const base = relErrorStats(softmaxVBaseline(cfg, s, rows, V, d).out, ref);
  const bound = new Float64Array(rows).fill(maxLogit + BOUND_SLACK);
  return OFFSETS.map((offset) => {
    const res = softmaxVDeferred(cfg, s, rows, V, d, offsetSpec(offset, bound));
    const note =
      offset === 'exact'
        ? 'c = row max (gathered before the exponentials: a collective left on the critical path)'
        : offset === 'online'
          ? `running max over blocks of ${ONLINE_BLOCK} keys, ℓ and O rescaled by exp(m_old − m_new)`
          : `c = largest logit of the tensor + ${BOUND_SLACK} (a fixed bound ≥ every row max, e.g. calibrated offline); ` +
            `${res.underflowedCount} of ${rows * L} stored exp values flushed to zero`;
    return makeEntry('softmax-v', SITE_LABEL['softmax-v'], dtype, base, relErrorStats(res.out, ref), options.tolerance, {
      offset,
      note,
    });
  });
}

type OverflowItem = NumericsResult['overflow'][number];

/**
 * What each offset choice does to the deferred Softmax when exp could leave float16's range.
 * Two logit sets: large logits (each row's max = OVERFLOW_MAX_LOGIT = 24, e^24 ≈ 2.6e10 ≫ 65504)
 * to show overflow, and the ordinary logits of the accuracy entries to show the other side of a
 * bound, underflow: a bound far above the max pushes exp(s − c) into float16 subnormals
 * (below e^-9.7) or to zero. In float16 a usable bound lies in [max − 11.09, max + ≈3].
 */
export function overflowCases(
  options: Pick<NumericsOptions, 'seed' | 'accumulate'>,
  shape: NumericsShape,
  unit: AttentionInputs | AttentionStore = attentionFor(options.seed, shape),
): OverflowItem[] {
  const { rows, context: L, headDim: d } = shape;
  const store = unit instanceof AttentionStore ? unit : new AttentionStore(unit, rows, d);
  type SetName = 'large' | 'ordinary';
  type Stored = StoredAttention;
  const storedFor = (set: SetName, dtype: NumericsDtype): Stored => store.get(set, dtype);
  const out: OverflowItem[] = [];
  const lnMax = FP16_LN_MAX.toFixed(2);
  const ofl = (o: boolean): string => (o ? 'overflowed: Infinity reached the output (NaN)' : 'no overflow');
  const run = (
    set: SetName,
    dtype: NumericsDtype,
    offset: SoftmaxOffset | 'none',
    c: (rowMax: Float64Array) => Float64Array,
    describe: (o: boolean, flushed: number, st: Stored) => string,
  ): void => {
    const st = storedFor(set, dtype);
    const res = softmaxVDeferred(kernelConfig(dtype, options.accumulate), st.s, rows, st.V, d, offsetSpec(offset, c(st.rowMax)));
    out.push({
      dtype,
      maxLogit: st.maxLogit,
      offset,
      overflowed: res.overflowed,
      note: describe(res.overflowed, res.underflowedCount, st),
      maxRelErr: relErrorStats(res.out, st.ref).max,
    });
  };
  const none = (m: Float64Array): Float64Array => new Float64Array(m.length);
  const shifted = (by: number) => (m: Float64Array) => m.map((v) => v + by);
  const flushed = (u: number): string => `${u} of ${rows * L} stored exp values flushed to zero`;
  const csGap = (_set: SetName, st: Stored): number => {
    let gap = 0;
    for (let r = 0; r < rows; r++) gap = Math.max(gap, st.csBound[r]! - st.rowMax[r]!);
    return gap;
  };
  const big = OVERFLOW_MAX_LOGIT;
  run('large', 'fp16', 'none', none, (o) => `c = 0: exp(${big}) ≈ ${Math.exp(big).toExponential(1)} > 65504 (float16 overflows once s − c > ln 65504 ≈ ${lnMax}); ${ofl(o)}`);
  run('large', 'fp16', 'exact', none, (o) => `c = row max: every exp(s − c) ≤ 1; ${ofl(o)}`);
  run('large', 'fp16', 'online', none, (o) => `running max per ${ONLINE_BLOCK}-key block: every exp(s − m) ≤ 1; ${ofl(o)}`);
  run('large', 'fp16', 'bound', shifted(-12), (o) => `stale bound 12 below the row max (more than ln 65504 ≈ ${lnMax}): the largest terms exceed 65504; ${ofl(o)}`);
  run('large', 'fp16', 'bound', shifted(-8), (o) => `stale bound 8 below the row max (less than ${lnMax}): terms up to e^8 ≈ 2981 still fit; ${ofl(o)}`);
  run('large', 'fp16', 'bound', () => Float64Array.from(storedFor('large', 'fp16').csBound), (o, u, st) =>
    `Cauchy–Schwarz bound c = |q|·max|k|/√d: never below the max so never overflows, but up to ${csGap('large', st).toFixed(1)} above it; ${flushed(u)} (underflow); ${ofl(o)}`);
  run('large', 'bf16', 'none', none, (o) => `bfloat16 for contrast: c = 0 and exp(${big}) fits (bfloat16 overflows past s ≈ 88.7); ${ofl(o)}`);
  run('ordinary', 'fp16', 'bound', shifted(8), (o, u) => `ordinary logits, bound 8 above the row max: exp(s − c) ≤ e^-8, most terms in float16 subnormals (below e^-9.7); ${flushed(u)}; precision lost, ${ofl(o)}`);
  run('ordinary', 'fp16', 'bound', () => Float64Array.from(storedFor('ordinary', 'fp16').csBound), (o, u, st) =>
    `ordinary logits, Cauchy–Schwarz bound up to ${csGap('ordinary', st).toFixed(1)} above the row max; ${flushed(u)}; ${ofl(o)}`);
  run('ordinary', 'bf16', 'bound', () => Float64Array.from(storedFor('ordinary', 'bf16').csBound), (o, u, st) =>
    `bfloat16 for contrast: the same Cauchy–Schwarz bound (up to ${csGap('ordinary', st).toFixed(1)} above the max) is harmless in bfloat16's exponent range; ${flushed(u)}; ${ofl(o)}`);
  return out;
}

/**
 * The LayerNorm fold checked against the unfolded layer in float64: y = LN(x)·W + b versus
 * r·(x·W̃) + (β·W + b). `fold` is a parameter so that a wrong fold can be shown to fail.
 */
export function checkLayerNormFold(
  seed: number,
  shape: Pick<NumericsShape, 'hidden' | 'outFeatures' | 'rows'>,
  fold: typeof foldLayerNorm = foldLayerNorm,
): { maxAbsErr: number; maxRelErr: number; ok: boolean } {
  const n = shape.hidden;
  const m = Math.min(shape.outFeatures, 32);
  const rows = shape.rows;
  const x = activations(seed, 'lnfold', rows, n);
  const norm: NormParams = {
    kind: 'layernorm',
    gamma: gammaVector(seed, 'lnfold', n),
    beta: betaVector(seed, 'lnfold', n),
    eps: LAYERNORM_EPS,
  };
  const W = weight(seed, 'lnfold', n, m);
  const b = biasVector(seed, 'lnfold', m);
  const ref = normLinearBaseline(FP64, norm, x, rows, W, m, b);
  const { Wtilde, bias } = fold(norm.gamma, norm.beta!, W, b);
  const y = normLinearDeferred(FP64, norm, x, rows, { W: Wtilde, bias }, m);
  const maxRelErr = relErrorStats(y, ref).max;
  return { maxAbsErr: maxAbsError(y, ref), maxRelErr, ok: maxRelErr < 1e-12 };
}

/**
 * How the one-pass variance E[x²] − μ² of the deferred LayerNorm degrades as the activations' mean
 * grows relative to their spread (the baseline centres first and does not cancel). Also exposes the
 * second cost of a non-zero mean: the rounded W̃ no longer has zero column sums, so μ leaks in.
 */
export function layerNormCancellation(
  options: Pick<NumericsOptions, 'seed' | 'accumulate' | 'tolerance' | 'linearBias'>,
  shape: NumericsShape,
  dtypes: readonly NumericsDtype[],
  meanOverStd: readonly number[] = [0, 10, 100],
): NonNullable<NumericsResult['layerNormCancellation']> {
  const small: NumericsShape = { ...shape, hidden: Math.min(shape.hidden, 256), rows: Math.min(shape.rows, 4) };
  const m = Math.min(shape.outFeatures, 32);
  const out: NonNullable<NumericsResult['layerNormCancellation']> = [];
  const pool = new WeightPool(options.seed, 'lncancel', small.hidden, m);
  for (const ratio of meanOverStd) {
    const inputs = normSiteInputs(options.seed, `lncancel:${ratio}`, 'layernorm', small, [m], options.linearBias, pool, ratio);
    for (const dtype of dtypes) {
      const cfg = kernelConfig(dtype, options.accumulate);
      const x = roundArray(dtype, inputs.x);
      const norm = storeNorm(dtype, inputs.norm);
      const rExact = normScales(FP64, norm, x, small.rows);
      const rOnePass = normScales(cfg, norm, x, small.rows);
      // r = 1/√var, so var's relative error ≈ 2 × r's.
      let varianceRelErr = 0;
      for (let r = 0; r < small.rows; r++) {
        const e = Math.abs(rOnePass[r]! - rExact[r]!) / rExact[r]!;
        varianceRelErr = Math.max(varianceRelErr, Number.isFinite(e) ? 2 * e : Infinity);
      }
      const { base, def } = measureNormSite(inputs, cfg);
      out.push({
        dtype,
        meanOverStd: ratio,
        varianceRelErr,
        baselineMaxRelErr: base.max,
        deferredMaxRelErr: def.max,
        withinBaseline: def.max <= base.max * options.tolerance,
      });
    }
  }
  return out;
}

/**
 * Sizes of the deeper-deferral entries (issue 10). Small on purpose: these kernels run cold in
 * every full report (see README.md, Speed). The norm width is the shape's hidden capped at 128
 * (still two outlier channels, which dominate Σx² and so r; the dot-product length is what the
 * 'linear' entries already cover at up to 512). Attention: a prefill chunk of 8 tokens at
 * positions 1000–1007, two query heads sharing one KV head of width min(head_dim, 64), so the RoPE
 * frequencies θ^(−2t/d) are those of a model with that head width; the decode form takes each
 * token of the chunk as the new token of one step against the tokens before it as the cache (8
 * steps: 1024 outputs, as many as the prefill; with one step the max over 64 outputs was too noisy
 * to compare). MLP: a slice of 64 intermediate and 64 output columns over the shape's rows.
 */
export const DEEP_SIZES = {
  hidden: 128,
  tokens: 8,
  queryHeads: 2,
  headDim: 64,
  ffn: 64,
  out: 64,
  firstPosition: 1000,
} as const;

interface DeepSizes {
  n: number;
  tokens: number;
  heads: number;
  d: number;
  f: number;
  m: number;
  rows: number;
  positions: number[];
}

function deepSizes(shape: NumericsShape): DeepSizes {
  const D = DEEP_SIZES;
  const d0 = Math.min(shape.headDim, D.headDim);
  const d = Math.max(2, d0 - (d0 % 2));
  return {
    n: Math.min(shape.hidden, D.hidden),
    tokens: D.tokens,
    heads: D.queryHeads,
    d,
    f: D.ffn,
    m: Math.min(shape.hidden, D.out),
    rows: shape.rows,
    positions: Array.from({ length: D.tokens }, (_, i) => D.firstPosition + i),
  };
}

/** Max of the maxima and of the means of several outputs' errors (as for several consumers of one norm). */
function worstOf(stats: ErrorStats[]): ErrorStats {
  return { max: Math.max(...stats.map((s) => s.max)), mean: Math.max(...stats.map((s) => s.mean)) };
}

/** Rows [from, from + count) of a rows × width matrix, as a view. */
function rowsOf(a: Float64Array, width: number, from: number, count: number): Float64Array {
  return a.subarray(from * width, (from + count) * width);
}

interface DeepMeasure {
  kind: NumericsSiteKind;
  depth: DeferDepth;
  label: string;
  base: ErrorStats;
  def: ErrorStats;
  note: string;
  offset?: SoftmaxOffset;
}

/**
 * The attention-input forms in one dtype: q, k, v from one RMSNorm, RoPE, causal attention; the
 * baseline (usual schedule) and the deferred forms, each against the float64 baseline on the same
 * stored inputs. Returns the 'rope' measure and the prefill and decode 'attention' measures.
 */
function measureAttentionDeep(
  seed: number,
  sz: DeepSizes,
  pool: WeightPool,
  cfg: KernelConfig,
  mutation: DeepMutation | undefined,
): { rope: DeepMeasure; prefill: DeepMeasure; decode: DeepMeasure } {
  const { n, tokens: T, heads: H, d } = sz;
  const p = cfg.storage;
  const HD = H * d;
  const x = roundArray(p, activations(seed, 'deep-attention', T, n));
  const norm = storeNorm(p, { kind: 'rmsnorm', gamma: gammaVector(seed, 'deep-attention', n), beta: null, eps: RMSNORM_EPS });
  const Wq = pool.columns(0, HD, p);
  const Wk = pool.columns(HD, d, p);
  const Wv = pool.columns(HD + d, d, p);
  const withBias = mutation === 'rope-with-bias';
  const bq = withBias ? roundArray(p, biasVector(seed, 'deep-q', HD)) : null;
  const bk = withBias ? roundArray(p, biasVector(seed, 'deep-k', d)) : null;
  const tables = ropeTables(sz.positions, d);
  const cos = roundArray(p, tables.cos);
  const sin = roundArray(p, tables.sin);
  // The usual schedule: x̂ = norm(x), q = x̂·W (+ b), RoPE, attention; in `c` (float64 for the reference).
  const usual = (c: KernelConfig) => {
    const xhat = normalizeRows(c, norm, x, T);
    const q = applyRope(c, linear(c, xhat, T, Wq, HD, bq), T, d, cos, sin);
    const k = applyRope(c, linear(c, xhat, T, Wk, d, bk), T, d, cos, sin);
    const v = linear(c, xhat, T, Wv, d, null);
    return { q, k, o: attentionForm(c, q, T, 0, H, k, v, d, null) };
  };
  const ref = usual(FP64);
  const base = usual(cfg);
  // Deferred: raw projections with γ folded, RoPE on raw q and k, r applied later.
  const r = normScales(cfg, norm, x, T);
  const raw = (W: Float64Array, m: number, b: Float64Array | null): Float64Array => {
    const f = storeFolded(cfg, foldRmsNorm(norm.gamma, W, b), true);
    return linear(cfg, x, T, f.W, m, f.bias);
  };
  const qRot = applyRope(cfg, raw(Wq, HD, bq), T, d, cos, sin);
  const kRaw = raw(Wk, d, bk);
  const kRot = applyRope(cfg, kRaw, T, d, cos, sin);
  const vRaw = raw(Wv, d, null);
  // 'rope': r after RoPE (its own epilogue: r is not ready when RoPE runs).
  const qDef = scaleRows(cfg, qRot, T, r);
  const kDef = scaleRows(cfg, kRot, T, r);
  // 'attention', prefill: r_i on row i and r_j on column j of the logits, r_j on e's column after Σ.
  const oPrefill = attentionForm(cfg, qRot, T, 0, H, kRot, vRaw, d, { q: r, k: r, v: r }, mutation);
  // 'attention', decode: each token of the chunk as the new token of one step,
  // against the tokens before it as the cache; the new column takes r. The cache write is off the
  // critical path, so it waits for r and stores r·RoPE(k_raw) in one kernel (k rounded as often as
  // the usual schedule's); v is stored raw by its matmul and scaled when it is written (one more
  // rounding than the usual schedule's v, which the matmul's epilogue scales).
  const last = T - 1;
  const kScaled = applyRope(cfg, kRaw, T, d, cos, sin, r);
  const vScaled = scaleRows(cfg, vRaw, T, r);
  const oDecode = new Float64Array(T * HD);
  for (let i = 0; i < T; i++) {
    const kCache = Float64Array.from(kScaled);
    kCache.set(rowsOf(kRot, d, i, 1), i * d);
    const vCache = Float64Array.from(vScaled);
    vCache.set(rowsOf(vRaw, d, i, 1), i * d);
    const cols = new Float64Array(T).fill(1);
    cols[i] = r[i]!;
    const scales: LogitScales = { q: Float64Array.of(r[i]!), k: cols, v: cols };
    oDecode.set(attentionForm(cfg, rowsOf(qRot, HD, i, 1), 1, i, H, kCache, vCache, d, scales, mutation), i * HD);
  }
  const shapeNote = `${T} tokens at positions ${sz.positions[0]}–${sz.positions[last]}, hidden ${n}, ${H} query heads sharing 1 KV head of width ${d}, RoPE θ = 10000 (cos and sin stored in the dtype)`;
  return {
    rope: {
      kind: 'rmsnorm-rope',
      depth: 'rope',
      label: SITE_LABEL['rmsnorm-rope'] + (withBias ? ' (+bias: not a valid rewrite)' : ''),
      base: worstOf([relErrorStats(base.q, ref.q), relErrorStats(base.k, ref.k)]),
      def: worstOf([relErrorStats(qDef, ref.q), relErrorStats(kDef, ref.k)]),
      note: `${shapeNote}; q and k rotated raw (stored after the matmul and after RoPE), then scaled by r: worst of q and k`,
    },
    prefill: {
      kind: 'rmsnorm-attention',
      depth: 'attention',
      label: `${SITE_LABEL['rmsnorm-attention']} (prefill, causal)`,
      offset: 'exact',
      base: relErrorStats(base.o, ref.o),
      def: relErrorStats(oPrefill, ref.o),
      note: `${shapeNote}; logits (q̂·k̂/√d)·r_i·r_j before exp, c = row max of the scaled logits; ℓ = Σ_j e_ij, then v's r_j on column j of e, o = (ẽ·V)/ℓ`,
    },
    decode: {
      kind: 'rmsnorm-attention',
      depth: 'attention',
      label: `${SITE_LABEL['rmsnorm-attention']} (decode)`,
      offset: 'exact',
      // The usual schedule's decode step i computes what its prefill row i does.
      base: relErrorStats(base.o, ref.o),
      def: relErrorStats(oDecode, ref.o),
      note: `${shapeNote}; ${T} decode steps, token i against tokens 0…i−1 as a cache whose k and v were stored scaled (r·RoPE(k) in one kernel, v scaled after its matmul): r on the logits row, the new token's r on its own column and on its v after ℓ`,
    },
  };
}

/** The ReLU MLP forms in one dtype: plain ReLU (r after down) and ReGLU (r² after down). */
function measureMlpDeep(
  seed: number,
  sz: DeepSizes,
  pool: WeightPool,
  down: (p: Precision) => Float64Array,
  cfg: KernelConfig,
  mutation: DeepMutation | undefined,
): DeepMeasure[] {
  const { n, f, m, rows } = sz;
  const p = cfg.storage;
  const x = roundArray(p, activations(seed, 'deep-mlp', rows, n));
  const norm = storeNorm(p, { kind: 'rmsnorm', gamma: gammaVector(seed, 'deep-mlp', n), beta: null, eps: RMSNORM_EPS });
  const act = mutation === 'silu-not-relu' ? 'silu' : 'relu';
  const actName = act === 'silu' ? 'SiLU' : 'ReLU';
  const Wd = down(p);
  const r = normScales(cfg, norm, x, rows);
  return [false, true].map((gated) => {
    const w: MlpWeights = { up: pool.columns(0, f, p), gate: gated ? pool.columns(f, f, p) : null, down: Wd, f, m };
    const usual = (c: KernelConfig): Float64Array => linear(c, mlpHidden(c, normalizeRows(c, norm, x, rows), rows, w, act), rows, Wd, m, null);
    const ref = usual(FP64);
    const fold = (W: Float64Array): Float64Array => storeFolded(cfg, foldRmsNorm(norm.gamma, W), true).W;
    const folded: MlpWeights = { ...w, up: fold(w.up), gate: w.gate === null ? null : fold(w.gate) };
    const h = mlpHidden(cfg, x, rows, folded, act);
    const acc = rounder(cfg.accumulate);
    const power = gated && mutation !== 'reglu-r-not-r2' ? 2 : 1;
    const scales = power === 2 ? r.map((v) => acc(v * v)) : r;
    const def = scaledLinear(cfg, h, rows, { W: Wd, bias: null }, m, scales);
    const form = gated ? `${act === 'silu' ? 'SwiGLU' : 'ReGLU'} MLP, r${power === 2 ? '²' : ''} after down` : `${actName} MLP, r after down`;
    const wrong = mutation === 'silu-not-relu' || (gated && mutation === 'reglu-r-not-r2') ? ' (not a valid rewrite)' : '';
    return {
      kind: 'rmsnorm-relu-down' as const,
      depth: 'down' as const,
      label: `RMSNorm → ${form}${wrong}`,
      base: relErrorStats(usual(cfg), ref),
      def: relErrorStats(def, ref),
      note:
        `${rows} rows, hidden ${n} → ${gated ? `gate and up ${f}` : `up ${f}`} → down ${m} outputs; ` +
        `${gated ? `${actName}(g)⊙u` : `${actName}(a)`} and the down projection on raw rows (γ folded into ${gated ? 'gate and up' : 'up'}), ` +
        `${power === 2 ? 'r²' : 'r'} on the down projection's output`,
    };
  });
}

/**
 * The deeper-deferral entries (issue 10) of the kinds asked for, per dtype: baseline and deferred
 * against the float64 baseline on the same stored inputs, as every other entry. `mutation` swaps
 * in a deliberately wrong form (tests only: it shows that the check fails it).
 */
export function deepEntries(
  options: Pick<NumericsOptions, 'seed' | 'accumulate' | 'tolerance'>,
  shape: NumericsShape,
  kinds: readonly NumericsSiteKind[],
  dtypes: readonly NumericsDtype[],
  mutation?: DeepMutation,
): NumericsEntry[] {
  const want = (k: NumericsSiteKind): boolean => kinds.includes(k);
  if (!DEEP_KINDS.some(want)) return [];
  const sz = deepSizes(shape);
  const pool = new WeightPool(options.seed, 'deep', sz.n, Math.max((sz.heads + 2) * sz.d, 2 * sz.f));
  const downPool = new WeightPool(options.seed, 'deep-down', sz.f, sz.m);
  const byKind = new Map<NumericsSiteKind, DeepMeasure[]>(DEEP_KINDS.map((k) => [k, []]));
  for (const dtype of dtypes) {
    const cfg = kernelConfig(dtype, options.accumulate);
    if (want('rmsnorm-rope') || want('rmsnorm-attention')) {
      const a = measureAttentionDeep(options.seed, sz, pool, cfg, mutation);
      byKind.get('rmsnorm-rope')!.push(a.rope);
      byKind.get('rmsnorm-attention')!.push(a.prefill, a.decode);
    }
    if (want('rmsnorm-relu-down')) byKind.get('rmsnorm-relu-down')!.push(...measureMlpDeep(options.seed, sz, pool, (p) => downPool.columns(0, sz.m, p), cfg, mutation));
  }
  const entries: NumericsEntry[] = [];
  for (const kind of DEEP_KINDS) {
    if (!want(kind)) continue;
    byKind.get(kind)!.forEach((e, i) => {
      const perDtype = byKind.get(kind)!.length / dtypes.length;
      const dtype = dtypes[Math.floor(i / perDtype)]!;
      entries.push(
        makeEntry(kind, e.label, dtype, e.base, e.def, options.tolerance, {
          ...(e.offset !== undefined ? { offset: e.offset } : {}),
          depth: e.depth,
          note: e.note,
        }),
      );
    });
  }
  return entries;
}

/** The numerics check: see the file header and types.ts. */
export function checkNumerics(options: NumericsOptions): NumericsResult {
  validate(options);
  const shape = capShape(options.shape);
  const capped = JSON.stringify(shape) !== JSON.stringify(options.shape);
  const sites = SITE_KINDS.filter((s) => options.sites.includes(s));
  const dtypes = DTYPES.filter((d) => options.dtypes.includes(d));
  const entries: NumericsEntry[] = [];
  const { seed, tolerance } = options;
  const biasLabel = options.linearBias ? ' (+bias)' : '';
  const poolWidth = Math.max(shape.outFeatures, shape.multiOut.reduce((a, b) => a + b, 0));
  const pool = new WeightPool(seed, 'weights', shape.hidden, poolWidth);
  const attention = sites.includes('softmax-v') ? new AttentionStore(attentionFor(seed, shape), shape.rows, shape.headDim) : null;
  for (const site of sites) {
    if (DEEP_KINDS.includes(site)) continue;
    if (site === 'softmax-v' && attention !== null) {
      for (const dtype of dtypes) entries.push(...softmaxEntries(options, shape, dtype, attention));
      continue;
    }
    const kind: NormKind =
      site === 'rmsnorm-linear' ? 'rmsnorm' : site === 'layernorm-linear' ? 'layernorm' : options.normKind;
    const widths = site === 'norm-multi-linear' ? shape.multiOut : [shape.outFeatures];
    const inputs = normSiteInputs(seed, site, kind, shape, widths, options.linearBias, pool);
    const label =
      site === 'norm-multi-linear'
        ? `${kind === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm'} → ${widths.length} Linears [${widths.join(', ')}]${biasLabel}`
        : SITE_LABEL[site] + biasLabel;
    for (const dtype of dtypes) {
      const { base, def, worst } = measureNormSite(inputs, kernelConfig(dtype, options.accumulate));
      entries.push(
        makeEntry(site, label, dtype, base, def, tolerance, site === 'norm-multi-linear' ? { worstConsumer: worst } : {}),
      );
    }
  }
  entries.push(...deepEntries(options, shape, sites, dtypes));
  const hasLayerNorm = sites.includes('layernorm-linear') || (sites.includes('norm-multi-linear') && options.normKind === 'layernorm');
  const result: NumericsResult = {
    entries,
    overflow: attention !== null ? overflowCases(options, shape, attention) : [],
    layerNormFold: hasLayerNorm ? checkLayerNormFold(seed, shape) : null,
    tolerance,
    seed,
    shape,
    accumulate: options.accumulate,
    floorFraction: FLOOR_FRACTION,
  };
  if (hasLayerNorm) result.layerNormCancellation = layerNormCancellation(options, shape, dtypes);
  if (capped) result.requestedShape = options.shape;
  return result;
}
