import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../core/errors';
import { readTextFile } from '../core/files';
import { getPreset } from '../core/hardware/presets';
import type { HardwareProfile } from '../core/hardware/profile';
import { parseMeasurements, type Measurements } from '../core/measure/types';
import { loadModel } from '../core/model/load';
import type { ModelSpec } from '../core/model/spec';
import { measuredSource, type MeasuredSource } from '../core/validate/measured';
import { POINTS } from '../core/validate/points';
import type { ValidateInputs } from '../core/validate/validate';
import { defaultBase } from './calibrate';

/**
 * The models `validate` simulates are the repository's own fixtures (test/fixtures/configs, real
 * published configs, see SOURCES.md there), found from this file upwards: dist/ in the bundle,
 * src/cli/ when run from source.
 */
export function fixturesDir(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'fixtures', 'configs');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new InputError('validate', '', "the repository's test/fixtures/configs folder (validate runs from a checkout of the project)", 'none above ' + from);
}

/** Loads every fixture the points name and hands out presets: what validate() needs. */
export async function validationInputs(dir: string = fixturesDir()): Promise<ValidateInputs> {
  const specs = new Map<string, ModelSpec>();
  for (const model of new Set(POINTS.map((p) => p.model))) specs.set(model, await loadModel(join(dir, model, 'config.json')));
  return { specs, hardware: getPreset };
}

/**
 * The measurements files of `validate`: each --measurements, and the files after it
 * (`--measurements a.json b.json`); anything after "validate" without --measurements is a mistake.
 */
export function measurementFiles(flagged: readonly string[] | undefined, rest: readonly string[]): string[] {
  if (!flagged && rest.length > 0) throw new InputError('command line', '', 'nothing after "validate" but its options (--measurements FILE…, --hardware, --format)', JSON.stringify(rest[0]));
  return [...(flagged ?? []), ...rest];
}

/** The profile a file is simulated on without --hardware: calibrate's base for its device (the GPU preset its name names), else `cpu`. */
export function defaultHardwareOf(m: Measurements): string {
  try {
    return defaultBase(m.provenance.device, m.provenance.deviceName);
  } catch (err) {
    if (err instanceof InputError) return 'cpu';
    throw err;
  }
}

/**
 * Reads each measurements file through the bounded file edge and the measurements reader, loads the
 * model it names, and compares its blocks on the profile `hardwareFor` picks. A bad file is one
 * InputError naming it and the field.
 */
export async function measuredSources(files: readonly string[], hardwareFor: (m: Measurements) => Promise<HardwareProfile>): Promise<MeasuredSource[]> {
  const out: MeasuredSource[] = [];
  for (const file of files) {
    const measurements = parseMeasurements(await readTextFile(file, 'measurements'), file);
    let spec: ModelSpec;
    try {
      spec = await loadModel(measurements.model.path);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(file, 'model.path', 'the model the measurements were taken for, still at that path', `${JSON.stringify(measurements.model.path)}: ${err.message}`);
      throw err;
    }
    out.push(measuredSource({ file, measurements, spec }, await hardwareFor(measurements)));
  }
  return out;
}
