/**
 * `deferred-norm calibrate`: fits the numbers a hardware profile states (matrix rate, memory
 * bandwidth, vector rate, launch costs) to a harness's measurements, and tests the fit on the
 * points it never saw: the standard and deferred norm → projection blocks.
 *
 * Every fitted point is predicted by the simulator's own cost functions (opDurationNs on the ops the
 * graph builder makes for that kernel), so a fitted number means in the profile exactly what it meant
 * in the fit. The fit is least squares on log(predicted ÷ measured), one coordinate at a time (golden
 * section in log space), until no coordinate improves it. A number the measurements do not constrain
 * (no point's prediction moves by 1% when it doubles) keeps the base profile's value, and says so.
 * Pure: the caller loads the model specs and the base profile.
 */
import { InputError } from '../errors';
import { buildSiteGraph } from '../graph/layer';
import type { Op } from '../graph/ops';
import { layerSites } from '../graph/sites';
import { applyOverrides } from '../hardware/overrides';
import { DTYPE_BYTES, type CalibrationRecord, type Dtype, type HardwareProfile } from '../hardware/profile';
import { validateHardwareProfile } from '../hardware/validate';
import type { ModelSpec } from '../model/spec';
import { opDurationNs, opLatencyNs, type CostContext } from '../sim/costs';
import { graphContext, simulateSite } from '../sim/simulate';
import { restrictConsumers } from '../validate/validate';
import { DEFAULT_WORKLOAD, type Workload } from '../workload';
import { extrapolationNote } from './extrapolation';
import { BLOCK_SITES } from './plan';
import type { Entry, Measurements } from './types';

/** The numbers the fit moves, as rates the cost functions read directly. */
export interface FitParams {
  /** Matrix rate reached, TFLOP/s (peak × efficiency). */
  matrixTflops: number;
  /** Streaming bandwidth reached, GB/s (tier peak × memory efficiency). */
  bandwidthGBps: number;
  /** Elementwise rate, 10^9 add/mul-equivalents per second. */
  vectorGelems: number;
  matrixStartNs: number;
  vectorStartNs: number;
}
export const FIT_KEYS: readonly (keyof FitParams)[] = ['matrixTflops', 'bandwidthGBps', 'vectorGelems', 'matrixStartNs', 'vectorStartNs'];
/** Where each fitted number goes in the profile. */
const FIELD: Record<keyof FitParams, string> = {
  matrixTflops: 'matrix.efficiency',
  bandwidthGBps: 'memory.efficiency',
  vectorGelems: 'vector.gelemsPerSec',
  matrixStartNs: 'matrix.startLatencyNs',
  vectorStartNs: 'vector.startLatencyNs',
};
/** Search range of each number (log space): wide, so that a bound reached says the model is wrong, not the range. */
const RANGE: Record<keyof FitParams, [number, number]> = {
  matrixTflops: [1e-7, 1e4],
  bandwidthGBps: [1e-2, 1e6],
  vectorGelems: [1e-3, 1e6],
  matrixStartNs: [1, 1e7],
  vectorStartNs: [1, 1e7],
};

/**
 * The software stack the harness runs, as profile overrides: PyTorch eager, every op its own kernel,
 * no epilogue fusion (FlashNorm's baseline stack, as `deferred-norm validate` sets it).
 */
export const HARNESS_STACK = ['kernels.norm=eager', 'kernels.launch=per-kernel', 'matrix.fusedEpilogue=false'] as const;

/**
 * Which of an entry's times the fit and the held-back comparison read: the median, or the 10th
 * percentile, the time a kernel takes when other processes leave it alone (on a loaded machine the
 * median carries their load, which changes within a run).
 */
export type Statistic = 'median' | 'p10';
export const STATISTICS: readonly Statistic[] = ['median', 'p10'];
/**
 * The 10th percentile: on this project's loaded 2-core test machine (load 10–12) it brought the
 * held-back blocks closer in both runs measured (README, Measure on your machine): a 300 ms block
 * is preempted more often than a 10 ms GEMM, so medians carry unequal shares of other jobs' load.
 */
export const DEFAULT_STATISTIC: Statistic = 'p10';
const timeUs = (t: { medianUs: number; p10Us: number }, statistic: Statistic) => (statistic === 'p10' ? t.p10Us : t.medianUs);

