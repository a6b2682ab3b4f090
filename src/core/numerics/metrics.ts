/**
 * The error metric of the numerics check.
 *
 * Per output element: |y − y_ref| / max(|y_ref|, floor), with floor = FLOOR_FRACTION × RMS(y_ref)
 * over the whole output tensor. A linear layer's outputs are roughly normal around zero, so a few
 * of them are arbitrarily close to zero; their absolute error is set by the size of the terms that
 * were summed (≈ RMS), not by the tiny result, and dividing by |y_ref| alone would report huge
 * "relative" errors that only measure how close to zero the luckiest output fell (and would make
 * max-over-elements a lottery between two schedules). Below the floor the metric becomes an
 * absolute error in units of the output's scale. 1/8 of the RMS keeps the metric a true relative
 * error for about 90% of normally distributed outputs; with it the max over ~1000 outputs is
 * ≈ 10–20 unit roundoffs for both schedules, stable enough across seeds to compare them (1/16 made
 * the maxima twice as noisy; at 1/4 the metric is mostly an error in units of the RMS).
 */

export const FLOOR_FRACTION = 1 / 8;

export interface ErrorStats {
  max: number;
  mean: number;
}

/** Root mean square of the finite entries of a (0 when there are none). */
export function rms(a: Float64Array): number {
  let s = 0;
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (Number.isFinite(v)) {
      s += v * v;
      k++;
    }
  }
  return k === 0 ? 0 : Math.sqrt(s / k);
}

/**
 * Max and mean of the floored relative error of y against ref. A non-finite y (overflow, NaN)
 * counts as an infinite error.
 */
export function relErrorStats(y: Float64Array, ref: Float64Array, floorFraction = FLOOR_FRACTION): ErrorStats {
  if (y.length !== ref.length) throw new RangeError(`relErrorStats: lengths differ (${y.length} vs ${ref.length})`);
  const floor = Math.max(floorFraction * rms(ref), Number.MIN_VALUE);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const a = y[i]!;
    const b = ref[i]!;
    const e = Number.isFinite(a) ? Math.abs(a - b) / Math.max(Math.abs(b), floor) : Infinity;
    if (e > max) max = e;
    sum += e;
  }
  return { max, mean: y.length === 0 ? 0 : sum / y.length };
}

/** Largest absolute difference (Infinity if y has a non-finite entry). */
export function maxAbsError(y: Float64Array, ref: Float64Array): number {
  let max = 0;
  for (let i = 0; i < y.length; i++) {
    const a = y[i]!;
    const e = Number.isFinite(a) ? Math.abs(a - ref[i]!) : Infinity;
    if (e > max) max = e;
  }
  return max;
}
