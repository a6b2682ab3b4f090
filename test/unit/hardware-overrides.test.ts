import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import { applyOverride, applyOverrides, getPath, parseSet } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { validateHardwareProfile } from '../../src/core/hardware/validate';

function rejects(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.file, '--set');
    assert.equal(e.field, field);
    assert.match(e.message, message);
    return true;
  });
}

test('numbers, enums, booleans, nested and array paths', () => {
  const base = getPreset('dimc');
  const p = applyOverrides(base, [
    'collective.hopLatencyNs=0',
    'matrix.peakTflops.fp8=1000',
    'collective.topology=ring',
    'memory.prefetch=false',
    'memory.tiers[0].bandwidthGBps=100',
    'collective.interChip.bandwidthGBps=1.5e2',
    'computeUnits=64',
    'defaultDtype=int4',
  ]);
  assert.equal(p.collective.hopLatencyNs, 0);
  assert.equal(p.matrix.peakTflops.fp8, 1000);
  assert.equal(p.collective.topology, 'ring');
  assert.equal(p.memory.prefetch, false);
  assert.equal(p.memory.tiers[0]!.bandwidthGBps, 100);
  assert.equal(p.collective.interChip.bandwidthGBps, 150);
  assert.equal(p.computeUnits, 64);
  assert.equal(p.defaultDtype, 'int4');
});

test('provenance records the change and the old value', () => {
  const was = getPreset('dimc').collective.hopLatencyNs; // calibrated, so not written here
  const p = applyOverrides(getPreset('dimc'), ['collective.hopLatencyNs=0', 'memory.tiers.1.capacityGB=128']);
  assert.equal(p.provenance['collective.hopLatencyNs'], `set on the command line (was ${was})`);
  assert.equal(p.provenance['memory.tiers[1].capacityGB'], 'set on the command line (was 256)', 'canonical path');
  const q = applyOverrides(getPreset('tpu-v5e'), ['matrix.peakTflops.fp8=400']);
  assert.equal(q.provenance['matrix.peakTflops.fp8'], 'set on the command line (was not set)');
  assert.equal(q.provenance['matrix.peakTflops.bf16'], getPreset('tpu-v5e').provenance['matrix.peakTflops.bf16']);
});

test('the original is not mutated and untouched parts are shared, not copied', () => {
  const base = getPreset('gpu-h100');
  const snapshot = structuredClone(base);
  const p = applyOverrides(base, ['memory.tiers[0].bandwidthGBps=1', 'collective.topology=ring', 'matrix.peakTflops.int4=4000']);
  assert.deepEqual(base, snapshot);
  assert.notEqual(p.memory, base.memory);
  assert.equal(p.vector, base.vector);
  assert.equal(p.sources, base.sources);
});

test('the result is a valid profile (validates and round-trips)', () => {
  const p = applyOverrides(getPreset('gpu-h100'), ['matrix.efficiency=1', 'vector.expCost=0', 'collective.interChip.hopLatencyNs=0']);
  assert.deepEqual(validateHardwareProfile(JSON.parse(JSON.stringify(p)), 'x.json'), p);
});

test('later sets win; a value may contain "="; strings by path', () => {
  const p = applyOverrides(getPreset('dimc'), ['collective.hopLatencyNs=1', 'collective.hopLatencyNs=2', 'description=a=b']);
  assert.equal(p.collective.hopLatencyNs, 2);
  assert.equal(p.description, 'a=b');
  assert.deepEqual(parseSet(' matrix.efficiency = 0.9 '), { path: 'matrix.efficiency', value: '0.9' });
});

test('unknown paths are InputErrors naming the path and the known fields', () => {
  const base = getPreset('dimc');
  rejects(() => applyOverrides(base, ['collective.hopLatency=1']), 'collective.hopLatency', /expected a field of collective: topology, hopLatencyNs.*\(did you mean "hopLatencyNs"\?\)/);
  rejects(() => applyOverrides(base, ['matrix.peakTflops.fp64=1']), 'matrix.peakTflops.fp64', /a dtype of matrix\.peakTflops: fp32, bf16/);
  rejects(() => applyOverrides(base, ['memory.tiers[2].capacityGB=1']), 'memory.tiers[2]', /an index of memory\.tiers from 0 to 1/);
  rejects(() => applyOverrides(base, ['matrix=1']), 'matrix', /a single value, not the group matrix/);
  rejects(() => applyOverrides(base, ['provenance.x=1']), 'provenance', /a field of the profile/);
  rejects(() => applyOverrides(base, ['collective.hopLatencyNs.x=1']), 'collective.hopLatencyNs.x', /to be the end of the path/);
  rejects(() => applyOverrides(base, ['a..b=1']), 'a..b', /a field path such as/);
  rejects(() => applyOverrides(base, ['hopLatencyNs']), '', /expected path=value/);
  assert.throws(() => getPath(base, 'vector.speed'), InputError);
});

