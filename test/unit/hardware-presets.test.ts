import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../../src/core/errors';
import { formatPresetList, formatProfile } from '../../src/core/hardware/format';
import { DEFAULT_HARDWARE, getPreset, isPresetName, listPresets } from '../../src/core/hardware/presets';
import { isParameter, leaves } from '../../src/core/hardware/paths';
import { validateHardwareProfile } from '../../src/core/hardware/validate';

const PRESET_DIR = new URL('../../src/core/hardware/presets/', import.meta.url);
const NAMES = ['cpu', 'dimc', 'gpu-a100', 'gpu-h100', 'gpu-t4', 'tpu-v5e'];

function rawPreset(name: string): { [key: string]: unknown } & { provenance: Record<string, string>; sources: { id: string }[]; $schema: string } {
  return JSON.parse(readFileSync(new URL(`${name}.json`, PRESET_DIR), 'utf8'));
}

const KINDS = ['datasheet:', 'paper:', 'derived:', 'assumption:', 'calibrated:'];
const CITE = /\[([a-z][a-z0-9-]*)\]/g;

test('the registry lists the three presets and the default is one of them', () => {
  assert.deepEqual(listPresets().map((p) => p.name), NAMES);
  for (const p of listPresets()) {
    assert.ok(p.title.length > 0 && p.description.length > 0, p.name);
    assert.ok(isPresetName(p.name));
  }
  assert.equal(DEFAULT_HARDWARE, 'dimc');
  assert.ok(isPresetName(DEFAULT_HARDWARE));
  assert.ok(!isPresetName('h100'));
});

test('every preset file validates, is named after its file, and points at the schema', () => {
  for (const name of NAMES) {
    const raw = rawPreset(name);
    const profile = validateHardwareProfile(raw, `${name}.json`);
    assert.equal(profile.name, name);
    assert.ok(existsSync(new URL(raw.$schema, new URL(`${name}.json`, PRESET_DIR))), `${name}: $schema ${raw.$schema} exists`);
  }
});

test('every numeric leaf (indeed every parameter) of every preset file has its own provenance', () => {
  for (const name of NAMES) {
    const raw = rawPreset(name);
    const all = leaves(raw);
    const numeric = all.filter((l) => typeof l.value === 'number');
    assert.ok(numeric.length >= 15, `${name}: ${numeric.length} numbers`);
    for (const l of all.filter(isParameter)) {
      const note = raw.provenance[l.path];
      assert.ok(note && note.length > 20, `${name}: provenance for ${l.path}`);
    }
    // and nothing else: every key names a value of the file
    const paths = new Set(all.map((l) => l.path));
    for (const key of Object.keys(raw.provenance)) assert.ok(paths.has(key), `${name}: provenance key ${key}`);
  }
});

test('provenance notes say what kind of source they are and cite only listed sources, all of which are used', () => {
  for (const name of NAMES) {
    const raw = rawPreset(name);
    const ids = new Set(raw.sources.map((s) => s.id));
    const cited = new Set<string>();
    for (const [path, note] of Object.entries(raw.provenance)) {
      const kind = KINDS.find((k) => note.startsWith(k));
      assert.ok(kind, `${name}: ${path} starts with one of ${KINDS.join(' ')}`);
      const refs = [...note.matchAll(CITE)].map((m) => m[1]!);
      for (const r of refs) {
        assert.ok(ids.has(r), `${name}: ${path} cites [${r}], which is in sources`);
        cited.add(r);
      }
      if (kind === 'datasheet:' || kind === 'paper:' || kind === 'derived:') assert.ok(refs.length > 0, `${name}: ${path} cites a source`);
    }
    for (const id of ids) assert.ok(cited.has(id), `${name}: source ${id} is cited`);
  }
});

test('the dimc collective numbers are marked as calibrated and the calibration note exists', () => {
  const raw = rawPreset('dimc');
  for (const path of ['collective.hopLatencyNs', 'collective.startLatencyNs', 'collective.bandwidthGBps']) {
    const note = raw.provenance[path]!;
    assert.ok(note.startsWith('calibrated:') && note.includes('src/core/hardware/calibration.md'), path);
  }
  const note = readFileSync(new URL('../../src/core/hardware/calibration.md', import.meta.url), 'utf8');
  assert.match(note, /20\s?%/);
  assert.match(note, /Llama-2-7B/);
  assert.match(note, /Llama-3\.1-8B/);
});

