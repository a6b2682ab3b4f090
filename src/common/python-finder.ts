/**
 * The one Python finder of the project: which interpreter runs PyTorch (the exported patch, the
 * measuring harness), and what to say when none can. Every caller — `deferred-norm pytorch --check`,
 * `deferred-norm measure`, Export PyTorch Patch… and Measure on This Machine — tries the same order:
 *
 *   1. `--python PATH` (the CLI)
 *   2. the `deferredNorm.python` setting (the extension, in a trusted workspace)
 *   3. `$DEFERRED_NORM_PYTHON`
 *   4. the interpreter the Python extension selected (the extension)
 *   5. `python3` on the PATH
 *   6. `/usr/bin/python3`
 *
 * and takes the first that imports torch 1.13 or later. Pure: the process half (the probe) is
 * src/cli/python-probe.ts, run by the CLI and the extension host at their edge and passed in here.
 */
import { InputError } from '../core/errors';

export type PythonSource = '--python' | 'deferredNorm.python setting' | '$DEFERRED_NORM_PYTHON' | 'Python extension' | 'PATH' | 'system';

export interface PythonCandidate {
  path: string;
  source: PythonSource;
}

/** What the user pointed at, most specific first. Empty or missing entries are left out. */
export interface PythonChoices {
  /** `--python PATH` on the command line. */
  flag?: string | null;
  /** The `deferredNorm.python` setting. */
  setting?: string | null;
  /** The `DEFERRED_NORM_PYTHON` environment variable. */
  environment?: string | null;
  /** The interpreter the Python extension has selected for the workspace. */
  pythonExtension?: string | null;
}