test('bad values are InputErrors naming the path and the expected type', () => {
  const base = getPreset('dimc');
  const cases: [string, string, RegExp][] = [
    ['collective.hopLatencyNs=fast', 'collective.hopLatencyNs', /expected a number ≥ 0 and ≤ 1e9, found "fast"$/],
    ['collective.hopLatencyNs=-1', 'collective.hopLatencyNs', /expected a number ≥ 0 and ≤ 1e9, found "-1"$/],
    ['collective.hopLatencyNs=', 'collective.hopLatencyNs', /found ""$/],
    ['collective.hopLatencyNs=1e999', 'collective.hopLatencyNs', /expected a number ≥ 0/],
    ['collective.hopLatencyNs=0x10', 'collective.hopLatencyNs', /expected a number ≥ 0/],
    ['matrix.efficiency=1.5', 'matrix.efficiency', /expected a number ≥ 0.001 and ≤ 1, found "1.5"$/],
    ['matrix.efficiency=0', 'matrix.efficiency', /expected a number ≥ 0.001 and ≤ 1/],
    ['computeUnits=2.5', 'computeUnits', /expected an integer ≥ 1/],
    ['collective.topology=mesh', 'collective.topology', /expected one of "tree", "ring", found "mesh"$/],
    ['memory.prefetch=maybe', 'memory.prefetch', /expected true or false, found "maybe"$/],
    ['memory.weightsTier=hbm', 'memory.weightsTier', /expected the name of a tier in memory\.tiers \("sram", "lpddr5x"\)/],
    ['memory.tiers[0].name=lpddr5x', 'memory.tiers[1].name', /a name not used by another tier/],
    ['memory.tiers[0].name=fast', 'memory.kvCacheTier', /found "sram"$/],
    ['defaultDtype=bf16', 'defaultDtype', /a dtype that has a peak rate in matrix\.peakTflops \(fp8, int8, int4\)/],
    ['name=my chip', 'name', /a short id/],
  ];
  for (const [set, field, message] of cases) rejects(() => applyOverrides(base, [set]), field, message);
});

test('case of enum and boolean words does not matter', () => {
  const p = applyOverrides(getPreset('dimc'), ['collective.topology=Ring', 'memory.prefetch=FALSE', 'defaultDtype=INT8']);
  assert.equal(p.collective.topology, 'ring');
  assert.equal(p.memory.prefetch, false);
  assert.equal(p.defaultDtype, 'int8');
});

test('getPath reads any leaf; applyOverride takes typed values for sweeps', () => {
  const base = getPreset('gpu-h100');
  assert.equal(getPath(base, 'collective.hopLatencyNs'), 60);
  assert.equal(getPath(base, 'memory.tiers[0].name'), 'hbm3');
  assert.equal(getPath(base, 'matrix.peakTflops.int4'), undefined);
  assert.equal(getPath(base, 'matrix.fusedEpilogue'), true);
  assert.equal(applyOverride(base, 'matrix.startLatencyNs', 0).matrix.startLatencyNs, 0);
  assert.equal(applyOverride(base, 'matrix.fusedEpilogue', false).matrix.fusedEpilogue, false);
  assert.throws(() => applyOverride(base, 'matrix.startLatencyNs', -5), InputError);
  assert.throws(() => applyOverride(base, 'matrix.startLatencyNs', Number.NaN), InputError);
});

test('an array path cached for one profile is re-checked against another', () => {
  const dimc = getPreset('dimc');
  assert.equal(applyOverrides(dimc, ['memory.tiers[1].bandwidthGBps=1']).memory.tiers[1]!.bandwidthGBps, 1);
  rejects(() => applyOverrides(getPreset('gpu-h100'), ['memory.tiers[1].bandwidthGBps=1']), 'memory.tiers[1]', /from 0 to 0/);
});

// Its speed is measured by `npm run bench` (sweeps apply one override per point), not asserted here.
test('applyOverrides many times over one base: each result has its own value and the base never changes', () => {
  const base = getPreset('dimc');
  const before = base.collective.hopLatencyNs;
  let p = base;
  for (let i = 0; i < 2000; i++) p = applyOverrides(base, [`collective.hopLatencyNs=${i % 100}`]);
  assert.equal(p.collective.hopLatencyNs, 1999 % 100);
  assert.equal(base.collective.hopLatencyNs, before);
});
