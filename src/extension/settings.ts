/**
 * The deferredNorm.* settings as a workload. Pure: it takes a getter, so it is unit-tested without
 * VS Code; bad values fall back to the defaults and are named, never thrown at the user mid-command.
 */
import type { WorkloadInput } from '../common/protocol';
import { DTYPES } from '../core/hardware/profile';
import { DEFER_DEPTH_LIMITS, PHASES, SOFTMAX_OFFSETS, WORKLOAD_LIMITS } from '../core/terms';
import { DEFAULT_REQUEST, type TpRequest } from '../core/workload';

export type SettingGetter = (key: string) => unknown;

const { tiles: _tiles, ...DEFAULTS }: typeof DEFAULT_REQUEST = DEFAULT_REQUEST;

/** The core's choices, the default first (as the settings' enums in package.json list them). */
const defaultFirst = <T extends string>(all: readonly T[], first: T): T[] => [first, ...all.filter((x) => x !== first)];

/** The core's limits, by the setting each workload field is read from. */
const LIMITS = { batch: WORKLOAD_LIMITS.batch, sequenceLength: WORKLOAD_LIMITS.seq, context: WORKLOAD_LIMITS.context, tensorParallel: WORKLOAD_LIMITS.tp } as const;

export interface SettingsWorkload {
  workload: WorkloadInput;
  /** Settings whose values were not usable, with what was expected. */
  ignored: string[];
}

export function workloadFromSettings(get: SettingGetter): SettingsWorkload {
  const ignored: string[] = [];
  const int = (key: keyof typeof LIMITS, fallback: number): number => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= LIMITS[key]) return v;
    ignored.push(`deferredNorm.${key}: expected a whole number from 1 to ${LIMITS[key]}`);
    return fallback;
  };
  const choice = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    ignored.push(`deferredNorm.${key}: expected one of ${allowed.join(', ')}`);
    return fallback;
  };
  // "auto" (the default): the smallest degree at which the model fits the hardware; a number is kept.
  const tpSetting = (): TpRequest => {
    const v = get('tensorParallel');
    if (v === undefined || v === 'auto') return 'auto';
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= LIMITS.tensorParallel) return v;
    ignored.push(`deferredNorm.tensorParallel: expected "auto" or a whole number from 1 to ${LIMITS.tensorParallel}`);
    return DEFAULTS.tp;
  };
  const dtype = choice('dtype', ['default', ...DTYPES], 'default');
  return {
    workload: {
      phase: choice('phase', defaultFirst(PHASES, DEFAULTS.phase), DEFAULTS.phase),
      batch: int('batch', DEFAULTS.batch),
      seq: int('sequenceLength', DEFAULTS.seq),
      context: int('context', DEFAULTS.context),
      tp: tpSetting(),
      dtype: dtype === 'default' ? null : dtype,
      softmaxOffset: choice('softmaxOffset', defaultFirst(SOFTMAX_OFFSETS, DEFAULTS.softmaxOffset), DEFAULTS.softmaxOffset),
      deferDepth: choice('deferDepth', defaultFirst(DEFER_DEPTH_LIMITS, DEFAULTS.deferDepth), DEFAULTS.deferDepth),
    },
    ignored,
  };
}

/** The setting (under deferredNorm.) each workload field is read from. */
export const SETTING_OF_FIELD: Readonly<Record<keyof WorkloadInput, string>> = {
  phase: 'phase',
  batch: 'batch',
  seq: 'sequenceLength',
  context: 'context',
  tp: 'tensorParallel',
  dtype: 'dtype',
  softmaxOffset: 'softmaxOffset',
  deferDepth: 'deferDepth',
};

/**
 * The current workload after a settings change: each field whose setting changed takes the setting's
 * value; the others keep what was chosen (in the panel), so editing one setting never undoes the rest.
 */
export function mergeSettingsChange(current: WorkloadInput, fromSettings: WorkloadInput, changedSetting: (setting: string) => boolean): WorkloadInput {
  const next: WorkloadInput = { ...current };
  for (const field of Object.keys(SETTING_OF_FIELD) as (keyof WorkloadInput)[]) {
    if (changedSetting(SETTING_OF_FIELD[field])) (next as Record<keyof WorkloadInput, unknown>)[field] = fromSettings[field];
  }
  return next;
}
