/**
 * `deferred-norm measure`: writes the harness, runs it with a Python that has torch, and saves its
 * measurements under .deferred-norm/measurements/ beside the model. Progress lines from the harness
 * go to stderr as they come; Ctrl+C stops the harness.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../core/errors';
import type { HarnessPlan } from '../core/measure/plan';
import { harnessScript } from './harness';

/** The interpreter that runs the harness, as the Python finder (src/common/python-finder.ts) chose it. */
export interface PythonFound {
  python: string;
  torch: string;
}

/** A file name for one run: the model's folder or file name, the device and the time, safe on every file system. */
export function runName(modelPath: string, device: string, date: Date): string {
  const model = basename(modelPath === '.' ? process.cwd() : modelPath).replace(/\.json$/, '') || 'model';
  const stem = model === 'config' ? basename(dirname(modelPath)) || 'model' : model;
  const stamp = date.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  return `${stem}-${device}-${stamp}`.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export interface MeasureRun {
  python: PythonFound;
  script: string;
  out: string;
}

/**
 * Writes the script beside the measurements and runs it. `onLine` gets each line the harness prints
 * (progress and errors); `signal` stops it. Resolves with the JSON's path, rejects with the harness's
 * last words when it fails.
 */
export async function runMeasure(
  plan: HarnessPlan,
  options: { python: PythonFound; dir: string; name: string; threads?: number; onLine: (line: string) => void; signal?: AbortSignal },
): Promise<MeasureRun> {
  const { python, dir, name } = options;
  mkdirSync(dir, { recursive: true });
  const script = join(dir, `${name}.py`);
  const out = join(dir, `${name}.json`);
  writeFileSync(script, harnessScript(plan));
  const args = [script, '--out', out, '--device', plan.device, ...(plan.quick ? ['--quick'] : []), ...(options.threads ? ['--threads', String(options.threads)] : [])];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(python.python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const lines = (chunk: Buffer, carry: { text: string }) => {
      carry.text += chunk.toString('utf8');
      const parts = carry.text.split('\n');
      carry.text = parts.pop() ?? '';
      for (const line of parts) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        options.onLine(line);
      }
    };
    const errCarry = { text: '' };
    const outCarry = { text: '' };
    child.stderr.on('data', (c: Buffer) => lines(c, errCarry));
    child.stdout.on('data', (c: Buffer) => lines(c, outCarry));
    const stop = () => child.kill('SIGTERM');
    options.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => reject(new InputError('--python', '', `a Python that can be started (${python.python})`, err.message)));
    child.on('close', (code, sig) => {
      options.signal?.removeEventListener('abort', stop);
      if (options.signal?.aborted) reject(new MeasureCancelled());
      else if (code === 0) resolve();
      else reject(new InputError(script, '', 'a harness run that finishes', `exit ${code ?? sig}: ${tail.filter((l) => !l.startsWith('[harness]')).slice(-3).join(' / ') || tail.slice(-1)[0] || 'no output'}`));
    });
  });
  return { python, script, out };
}

export class MeasureCancelled extends Error {
  constructor() {
    super('the measurement was cancelled');
    this.name = 'MeasureCancelled';
  }
}
