/**
 * Where a model's measurements are kept (.deferred-norm/measurements beside the model, inside it for a
 * folder), and the newest of them read through the file edge for the panel: one file, capped as a
 * `measurements` kind, checked by the same reader as calibrate's. A file that cannot be read or is not
 * a measurements file becomes one line for the panel, never an exception.
 */
import { dirname, join } from 'node:path';
import { InputError } from '../core/errors';
import { listFolder, pathKind, readTextFile } from '../core/files';
import { parseMeasurements } from '../core/measure/types';
import type { LatestMeasurements } from './panel-view';

/** The folder measurements of a model are saved in. */
export async function measurementsDir(modelPath: string): Promise<string> {
  const base = (await pathKind(modelPath)) === 'folder' ? modelPath : dirname(modelPath);
  return join(base, '.deferred-norm', 'measurements');
}

/** The time stamp `deferred-norm measure` puts at the end of a run's name (…-2026-12-06T21-03-39Z.json). */
const STAMP = /(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)\.json$/;

/** The newest measurements file beside the model (by its name's time stamp, then its name), or null when there is none. */
export async function readLatestMeasurements(modelPath: string): Promise<LatestMeasurements | null> {
  const dir = await measurementsDir(modelPath);
  if ((await pathKind(dir)) !== 'folder') return null;
  const names = (await listFolder(dir)).filter((n) => n.endsWith('.json'));
  const key = (n: string) => `${STAMP.exec(n)?.[1] ?? ''} ${n}`;
  const newest = names.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).pop();
  if (newest === undefined) return null;
  const file = join(dir, newest);
  try {
    return { file, measurements: parseMeasurements(await readTextFile(file, 'measurements'), file) };
  } catch (err) {
    if (err instanceof InputError) return { file, error: err.message };
    throw err;
  }
}
