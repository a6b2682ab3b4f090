/**
 * Checks an untrusted value (a user's *.hardware.json, a preset, the result of
 * `--set`) against the rules of schemas/hardware-profile.schema.json, plus the
 * few rules a schema cannot state (tier references, unique names, a peak rate
 * for the default dtype, provenance keys that name real fields). The first
 * problem found is thrown as an InputError naming the file, the field path and
 * what was expected. The result is a fresh object in canonical field order with
 * every parameter's provenance filled in.
 */
import { InputError, describeValue } from '../errors';
import { isObject } from '../json';
import { DTYPES, type CalibrationRecord, type HardwareProfile } from './profile';
import { formatPath, isParameter, leaves, resolvePath, suggest, type PathSegment } from './paths';
import { PROFILE_SPEC, expectedText, leafAccepts, type NodeSpec, type ObjectSpec } from './spec';

/** Top-level fields that are not part of PROFILE_SPEC. */
const META_FIELDS = ['$schema', 'provenance', 'sources', 'calibration'] as const;

/**
 * The most memory tiers a profile may list (the schema's maxItems). Real machines have two to four
 * (SRAM, HBM, host DRAM, disk); the bound keeps every per-tier step of a sweep point small.
 */
export const MAX_MEMORY_TIERS = 16;
/** The most points `matrix.efficiencyByShape` may hold (calibrate writes a few dozen; each GEMM looks through them). */
export const MAX_SHAPE_POINTS = 1024;

export function validateHardwareProfile(value: unknown, file: string): HardwareProfile {
  if (!isObject(value)) {
    throw new InputError(file, '', 'a JSON object describing a hardware profile', describeValue(value));
  }
  checkListSizes(value, file);
  const body = checkObject(PROFILE_SPEC, value, [], file, META_FIELDS);
  if (body.title === undefined) body.title = body.name;
  if (body.description === undefined) body.description = '';

  const profile = body as unknown as HardwareProfile;
  checkCrossFieldRules(profile, file);

  const schema = value.$schema;
  if (schema !== undefined && typeof schema !== 'string') {
    throw new InputError(file, '$schema', 'a string (the path or URL of the JSON schema)', describeValue(schema));
  }
  const sources = checkSources(value.sources, file);
  const provenance = checkProvenance(value.provenance, profile, file, value);
  const calibration = checkCalibration(value.calibration, file);

  return {
    ...(schema === undefined ? {} : { $schema: schema }),
    name: profile.name,
    title: profile.title,
    description: profile.description,
    defaultDtype: profile.defaultDtype,
    computeUnits: profile.computeUnits,
    matrix: profile.matrix,
    vector: profile.vector,
    collective: profile.collective,
    memory: profile.memory,
    kernels: profile.kernels,
    provenance,
    sources,
    ...(calibration === undefined ? {} : { calibration }),
  };
}

/** `calibration`, as calibrate writes it: the device and date measured, and the GEMM shapes measured. */
function checkCalibration(value: unknown, file: string): CalibrationRecord | undefined {
  if (value === undefined) return undefined;
  const expected = 'an object { device, date, measurements, shapes: { mMin, mMax, kMax, nMax } } as deferred-norm calibrate writes it';
  if (!isObject(value)) throw new InputError(file, 'calibration', expected, describeValue(value));
  const text = (key: 'device' | 'date'): string => {
    const v = value[key];
    if (typeof v !== 'string' || v.length === 0 || v.length > 1000) throw new InputError(file, `calibration.${key}`, 'a non-empty string of at most 1000 characters', describeValue(v));
    return v;
  };
  const count = (o: Record<string, unknown>, at: string, key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InputError(file, `${at}.${key}`, 'a whole number of at least 1', describeValue(v));
    return v;
  };
  const shapes = value.shapes;
  if (!isObject(shapes)) throw new InputError(file, 'calibration.shapes', 'an object { mMin, mMax, kMax, nMax }', describeValue(shapes));
  const s = { mMin: count(shapes, 'calibration.shapes', 'mMin'), mMax: count(shapes, 'calibration.shapes', 'mMax'), kMax: count(shapes, 'calibration.shapes', 'kMax'), nMax: count(shapes, 'calibration.shapes', 'nMax') };
  if (s.mMax < s.mMin) throw new InputError(file, 'calibration.shapes.mMax', `a number of rows at least mMin (${s.mMin})`, String(s.mMax));
  return { device: text('device'), date: text('date'), measurements: count(value, 'calibration', 'measurements'), shapes: s };
}

