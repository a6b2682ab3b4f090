import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import { getPreset } from '../../src/core/hardware/presets';
import { isParameter, leaves, parsePath } from '../../src/core/hardware/paths';
import { parseHardwareProfile } from '../../src/core/hardware/profile-file';
import { validateHardwareProfile } from '../../src/core/hardware/validate';

const FILE = 'my.hardware.json';

/** A valid user profile without provenance, sources, title or description. */
function userProfile(): Record<string, any> {
  const p: Record<string, any> = structuredClone(getPreset('gpu-h100'));
  delete p.provenance;
  delete p.sources;
  delete p.title;
  delete p.description;
  delete p.$schema;
  p.name = 'my-gpu';
  return p;
}

function rejects(value: unknown, field: string, message?: string | RegExp): void {
  assert.throws(
    () => validateHardwareProfile(value, FILE),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `an InputError, got ${String(e)}`);
      assert.equal(e.file, FILE);
      assert.equal(e.field, field);
      assert.ok(e.message.startsWith(`${FILE}: ${field}: expected `) || (field === '' && e.message.startsWith(`${FILE}: expected `)), e.message);
      if (typeof message === 'string') assert.equal(e.message, message);
      else if (message) assert.match(e.message, message);
      return true;
    },
  );
}

test('the error names the file, the field path, what was expected and what was found', () => {
  const p = userProfile();
  p.collective.hopLatencyNs = 'fast';
  rejects(p, 'collective.hopLatencyNs', `${FILE}: collective.hopLatencyNs: expected a number ≥ 0 and ≤ 1e9, found "fast"`);
});

test('missing fields, wrong types, out-of-range numbers', () => {
  const cases: [string, (p: Record<string, any>) => void, RegExp][] = [
    ['matrix.efficiency', (p) => delete p.matrix.efficiency, /expected a number ≥ 0.001 and ≤ 1, found nothing \(the field is missing\)$/],
    ['collective', (p) => delete p.collective, /expected an object \(Collective network: topology, hopLatencyNs/],
    ['memory.tiers[0].name', (p) => delete p.memory.tiers[0].name, /expected a non-empty string, found nothing/],
    ['vector.gelemsPerSec', (p) => (p.vector.gelemsPerSec = '750'), /expected a number ≥ 0.001 and ≤ 1e12, found "750"$/],
    ['vector.startLatencyNs', (p) => (p.vector.startLatencyNs = -3), /expected a number ≥ 0 and ≤ 1e9, found -3$/],
    ['matrix.efficiency', (p) => (p.matrix.efficiency = 1.5), /expected a number ≥ 0.001 and ≤ 1, found 1\.5$/],
    ['collective.topology', (p) => (p.collective.topology = 'mesh'), /expected one of "tree", "ring", found "mesh"$/],
    ['computeUnits', (p) => (p.computeUnits = 13.2), /expected an integer ≥ 1 and ≤ 1048576, found 13\.2$/],
    ['matrix.fusedEpilogue', (p) => (p.matrix.fusedEpilogue = 1), /expected true or false, found 1$/],
    ['memory.tiers', (p) => (p.memory.tiers = {}), /expected an array of at least 1 memory tier, found an object$/],
    ['matrix.peakTflops', (p) => (p.matrix.peakTflops = {}), /expected a peak rate for at least one dtype/],
    ['defaultDtype', (p) => (p.defaultDtype = 'int4'), /expected a dtype that has a peak rate in matrix\.peakTflops \(fp32, bf16, fp16, fp8, int8\), found "int4"$/],
    ['memory.kvCacheTier', (p) => (p.memory.kvCacheTier = 'sram'), /expected the name of a tier in memory\.tiers \("hbm3"\), found "sram"$/],
    ['name', (p) => (p.name = ''), /expected a short id/],
  ];
  for (const [field, edit, message] of cases) {
    const p = userProfile();
    edit(p);
    rejects(p, field, message);
  }
});

test('unknown fields are rejected by name, with a suggestion for typos', () => {
  const p = userProfile();
  p.collective.hopLatency = 5;
  rejects(p, 'collective.hopLatency', /did you mean "hopLatencyNs"\?\), found an unknown field "hopLatency"$/);

  const q = userProfile();
  q.vector.expcost = 2;
  q.vector.speed = 1;
  rejects(q, 'vector', /found unknown fields "expcost", "speed"$/);

  const r = userProfile();
  r.Matrix = {};
  rejects(r, 'Matrix', /did you mean "matrix"\?/);
});

test('not an object, and JSON syntax errors', () => {
  rejects([], '', `${FILE}: expected a JSON object describing a hardware profile, found an array of 0`);
  assert.throws(() => parseHardwareProfile('{ "name": }', FILE), (e: unknown) => e instanceof InputError && /line 1, column \d+/.test(e.message));
});

test('a NaN in the file reads as null and is reported at its field', () => {
  const text = JSON.stringify(userProfile(), null, 2).replace('"hopLatencyNs": 60', '"hopLatencyNs": NaN');
  assert.throws(() => parseHardwareProfile(text, FILE), (e: unknown) => e instanceof InputError && e.message === `${FILE}: collective.hopLatencyNs: expected a number ≥ 0 and ≤ 1e9, found null`);
});

