/**
 * Deeper deferral of an RMSNorm's scale r = 1/rms(x) (issue 10): instead of scaling the output of
 * the linear layer right after the norm, r travels on through operations that commute with it.
 *
 * - 'rope': RoPE is a linear map per position (it mixes pairs inside a row), so
 *   RoPE(r·q) = r·RoPE(q): q and k are rotated raw and scaled after RoPE.
 * - 'attention': q's scale r_i multiplies row i of the logits q·Kᵀ and k's scale r_j column j,
 *   both before the softmax's exp (the offset c is the max of the *scaled* logits); v's scale r_j
 *   multiplies column j of e = exp(l − c) after the row sum ℓ = Σ_j e_ij is taken:
 *   o_i = Σ_j e_ij·r_j·v̂_j / Σ_j e_ij. In decode, cached k and v were stored scaled: only the new
 *   token's column takes r_k and r_v, and q's scale still multiplies the logits row.
 * - 'down': ReLU is positively homogeneous, ReLU(r·a) = r·ReLU(a) for r ≥ 0, so the up projection,
 *   the ReLU and the down projection all run on raw rows and the down projection's output row is
 *   scaled by r; a gated ReLU (ReGLU) gives ReLU(r·g)⊙(r·u) = r²·(ReLU(g)⊙u): scale r².
 *
 * Same precision model as kernels.ts: tensors stored in the dtype (every kernel's output rounded
 * once), dot products, sums, per-row scalars and epilogues in the accumulator. Kernel boundaries:
 * a matmul's output is stored; RoPE is one kernel (rotation in the accumulator, stored); the
 * deferred scale of the 'rope' depth is its own epilogue after RoPE (stored again: the scale is
 * not ready when RoPE runs, which is the point of deferring that deep); the logits are scaled in
 * the accumulator before exp; e·r_j is stored as P is before P·V; the MLP's hidden activation is
 * stored before the down projection.
 *
 * `DeepMutation`s are deliberately wrong forms (the negative controls of the tests): they show the
 * check can fail. None of them is used by checkNumerics itself.
 */

import { rounder } from './floats';
import { KernelConfig, linear, matmulAccumulate } from './kernels';
import { softmaxVBaseline } from './softmax-kernels';

/** RoPE base frequency of Llama and most rotary models: frequency t of a head of width d is θ^(−2t/d). */
export const ROPE_THETA = 10000;

/**
 * Wrong forms that must fail the check (test hooks; none is a valid rewrite):
 * - 'rope-with-bias': q and k projections have a bias, and r is still taken past RoPE:
 *   r·RoPE(x·W′ + b) ≠ RoPE(r·(x·W′) + b).
 * - 'k-scale-after-exp': k's scale r_j multiplies column j after exp instead of the logit before it.
 * - 'v-scale-in-row-sum': v's scale r_j is included in the row sum ℓ = Σ_j e_ij·r_j.
 * - 'silu-not-relu': the MLP's activation is SiLU (not positively homogeneous) and r is still
 *   taken past it to the down projection.
 * - 'reglu-r-not-r2': ReGLU's output scaled by r instead of r².
 */
export type DeepMutation = 'rope-with-bias' | 'k-scale-after-exp' | 'v-scale-in-row-sum' | 'silu-not-relu' | 'reglu-r-not-r2';

// ---------------------------------------------------------------------------------------------
// RoPE

/**
 * cos and sin of rotary position embedding, one row of d/2 angles per position:
 * angle(pos, t) = pos·θ^(−2t/d), t = 0..d/2−1, in float64 (the caller stores them in the dtype,
 * as models cast their cos/sin tables to the activations' dtype).
 */
