/**
 * The chat tool's input, as a language model sends it: checked field by field into a model path,
 * an optional hardware name or file, and a workload over the settings' defaults. Pure (no vscode):
 * a bad field is an InputError naming it, which the tool returns as one line of text. Ranges are
 * checked by the core's validateWorkload, the same as for the CLI and the panel.
 */
import { InputError, describeValue } from '../../core/errors';
import { DTYPES, type Dtype } from '../../core/hardware/profile';
import type { SoftmaxOffset } from '../../core/terms';
import { SOFTMAX_OFFSETS, type Phase } from '../../core/workload';
import type { WorkloadInput } from '../../common/protocol';

/** The tool's input schema (package.json contributes.languageModelTools) as a type. */
export interface ProfileToolInput {
  model: string;
  hardware?: string;
  phase?: Phase;
  batch?: number;
  seq?: number;
  context?: number;
  tp?: number | 'auto';
  dtype?: Dtype | 'default';
  softmaxOffset?: SoftmaxOffset;
}

export interface ParsedToolInput {
  model: string;
  /** A preset name or a *.hardware.json path as given; null takes the workspace's chosen hardware. */
  hardware: string | null;
  workload: WorkloadInput;
}

const SOURCE = 'input';
const INTEGER_FIELDS = ['batch', 'seq', 'context', 'tp'] as const;

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError(SOURCE, field, `one of ${allowed.join(', ')}`, describeValue(value));
}

export function parseToolInput(raw: unknown, defaults: WorkloadInput): ParsedToolInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(SOURCE, '', 'an object with at least "model"', describeValue(raw));
  const input = raw as Record<string, unknown>;
  const given = (field: string): unknown => (input[field] === null ? undefined : input[field]);
  const model = given('model');
  if (typeof model !== 'string' || model.trim() === '') {
    throw new InputError(SOURCE, 'model', 'the path of a config.json, a model folder, a .gguf or a .safetensors file (relative to the workspace or absolute)', describeValue(model));
  }
  const hardware = given('hardware');
  if (hardware !== undefined && (typeof hardware !== 'string' || hardware.trim() === '')) {
    throw new InputError(SOURCE, 'hardware', 'a preset name (dimc, gpu-h100, tpu-v5e) or the path of a *.hardware.json file', describeValue(hardware));
  }
  const workload: WorkloadInput = { ...defaults };
  for (const field of INTEGER_FIELDS) {
    const value = given(field);
    if (value === undefined) continue;
    // The tensor-parallel degree may be "auto": the smallest that fits (the settings' default).
    if (field === 'tp' && value === 'auto') {
      workload.tp = 'auto';
      continue;
    }
    if (typeof value !== 'number') throw new InputError(SOURCE, field, field === 'tp' ? '"auto" or a whole number' : 'a whole number', describeValue(value));
    workload[field] = value;
  }
  const phase = given('phase');
  if (phase !== undefined) workload.phase = oneOf<Phase>(phase, 'phase', ['prefill', 'decode']);
  const dtype = given('dtype');
  if (dtype !== undefined) {
    const chosen = oneOf<Dtype | 'default'>(dtype, 'dtype', ['default', ...DTYPES]);
    workload.dtype = chosen === 'default' ? null : chosen;
  }
  const offset = given('softmaxOffset');
  if (offset !== undefined) workload.softmaxOffset = oneOf(offset, 'softmaxOffset', SOFTMAX_OFFSETS);
  return { model: model.trim(), hardware: typeof hardware === 'string' ? hardware.trim() : null, workload };
}
