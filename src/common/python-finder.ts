/**
 * Which Python runs the PyTorch patch: the candidates in the order a user expects (what they named
 * first, the system's interpreter last), and what to say when none of them has torch. Pure: the
 * CLI and the extension each run the probe (a child process) at their edge and pass it in.
 */

export type PythonSource = '--python' | 'deferredNorm.python setting' | 'Python extension' | 'PATH' | 'system';

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
  /** The interpreter the Python extension has selected for the workspace. */
  pythonExtension?: string | null;
}

/** The interpreters to try, in order, without repeats: the flag, the setting, the Python extension's, then python3 on PATH and /usr/bin/python3. */
export function pythonCandidates(choices: PythonChoices): PythonCandidate[] {
  const all: { path: string | null | undefined; source: PythonSource }[] = [
    { path: choices.flag, source: '--python' },
    { path: choices.setting, source: 'deferredNorm.python setting' },
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

/** A probe's outcome: torch's version, or why this interpreter cannot run the patch. */
export type ProbeResult = { ok: true; torch: string } | { ok: false; why: string };

export interface ProbedPython extends PythonCandidate {
  result: ProbeResult;
}

/**
 * The first candidate whose probe finds torch (later ones are not run), and everything probed on the
 * way, for the message when none does.
 */
export async function findTorchPython(candidates: readonly PythonCandidate[], probe: (path: string) => Promise<ProbeResult>): Promise<{ found: ProbedPython | null; tried: ProbedPython[] }> {
  const tried: ProbedPython[] = [];
  for (const c of candidates) {
    const probed = { ...c, result: await probe(c.path) };
    tried.push(probed);
    if (probed.result.ok) return { found: probed, tried };
  }
  return { found: null, tried };
}

/** One line: none of the interpreters tried can import torch, each with its reason, and how to name one. */
export function noTorchMessage(tried: readonly ProbedPython[], how = '--python PATH or the deferredNorm.python setting'): string {
  const each = tried.map((t) => `${t.path} (${t.source}): ${t.result.ok ? `torch ${t.result.torch}` : t.result.why}`);
  return `no Python with PyTorch found (the patch needs torch >= 1.13); tried ${each.length === 0 ? 'nothing' : each.join('; ')}. Name an interpreter that has it with ${how}.`;
}

/** A probe's exit as a reason: the last line of its stderr ("ModuleNotFoundError: No module named 'torch'"), or how it ended. */
export function probeFailure(outcome: { code: number | null; signal: string | null; stderr: string; timedOut: boolean; spawnError?: string }): string {
  if (outcome.spawnError !== undefined) return outcome.spawnError === 'ENOENT' ? 'not found' : `could not be started (${outcome.spawnError})`;
  if (outcome.timedOut) return 'did not answer in time';
  const last = outcome.stderr.trim().split('\n').pop()?.trim();
  if (last) return last.length > 200 ? `${last.slice(0, 200)}…` : last;
  return outcome.signal ? `ended by ${outcome.signal}` : `exited with ${outcome.code}`;
}
