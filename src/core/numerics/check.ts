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
import { AttentionInputs, OUTLIER_MAGNITUDE, activations, attentionUnit, betaVector, biasVector, gammaVector, outlierChannelCount, scaleLogits, weight } from './inputs';
import { DeepMutation, MlpActivation, applyRope, attentionDecode, attentionDeep, attentionUsual, mlpActivation, ropeTables, scaleRows } from './deep';
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
 * every full report (see docs/speed.md). One set of 8 tokens at positions 1000–1007 feeds every
 * form. The norm width is the shape's hidden capped at 128 (still two outlier channels, which
 * dominate Σx² and so r; the dot-product length is what the 'linear' entries already cover at up
 * to 512). Attention: two query heads sharing one KV head of width min(head_dim, 64), so the RoPE
 * frequencies θ^(−2t/d) are those of a model with that head width; causal prefill of the 8
 * tokens, and 8 decode steps (token i against tokens 0…i−1 as the cache: 1024 outputs, as many as
 * the prefill; with one step the max over 64 outputs was too noisy to compare). MLP: its input
 * projections are the attention's (see measureDeep), down projection to 64 outputs.
 */
export const DEEP_SIZES = {
  hidden: 64,
  tokens: 8,
  queryHeads: 2,
  headDim: 32,
  out: 32,
  firstPosition: 1000,
} as const;

interface DeepSizes {
  n: number;
  /** Outlier magnitude that gives the outlier channels the share of Σx² they have at the shape's hidden width. */
  outlier: number;
  tokens: number;
  heads: number;
  d: number;
  m: number;
  positions: number[];
}

function deepSizes(shape: NumericsShape): DeepSizes {
  const D = DEEP_SIZES;
  const d0 = Math.min(shape.headDim, D.headDim);
  const d = Math.max(2, d0 - (d0 % 2));
  const n = Math.min(shape.hidden, D.hidden);
  // At the narrower width the same outliers would carry far more of Σx² (93% at 64 values against
  // 61% at 512), which makes r, and the re-rounded folded weights' effect, unlike the 'linear'
  // entries'; their magnitude is set so that their share stays what it is at shape.hidden.
  const share = (width: number, m: number): number => {
    const k = outlierChannelCount(width);
    return (k * m * m) / (k * m * m + width - k);
  };
  const s = share(shape.hidden, OUTLIER_MAGNITUDE);
  const k = outlierChannelCount(n);
  return {
    n,
    outlier: Math.sqrt((s * (n - k)) / (k * (1 - s))),
    tokens: D.tokens,
    heads: D.queryHeads,
    d,
    m: Math.min(shape.hidden, D.out),
    positions: Array.from({ length: D.tokens }, (_, i) => D.firstPosition + i),
  };
}

