import type { Dtype, HardwareProfile } from '../hardware/profile';
import type { Op } from '../graph/ops';
import type { Phase } from '../workload';

/** What the cost of an op depends on besides the op: the machine, the dtype and the pass. */
export interface CostContext {
  hw: HardwareProfile;
  dtype: Dtype;
  tp: number;
  phase: Phase;
}

/**
 * Start cost of one kernel on the matrix or vector engine: its launch, or its share of a captured
 * graph in decode. Later tiles of a kernel and fused epilogues pay nothing.
 */
function launchNs(op: Op, engineStartNs: number, c: CostContext): number {
  if (op.fused || op.continues) return 0;
  return c.hw.kernels.launch === 'graph-in-decode' && c.phase === 'decode' ? c.hw.kernels.graphKernelNs : engineStartNs;
}

/**
 * Time an op occupies its engine, in ns, from the work it does and the engine it
 * runs on (DESIGN.md §2): the larger of its arithmetic time and the time its bytes
 * take to stream, plus its start cost. Network hop latency is not occupancy: see opLatencyNs.
 */
export function opDurationNs(op: Op, c: CostContext): number {
  const { hw } = c;
  const w = op.work;
  switch (w.kind) {
    case 'matmul': {
      const rate = (hw.matrix.peakTflops[c.dtype] ?? 0) * 1e12 * hw.matrix.efficiency;
      const computeNs = ((2 * w.m * w.k * w.n) / rate) * 1e9;
      // A fused attention kernel's exps run on the special-function units alongside the tensor cores.
      const expNs = w.exps > 0 ? ((w.exps * hw.vector.expCost) / (hw.vector.gelemsPerSec * 1e9)) * 1e9 : 0;
      return launchNs(op, hw.matrix.startLatencyNs, c) + Math.max(computeNs, expNs, opMemoryNs(op, c));
    }
    case 'vector': {
      const v = hw.vector;
      const work = w.elements * w.ops + w.exps * v.expCost + w.rsqrts * v.rsqrtCost + w.divs * v.divCost;
      const runNs = (work / (v.gelemsPerSec * 1e9)) * 1e9;
      return launchNs(op, v.startLatencyNs, c) + Math.max(runNs, opMemoryNs(op, c));
    }
    case 'collective': {
      const net = hw.collective;
      if (w.rows === 0) return 0;
      return net.startLatencyNs + bytesNs(w.rows * w.values * 4, net.bandwidthGBps);
    }
    case 'allreduce':
      return c.tp <= 1 ? 0 : bytesNs((2 * (c.tp - 1) * w.bytes) / c.tp, hw.collective.interChip.bandwidthGBps);
    case 'memory':
      return opMemoryNs(op, c);
  }
}

/**
 * Time an op holds the memory system, in ns, from its start: one memory system with
 * one bandwidth, shared by weight streams, KV-cache reads and elementwise kernels whose
 * operands live in memory, so that two of them never both get the full bandwidth.
 */
export function opMemoryNs(op: Op, c: CostContext): number {
  const { hw } = c;
  const w = op.work;
  switch (w.kind) {
    case 'matmul':
    case 'memory': {
      const tier = w.tier === 'kv' ? hw.memory.kvCacheTier : w.tier === 'weights' ? hw.memory.weightsTier : hw.memory.activationsTier;
      return tier === undefined || w.bytes === 0 ? 0 : bytesNs(w.bytes, streamBandwidth(hw, tier));
    }
    case 'vector': {
      // Fused work runs on values already in registers; local operands never reach the memory system.
      const tier = hw.memory.activationsTier;
      return op.fused || tier === undefined || w.bytes === 0 ? 0 : bytesNs(w.bytes, streamBandwidth(hw, tier));
    }
    default:
      return 0;
  }
}

/**
 * Time between an op leaving its engine and its result arriving, in ns: the hops
 * of a gather and broadcast, or of a ring all-reduce. The network is pipelined,
 * so the next collective may start while this one is in flight.
 */
export function opLatencyNs(op: Op, hw: HardwareProfile, tp: number): number {
  const w = op.work;
  if (w.kind === 'collective') return w.rows === 0 ? 0 : collectiveHops(hw, w.units) * hw.collective.hopLatencyNs;
  if (w.kind === 'allreduce') return tp <= 1 ? 0 : 2 * (tp - 1) * hw.collective.interChip.hopLatencyNs;
  return 0;
}

/** Hops of a gather plus a broadcast of one scalar over `units` compute units. */
export function collectiveHops(hw: HardwareProfile, units: number): number {
  const p = Math.max(1, Math.min(units, hw.computeUnits));
  return hw.collective.topology === 'tree' ? 2 * Math.ceil(Math.log2(p)) : 2 * (p - 1);
}

function bytesNs(bytes: number, gbps: number): number {
  return gbps > 0 && Number.isFinite(gbps) ? bytes / gbps : 0; // bytes / (GB/s) = ns
}

/** The bandwidth a stream reaches in a tier: its peak times the memory system's efficiency. */
function streamBandwidth(hw: HardwareProfile, tierName: string): number {
  return (hw.memory.tiers.find((t) => t.name === tierName)?.bandwidthGBps ?? 0) * hw.memory.efficiency;
}

/**
 * Engine occupancy, network latency and memory-system occupancy of every op, indexed by
 * op id (ns). `memory[i]` > 0 for an op on another engine means it also holds the memory
 * system for that long from its start.
 */
export interface OpTimes {
  busy: Float64Array;
  latency: Float64Array;
  memory: Float64Array;
}

export function opTimes(ops: readonly Op[], c: CostContext): OpTimes {
  const n = ops.length;
  const busy = new Float64Array(n);
  const latency = new Float64Array(n);
  const memory = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    busy[i] = opDurationNs(op, c);
    latency[i] = opLatencyNs(op, c.hw, c.tp);
    memory[i] = op.engine === 'memory' ? 0 : opMemoryNs(op, c);
  }
  return { busy, latency, memory };
}
