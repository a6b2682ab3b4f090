/**
 * `deferred-norm pytorch`: the PyTorch patch module for a model on a machine and workload, and
 * (`--check`) which Python would run it. The runtime is read from the installed package
 * (`python/deferred_norm_patch.py` beside `dist/`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pytorchModule } from '../core/codegen/pytorch';
import type { HardwareProfile } from '../core/hardware/profile';
import type { ModelSpec } from '../core/model/spec';
import { reportOf } from '../core/report/profile';
import { simulate } from '../core/sim/simulate';
import type { Workload } from '../core/workload';
import { NAME_ONE_CLI, noTorchMessage, probedLines } from '../common/python-finder';
import { findPython } from './python-probe';

export const RUNTIME_FILE = join('python', 'deferred_norm_patch.py');

/** A file of the installed package: beside dist/ when bundled (dist/cli.js), two levels up when run from src/cli. */
function packageFile(relative: string): string | null {
  return [join(__dirname, '..', relative), join(__dirname, '..', '..', relative)].find((p) => existsSync(p)) ?? null;
}

function generatorName(): string {
  const pkg = packageFile('package.json');
  const version = pkg ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: unknown }).version : undefined;
  return typeof version === 'string' ? `deferred-norm ${version}` : 'deferred-norm';
}

/** The runtime's text; its absence is a broken install, not bad input. */
export function readRuntime(): string {
  const path = packageFile(RUNTIME_FILE);
  if (!path) throw new Error(`the PyTorch runtime ${RUNTIME_FILE} is missing from the installed package (looked beside ${join(__dirname, '..')})`);
  return readFileSync(path, 'utf8');
}

/** The generated module: the plan from this simulation, then the runtime. */
export function pytorchPatch(spec: ModelSpec, hw: HardwareProfile, workload: Workload): string {
  const report = reportOf(spec, hw, workload, simulate(spec, hw, workload));
  return pytorchModule(report, readRuntime(), generatorName());
}

/** `--check`: names the interpreter that has torch (exit 0), or says none has (exit 1). Output on stderr, so stdout stays the module. */
export async function checkPython(flag: string | undefined): Promise<number> {
  const { found, tried } = await findPython({ flag: flag ?? null });
  if (found) {
    // An interpreter passed over is said, so the fallback is never silent.
    for (const line of probedLines(tried.slice(0, -1))) process.stderr.write(`python: ${line}\n`);
    process.stderr.write(`python: ${found.path} (${found.source}) has torch ${found.result.torch}\n`);
    return 0;
  }
  process.stderr.write(`deferred-norm: ${noTorchMessage(tried, NAME_ONE_CLI)}\n`);
  return 1;
}
