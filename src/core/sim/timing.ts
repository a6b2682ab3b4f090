import type { LayerGraph } from '../graph/ops';
import { GraphTimes, allocateTimes, collectiveHops, opTimes, type CostContext, type OpTimes } from './costs';
import { parametricMakespan, replayMakespan, type ParametricMakespan } from './parametric';
import { makespanOf, schedule, type Timeline } from './scheduler';

/**
 * What the site search needs of a graph on a machine is its makespan, and, for the two choices it
 * keeps, the makespan with the statistic gathers made free. A sweep asks this of the same graphs on
 * machine after machine, so each graph keeps (while it lives) its op times on the machine last asked
 * about and the makespans of those times: a machine that leaves the times as they were is answered
 * without scheduling again, one that changes only network latencies recomputes only those
 * (GraphTimes). Trials allocate nothing; the full timelines a report shows are computed by runOf.
 * A machine that changes only the hop latency (a sweep's hop-latency axis) is scheduled once for a
 * range of hop latencies (parametric.ts): the next hop latencies in that range take the same path, and
 * their makespans are the same additions of their own times, without scheduling again.
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
  /** The times last scheduled (busy, latency, memory), to tell a change of the hop latency alone. */
  private readonly scheduled: OpTimes;
  private hasScheduled = false;
  /** A schedule's path over a range of hop latencies, with the hops each latency is (0: a fixed latency). */
  private path: { at: ParametricMakespan; hops: Float64Array; served: number } | null = null;
  /** Schedules to make without recording before the next recording, and how many the last wait was. */
  private skip = 0;
  private wait = 0;
  /** The hop latency of the machine last updated to. */
  private hopNs = 0;
  private hops: { topology: string; units: number; hops: Float64Array } | null = null;

  constructor(private readonly graph: LayerGraph) {
    this.times = new GraphTimes(graph.ops);
    this.gathers = Uint8Array.from(graph.ops, (op) => (op.category === 'stat-collective' ? 1 : 0));
    this.scheduled = allocateTimes(graph.ops.length);
  }

  private update(c: CostContext): void {
    if (this.times.update(c)) {
      this.makespanNs = null;
      this.aboveNs = -Infinity;
      this.freeStale = true;
    }
    this.hopNs = c.hw.collective.hopLatencyNs;
  }

  /** The makespan of the graph on this machine (schedule(ops, opTimes(ops, c)).makespanNs). */
  makespan(c: CostContext): number {
    this.update(c);
    return (this.makespanNs ??= this.fromPath(c) ?? this.scheduleNow(c, Infinity));
  }

  /**
   * A schedule of the current times: along a hop-latency axis (the times last scheduled differ from these
   * in latencies only), one that records its path over a range of hop latencies; else one that may stop
   * early above `limit` (makespanOf).
   */
  private scheduleNow(c: CostContext, limit: number): number {
    const { busy, latency, memory } = this.times;
    const s = this.scheduled;
    const hopsOnly = this.hasScheduled && sameValues(busy, s.busy) && sameValues(memory, s.memory) && !sameValues(latency, s.latency);
    s.busy.set(busy);
    s.latency.set(latency);
    s.memory.set(memory);
    this.hasScheduled = true;
    // A recording costs several schedules (it runs to the end, where a trial may stop early, and keeps
    // an interval): where paths last for few hop latencies it does not pay, so after a recording that
    // served fewer than two, the next ones wait for twice as many schedules (up to MAX_WAIT).
    const last = this.path;
    this.path = null;
    if (last) {
      this.wait = last.served >= 6 ? 0 : Math.min(MAX_WAIT, 2 * this.wait + 1);
      this.skip = this.wait;
    }
    if (hopsOnly && this.skip-- <= 0) {
      const hops = this.hopsOn(c);
      const at = parametricMakespan(this.graph.ops, this.times, hops, this.hopNs);
      if (at) {
        this.path = { at, hops, served: 0 };
        return at.makespanNs;
      }
    }
    return makespanOf(this.graph.ops, this.times, limit);
  }

  /** Each op's hops (a gather's latency is hops × the hop latency; 0 for others), counted once per network shape. */
  private hopsOn(c: CostContext): Float64Array {
    const { topology } = c.hw.collective;
    const units = c.hw.computeUnits;
    const counted = this.hops;
    if (counted && counted.topology === topology && counted.units === units) return counted.hops;
    const hops = Float64Array.from(this.graph.ops, (op) => (op.work.kind === 'collective' && op.work.rows !== 0 ? collectiveHops(c.hw, op.work.units) : 0));
    this.hops = { topology, units, hops };
    return hops;
  }

  /**
   * The makespan from the recorded path, where the hop latency is in its range and every other time is
   * as it was recorded (the latencies that are hops × the hop latency, the others unchanged); else null.
   */
  private fromPath(c: CostContext): number | null {
    const path = this.path;
    const h = this.hopNs;
    if (!path || !(h > path.at.lo && h < path.at.hi)) return null;
    const { busy, latency, memory } = this.times;
    const s = this.scheduled;
    const { hops } = path;
    for (let i = 0; i < busy.length; i++) {
      if (busy[i] !== s.busy[i] || memory[i] !== s.memory[i] || latency[i] !== (hops[i]! > 0 ? hops[i]! * h : s.latency[i])) return null;
    }
    path.served++;
    return replayMakespan(path.at.chain, this.times);
  }

  /**
   * The makespan where it is below `limit`; +∞ where it is not, found by a schedule that stops once the
   * makespan is sure to be above the limit (makespanOf), or by such a stop for a limit as low or lower.
   */
  makespanBelow(c: CostContext, limit: number): number {
    this.update(c);
    if (this.makespanNs !== null) return this.makespanNs < limit ? this.makespanNs : Infinity;
    if (limit <= this.aboveNs) return Infinity;
    const ns = this.fromPath(c) ?? this.scheduleNow(c, limit);
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
    if (changed) this.freeNs = makespanOf(this.graph.ops, free);
    return this.freeNs!;
  }
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The makespan of `times` with every statistic gather (category stat-collective) taking no time. */
export function freeMakespanOf(graph: LayerGraph, times: OpTimes): number {
  const free = allocateTimes(graph.ops.length);
  graph.ops.forEach((op, i) => {
    const gather = op.category === 'stat-collective';
    free.busy[i] = gather ? 0 : times.busy[i]!;
    free.latency[i] = gather ? 0 : times.latency[i]!;
    free.memory[i] = times.memory[i]!;
  });
  return makespanOf(graph.ops, free);
}

/** The most schedules a graph waits between recordings that do not pay (GraphTimer.scheduleNow). */
const MAX_WAIT = 63;

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