/** One measurement the fit uses: the ops the simulator makes of that kernel, and the time measured. */
export interface FitPoint {
  label: string;
  kind: Entry['kind'];
  /** GEMM rows (M): the workload's M ± 1 are fitted into matrix.efficiency. */
  m: number | null;
  ops: Op[];
  measuredNs: number;
  /** Timed as replays of a captured CUDA graph: each kernel costs the graph's share, not a launch. */
  inGraph?: boolean;
}

/** Ops of a kernel by themselves: one op, no dependencies, paying its own start. */
function lone(name: string, engine: Op['engine'], work: Op['work']): Op {
  return { id: 0, name, role: engine === 'matrix' ? 'linear' : 'residual', engine, category: engine === 'matrix' ? 'linear' : 'elementwise', work, deps: [] };
}

export interface MeasuredSet {
  file: string;
  measurements: Measurements;
  spec: ModelSpec;
}

/** The workload a measurements file was taken at, as the simulator reads it. */
export function measuredWorkload(m: Measurements): Workload {
  const w = m.workload;
  return { ...DEFAULT_WORKLOAD, phase: w.phase, batch: w.batch, seq: w.seq, context: w.context, tp: w.tp, dtype: m.provenance.dtype };
}

/** The base profile with the harness's software stack, checked to be one the fit can write back into. */
export function harnessProfile(base: HardwareProfile, dtype: Dtype, file: string): HardwareProfile {
  const mem = base.memory;
  if (mem.activationsTier === undefined || mem.activationsTier !== mem.weightsTier) {
    throw new InputError(file, 'memory', 'a base profile whose weights and activations share one memory tier (a CPU or GPU preset)', `weights in ${mem.weightsTier}, activations in ${mem.activationsTier ?? 'the compute units'}`);
  }
  if (!base.matrix.peakTflops[dtype]) {
    throw new InputError(file, `matrix.peakTflops.${dtype}`, `a peak rate for ${dtype}, the dtype the measurements were taken in`, 'none');
  }
  // A base calibrated before is fitted afresh: one efficiency first, then the shapes measured now.
  const { efficiencyByShape: _shapes, ...matrix } = base.matrix;
  const { calibration: _calibration, ...rest } = base;
  return applyOverrides({ ...rest, matrix }, [...HARNESS_STACK]);
}

/** The profile with the fit's rates written in as the cost functions read them (efficiencies 1). */
export function withParams(hw: HardwareProfile, dtype: Dtype, p: FitParams): HardwareProfile {
  const tier = hw.memory.weightsTier;
  return {
    ...hw,
    matrix: { ...hw.matrix, peakTflops: { ...hw.matrix.peakTflops, [dtype]: p.matrixTflops }, efficiency: 1, startLatencyNs: p.matrixStartNs },
    vector: { ...hw.vector, gelemsPerSec: p.vectorGelems, startLatencyNs: p.vectorStartNs },
    memory: { ...hw.memory, efficiency: 1, tiers: hw.memory.tiers.map((t) => (t.name === tier ? { ...t, bandwidthGBps: p.bandwidthGBps } : t)) },
  };
}

/** The rates a profile reaches: what the fit starts from. */
export function paramsOf(hw: HardwareProfile, dtype: Dtype): FitParams {
  const tier = hw.memory.tiers.find((t) => t.name === hw.memory.weightsTier)!;
  return {
    matrixTflops: hw.matrix.peakTflops[dtype]! * hw.matrix.efficiency,
    bandwidthGBps: tier.bandwidthGBps * hw.memory.efficiency,
    vectorGelems: hw.vector.gelemsPerSec,
    matrixStartNs: hw.matrix.startLatencyNs,
    vectorStartNs: hw.vector.startLatencyNs,
  };
}