/**
 * The rules that involve more than one field. Exported for the overrides,
 * which re-check only these after changing a single value.
 */
export function checkCrossFieldRules(profile: HardwareProfile, file: string): void {
  checkListSizes(profile, file);
  const names = profile.memory.tiers.map((t) => t.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) {
      throw new InputError(file, `memory.tiers[${i}].name`, 'a name not used by another tier', JSON.stringify(name));
    }
  });
  for (const key of ['weightsTier', 'kvCacheTier', 'activationsTier'] as const) {
    if (key === 'activationsTier' && profile.memory[key] === undefined) continue;
    if (!names.includes(profile.memory[key]!)) {
      throw new InputError(
        file,
        `memory.${key}`,
        expectedText({ kind: 'tierRef', label: key }, names),
        JSON.stringify(profile.memory[key]),
      );
    }
  }
  const shapes = profile.matrix.efficiencyByShape ?? [];
  const seen = new Set<string>();
  shapes.forEach((p, i) => {
    const key = `${p.m}×${p.k}×${p.n}`;
    if (seen.has(key)) throw new InputError(file, `matrix.efficiencyByShape[${i}]`, 'a shape (m, k, n) not listed before', key);
    seen.add(key);
  });
  if (profile.matrix.peakTflops[profile.defaultDtype] === undefined) {
    const have = DTYPES.filter((d) => profile.matrix.peakTflops[d] !== undefined);
    throw new InputError(
      file,
      'defaultDtype',
      `a dtype that has a peak rate in matrix.peakTflops (${have.join(', ')})`,
      JSON.stringify(profile.defaultDtype),
    );
  }
}

/** Before anything walks the tiers (their names are checked pairwise) or the measured shapes. */
function checkListSizes(value: Record<string, unknown> | HardwareProfile, file: string): void {
  const memory: unknown = value.memory;
  const tiers = isObject(memory) ? memory.tiers : undefined;
  if (Array.isArray(tiers) && tiers.length > MAX_MEMORY_TIERS) {
    throw new InputError(file, 'memory.tiers', `at most ${MAX_MEMORY_TIERS} memory tiers`, `${tiers.length.toLocaleString('en-US')}`, 'limit');
  }
  const matrix: unknown = value.matrix;
  const points = isObject(matrix) ? matrix.efficiencyByShape : undefined;
  if (Array.isArray(points) && points.length > MAX_SHAPE_POINTS) {
    throw new InputError(file, 'matrix.efficiencyByShape', `at most ${MAX_SHAPE_POINTS} measured shapes`, `${points.length.toLocaleString('en-US')}`, 'limit');
  }
}

type Out = Record<string, unknown>;

function checkNode(spec: NodeSpec, value: unknown, at: PathSegment[], file: string): unknown {
  switch (spec.kind) {
    case 'object':
      if (!isObject(value)) throw new InputError(file, formatPath(at), objectExpected(spec), describeValue(value));
      return checkObject(spec, value, at, file, []);
    case 'dtypeRecord': {
      if (!isObject(value)) {
        throw new InputError(file, formatPath(at), `an object of peak rates keyed by dtype (${DTYPES.join(', ')})`, describeValue(value));
      }
      rejectUnknown(value, DTYPES, at, file, 'dtype');
      const out: Out = {};
      for (const d of DTYPES) if (value[d] !== undefined) out[d] = checkNode(spec.value, value[d], [...at, d], file);
      if (Object.keys(out).length === 0) {
        throw new InputError(file, formatPath(at), `a peak rate for at least one dtype (${DTYPES.join(', ')})`, 'an empty object');
      }
      return out;
    }
    case 'array': {
      if (!Array.isArray(value) || value.length < spec.minItems) {
        throw new InputError(file, formatPath(at), `an array of at least ${spec.minItems} ${spec.item.label}`, describeValue(value));
      }
      return value.map((item, i) => checkNode(spec.item, item, [...at, i], file));
    }
    default:
      if (!leafAccepts(spec, value)) throw new InputError(file, formatPath(at), expectedText(spec), describeValue(value));
      return value;
  }
}

