/**
 * The JSON Schema that VS Code uses to check *.hardware.json files, tested
 * against the presets and against bad profiles, and compared with the
 * hand-written validator: both must reject the same inputs at the same path.
 * The tiny draft-07 checker below covers exactly the keywords the schema uses
 * (a test fails if the schema starts using another one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InputError } from '../../src/core/errors';
import { validateHardwareProfile } from '../../src/core/hardware/validate';
import dimc from '../../src/core/hardware/presets/dimc.json';
import gpuH100 from '../../src/core/hardware/presets/gpu-h100.json';
import tpuV5e from '../../src/core/hardware/presets/tpu-v5e.json';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const SCHEMA = JSON.parse(readFileSync(new URL('../../schemas/hardware-profile.schema.json', import.meta.url), 'utf8')) as Schema;
const PRESETS: Record<string, unknown> = { dimc, 'gpu-h100': gpuH100, 'tpu-v5e': tpuV5e };

// ---------------------------------------------------------------------------
// A checker for the subset of draft-07 the schema uses.

const KEYWORDS = new Set([
  '$schema', 'title', 'description', // annotations
  'type', 'enum', 'required', 'properties', 'additionalProperties', 'minProperties',
  'items', 'minItems', 'maxItems', 'minimum', 'exclusiveMinimum', 'maximum', 'minLength', 'pattern',
]);

const isObj = (v: unknown): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

function keyPath(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object': return isObj(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'boolean': return typeof v === 'boolean';
    default: throw new Error(`checker does not know type ${type}`);
  }
}

/** Every violation as `path: keyword`. */
function schemaErrors(schema: Schema, value: unknown, path = ''): string[] {
  const errors: string[] = [];
  const err = (p: string, k: string) => errors.push(`${p}: ${k}`);
  if (typeof schema.type === 'string' && !typeOk(schema.type, value)) {
    err(path, 'type');
    return errors;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value as Json)) err(path, 'enum');
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && !(value >= schema.minimum)) err(path, 'minimum');
    if (typeof schema.exclusiveMinimum === 'number' && !(value > schema.exclusiveMinimum)) err(path, 'exclusiveMinimum');
    if (typeof schema.maximum === 'number' && !(value <= schema.maximum)) err(path, 'maximum');
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) err(path, 'minLength');
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) err(path, 'pattern');
  }
  if (isObj(value)) {
    const props = isObj(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required)) {
      for (const r of schema.required) if (typeof r === 'string' && !(r in value)) err(keyPath(path, r), 'required');
    }
    if (typeof schema.minProperties === 'number' && Object.keys(value).length < schema.minProperties) err(path, 'minProperties');
    for (const [k, v] of Object.entries(value)) {
      const sub = props[k];
      if (isObj(sub)) errors.push(...schemaErrors(sub, v, keyPath(path, k)));
      else if (schema.additionalProperties === false) err(keyPath(path, k), 'additionalProperties');
      else if (isObj(schema.additionalProperties)) errors.push(...schemaErrors(schema.additionalProperties, v, keyPath(path, k)));
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) err(path, 'minItems');
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) err(path, 'maxItems');
    if (isObj(schema.items)) value.forEach((item, i) => errors.push(...schemaErrors(schema.items as Schema, item, `${path}[${i}]`)));
  }
  return errors;
}

