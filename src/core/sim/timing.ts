import type { LayerGraph } from '../graph/ops';
import { GraphTimes, allocateTimes, opTimes, opTimesInto, type CostContext, type OpTimes } from './costs';
import { makespanOf, schedule, type Timeline } from './scheduler';

/**
 * What the site search needs of a graph on a machine is its makespan, and, for the two choices it
 * keeps, the makespan with the statistic gathers made free. A sweep asks this of the same graphs on
 * machine after machine, so each graph keeps (while it lives) its op times on the machine last asked
 * about and the makespans of those times: a machine that leaves the times as they were is answered
 * without scheduling again, one that changes only network latencies recomputes only those
 * (GraphTimes). Trials allocate nothing; the full timelines a report shows are computed by runOf.
 * Every figure is the one the plain path (opTimes, then schedule) gives: same functions, same inputs.
 */
export class GraphTimer {
  private readonly times: GraphTimes;
  /** Makespan of `times`, and of `times` with the statistic gathers free; null until computed. */
  private makespanNs: number | null = null;
  /** A number the makespan of `times` is known to be above (a schedule stopped early); −∞ if none. */
  private aboveNs = -Infinity;
  private freeNs: number | null = null;
  /** The times freeNs was computed from, and whether `times` changed since. */
  private free: OpTimes | null = null;
  private freeStale = true;
  /** Ops whose busy time and latency the free reference sets to zero. */
  private readonly gathers: Uint8Array;
  /** The other ops with a latency, and the times' busyVersion when `free` was last brought up to date. */
  private readonly latencyOps: readonly number[];
  private freeBusyVersion = -1;

  constructor(private readonly graph: LayerGraph) {
    this.times = new GraphTimes(graph.ops);
    this.gathers = new Uint8Array(graph.ops.length);
    for (let i = 0; i < graph.ops.length; i++) if (graph.ops[i]!.category === 'stat-collective') this.gathers[i] = 1;
    this.latencyOps = this.times.networkOps.filter((i) => this.gathers[i] === 0);
  }

  private update(c: CostContext): void {
    if (this.times.update(c)) {
      this.makespanNs = null;
      this.aboveNs = -Infinity;
      this.freeStale = true;
    }
  }

  /** The makespan of the graph on this machine (schedule(ops, opTimes(ops, c)).makespanNs). */
  makespan(c: CostContext): number {
    this.update(c);
    return (this.makespanNs ??= makespanOf(this.graph.ops, this.times));
  }

  /**
   * The makespan where it is below `limit`; +∞ where it is not, found by a schedule that stops once the
   * makespan is sure to be above the limit (makespanOf), or by such a stop for a limit as low or lower.
   */
  makespanBelow(c: CostContext, limit: number): number {
    this.update(c);
    if (this.makespanNs !== null) return this.makespanNs < limit ? this.makespanNs : Infinity;
    if (limit <= this.aboveNs) return Infinity;
    const ns = makespanOf(this.graph.ops, this.times, limit);
    if (ns === Infinity) this.aboveNs = limit;
    else this.makespanNs = ns;
    return ns < limit ? ns : Infinity;
  }

  /** The makespan with every statistic gather (category stat-collective) taking no time. */
  freeMakespan(c: CostContext): number {
    this.update(c);
    if (this.freeNs !== null && !this.freeStale) return this.freeNs;
    this.freeStale = false;
    const { busy, latency, memory } = this.times;
    const free = (this.free ??= allocateTimes(busy.length));
    // Rescheduled only if the free times differ from those last scheduled (a hop latency, say, does not change them).
    let changed = this.freeNs === null;
    // Busy and memory times as when last copied (a hop-latency sweep): only other ops' latencies can differ.
    if (!changed && this.freeBusyVersion === this.times.busyVersion) {
      for (const i of this.latencyOps) {
        if (latency[i] !== free.latency[i]) {
          free.latency[i] = latency[i]!;
          changed = true;
        }
      }
    } else {
      this.freeBusyVersion = this.times.busyVersion;
      for (let i = 0; i < busy.length; i++) {
        const gather = this.gathers[i] === 1;
        const b = gather ? 0 : busy[i]!;
        const l = gather ? 0 : latency[i]!;
        if (b !== free.busy[i] || l !== free.latency[i] || memory[i] !== free.memory[i]) {
          free.busy[i] = b;
          free.latency[i] = l;
          free.memory[i] = memory[i]!;
          changed = true;
        }
      }
    }
    if (changed) this.freeNs = makespanOf(this.graph.ops, free);
    return this.freeNs!;
  }
}

/**
 * Times that only a makespan reads, reused from call to call like the scheduler's scratch (nothing here
 * is re-entered): a profile would otherwise allocate a buffer per trial, and each is an off-heap
 * ArrayBuffer that costs to make and to collect. Grown to the largest graph seen; the arrays may be
 * longer than a graph, whose ops read only their own entries.
 */
let scratchTimes = allocateTimes(256);
let scratchFree = allocateTimes(256);

function capacityFor(times: OpTimes, n: number): OpTimes {
  return times.busy.length >= n ? times : allocateTimes(2 * n);
}

/** The makespan of the graph on a machine (schedule(ops, opTimes(ops, c)).makespanNs), +∞ once sure to be above `limit` (makespanOf). */
export function makespanAt(graph: LayerGraph, c: CostContext, limit = Infinity): number {
  scratchTimes = capacityFor(scratchTimes, graph.ops.length);
  return makespanOf(graph.ops, opTimesInto(graph.ops, c, scratchTimes), limit);
}

/** The makespan of the graph on a machine with every statistic gather taking no time. */
export function freeMakespanAt(graph: LayerGraph, c: CostContext): number {
  scratchTimes = capacityFor(scratchTimes, graph.ops.length);
  return freeMakespanOf(graph, opTimesInto(graph.ops, c, scratchTimes));
}

/** The makespan of `times` with every statistic gather (category stat-collective) taking no time. */
export function freeMakespanOf(graph: LayerGraph, times: OpTimes): number {
  const { ops } = graph;
  const free = (scratchFree = capacityFor(scratchFree, ops.length));
  for (let i = 0; i < ops.length; i++) {
    const gather = ops[i]!.category === 'stat-collective';
    free.busy[i] = gather ? 0 : times.busy[i]!;
    free.latency[i] = gather ? 0 : times.latency[i]!;
    free.memory[i] = times.memory[i]!;
  }
  return makespanOf(ops, free);
}

// One timer per graph, for as long as the graph lives (a sweep keeps a workload's graphs while it runs its machines).
const timers = new WeakMap<LayerGraph, GraphTimer>();

export function timerOf(graph: LayerGraph): GraphTimer {
  let timer = timers.get(graph);
  if (!timer) timers.set(graph, (timer = new GraphTimer(graph)));
  return timer;
}

/** A graph's full schedule on a machine, with arrays of its own: what a report keeps and draws. */
export function runOf(graph: LayerGraph, c: CostContext): { graph: LayerGraph; timeline: Timeline; times: OpTimes } {
  const times = opTimes(graph.ops, c);
  return { graph, timeline: schedule(graph.ops, times), times };
}
