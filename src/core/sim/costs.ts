import type { Dtype, HardwareProfile } from '../hardware/profile';
import type { Op } from '../graph/ops';
import type { Phase } from '../workload';
import { efficiencyAt, shapeTable, type ShapeTable } from '../hardware/shape-efficiency';

/** What the cost of an op depends on besides the op: the machine, the dtype and the pass. */
export interface CostContext {
  hw: HardwareProfile;
  dtype: Dtype;
  tp: number;
  phase: Phase;
}

/**
 * The numbers of the machine an op's cost reads, looked up once per cost context rather than once per
 * op (a sweep times hundreds of thousands of ops). Each is the same expression the formulas below
 * would evaluate inline, so the times are the same to the last bit.
 */
interface Rates {
  /** Start cost of a kernel on the matrix / vector engine that is not a later tile or a fused epilogue. */
  matrixStartNs: number;
  vectorStartNs: number;
  /** Host fork and join of a second stream, paid by the op that joins it (0 inside a captured graph). */
  streamJoinNs: number;
  /** Matrix FLOP/s at the workload dtype: peak × efficiency. */
  matrixFlops: number;
  /** Measured efficiency by GEMM shape (null: none; every linear reaches `efficiency`), and the peak it scales. */
  shapes: ShapeTable | null;
  matrixPeakFlops: number;
  /** A GEMM's output tile (0: no tiles) and the units its tiles are spread over, a wave at a time. */
  tileM: number;
  tileN: number;
  units: number;
  /** Vector elements per second. */
  vectorElems: number;
  expCost: number;
  rsqrtCost: number;
  divCost: number;
  /** Streaming bandwidth of the tier holding weights, the KV cache and activations (undefined: no such tier). */
  weightsGBps: number | undefined;
  kvGBps: number | undefined;
  activationsGBps: number | undefined;
  netStartNs: number;
  netGBps: number;
  interChipGBps: number;
  oneShot: boolean;
  tp: number;
}

function ratesOf(c: CostContext): Rates {
  const { hw } = c;
  const graphLaunch = hw.kernels.launch === 'graph-in-decode' && c.phase === 'decode';
  const tier = (name: string | undefined): number | undefined => (name === undefined ? undefined : streamBandwidth(hw, name));
  return {
    // Outside a captured graph the host issues every kernel: an eager stack's Python dispatch comes first.
    matrixStartNs: graphLaunch ? hw.kernels.graphKernelNs : hw.matrix.startLatencyNs + hw.kernels.dispatchNs,
    vectorStartNs: graphLaunch ? hw.kernels.graphKernelNs : hw.vector.startLatencyNs + hw.kernels.dispatchNs,
    streamJoinNs: graphLaunch ? 0 : hw.kernels.streamJoinNs,
    matrixFlops: (hw.matrix.peakTflops[c.dtype] ?? 0) * 1e12 * hw.matrix.efficiency,
    shapes: hw.matrix.efficiencyByShape ? shapeTable(hw.matrix.efficiencyByShape) : null,
    matrixPeakFlops: (hw.matrix.peakTflops[c.dtype] ?? 0) * 1e12,
    tileM: hw.matrix.tileM ?? 0,
    tileN: hw.matrix.tileN ?? 0,
    units: hw.computeUnits,
    vectorElems: hw.vector.gelemsPerSec * 1e9,
    expCost: hw.vector.expCost,
    rsqrtCost: hw.vector.rsqrtCost,
    divCost: hw.vector.divCost,
    weightsGBps: tier(hw.memory.weightsTier),
    kvGBps: tier(hw.memory.kvCacheTier),
    activationsGBps: tier(hw.memory.activationsTier),
    netStartNs: hw.collective.startLatencyNs,
    netGBps: hw.collective.bandwidthGBps,
    interChipGBps: hw.collective.interChip.bandwidthGBps,
    oneShot: hw.kernels.allReduce === 'one-shot',
    tp: c.tp,
  };
}

/**
 * Start cost of one kernel on the matrix or vector engine: its launch, or its share of a captured
 * graph in decode. Later tiles of a kernel and fused epilogues pay nothing.
 */
