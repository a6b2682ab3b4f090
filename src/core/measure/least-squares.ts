/**
 * The least-squares fit of calibrate: log(predicted ÷ measured) summed in squares over the points,
 * minimised by a coordinate search (golden section in log space) and then Nelder–Mead; a first
 * reading of the rates straight from the simplest points; which numbers no point constrains; and
 * the |ratio − 1| error the report states.
 */
import type { Op } from '../graph/ops';
import type { Dtype, HardwareProfile } from '../hardware/profile';
import { FIT_KEYS, predictNs, withParams, type FitParams, type FitPoint } from './fit-points';

/** Search range of each number (log space): wide, so that a bound reached says the model is wrong, not the range. */
const RANGE: Record<keyof FitParams, [number, number]> = {
  matrixTflops: [1e-7, 1e4],
  bandwidthGBps: [1e-2, 1e6],
  vectorGelems: [1e-3, 1e6],
  matrixStartNs: [1, 1e7],
  vectorStartNs: [1, 1e7],
};

export function cost(points: readonly FitPoint[], hw: HardwareProfile, dtype: Dtype, p: FitParams): number {
  const trial = withParams(hw, dtype, p);
  let sum = 0;
  for (const pt of points) sum += Math.log(predictNs(pt, trial, dtype, 1) / pt.measuredNs) ** 2;
  return sum;
}

/** Golden-section search of f over [lo, hi] (log space in the callers); the argument of the least value found. Exported for its tests. */
export function golden(f: (x: number) => number, lo: number, hi: number, iterations = 60): number {
  const r = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - r * (b - a);
  let d = a + r * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < iterations; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - r * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + r * (b - a);
      fd = f(d);
    }
  }
  return (a + b) / 2;
}

/**
 * Least squares over `keys`: a coordinate search (golden section on each number in turn) to get near,
 * then Nelder–Mead in log space, restarted until it stops improving: a roofline's max() makes ridges
 * that a search along one number at a time cannot leave.
 */
export function fitParams(points: readonly FitPoint[], hw: HardwareProfile, dtype: Dtype, start: FitParams, keys: readonly (keyof FitParams)[] = FIT_KEYS): FitParams {
  const f = (p: FitParams) => cost(points, hw, dtype, p);
  let p = { ...start };
  let best = f(p);
  for (let sweep = 0; sweep < 10; sweep++) {
    const before = best;
    for (const key of keys) {
      const [lo, hi] = RANGE[key];
      const x = golden((lx) => f({ ...p, [key]: Math.exp(lx) }), Math.log(lo), Math.log(hi));
      const trial = { ...p, [key]: Math.exp(x) };
      const c = f(trial);
      if (c < best) [p, best] = [trial, c];
    }
    if (before - best <= 1e-12 * Math.max(1, before)) break;
  }
  // Nelder–Mead over the logs, each number clamped to its range.
  const toParams = (x: readonly number[]): FitParams => {
    const q = { ...p };
    keys.forEach((key, i) => (q[key] = Math.min(RANGE[key][1], Math.max(RANGE[key][0], Math.exp(x[i]!)))));
    return q;
  };
  for (let restart = 0; restart < 8; restart++) {
    const before = best;
    const x0 = keys.map((key) => Math.log(p[key]));
    const x = nelderMead((v) => f(toParams(v)), x0, 0.5, 400 * keys.length);
    const c = f(toParams(x));
    if (c < best) [p, best] = [toParams(x), c];
    if (before - best <= 1e-12 * Math.max(1, before)) break;
  }
  return p;
}

/**
 * Nelder–Mead minimisation of f from x0 with an initial step; the best vertex after `iterations`. Each
 * iteration reflects the worst vertex through the others' centroid, expands to twice that if the
 * reflection beats the best, contracts halfway towards the worst if it beats not even the second worst,
 * and else shrinks every vertex halfway towards the best. Exported for its tests.
 */
