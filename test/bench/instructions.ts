import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * BENCH_INSTRUCTIONS=1: the same CLI runs counted with valgrind (instructions of the main thread, and
 * of all threads), which the machine's load does not change as it changes wall time. `--fair-sched=yes` keeps V8's compiler
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
      // One file per thread: the main thread's ends in -01; each summary line holds a count.
      const count = (file: string): number | null => {
        const summary = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
        return summary ? Number(summary[1]) : null;
      };
      const files = readdirSync(dir).filter((f) => f.startsWith(`run${i}.`) && /-\d+$/.test(f));
      const main = files.find((f) => f.endsWith('-01'));
      const all = files.map(count);
      return { main: main ? count(main) : null, all: all.includes(null) ? null : all.reduce<number>((a, b) => a + b!, 0) };
    });
    const [bare, ...rest] = counts;
    if (!bare?.main || !bare.all) {
      console.log('\nInstruction counts: valgrind did not run (is it installed?)');
      return;
    }
    const g = (n: number | null | undefined, base: number): string => (n == null ? 'failed' : `${(n / 1e9).toFixed(3)} G = ${(n / base).toFixed(2)}×`);
    // V8 compiles and collects garbage on threads of its own: work moved there (a larger function to
    // optimize, say) leaves the main thread's count lower while the machine does as much.
    console.log(`\nCLI instructions (valgrind --tool=callgrind --fair-sched=yes), main thread / all threads: node -e 0 ${(bare.main / 1e9).toFixed(3)} G / ${(bare.all / 1e9).toFixed(3)} G`);
    ['profile Llama-3.1-8B (table)', 'profile Llama-3.1-405B --format json', 'sweep Llama-3.1-8B (one thread)', 'profile DeepSeek-V3 (table)'].forEach((what, i) =>
      console.log(`  ${what.padEnd(38)} ${g(rest[i]?.main, bare.main!)} / ${g(rest[i]?.all, bare.all!)}`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