function launchNs(op: Op, engineStartNs: number): number {
  return op.fused || op.continues ? 0 : engineStartNs;
}

/**
 * Time an op occupies its engine, in ns, from the work it does and the engine it
 * runs on (DESIGN.md §2): the larger of its arithmetic time and the time its bytes
 * take to stream, plus its start cost. Network hop latency is not occupancy: see opLatencyNs.
 */
export function opDurationNs(op: Op, c: CostContext): number {
  return durationNs(op, ratesOf(c));
}

function durationNs(op: Op, r: Rates): number {
  const w = op.work;
  switch (w.kind) {
    case 'matmul': {
      // A linear (it has a whole-GEMM shape) on a profile with measured shapes reaches its shape's efficiency.
      const flops = r.shapes && w.gemm ? r.matrixPeakFlops * efficiencyAt(r.shapes, w.gemm.m, w.k, w.gemm.n) : r.matrixFlops;
      const computeNs = ((2 * w.m * w.k * w.n) / flops) * 1e9;
      // A fused attention kernel's exps run on the special-function units alongside the tensor cores.
      const expNs = w.exps > 0 ? ((w.exps * r.expCost) / r.vectorElems) * 1e9 : 0;
      const streamNs = memoryNs(op, r);
      if (!w.gemm || r.tileM <= 0 || r.tileN <= 0) return launchNs(op, r.matrixStartNs) + Math.max(computeNs, expNs, streamNs);
      // This op is a share of its GEMM (one tile of the graph's split, or all of it).
      const share = (w.m * w.n) / (w.gemm.m * w.gemm.n);
      return launchNs(op, r.matrixStartNs) + tiledGemmNs(w.gemm, share, !op.continues, computeNs, expNs, streamNs, r);
    }
    case 'vector': {
      const work = w.elements * w.ops + w.exps * r.expCost + w.rsqrts * r.rsqrtCost + w.divs * r.divCost;
      const runNs = (work / r.vectorElems) * 1e9;
      return launchNs(op, r.vectorStartNs) + (op.joinsStream ? r.streamJoinNs : 0) + Math.max(runNs, memoryNs(op, r));
    }
    case 'collective':
      if (w.rows === 0) return 0;
      return r.netStartNs + bytesNs(w.rows * w.values * 4, r.netGBps);
    case 'allreduce':
      // A ring moves 2(tp − 1)/tp of the bytes over each link; a one-shot reads every peer's whole partial.
      if (r.tp <= 1) return 0;
      return bytesNs(r.oneShot ? (r.tp - 1) * w.bytes : (2 * (r.tp - 1) * w.bytes) / r.tp, r.interChipGBps);
    case 'memory':
      return memoryNs(op, r);
  }
}

/**
 * Time of one op of a GEMM on a machine with tiles, launch left out: the GEMM's tile grid fills the SMs a
 * wave at a time (gridFill), and a grid smaller than one wave may be split along K into up to
 * ⌊units / tiles⌋ slices (maxSplits). A split is parallel split-K as CUTLASS's GemmSplitKParallel runs it:
 * every slice writes its M × N partial sums in fp32 (the accumulator type) to a workspace, and a second
 * kernel (ReduceSplitK) reads them back and sums them. Splitting buys compute with that kernel's start and
 * those bytes, so the split taken is the fastest one, as a library's heuristic picks; a memory-bound GEMM
 * (decode) is not split. `computeNs` is the op's arithmetic with every tile slot busy, `streamNs` its
 * weight stream; an op that is a `share` of its GEMM (a tile of the graph) carries that share of the
 * partial sums, and only the `first` share starts the reduction kernel.
 */