/** Max of the maxima and of the means of several outputs' errors (as for several consumers of one norm). */
function worstOf(stats: ErrorStats[]): ErrorStats {
  return { max: Math.max(...stats.map((s) => s.max)), mean: Math.max(...stats.map((s) => s.mean)) };
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
 * The deeper-deferral forms in one dtype, from one set of tokens: x (T tokens) → RMSNorm → the q, k,
 * v projections, in the usual schedule (in float64 for the reference, and in the dtype) and
 * deferred (γ folded, raw projections, r later). Then, as asked: RoPE on q and k ('rope'), causal
 * attention in prefill and decode ('attention'), and a ReLU MLP ('down'). The MLP takes its input
 * projections from the same matmuls (plain: up = the q projection; gated: gate = the k projection,
 * up = the v projection): a norm followed by a linear layer is the same arithmetic whatever the
 * layer is called, so only the activation and the down projection are extra work.
 */
/** The deep forms' weights in float64, drawn once per check (each dtype rounds its own copy). */
interface DeepWeights {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  /** Down projections: from the q width (plain MLP) and from the k width (gated). */
  downPlain: Float64Array;
  downGated: Float64Array;
}

function measureDeep(
  seed: number,
  sz: DeepSizes,
  weights: DeepWeights,
  cfg: KernelConfig,
  want: (k: NumericsSiteKind) => boolean,
  mutation: DeepMutation | undefined,
): DeepMeasure[] {
  const { n, tokens: T, heads: H, d } = sz;
  const p = cfg.storage;
  const HD = H * d;
  const x = roundArray(p, activations(seed, 'deep', T, n, 0, sz.outlier));
  const norm = storeNorm(p, { kind: 'rmsnorm', gamma: gammaVector(seed, 'deep', n), beta: null, eps: RMSNORM_EPS });
  const Wq = roundArray(p, weights.q);
  const Wk = roundArray(p, weights.k);
  const Wv = roundArray(p, weights.v);
  const withBias = mutation === 'rope-with-bias';
  const bq = withBias ? roundArray(p, biasVector(seed, 'deep-q', HD)) : null;
  const bk = withBias ? roundArray(p, biasVector(seed, 'deep-k', d)) : null;
  // The usual schedule's projections of x̂ = norm(x), in `c` (float64 for the reference).
  const usual = (c: KernelConfig) => {
    const xhat = normalizeRows(c, norm, x, T);
    return { c, q: linear(c, xhat, T, Wq, HD, bq), k: linear(c, xhat, T, Wk, d, bk), v: linear(c, xhat, T, Wv, d, null) };
  };
  const ref = usual(FP64);
  const base = usual(cfg);
  // Deferred: γ folded into the weights, raw projections, r from the same rows.
  const r = normScales(cfg, norm, x, T);
  const raw = (W: Float64Array, m: number, b: Float64Array | null): Float64Array => {
    const f = storeFolded(cfg, foldRmsNorm(norm.gamma, W, b), true);
    return linear(cfg, x, T, f.W, m, f.bias);
  };
  const qRaw = raw(Wq, HD, bq);
  const kRaw = raw(Wk, d, bk);
  const vRaw = raw(Wv, d, null);
  const out: DeepMeasure[] = [];
  const last = T - 1;
  const shapeNote = `${T} tokens at positions ${sz.positions[0]}–${sz.positions[last]}, hidden ${n}`;
  if (want('rmsnorm-rope') || want('rmsnorm-attention')) {
    const tables = ropeTables(sz.positions, d);
    const cos = roundArray(p, tables.cos);
    const sin = roundArray(p, tables.sin);
    const attend = (u: typeof ref) => {
      const q = applyRope(u.c, u.q, T, d, cos, sin);
      const k = applyRope(u.c, u.k, T, d, cos, sin);
      return { q, k, o: want('rmsnorm-attention') ? attentionUsual(u.c, q, T, H, k, u.v, d) : null };
    };
    const aRef = attend(ref);
    const aBase = attend(base);
    const qRot = applyRope(cfg, qRaw, T, d, cos, sin);
    const kRot = applyRope(cfg, kRaw, T, d, cos, sin);
    const ropeNote = `${shapeNote}, ${H} query heads sharing 1 KV head of width ${d}, RoPE θ = 10000 (cos and sin stored in the dtype)`;
    if (want('rmsnorm-rope')) {
      // 'rope': r after RoPE (its own epilogue: r is not ready when RoPE runs).
      out.push({
        kind: 'rmsnorm-rope',
        depth: 'rope',
        label: SITE_LABEL['rmsnorm-rope'] + (withBias ? ' (+bias: not a valid rewrite)' : ''),
        base: worstOf([relErrorStats(aBase.q, aRef.q), relErrorStats(aBase.k, aRef.k)]),
        def: worstOf([relErrorStats(scaleRows(cfg, qRot, T, r), aRef.q), relErrorStats(scaleRows(cfg, kRot, T, r), aRef.k)]),
        note: `${ropeNote}; q and k rotated raw (stored after the matmul and after RoPE), then scaled by r: worst of q and k`,
      });
    }
    if (want('rmsnorm-attention')) {
      // Prefill: r_i on row i and r_j on column j of the logits, r_j on e's column after Σ.
      const oPrefill = attentionDeep(cfg, qRot, T, H, kRot, vRaw, d, r, mutation);
      // Decode: each token of the chunk as the new token of one step, against the tokens before
      // it as the cache; the new column takes r. The cache write is off the critical path, so it
      // waits for r and stores r·RoPE(k_raw) in one kernel (k rounded as often as the usual
      // schedule's); v is stored raw by its matmul and scaled when it is written (one rounding
      // more than the usual schedule's v, which its matmul's epilogue scales).
      const cache = { k: applyRope(cfg, kRaw, T, d, cos, sin, r), v: scaleRows(cfg, vRaw, T, r) };
      const oDecode = attentionDecode(cfg, qRot, T, H, cache, { k: kRot, v: vRaw }, d, r, mutation);
      const oRef = aRef.o!;
      // The usual schedule's decode step i computes what its prefill row i does.
      const oBase = relErrorStats(aBase.o!, oRef);
      out.push(
        {
          kind: 'rmsnorm-attention',
          depth: 'attention',
          label: `${SITE_LABEL['rmsnorm-attention']} (prefill, causal)`,
          offset: 'exact',
          base: oBase,
          def: relErrorStats(oPrefill, oRef),
          note: `${ropeNote}; logits (q̂·k̂/√d)·r_i·r_j before exp, c = row max of the scaled logits; ℓ = Σ_j e_ij, then v's r_j on column j of e (stored as P is), o = (ẽ·V̂)/ℓ`,
        },
        {
          kind: 'rmsnorm-attention',
          depth: 'attention',
          label: `${SITE_LABEL['rmsnorm-attention']} (decode)`,
          offset: 'exact',
          base: oBase,
          def: relErrorStats(oDecode, oRef),
          note: `${ropeNote}; ${T} decode steps, token i against tokens 0…i−1 as a cache whose k and v were stored scaled (r·RoPE(k) in one kernel, v scaled after its matmul): r on the logits row, the new token's r on its own column and, after ℓ, on its own e`,
        },
      );
    }
  }
  if (want('rmsnorm-relu-down')) {
    const act: MlpActivation = mutation === 'silu-not-relu' ? 'silu' : 'relu';
    const actName = act === 'silu' ? 'SiLU' : 'ReLU';
    const acc = rounder(cfg.accumulate);
    for (const gated of [false, true]) {
      const f = gated ? d : HD;
      const Wd = roundArray(p, gated ? weights.downGated : weights.downPlain);
      // Plain: a = the q projection; gated: g = the k projection, u = the v projection.
      const hidden = (c: KernelConfig, proj: { q: Float64Array; k: Float64Array; v: Float64Array }): Float64Array =>
        gated ? mlpActivation(c, act, proj.k, proj.v) : mlpActivation(c, act, proj.q, null);
      const yRef = linear(FP64, hidden(FP64, ref), T, Wd, sz.m, null);
      const yBase = linear(cfg, hidden(cfg, base), T, Wd, sz.m, null);
      const power = gated && mutation !== 'reglu-r-not-r2' ? 2 : 1;
      const scales = power === 2 ? r.map((v) => acc(v * v)) : r;
      const yDef = scaledLinear(cfg, hidden(cfg, { q: qRaw, k: kRaw, v: vRaw }), T, { W: Wd, bias: null }, sz.m, scales);
      const form = gated ? `${act === 'silu' ? 'SwiGLU' : 'ReGLU'} MLP, r${power === 2 ? '²' : ''} after down` : `${actName} MLP, r after down`;
      const wrong = mutation === 'silu-not-relu' || (gated && mutation === 'reglu-r-not-r2') ? ' (not a valid rewrite)' : '';
      out.push({
        kind: 'rmsnorm-relu-down',
        depth: 'down',
        label: `RMSNorm → ${form}${wrong}`,
        base: relErrorStats(yBase, yRef),
        def: relErrorStats(yDef, yRef),
        note:
          `${shapeNote} → ${gated ? `gate and up ${f}` : `up ${f}`} → down ${sz.m} outputs; ` +
          `${gated ? `${actName}(g)⊙u` : `${actName}(a)`} and the down projection on raw rows (γ folded into ${gated ? 'gate and up' : 'up'}), ` +
          `${power === 2 ? 'r²' : 'r'} on the down projection's output`,
      });
    }
  }
  return out;
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
  const { seed } = options;
  const mlp = want('rmsnorm-relu-down');
  const none = new Float64Array(0);
  const weights: DeepWeights = {
    q: weight(seed, 'deep-q', sz.n, sz.heads * sz.d),
    k: weight(seed, 'deep-k', sz.n, sz.d),
    v: weight(seed, 'deep-v', sz.n, sz.d),
    downPlain: mlp ? weight(seed, 'deep-down', sz.heads * sz.d, sz.m) : none,
    downGated: mlp ? weight(seed, 'deep-down-gated', sz.d, sz.m) : none,
  };
  const measured = dtypes.map((dtype) => ({ dtype, all: measureDeep(seed, sz, weights, kernelConfig(dtype, options.accumulate), want, mutation) }));
  const entries: NumericsEntry[] = [];
  for (const kind of DEEP_KINDS)
    for (const { dtype, all } of measured)
      for (const e of all.filter((m) => m.kind === kind))
        entries.push(
          makeEntry(kind, e.label, dtype, e.base, e.def, options.tolerance, {
            ...(e.offset !== undefined ? { offset: e.offset } : {}),
            depth: e.depth,
            note: e.note,
          }),
        );
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