/** The points of one measurements file the fit may use (never a block: those are held back). */
export function fitPoints(set: MeasuredSet, hw: HardwareProfile, statistic: Statistic = DEFAULT_STATISTIC): FitPoint[] {
  const { measurements: m, spec } = set;
  const dtype = m.provenance.dtype;
  const b = DTYPE_BYTES[dtype];
  const points: FitPoint[] = [];
  for (const e of m.entries) {
    const measuredNs = timeUs(e, statistic) * 1000;
    const inGraph = e.timing === 'cuda-graph';
    switch (e.kind) {
      case 'launch':
        points.push({
          label: `launch ${e.engine}`,
          kind: e.kind,
          m: null,
          ops: [e.engine === 'matrix' ? lone(e.name, 'matrix', { kind: 'matmul', m: 1, k: 1, n: 1, bytes: b, tier: 'weights', exps: 0 }) : lone(e.name, 'vector', { kind: 'vector', elements: 1, ops: 1, exps: 0, rsqrts: 0, divs: 0, bytes: 2 * b })],
          measuredNs,
        });
        break;
      case 'stream':
        // A copy: no arithmetic, its bytes read and written.
        points.push({ label: `copy ${e.elements}`, kind: e.kind, m: null, ops: [lone(e.name, 'vector', { kind: 'vector', elements: e.elements, ops: 0, exps: 0, rsqrts: 0, divs: 0, bytes: e.bytes })], measuredNs, inGraph });
        break;
      case 'gemm':
        points.push({ label: `${e.name} ${e.m}×${e.k}×${e.n}`, kind: e.kind, m: e.m, ops: [lone(e.name, 'matrix', { kind: 'matmul', m: e.m, k: e.k, n: e.n, bytes: e.k * e.n * b, tier: 'weights', exps: 0, gemm: { m: e.m, n: e.n } })], measuredNs, inGraph });
        break;
      case 'norm': {
        // PyTorch runs RMSNorm as the eager chain and LayerNorm as one kernel: the simulator's norm under the harness's stack.
        if (e.norm === 'rmsnorm' && e.impl !== 'eager') break;
        if (e.norm === 'layernorm' && e.impl !== 'fused') break;
        const ops = normOps(spec, hw, measuredWorkload(m), e.name);
        if (ops) points.push({ label: `${e.name} (${e.impl})`, kind: e.kind, m: null, ops, measuredNs, inGraph });
        break;
      }
      default:
        // Attention is shown, not fitted; blocks are the held-back test.
        break;
    }
  }
  return points;
}

/** The statistic and apply ops of the norm named `name`, as the standard site graph builds them. */
function normOps(spec: ModelSpec, hw: HardwareProfile, w: Workload, name: string): Op[] | null {
  const ctx = graphContext(hw, w, w.dtype!);
  for (const kind of spec.layerKinds) {
    const site = layerSites(kind, hw.kernels.attention, spec.positions).find((s) => s.norm?.name === name);
    if (!site) continue;
    const graph = buildSiteGraph(spec, kind, site, ctx, () => null);
    return graph.ops.filter((op) => op.category === 'norm-stat' || op.category === 'norm-apply' || op.category === 'stat-collective');
  }
  return null;
}

/** Predicted time of a point on a profile: its ops one after the other, with the network's latency. */
export function predictNs(point: FitPoint, hw: HardwareProfile, dtype: Dtype, tp: number): number {
  // A graph replay pays kernels.graphKernelNs per kernel: the simulator's captured decode.
  const c: CostContext = point.inGraph ? { hw: { ...hw, kernels: { ...hw.kernels, launch: 'graph-in-decode' } }, dtype, tp, phase: 'decode' } : { hw, dtype, tp, phase: 'prefill' };
  let ns = 0;
  for (const op of point.ops) ns += opDurationNs(op, c) + opLatencyNs(op, hw, tp);
  return ns;
}

function cost(points: readonly FitPoint[], hw: HardwareProfile, dtype: Dtype, p: FitParams): number {
  const trial = withParams(hw, dtype, p);
  let sum = 0;
  for (const pt of points) sum += Math.log(predictNs(pt, trial, dtype, 1) / pt.measuredNs) ** 2;
  return sum;
}

