import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../core/errors';
import { getPreset } from '../core/hardware/presets';
import { loadModel } from '../core/model/load';
import type { ModelSpec } from '../core/model/spec';
import { POINTS } from '../core/validate/points';
import type { ValidateInputs } from '../core/validate/validate';

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