test('datasheet numbers are what the sources say', () => {
  const dimc = getPreset('dimc');
  assert.equal(dimc.matrix.peakTflops.fp8, 2400);
  assert.equal(dimc.memory.tiers[0]!.bandwidthGBps, 150_000);
  assert.equal(dimc.memory.tiers[0]!.capacityGB, 2);
  assert.equal(dimc.memory.tiers[1]!.capacityGB, 256);
  assert.equal(dimc.matrix.weightsResident, true);

  const h100 = getPreset('gpu-h100');
  assert.equal(h100.matrix.peakTflops.bf16, 989.4);
  assert.equal(h100.matrix.peakTflops.fp8, 1978.9);
  assert.equal(h100.memory.tiers[0]!.bandwidthGBps, 3350);
  assert.equal(h100.memory.tiers[0]!.capacityGB, 80);
  assert.equal(h100.computeUnits, 132);
  assert.equal(h100.matrix.weightsResident, false);
  assert.equal(h100.memory.prefetch, false);
  assert.equal(h100.matrix.fusedEpilogue, true);
  assert.equal(h100.collective.interChip.bandwidthGBps, 900 / 2);

  const tpu = getPreset('tpu-v5e');
  assert.equal(tpu.matrix.peakTflops.bf16, 197);
  assert.equal(tpu.matrix.peakTflops.int8, 393);
  assert.equal(tpu.memory.tiers[0]!.bandwidthGBps, 819);
  assert.equal(tpu.memory.tiers[0]!.capacityGB, 16);
});

test('getPreset returns an independent copy each time', () => {
  const a = getPreset('gpu-h100');
  a.collective.hopLatencyNs = 12345;
  a.memory.tiers[0]!.bandwidthGBps = 1;
  const b = getPreset('gpu-h100');
  assert.notEqual(b.collective.hopLatencyNs, 12345);
  assert.equal(b.memory.tiers[0]!.bandwidthGBps, 3350);
});

test('an unknown preset name is an InputError that lists the known names', () => {
  assert.throws(
    () => getPreset('h100'),
    (e: unknown) => e instanceof InputError && NAMES.every((n) => e.message.includes(n)) && e.message.includes('"h100"'),
  );
});

test('show --format json round-trips through the validator', () => {
  for (const name of NAMES) {
    const profile = getPreset(name);
    const text = JSON.stringify(profile, null, 2);
    const back = validateHardwareProfile(JSON.parse(text), `${name}.hardware.json`);
    assert.deepEqual(back, profile, name);
    assert.equal(JSON.stringify(back, null, 2), text, `${name}: same text`);
  }
});

test('formatProfile shows every parameter with its unit and provenance, grouped by engine', () => {
  for (const name of NAMES) {
    const profile = getPreset(name);
    const text = formatProfile(profile);
    for (const heading of ['Matrix engine', 'Vector engine', 'Collective network', 'Memory', 'Sources']) {
      assert.match(text, new RegExp(`^${heading}$`, 'm'), `${name}: ${heading}`);
    }
    assert.match(text, /TFLOP\/s/);
    assert.match(text, /GB\/s/);
    assert.match(text, / ns /);
    const flat = text.replace(/\s+/g, ' ');
    for (const l of leaves(profile).filter(isParameter)) {
      const note = profile.provenance[l.path]!.replace(/\s+/g, ' ');
      assert.ok(flat.includes(note), `${name}: provenance of ${l.path} shown`);
    }
    for (const s of profile.sources) assert.ok(text.includes(`[${s.id}]`));
  }
  const h100 = formatProfile(getPreset('gpu-h100'));
  assert.match(h100, /peak bf16\s+989\.4 TFLOP\/s/);
  assert.match(h100, /hbm3 bandwidth\s+3,350 GB\/s/);
  assert.match(h100, /efficiency\s+0\.53 \(53% of peak\)/);
});

test('formatPresetList is a plain table with a header and one row per preset', () => {
  const text = formatPresetList(listPresets());
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+TITLE$/);
  assert.equal(lines.length, 1 + NAMES.length);
  NAMES.forEach((n, i) => assert.ok(lines[i + 1]!.startsWith(n)));
});