test('comments and trailing commas are fine in a user file', () => {
  const text = JSON.stringify(userProfile(), null, 2).replace('"name": "my-gpu",', '// my own GPU\n  "name": "my-gpu",').replace(/\n}$/, ',\n}');
  assert.equal(parseHardwareProfile(text, FILE).name, 'my-gpu');
});

test('provenance, sources, title and description are optional; missing provenance is user-supplied', () => {
  const p = userProfile();
  p.provenance = { 'collective.hopLatencyNs': 'measured on our cluster', 'memory.tiers.0.bandwidthGBps': 'STREAM triad' };
  const v = validateHardwareProfile(p, FILE);
  assert.equal(v.title, 'my-gpu');
  assert.equal(v.description, '');
  assert.deepEqual(v.sources, []);
  assert.equal(v.provenance['collective.hopLatencyNs'], 'measured on our cluster');
  assert.equal(v.provenance['memory.tiers[0].bandwidthGBps'], 'STREAM triad', 'keys are canonicalised');
  assert.equal(v.provenance['matrix.peakTflops.bf16'], `user-supplied (${FILE})`);
  for (const l of leaves(v).filter(isParameter)) assert.ok(v.provenance[l.path], l.path);
  assert.equal(v.provenance.name, undefined, 'labels need no provenance');
});

test('provenance keys must name values the profile has', () => {
  const p = userProfile();
  p.provenance = { 'matrix.peakTflops.int4': 'x' };
  rejects(p, 'provenance["matrix.peakTflops.int4"]', /not set$/);
  const q = userProfile();
  q.provenance = { 'vector.expCosts': 'x' };
  rejects(q, 'provenance["vector.expCosts"]', /did you mean "expCost"/);
  const r = userProfile();
  r.provenance = { 'memory.tiers[3].capacityGB': 'x' };
  rejects(r, 'provenance["memory.tiers[3].capacityGB"]', /an index of memory\.tiers from 0 to 0/);
});

test('sources must have an id and a citation, ids unique', () => {
  const p = userProfile();
  p.sources = [{ id: 'Bad Id', citation: 'x' }];
  rejects(p, 'sources[0].id', /expected a short id/);
  const q = userProfile();
  q.sources = [{ id: 'a', citation: 'x', url: 'y' }];
  rejects(q, 'sources[0].url', /found an unknown field "url"/);
});

test('the result is a fresh object in canonical order; the input is not changed', () => {
  const p = userProfile();
  p.memory = { prefetch: false, kvCacheTier: 'hbm3', weightsTier: 'hbm3', tiers: p.memory.tiers };
  const before = structuredClone(p);
  const v = validateHardwareProfile(p, FILE);
  assert.deepEqual(p, before);
  // memory.efficiency is optional: left out, its default (1) is filled in, after the given fields.
  assert.deepEqual(Object.keys(v.memory), ['tiers', 'weightsTier', 'kvCacheTier', 'prefetch', 'efficiency']);
  assert.equal(v.memory.efficiency, 1);

  assert.match(v.provenance['memory.efficiency']!, /^default: not given in /);
  assert.deepEqual(Object.keys(v).slice(0, 3), ['name', 'title', 'description']);
  v.memory.tiers[0]!.bandwidthGBps = 1;
  assert.equal(p.memory.tiers[0].bandwidthGBps, 3350);
});

test('$schema is kept so that a shown profile stays linked to the schema', () => {
  const p = userProfile();
  p.$schema = './hardware-profile.schema.json';
  assert.equal(validateHardwareProfile(p, FILE).$schema, './hardware-profile.schema.json');
  p.$schema = 3;
  rejects(p, '$schema');
});

test('path syntax: dotted names with [i] for tiers; .i accepted; junk rejected', () => {
  assert.deepEqual(parsePath('memory.tiers[0].bandwidthGBps'), ['memory', 'tiers', 0, 'bandwidthGBps']);
  assert.deepEqual(parsePath('memory.tiers.1.capacityGB'), ['memory', 'tiers', 1, 'capacityGB']);
  assert.deepEqual(parsePath('matrix.peakTflops.fp8'), ['matrix', 'peakTflops', 'fp8']);
  for (const bad of ['', '.a', 'a.', 'a..b', '[0]', 'a[x]', 'a b', 'a.0b', 'a[0']) assert.equal(parsePath(bad), undefined, bad);
});

test('kernels left out: each choice gets its default, and its provenance says it was not given', () => {
  const p: Record<string, unknown> = structuredClone(userProfile());
  delete p.kernels;
  const v = validateHardwareProfile(p, FILE);
  // Issue 19's choices default to what the simulator did before them: no host costs (per op, per stream
  // join or per pass), the norm's own kernels, NCCL's ring for all-reduce.
  assert.deepEqual(v.kernels, { attention: 'eager', norm: 'fused', launch: 'per-kernel', graphKernelNs: 0, eagerNormMultiply: 'fp32', deferredStatistic: 'norm-kernels', dispatchNs: 0, streamJoinNs: 0, passOverheadNs: 0, allReduce: 'ring' });
  assert.equal(v.provenance['kernels.attention'], `default: not given in ${FILE}`);
});

test('memory.activationsTier must name a tier', () => {
  const p = userProfile();
  (p.memory as Record<string, unknown>).activationsTier = 'sram';
  assert.throws(() => validateHardwareProfile(p, FILE), (e: Error) => /memory\.activationsTier/.test(e.message) && /"hbm3"/.test(e.message));
});
