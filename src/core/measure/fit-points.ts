/**
 * What calibrate fits: each measurement as the ops the simulator makes of that kernel (a FitPoint),
 * predicted by the simulator's own cost functions (opDurationNs), so that a fitted number means in
 * the profile exactly what it meant in the fit; the rates the fit moves (FitParams) and the profile
 * they are written into as the cost functions read them; which time of an entry is read (Statistic).
 */
import { InputError } from '../errors';
import { buildSiteGraph } from '../graph/layer';
import type { Op } from '../graph/ops';
import { layerSites } from '../graph/sites';
import { applyOverrides } from '../hardware/overrides';
import { DTYPE_BYTES, type Dtype, type HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { opDurationNs, opLatencyNs, type CostContext } from '../sim/costs';
import { graphContext } from '../sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../workload';
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

/**
 * The software stack the harness runs, as profile overrides: PyTorch eager, every op its own kernel,
 * no epilogue fusion (FlashNorm's baseline stack, as `deferred-norm validate` sets it).
 */
// Typed, not `as const`: StrykerJS places no mutant inside an `as const` literal, so its changes went untested.
export const HARNESS_STACK: readonly string[] = ['kernels.norm=eager', 'kernels.launch=per-kernel', 'matrix.fusedEpilogue=false'];

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
export const timeUs = (t: { medianUs: number; p10Us: number }, statistic: Statistic) => (statistic === 'p10' ? t.p10Us : t.medianUs);

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
  // No activation tier (activations kept in the compute units) never equals the weights' tier name.
  if (mem.activationsTier !== mem.weightsTier) {
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
