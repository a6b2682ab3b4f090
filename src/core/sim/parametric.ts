import { ENGINES, type Op } from '../graph/ops';
import type { OpTimes } from './costs';
import { MEMORY, complete, prepare, scratchFor } from './scheduler';

/**
 * A schedule's makespan over a range of one number h (a sweep's hop latency) of which the latencies are
 * linear: latency[i] = slope[i]·h where slope[i] > 0 (a gather's hop count), every other time fixed.
 * The list schedule (scheduler.ts) is run once, at h0, carrying beside each time its slope in h (the
 * hops on the path that made it). Each comparison the scheduler makes (an event against the clock or
 * another event, a priority against another, an arrival against the makespan so far) keeps its outcome
 * over an interval of h, and every h in the intersection, lo < h < hi, takes the same path: the same
 * picks, the same events at the same steps. Its makespan is then the same additions of that h's times
 * in the same order (replayMakespan of `chain`), bit for bit what the scheduler gives.
 *
 * The intervals are those of the exact linear forms, shrunk by far more than rounding can move a sum of
 * nonnegative times: a time is a sum of at most 3n of them, each addition off by at most half an ulp,
 * so it is within 3n·2⁻⁵³ of its exact value; TOLERANCE (1e-10) covers that up to 10⁵ ops. Two times
 * equal at h0 that are different sums (an event tied with another) give no interval: only h0 itself.
 * Times that are the same sum (the clock copied from the event that set it; a zero added) and priorities
 * computed alike (ops of equal times below the same successor, as a GEMM's tiles) are equal at every h.
 */
export interface ParametricMakespan {
  makespanNs: number;
  /** The open interval of h (lo < h < hi) that takes the path of h0; lo = hi = h0 where there is none. */
  lo: number;
  hi: number;
  /** The additions that give the makespan, from 0 and in order: 3·op + 0 busy, + 1 latency, + 2 memory. */
  chain: Int32Array;
}

const TOLERANCE = 1e-10;
const MAX_OPS = 100_000;

/** The makespan of a recorded path (ParametricMakespan.chain) at other times: the same additions in the same order. */
export function replayMakespan(chain: Int32Array, times: OpTimes): number {
  const { busy, latency, memory } = times;
  let t = 0;
  for (let k = 0; k < chain.length; k++) {
    const code = chain[k]!;
    const op = (code / 3) | 0;
    const term = code - 3 * op;
    t += term === 0 ? busy[op]! : term === 1 ? latency[op]! : memory[op]!;
  }
  return t;
}

/** Per-op state beside the scheduler's Scratch (grown alike). */
class Tracks {
  readonly levelSlope: Float64Array;
  /** The successor whose priority an op's priority adds to (−1: none, it starts from 0). */
  readonly levelFrom: Int32Array;
  readonly startSlope: Float64Array;
  /** The event an op's start was copied from (−1: time 0). */
  readonly startFrom: Int32Array;
  /** The sums an op's release and arrival are (see `id` below). */
  readonly releaseId: Int32Array;
  readonly endId: Int32Array;
  readonly freeSlope = new Float64Array(ENGINES.length);
  constructor(readonly capacity: number) {
    this.levelSlope = new Float64Array(capacity);
    this.levelFrom = new Int32Array(capacity);
    this.startSlope = new Float64Array(capacity);
    this.startFrom = new Int32Array(capacity);
    this.releaseId = new Int32Array(capacity);
    this.endId = new Int32Array(capacity);
  }
}
let tracks = new Tracks(256);

// An event is 4·op + RELEASE (the op leaves its engine), END (its result arrives) or HELD (it lets go
// of the memory system); −1 is time 0. A time's id names the sum it is: the event that computed it,
// or, where the last addition was of a zero that stays zero, the id of what it added to.
const RELEASE = 1;
const END = 2;
const HELD = 3;

// The interval kept so far, at module level (the run is never re-entered).
let h0 = 0;
let lo = -Infinity;
let hi = Infinity;

// The end of the memory system's hold: a time, its slope and id; the latest clock found before it
// (heldBefore, at heldBeforeAt), and whether a clock has reached it. Held at module level for heldByNow.
let held = 0;
let heldSlope = 0;
let heldId = -1;
let heldBefore = false;
let heldBeforeAt = 0;
let heldBeforeSlope = 0;
let heldReached = true;
/** Per engine: 1 while its op has been found still running at a clock (see the event loop). */
const pending = new Uint8Array(ENGINES.length);

