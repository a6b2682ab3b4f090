/**
 * Baseline and deferred forms of every rewrite site (DESIGN.md §1), computed as a kernel would:
 * tensors are *stored* in one precision and dot products and sums *accumulate* in another.
 *
 * Precision model (what is rounded where):
 * - Inputs, weights, folded weights and every tensor a kernel writes out are rounded to the storage
 *   precision. Folds (W′ = diag(γ)·W, W̃ = (I − 11ᵀ/n)·diag(γ)·W, β·W + b) are done in float64 from
 *   the stored γ, β, W, b and rounded once to storage, as a load-time fold would.
 * - Dot products and sums accumulate in the accumulator precision with a rounding after every add:
 *   `acc = round(acc + a·b)`. The product of two stored values is exact in float64 (at most 48 bits),
 *   and the float64 sum is rounded once more to the accumulator; that differs from a true fused
 *   multiply-add only when the float64 sum lands exactly on a tie of the narrower format (about one
 *   add in 2^29), by one ulp: irrelevant to error statistics.
 * - Per-row scalars (mean, variance, r = 1/√(var + ε), the softmax max and sum) and epilogues
 *   (scale, bias add, division) are computed in the accumulator precision; only the final output is
 *   rounded to storage. The deferred epilogue acts on the accumulator before it is stored.
 * - 'fp64' storage with 'fp64' accumulation is plain JavaScript doubles with nothing rounded: the
 *   float64 reference. The reference for a dtype is the baseline form in float64 applied to the
 *   inputs *as stored* in that dtype, so every error measured is the schedule's own arithmetic
 *   (including the re-rounding of folded weights, a real cost of deferral).
 * - Norm kernels are fused: x·r·γ (+β) is computed in the accumulator and stored once.
 *
 * Matrices are row-major Float64Arrays: x is rows×n, W is n×m, V is L×d, logits are rows×L.
 */

import { Precision, roundArray, rounder } from './floats';

export interface KernelConfig {
  /** Precision tensors are stored (and read) in. */
  storage: Precision;
  /** Precision of dot products, sums and per-row scalars. */
  accumulate: Precision;
}

/** The float64 reference: nothing rounded. */
export const FP64: KernelConfig = { storage: 'fp64', accumulate: 'fp64' };

/** A kernel configuration for a storage dtype and an accumulation mode. */
export function kernelConfig(storage: Precision, accumulate: 'fp32' | 'storage'): KernelConfig {
  if (storage === 'fp64') return FP64;
  return { storage, accumulate: accumulate === 'fp32' ? 'fp32' : storage };
}

export type NormKind = 'rmsnorm' | 'layernorm';

export interface NormParams {
  kind: NormKind;
  /** Scale γ, length n. */
  gamma: Float64Array;
  /** Shift β, length n (LayerNorm only; ignored for RMSNorm). */
  beta: Float64Array | null;
  eps: number;
}

/** A linear layer with its norm folded in: y = r·(x·W) + bias. */
export interface FoldedLinear {
  W: Float64Array;
  bias: Float64Array | null;
}

// ---------------------------------------------------------------------------------------------
// Matrix product with a chosen accumulator

/**
 * The accumulators of x·W (rows×n times n×m), rounded to `acc` after every add, summed in index
 * order i = 0..n−1 for every output (the order a dot-product kernel uses). n = W.length / m.
 */
export function matmulAccumulate(
  x: Float64Array,
  rows: number,
  W: Float64Array,
  m: number,
  acc: Precision,
  into?: Float64Array,
): Float64Array {
  const n = W.length / m;
  // Each output's sum runs over i = 0..n−1 in a local variable (four rows at a time, so each weight
  // read serves four sums), stored once at the end: the loops then load x and W and store nothing,
  // which also keeps their first, unoptimized iterations of a cold start cheap.
  // One monomorphic loop per accumulator so that V8 keeps each tight: routing fp64 and fp32 through
  // the generic rounded loop made checkNumerics about 4× slower (35 → 135 ms for Llama-3.1-405B).
  // With `into`, the sums continue from the accumulators already there (values in `acc` precision).
  const out = into ?? new Float64Array(rows * m);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    if (acc === 'fp64') matmul4F64(x, n, r, W, m, out);
    else if (acc === 'fp32') matmul4F32(x, n, r, W, m, out);
    else matmul4Rounded(x, n, r, W, m, out, rounder(acc));
  }
  for (; r < rows; r++) {
    if (acc === 'fp64') matmul1F64(x, n, r, W, m, out);
    else if (acc === 'fp32') matmul1F32(x, n, r, W, m, out);
    else matmul1Rounded(x, n, r, W, m, out, rounder(acc));
  }
  return out;
}

