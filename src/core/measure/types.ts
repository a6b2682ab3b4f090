/**
 * The measurements file the harness writes (python/deferred_norm_harness.py) and `calibrate` reads:
 * the types, and a reader that checks an untrusted file against the rules of
 * schemas/measurements.schema.json, throwing one InputError naming the file, the field and what was
 * expected. Pure: the caller reads the bytes.
 */
import { InputError, describeValue } from '../errors';
import { isObject, parseLenientJson, type JsonObject } from '../json';

export const MEASUREMENTS_SCHEMA = 'deferred-norm-measurements/1';

export type MeasureDevice = 'cpu' | 'cuda';
export type MeasureDtype = 'fp32' | 'bf16' | 'fp16';
export const MEASURE_DTYPES: readonly MeasureDtype[] = ['fp32', 'bf16', 'fp16'];

/** How a time was taken, and what it is: the median and spread of `samples` samples, each the mean of `inner` calls. */
export interface Timing {
  medianUs: number;
  p10Us: number;
  p90Us: number;
  samples: number;
  inner: number;
  timing: 'perf_counter' | 'cuda-events' | 'cuda-graph';
}

export type Entry = Timing &
  (
    | { kind: 'launch'; name: string; engine: 'vector' | 'matrix' }
    | { kind: 'stream'; name: string; elements: number; bytes: number }
    | { kind: 'gemm'; name: string; m: number; k: number; n: number }
    | { kind: 'norm'; name: string; norm: 'rmsnorm' | 'layernorm'; impl: 'eager' | 'fused'; rows: number; width: number }
    | { kind: 'attention'; name: string; impl: 'eager' | 'sdpa'; batch: number; heads: number; kvHeads: number; headDim: number; queries: number; keys: number }
    | { kind: 'block'; site: string; layerKind: string; norm: string; rows: number; width: number; consumers: string[]; variant: 'standard' | 'deferred' }
  );

export type EntryKind = Entry['kind'];

export interface MeasureProvenance {
  device: MeasureDevice;
  deviceName: string;
  torch: string;
  python: string;
  dtype: MeasureDtype;
  threads: number;
  /** ISO date of the run (UTC). */
  date: string;
  /** Everything else the harness could read (driver, clocks, platform): shown, never computed with. */
  extra: Record<string, string | number>;
}

/** The workload the shapes come from, as the CLI named it. */
export interface MeasuredWorkload {
  phase: 'prefill' | 'decode';
  batch: number;
  seq: number;
  context: number;
  tp: number;
  /** Rows of every GEMM's input (M) at this workload. */
  m: number;
}

export interface Measurements {
  schema: typeof MEASUREMENTS_SCHEMA;
  provenance: MeasureProvenance;
  model: { name: string; path: string };
  workload: MeasuredWorkload;
  quick: boolean;
  entries: Entry[];
  /** What the harness did not measure, and why (e.g. torch 1.13 has no F.rms_norm). */
  skipped: { what: string; why: string }[];
}

/** The caps a reader keeps to (a real file has a few hundred entries). */
export const MEASUREMENT_LIMITS = { entries: 10_000, consumers: 64, text: 1000 } as const;

export function parseMeasurements(text: string, file: string): Measurements {
  return validateMeasurements(parseLenientJson(text, file), file);
}

class Reader {
  constructor(readonly file: string) {}

  fail(field: string, expected: string, value: unknown): never {
    throw new InputError(this.file, field, expected, describeValue(value));
  }

  object(value: unknown, field: string, what: string): JsonObject {
    if (!isObject(value)) this.fail(field, `an object (${what})`, value);
    return value;
  }

  string(o: JsonObject, key: string, at: string): string {
    const v = o[key];
    if (typeof v !== 'string' || v.length === 0 || v.length > MEASUREMENT_LIMITS.text) this.fail(join(at, key), `a non-empty string of at most ${MEASUREMENT_LIMITS.text} characters`, v);
    return v;
  }

  oneOf<T extends string>(o: JsonObject, key: string, at: string, allowed: readonly T[]): T {
    const v = o[key];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(join(at, key), `one of ${allowed.join(', ')}`, v);
    return v as T;
  }

  count(o: JsonObject, key: string, at: string, min = 1): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(join(at, key), `a whole number of at least ${min}`, v);
    return v;
  }

  /** A time in µs: finite and above zero (a zero time would make every rate infinite). */
  time(o: JsonObject, key: string, at: string): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1e9) this.fail(join(at, key), 'a time in µs above 0 and at most 10^9', v);
    return v;
  }

  boolean(o: JsonObject, key: string, at: string): boolean {
    const v = o[key];
    if (typeof v !== 'boolean') this.fail(join(at, key), 'true or false', v);
    return v;
  }

  array(o: JsonObject, key: string, at: string, max: number): unknown[] {
    const v = o[key];
    if (!Array.isArray(v) || v.length > max) this.fail(join(at, key), `an array of at most ${max} items`, v);
    return v;
  }
}

const join = (at: string, key: string) => (at === '' ? key : `${at}.${key}`);

