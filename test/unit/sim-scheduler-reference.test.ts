/**
 * The list scheduler (sim/scheduler.ts) against a plain reference written here from its contract: each
 * engine runs one op at a time; at each event, each idle engine (in ENGINES order) starts the ready op
 * with the longest path to the end of the graph (ties: program order); an op that streams bytes holds the
 * memory system from its start for its memory time, and while the memory system is held only ops that
 * stream nothing may start. The scheduler keeps typed-array ready lists and its next event as it goes (a
 * speed-up); the reference recomputes everything each step. Both must give the same times, bit for bit,
 * on random graphs drawn to tie often (few distinct durations, many zeros).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ENGINES, type Op } from '../../src/core/graph/ops';
import type { OpTimes } from '../../src/core/sim/costs';
import { makespanOf, schedule } from '../../src/core/sim/scheduler';

interface Drawn {
  engines: number[];
  deps: number[][];
  busy: number[];
  latency: number[];
  memory: number[];
}

/** The reference: arrays and plain loops, everything found again at each event. */
function reference(d: Drawn): { start: number[]; release: number[]; end: number[]; makespanNs: number } {
  const n = d.engines.length;
  const succs: number[][] = d.engines.map(() => []);
  d.deps.forEach((deps, i) => deps.forEach((p) => succs[p]!.push(i)));
  const level: number[] = new Array(n).fill(0);
  for (let i = n - 1; i >= 0; i--) level[i] = Math.max(0, ...succs[i]!.map((s) => level[s]!)) + d.busy[i]! + d.latency[i]!;
  const waiting = d.deps.map((deps) => deps.length);
  const ready: number[][] = ENGINES.map(() => []);
  for (let i = 0; i < n; i++) if (waiting[i] === 0) ready[d.engines[i]!]!.push(i);
  const running: (number | null)[] = ENGINES.map(() => null);
  const inFlight: number[] = [];
  const start: number[] = new Array(n).fill(0);
  const release: number[] = new Array(n).fill(0);
  const end: number[] = new Array(n).fill(0);
  const memoryEngine = ENGINES.indexOf('memory');
  let memoryHeldUntil = 0;
  let now = 0;
  let done = 0;
  const finish = (op: number): void => {
    done++;
    for (const s of succs[op]!) if (--waiting[s]! === 0) ready[d.engines[s]!]!.push(s);
  };
  while (done < n) {
    for (let e = 0; e < ENGINES.length; e++) {
      if (running[e] !== null) continue;
      const memoryFree = running[memoryEngine] === null && memoryHeldUntil <= now;
      if (e === memoryEngine && !memoryFree) continue;
      const candidates = ready[e]!.filter((op) => memoryFree || d.memory[op]! <= 0);
      if (candidates.length === 0) continue;
      const op = candidates.reduce((a, b) => (level[b]! > level[a]! || (level[b] === level[a] && b < a) ? b : a));
      ready[e] = ready[e]!.filter((x) => x !== op);
      start[op] = now;
      release[op] = now + d.busy[op]!;
      end[op] = release[op]! + d.latency[op]!;
      running[e] = op;
      if (e !== memoryEngine && d.memory[op]! > 0) memoryHeldUntil = now + d.memory[op]!;
    }
    const events = [...running.filter((op): op is number => op !== null).map((op) => release[op]!), ...inFlight.map((op) => end[op]!), ...(memoryHeldUntil > now ? [memoryHeldUntil] : [])];
    assert.ok(events.length > 0, 'the reference found no next event');
    now = Math.min(...events);
    for (const op of inFlight.filter((x) => end[x]! <= now)) {
      inFlight.splice(inFlight.indexOf(op), 1);
      finish(op);
    }
    for (let e = 0; e < ENGINES.length; e++) {
      const op = running[e];
      if (op === null || op === undefined || release[op]! > now) continue;
      running[e] = null;
      if (end[op]! > now) inFlight.push(op);
      else finish(op);
    }
  }
  return { start, release, end, makespanNs: Math.max(0, ...end) };
}

// Few distinct durations (and many zeros) so that events coincide and priorities tie.
const duration = fc.constantFrom(0, 0, 1, 2, 3, 0.5, 7.25, 1e-9, 1000);
const graph: fc.Arbitrary<Drawn> = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.record({
    engines: fc.array(fc.integer({ min: 0, max: ENGINES.length - 1 }), { minLength: n, maxLength: n }),
    deps: fc.tuple(...Array.from({ length: n }, (_, i) => (i === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.integer({ min: 0, max: i - 1 }), { maxLength: Math.min(i, 3) })))),
    busy: fc.array(duration, { minLength: n, maxLength: n }),
    latency: fc.array(fc.oneof(fc.constant(0), duration), { minLength: n, maxLength: n }),
    memory: fc.array(fc.oneof(fc.constant(0), duration), { minLength: n, maxLength: n }),
  }),
);

// The scheduler reads an op's deps and engine only.
const opsOf = (d: Drawn): Op[] => d.engines.map((e, i) => ({ id: i, engine: ENGINES[e]!, deps: d.deps[i]! }) as unknown as Op);
const timesOf = (d: Drawn): OpTimes => ({ busy: Float64Array.from(d.busy), latency: Float64Array.from(d.latency), memory: Float64Array.from(d.memory) });

test('the scheduler gives the reference list schedule, bit for bit, on random graphs that tie often', () => {
  fc.assert(
    fc.property(graph, (d) => {
      const ops = opsOf(d);
      const times = timesOf(d);
      const want = reference(d);
      const got = schedule(ops, times);
      assert.deepEqual([...got.start], want.start, 'start');
      assert.deepEqual([...got.release], want.release, 'release');
      assert.deepEqual([...got.end], want.end, 'end');
      assert.equal(got.makespanNs, want.makespanNs, 'makespan');
      assert.equal(makespanOf(ops, times), want.makespanNs, 'makespanOf');
      // A limit stops the schedule only where the makespan is above it; otherwise it is the makespan.
      for (const limit of [want.makespanNs, want.makespanNs / 2, want.makespanNs * 0.999, 0]) {
        const below = makespanOf(ops, times, limit);
        assert.ok(below === want.makespanNs || (below === Infinity && want.makespanNs > limit), `limit ${limit}: ${below} for makespan ${want.makespanNs}`);
      }
    }),
    { numRuns: 3000, seed: 21 },
  );
});