function matmul4F64(x: Float64Array, n: number, r: number, W: Float64Array, m: number, out: Float64Array): void {
  const x0 = r * n;
  const o0 = r * m;
  for (let j = 0; j < m; j++) {
    let s0 = out[o0 + j]!;
    let s1 = out[o0 + m + j]!;
    let s2 = out[o0 + 2 * m + j]!;
    let s3 = out[o0 + 3 * m + j]!;
    for (let i = 0, w = j; i < n; i++, w += m) {
      const wv = W[w]!;
      s0 = s0 + x[x0 + i]! * wv;
      s1 = s1 + x[x0 + n + i]! * wv;
      s2 = s2 + x[x0 + 2 * n + i]! * wv;
      s3 = s3 + x[x0 + 3 * n + i]! * wv;
    }
    out[o0 + j] = s0;
    out[o0 + m + j] = s1;
    out[o0 + 2 * m + j] = s2;
    out[o0 + 3 * m + j] = s3;
  }
}

function matmul4F32(x: Float64Array, n: number, r: number, W: Float64Array, m: number, out: Float64Array): void {
  const x0 = r * n;
  const o0 = r * m;
  for (let j = 0; j < m; j++) {
    let s0 = out[o0 + j]!;
    let s1 = out[o0 + m + j]!;
    let s2 = out[o0 + 2 * m + j]!;
    let s3 = out[o0 + 3 * m + j]!;
    for (let i = 0, w = j; i < n; i++, w += m) {
      const wv = W[w]!;
      s0 = Math.fround(s0 + x[x0 + i]! * wv);
      s1 = Math.fround(s1 + x[x0 + n + i]! * wv);
      s2 = Math.fround(s2 + x[x0 + 2 * n + i]! * wv);
      s3 = Math.fround(s3 + x[x0 + 3 * n + i]! * wv);
    }
    out[o0 + j] = s0;
    out[o0 + m + j] = s1;
    out[o0 + 2 * m + j] = s2;
    out[o0 + 3 * m + j] = s3;
  }
}

function matmul4Rounded(x: Float64Array, n: number, r: number, W: Float64Array, m: number, out: Float64Array, round: (v: number) => number): void {
  const x0 = r * n;
  const o0 = r * m;
  for (let j = 0; j < m; j++) {
    let s0 = out[o0 + j]!;
    let s1 = out[o0 + m + j]!;
    let s2 = out[o0 + 2 * m + j]!;
    let s3 = out[o0 + 3 * m + j]!;
    for (let i = 0, w = j; i < n; i++, w += m) {
      const wv = W[w]!;
      s0 = round(s0 + x[x0 + i]! * wv);
      s1 = round(s1 + x[x0 + n + i]! * wv);
      s2 = round(s2 + x[x0 + 2 * n + i]! * wv);
      s3 = round(s3 + x[x0 + 3 * n + i]! * wv);
    }
    out[o0 + j] = s0;
    out[o0 + m + j] = s1;
    out[o0 + 2 * m + j] = s2;
    out[o0 + 3 * m + j] = s3;
  }
}

function matmul1F64(x: Float64Array, n: number, r: number, W: Float64Array, m: number, out: Float64Array): void {
  const x0 = r * n;
  for (let j = 0; j < m; j++) {
    let s = out[r * m + j]!;
    for (let i = 0, w = j; i < n; i++, w += m) s = s + x[x0 + i]! * W[w]!;
    out[r * m + j] = s;
  }
}

function matmul1F32(x: Float64Array, n: number, r: number, W: Float64Array, m: number, out: Float64Array): void {
  const x0 = r * n;
  for (let j = 0; j < m; j++) {
    let s = out[r * m + j]!;
    for (let i = 0, w = j; i < n; i++, w += m) s = Math.fround(s + x[x0 + i]! * W[w]!);
    out[r * m + j] = s;
  }
}

