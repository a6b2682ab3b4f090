import { ENGINES, type Op } from '../graph/ops';
import type { OpTimes } from './costs';

/**
 * Where and when each op ran. Times in ns from the start of the layer: the op
 * holds its engine from `start` to `release`; its result is there at `end`
 * (later than `release` only for ops that cross the network).
 */
export interface Timeline {
  start: Float64Array;
  release: Float64Array;
  end: Float64Array;
  makespanNs: number;
}

const ENGINE_INDEX = new Map(ENGINES.map((e, i) => [e, i]));

/**
 * Scratch space reused across calls: the scheduler runs hundreds of thousands of times per sweep and is
 * never re-entered. Grown to the largest graph seen; a few typed arrays of that length in all.
 */
class Scratch {
  readonly indeg: Int32Array;
  readonly level: Float64Array;
  /** Ready ops of engine e: ready[e·capacity …] (unordered: the pick looks at all of them), readyCount[e] of them. */
  readonly ready: Int32Array;
  readonly readyCount = new Int32Array(ENGINES.length);
  /** Ops that left their engine but whose result is still on the network (unordered). */
  readonly inFlight: Int32Array;
  readonly running = new Int32Array(ENGINES.length);
  /** When the op running on engine e leaves it (+∞ while the engine is idle). */
  readonly freeAt = new Float64Array(ENGINES.length);
  /** Outputs of makespanOf, which keeps no timeline. */
  readonly start: Float64Array;
  readonly release: Float64Array;
  readonly end: Float64Array;
  constructor(readonly capacity: number) {
    this.indeg = new Int32Array(capacity);
    this.level = new Float64Array(capacity);
    this.ready = new Int32Array(capacity * ENGINES.length);
    this.inFlight = new Int32Array(capacity);
    this.start = new Float64Array(capacity);
    this.release = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
  }
}
let scratch = new Scratch(256);

function scratchFor(n: number): Scratch {
  if (scratch.capacity < n) scratch = new Scratch(2 * n);
  return scratch;
}

/** The parts of a graph the scheduler needs that do not depend on durations. */
interface Prepared {
  indegree: Int32Array;
  /** Successors of op i are succ[succStart[i]] … succ[succStart[i + 1] − 1]. */
  succStart: Int32Array;
  succ: Int32Array;
  engineOf: Int32Array;
}

// A graph is scheduled many times (each site decision, each sweep point): prepare it once.
const prepared = new WeakMap<readonly Op[], Prepared>();

function prepare(ops: readonly Op[]): Prepared {
  const cached = prepared.get(ops);
  if (cached) return cached;
  const n = ops.length;
  let edges = 0;
  for (let i = 0; i < n; i++) edges += ops[i]!.deps.length;
  // One buffer for the four arrays: a profile prepares every graph it builds, and each ArrayBuffer costs to make and collect.
  const buffer = new Int32Array(3 * n + 1 + edges);
  const indegree = buffer.subarray(0, n);
  const engineOf = buffer.subarray(n, 2 * n);
  const succStart = buffer.subarray(2 * n, 3 * n + 1);
  const succ = buffer.subarray(3 * n + 1);
  for (let i = 0; i < n; i++) {
    const deps = ops[i]!.deps;
    indegree[i] = deps.length;
    for (let d = 0; d < deps.length; d++) succStart[deps[d]! + 1]!++;
    engineOf[i] = ENGINE_INDEX.get(ops[i]!.engine)!;
  }
  for (let i = 0; i < n; i++) succStart[i + 1]! += succStart[i]!;
  // Each op's next free slot among its successors: the scratch's indeg, which run() sets again before use.
  const fill = scratchFor(n).indeg;
  fill.set(succStart.subarray(0, n));
  for (let i = 0; i < n; i++) {
    const deps = ops[i]!.deps;
    for (let d = 0; d < deps.length; d++) succ[fill[deps[d]!]!++] = i;
  }
  const result = { indegree, succStart, succ, engineOf };
  prepared.set(ops, result);
  return result;
}

/** The index in ENGINES of each op's engine (kept with the graph's other prepared arrays). */
export function engineIndexOf(ops: readonly Op[]): Int32Array {
  return prepare(ops).engineOf;
}

const MEMORY = ENGINE_INDEX.get('memory')!;

/**
 * Event-driven list scheduling: each engine runs one op at a time; whenever an
 * engine is idle it starts the ready op with the longest path to the end of the
 * graph (ties: program order). An op that streams bytes also holds the memory
 * system for `times.memory[op]` from its start, so it waits while another op
 * holds it (one bandwidth, shared). Ops must be listed so that deps precede them.
 */
export function schedule(ops: readonly Op[], times: OpTimes): Timeline {
  const n = ops.length;
  // One allocation for the three arrays.
  const buffer = new Float64Array(3 * n);
  const start = buffer.subarray(0, n);
  const release = buffer.subarray(n, 2 * n);
  const end = buffer.subarray(2 * n);
  const makespanNs = n === 0 ? 0 : run(prepare(ops), n, times, start, release, end);
  return { start, release, end, makespanNs };
}

/**
 * The makespan of `schedule(ops, times)`, without keeping its timeline (nothing is allocated). With a
 * `limit`, it may instead return +∞ as soon as the makespan is sure to be above the limit: the site
 * search needs a trial's makespan only if it is below the best so far.
 */
export function makespanOf(ops: readonly Op[], times: OpTimes, limit = Infinity): number {
  const n = ops.length;
  if (n === 0) return 0;
  const s = scratchFor(n);
  return run(prepare(ops), n, times, s.start, s.release, s.end, limit);
}

