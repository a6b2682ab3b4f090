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
 * the accumulator before exp; the MLP's hidden activation is stored before the down projection.
 *
 * `DeepMutation`s are deliberately wrong forms (the negative controls of the tests): they show the
 * check can fail. None of them is used by checkNumerics itself.
 */

import { rounder } from './floats';
import { KernelConfig, linear, matmulAccumulate } from './kernels';

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

/** Per-token scales of the 'attention' depth: q's per query token, k's and v's per key token (1 where already applied). */
export interface LogitScales {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
}

/**
 * Causal attention of `queries` tokens (starting at token `first`) against L keys, one KV head
 * shared by `heads` query heads of width d. q is queries × heads·d (row-major, so it is also
 * (queries·heads) × d), k and v are L × d; query token i sees keys j ≤ i. Returns
 * queries × heads·d, stored.
 *
 * Without `scales`: the usual schedule, logits q·k/√d, c = the row max, e = exp(s − c), ℓ = Σe in
 * the accumulator, p = e/ℓ stored, o = p·V.
 * With `scales`: the 'attention' depth, l_ij = (q̂·k̂_j/√d)·(r_q,i·r_k,j) in the accumulator,
 * c = max_j l_ij, e = exp(l − c), ℓ = Σ_j e_ij from the unrounded exponentials, then the v scale
 * p̃_ij = e_ij·r_v,j stored (after the sum), O = p̃·V accumulated and o = O/ℓ (d values per row).
 */
export function attentionForm(
  cfg: KernelConfig,
  q: Float64Array,
  queries: number,
  first: number,
  heads: number,
  k: Float64Array,
  v: Float64Array,
  d: number,
  scales: LogitScales | null,
  mutation?: DeepMutation,
): Float64Array {
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const L = k.length / d;
  const rows = queries * heads;
  const kT = new Float64Array(d * L);
  for (let j = 0; j < L; j++) for (let t = 0; t < d; t++) kT[t * L + j] = k[j * d + t]!;
  const S = matmulAccumulate(q, rows, kT, L, cfg.accumulate);
  const inv = acc(1 / Math.sqrt(d));
  const P = new Float64Array(rows * L);
  const ell = new Float64Array(rows);
  const e = new Float64Array(L);
  const kAfterExp = mutation === 'k-scale-after-exp';
  const vInSum = mutation === 'v-scale-in-row-sum';
  for (let row = 0; row < rows; row++) {
    const i = first + Math.floor(row / heads);
    const seen = Math.min(L, i + 1);
    const rq = scales === null ? 1 : scales.q[Math.floor(row / heads)]!;
    let c = -Infinity;
    for (let j = 0; j < seen; j++) {
      let l = acc(S[row * L + j]! * inv);
      if (scales !== null) l = kAfterExp ? acc(l * rq) : acc(l * acc(rq * scales.k[j]!));
      e[j] = l;
      if (l > c) c = l;
    }
    let sum = 0;
    for (let j = 0; j < seen; j++) {
      let ev = acc(Math.exp(acc(e[j]! - c)));
      if (scales !== null && kAfterExp) ev = acc(ev * scales.k[j]!);
      e[j] = ev;
      sum = acc(sum + (scales !== null && vInSum ? acc(ev * scales.v[j]!) : ev));
    }
    ell[row] = sum;
    for (let j = 0; j < seen; j++) P[row * L + j] = store(scales === null ? acc(e[j]! / sum) : acc(e[j]! * scales.v[j]!));
  }
  if (scales === null) return linear(cfg, P, rows, v, d, null);
  const O = matmulAccumulate(P, rows, v, d, cfg.accumulate);
  for (let row = 0; row < rows; row++) for (let t = 0; t < d; t++) O[row * d + t] = store(acc(O[row * d + t]! / ell[row]!));
  return O;
}

// ---------------------------------------------------------------------------------------------
// The MLP to the down projection

export type MlpActivation = 'relu' | 'silu';

function activate(cfg: KernelConfig, act: MlpActivation, a: Float64Array, u: Float64Array | null): Float64Array {
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
  return activate(cfg, act, a, u);
}