export function nelderMead(f: (x: number[]) => number, x0: readonly number[], step: number, iterations: number): number[] {
  const n = x0.length;
  let simplex = [x0.slice(), ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step : v)))].map((x) => ({ x, fx: f(x) }));
  const along = (a: number[], b: number[], t: number) => a.map((v, i) => v + t * (b[i]! - v));
  for (let it = 0; it < iterations; it++) {
    simplex.sort((a, b) => a.fx - b.fx);
    const worst = simplex[n]!;
    const centroid = x0.map((_, i) => simplex.slice(0, n).reduce((s, v) => s + v.x[i]!, 0) / n);
    const reflected = along(centroid, worst.x, -1);
    const fr = f(reflected);
    if (fr < simplex[0]!.fx) {
      const expanded = along(centroid, worst.x, -2);
      const fe = f(expanded);
      simplex[n] = fe < fr ? { x: expanded, fx: fe } : { x: reflected, fx: fr };
    } else if (fr < simplex[n - 1]!.fx) {
      simplex[n] = { x: reflected, fx: fr };
    } else {
      const contracted = along(centroid, worst.x, 0.5);
      const fc = f(contracted);
      if (fc < worst.fx) simplex[n] = { x: contracted, fx: fc };
      else {
        const bestX = simplex[0]!.x;
        simplex = simplex.map((v, i) => (i === 0 ? v : { x: along(bestX, v.x, 0.5), fx: f(along(bestX, v.x, 0.5)) }));
      }
    }
  }
  simplex.sort((a, b) => a.fx - b.fx);
  return simplex[0]!.x;
}

/**
 * A first reading of the rates straight from the simplest points: a launch's time is its engine's start,
 * the largest copy's bytes over its time (less a start) the bandwidth, a GEMM's FLOPs over its time (less
 * a start) the matrix rate (the median over GEMMs). Numbers no such point gives stay as in `fallback`.
 */
export function directEstimate(points: readonly FitPoint[], fallback: FitParams): FitParams {
  const p = { ...fallback };
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const launch = (engine: Op['engine']) => median(points.filter((pt) => pt.kind === 'launch' && pt.ops[0]!.engine === engine).map((pt) => pt.measuredNs));
  p.matrixStartNs = launch('matrix') ?? p.matrixStartNs;
  p.vectorStartNs = launch('vector') ?? p.vectorStartNs;
  const copies = points.filter((pt) => pt.kind === 'stream').sort((a, b) => b.measuredNs - a.measuredNs);
  const largest = copies[0];
  if (largest && largest.ops[0]!.work.kind === 'vector' && largest.measuredNs > p.vectorStartNs) p.bandwidthGBps = largest.ops[0]!.work.bytes / (largest.measuredNs - p.vectorStartNs);
  const rates = points.flatMap((pt) => {
    const w = pt.ops[0]!.work;
    return pt.kind === 'gemm' && w.kind === 'matmul' && pt.measuredNs > p.matrixStartNs ? [(2 * w.m * w.k * w.n) / (pt.measuredNs - p.matrixStartNs) / 1e3] : [];
  });
  p.matrixTflops = median(rates) ?? p.matrixTflops;
  return p;
}

/** The numbers no point's prediction depends on (doubling or halving one moves none by 1%): the fit cannot say anything about them. */
export function unconstrained(points: readonly FitPoint[], hw: HardwareProfile, dtype: Dtype, p: FitParams): (keyof FitParams)[] {
  const at = withParams(hw, dtype, p);
  return FIT_KEYS.filter((key) => {
    return [2, 0.5].every((factor) => {
      const moved = withParams(hw, dtype, { ...p, [key]: p[key] * factor });
      return points.every((pt) => Math.abs(Math.log(predictNs(pt, moved, dtype, 1) / predictNs(pt, at, dtype, 1))) < 0.01);
    });
  });
}

/** |ratio − 1| over points, as fractions. */
export interface FitError {
  n: number;
  meanAbsError: number;
  maxAbsError: number;
}

export function errorOf(ratios: readonly number[]): FitError {
  if (ratios.length === 0) return { n: 0, meanAbsError: 0, maxAbsError: 0 };
  const errs = ratios.map((r) => Math.abs(r - 1));
  return { n: errs.length, meanAbsError: errs.reduce((a, b) => a + b, 0) / errs.length, maxAbsError: Math.max(...errs) };
}