/**
 * Whether the hold has ended by the clock t (held ≤ t). Clocks come in growing order, so only the
 * last clock before the hold's end and the first at or after it are compared.
 */
function heldByNow(t: number, tSlope: number, tId: number): boolean {
  if (heldReached) return true;
  if (held <= t) {
    if (heldId !== tId) keep(held, heldSlope, t, tSlope);
    if (heldBefore) keep(held, heldSlope, heldBeforeAt, heldBeforeSlope);
    heldReached = true;
    return true;
  }
  heldBefore = true;
  heldBeforeAt = t;
  heldBeforeSlope = tSlope;
  return false;
}

/** Narrows (lo, hi) to where x − y keeps its sign at h0; x and y (slopes sx, sy ≥ 0) are different sums. */
function keep(x: number, sx: number, y: number, sy: number): void {
  const margin = Math.abs(x - y) - 2 * TOLERANCE * (x + y);
  if (!(margin > 0)) {
    lo = hi = h0;
    return;
  }
  if (sx === 0 && sy === 0) return;
  const slope = x > y ? sx - sy : sy - sx;
  const drift = TOLERANCE * (sx + sy);
  if (slope < drift) hi = Math.min(hi, h0 + margin / (drift - slope));
  if (-slope < drift) lo = Math.max(lo, h0 - margin / (drift + slope));
}

/** Compares times with ids: equal ids are the same sum (equal at every h); an equality of others ends the interval. */
function order(x: number, sx: number, xId: number, y: number, sy: number, yId: number): void {
  if (xId !== yId) keep(x, sx, y, sy);
}

/**
 * Whether the priorities of ops a and b (−1: the 0 a sum starts from) are the same sums, so equal at
 * every h: the same busy time and latency added to the same sum, down to the end of the graph.
 */
function samePriority(a: number, b: number, times: OpTimes, slope: Float64Array, level: Float64Array): boolean {
  const { busy, latency } = times;
  const { levelSlope, levelFrom } = tracks;
  for (;;) {
    if (a === b) return true;
    if (a === -1 || b === -1) {
      const o = a === -1 ? b : a;
      return level[o] === 0 && levelSlope[o] === 0;
    }
    if (busy[a] !== busy[b] || latency[a] !== latency[b] || slope[a] !== slope[b]) return false;
    a = levelFrom[a]!;
    b = levelFrom[b]!;
  }
}

/**
 * schedule's makespan at h (scheduler.ts), with the interval of h that takes the same path and the
 * additions that give its makespan (ParametricMakespan); null where a time is negative or not finite,
 * or a latency does not follow its slope at h.
 */