function keywordsUsed(schema: Json, inProperties = false, out = new Set<string>()): Set<string> {
  if (!isObj(schema)) return out;
  for (const [k, v] of Object.entries(schema)) {
    if (inProperties) keywordsUsed(v, false, out);
    else {
      out.add(k);
      if (k === 'properties') keywordsUsed(v, true, out);
      else if (k === 'items' || k === 'additionalProperties') keywordsUsed(v, false, out);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------

test('the schema uses only the draft-07 keywords the checker understands', () => {
  assert.equal(SCHEMA.$schema, 'http://json-schema.org/draft-07/schema#');
  const unknown = [...keywordsUsed(SCHEMA)].filter((k) => !KEYWORDS.has(k));
  assert.deepEqual(unknown, []);
});

test('every property in the schema has a description (VS Code shows it on hover)', () => {
  const missing: string[] = [];
  const walk = (s: Json, path: string) => {
    if (!isObj(s)) return;
    if (path !== '' && typeof s.description !== 'string') missing.push(path);
    if (isObj(s.properties)) for (const [k, v] of Object.entries(s.properties)) walk(v, keyPath(path, k));
    if (isObj(s.items)) walk(s.items, `${path}[]`);
  };
  walk(SCHEMA, '');
  assert.deepEqual(missing, []);
});

test('the schema accepts every preset file', () => {
  for (const [name, data] of Object.entries(PRESETS)) assert.deepEqual(schemaErrors(SCHEMA, data), [], name);
});

function mutate(base: unknown, edit: (p: { [key: string]: any }) => void): unknown {
  const copy = structuredClone(base) as { [key: string]: any };
  edit(copy);
  return copy;
}

/** Bad profiles that both the schema and the validator must reject, each at `path`. */
const BAD: { what: string; path: string; edit: (p: { [key: string]: any }) => void }[] = [
  { what: 'missing field', path: 'matrix.efficiency', edit: (p) => delete p.matrix.efficiency },
  { what: 'missing engine', path: 'vector', edit: (p) => delete p.vector },
  { what: 'missing tier field', path: 'memory.tiers[0].capacityGB', edit: (p) => delete p.memory.tiers[0].capacityGB },
  { what: 'wrong type', path: 'collective.hopLatencyNs', edit: (p) => (p.collective.hopLatencyNs = 'fast') },
  { what: 'null (e.g. NaN in the file)', path: 'collective.hopLatencyNs', edit: (p) => (p.collective.hopLatencyNs = null) },
  { what: 'engine not an object', path: 'matrix', edit: (p) => (p.matrix = [1, 2]) },
  { what: 'negative latency', path: 'vector.startLatencyNs', edit: (p) => (p.vector.startLatencyNs = -1) },
  { what: 'negative cost', path: 'vector.expCost', edit: (p) => (p.vector.expCost = -1) },
  { what: 'zero bandwidth', path: 'memory.tiers[0].bandwidthGBps', edit: (p) => (p.memory.tiers[0].bandwidthGBps = 0) },
  { what: 'zero inter-chip bandwidth', path: 'collective.interChip.bandwidthGBps', edit: (p) => (p.collective.interChip.bandwidthGBps = 0) },
  { what: 'efficiency 1.5', path: 'matrix.efficiency', edit: (p) => (p.matrix.efficiency = 1.5) },
  { what: 'efficiency 0', path: 'matrix.efficiency', edit: (p) => (p.matrix.efficiency = 0) },
  { what: 'topology mesh', path: 'collective.topology', edit: (p) => (p.collective.topology = 'mesh') },
  { what: 'fractional compute units', path: 'computeUnits', edit: (p) => (p.computeUnits = 2.5) },
  { what: 'zero compute units', path: 'computeUnits', edit: (p) => (p.computeUnits = 0) },
  { what: 'unknown dtype as default', path: 'defaultDtype', edit: (p) => (p.defaultDtype = 'fp64') },
  { what: 'no peak rates', path: 'matrix.peakTflops', edit: (p) => (p.matrix.peakTflops = {}) },
  { what: 'unknown dtype in peakTflops', path: 'matrix.peakTflops.fp9', edit: (p) => (p.matrix.peakTflops.fp9 = 100) },
  { what: 'negative peak', path: 'matrix.peakTflops.bf16', edit: (p) => (p.matrix.peakTflops.bf16 = -1) },
  { what: 'no tiers', path: 'memory.tiers', edit: (p) => (p.memory.tiers = []) },
  { what: 'boolean as string', path: 'matrix.weightsResident', edit: (p) => (p.matrix.weightsResident = 'yes') },
  { what: 'name with a space', path: 'name', edit: (p) => (p.name = 'my chip') },
  { what: 'unknown top-level field', path: 'colective', edit: (p) => (p.colective = {}) },
  { what: 'unknown nested field', path: 'collective.hopLatency', edit: (p) => (p.collective.hopLatency = 5) },
  { what: 'unknown tier field', path: 'memory.tiers[0].latencyNs', edit: (p) => (p.memory.tiers[0].latencyNs = 5) },
  { what: 'source without citation', path: 'sources[0].citation', edit: (p) => delete p.sources[0].citation },
  { what: 'provenance note not a string', path: 'provenance["matrix.efficiency"]', edit: (p) => (p.provenance['matrix.efficiency'] = 0.7) },
];

test('schema and validator reject the same bad profiles at the same field path', () => {
  for (const bad of BAD) {
    const base = bad.path.includes('bf16') ? gpuH100 : dimc;
    const value = mutate(base, bad.edit);
    const errors = schemaErrors(SCHEMA, value);
    assert.ok(errors.some((e) => e.startsWith(`${bad.path}: `)), `${bad.what}: schema errors ${JSON.stringify(errors)}`);
    assert.throws(
      () => validateHardwareProfile(value, 'bad.hardware.json'),
      (e: unknown) => e instanceof InputError && e.field === bad.path && e.message.startsWith(`bad.hardware.json: ${bad.path}: expected `),
      bad.what,
    );
  }
});

test('rules a schema cannot state are checked by the validator only (documented difference)', () => {
  const onlyValidator: { what: string; path: string; edit: (p: { [key: string]: any }) => void }[] = [
    { what: 'weightsTier names no tier', path: 'memory.weightsTier', edit: (p) => (p.memory.weightsTier = 'dram') },
    { what: 'two tiers with one name', path: 'memory.tiers[1].name', edit: (p) => (p.memory.tiers[1].name = 'sram') },
    { what: 'default dtype without a peak rate', path: 'defaultDtype', edit: (p) => (p.defaultDtype = 'bf16') },
    { what: 'provenance key that names no field', path: 'provenance["collective.hopLatency"]', edit: (p) => (p.provenance['collective.hopLatency'] = 'x') },
    { what: 'two sources with one id', path: 'sources[1].id', edit: (p) => (p.sources[1].id = p.sources[0].id) },
  ];
  for (const bad of onlyValidator) {
    const value = mutate(dimc, bad.edit);
    assert.deepEqual(schemaErrors(SCHEMA, value), [], `${bad.what}: the schema accepts it`);
    assert.throws(
      () => validateHardwareProfile(value, 'bad.hardware.json'),
      (e: unknown) => e instanceof InputError && e.field === bad.path,
      bad.what,
    );
  }
});

test('schema and validator accept the same minimal user file', () => {
  const minimal = {
    name: 'mini',
    defaultDtype: 'bf16',
    computeUnits: 4,
    matrix: { peakTflops: { bf16: 10 }, efficiency: 1, startLatencyNs: 0, weightsResident: false, fusedEpilogue: false },
    vector: { gelemsPerSec: 1, expCost: 0, rsqrtCost: 0, divCost: 0, startLatencyNs: 0 },
    collective: { topology: 'ring', hopLatencyNs: 0, bandwidthGBps: 1, startLatencyNs: 0, interChip: { hopLatencyNs: 0, bandwidthGBps: 1 } },
    memory: { tiers: [{ name: 'dram', bandwidthGBps: 1, capacityGB: 1 }], weightsTier: 'dram', kvCacheTier: 'dram', prefetch: false },
  };
  assert.deepEqual(schemaErrors(SCHEMA, minimal), []);
  assert.doesNotThrow(() => validateHardwareProfile(minimal, 'mini.hardware.json'));
});
