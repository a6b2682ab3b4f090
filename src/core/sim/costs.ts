import type { Dtype, HardwareProfile } from '../hardware/profile';
import type { Op } from '../graph/ops';

/**
 * Time an op occupies its engine, in ns, from the work it does and the engine it
 * runs on (DESIGN.md §2). Network hop latency is not occupancy: see opLatencyNs.
 */
export function opDurationNs(op: Op, hw: HardwareProfile, dtype: Dtype, tp: number): number {
  const w = op.work;
  switch (w.kind) {
    case 'matmul': {
      const rate = (hw.matrix.peakTflops[dtype] ?? 0) * 1e12 * hw.matrix.efficiency;
      const computeNs = ((2 * w.m * w.k * w.n) / rate) * 1e9;
      const streamNs = w.weightBytes > 0 ? bytesNs(w.weightBytes, tierBandwidth(hw, hw.memory.weightsTier)) : 0;
      return (op.continues ? 0 : hw.matrix.startLatencyNs) + Math.max(computeNs, streamNs);
    }
    case 'vector': {
      const v = hw.vector;
      const work = w.elements * w.ops + w.exps * v.expCost + w.rsqrts * v.rsqrtCost + w.divs * v.divCost;
      const runNs = (work / (v.gelemsPerSec * 1e9)) * 1e9;
      return op.fused || op.continues ? runNs : v.startLatencyNs + runNs;
    }
    case 'collective': {
      const c = hw.collective;
      if (w.rows === 0) return 0;
      return c.startLatencyNs + bytesNs(w.rows * w.values * 4, c.bandwidthGBps);
    }
    case 'allreduce':
      return tp <= 1 ? 0 : bytesNs((2 * (tp - 1) * w.bytes) / tp, hw.collective.interChip.bandwidthGBps);
    case 'memory':
      return bytesNs(w.bytes, tierBandwidth(hw, w.tier === 'kv' ? hw.memory.kvCacheTier : hw.memory.weightsTier));
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

function tierBandwidth(hw: HardwareProfile, tierName: string): number {
  return hw.memory.tiers.find((t) => t.name === tierName)?.bandwidthGBps ?? 0;
}

/** Engine occupancy and network latency of every op, indexed by op id (ns). */
export interface OpTimes {
  busy: Float64Array;
  latency: Float64Array;
}

export function opTimes(ops: readonly Op[], hw: HardwareProfile, dtype: Dtype, tp: number): OpTimes {
  const busy = new Float64Array(ops.length);
  const latency = new Float64Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    busy[i] = opDurationNs(ops[i]!, hw, dtype, tp);
    latency[i] = opLatencyNs(ops[i]!, hw, tp);
  }
  return { busy, latency };
}