/** The interpreters to try, in the order of this file's header, without repeats. */
export function pythonCandidates(choices: PythonChoices): PythonCandidate[] {
  const all: { path: string | null | undefined; source: PythonSource }[] = [
    { path: choices.flag, source: '--python' },
    { path: choices.setting, source: 'deferredNorm.python setting' },
    { path: choices.environment, source: '$DEFERRED_NORM_PYTHON' },
    { path: choices.pythonExtension, source: 'Python extension' },
    { path: 'python3', source: 'PATH' },
    { path: '/usr/bin/python3', source: 'system' },
  ];
  const seen = new Set<string>();
  const out: PythonCandidate[] = [];
  for (const { path, source } of all) {
    const p = path?.trim();
    if (!p || seen.has(p)) continue;
    seen.add(p);
    out.push({ path: p, source });
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * The interpreter the Python extension (ms-python.python) selected, from its exported API, whichever
 * generation it is: `environments.getActiveEnvironmentPath(resource).path` (current), else
 * `settings.getExecutionDetails(resource).execCommand[0]` (older). Null when the API has neither.
 */
export async function interpreterFromPythonApi(api: unknown, resource: unknown): Promise<string | null> {
  if (!isRecord(api)) return null;
  const environments = api['environments'];
  if (isRecord(environments) && typeof environments['getActiveEnvironmentPath'] === 'function') {
    const env: unknown = await (environments['getActiveEnvironmentPath'] as (r: unknown) => unknown)(resource);
    if (isRecord(env) && typeof env['path'] === 'string' && env['path'] !== '') return env['path'];
  }
  const settings = api['settings'];
  if (isRecord(settings) && typeof settings['getExecutionDetails'] === 'function') {
    const details: unknown = await (settings['getExecutionDetails'] as (r: unknown) => unknown)(resource);
    const command = isRecord(details) ? details['execCommand'] : undefined;
    if (Array.isArray(command) && typeof command[0] === 'string' && command[0] !== '') return command[0];
  }
  return null;
}

/** The probe's arguments: it prints torch's version, or fails. */
export const TORCH_PROBE_ARGS: readonly string[] = ['-c', 'import torch, sys; sys.stdout.write(torch.__version__)'];

/** The oldest torch the patch and the harness are written for. */
export const MIN_TORCH = '1.13';

/** Whether a torch version ("2.4.0+cpu", "1.13.0a0") is MIN_TORCH or later; null when it is no version. */
export function torchRecentEnough(version: string): boolean | null {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return null;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const [minMajor, minMinor] = MIN_TORCH.split('.').map(Number) as [number, number];
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

/** A probe's outcome: torch's version, or why this interpreter cannot run the patch. */
export type ProbeResult = { ok: true; torch: string } | { ok: false; why: string };

/** What a probe that exited 0 printed, judged: the version when it is recent enough. */
export function probeAnswer(stdout: string): ProbeResult {
  // Only the last line: a site hook may print before torch does.
  const version = (stdout.trim().split('\n').pop() ?? '').trim().slice(0, 64);
  const recent = torchRecentEnough(version);
  if (recent === true) return { ok: true, torch: version };
  if (recent === false) return { ok: false, why: `torch ${version}, older than ${MIN_TORCH}` };
  return { ok: false, why: `printed no torch version (${JSON.stringify(version)})` };
}

export interface ProbedPython extends PythonCandidate {
  result: ProbeResult;
}

/** The interpreter chosen: its probe found torch. */
export interface TorchPython extends PythonCandidate {
  result: { ok: true; torch: string };
}

/**
 * The first candidate whose probe finds torch (later ones are not run), and everything probed on the
 * way, for the message when none does.
 */
export async function findTorchPython(candidates: readonly PythonCandidate[], probe: (path: string) => Promise<ProbeResult>): Promise<{ found: TorchPython | null; tried: ProbedPython[] }> {
  const tried: ProbedPython[] = [];
  for (const c of candidates) {
    const result = await probe(c.path);
    tried.push({ ...c, result });
    if (result.ok) return { found: { ...c, result }, tried };
  }
  return { found: null, tried };
}

/** How a user names an interpreter, for noTorchError: on the command line, and in VS Code. */
export const NAME_ONE_CLI = '--python PATH or $DEFERRED_NORM_PYTHON';
export const NAME_ONE_EXTENSION = 'the deferredNorm.python setting';

/** One line per interpreter probed, with its torch or why not (a fallback is never silent). */
export function probedLines(tried: readonly ProbedPython[]): string[] {
  return tried.map((t) => `${t.path} (${t.source}): ${t.result.ok ? `torch ${t.result.torch}` : t.result.why}`);
}

/**
 * The one error when none of the interpreters tried can import torch: each with its reason, and how
 * to name one (`how`: the CLI's flag, the extension's setting). The CLI exits 2 with it.
 */
export function noTorchError(tried: readonly ProbedPython[], how: string): InputError {
  const each = probedLines(tried);
  return new InputError('Python', '', `an interpreter that imports torch >= ${MIN_TORCH} (name one with ${how})`, `none: tried ${each.length === 0 ? 'nothing' : each.join('; ')}`);
}

/** noTorchError's one line, for a notification or a --check. */
export function noTorchMessage(tried: readonly ProbedPython[], how: string): string {
  return noTorchError(tried, how).message;
}

/** A probe's exit as a reason: the last line of its stderr ("ModuleNotFoundError: No module named 'torch'"), or how it ended. */
export function probeFailure(outcome: { code: number | null; signal: string | null; stderr: string; timedOut: boolean; timeoutMs: number; spawnError?: string }): string {
  if (outcome.spawnError !== undefined) return outcome.spawnError === 'ENOENT' ? 'not found' : `could not be started (${outcome.spawnError})`;
  if (outcome.timedOut) return `import torch took over ${outcome.timeoutMs / 1000} s`;
  const last = outcome.stderr.trim().split('\n').pop()?.trim();
  if (last) return last.length > 200 ? `${last.slice(0, 200)}…` : last;
  return outcome.signal ? `ended by ${outcome.signal}` : `exited with ${outcome.code}`;
}