export function ropeTables(positions: readonly number[], d: number, theta = ROPE_THETA): { cos: Float64Array; sin: Float64Array } {
  if (d % 2 !== 0) throw new RangeError(`ropeTables: head width ${d} is odd`);
  const half = d / 2;
  const cos = new Float64Array(positions.length * half);
  const sin = new Float64Array(positions.length * half);
  positions.forEach((pos, i) => {
    for (let t = 0; t < half; t++) {
      const a = pos * Math.pow(theta, (-2 * t) / d);
      cos[i * half + t] = Math.cos(a);
      sin[i * half + t] = Math.sin(a);
    }
  });
  return { cos, sin };
}

/**
 * RoPE on every head of x (rows × heads·d, row i at the position of table row i), in the
 * rotate-half convention (Hugging Face Llama): for t < d/2, with a = x[t], b = x[t + d/2],
 * out[t] = a·cos − b·sin and out[t + d/2] = b·cos + a·sin. One kernel: accumulator, then stored.
 * With `scales`, row i's result is multiplied by scales[i] in the accumulator before it is stored
 * (RoPE and a deferred scale in one kernel, e.g. a KV-cache write that can wait for r).
 */
export function applyRope(
  cfg: KernelConfig,
  x: Float64Array,
  rows: number,
  d: number,
  cos: Float64Array,
  sin: Float64Array,
  scales?: Float64Array,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const width = x.length / rows;
  const half = d / 2;
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    const r = scales === undefined ? 1 : scales[i]!;
    for (let h = 0; h + d <= width; h += d) {
      const base = i * width + h;
      for (let t = 0; t < half; t++) {
        const a = x[base + t]!;
        const b = x[base + t + half]!;
        const c = cos[i * half + t]!;
        const s = sin[i * half + t]!;
        const lo = acc(acc(a * c) - acc(b * s));
        const hi = acc(acc(b * c) + acc(a * s));
        out[base + t] = store(scales === undefined ? lo : acc(lo * r));
        out[base + t + half] = store(scales === undefined ? hi : acc(hi * r));
      }
    }
  }
  return out;
}

/** Row i of x (rows × width) times scales[i]^power, in the accumulator, stored: a deferred epilogue. */
export function scaleRows(cfg: KernelConfig, x: Float64Array, rows: number, scales: Float64Array, power: 1 | 2 = 1): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const width = x.length / rows;
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    const s = power === 1 ? scales[i]! : acc(scales[i]! * scales[i]!);
    for (let j = 0; j < width; j++) out[i * width + j] = store(acc(x[i * width + j]! * s));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Attention with the scales on the logits
//
// Logits come from accumulated dot products (a matmul) with causal masking. The usual schedule then
// runs softmaxVBaseline of kernels.ts (p = e/ℓ stored, p·V). The deferred forms compute, per row,
// c = the max of the scaled logits, e = exp(l − c) and ℓ = Σ_j e_ij in the accumulator, then v's
// scale on column j of e after the sum, ẽ_ij = e_ij·r_j stored (as P is stored before P·V, so no
// more roundings than the usual p = e/ℓ), O = ẽ·V̂ accumulated and o = O/ℓ.

/** An L × d matrix transposed to d × L (keys as the columns of a matmul's right operand). */
function transpose(k: Float64Array, d: number): Float64Array {
  const L = k.length / d;
  const kT = new Float64Array(d * L);
  for (let j = 0; j < L; j++) for (let t = 0; t < d; t++) kT[t * L + j] = k[j * d + t]!;
  return kT;
}

/**
 * Causal logits of T query tokens × `heads` heads (row ρ belongs to token ⌊ρ/heads⌋) against T
 * keys: l = (q·k_j/√d)·scale(i, j) in the accumulator for j ≤ i, −∞ for j > i (masked). q is
 * T × heads·d, k is T × d. With `own`, the key j = i (the query's own token) is read from `own`
 * instead of k (decode: the new token's raw k̂ beside the cache's scaled k).
 */
