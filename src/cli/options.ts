import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../core/errors';
import { DTYPES, type Dtype } from '../core/hardware/profile';
import { DEFAULT_REQUEST, DEFAULT_WORKLOAD, DEFER_DEPTH_LIMITS, SOFTMAX_OFFSETS, TP_AUTO, validateWorkload, type DeferDepthLimit, type Phase, type TpRequest, type WorkloadRequest } from '../core/workload';
import type { SoftmaxOffset } from '../core/terms';

/** Options every verb may take; each verb reads the ones it needs. */
export const OPTIONS = {
  hardware: { type: 'string' },
  set: { type: 'string', multiple: true },
  'set-range': { type: 'string', multiple: true },
  phase: { type: 'string' },
  batch: { type: 'string' },
  seq: { type: 'string' },
  context: { type: 'string' },
  tp: { type: 'string' },
  dtype: { type: 'string' },
  'softmax-offset': { type: 'string' },
  'defer-depth': { type: 'string' },
  tiles: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  site: { type: 'string' },
  seed: { type: 'string' },
  measurements: { type: 'string', multiple: true },
  python: { type: 'string' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  debug: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

export type ParsedOptions = ReturnType<typeof parseCommandLine>['values'];

/** Flags that take a whole number ≥ 1 (lists of them in a sweep). */
const COUNT_FLAGS = new Set(['batch', 'seq', 'context', 'tp', 'tiles', 'seed']);

export function parseCommandLine(argv: string[]) {
  // `--seq -5`: node:util calls the value ambiguous (it starts with a dash); say what the flag takes.
  argv.forEach((arg, i) => {
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    const next = argv[i + 1];
    if (!Object.hasOwn(OPTIONS, name) || OPTIONS[name as keyof typeof OPTIONS].type !== 'string' || next === undefined || !next.startsWith('-')) return;
    if (!/^-[\d.]/.test(next)) return;
    if (COUNT_FLAGS.has(name)) throw new InputError(arg, '', 'a whole number of at least 1', JSON.stringify(next));
    throw new InputError(arg, '', `a value; one that starts with "-" is written ${arg}=${next}`, JSON.stringify(next));
  });
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util explains unknown or malformed options in one sentence; keep it.
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    throw new InputError('command line', '', 'known options (see deferred-norm --help)', message);
  }
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new InputError(flag, '', `one of ${allowed.join(', ')}`, JSON.stringify(value));
  return value as T;
}

/** A whole number ≥ 1 from a flag. */
export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InputError(flag, '', 'a whole number of at least 1', JSON.stringify(value));
  }
  return n;
}

/** A comma-separated list of whole numbers (for sweeps). */
export function intList(flag: string, value: string): number[] {
  return value.split(',').map((part) => positiveInt(flag, part));
}

export function formatOption<T extends string>(values: ParsedOptions, allowed: readonly T[], fallback: T): T {
  return oneOf('--format', values.format, allowed, fallback);
}

/** `--tp auto` (the default: the smallest degree that fits, resolved against the model and hardware) or `--tp N`. */
export function tpOption(value: string | undefined): TpRequest {
  if (value === undefined || value.trim() === TP_AUTO) return DEFAULT_REQUEST.tp;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InputError('--tp', '', '"auto" or a whole number of at least 1', JSON.stringify(value));
  return n;
}

/** The workload named by the flags, defaults filled in (DEFAULT_REQUEST: the tensor-parallel degree 'auto'). */
export function workloadFrom(values: ParsedOptions, overrides: Partial<WorkloadRequest> = {}): WorkloadRequest {
  const int = (flag: keyof ParsedOptions, fallback: number) => {
    const v = values[flag];
    return typeof v === 'string' ? positiveInt(`--${flag}`, v) : fallback;
  };
  const w: WorkloadRequest = {
    phase: oneOf<Phase>('--phase', values.phase, ['prefill', 'decode'], DEFAULT_WORKLOAD.phase),
    batch: int('batch', DEFAULT_WORKLOAD.batch),
    seq: int('seq', DEFAULT_WORKLOAD.seq),
    context: int('context', DEFAULT_WORKLOAD.context),
    tp: tpOption(values.tp),
    dtype: values.dtype === undefined ? null : oneOf<Dtype>('--dtype', values.dtype, DTYPES, 'bf16'),
    softmaxOffset: oneOf<SoftmaxOffset>('--softmax-offset', values['softmax-offset'], SOFTMAX_OFFSETS, DEFAULT_WORKLOAD.softmaxOffset),
    deferDepth: oneOf<DeferDepthLimit>('--defer-depth', values['defer-depth'], DEFER_DEPTH_LIMITS, DEFAULT_WORKLOAD.deferDepth),
    tiles: int('tiles', DEFAULT_WORKLOAD.tiles),
    ...overrides,
  };
  return validateWorkload(w, 'command line');
}
