/**
 * Realistic test tensors, all float64 and all reproducible from a seed.
 *
 * - Activations: N(0, 1) per element plus a few *outlier channels*, as in real LLM hidden states
 *   (LLM.int8(), Dettmers et al. 2022: a handful of feature dimensions carry values ~20× the rest,
 *   with a consistent sign across tokens). Here max(2, round(n/2048)) channels of magnitude ≈ 20.
 *   They dominate Σx² (so r), and give the row a small non-zero mean.
 * - γ ≈ 1 ± 0.1, β ≈ N(0, 0.1²), W ~ N(0, 1/n) (unit-variance outputs), biases ≈ N(0, 0.1²).
 * - Attention logits s = α·q·k/√d with q, k ~ N(0, 1) of width d (so the Cauchy–Schwarz bound
 *   |q|·max|k|/√d is available), α = 2 by default (logit std ≈ 2, row max ≈ 6 over 512 keys),
 *   V ~ N(0, 1).
 */

import { matmulAccumulate } from './kernels';
import { createRng, deriveSeed } from './rng';

export const OUTLIER_MAGNITUDE = 20;

export function outlierChannelCount(n: number): number {
  return Math.min(n, Math.max(2, Math.round(n / 2048)));
}

/**
 * rows×n activations with outlier channels; `offset` is added to every element (a common mean),
 * `magnitude` is the outliers' size (OUTLIER_MAGNITUDE unless a caller keeps their share of Σx²
 * at a narrower width).
 */
export function activations(seed: number, label: string, rows: number, n: number, offset = 0, magnitude = OUTLIER_MAGNITUDE): Float64Array {
  const rng = createRng(deriveSeed(seed, `act:${label}`));
  const x = rng.normals(rows * n, offset, 1);
  const k = outlierChannelCount(n);
  for (let c = 0; c < k; c++) {
    const ch = Math.floor(rng.uniform() * n);
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    for (let r = 0; r < rows; r++) x[r * n + ch] = offset + sign * magnitude * (1 + 0.1 * rng.normal());
  }
  return x;
}

export function gammaVector(seed: number, label: string, n: number): Float64Array {
  return createRng(deriveSeed(seed, `gamma:${label}`)).normals(n, 1, 0.1);
}

export function betaVector(seed: number, label: string, n: number): Float64Array {
  return createRng(deriveSeed(seed, `beta:${label}`)).normals(n, 0, 0.1);
}

/** n×m weight ~ N(0, 1/n). */
export function weight(seed: number, label: string, n: number, m: number): Float64Array {
  return createRng(deriveSeed(seed, `W:${label}`)).normals(n * m, 0, 1 / Math.sqrt(n));
}

export function biasVector(seed: number, label: string, m: number): Float64Array {
  return createRng(deriveSeed(seed, `b:${label}`)).normals(m, 0, 0.1);
}

export interface AttentionInputs {
  /** rows×L logits α·q·k/√d. */
  logits: Float64Array;
  /** L×d values. */
  V: Float64Array;
  /** Per-row Cauchy–Schwarz bound α·|q|·max_j|k_j|/√d ≥ every logit of the row. */
  csBound: Float64Array;
  /** Per-row exact max of the logits. */
  rowMax: Float64Array;
}

/**
 * Attention logits and values. With `rowMaxTarget`, each row's q is rescaled so that the row's
 * largest logit equals it exactly (used to provoke overflow); otherwise α scales all logits.
 */
export function attention(
  seed: number,
  label: string,
  rows: number,
  L: number,
  d: number,
  alpha = 2,
  rowMaxTarget?: number,
): AttentionInputs {
  return scaleLogits(attentionUnit(seed, label, rows, L, d), alpha, rowMaxTarget);
}

/** Logits q·k/√d (α = 1) with q, k, V ~ N(0, 1). */
export function attentionUnit(seed: number, label: string, rows: number, L: number, d: number): AttentionInputs {
  const rng = createRng(deriveSeed(seed, `attn:${label}`));
  const q = rng.normals(rows * d);
  const k = rng.normals(L * d);
  const V = rng.normals(L * d);
  // kᵀ (d×L), so that q·kᵀ is the float64 matmul every check runs anyway (one kernel for V8 to
  // warm up on a cold start, not one more): the same sums, t = 0..d−1 in order.
  const kT = new Float64Array(d * L);
  let kMax = 0;
  for (let j = 0; j < L; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) {
      s += k[j * d + t]! ** 2;
      kT[t * L + j] = k[j * d + t]!;
    }
    kMax = Math.max(kMax, Math.sqrt(s));
  }
  const logits = matmulAccumulate(q, rows, kT, L, 'fp64');
  const csBound = new Float64Array(rows);
  const rowMax = new Float64Array(rows);
  const inv = 1 / Math.sqrt(d);
  for (let r = 0; r < rows; r++) {
    let qn = 0;
    for (let t = 0; t < d; t++) qn += q[r * d + t]! ** 2;
    let mx = -Infinity;
    for (let j = 0; j < L; j++) {
      const s = logits[r * L + j]! * inv;
      logits[r * L + j] = s;
      mx = Math.max(mx, s);
    }
    csBound[r] = Math.sqrt(qn) * kMax * inv;
    rowMax[r] = mx;
  }
  return { logits, V, csBound, rowMax };
}

/**
 * The same attention with q scaled by α (logits, bound and max scale with it), or with each row's
 * q scaled so that its largest logit is `rowMaxTarget`. V is shared, not copied.
 */
export function scaleLogits(unit: AttentionInputs, alpha: number, rowMaxTarget?: number): AttentionInputs {
  const rows = unit.rowMax.length;
  const L = unit.logits.length / rows;
  const logits = new Float64Array(unit.logits.length);
  const csBound = new Float64Array(rows);
  const rowMax = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const mx = unit.rowMax[r]!;
    const a = rowMaxTarget === undefined || mx <= 0 ? alpha : rowMaxTarget / mx;
    for (let j = 0; j < L; j++) logits[r * L + j] = unit.logits[r * L + j]! * a;
    csBound[r] = unit.csBound[r]! * a;
    rowMax[r] = mx * a;
  }
  return { logits, V: unit.V, csBound, rowMax };
}