function causalLogits(
  cfg: KernelConfig,
  q: Float64Array,
  T: number,
  heads: number,
  k: Float64Array,
  d: number,
  scale: ((i: number, j: number) => number) | null,
  own: Float64Array | null = null,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const rows = T * heads;
  const S = matmulAccumulate(q, rows, transpose(k, d), T, cfg.accumulate);
  const Sown = own === null ? S : matmulAccumulate(q, rows, transpose(own, d), T, cfg.accumulate);
  const inv = acc(1 / Math.sqrt(d));
  const l = new Float64Array(rows * T);
  for (let row = 0; row < rows; row++) {
    const i = Math.floor(row / heads);
    for (let j = 0; j < T; j++) {
      if (j > i) {
        l[row * T + j] = -Infinity;
        continue;
      }
      const v = acc((j === i ? Sown : S)[row * T + j]! * inv);
      l[row * T + j] = scale === null ? v : acc(v * scale(i, j));
    }
  }
  return l;
}

/**
 * The deferred Softmax → ·V with v's scale on e's columns after the row sum: for the causal
 * logits of `causalLogits`, ẽ_ij = e_ij·colScale(i, j) stored, O = Σ_j ẽ_ij·V_j, o = O/ℓ with
 * ℓ = Σ_j e_ij. With `ownV`, the key j = i takes its value from ownV's row i and is added last
 * (decode: the new token's raw v̂ after the cache's scaled rows, the order of a decode step).
 * Mutations: 'k-scale-after-exp' multiplies e_ij by kScale(i, j) after exp (both in ℓ and in ẽ);
 * 'v-scale-in-row-sum' puts colScale into ℓ too.
 */
function softmaxVScaledColumns(
  cfg: KernelConfig,
  logits: Float64Array,
  heads: number,
  V: Float64Array,
  d: number,
  colScale: (i: number, j: number) => number,
  ownV: Float64Array | null,
  mutation: DeepMutation | undefined,
  kScale: (i: number, j: number) => number,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const L = V.length / d;
  const rows = logits.length / L;
  const P = new Float64Array(rows * L);
  const pOwn = new Float64Array(rows);
  const ell = new Float64Array(rows);
  const e = new Float64Array(L);
  const kAfterExp = mutation === 'k-scale-after-exp';
  const vInSum = mutation === 'v-scale-in-row-sum';
  for (let row = 0; row < rows; row++) {
    const i = Math.floor(row / heads);
    let c = -Infinity;
    for (let j = 0; j <= i; j++) c = Math.max(c, logits[row * L + j]!);
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      let ev = acc(Math.exp(acc(logits[row * L + j]! - c)));
      if (kAfterExp) ev = acc(ev * kScale(i, j));
      e[j] = ev;
      sum = acc(sum + (vInSum ? acc(ev * colScale(i, j)) : ev));
    }
    ell[row] = sum;
    for (let j = 0; j <= i; j++) {
      const p = store(acc(e[j]! * colScale(i, j)));
      if (ownV !== null && j === i) pOwn[row] = p;
      else P[row * L + j] = p;
    }
  }
  const O = matmulAccumulate(P, rows, V, d, cfg.accumulate);
  for (let row = 0; row < rows; row++) {
    const i = Math.floor(row / heads);
    const p = pOwn[row]!;
    for (let t = 0; t < d; t++) {
      const o = ownV === null ? O[row * d + t]! : acc(O[row * d + t]! + p * ownV[i * d + t]!);
      O[row * d + t] = store(acc(o / ell[row]!));
    }
  }
  return O;
}

/** The usual schedule: causal softmax(q·kᵀ/√d)·V, p = e/ℓ stored. q is T × heads·d, k and v are T × d; returns T × heads·d. */
export function attentionUsual(cfg: KernelConfig, q: Float64Array, T: number, heads: number, k: Float64Array, v: Float64Array, d: number): Float64Array {
  return softmaxVBaseline(cfg, causalLogits(cfg, q, T, heads, k, d, null), T * heads, v, d).out;
}

