/**
 * The process half of the Python finder (src/common/python-finder.ts, where the order is): runs one
 * interpreter with a timeout and says whether it imports torch >= 1.13. Shared by the CLI and the
 * extension host (both Node).
 */
import { execFile } from 'node:child_process';
import { findTorchPython, probeAnswer, probeFailure, pythonCandidates, TORCH_PROBE_ARGS, type ProbeResult, type PythonChoices } from '../common/python-finder';

/** Importing torch reads hundreds of shared objects; a cold start on a slow disk takes tens of seconds. */
export const PROBE_TIMEOUT_MS = 60_000;

export function probePython(path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(path, [...TORCH_PROBE_ARGS], { timeout: timeoutMs, maxBuffer: 1 << 16, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) {
        resolve(probeAnswer(String(stdout)));
        return;
      }
      const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string | null };
      const spawnError = typeof e.code === 'string' ? e.code : undefined;
      resolve({ ok: false, why: probeFailure({ code: typeof e.code === 'number' ? e.code : null, signal: e.signal ?? null, stderr: String(stderr), timedOut: e.killed === true && spawnError === undefined, timeoutMs, ...(spawnError !== undefined ? { spawnError } : {}) }) });
    });
  });
}

/** The first interpreter, in the finder's order, that imports torch; $DEFERRED_NORM_PYTHON is read here unless given. */
export function findPython(choices: PythonChoices, probe: (path: string) => Promise<ProbeResult> = (path) => probePython(path)) {
  return findTorchPython(pythonCandidates({ environment: process.env['DEFERRED_NORM_PYTHON'] ?? null, ...choices }), probe);
}