/**
 * The list scheduler itself: fills start, release and end of ops 0 … n−1 and returns the makespan,
 * or +∞ once an op starts so late that the makespan must be above `limit`: nothing can end before
 * the op's start plus its priority (the longest path from it to the end of the graph). Both are sums
 * of the same times the schedule adds up, in another order; the limit is raised by more than the
 * rounding of n such sums can differ by, so that the makespan stopped at is above it for certain.
 */
function run(prep: Prepared, n: number, times: OpTimes, start: Float64Array, release: Float64Array, end: Float64Array, limit = Infinity): number {
  // (A negative or undefined time, which the cost model never gives, turns the stop off: the bound needs times ≥ 0.)
  let stopAbove = limit + Math.abs(limit) * 8 * (n + 1) * Number.EPSILON;
  const { busy, latency, memory } = times;
  const { indegree, succStart, succ, engineOf } = prep;
  const s = scratchFor(n);
  const { indeg, level, ready, readyCount, inFlight, running, freeAt } = s;
  const cap = s.capacity;

  // Priority: longest remaining path (bottom level). (Plain loops rather than set and fill: for arrays
  // this short, a builtin's call costs more than the copy.)
  for (let i = n - 1; i >= 0; i--) {
    indeg[i] = indegree[i]!;
    let best = 0;
    for (let k = succStart[i]!, stop = succStart[i + 1]!; k < stop; k++) best = Math.max(best, level[succ[k]!]!);
    level[i] = best + busy[i]! + latency[i]!;
    if (!(busy[i]! >= 0 && latency[i]! >= 0)) stopAbove = Infinity;
  }

  const engines = ENGINES.length;
  for (let e = 0; e < engines; e++) {
    readyCount[e] = 0;
    running[e] = -1;
    freeAt[e] = Infinity;
  }
  for (let i = 0; i < n; i++) {
    if (indeg[i] !== 0) continue;
    const e = engineOf[i]!;
    ready[e * cap + readyCount[e]!++] = i;
  }
  let inFlightCount = 0;
  // The memory system is held by the op on the memory engine, or by a streaming op on another engine until then.
  let memoryHeldUntil = 0;

  let now = 0;
  let done = 0;
  let makespanNs = 0;
  // The next event is the earliest of these and the memory system's release: kept as ops start and
  // complete rather than found by another pass over the engines and the network each time.
  let nextFree = Infinity; // the earliest freeAt of a busy engine
  let nextArrival = Infinity; // the earliest end of an op in flight
  while (done < n) {
    for (let e = 0; e < engines; e++) {
      const count = readyCount[e]!;
      if (count === 0 || running[e] !== -1) continue;
      // While the memory system is held, only ops that do not stream bytes may start.
      const memoryFree = running[MEMORY] === -1 && memoryHeldUntil <= now;
      if (!memoryFree && e === MEMORY) continue;
      const base = e * cap;
      let pick = -1;
      let op = -1;
      let pickLevel = 0;
      for (let q = base, stop = base + count; q < stop; q++) {
        const a = ready[q]!;
        if (!memoryFree && memory[a]! > 0) continue;
        const la = level[a]!;
        if (pick === -1 || la > pickLevel || (la === pickLevel && a < op)) {
          pick = q;
          op = a;
          pickLevel = la;
        }
      }
      if (pick === -1) continue;
      ready[pick] = ready[base + count - 1]!;
      readyCount[e] = count - 1;
      const freed = now + busy[op]!;
      const arrives = freed + latency[op]!;
      start[op] = now;
      release[op] = freed;
      end[op] = arrives;
      makespanNs = Math.max(makespanNs, arrives);
      running[e] = op;
      freeAt[e] = freed;
      nextFree = Math.min(nextFree, freed);
      if (now + pickLevel > stopAbove) return Infinity;
      if (e !== MEMORY && memory[op]! > 0) memoryHeldUntil = now + memory[op]!;
    }
    let next = Math.min(nextFree, nextArrival);
    if (memoryHeldUntil > now) next = Math.min(next, memoryHeldUntil);
    if (next === Infinity) throw new Error('scheduler: dependency cycle or op on an unknown engine');
    now = next;
    // Ops whose results have arrived make their successors ready, in any order: a pick does not depend
    // on the order of a ready list. An op without latency is done as it leaves its engine.
    nextArrival = Infinity;
    for (let f = inFlightCount - 1; f >= 0; f--) {
      const op = inFlight[f]!;
      if (end[op]! > now) {
        nextArrival = Math.min(nextArrival, end[op]!);
        continue;
      }
      inFlight[f] = inFlight[--inFlightCount]!;
      done += complete(op, s, prep);
    }
    nextFree = Infinity;
    for (let e = 0; e < engines; e++) {
      if (freeAt[e]! > now) {
        nextFree = Math.min(nextFree, freeAt[e]!);
        continue;
      }
      const op = running[e]!;
      running[e] = -1;
      freeAt[e] = Infinity;
      if (end[op]! > now) {
        inFlight[inFlightCount++] = op;
        nextArrival = Math.min(nextArrival, end[op]!);
      } else done += complete(op, s, prep);
    }
  }
  return makespanNs;
}

/** Marks an op done: each successor left with no dependency joins its engine's ready list. Returns 1 (one more op done). */
function complete(op: number, s: Scratch, prep: Prepared): number {
  const { indeg, ready, readyCount, capacity } = s;
  const { succStart, succ, engineOf } = prep;
  for (let k = succStart[op]!, stop = succStart[op + 1]!; k < stop; k++) {
    const t = succ[k]!;
    if (--indeg[t]! === 0) {
      const e = engineOf[t]!;
      ready[e * capacity + readyCount[e]!++] = t;
    }
  }
  return 1;
}
