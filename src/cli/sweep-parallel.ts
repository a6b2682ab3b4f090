/**
 * A large sweep on two cores. The main thread and one worker thread take chunks of the grid's points
 * from a shared counter, in turn, until none is left, and write each point's totals into one shared
 * buffer at the point's index: the work balances itself (a worker that starts late, or gets less of
 * the machine, simply takes fewer chunks), and the output is in the grid's order, number for number
 * what the one-thread runSweep gives, since both threads run the same evaluateSweep.
 *
 * The worker is this same script (dist/cli.js) started again in a thread; main.ts hands it to
 * serveSweepWorker. It pays less than one would think: the worker starts Node again (its bundle from
 * V8's code cache, as the main thread's), and V8 compiles the simulator's hot code again for it, on
 * background threads that then want the cores too. Counted with valgrind on the 10,000-point sweep of
 * Llama-3.1-8B (2026-12-07): one thread does 7.1 G instructions, plus 3.5 G on V8's background threads;
 * with the worker the main thread does 5.0 G, the worker 3.3 G and the background threads 4.6 G: 30%
 * off the main thread, 20% more work in all, so faster only when the second core is idle, and slower
 * when it is not (docs/speed.md). So the worker starts only for large grids (PARALLEL_MIN_POINTS) and
 * when a core is free by the load average; DEFERRED_NORM_SWEEP_THREADS=1 or 2 decides instead.
 * Any error, in either thread, and the sweep is run again on one thread, so that it fails with the
 * same message, for the same point.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { HardwareProfile } from '../core/hardware/profile';
import type { ModelSpec } from '../core/model/spec';
import { TOTALS_FIELDS, evaluateSweep, planSweep, runSweep, sweepPoints, type SweepGrid, type SweepPlan, type SweepPoint } from '../core/report/sweep';
import type { Workload } from '../core/workload';

/**
 * Fewer points than this run on the main thread alone: the worker's fixed cost (its start-up and V8
 * compiling the simulator again) is repaid, on an idle second core, only by a large share of points
 * (counted on 2026-12-01 from some 5,600 points of an 8B model, when that cost was about 6 G instructions).
 */
export const PARALLEL_MIN_POINTS = 6000;

/** One thread or two for a sweep of `points` points (see the top of this file). */
export function sweepThreads(points: number): 1 | 2 {
  const forced = process.env.DEFERRED_NORM_SWEEP_THREADS;
  if (forced === '1' || forced === '2') return forced === '1' ? 1 : 2;
  const cores = availableParallelism();
  return points >= PARALLEL_MIN_POINTS && cores >= 2 && cores - loadavg()[0]! >= 1 ? 2 : 1;
}

/** Chunks per sweep: small enough that neither thread waits long for the other's last one. */
const CHUNKS = 64;

const TASK = 'deferred-norm/sweep';

/** What the worker receives: the model, the checked plan and the two shared buffers. */
interface Job {
  task: typeof TASK;
  spec: ModelSpec;
  plan: SweepPlan;
  /** Float64 totals, TOTALS_FIELDS.length per point. */
  totals: SharedArrayBuffer;
  /** Int32: [0] the next chunk to take; [1 + c] 1 once chunk c is written. */
  state: SharedArrayBuffer;
  chunk: number;
}

/**
 * About size / CHUNKS points, rounded to whole workloads where a workload has fewer points than that,
 * so that a workload's graphs are built by one thread only.
 */
function chunkSize(plan: SweepPlan): number {
  const target = Math.ceil(plan.size / CHUNKS);
  const machines = plan.machines.length;
  return machines <= target ? Math.round(target / machines) * machines : target;
}

/** Takes chunks until none is left; returns when the last one this thread took is written. */
function takeChunks(spec: ModelSpec, plan: SweepPlan, totals: Float64Array, state: Int32Array, chunk: number): void {
  const chunks = state.length - 1;
  for (let c = Atomics.add(state, 0, 1); c < chunks; c = Atomics.add(state, 0, 1)) {
    evaluateSweep(spec, plan, c * chunk, Math.min(plan.size, (c + 1) * chunk), totals);
    Atomics.store(state, 1 + c, 1);
  }
}

/** The points of a plan, all evaluated on this thread. */
function onOneThread(spec: ModelSpec, plan: SweepPlan): SweepPoint[] {
  const totals = new Float64Array(plan.size * TOTALS_FIELDS.length);
  evaluateSweep(spec, plan, 0, plan.size, totals);
  return sweepPoints(plan, totals);
}

/** runSweep, with a worker thread taking a share of the points when the grid is large enough to pay for it. */
export async function runSweepParallel(spec: ModelSpec, hw: HardwareProfile, base: Workload, grid: SweepGrid): Promise<SweepPoint[]> {
  const plan = planSweep(spec, hw, base, grid);
  if (sweepThreads(plan.size) === 1) return onOneThread(spec, plan);
  const totals = new Float64Array(new SharedArrayBuffer(plan.size * TOTALS_FIELDS.length * Float64Array.BYTES_PER_ELEMENT));
  const chunk = chunkSize(plan);
  const chunks = Math.ceil(plan.size / chunk);
  const state = new Int32Array(new SharedArrayBuffer((1 + chunks) * Int32Array.BYTES_PER_ELEMENT));
  const job: Job = { task: TASK, spec, plan, totals: totals.buffer as SharedArrayBuffer, state: state.buffer as SharedArrayBuffer, chunk };
  let worker: Worker;
  try {
    worker = new Worker(__filename, { workerData: job });
  } catch {
    return onOneThread(spec, plan);
  }
  // Resolves true once the worker has written the last chunk it took, false if it failed.
  const finished = new Promise<boolean>((resolve) => {
    worker.once('message', (ok: unknown) => resolve(ok === true));
    worker.once('error', () => resolve(false));
    worker.once('exit', () => resolve(false));
  });
  let ok = true;
  try {
    takeChunks(spec, plan, totals, state, chunk);
  } catch {
    ok = false;
  }
  const written = (): boolean => {
    for (let c = 1; c <= chunks; c++) if (Atomics.load(state, c) !== 1) return false;
    return true;
  };
  // Wait for the worker only while it is inside a chunk; one still starting up is simply stopped.
  if (ok && !written()) ok = (await finished) && written();
  void worker.terminate();
  return ok ? sweepPoints(plan, totals) : runSweep(spec, hw, base, grid);
}

/** In the worker thread started by runSweepParallel: does its share and returns true; elsewhere returns false. */
export function serveSweepWorker(): boolean {
  const job = workerData as Job | null;
  if (isMainThread || job?.task !== TASK) return false;
  try {
    takeChunks(job.spec, job.plan, new Float64Array(job.totals), new Int32Array(job.state), job.chunk);
    parentPort!.postMessage(true);
  } catch {
    parentPort!.postMessage(false);
  }
  return true;
}