function matmul1Rounded(x: Float64Array, n: number, r: number, W: Float64Array, m: number, out: Float64Array, round: (v: number) => number): void {
  const x0 = r * n;
  for (let j = 0; j < m; j++) {
    let s = out[r * m + j]!;
    for (let i = 0, w = j; i < n; i++, w += m) s = round(s + x[x0 + i]! * W[w]!);
    out[r * m + j] = s;
  }
}

// ---------------------------------------------------------------------------------------------
// Norm statistics

/**
 * The baseline norm: x̂ = (x − μ)·r ⊙ γ + β (LayerNorm, two-pass variance Σ(x−μ)²/n as a usual
 * kernel computes it once μ is known) or x̂ = x·r ⊙ γ (RMSNorm), stored. Returns rows×n.
 */
export function normalizeRows(cfg: KernelConfig, norm: NormParams, x: Float64Array, rows: number): Float64Array {
  const n = norm.gamma.length;
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const out = new Float64Array(rows * n);
  const { gamma, beta } = norm;
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    if (norm.kind === 'rmsnorm') {
      let ss = 0;
      for (let i = 0; i < n; i++) {
        const v = x[base + i]!;
        ss = acc(ss + v * v);
      }
      const scale = acc(1 / Math.sqrt(acc(acc(ss / n) + norm.eps)));
      for (let i = 0; i < n; i++) out[base + i] = store(acc(acc(x[base + i]! * scale) * gamma[i]!));
    } else {
      let s = 0;
      for (let i = 0; i < n; i++) s = acc(s + x[base + i]!);
      const mu = acc(s / n);
      let ss = 0;
      for (let i = 0; i < n; i++) {
        const d = acc(x[base + i]! - mu);
        ss = acc(ss + d * d);
      }
      const scale = acc(1 / Math.sqrt(acc(acc(ss / n) + norm.eps)));
      for (let i = 0; i < n; i++) {
        const centred = acc(acc(x[base + i]! - mu) * scale);
        const b = beta === null ? 0 : beta[i]!;
        out[base + i] = store(acc(acc(centred * gamma[i]!) + b));
      }
    }
  }
  return out;
}

/**
 * The deferred norm's per-row scale r, from statistics gathered in one pass alongside the matmul:
 * RMSNorm r = 1/√(Σx²/n + ε); LayerNorm r = 1/√(Σx²/n − μ² + ε) with μ = Σx/n (Σx and Σx² gathered
 * in parallel). The LayerNorm form cancels when |μ| ≫ std(x): Σx²/n and μ² agree in their leading
 * digits and the accumulator's rounding error in Σx² (relative u) becomes a relative error of about
 * u·(μ² + σ²)/σ² in the variance. A negative result is clamped to 0.
 */
