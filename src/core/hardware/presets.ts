/**
 * The built-in hardware profiles. Each is a data file in ./presets (bundled by
 * esbuild), validated once, on first use, by the same validator as user files.
 */
import { InputError } from '../errors';
import type { HardwareProfile } from './profile';
import { validateHardwareProfile } from './validate';
import cpu from './presets/cpu.json';
import dimc from './presets/dimc.json';
import gpuA100 from './presets/gpu-a100.json';
import gpuH100 from './presets/gpu-h100.json';
import gpuT4 from './presets/gpu-t4.json';
import tpuV5e from './presets/tpu-v5e.json';

/** The preset used when no hardware is named. */
export const DEFAULT_HARDWARE = 'dimc';

export interface PresetInfo {
  name: string;
  title: string;
  description: string;
}

const RAW: readonly { file: string; data: unknown }[] = [
  { file: 'presets/cpu.json', data: cpu },
  { file: 'presets/dimc.json', data: dimc },
  { file: 'presets/gpu-a100.json', data: gpuA100 },
  { file: 'presets/gpu-h100.json', data: gpuH100 },
  { file: 'presets/gpu-t4.json', data: gpuT4 },
  { file: 'presets/tpu-v5e.json', data: tpuV5e },
];

let loaded: Map<string, HardwareProfile> | undefined;

function presets(): Map<string, HardwareProfile> {
  if (!loaded) {
    const map = new Map<string, HardwareProfile>();
    for (const { file, data } of RAW) {
      const profile = validateHardwareProfile(data, file);
      map.set(profile.name, profile);
    }
    loaded = map;
  }
  return loaded;
}

export function listPresets(): PresetInfo[] {
  return [...presets().values()].map(({ name, title, description }) => ({ name, title, description }));
}

export function isPresetName(name: string): boolean {
  return presets().has(name);
}

/** A fresh copy of a preset (callers may change it freely). Unknown names throw an InputError listing the known ones. */
export function getPreset(name: string): HardwareProfile {
  const profile = presets().get(name);
  if (!profile) {
    const names = [...presets().keys()];
    throw new InputError('--hardware', '', `a preset name (${names.join(', ')}) or a *.hardware.json file`, JSON.stringify(name));
  }
  return structuredClone(profile);
}
