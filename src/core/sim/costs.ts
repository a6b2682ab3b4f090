import type { Dtype, HardwareProfile } from '../hardware/profile';
import type { Op } from '../graph/ops';

/** Time of each op in ns, from the work it does and the engine it runs on (DESIGN.md §2). */
export function opDurationNs(op: Op, hw: HardwareProfile, dtype: Dtype, tp: number): number {
  const w = op.work;
  switch (w.kind) {
    case 'matmul': {
      const rate = (hw.matrix.peakTflops[dtype] ?? 0) * 1e12 * hw.matrix.efficiency;
      const computeNs = ((2 * w.m * w.k * w.n) / rate) * 1e9;
      const streamNs = w.weightBytes > 0 ? bytesNs(w.weightBytes, tierBandwidth(hw, hw.memory.weightsTier)) : 0;
      return hw.matrix.startLatencyNs + Math.max(computeNs, streamNs);
    }
    case 'vector': {
      const v = hw.vector;
      const work = w.elements * w.ops + w.exps * v.expCost + w.rsqrts * v.rsqrtCost + w.divs * v.divCost;
      const runNs = (work / (v.gelemsPerSec * 1e9)) * 1e9;
      return op.fused ? runNs : v.startLatencyNs + runNs;
    }
    case 'collective': {
      const c = hw.collective;
      if (w.rows === 0) return 0;
      return c.startLatencyNs + collectiveHops(hw) * c.hopLatencyNs + bytesNs(w.rows * w.values * 4, c.bandwidthGBps);
    }
    case 'allreduce':
      return allReduceNs(w.bytes, tp, hw);
    case 'memory':
      return bytesNs(w.bytes, tierBandwidth(hw, w.tier === 'kv' ? hw.memory.kvCacheTier : hw.memory.weightsTier));
  }
}

/** Ring all-reduce of `bytes` over `tp` chips. */
export function allReduceNs(bytes: number, tp: number, hw: HardwareProfile): number {
  if (tp <= 1) return 0;
  const link = hw.collective.interChip;
  return 2 * (tp - 1) * link.hopLatencyNs + bytesNs((2 * (tp - 1) * bytes) / tp, link.bandwidthGBps);
}

/** Hops of a gather plus a broadcast of one scalar over the compute units. */
export function collectiveHops(hw: HardwareProfile): number {
  const p = Math.max(1, hw.computeUnits);
  return hw.collective.topology === 'tree' ? 2 * Math.ceil(Math.log2(p)) : 2 * (p - 1);
}

function bytesNs(bytes: number, gbps: number): number {
  return gbps > 0 && Number.isFinite(gbps) ? bytes / gbps : 0; // bytes / (GB/s) = ns
}

function tierBandwidth(hw: HardwareProfile, tierName: string): number {
  return hw.memory.tiers.find((t) => t.name === tierName)?.bandwidthGBps ?? 0;
}

/** Durations of every op of a graph, as a typed array indexed by op id. */
export function durations(ops: readonly Op[], hw: HardwareProfile, dtype: Dtype, tp: number): Float64Array {
  const out = new Float64Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    out[i] = opDurationNs(ops[i]!, hw, dtype, tp);
  }
  return out;
}
