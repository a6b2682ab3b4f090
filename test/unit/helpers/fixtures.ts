import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../../src/core/model/load';
import type { ModelSpec } from '../../../src/core/model/spec';

/** The project's own copies of real model configurations (see SOURCES.md in each folder). */
export const FIXTURE_DIRS = [join(__dirname, '..', '..', 'fixtures', 'configs'), join(__dirname, '..', '..', 'fixtures', 'configs-extra')];

/** Fixtures that hold no attention to profile (pure state-space models). */
const UNPROFILABLE = /mamba/i;

export function fixturePath(name: string): string {
  for (const dir of FIXTURE_DIRS) {
    const path = join(dir, name, 'config.json');
    if (existsSync(path)) return path;
  }
  throw new Error(`no fixture named ${name}`);
}

export function allFixtures(): string[] {
  return FIXTURE_DIRS.filter(existsSync).flatMap((dir) => readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name));
}

export function profiledFixtures(): string[] {
  return allFixtures().filter((name) => !UNPROFILABLE.test(name));
}

const cache = new Map<string, Promise<ModelSpec>>();
export function loadFixture(name: string): Promise<ModelSpec> {
  let spec = cache.get(name);
  if (!spec) cache.set(name, (spec = loadModel(fixturePath(name))));
  return spec;
}