export function normScales(cfg: KernelConfig, norm: NormParams, x: Float64Array, rows: number): Float64Array {
  const n = norm.gamma.length;
  const acc = rounder(cfg.accumulate);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let s = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const v = x[base + i]!;
      s = acc(s + v);
      ss = acc(ss + v * v);
    }
    let variance: number;
    if (norm.kind === 'rmsnorm') variance = acc(ss / n);
    else {
      const mu = acc(s / n);
      variance = Math.max(0, acc(acc(ss / n) - acc(mu * mu)));
    }
    out[r] = acc(1 / Math.sqrt(acc(variance + norm.eps)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Linear layers and their epilogues

/** Baseline linear: y = x̂·W (+ b), accumulated, bias added in the epilogue, stored. */
export function linear(
  cfg: KernelConfig,
  xin: Float64Array,
  rows: number,
  W: Float64Array,
  m: number,
  bias: Float64Array | null,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const y = matmulAccumulate(xin, rows, W, m, cfg.accumulate);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < m; j++) {
      const k = r * m + j;
      y[k] = store(bias === null ? y[k]! : acc(y[k]! + bias[j]!));
    }
  return y;
}

/** Deferred linear: y = r·(x·W_folded) (+ bias): the scale acts on the accumulator, then the bias. */
export function scaledLinear(
  cfg: KernelConfig,
  x: Float64Array,
  rows: number,
  folded: FoldedLinear,
  m: number,
  scales: Float64Array,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const y = matmulAccumulate(x, rows, folded.W, m, cfg.accumulate);
  const bias = folded.bias;
  for (let r = 0; r < rows; r++) {
    const s = scales[r]!;
    for (let j = 0; j < m; j++) {
      const k = r * m + j;
      const scaled = acc(y[k]! * s);
      y[k] = store(bias === null ? scaled : acc(scaled + bias[j]!));
    }
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Folds (float64; the caller rounds the result to storage)

/** RMSNorm fold: W′ = diag(γ)·W, W is n×m with n = γ.length. */
export function foldRmsNorm(gamma: Float64Array, W: Float64Array, b: Float64Array | null = null): FoldedLinear {
  const n = gamma.length;
  const m = W.length / n;
  const out = new Float64Array(W.length);
  for (let i = 0; i < n; i++) {
    const g = gamma[i]!;
    for (let j = 0; j < m; j++) out[i * m + j] = g * W[i * m + j]!;
  }
  return { W: out, bias: b === null ? null : Float64Array.from(b) };
}

/**
 * LayerNorm fold: W̃ = (I − 11ᵀ/n)·diag(γ)·W (every column of diag(γ)·W minus its mean, so the
 * columns of W̃ sum to zero and x·W̃ = (x − μ)·diag(γ)·W), and bias = β·W + b.
 */
export function foldLayerNorm(
  gamma: Float64Array,
  beta: Float64Array,
  W: Float64Array,
  b: Float64Array | null,
): { Wtilde: Float64Array; bias: Float64Array } {
  const n = gamma.length;
  const m = W.length / n;
  const Wtilde = new Float64Array(W.length);
  const colMean = new Float64Array(m);
  const bias = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const g = gamma[i]!;
    const be = beta[i]!;
    for (let j = 0; j < m; j++) {
      const w = W[i * m + j]!;
      const gw = g * w;
      Wtilde[i * m + j] = gw;
      colMean[j] = colMean[j]! + gw;
      bias[j] = bias[j]! + be * w;
    }
  }
  for (let j = 0; j < m; j++) {
    colMean[j] = colMean[j]! / n;
    if (b !== null) bias[j] = bias[j]! + b[j]!;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) Wtilde[i * m + j] = Wtilde[i * m + j]! - colMean[j]!;
  return { Wtilde, bias };
}

/** The fold of a norm into the linear after it, in float64. */
export function foldNorm(norm: NormParams, W: Float64Array, b: Float64Array | null): FoldedLinear {
  if (norm.kind === 'rmsnorm') return foldRmsNorm(norm.gamma, W, b);
  const beta = norm.beta ?? new Float64Array(norm.gamma.length);
  const { Wtilde, bias } = foldLayerNorm(norm.gamma, beta, W, b);
  return { W: Wtilde, bias };
}

/**
 * Round a float64 fold to the storage precision (a load-time fold, then store). With `inPlace`
 * the fold's own arrays are rounded and returned (saves allocating a second n×m matrix).
 */
export function storeFolded(cfg: KernelConfig, f: FoldedLinear, inPlace = false): FoldedLinear {
  const out = (a: Float64Array): Float64Array => roundArray(cfg.storage, a, inPlace ? a : undefined);
  return { W: out(f.W), bias: f.bias === null ? null : out(f.bias) };
}

/** Baseline norm → linear: y = norm(x)·W (+ b). */
export function normLinearBaseline(
  cfg: KernelConfig,
  norm: NormParams,
  x: Float64Array,
  rows: number,
  W: Float64Array,
  m: number,
  b: Float64Array | null,
): Float64Array {
  return linear(cfg, normalizeRows(cfg, norm, x, rows), rows, W, m, b);
}

/** Deferred norm → linear with a stored fold: y = r·(x·W_f) + bias_f. */
export function normLinearDeferred(
  cfg: KernelConfig,
  norm: NormParams,
  x: Float64Array,
  rows: number,
  folded: FoldedLinear,
  m: number,
): Float64Array {
  return scaledLinear(cfg, x, rows, folded, m, normScales(cfg, norm, x, rows));
}
