import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * BENCH_INSTRUCTIONS=1: the same CLI runs counted with valgrind (main thread, instructions), which the
 * machine's load does not change as it changes wall time. `--fair-sched=yes` keeps V8's compiler
 * thread running beside the main thread as it does natively (docs/speed.md); the sweep runs on one
 * thread. Minutes per run under valgrind.
 */
export function instructionCounts(runs: string[][]): void {
  const dir = mkdtempSync(join(tmpdir(), 'dn-bench-cg-'));
  try {
    const counts = runs.map((args, i) => {
      const out = join(dir, `run${i}`);
      const r = spawnSync('valgrind', ['--tool=callgrind', '--fair-sched=yes', '--separate-threads=yes', `--callgrind-out-file=${out}.%p`, process.execPath, ...args], {
        stdio: 'ignore',
        env: { ...process.env, DEFERRED_NORM_SWEEP_THREADS: '1' },
      });
      if (r.error || r.status !== 0) return null;
      // The main thread's file ends in -01; its summary line holds the instruction count.
      const main = readdirSync(dir).find((f) => f.startsWith(`run${i}.`) && f.endsWith('-01'));
      const summary = main ? /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, main), 'utf8')) : null;
      return summary ? Number(summary[1]) : null;
    });
    const [bare, ...rest] = counts;
    if (bare === null || bare === undefined) {
      console.log('\nInstruction counts: valgrind did not run (is it installed?)');
      return;
    }
    const g = (n: number | null | undefined): string => (n == null ? 'failed' : `${(n / 1e9).toFixed(3)} G = ${(n / bare).toFixed(2)}×`);
    console.log(`\nCLI instructions, main thread (valgrind --tool=callgrind --fair-sched=yes): node -e 0 ${(bare / 1e9).toFixed(3)} G`);
    ['profile Llama-3.1-8B (table)', 'profile Llama-3.1-405B --format json', 'sweep Llama-3.1-8B (one thread)', 'profile DeepSeek-V3 (table)'].forEach((what, i) => console.log(`  ${what.padEnd(38)} ${g(rest[i])}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