function tiledGemmNs(gemm: { m: number; n: number }, share: number, first: boolean, computeNs: number, expNs: number, streamNs: number, r: Rates): number {
  const fill = gridFill(gemm.m, gemm.n, r.tileM, r.tileN, r.units);
  let best = Math.max(computeNs / fill, expNs, streamNs);
  const most = maxSplits(gemm.m, gemm.n, r.tileM, r.tileN, r.units);
  if (most < 2) return best;
  // One slice's partial sums (this share of M × N in fp32) over the activation memory, written once and read once.
  const sliceNs = r.activationsGBps === undefined ? 0 : bytesNs(gemm.m * gemm.n * 4 * share, r.activationsGBps);
  // Every share of a GEMM chooses alike: the reduction kernel's start is weighed by the share.
  const reduceStartNs = share * r.vectorStartNs;
  let splits = 1;
  for (let s = 2; s <= most; s++) {
    const partialNs = s * sliceNs;
    // The stream and the partial sums only grow with s: past this point no split is faster.
    if (streamNs + 2 * partialNs + reduceStartNs >= best) break;
    // Up to maxSplits slices run in the one wave, so s slices keep s times the slots busy (gridFill).
    const t = Math.max(computeNs / (s * fill), expNs, streamNs + partialNs) + partialNs + reduceStartNs;
    if (t < best) [splits, best] = [s, t];
  }
  return splits === 1 ? best : best - reduceStartNs + (first ? r.vectorStartNs : 0);
}

/** Rows of the tile an M-row GEMM runs in: tileM, or for fewer rows the next power of two, at least 16 (one MMA). */
function tileRows(m: number, tileM: number): number {
  return Math.min(tileM, Math.max(16, 2 ** Math.ceil(Math.log2(m))));
}

/** Output tiles of an M × N GEMM (tileRows × tileN each). */
function tileCount(m: number, n: number, tileM: number, tileN: number): number {
  return Math.ceil(m / tileRows(m, tileM)) * Math.ceil(n / tileN);
}

/** The most K slices an M × N GEMM's grid splits into and still runs in one wave of `units` (1: no room to split). */
export function maxSplits(m: number, n: number, tileM: number, tileN: number, units: number): number {
  return Math.max(1, Math.floor(units / tileCount(m, n, tileM, tileN)));
}

/**
 * The share of the machine's tile slots an M × N GEMM split into `splits` K slices keeps busy: its output
 * is cut into tiles, one per unit, run in waves of `units`; a tile that sticks out past M or N, and a
 * last wave with idle units, cost as much as full ones (M = 256, N = 7168 in 128 × 128 tiles is 112
 * tiles: one wave of 132 SMs, 112/132 busy). Fewer rows than tileM run in a tile of the next power of
 * two rows (at least 16, one tensor-core MMA), as GEMM libraries bucket small M.
 */
export function gridFill(m: number, n: number, tileM: number, tileN: number, units: number, splits = 1): number {
  const rows = tileRows(m, tileM);
  const waves = Math.ceil((tileCount(m, n, tileM, tileN) * splits) / units);
  return (m * n * splits) / (waves * units * rows * tileN);
}

/**
 * Time an op holds the memory system, in ns, from its start: one memory system with
 * one bandwidth, shared by weight streams, KV-cache reads and elementwise kernels whose
 * operands live in memory, so that two of them never both get the full bandwidth.
 */
export function opMemoryNs(op: Op, c: CostContext): number {
  return memoryNs(op, ratesOf(c));
}

