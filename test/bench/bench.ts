/**
 * `npm run bench`: measures and prints; asserts nothing. The targets (issue #3) are
 * printed beside the numbers: under 5 ms per full profile, under 1 s for a
 * 10,000-point sweep, a CLI `profile` run within 3× a bare `node -e 0`, and the numerics check
 * of the largest fixture under 200 ms (issue #4).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { numericsFor } from '../../src/core/report/numerics';
import { profile } from '../../src/core/report/profile';
import { runSweep } from '../../src/core/report/sweep';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { fixturePath, loadFixture, profiledFixtures } from '../unit/helpers/fixtures';

function timeMs(fn: () => void, minRuns = 5, minMs = 200): { medianMs: number; runs: number } {
  fn(); // warm-up
  const samples: number[] = [];
  const started = performance.now();
  while (samples.length < minRuns || performance.now() - started < minMs) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)]!, runs: samples.length };
}

function wallMs(args: string[], runs = 7): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    samples.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(runs / 2)]!;
}

async function main(): Promise<void> {
  const hw = getPreset('dimc');
  console.log(`Deferred Norm Profiler benchmark: Node ${process.version}, ${new Date().toISOString()}`);
  console.log('\nIn-process time of one full profile (default workload, dimc), median:');
  let worst = { name: '', ms: 0 };
  for (const name of profiledFixtures()) {
    const spec = await loadFixture(name);
    const workload = spec.topology === 'encoder' ? { ...DEFAULT_WORKLOAD, phase: 'prefill' as const } : DEFAULT_WORKLOAD;
    const { medianMs, runs } = timeMs(() => profile(spec, hw, workload));
    if (medianMs > worst.ms) worst = { name, ms: medianMs };
    console.log(`  ${name.padEnd(28)} ${medianMs.toFixed(3).padStart(8)} ms  (${spec.layers} layers, ${runs} runs)`);
  }
  console.log(`  slowest: ${worst.name} at ${worst.ms.toFixed(3)} ms (target < 5 ms)`);

  const largest = await loadFixture('Llama-3.1-405B');
  const cold = performance.now();
  numericsFor(largest);
  const coldMs = performance.now() - cold;
  const warm = timeMs(() => numericsFor(largest), 3, 500);
  console.log(`\nNumerics check (verify) of Llama-3.1-405B: first call ${coldMs.toFixed(0)} ms, then ${warm.medianMs.toFixed(0)} ms median (target < 200 ms)`);

  const llama = await loadFixture('Llama-3.1-8B');
  const grid = {
    seq: [DEFAULT_WORKLOAD.seq],
    batch: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    context: [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
    tp: [1],
    ranges: [`collective.hopLatencyNs=${Array.from({ length: 100 }, (_, i) => i * 2).join(',')}`],
  };
  const t = performance.now();
  const points = runSweep(llama, hw, DEFAULT_WORKLOAD, grid);
  const sweepMs = performance.now() - t;
  console.log(`\nSweep of ${points.length} points (Llama-3.1-8B: 10 batches × 10 contexts × 100 hop latencies): ${sweepMs.toFixed(0)} ms (target < 1000 ms)`);

  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  const bare = wallMs(['-e', '0']);
  const run = wallMs([cli, 'profile', fixturePath('Llama-3.1-8B')]);
  console.log(`\nCLI wall time, median of 7: node -e 0 ${bare.toFixed(0)} ms; deferred-norm profile Llama-3.1-8B ${run.toFixed(0)} ms = ${(run / bare).toFixed(2)}× (target ≤ 3×)`);
}

void main();
