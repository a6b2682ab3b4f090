/**
 * Softmax → ·V in its two schedules, under the precision model of kernels.ts: the usual safe softmax
 * (p = e/ℓ stored, then p·V) and the deferred division by ℓ after ·V, with each offset choice.
 */

import { rounder } from './floats';
import { KernelConfig, linear, matmulAccumulate } from './kernels';

/** Where the Softmax offset c comes from in the deferred form. */
export type SoftmaxOffsetSpec =
  /** c = 0: no offset at all (only to show overflow). */
  | { kind: 'none' }
  /** c = the row max (a collective on the critical path). */
  | { kind: 'exact' }
  /** c = a given per-row value, meant to be an upper bound of the row max. */
  | { kind: 'bound'; c: Float64Array }
  /** FlashAttention-style running max over key blocks with rescaling. */
  | { kind: 'online'; block: number };

export interface SoftmaxResult {
  /** rows×d outputs, stored. */
  out: Float64Array;
  /** Whether any exp value, stored probability, running sum or output became ±Infinity or NaN. */
  overflowed: boolean;
  /** Stored unnormalized probabilities that flushed to zero although their exact value is not (deferred form). */
  underflowedCount: number;
}

/**
 * Baseline Softmax → ·V, the usual schedule: c = the row max, e = exp(s − c) and ℓ = Σe in the
 * accumulator, p = e/ℓ stored (context-length divisions per row), o = p·V accumulated and stored.
 */
export function softmaxVBaseline(
  cfg: KernelConfig,
  logits: Float64Array,
  rows: number,
  V: Float64Array,
  d: number,
): SoftmaxResult {
  const L = V.length / d;
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const p = new Float64Array(rows * L);
  const e = new Float64Array(L);
  let bad = false;
  for (let r = 0; r < rows; r++) {
    let c = -Infinity;
    for (let j = 0; j < L; j++) c = Math.max(c, logits[r * L + j]!);
    let l = 0;
    for (let j = 0; j < L; j++) {
      const v = acc(Math.exp(acc(logits[r * L + j]! - c)));
      e[j] = v;
      l = acc(l + v);
    }
    if (!Number.isFinite(l)) bad = true;
    for (let j = 0; j < L; j++) p[r * L + j] = store(acc(e[j]! / l));
  }
  const out = linear(cfg, p, rows, V, d, null);
  if (!allFinite(out)) bad = true;
  return { out, overflowed: bad, underflowedCount: 0 };
}

/**
 * Deferred Softmax → ·V: ẽ = exp(s − c) stored (as FlashAttention casts P before P·V), ℓ = Σ exp(s − c)
 * summed in the accumulator from the unrounded exponentials, O = ẽ·V accumulated, and o = O/ℓ:
 * d_head divisions per row. With `online` the keys are processed in blocks with a running max m and
 * ℓ, O rescaled by exp(m_old − m_new) whenever the max grows.
 */
export function softmaxVDeferred(
  cfg: KernelConfig,
  logits: Float64Array,
  rows: number,
  V: Float64Array,
  d: number,
  offset: SoftmaxOffsetSpec,
): SoftmaxResult {
  const L = V.length / d;
  const acc = rounder(cfg.accumulate);
  const store = rounder(cfg.storage);
  const O = new Float64Array(rows * d);
  const l = new Float64Array(rows);
  let bad = false;
  let underflowed = 0;
  // Block of keys [j0, j1) with per-row offsets c: ẽ stored, ℓ += Σ exp(s − c), O += ẽ·V_block.
  const addBlock = (j0: number, j1: number, c: Float64Array): void => {
    const B = j1 - j0;
    const p = new Float64Array(rows * B);
    for (let r = 0; r < rows; r++) {
      let lr = l[r]!;
      const cr = c[r]!;
      for (let j = j0; j < j1; j++) {
        const ev = acc(Math.exp(acc(logits[r * L + j]! - cr)));
        const pv = store(ev);
        if (!Number.isFinite(pv)) bad = true;
        else if (pv === 0 && Math.exp(logits[r * L + j]! - cr) > 0) underflowed++;
        lr = acc(lr + ev);
        p[r * B + (j - j0)] = pv;
      }
      l[r] = lr;
    }
    matmulAccumulate(p, rows, V.subarray(j0 * d, j1 * d), d, cfg.accumulate, O);
  };
  if (offset.kind === 'online') {
    const B = Math.max(1, Math.floor(offset.block));
    const m = new Float64Array(rows).fill(-Infinity);
    for (let j0 = 0; j0 < L; j0 += B) {
      const j1 = Math.min(L, j0 + B);
      for (let r = 0; r < rows; r++) {
        let mb = -Infinity;
        for (let j = j0; j < j1; j++) mb = Math.max(mb, logits[r * L + j]!);
        const mOld = m[r]!;
        if (mb > mOld) {
          // Rescale what was summed against the old max: exp(m_old − m_new) ≤ 1.
          const scale = mOld === -Infinity ? 0 : acc(Math.exp(acc(mOld - mb)));
          l[r] = acc(l[r]! * scale);
          for (let k = 0; k < d; k++) O[r * d + k] = acc(O[r * d + k]! * scale);
          m[r] = mb;
        }
      }
      addBlock(j0, j1, m);
    }
  } else {
    const c = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      if (offset.kind === 'exact') {
        let mx = -Infinity;
        for (let j = 0; j < L; j++) mx = Math.max(mx, logits[r * L + j]!);
        c[r] = mx;
      } else if (offset.kind === 'bound') c[r] = offset.c[r]!;
    }
    addBlock(0, L, c);
  }
  const out = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    if (!Number.isFinite(l[r]!)) bad = true;
    for (let k = 0; k < d; k++) {
      const v = store(acc(O[r * d + k]! / l[r]!));
      if (!Number.isFinite(v)) bad = true;
      out[r * d + k] = v;
    }
  }
  return { out, overflowed: bad, underflowedCount: underflowed };
}

function allFinite(a: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}
