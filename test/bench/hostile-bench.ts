/**
 * Issue 16: the hostile inputs that once cost the most, each run as a child process of the built CLI:
 * a model name of 16 million characters exported as HTML, and 10,000 identical layers (the readers' cap) as a JSON
 * report. Prints wall time, peak memory (the child's own maxRSS, written by a preload at exit), the
 * exit code and the output size, beside the target: exit 0 or 2 within 3 s and 400 MB.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '../unit/helpers/fixtures';

/** Measured in the child: its resident-set peak in KB, on file descriptor 3. */
const PRELOAD = "process.on('exit', () => require('fs').writeSync(3, String(process.resourceUsage().maxRSS)));\n";

export function hostileBench(cli: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'dnp-hostile-'));
  try {
    const preload = join(dir, 'max-rss.cjs');
    writeFileSync(preload, PRELOAD);
    const llama = JSON.parse(readFileSync(fixturePath('Llama-3.1-8B'), 'utf8')) as Record<string, unknown>;
    const config = (name: string, changes: Record<string, unknown>): string => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify({ ...llama, ...changes }));
      return path;
    };
    const cases = [
      { what: 'a 16,000,000-character model name, --format html', args: ['profile', config('long-name', { _name_or_path: 'A'.repeat(16_000_000) }), '--format', 'html'] },
      { what: '10,000 identical layers (the most a model may have), --format json', args: ['profile', config('deep', { num_hidden_layers: 10_000 }), '--format', 'json'] },
    ];
    console.log('\nHostile inputs, one child process each (target: exit 0 or 2 within 3 s and 400 MB):');
    for (const { what, args } of cases) {
      const out = join(dir, 'out');
      const t = performance.now();
      const r = spawnSync(process.execPath, ['--require', preload, cli, ...args, '--out', out], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
      const ms = performance.now() - t;
      const peakMb = Number((r.output[3] as string | null) ?? NaN) / 1024;
      const bytes = r.status === 0 ? statSync(out).size : 0;
      console.log(`  ${what.padEnd(52)} exit ${r.status ?? r.signal}, ${(ms / 1000).toFixed(2)} s, peak ${peakMb.toFixed(0)} MB, output ${(bytes / 1e6).toFixed(2)} MB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