function memoryNs(op: Op, r: Rates): number {
  const w = op.work;
  switch (w.kind) {
    case 'matmul':
    case 'memory': {
      const gbps = w.tier === 'kv' ? r.kvGBps : w.tier === 'weights' ? r.weightsGBps : r.activationsGBps;
      return gbps === undefined || w.bytes === 0 ? 0 : bytesNs(w.bytes, gbps);
    }
    case 'vector': {
      // Fused work runs on values already in registers; local operands never reach the memory system.
      const gbps = r.activationsGBps;
      return op.fused || gbps === undefined || w.bytes === 0 ? 0 : bytesNs(w.bytes, gbps);
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
  return latencyNs(op, hopsOf(op, hw), hw, tp);
}

/** The hops of a gather and broadcast (collectiveHops over the units it spans); 0 for other ops. */
function hopsOf(op: Op, hw: HardwareProfile): number {
  return op.work.kind === 'collective' && op.work.rows !== 0 ? collectiveHops(hw, op.work.units) : 0;
}

/** opLatencyNs, given the op's hops (hopsOf). */
function latencyNs(op: Op, hops: number, hw: HardwareProfile, tp: number): number {
  const w = op.work;
  if (w.kind === 'collective') return w.rows === 0 ? 0 : hops * hw.collective.hopLatencyNs;
  if (w.kind === 'allreduce') return tp <= 1 ? 0 : allReduceLatencyNs(hw, tp);
  return 0;
}

/** Fixed cost and hops of one tensor-parallel all-reduce (tp > 1): NCCL's ring, or a one-shot's single hop. */
function allReduceLatencyNs(hw: HardwareProfile, tp: number): number {
  const link = hw.collective.interChip;
  return hw.kernels.allReduce === 'one-shot' ? link.oneShotStartNs + link.hopLatencyNs : link.startLatencyNs + 2 * (tp - 1) * link.hopLatencyNs;
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
  return opTimesInto(ops, c, allocateTimes(ops.length));
}

/** opTimes written into the first ops.length entries of `times` (arrays at least that long), which it returns. */
export function opTimesInto(ops: readonly Op[], c: CostContext, times: OpTimes): OpTimes {
  const { busy, latency, memory } = times;
  const r = ratesFor(c).rates;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    busy[i] = durationNs(op, r);
    // Only work that crosses the network has a latency.
    latency[i] = crossesNetwork(op) ? opLatencyNs(op, c.hw, c.tp) : 0;
    memory[i] = op.engine === 'memory' ? 0 : memoryNs(op, r);
  }
  return times;
}

/** Three zeroed arrays of n times in one allocation (a sweep allocates many, and each allocation costs). */
export function allocateTimes(n: number): OpTimes {
  const buffer = new Float64Array(3 * n);
  return { busy: buffer.subarray(0, n), latency: buffer.subarray(n, 2 * n), memory: buffer.subarray(2 * n) };
}

function crossesNetwork(op: Op): boolean {
  return op.work.kind === 'collective' || op.work.kind === 'allreduce';
}

/** The numbers of the machine and pass a network latency reads (opLatencyNs). */
interface LatencyRates {
  hopLatencyNs: number;
  topology: HardwareProfile['collective']['topology'];
  computeUnits: number;
  interChipHopLatencyNs: number;
  interChipStartNs: number;
  oneShotStartNs: number;
  allReduce: HardwareProfile['kernels']['allReduce'];
  tp: number;
}

function latencyRatesOf(c: CostContext): LatencyRates {
  const net = c.hw.collective;
  return { hopLatencyNs: net.hopLatencyNs, topology: net.topology, computeUnits: c.hw.computeUnits, interChipHopLatencyNs: net.interChip.hopLatencyNs, interChipStartNs: net.interChip.startLatencyNs, oneShotStartNs: net.interChip.oneShotStartNs, allReduce: c.hw.kernels.allReduce, tp: c.tp };
}

/** Same value in every field of `keys` (a NaN never matches, so its times are recomputed). */
function sameNumbers<T extends object>(a: T, b: T, keys: readonly (keyof T)[]): boolean {
  if (a === b) return true;
  for (let k = 0; k < keys.length; k++) if (a[keys[k]!] !== b[keys[k]!]) return false;
  return true;
}

// The fields of the two kinds of rates, listed once (every object of a kind is made by the same literal).
let rateKeys: readonly (keyof Rates)[] = [];
let latencyKeys: readonly (keyof LatencyRates)[] = [];

// The rates of a machine, dtype, tp and pass, worked out once for all the graphs timed with them: by
// machine, since a sweep makes a cost context per point but runs each machine once per workload. Rates
// equal to the previous context's are that same object, so that graphs timed on one machine after the
// other (a sweep) see at once, by identity, which of their times can stay.
const ratesMemo = new WeakMap<HardwareProfile, { dtype: Dtype; tp: number; phase: Phase; rates: Rates; latency: LatencyRates }>();
let previous: { rates: Rates; latency: LatencyRates } | null = null;

function ratesFor(c: CostContext): { rates: Rates; latency: LatencyRates } {
  const r = ratesMemo.get(c.hw);
  if (r && r.dtype === c.dtype && r.tp === c.tp && r.phase === c.phase) return r;
  let rates = ratesOf(c);
  let latency = latencyRatesOf(c);
  if (rateKeys.length === 0) [rateKeys, latencyKeys] = [Object.keys(rates) as (keyof Rates)[], Object.keys(latency) as (keyof LatencyRates)[]];
  if (previous && sameNumbers(previous.rates, rates, rateKeys)) rates = previous.rates;
  if (previous && sameNumbers(previous.latency, latency, latencyKeys)) latency = previous.latency;
  const entry = { dtype: c.dtype, tp: c.tp, phase: c.phase, rates, latency };
  ratesMemo.set(c.hw, entry);
  previous = entry;
  return entry;
}

/**
 * The op times of one graph, kept up to date as it is timed on one machine after another (the
 * points of a sweep share their graphs): `update` recomputes the busy and memory times only when a
 * number they read has changed, and the latencies only when the network's numbers have, and says
 * whether any time changed. A sweep over hop latency recomputes only the latencies of the few ops
 * that cross the network; a sweep over a number a graph does not read changes none of its times.
 * The times are those opTimes gives on the same machine, computed by the same functions.
 */
export class GraphTimes implements OpTimes {
  readonly busy: Float64Array;
  readonly latency: Float64Array;
  readonly memory: Float64Array;
  private rates: Rates | null = null;
  private latencyRates: LatencyRates | null = null;
  /** The ops that cross the network: the only ones with a latency. */
  readonly networkOps: readonly number[];
  /** Counts the updates that changed a busy or memory time (a reader that kept a copy knows whether only latencies moved). */
  busyVersion = 0;
  /** Their hops (hopsOf), and the topology and compute units these were counted for. */
  private readonly hops: Float64Array;
  private hopsFor: { topology: LatencyRates['topology']; computeUnits: number } | null = null;

  constructor(private readonly ops: readonly Op[]) {
    ({ busy: this.busy, latency: this.latency, memory: this.memory } = allocateTimes(ops.length));
    this.networkOps = ops.flatMap((op, i) => (crossesNetwork(op) ? [i] : []));
    this.hops = new Float64Array(this.networkOps.length);
  }

  /**
   * Brings the times to this machine and pass; true if any of them changed. `c` is best the same
   * object for every graph timed on one machine: its rates are then worked out once.
   */
  update(c: CostContext): boolean {
    const { ops, busy, latency, memory } = this;
    let changed = false;
    const { rates, latency: net } = ratesFor(c);
    // Other rates (by identity) may still give the same times: each is compared as it is rewritten.
    if (this.rates !== rates) {
      this.rates = rates;
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        const b = durationNs(op, rates);
        const m = op.engine === 'memory' ? 0 : memoryNs(op, rates);
        if (b !== busy[i] || m !== memory[i]) {
          busy[i] = b;
          memory[i] = m;
          changed = true;
        }
      }
      if (changed) this.busyVersion++;
    }
    if (this.latencyRates !== net) {
      this.latencyRates = net;
      // Hops are counted again only on another topology or number of units (a hop-latency sweep keeps them).
      const recount = this.hopsFor === null || this.hopsFor.topology !== net.topology || this.hopsFor.computeUnits !== net.computeUnits;
      if (recount) this.hopsFor = { topology: net.topology, computeUnits: net.computeUnits };
      for (let k = 0; k < this.networkOps.length; k++) {
        const i = this.networkOps[k]!;
        if (recount) this.hops[k] = hopsOf(ops[i]!, c.hw);
        const l = latencyNs(ops[i]!, this.hops[k]!, c.hw, c.tp);
        if (l !== latency[i]) {
          latency[i] = l;
          changed = true;
        }
      }
    }
    return changed;
  }
}