/** Golden-section search of f over [lo, hi] (log space in the callers); the argument of the least value found. */
function golden(f: (x: number) => number, lo: number, hi: number, iterations = 60): number {
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

/** Nelder–Mead minimisation of f from x0 with an initial step; the best vertex after `iterations`. */
function nelderMead(f: (x: number[]) => number, x0: readonly number[], step: number, iterations: number): number[] {
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

/** One held-back block: measured and simulated, standard and deferred. */
export interface HeldBackBlock {
  file: string;
  site: string;
  consumers: string[];
  rows: number;
  measuredStandardUs: number;
  measuredDeferredUs: number;
  simulatedStandardUs: number;
  simulatedDeferredUs: number;
  /** simulated ÷ measured. */
  standardRatio: number;
  deferredRatio: number;
  /** Saving of the deferred form, % of the standard one. */
  measuredSavingPct: number;
  simulatedSavingPct: number;
  /**
   * Whether the measured difference is larger than the noise: more than half the 10th–90th percentile
   * spread of the noisier form. When it is not, the sign of the saving cannot be told on this machine.
   */
  resolved: boolean;
  /** The simulated saving has the measured one's sign (only meaningful when `resolved`). */
  signRight: boolean;
}

/** One GEMM measured, its rate fitted alone (the other numbers as fitted), as written into matrix.efficiencyByShape. */
export interface ShapePoint {
  m: number;
  k: number;
  n: number;
  tflops: number;
  /** Of the calibrated profile's peak. */
  efficiency: number;
}

export interface Calibration {
  profile: HardwareProfile;
  device: string;
  deviceKind: Measurements['provenance']['device'];
  date: string;
  dtype: Dtype;
  params: FitParams;
  /** Numbers kept from the base because no measurement constrains them. */
  kept: (keyof FitParams)[];
  fitted: { label: string; measuredUs: number; simulatedUs: number; ratio: number }[];
  fitError: FitError;
  /** Which time of each entry was fitted and compared. */
  statistic: Statistic;
  /** Each GEMM's own rate: the profile's matrix.efficiencyByShape. */
  byShape: ShapePoint[];
  heldBack: HeldBackBlock[];
  heldBackError: FitError;
  /** The shapes measured, for the extrapolation check (also in the profile's `calibration`). */
  shapes: CalibrationRecord['shapes'] & { workloadM: number };
  /** What the harness skipped, and the attention timings (shown, not fitted). */
  notes: string[];
}

/**
 * Fits `base` to the measurements of one device and returns the calibrated profile (validated, named
 * `name`) with the fit's error on its own points and on the held-back blocks.
 */
export function calibrate(sets: readonly MeasuredSet[], base: HardwareProfile, name: string, baseName: string, statistic: Statistic = DEFAULT_STATISTIC): Calibration {
  const first = sets[0];
  if (!first) throw new InputError('command line', '', 'at least one measurements file');
  const prov = first.measurements.provenance;
  for (const s of sets) {
    const p = s.measurements.provenance;
    if (p.deviceName !== prov.deviceName || p.dtype !== prov.dtype || p.device !== prov.device) {
      throw new InputError(s.file, 'provenance', `measurements of one device and dtype (${prov.deviceName}, ${prov.dtype}, as in ${first.file})`, `${p.deviceName}, ${p.dtype}`);
    }
  }
  const dtype = prov.dtype;
  // On a CPU the statistic's gather spans the threads torch ran (the written profile says so too).
  const hw = harnessProfile(prov.device === 'cpu' ? { ...base, computeUnits: prov.threads } : base, dtype, baseName);
  const points = sets.flatMap((s) => fitPoints(s, hw, statistic));
  if (points.length === 0) throw new InputError(first.file, 'entries', 'launch, stream, gemm or norm measurements to fit', 'none');
  const workloadMs = new Set(sets.flatMap((s) => [s.measurements.workload.m - 1, s.measurements.workload.m, s.measurements.workload.m + 1]));
  // One matrix efficiency (for matmuls without a measured shape: attention's) is fitted on the GEMMs at
  // the workload's M ± 1; then each GEMM's own rate goes into the shape table.
  const profilePoints = points.filter((p) => p.m === null || workloadMs.has(p.m));
  // Least squares from two starts, the base's rates and the direct reading, keeping the better: first
  // everything but the matrix rate on the points that are not GEMMs (GEMMs of shape-dependent rates
  // would otherwise pull the bandwidth down to explain the spread), then the one matrix rate on the GEMMs.
  const others = profilePoints.filter((p) => p.kind !== 'gemm');
  const gemmAtM = profilePoints.filter((p) => p.kind === 'gemm');
  const restKeys = FIT_KEYS.filter((k) => k !== 'matrixTflops');
  const fits = [paramsOf(hw, dtype), directEstimate(profilePoints, paramsOf(hw, dtype))].map((start) => {
    const rest = others.length > 0 ? fitParams(others, hw, dtype, start, restKeys) : start;
    return gemmAtM.length > 0 ? fitParams(gemmAtM, hw, dtype, rest, ['matrixTflops']) : rest;
  });
  let params = fits.reduce((a, b) => (cost(profilePoints, hw, dtype, b) < cost(profilePoints, hw, dtype, a) ? b : a));
  const kept = unconstrained(profilePoints, hw, dtype, params);
  const startParams = paramsOf(hw, dtype);
  for (const key of kept) params = { ...params, [key]: startParams[key] };

  // Each measured shape's rate, fitted on its own GEMMs (one per file that measured it).
  const byKey = new Map<string, { m: number; k: number; n: number; points: FitPoint[] }>();
  for (const p of points) {
    const w = p.ops[0]!.work;
    if (p.kind !== 'gemm' || w.kind !== 'matmul') continue;
    const key = `${w.m}x${w.k}x${w.n}`;
    const had = byKey.get(key);
    if (had) had.points.push(p);
    else byKey.set(key, { m: w.m, k: w.k, n: w.n, points: [p] });
  }
  const rates = [...byKey.values()].map(({ points: mine, ...shape }) => ({ ...shape, tflops: fitParams(mine, hw, dtype, params, ['matrixTflops']).matrixTflops }));

  const trial = withParams(hw, dtype, params);
  const fitted = profilePoints.map((p) => {
    const simulatedUs = predictNs(p, trial, dtype, 1) / 1000;
    return { label: p.label, measuredUs: p.measuredNs / 1000, simulatedUs, ratio: (simulatedUs * 1000) / p.measuredNs };
  });
  const gemms = sets.flatMap((s) => s.measurements.entries.flatMap((e) => (e.kind === 'gemm' ? [e] : [])));
  const shapes = {
    mMin: Math.min(...gemms.map((g) => g.m)),
    mMax: Math.max(...gemms.map((g) => g.m)),
    kMax: Math.max(...gemms.map((g) => g.k)),
    nMax: Math.max(...gemms.map((g) => g.n)),
  };
  const record: CalibrationRecord | undefined = gemms.length > 0 ? { device: prov.deviceName, date: prov.date, measurements: points.length, shapes } : undefined;
  const profile = writeProfile(base, hw, dtype, params, kept, rates, record, { name, prov, n: profilePoints.length, residual: errorOf(fitted.map((f) => f.ratio)) });
  const peak = profile.matrix.peakTflops[dtype]!;
  const heldBack = sets.flatMap((s) => heldBackBlocks(s, applyOverrides(profile, [...HARNESS_STACK]), statistic));
  const notes = sets.flatMap((s) => [
    ...s.measurements.skipped.map((k) => `${s.file}: not measured: ${k.what}: ${k.why}`),
    ...s.measurements.entries.flatMap((e) => (e.kind === 'attention' ? [`${s.file}: attention ${e.impl} (${e.batch}×${e.heads} heads, ${e.queries} queries × ${e.keys} keys): ${e.medianUs.toFixed(1)} µs (shown, not fitted)`] : [])),
  ]);
  return {
    profile,
    device: prov.deviceName,
    deviceKind: prov.device,
    date: prov.date,
    dtype,
    params,
    kept,
    fitted,
    fitError: errorOf(fitted.map((f) => f.ratio)),
    statistic,
    byShape: rates.map((r) => ({ ...r, efficiency: r.tflops / peak })),
    heldBack,
    heldBackError: errorOf(heldBack.flatMap((b) => [b.standardRatio, b.deferredRatio])),
    shapes: { ...shapes, workloadM: first.measurements.workload.m },
    notes,
  };
}

/** Each measured block pair beside the simulator's estimate of it on the calibrated profile. */
export function heldBackBlocks(set: MeasuredSet, hw: HardwareProfile, statistic: Statistic = DEFAULT_STATISTIC): HeldBackBlock[] {
  const { measurements: m, spec } = set;
  const out: HeldBackBlock[] = [];
  for (const std of m.entries) {
    if (std.kind !== 'block' || std.variant !== 'standard') continue;
    const def = m.entries.find((e) => e.kind === 'block' && e.variant === 'deferred' && e.site === std.site && e.layerKind === std.layerKind);
    if (!def) continue;
    const kind = spec.layerKinds.find((k) => k.id === std.layerKind);
    if (!kind) throw new InputError(set.file, 'entries', `blocks of the layer kinds of ${spec.name} (${spec.layerKinds.map((k) => k.id).join(', ')})`, JSON.stringify(std.layerKind));
    if (!BLOCK_SITES.includes(std.site)) throw new InputError(set.file, 'entries', `blocks of the sites ${BLOCK_SITES.join(', ')}`, JSON.stringify(std.site));
    const one = { ...spec, layerKinds: [kind] };
    const times = simulateSite(restrictConsumers(one, std.site, std.consumers), hw, measuredWorkload(m), std.site);
    const simStd = times.keptNs / 1000;
    const simDef = times.deferredNs / 1000;
    const stdUs = timeUs(std, statistic);
    const defUs = timeUs(def, statistic);
    const measuredSavingPct = (100 * (stdUs - defUs)) / stdUs;
    const simulatedSavingPct = (100 * (simStd - simDef)) / simStd;
    const spread = Math.max(std.p90Us - std.p10Us, def.p90Us - def.p10Us);
    out.push({
      file: set.file,
      site: std.site,
      consumers: std.consumers,
      rows: std.rows,
      measuredStandardUs: stdUs,
      measuredDeferredUs: defUs,
      simulatedStandardUs: simStd,
      simulatedDeferredUs: simDef,
      standardRatio: simStd / stdUs,
      deferredRatio: simDef / defUs,
      measuredSavingPct,
      simulatedSavingPct,
      resolved: Math.abs(stdUs - defUs) > spread / 2,
      signRight: Math.sign(measuredSavingPct) === Math.sign(simulatedSavingPct),
    });
  }
  return out;
}

const round = (v: number, digits = 4) => Number(v.toPrecision(digits));
/** The least matrix efficiency a profile may state (the schema's minimum). */
const MIN_EFFICIENCY = 1e-3;
/** The least peak rate a profile may state, TFLOP/s (the schema's minimum: 1 GFLOP/s). */
const MIN_PEAK_TFLOPS = 1e-3;

/** The base profile with the fitted numbers written into its own fields, each with a "calibrated:" provenance. */
function writeProfile(
  base: HardwareProfile,
  hw: HardwareProfile,
  dtype: Dtype,
  p: FitParams,
  kept: readonly (keyof FitParams)[],
  rates: readonly Omit<ShapePoint, 'efficiency'>[],
  record: CalibrationRecord | undefined,
  run: { name: string; prov: Measurements['provenance']; n: number; residual: FitError },
): HardwareProfile {
  const out = structuredClone(base);
  const prov = { ...base.provenance };
  const said = `calibrated: ${run.n} measurements on ${run.prov.deviceName}, ${run.prov.date}, residual ${(100 * run.residual.meanAbsError).toFixed(1)}% (mean |simulated ÷ measured − 1|; max ${(100 * run.residual.maxAbsError).toFixed(1)}%)`;
  const set = (field: string, note: string) => (prov[field] = `${said}: ${note}`);
  const tierIndex = out.memory.tiers.findIndex((t) => t.name === hw.memory.weightsTier);
  const tier = out.memory.tiers[tierIndex]!;
  for (const key of FIT_KEYS) {
    if (kept.includes(key)) {
      prov[FIELD[key]] = `${base.provenance[FIELD[key]] ?? 'from the base profile'} (kept by calibrate: no measurement constrains it)`;
      continue;
    }
    switch (key) {
      case 'matrixTflops': {
        const peak = out.matrix.peakTflops[dtype]!;
        const measured = [p.matrixTflops, ...rates.map((r) => r.tflops)];
        const fastest = Math.max(...measured);
        const slowest = Math.min(...measured);
        if (fastest <= peak && slowest >= MIN_EFFICIENCY * peak) {
          out.matrix.efficiency = round(p.matrixTflops / peak);
          set('matrix.efficiency', `${round(p.matrixTflops)} TFLOP/s reached at the workload's M, of the stated ${peak} TFLOP/s ${dtype} peak`);
        } else {
          // Every rate must be a fraction of the peak a profile may state (1/1000 to 1): a rate above the
          // stated peak, or one below a thousandth of it (a reference BLAS), makes the fastest rate measured the peak.
          // A profile states a peak of at least 1 GFLOP/s: a machine slower than that keeps that peak.
          const newPeak = Math.max(MIN_PEAK_TFLOPS, round(fastest));
          out.matrix.peakTflops[dtype] = newPeak;
          out.matrix.efficiency = Math.min(1, Math.max(MIN_EFFICIENCY, round(p.matrixTflops / newPeak)));
          const why = fastest > peak ? `above the base's stated peak of ${peak} TFLOP/s` : `the base's stated ${peak} TFLOP/s is more than 1,000× the slowest rate measured (${round(slowest)} TFLOP/s), below the least efficiency a profile states`;
          const what = newPeak > fastest ? `the least peak a profile states (${MIN_PEAK_TFLOPS} TFLOP/s), above the fastest measured ${dtype} GEMM rate (${round(fastest)} TFLOP/s)` : `the fastest measured ${dtype} GEMM rate`;
          set(`matrix.peakTflops.${dtype}`, `${what}; ${why}`);
          set('matrix.efficiency', `${round(p.matrixTflops)} TFLOP/s reached at the workload's M, of the measured peak above`);
        }
        const reached = out.matrix.peakTflops[dtype]!;
        if (rates.length > 0) {
          out.matrix.efficiencyByShape = rates.map((r) => ({ m: r.m, k: r.k, n: r.n, efficiency: Math.min(1, Math.max(MIN_EFFICIENCY, round(r.tflops / reached))) }));
          rates.forEach((r, i) => {
            const at = `matrix.efficiencyByShape[${i}]`;
            set(`${at}.efficiency`, `the rate of the ${r.m} × ${r.k} × ${r.n} GEMM fitted alone, ${round(r.tflops)} TFLOP/s, of the peak`);
            for (const f of ['m', 'k', 'n']) set(`${at}.${f}`, 'the GEMM shape measured');
          });
        }
        break;
      }
      case 'bandwidthGBps': {
        if (p.bandwidthGBps <= tier.bandwidthGBps) {
          out.memory.efficiency = Math.max(1e-3, round(p.bandwidthGBps / tier.bandwidthGBps));
          set('memory.efficiency', `${round(p.bandwidthGBps)} GB/s reached, of the stated ${tier.bandwidthGBps} GB/s`);
        } else {
          // Data this small stays in caches that beat the stated memory: the measured bandwidth replaces it.
          tier.bandwidthGBps = round(p.bandwidthGBps);
          out.memory.efficiency = 1;
          set(`memory.tiers[${tierIndex}].bandwidthGBps`, `the bandwidth copies and kernels at the model's sizes reached, above the base's stated ${base.memory.tiers[tierIndex]!.bandwidthGBps} GB/s (at these sizes the data stays in caches)`);
          set('memory.efficiency', 'the measured bandwidth is the tier\'s above');
        }
        break;
      }
      case 'vectorGelems':
        out.vector.gelemsPerSec = round(p.vectorGelems);
        set('vector.gelemsPerSec', 'elementwise rate of the norm kernels and copies');
        break;
      case 'matrixStartNs':
        out.matrix.startLatencyNs = round(p.matrixStartNs);
        set('matrix.startLatencyNs', 'the cost of starting one linear (a 1×1×1 one measured, with the GEMMs)');
        break;
      case 'vectorStartNs':
        out.vector.startLatencyNs = round(p.vectorStartNs);
        set('vector.startLatencyNs', 'the cost of starting one elementwise kernel (a 1-element one measured, with the norms and copies)');
        break;
    }
  }
  if (run.prov.device === 'cpu') {
    out.computeUnits = run.prov.threads;
    prov.computeUnits = `measured: torch ran ${run.prov.threads} thread(s) on ${run.prov.deviceName} (${run.prov.date})`;
  }
  if (record) out.calibration = record;
  out.name = run.name;
  out.title = `${base.title}, calibrated on ${run.prov.deviceName}`;
  out.description = `${base.name} calibrated by deferred-norm calibrate on ${run.prov.deviceName} (${run.prov.device}, torch ${run.prov.torch}, ${dtype}, ${run.prov.threads} thread(s)), ${run.prov.date}. The fitted numbers are measured rates at the measured shapes; elsewhere they are extrapolated.`;
  const { $schema: _schema, ...rest } = { ...out, provenance: prov };
  return validateHardwareProfile(rest, `${run.name}.hardware.json`);
}

/** Whether a workload's M lies outside the GEMM rows measured: a calibrated efficiency is then extrapolated. */
export function extrapolation(c: Pick<Calibration, 'shapes'>, m: number): string | null {
  return extrapolationNote(c.shapes, m);
}
