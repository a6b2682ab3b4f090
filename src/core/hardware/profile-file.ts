/**
 * A user's *.hardware.json read into a profile: validated (validate.ts), and renamed where it takes a
 * preset's name (presets.ts). Its own module because the presets are themselves validated.
 */
import { parseLenientJson } from '../json';
import { isPresetName } from './presets';
import type { HardwareProfile } from './profile';
import { validateHardwareProfile } from './validate';

/**
 * A user's profile file. One whose `name` is a preset's keeps its numbers but takes its file's name
 * ("lab.hardware.json"), and its description says why, so no report, comparison or hover reads as the
 * built-in preset; the new name is still a valid id, so `hardware show FILE --format json` round-trips.
 */
export function parseHardwareProfile(text: string, file: string): HardwareProfile {
  const profile = validateHardwareProfile(parseLenientJson(text, file), file);
  if (!isPresetName(profile.name)) return profile;
  const base = file.split(/[\\/]/).pop() ?? file;
  const name = fileProfileName(base);
  return {
    ...profile,
    name,
    title: profile.title === profile.name ? `${profile.name} profile from ${base}` : profile.title,
    description: `Named "${profile.name}" in ${base}, like the preset; shown by its file name. ${profile.description}`.trimEnd(),
  };
}

/** A file name as a profile id (letters, digits, ".", "_", "-"), never a preset's. */
function fileProfileName(base: string): string {
  const id = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'profile';
  return isPresetName(id) ? `${id}.file` : id;
}