function checkObject(spec: ObjectSpec, value: Record<string, unknown>, at: PathSegment[], file: string, extra: readonly string[]): Out {
  rejectUnknown(value, [...Object.keys(spec.fields), ...extra], at, file, 'field');
  const out: Out = {};
  for (const [key, child] of Object.entries(spec.fields)) {
    const v = value[key];
    if (v === undefined && spec.optional?.includes(key)) {
      const fallback = spec.defaults?.[key];
      // An object default ({} for `kernels`) is checked like a given one, so its own defaults fill in.
      if (fallback !== undefined) out[key] = checkNode(child, structuredClone(fallback), [...at, key], file);
      continue;
    }
    if (v === undefined) {
      const expected = child.kind === 'object' ? objectExpected(child) : nodeExpected(child);
      throw new InputError(file, formatPath([...at, key]), expected, 'nothing (the field is missing)');
    }
    out[key] = checkNode(child, v, [...at, key], file);
  }
  return out;
}

function rejectUnknown(value: Record<string, unknown>, known: readonly string[], at: PathSegment[], file: string, noun: string): void {
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const where = at.length === 0 ? 'a hardware profile' : formatPath(at);
  const list = `${noun === 'dtype' ? 'the dtypes' : `the fields of ${where}`}: ${known.join(', ')}`;
  if (unknown.length === 1) {
    const key = unknown[0]!;
    throw new InputError(file, formatPath([...at, key]), `only ${list}${suggest(key, known)}`, `an unknown ${noun} "${key}"`);
  }
  throw new InputError(file, formatPath(at), `only ${list}`, `unknown ${noun}s ${unknown.map((k) => `"${k}"`).join(', ')}`);
}

function objectExpected(spec: ObjectSpec): string {
  return `an object (${spec.label}: ${Object.keys(spec.fields).join(', ')})`;
}

function nodeExpected(spec: NodeSpec): string {
  switch (spec.kind) {
    case 'object':
      return objectExpected(spec);
    case 'dtypeRecord':
      return `an object of peak rates keyed by dtype (${DTYPES.join(', ')})`;
    case 'array':
      return `an array of at least ${spec.minItems} ${spec.item.label}`;
    default:
      return expectedText(spec);
  }
}

function checkSources(value: unknown, file: string): { id: string; citation: string }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InputError(file, 'sources', 'an array of { "id", "citation" }', describeValue(value));
  const ids = new Set<string>();
  return value.map((item, i) => {
    const at = `sources[${i}]`;
    if (!isObject(item)) throw new InputError(file, at, 'an object { "id", "citation" }', describeValue(item));
    rejectUnknown(item, ['id', 'citation'], ['sources', i], file, 'field');
    const { id, citation } = item;
    if (typeof id !== 'string' || !/^[a-z][a-z0-9-]*$/.test(id)) {
      throw new InputError(file, `${at}.id`, 'a short id of lower-case letters, digits and "-" (e.g. "h100-datasheet")', describeValue(id));
    }
    if (ids.has(id)) throw new InputError(file, `${at}.id`, 'an id not used by another source', JSON.stringify(id));
    ids.add(id);
    if (typeof citation !== 'string' || citation.length === 0) {
      throw new InputError(file, `${at}.citation`, 'a non-empty string', describeValue(citation));
    }
    return { id, citation };
  });
}

function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let node = root;
  for (const seg of segments) node = (node as Record<string | number, unknown> | undefined)?.[seg];
  return node;
}

function checkProvenance(value: unknown, profile: HardwareProfile, file: string, raw: unknown): Record<string, string> {
  const given: Record<string, string> = {};
  if (value !== undefined) {
    if (!isObject(value)) {
      throw new InputError(file, 'provenance', 'an object mapping field paths to where each number comes from', describeValue(value));
    }
    for (const [key, note] of Object.entries(value)) {
      const field = `provenance[${JSON.stringify(key)}]`;
      const r = resolvePath(profile, key);
      if ('error' in r) throw new InputError(file, field, `a key naming a value of this profile, i.e. ${r.error}`, JSON.stringify(key));
      if (valueAt(profile, r.segments) === undefined) {
        throw new InputError(file, field, 'a key naming a value this profile has', `${JSON.stringify(key)}, which is not set`);
      }
      if (typeof note !== 'string' || note.length === 0) throw new InputError(file, field, 'a non-empty string', describeValue(note));
      given[r.path] = note;
    }
  }
  const out: Record<string, string> = {};
  for (const leaf of leaves(profile)) {
    const note = given[leaf.path];
    if (note !== undefined) out[leaf.path] = note;
    else if (isParameter(leaf)) out[leaf.path] = valueAt(raw, leaf.segments) === undefined ? `default: not given in ${file}` : `user-supplied (${file})`;
  }
  return out;
}