/**
 * The 'attention' depth in a causal prefill, from raw rotated q̂ and k̂ and raw v̂: logits
 * (q̂_i·k̂_j/√d)·r_i·r_j (q's scale on row i, k's on column j, before exp), c their row max,
 * ℓ = Σ_j e_ij, then v's r_j on column j of e (after the sum): o_i = Σ_j e_ij·r_j·v̂_j / ℓ_i.
 */
export function attentionDeep(
  cfg: KernelConfig,
  q: Float64Array,
  T: number,
  heads: number,
  k: Float64Array,
  v: Float64Array,
  d: number,
  r: Float64Array,
  mutation?: DeepMutation,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const kAfterExp = mutation === 'k-scale-after-exp';
  const logits = causalLogits(cfg, q, T, heads, k, d, (i, j) => (kAfterExp ? r[i]! : acc(r[i]! * r[j]!)));
  return softmaxVScaledColumns(cfg, logits, heads, v, d, (_i, j) => r[j]!, null, mutation, (_i, j) => r[j]!);
}

/**
 * The 'attention' depth in decode, every token of a chunk as the new token of one step, all steps
 * in one batch: step i's query (row i of q̂, raw and rotated) attends to keys 0…i−1 from the cache,
 * whose k and v were stored scaled, and to its own raw k̂_i and v̂_i: logits (q̂_i·k_j/√d)·r_i for
 * cached j and (q̂_i·k̂_i/√d)·r_i·r_i for its own column; ẽ_ij = e_ij for cached j and e_ii·r_i for
 * its own (v's scale, after ℓ); O = Σ_{j<i} ẽ_ij·v_j + ẽ_ii·v̂_i in this order; o = O/ℓ.
 */
export function attentionDecode(
  cfg: KernelConfig,
  q: Float64Array,
  T: number,
  heads: number,
  cache: { k: Float64Array; v: Float64Array },
  own: { k: Float64Array; v: Float64Array },
  d: number,
  r: Float64Array,
  mutation?: DeepMutation,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const kAfterExp = mutation === 'k-scale-after-exp';
  const logits = causalLogits(cfg, q, T, heads, cache.k, d, (i, j) => (j < i || kAfterExp ? r[i]! : acc(r[i]! * r[i]!)), own.k);
  const ownScale = (i: number, j: number): number => (j < i ? 1 : r[i]!);
  return softmaxVScaledColumns(cfg, logits, heads, cache.v, d, ownScale, own.v, mutation, ownScale);
}

// ---------------------------------------------------------------------------------------------
// The MLP to the down projection

export type MlpActivation = 'relu' | 'silu';

/**
 * The MLP's hidden activation from stored projections: plain h = act(a), gated h = act(a)⊙u; in
 * the accumulator, stored.
 */
export function mlpActivation(cfg: KernelConfig, act: MlpActivation, a: Float64Array, u: Float64Array | null): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    // ReLU of a stored value is stored as it is; SiLU x/(1 + e^−x) in the accumulator.
    const h = act === 'relu' ? (x > 0 ? x : 0) : acc(x / acc(1 + Math.exp(-x)));
    out[i] = u === null ? store(h) : store(acc(h * u[i]!));
  }
  return out;
}

/** The MLP's weights as stored: up (n × f), gate (n × f) for a gated MLP, down (f × m). */
export interface MlpWeights {
  up: Float64Array;
  gate: Float64Array | null;
  down: Float64Array;
  f: number;
  m: number;
}

/**
 * The MLP from a (normalized or raw) input to the down projection's accumulators:
 * plain h = act(x·W_up), gated h = act(x·W_gate)⊙(x·W_up); each projection's output and h stored.
 * Returns h (rows × f), for the caller to project.
 */
export function mlpHidden(cfg: KernelConfig, xin: Float64Array, rows: number, w: MlpWeights, act: MlpActivation): Float64Array {
  const a = linear(cfg, xin, rows, w.gate ?? w.up, w.f, null);
  const u = w.gate === null ? null : linear(cfg, xin, rows, w.up, w.f, null);
  return mlpActivation(cfg, act, a, u);
}