export function parametricMakespan(ops: readonly Op[], times: OpTimes, slope: Float64Array, h: number): ParametricMakespan | null {
  const n = ops.length;
  const { busy, latency, memory } = times;
  if (n === 0 || n > MAX_OPS || !(h >= 0 && h < Infinity)) return null;
  for (let i = 0; i < n; i++) {
    if (!(busy[i]! >= 0 && busy[i]! < Infinity && memory[i]! >= 0 && memory[i]! < Infinity && latency[i]! >= 0 && latency[i]! < Infinity)) return null;
    if (slope[i]! > 0 ? latency[i] !== slope[i]! * h : slope[i] !== 0) return null;
  }
  const prep = prepare(ops);
  const { succStart, succ, engineOf } = prep;
  const s = scratchFor(n);
  if (tracks.capacity < s.capacity) tracks = new Tracks(s.capacity);
  const { indeg, level, ready, readyCount, inFlight, running, freeAt, end } = s;
  const { levelSlope, levelFrom, startSlope, startFrom, releaseId, endId, freeSlope } = tracks;
  const cap = s.capacity;
  indeg.set(prep.indegree);
  h0 = h;
  lo = -Infinity;
  hi = Infinity;

  // Priority: longest remaining path, as the scheduler sums it.
  for (let i = n - 1; i >= 0; i--) {
    const first = succStart[i]!;
    const stop = succStart[i + 1]!;
    // The largest priority of the successors (the scheduler's maximum starts from 0, which a priority,
    // a sum of times ≥ 0, never falls below: the largest of the successors is that same number).
    let from = stop > first ? succ[first]! : -1;
    let best = from === -1 ? 0 : level[from]!;
    for (let k = first + 1; k < stop; k++) {
      const l = level[succ[k]!]!;
      if (l > best) {
        best = l;
        from = succ[k]!;
      }
    }
    // It must stay the largest (what order the others come in is no comparison the sum depends on).
    const bestSlope = from === -1 ? 0 : levelSlope[from]!;
    for (let k = first; k < stop && stop - first > 1; k++) {
      const t = succ[k]!;
      if (t === from) continue;
      if (level[t] === best) {
        if (!samePriority(from, t, times, slope, level)) lo = hi = h0;
      } else keep(level[t]!, levelSlope[t]!, best, bestSlope);
    }
    level[i] = best + busy[i]! + latency[i]!;
    levelSlope[i] = bestSlope + slope[i]!;
    levelFrom[i] = from;
  }

  const engines = ENGINES.length;
  readyCount.fill(0);
  running.fill(-1);
  freeAt.fill(Infinity);
  for (let i = 0; i < n; i++) {
    if (indeg[i] !== 0) continue;
    const e = engineOf[i]!;
    ready[e * cap + readyCount[e]!++] = i;
  }
  let inFlightCount = 0;
  // The clock and the clock before it: each a time, its slope, its id and the event it was copied from.
  let now = 0;
  let nowSlope = 0;
  let nowId = -1;
  let nowEvent = -1;
  let prev = 0;
  let prevSlope = 0;
  let prevId = -1;
  let makespan = 0;
  let makespanOp = -1;
  held = 0;
  heldSlope = 0;
  heldId = -1;
  heldBefore = false;
  heldReached = true;
  // An event (a release, an arrival) is compared with the clock only when it is done: ≤ the clock, and
  // > the clock before, if it was pending then. The clock only grows along the path (each clock is
  // such an event, > the one before), so that these two comparisons keep every other outcome too.
  pending.fill(0);

  let done = 0;
  while (done < n) {
    for (let e = 0; e < engines; e++) {
      const count = readyCount[e]!;
      if (count === 0 || running[e] !== -1) continue;
      const memoryFree = running[MEMORY] === -1 && heldByNow(now, nowSlope, nowId);
      if (!memoryFree && e === MEMORY) continue;
      const base = e * cap;
      let pick = -1;
      let pickLevel = 0;
      for (let q = base, stop = base + count; q < stop; q++) {
        const a = ready[q]!;
        if (!memoryFree && memory[a]! > 0) continue;
        const la = level[a]!;
        if (pick === -1 || la > pickLevel || (la === pickLevel && a < ready[pick]!)) {
          pick = q;
          pickLevel = la;
        }
      }
      if (pick === -1) continue;
      const op = ready[pick]!;
      // The pick stays first by priority among the ops that could start.
      for (let q = base, stop = base + count; q < stop; q++) {
        const a = ready[q]!;
        if (a === op || (!memoryFree && memory[a]! > 0)) continue;
        if (level[a] === pickLevel) {
          if (!samePriority(a, op, times, slope, level)) lo = hi = h0;
        } else keep(pickLevel, levelSlope[op]!, level[a]!, levelSlope[a]!);
      }
      ready[pick] = ready[base + count - 1]!;
      readyCount[e] = count - 1;
      const freed = now + busy[op]!;
      const arrives = freed + latency[op]!;
      end[op] = arrives;
      startSlope[op] = nowSlope;
      startFrom[op] = nowEvent;
      releaseId[op] = busy[op] === 0 ? nowId : 4 * op + RELEASE;
      endId[op] = latency[op] === 0 && slope[op] === 0 ? releaseId[op]! : 4 * op + END;
      if (arrives > makespan) {
        makespan = arrives;
        makespanOp = op;
      }
      running[e] = op;
      freeAt[e] = freed;
      freeSlope[e] = nowSlope;
      if (e !== MEMORY && memory[op]! > 0) {
        // The hold before it ends its comparisons; the new one starts after the clock.
        if (!heldReached && heldBefore) keep(held, heldSlope, heldBeforeAt, heldBeforeSlope);
        held = now + memory[op]!;
        heldSlope = nowSlope;
        heldId = 4 * op + HELD;
        heldBefore = false;
        heldReached = false;
      }
    }
    // The next event: the earliest release, arrival or end of the memory system's hold (each is
    // compared with the clock it comes at, below, or with this one, the hold).
    const heldAhead = !heldByNow(now, nowSlope, nowId);
    let next = heldAhead ? held : Infinity;
    let nextSlope = heldSlope;
    let nextId = heldId;
    let nextEvent = heldId;
    for (let e = 0; e < engines; e++) {
      const op = running[e]!;
      if (op !== -1 && freeAt[e]! < next) {
        next = freeAt[e]!;
        nextSlope = freeSlope[e]!;
        nextId = releaseId[op]!;
        nextEvent = 4 * op + RELEASE;
      }
    }
    for (let f = 0; f < inFlightCount; f++) {
      const op = inFlight[f]!;
      if (end[op]! < next) {
        next = end[op]!;
        nextSlope = startSlope[op]! + slope[op]!;
        nextId = endId[op]!;
        nextEvent = 4 * op + END;
      }
    }
    if (next === Infinity) throw new Error('scheduler: dependency cycle or op on an unknown engine');
    prev = now;
    prevSlope = nowSlope;
    prevId = nowId;
    now = next;
    nowSlope = nextSlope;
    nowId = nextId;
    nowEvent = nextEvent;
    if (heldAhead) heldByNow(now, nowSlope, nowId);
    for (let f = inFlightCount - 1; f >= 0; f--) {
      const op = inFlight[f]!;
      if (end[op]! > now) continue;
      const endSlope = startSlope[op]! + slope[op]!;
      order(end[op]!, endSlope, endId[op]!, now, nowSlope, nowId);
      order(end[op]!, endSlope, endId[op]!, prev, prevSlope, prevId);
      inFlight[f] = inFlight[--inFlightCount]!;
      done += complete(op, s, prep);
    }
    for (let e = 0; e < engines; e++) {
      const op = running[e]!;
      if (op === -1) continue;
      if (freeAt[e]! > now) {
        pending[e] = 1;
        continue;
      }
      order(freeAt[e]!, freeSlope[e]!, releaseId[op]!, now, nowSlope, nowId);
      if (pending[e] === 1) order(freeAt[e]!, freeSlope[e]!, releaseId[op]!, prev, prevSlope, prevId);
      pending[e] = 0;
      running[e] = -1;
      freeAt[e] = Infinity;
      if (end[op]! > now) inFlight[inFlightCount++] = op;
      else {
        order(end[op]!, startSlope[op]! + slope[op]!, endId[op]!, now, nowSlope, nowId);
        done += complete(op, s, prep);
      }
    }
  }
  if (!heldReached && heldBefore) keep(held, heldSlope, heldBeforeAt, heldBeforeSlope);
  // The makespan is the latest arrival: it must stay the latest (the running maximum's other
  // comparisons change nothing else).
  const makespanId = makespanOp === -1 ? -1 : endId[makespanOp]!;
  const makespanSlope = makespanOp === -1 ? 0 : startSlope[makespanOp]! + slope[makespanOp]!;
  for (let i = 0; i < n; i++) order(end[i]!, startSlope[i]! + slope[i]!, endId[i]!, makespan, makespanSlope, makespanId);
  return { makespanNs: makespan, lo, hi, chain: chainOf(makespanOp === -1 ? -1 : 4 * makespanOp + END, startFrom) };
}

/** The additions that make an event's time, from 0 and in order (ParametricMakespan.chain). */
function chainOf(event: number, startFrom: Int32Array): Int32Array {
  let length = 0;
  for (let ev = event; ev !== -1; ev = startFrom[ev >> 2]!) length += (ev & 3) === END ? 2 : 1;
  const chain = new Int32Array(length);
  // Filled from the end: release = start + busy; end = release + latency; held = start + memory.
  for (let ev = event, k = length; ev !== -1; ev = startFrom[ev >> 2]!) {
    const op = ev >> 2;
    const kind = ev & 3;
    if (kind === END) chain[--k] = 3 * op + 1;
    chain[--k] = kind === HELD ? 3 * op + 2 : 3 * op;
  }
  return chain;
}
