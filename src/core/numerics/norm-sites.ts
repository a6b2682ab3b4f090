/**
 * The norm → linear sites: one statistic per row, one epilogue per consumer, in the usual schedule
 * and deferred (γ folded into the weights, r after the matmul); the LayerNorm fold's exactness and
 * the one-pass variance's cancellation.
 */

import { Precision, roundArray } from './floats';
import {
  FP64,
  FoldedLinear,
  KernelConfig,
  NormKind,
  NormParams,
  foldLayerNorm,
  foldNorm,
  kernelConfig,
  linear,
  normLinearBaseline,
  normLinearDeferred,
  normScales,
  normalizeRows,
  scaledLinear,
  storeFolded,
} from './kernels';
import { activations, betaVector, biasVector, gammaVector, weight } from './inputs';
import { ErrorStats, maxAbsError, relErrorStats } from './metrics';
import { LAYERNORM_EPS, RMSNORM_EPS } from './sites';
import type { NumericsDtype, NumericsOptions, NumericsResult, NumericsShape } from './types';

export interface NormSiteInputs {
  x: Float64Array;
  norm: NormParams;
  /** Each consumer's weight, stored in a precision (W(p) is already rounded to p). */
  consumers: { W: (p: Precision) => Float64Array; b: Float64Array | null; m: number }[];
}

/**
 * One n×width weight pool per check, ~N(0, 1/n); each consumer takes its own block of columns
 * (sites share the pool: independent draws would only cost time, as normal sampling dominates).
 */
export class WeightPool {
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
    if (c0 + m <= width) {
      // A row's columns are contiguous: copied natively, row by row (a cold start would otherwise
      // run an element loop unoptimized over the whole block).
      for (let i = 0; i < n; i++) out.set(pool.subarray(i * width + c0, i * width + c0 + m), i * m);
    } else {
      for (let j = 0; j < m; j++) {
        const col = (c0 + j) % width;
        for (let i = 0; i < n; i++) out[i * m + j] = pool[i * width + col]!;
      }
    }
    roundArray(p, out, out);
    this.blocks.set(key, out);
    return out;
  }
}

export function normSiteInputs(
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

export function storeNorm(p: Precision, norm: NormParams): NormParams {
  return { ...norm, gamma: roundArray(p, norm.gamma), beta: norm.beta === null ? null : roundArray(p, norm.beta) };
}

/** Errors of one norm site in one dtype: one statistic, one epilogue per consumer, worst consumer. */
export function measureNormSite(inputs: NormSiteInputs, cfg: KernelConfig): { base: ErrorStats; def: ErrorStats; worst: number } {
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