export function validateMeasurements(value: unknown, file: string): Measurements {
  const r = new Reader(file);
  const root = r.object(value, '', 'the measurements a harness wrote');
  if (root.schema !== MEASUREMENTS_SCHEMA) r.fail('schema', JSON.stringify(MEASUREMENTS_SCHEMA), root.schema);
  const p = r.object(root.provenance, 'provenance', 'device, deviceName, torch, python, dtype, threads, date');
  const extra: Record<string, string | number> = {};
  const known = ['device', 'deviceName', 'torch', 'python', 'dtype', 'threads', 'date'];
  for (const [key, v] of Object.entries(p)) {
    if (known.includes(key)) continue;
    if ((typeof v === 'string' && v.length <= MEASUREMENT_LIMITS.text) || (typeof v === 'number' && Number.isFinite(v))) extra[key] = v;
    else r.fail(`provenance.${key}`, 'a string or a finite number', v);
  }
  const provenance: MeasureProvenance = {
    device: r.oneOf(p, 'device', 'provenance', ['cpu', 'cuda'] as const),
    deviceName: r.string(p, 'deviceName', 'provenance'),
    torch: r.string(p, 'torch', 'provenance'),
    python: r.string(p, 'python', 'provenance'),
    dtype: r.oneOf(p, 'dtype', 'provenance', MEASURE_DTYPES),
    threads: r.count(p, 'threads', 'provenance'),
    date: r.string(p, 'date', 'provenance'),
    extra,
  };
  const m = r.object(root.model, 'model', 'name, path');
  const model = { name: r.string(m, 'name', 'model'), path: r.string(m, 'path', 'model') };
  const w = r.object(root.workload, 'workload', 'phase, batch, seq, context, tp, m');
  const workload: MeasuredWorkload = {
    phase: r.oneOf(w, 'phase', 'workload', ['prefill', 'decode'] as const),
    batch: r.count(w, 'batch', 'workload'),
    seq: r.count(w, 'seq', 'workload'),
    context: r.count(w, 'context', 'workload'),
    tp: r.count(w, 'tp', 'workload'),
    m: r.count(w, 'm', 'workload'),
  };
  const entries = r.array(root, 'entries', '', MEASUREMENT_LIMITS.entries).map((e, i) => entryOf(r, e, `entries[${i}]`));
  if (entries.length === 0) r.fail('entries', 'at least one measurement', root.entries);
  const skipped = r.array(root, 'skipped', '', MEASUREMENT_LIMITS.entries).map((s, i) => {
    const o = r.object(s, `skipped[${i}]`, 'what, why');
    return { what: r.string(o, 'what', `skipped[${i}]`), why: r.string(o, 'why', `skipped[${i}]`) };
  });
  return { schema: MEASUREMENTS_SCHEMA, provenance, model, workload, quick: r.boolean(root, 'quick', ''), entries, skipped };
}

const TIMINGS = ['perf_counter', 'cuda-events', 'cuda-graph'] as const;

function entryOf(r: Reader, value: unknown, at: string): Entry {
  const o = r.object(value, at, 'one measurement: kind, its shape, medianUs, p10Us, p90Us, samples, inner, timing');
  const kind = r.oneOf(o, 'kind', at, ['launch', 'stream', 'gemm', 'norm', 'attention', 'block'] as const);
  const t: Timing = {
    medianUs: r.time(o, 'medianUs', at),
    p10Us: r.time(o, 'p10Us', at),
    p90Us: r.time(o, 'p90Us', at),
    samples: r.count(o, 'samples', at),
    inner: r.count(o, 'inner', at),
    timing: r.oneOf(o, 'timing', at, TIMINGS),
  };
  if (!(t.p10Us <= t.medianUs && t.medianUs <= t.p90Us)) r.fail(`${at}.medianUs`, 'p10Us ≤ medianUs ≤ p90Us', `${t.p10Us} / ${t.medianUs} / ${t.p90Us}`);
  const c = (key: string) => r.count(o, key, at);
  switch (kind) {
    case 'launch':
      return { ...t, kind, name: r.string(o, 'name', at), engine: r.oneOf(o, 'engine', at, ['vector', 'matrix'] as const) };
    case 'stream':
      return { ...t, kind, name: r.string(o, 'name', at), elements: c('elements'), bytes: c('bytes') };
    case 'gemm':
      return { ...t, kind, name: r.string(o, 'name', at), m: c('m'), k: c('k'), n: c('n') };
    case 'norm':
      return { ...t, kind, name: r.string(o, 'name', at), norm: r.oneOf(o, 'norm', at, ['rmsnorm', 'layernorm'] as const), impl: r.oneOf(o, 'impl', at, ['eager', 'fused'] as const), rows: c('rows'), width: c('width') };
    case 'attention':
      return { ...t, kind, name: r.string(o, 'name', at), impl: r.oneOf(o, 'impl', at, ['eager', 'sdpa'] as const), batch: c('batch'), heads: c('heads'), kvHeads: c('kvHeads'), headDim: c('headDim'), queries: c('queries'), keys: c('keys') };
    case 'block': {
      const consumers = r.array(o, 'consumers', at, MEASUREMENT_LIMITS.consumers).map((name, i) => {
        if (typeof name !== 'string' || name.length === 0 || name.length > MEASUREMENT_LIMITS.text) r.fail(`${at}.consumers[${i}]`, 'a linear layer\'s name', name);
        return name;
      });
      if (consumers.length === 0) r.fail(`${at}.consumers`, 'the names of the linear layers the norm feeds (at least one)', o.consumers);
      return { ...t, kind, site: r.string(o, 'site', at), layerKind: r.string(o, 'layerKind', at), norm: r.string(o, 'norm', at), rows: c('rows'), width: c('width'), consumers, variant: r.oneOf(o, 'variant', at, ['standard', 'deferred'] as const) };
    }
  }
}
