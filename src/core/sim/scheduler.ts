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

// Scratch space reused across calls: the scheduler runs thousands of times per sweep and is never re-entered.
let scratch = { indeg: new Int32Array(256), level: new Float64Array(256) };
const READY: number[][] = ENGINES.map(() => []);
const IN_FLIGHT: number[] = [];

function scratchFor(n: number): { indeg: Int32Array; level: Float64Array } {
  if (scratch.indeg.length < n) scratch = { indeg: new Int32Array(2 * n), level: new Float64Array(2 * n) };
  return scratch;
}

/** The parts of a graph the scheduler needs that do not depend on durations. */
interface Prepared {
  indegree: Int32Array;
  /** Successors of op i are succ[succStart[i]] … succ[succStart[i + 1] − 1]. */
  succStart: Int32Array;
  succ: Int32Array;
  engineOf: Int8Array;
}

// A graph is scheduled many times (each site decision, each sweep point): prepare it once.
const prepared = new WeakMap<readonly Op[], Prepared>();

function prepare(ops: readonly Op[]): Prepared {
  const cached = prepared.get(ops);
  if (cached) return cached;
  const n = ops.length;
  const indegree = new Int32Array(n);
  const succStart = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const deps = ops[i]!.deps;
    indegree[i] = deps.length;
    for (let d = 0; d < deps.length; d++) succStart[deps[d]! + 1]!++;
  }
  for (let i = 0; i < n; i++) succStart[i + 1]! += succStart[i]!;
  const succ = new Int32Array(succStart[n]!);
  const fill = succStart.slice(0, n);
  for (let i = 0; i < n; i++) {
    const deps = ops[i]!.deps;
    for (let d = 0; d < deps.length; d++) succ[fill[deps[d]!]!++] = i;
  }
  const engineOf = new Int8Array(n);
  for (let i = 0; i < n; i++) engineOf[i] = ENGINE_INDEX.get(ops[i]!.engine)!;
  const result = { indegree, succStart, succ, engineOf };
  prepared.set(ops, result);
  return result;
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
  const { busy, latency, memory } = times;
  const n = ops.length;
  const start = new Float64Array(n);
  const release = new Float64Array(n);
  const end = new Float64Array(n);
  if (n === 0) return { start, release, end, makespanNs: 0 };

  const { indegree, succStart: succCount, succ, engineOf } = prepare(ops);
  const { indeg, level } = scratchFor(n);
  indeg.set(indegree);

  // Priority: longest remaining path (bottom level).
  for (let i = n - 1; i >= 0; i--) {
    let best = 0;
    for (let s = succCount[i]!; s < succCount[i + 1]!; s++) best = Math.max(best, level[succ[s]!]!);
    level[i] = best + busy[i]! + latency[i]!;
  }

  const engines = ENGINES.length;
  const ready = READY;
  for (const queue of ready) queue.length = 0;
  for (let i = 0; i < n; i++) if (indeg[i] === 0) ready[engineOf[i]!]!.push(i);
  const running = new Int32Array(engines).fill(-1);
  // Ops that left their engine but whose result is still on the network.
  const inFlight = IN_FLIGHT;
  inFlight.length = 0;
  // The memory system is held by the op on the memory engine, or by a streaming op on another engine until then.
  let memoryHeldUntil = 0;

  let now = 0;
  let done = 0;
  while (done < n) {
    for (let e = 0; e < engines; e++) {
      const queue = ready[e]!;
      if (running[e] !== -1 || queue.length === 0) continue;
      const memoryFree = running[MEMORY] === -1 && memoryHeldUntil <= now;
      let pick = -1;
      for (let q = 0; q < queue.length; q++) {
        const a = queue[q]!;
        if (!memoryFree && (e === MEMORY || memory[a]! > 0)) continue;
        const b = pick === -1 ? -1 : queue[pick]!;
        if (b === -1 || level[a]! > level[b]! || (level[a] === level[b] && a < b)) pick = q;
      }
      if (pick === -1) continue;
      const op = queue[pick]!;
      queue[pick] = queue[queue.length - 1]!;
      queue.pop();
      start[op] = now;
      release[op] = now + busy[op]!;
      end[op] = release[op]! + latency[op]!;
      running[e] = op;
      if (e !== MEMORY && memory[op]! > 0) memoryHeldUntil = now + memory[op]!;
    }
    let next = Infinity;
    for (let e = 0; e < engines; e++) if (running[e] !== -1) next = Math.min(next, release[running[e]!]!);
    for (const op of inFlight) next = Math.min(next, end[op]!);
    if (memoryHeldUntil > now) next = Math.min(next, memoryHeldUntil);
    if (next === Infinity) throw new Error('scheduler: dependency cycle or op on an unknown engine');
    now = next;
    for (let e = 0; e < engines; e++) {
      const op = running[e]!;
      if (op === -1 || release[op]! > now) continue;
      running[e] = -1;
      inFlight.push(op);
    }
    for (let f = inFlight.length - 1; f >= 0; f--) {
      const op = inFlight[f]!;
      if (end[op]! > now) continue;
      inFlight[f] = inFlight[inFlight.length - 1]!;
      inFlight.pop();
      done++;
      for (let s = succCount[op]!; s < succCount[op + 1]!; s++) {
        const t = succ[s]!;
        if (--indeg[t]! === 0) ready[engineOf[t]!]!.push(t);
      }
    }
  }
  let makespanNs = 0;
  for (let i = 0; i < n; i++) makespanNs = Math.max(makespanNs, end[i]!);
  return { start, release, end, makespanNs };
}
