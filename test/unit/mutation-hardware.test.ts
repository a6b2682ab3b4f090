/**
 * Tests that catch wrong answers in src/core/hardware (issue 21): the text of `hardware show` and
 * `hardware list` line by line (columns, units, grouping, wrapping), on a small profile whose every
 * number is chosen here, so each expected line is written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import { formatPresetList, formatProfile } from '../../src/core/hardware/format';
import { applyOverride, applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { isOverride } from '../../src/core/hardware/profile';
import { efficiencyAt, shapeTable } from '../../src/core/hardware/shape-efficiency';
import { parsePath, resolvePath, suggest } from '../../src/core/hardware/paths';
import { expectedText, PROFILE_SPEC, type LeafSpec, type ObjectSpec } from '../../src/core/hardware/spec';
import { parseHardwareProfile } from '../../src/core/hardware/profile-file';
import { validateHardwareProfile } from '../../src/core/hardware/validate';

/** The message validateHardwareProfile refuses `value` with, or 'accepted'. */
function refused(value: unknown): string {
  try {
    validateHardwareProfile(value, 'p.json');
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.message;
  }
  return 'accepted';
}


/** A user's profile with chosen numbers: grouped thousands, a fraction of peak, two tiers, long notes. */
function mini(extra: Record<string, unknown> = {}) {
  return validateHardwareProfile(
    {
      name: 'mini',
      title: 'Mini chip',
      description: 'A small chip.',
      defaultDtype: 'bf16',
      computeUnits: 4,
      matrix: { peakTflops: { bf16: 1234.5, fp8: 2469 }, efficiency: 0.123456, startLatencyNs: 1500000, weightsResident: true, fusedEpilogue: false },
      vector: { gelemsPerSec: 12345678, expCost: 0, rsqrtCost: 0, divCost: 0, startLatencyNs: 0 },
      collective: { topology: 'ring', hopLatencyNs: 0, bandwidthGBps: 1, startLatencyNs: 0, interChip: { hopLatencyNs: 0, bandwidthGBps: 1 } },
      memory: { tiers: [{ name: 'sram', bandwidthGBps: 1, capacityGB: 1 }, { name: 'hbm', bandwidthGBps: 3350, capacityGB: 80 }], weightsTier: 'hbm', kvCacheTier: 'sram', prefetch: false },
      provenance: { 'matrix.efficiency': 'word '.repeat(30).trim() },
      sources: [{ id: 'ds', citation: 'cite '.repeat(30).trim() }],
      ...extra,
    },
    'mini.hardware.json',
  );
}

test('hardware show: every value with its unit in aligned columns, notes wrapped beside them', () => {
  const lines = formatProfile(mini()).split('\n');
  assert.deepEqual(lines.slice(0, 3), ['mini: Mini chip', 'A small chip.', '']);
  // Columns: two spaces, the widest label ("one-shot all-reduce fixed cost", 30), two spaces, the
  // widest value ("0.123456 (12.346% of peak)", 26), two spaces: notes start at column 62 and wrap
  // at 120 − 62 = 58 characters.
  const row = (label: string, value: string, note: string) => `  ${label.padEnd(30)}  ${value.padEnd(26)}  ${note}`;
  const user = 'user-supplied (mini.hardware.json)';
  const dflt = 'default: not given in mini.hardware.json';
  const at = (title: string) => lines.indexOf(title);
  assert.deepEqual(lines.slice(at('General'), at('General') + 4), ['General', row('default dtype', 'bf16', user), row('compute units P', '4 units', user), '']);
  // Eleven 4-letter words make 54 characters and a twelfth would make 59 > 58: 11, 11 and 8 words.
  const words = (n: number) => Array(n).fill('word').join(' ');
  assert.deepEqual(lines.slice(at('Matrix engine'), at('Matrix engine') + 10), [
    'Matrix engine',
    row('peak bf16', '1,234.5 TFLOP/s', user),
    row('peak fp8', '2,469 TFLOP/s', user),
    row('efficiency', '0.123456 (12.346% of peak)', words(11)),
    ' '.repeat(62) + words(11),
    ' '.repeat(62) + words(8),
    row('start latency', '1,500,000 ns', user),
    row('weights resident', 'yes', user),
    row('fused epilogue', 'no', user),
    '',
  ]);
  assert.equal(lines[at('Vector engine') + 1], row('throughput', '12,345,678 G elem/s', user));
  assert.equal(lines[at('Vector engine') + 2], row('exp cost', '0 × add', user));
  assert.equal(lines[at('Collective network') + 1], row('topology', 'ring', user));
  assert.equal(lines[at('Collective network') + 7], row('all-reduce fixed cost', '0 ns', dflt));
  // Tiers are labelled by their names, and their names are not rows of their own.
  assert.deepEqual(lines.slice(at('Memory') + 1, at('Memory') + 9), [
    row('sram bandwidth', '1 GB/s', user),
    row('sram capacity', '1 GB', user),
    row('hbm bandwidth', '3,350 GB/s', user),
    row('hbm capacity', '80 GB', user),
    row('weights tier', 'hbm', user),
    row('KV-cache tier', 'sram', user),
    row('prefetch', 'no', user),
    row('bandwidth efficiency', '1 (100% of peak)', dflt),
  ]);
  assert.equal(lines[at('Kernels') + 1], row('attention kernel', 'eager', dflt));
  // Sources wrap at 118 after "  ": "[ds]" and 22 "cite" make 114 characters; 8 more on the next line.
  const cites = (n: number) => Array(n).fill('cite').join(' ');
  assert.deepEqual(lines.slice(at('Sources')), ['Sources', `  [ds] ${cites(22)}`, `    ${cites(8)}`, '']);
  // No description: no line for it; no sources: no Sources heading.
  const bare = formatProfile(mini({ description: '', sources: [] }));
  assert.deepEqual(bare.split('\n').slice(0, 3), ['mini: Mini chip', '', 'General']);
  assert.ok(!bare.includes('Sources'), bare);
});

test('hardware show: a short note keeps the note column at least 40 wide; no note, no trailing spaces', () => {
  // A value 80 characters wide would leave 120 − (2 + 30 + 2 + 80 + 2) = 4 columns; 40 are kept.
  const long = mini({ title: 'x', memory: { tiers: [{ name: 'm'.repeat(60), bandwidthGBps: 1, capacityGB: 1 }], weightsTier: 'm'.repeat(60), kvCacheTier: 'm'.repeat(60), prefetch: false } });
  const lines = formatProfile(long).split('\n');
  const eff = lines.findIndex((l) => l.startsWith('  efficiency '));
  // The widest label is now the tier's bandwidth label (60 + 10), the widest value the tier's name (60).
  const noteColumn = 2 + 70 + 2 + 60 + 2;
  assert.equal(lines[eff]!.indexOf('word'), noteColumn);
  // 40 columns hold 8 words (39 characters): 30 words are 8, 8, 8 and 6.
  assert.deepEqual(lines.slice(eff + 1, eff + 4).map((l) => l.trim().split(' ').length), [8, 8, 6]);
  // A profile built in code may lack a note (a validated file always has one): the row ends at its value.
  const unnoted = mini();
  delete unnoted.provenance['matrix.efficiency'];
  const noNote = formatProfile(unnoted).split('\n').find((l) => l.startsWith('  efficiency '))!;
  assert.equal(noNote, `  ${'efficiency'.padEnd(30)}  0.123456 (12.346% of peak)`);
});

test('hardware list: names padded to the longest, then the titles', () => {
  const text = formatPresetList([
    { name: 'a', title: 'T1', description: 'ignored' },
    { name: 'long-name', title: 'T2', description: '' },
  ]);
  assert.equal(text, 'NAME       TITLE\na          T1\nlong-name  T2\n');
  assert.equal(formatPresetList([{ name: 'ab', title: 'T', description: '' }]), 'NAME  TITLE\nab    T\n');
});

/** The message of the InputError `--set` gives, or 'accepted'. */
function setting(text: string): string {
  try {
    applyOverrides(getPreset('gpu-h100'), [text]);
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err.message;
  }
}

test('--set: each stated range holds at both ends, and one step past them is refused', () => {
  // Latencies 0 … 1e9 ns; efficiencies 0.001 … 1; rates 0.001 … 1e12; tiles 1 … 65,536; compute units 1 … 2^20.
  for (const ok of ['collective.hopLatencyNs=0', 'collective.hopLatencyNs=1e9', 'matrix.efficiency=0.001', 'matrix.efficiency=1', 'vector.gelemsPerSec=1e12', 'matrix.peakTflops.fp8=0.001', 'matrix.tileM=65536', 'matrix.tileN=1', 'computeUnits=1048576', 'vector.expCost=1000']) {
    assert.equal(setting(ok), 'accepted', ok);
  }
  assert.equal(setting('collective.hopLatencyNs=1000000001'), '--set: collective.hopLatencyNs: expected a number ≥ 0 and ≤ 1e9, found "1000000001"');
  assert.equal(setting('vector.gelemsPerSec=1e13'), '--set: vector.gelemsPerSec: expected a number ≥ 0.001 and ≤ 1e12, found "1e13"');
  assert.equal(setting('matrix.peakTflops.fp8=0.0009'), '--set: matrix.peakTflops.fp8: expected a number ≥ 0.001 and ≤ 1e12, found "0.0009"');
  assert.equal(setting('matrix.tileM=65537'), '--set: matrix.tileM: expected an integer ≥ 1 and ≤ 65536, found "65537"');
  // 2^20 is not a power of ten: written out, not as 1e…
  assert.equal(setting('computeUnits=1048577'), '--set: computeUnits: expected an integer ≥ 1 and ≤ 1048576, found "1048577"');
  assert.equal(setting('vector.expCost=1001'), '--set: vector.expCost: expected a number ≥ 0 and ≤ 1000, found "1001"');
  assert.equal(setting('memory.tiers[0].capacityGB=1e7'), 'accepted');
  assert.equal(setting('memory.tiers[0].capacityGB=10000001'), '--set: memory.tiers[0].capacityGB: expected a number ≥ 0.001 and ≤ 1e7, found "10000001"');
  // Numbers as people write them: a leading dot, a trailing dot, a sign and an exponent; not hex.
  for (const ok of ['vector.gelemsPerSec=.5', 'vector.gelemsPerSec=5.', 'vector.gelemsPerSec=+5e-1', 'vector.gelemsPerSec=5E2']) assert.equal(setting(ok), 'accepted', ok);
  for (const bad of ['vector.gelemsPerSec=0x10', 'vector.gelemsPerSec=5e', 'vector.gelemsPerSec=.', 'vector.gelemsPerSec=1,000', 'vector.gelemsPerSec=5 5']) assert.match(setting(bad), /expected a number ≥ 0\.001 and ≤ 1e12/, bad);
  assert.equal(setting('matrix.weightsResident=TRUE'), 'accepted');
  assert.equal(setting('matrix.weightsResident=yes'), '--set: matrix.weightsResident: expected true or false, found "yes"');
  assert.equal(setting('memory.weightsTier=nope'), '--set: memory.weightsTier: expected the name of a tier in memory.tiers ("hbm3"), found "nope"');
  assert.equal(setting('memory.tiers.x=1'), '--set: memory.tiers.x: expected an index of memory.tiers from 0 to 0');
  assert.equal(setting('memory.tiers=1'), '--set: memory.tiers: expected a single value, not the group memory.tiers (one of: an index [0], [1], …)');
  assert.equal(setting('matrix.peakTflops=1'), '--set: matrix.peakTflops: expected a single value, not the group matrix.peakTflops (one of: fp32, bf16, fp16, fp8, int8, int4)');
  assert.equal(setting('colective.hopLatencyNs=1'), '--set: colective: expected a field of the profile: name, title, description, defaultDtype, computeUnits, matrix, vector, collective, memory, kernels (did you mean "collective"?)');
});

test('what a field accepts, in words, for every kind of field', () => {
  const field = (path: string): LeafSpec => {
    let node: unknown = PROFILE_SPEC;
    for (const seg of path.split('.')) node = (node as ObjectSpec).fields[seg];
    return node as LeafSpec;
  };
  assert.equal(expectedText(field('name')), 'a short id of letters, digits, ".", "_" or "-" (e.g. "my-chip")');
  assert.equal(expectedText(field('title')), 'a non-empty string');
  assert.equal(expectedText(field('description')), 'a string');
  assert.equal(expectedText(field('defaultDtype')), 'one of "fp32", "bf16", "fp16", "fp8", "int8", "int4"');
  assert.equal(expectedText(field('memory.weightsTier')), 'the name of a tier in memory.tiers');
  assert.equal(expectedText(field('memory.weightsTier'), []), 'the name of a tier in memory.tiers');
  assert.equal(expectedText(field('memory.weightsTier'), ['a', 'b']), 'the name of a tier in memory.tiers ("a", "b")');
  assert.equal(expectedText({ kind: 'number', min: 0, exclusiveMin: true, unit: '', label: 'x' }), 'a number > 0');
  assert.equal(expectedText({ kind: 'number', min: 1e5, exclusiveMin: false, max: 2e5, integer: true, unit: '', label: 'x' }), 'an integer ≥ 1e5 and ≤ 200000');
});

test('suggestions: a close name (at most two edits) or a prefix of three letters or more', () => {
  const known = ['matrix', 'vector', 'memory'];
  assert.equal(suggest('matrx', known), ' (did you mean "matrix"?)');
  assert.equal(suggest('MATRIX', known), ' (did you mean "matrix"?)');
  assert.equal(suggest('vec', known), ' (did you mean "vector"?)');
  assert.equal(suggest('ve', known), '', 'a two-letter prefix is too short, and four edits away');
  assert.equal(suggest('memroy', known), ' (did you mean "memory"?)');
  assert.equal(suggest('mxtrxy', known), '', 'three edits');
  assert.equal(suggest('mxtrxx', known), ' (did you mean "matrix"?)', 'two edits');
  assert.equal(suggest('matrixabc', known), '', 'three letters longer');
  assert.equal(suggest('emor', known), ' (did you mean "memory"?)', 'two letters shorter, two edits, not a prefix');
  // The closest wins, the first of equals: "mexory" is one edit from memory, two from neither else.
  assert.equal(suggest('mexory', ['vector', 'memory']), ' (did you mean "memory"?)');
  // "abc" is two edits from "xyc" and a prefix of "abcdefgh" (five letters short: no edit distance): the prefix wins.
  assert.equal(suggest('abc', ['xyc', 'abcdefgh']), ' (did you mean "abcdefgh"?)');
  assert.equal(suggest('ab', ['xyc', 'abcdefgh']), '', 'a two-letter prefix does not count');
});

test('paths: dotted names and [i] (or .i) for array elements; anything else is not a path', () => {
  assert.deepEqual(parsePath('memory.tiers[0].bandwidthGBps'), ['memory', 'tiers', 0, 'bandwidthGBps']);
  assert.deepEqual(parsePath('memory.tiers.12.name'), ['memory', 'tiers', 12, 'name']);
  assert.deepEqual(parsePath('_a.$b'), ['_a', '$b']);
  for (const bad of ['', '0a', 'a.', 'a[b]', 'a..b', 'a[0', 'a.b c', '.a']) assert.equal(parsePath(bad), undefined, JSON.stringify(bad));
});

test('a user file named like a preset takes its file\'s name, and says so', () => {
  const h100 = getPreset('gpu-h100');
  const text = JSON.stringify(h100);
  const lab = parseHardwareProfile(text, '/home/me/lab.hardware.json');
  assert.equal(lab.name, 'lab.hardware.json');
  assert.equal(lab.title, h100.title, 'a title of its own is kept');
  assert.equal(lab.description, `Named "gpu-h100" in lab.hardware.json, like the preset; shown by its file name. ${h100.description}`);
  assert.deepEqual(lab.matrix, h100.matrix, 'the numbers are the file\'s');
  // A title that is only the name, an empty description; Windows separators; characters an id cannot hold.
  const bare = JSON.stringify({ ...h100, title: 'gpu-h100', description: '' });
  const odd = parseHardwareProfile(bare, 'C:\\labs\\my lab (v2).hardware.json');
  assert.equal(odd.name, 'my-lab-v2-.hardware.json');
  assert.equal(odd.title, 'gpu-h100 profile from my lab (v2).hardware.json');
  assert.equal(odd.description, 'Named "gpu-h100" in my lab (v2).hardware.json, like the preset; shown by its file name.');
  assert.equal(parseHardwareProfile(bare, '/x/__h100.json').name, 'h100.json', 'leading characters that cannot start an id are dropped');
  assert.equal(parseHardwareProfile(bare, '/x/((()))').name, 'profile', 'nothing left: a plain name');
  assert.equal(parseHardwareProfile(bare, '/x/gpu-h100').name, 'gpu-h100.file', 'never a preset\'s name');
  // A file with a name of its own keeps it.
  assert.equal(parseHardwareProfile(JSON.stringify({ ...h100, name: 'lab-h100' }), '/x/lab.hardware.json').name, 'lab-h100');
});

test('the lists a profile may hold are capped before they are walked; sources have ids and citations', () => {
  const h100 = getPreset('gpu-h100');
  const tiers = (n: number) => ({ ...h100, provenance: {}, memory: { ...h100.memory, tiers: Array.from({ length: n }, (_, i) => ({ name: i === 0 ? 'hbm3' : `t${i}`, bandwidthGBps: 1, capacityGB: 1 })) } });
  assert.equal(refused(tiers(16)), 'accepted');
  assert.equal(refused(tiers(17)), 'p.json: memory.tiers: expected at most 16 memory tiers, found 17');
  const shapes = (n: number) => ({ ...h100, provenance: {}, matrix: { ...h100.matrix, efficiencyByShape: Array.from({ length: n }, (_, i) => ({ m: i + 1, k: 1, n: 1, efficiency: 0.5 })) } });
  assert.equal(refused(shapes(1024)), 'accepted');
  assert.equal(refused(shapes(1025)), 'p.json: matrix.efficiencyByShape: expected at most 1024 measured shapes, found 1,025');
  const sources = (s: unknown) => refused({ ...h100, provenance: {}, sources: s });
  assert.equal(sources({}), 'p.json: sources: expected an array of { "id", "citation" }, found an object');
  assert.equal(sources([3]), 'p.json: sources[0]: expected an object { "id", "citation" }, found 3');
  assert.equal(sources([{ id: 'A', citation: 'c' }]), 'p.json: sources[0].id: expected a short id of lower-case letters, digits and "-" (e.g. "h100-datasheet"), found "A"');
  assert.equal(sources([{ id: 'a', citation: 'c' }, { id: 'a', citation: 'd' }]), 'p.json: sources[1].id: expected an id not used by another source, found "a"');
  assert.equal(sources([{ id: 'a', citation: '' }]), 'p.json: sources[0].citation: expected a non-empty string, found ""');
  assert.equal(sources([{ id: 'a-1', citation: 'c' }]), 'accepted');
  assert.equal(refused('x'), 'p.json: expected a JSON object describing a hardware profile, found "x"');
});

test('hardware show: a measured shape table is labelled by its own fields; runs of spaces wrap as one; a line may fill the note column exactly', () => {
  // Notes start at 2 + 30 + 2 + 19 + 2 = 55 (the widest value is the throughput's "12,345,678 G elem/s"),
  // so they wrap at 65: "word" × 12 and "abcde" make exactly 65 characters and stay on one line.
  const p = mini({
    name: 'm1234',
    matrix: { peakTflops: { bf16: 1 }, efficiency: 0.5, startLatencyNs: 0, weightsResident: false, fusedEpilogue: false, efficiencyByShape: [{ m: 32, k: 576, n: 192, efficiency: 0.25 }] },
    memory: { tiers: [{ name: 'mem1234', bandwidthGBps: 1, capacityGB: 1 }], weightsTier: 'mem1234', kvCacheTier: 'mem1234', prefetch: false },
    provenance: { 'matrix.efficiency': `${Array(12).fill('word').join(' ')} abcde`, 'matrix.startLatencyNs': 'two  spaces\tand a tab' },
  });
  const lines = formatProfile(p).split('\n');
  const find = (start: string) => lines.find((l) => l.startsWith(`  ${start} `))!;
  assert.equal(find('efficiency').slice(55), `${Array(12).fill('word').join(' ')} abcde`);
  assert.equal(lines[lines.indexOf(find('efficiency')) + 1]!.startsWith('  start latency'), true, 'no second line');
  assert.ok(find('start latency').endsWith('  two spaces and a tab'), find('start latency'));
  for (const [label, value] of [['M', '32 rows'], ['K', '576 inputs'], ['N', '192 outputs']]) assert.equal(find(label!).slice(34).trimEnd().split('  ')[0], value, label);
  assert.ok(lines.some((l) => /^ {2}efficiency +0\.25 \(25% of peak\) /.test(l)), 'the shape\'s efficiency');
  // Names and choices are shown as written, digits and all.
  assert.ok(find('weights tier').includes(' mem1234 '), find('weights tier'));
  assert.ok(find('mem1234 bandwidth'), 'a tier\'s rows carry its name');
});

test('--set: the value is read by its field\'s type, trimmed, decimals and all', () => {
  const h100 = getPreset('gpu-h100');
  assert.equal(applyOverrides(h100, ['vector.gelemsPerSec=12.5']).vector.gelemsPerSec, 12.5);
  assert.equal(applyOverrides(h100, ['vector.gelemsPerSec=.55']).vector.gelemsPerSec, 0.55);
  assert.equal(applyOverrides(h100, ['vector.gelemsPerSec=1.5e3']).vector.gelemsPerSec, 1500);
  assert.equal(applyOverride(h100, 'vector.gelemsPerSec', ' 7 ').vector.gelemsPerSec, 7);
  assert.equal(applyOverrides(h100, ['memory.prefetch=TRUE']).memory.prefetch, true);
  assert.equal(applyOverrides(applyOverrides(h100, ['memory.prefetch=true']), ['memory.prefetch=False']).memory.prefetch, false);
  assert.equal(applyOverride(h100, 'kernels.norm', ' Eager ').kernels.norm, 'eager');
  assert.equal(applyOverride(h100, 'title', '  My chip  ').title, 'My chip');
  assert.equal(setting('=1'), '--set: expected path=value (e.g. collective.hopLatencyNs=0), found "=1"');
  assert.equal(setting('x'), '--set: expected path=value (e.g. collective.hopLatencyNs=0), found "x"');
});

test('efficiency by shape: the nearest weight shape in both K and N, the first of two as near, the segment M falls in', () => {
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a / b - 1) < 1e-12, `${what}: ${a} vs ${b}`);
  // Two weight shapes that differ in K: a 1536 × 576 GEMM reads its own points, not 576 × 192's.
  const two = shapeTable([{ m: 32, k: 576, n: 192, efficiency: 0.1 }, { m: 32, k: 1536, n: 576, efficiency: 0.3 }]);
  near(efficiencyAt(two, 32, 1536, 576), 0.3, '1536 × 576');
  near(efficiencyAt(two, 32, 600, 200), 0.1, 'next to 576 × 192');
  // 200 × 200 is as near 100 × 100 as 400 × 400 in log space: the first listed wins.
  const tie = shapeTable([{ m: 1, k: 100, n: 100, efficiency: 0.2 }, { m: 1, k: 400, n: 400, efficiency: 0.4 }]);
  near(efficiencyAt(tie, 1, 200, 200), 0.2, 'a tie');
  // Three rows measured: M = 64 lies between 32 and 128 (halfway in log M): √(0.04 · 0.16) = 0.08, not on the first segment.
  const three = shapeTable([{ m: 8, k: 1, n: 1, efficiency: 0.01 }, { m: 32, k: 1, n: 1, efficiency: 0.04 }, { m: 128, k: 1, n: 1, efficiency: 0.16 }]);
  near(efficiencyAt(three, 64, 1, 1), 0.08, 'M = 64');
  near(efficiencyAt(three, 16, 1, 1), 0.02, 'M = 16');
  near(efficiencyAt(three, 32, 1, 1), 0.04, 'M = 32, a measured row');
});

test('an unknown preset name lists the known ones', () => {
  assert.throws(() => getPreset('nope'), (e: unknown) => e instanceof InputError && e.message === '--hardware: expected a preset name (cpu, dimc, gpu-a100, gpu-h100, gpu-t4, tpu-v5e) or a *.hardware.json file, found "nope"');
});

test('resolving a path: what each wrong segment expected, and where it was', () => {
  const p = mini();
  // A path must start with a name: "0.x" is not the field x.
  assert.equal(parsePath('0.x'), undefined);
  assert.equal(parsePath('9.memory.tiers'), undefined);
  const dtypes = 'fp32, bf16, fp16, fp8, int8, int4';
  // fp64 is two edits from fp32, fp16 and fp8: the first of them is suggested.
  assert.deepEqual(resolvePath(p, 'matrix.peakTflops.fp64'), { error: `a dtype of matrix.peakTflops: ${dtypes} (did you mean "fp32"?)`, at: 'matrix.peakTflops.fp64' });
  assert.deepEqual(resolvePath(p, 'matrix.peakTflops.fp64.x'), { error: `a dtype of matrix.peakTflops: ${dtypes} (did you mean "fp32"?)`, at: 'matrix.peakTflops.fp64' });
  assert.deepEqual(resolvePath(p, 'matrix.peakTflops[0]'), { error: `a dtype of matrix.peakTflops: ${dtypes}`, at: 'matrix.peakTflops[0]' });
  assert.deepEqual(resolvePath(p, 'matrix.peakTflops'), { error: `a single value, not the group matrix.peakTflops (one of: ${dtypes})`, at: 'matrix.peakTflops' });
  assert.deepEqual(resolvePath(p, 'vector'), { error: 'a single value, not the group vector (one of: gelemsPerSec, expCost, rsqrtCost, divCost, startLatencyNs)', at: 'vector' });
  assert.deepEqual(resolvePath(p, 'memory.tiers'), { error: 'a single value, not the group memory.tiers (one of: an index [0], [1], …)', at: 'memory.tiers' });
  // mini has two tiers: indexes 0 and 1.
  assert.deepEqual(resolvePath(p, 'memory.tiers.name'), { error: 'an index of memory.tiers from 0 to 1', at: 'memory.tiers.name' });
  assert.deepEqual(resolvePath(p, 'memory.tiers[2].name'), { error: 'an index of memory.tiers from 0 to 1', at: 'memory.tiers[2]' });
  assert.equal('error' in resolvePath(p, 'memory.tiers[1].name'), false);
  assert.deepEqual(resolvePath(p, 'computeUnits.x.y'), { error: 'computeUnits to be the end of the path (it is a single value)', at: 'computeUnits.x.y' });
  // Names an object has from its prototype are not fields.
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const r = resolvePath(p, name);
    assert.ok('error' in r && r.error.startsWith('a field of the profile: name, title, description, defaultDtype, computeUnits, matrix,'), name);
    assert.equal(r.at, name);
  }
  assert.ok('error' in resolvePath(p, 'matrix.constructor'));
  // Against the spec alone (nothing set): a leaf resolves; an array has no index to take.
  const efficiency = resolvePath({}, 'matrix.efficiency');
  assert.ok(!('error' in efficiency) && efficiency.path === 'matrix.efficiency' && efficiency.spec.kind === 'number' && efficiency.spec.max === 1);
  assert.equal('error' in resolvePath({}, 'matrix.peakTflops.bf16'), false);
  assert.deepEqual(resolvePath({}, 'memory.tiers[0].name'), { error: 'an index of memory.tiers from 0 to -1', at: 'memory.tiers[0]' });
});

test('validation messages for a calibration record, a peak-rate table, a missing table or list, and provenance that is no object', () => {
  const h100 = getPreset('gpu-h100');
  const calibration = { device: 'NVIDIA H100', date: '2026-12-06', measurements: 40, shapes: { mMin: 1, mMax: 64, kMax: 4096, nMax: 4096 } };
  const withCalibration = (c: unknown) => refused({ ...h100, provenance: {}, calibration: c });
  assert.equal(withCalibration(calibration), 'accepted');
  assert.equal(withCalibration({ ...calibration, device: '' }), 'p.json: calibration.device: expected a non-empty string of at most 1000 characters, found ""');
  assert.equal(withCalibration({ ...calibration, date: 'd'.repeat(1000) }), 'accepted');
  assert.match(withCalibration({ ...calibration, date: 'd'.repeat(1001) }), /^p\.json: calibration\.date: expected a non-empty string of at most 1000 characters, found /);
  assert.equal(withCalibration({ ...calibration, measurements: 0 }), 'p.json: calibration.measurements: expected a whole number of at least 1, found 0');
  assert.equal(withCalibration({ ...calibration, shapes: { ...calibration.shapes, kMax: 1.5 } }), 'p.json: calibration.shapes.kMax: expected a whole number of at least 1, found 1.5');
  assert.equal(withCalibration({ ...calibration, shapes: { ...calibration.shapes, mMin: 65 } }), 'p.json: calibration.shapes.mMax: expected a number of rows at least mMin (65), found 64');
  assert.equal(withCalibration({ ...calibration, shapes: 3 }), 'p.json: calibration.shapes: expected an object { mMin, mMax, kMax, nMax }, found 3');
  assert.equal(withCalibration('x'), 'p.json: calibration: expected an object { device, date, measurements, shapes: { mMin, mMax, kMax, nMax } } as deferred-norm calibrate writes it, found "x"');
  // A text field given a number.
  assert.equal(refused({ ...h100, provenance: {}, title: 5 }), 'p.json: title: expected a non-empty string, found 5');
  assert.equal(refused({ ...h100, provenance: {}, description: false }), 'p.json: description: expected a string, found false');
  for (const key of ['mMin', 'mMax', 'kMax', 'nMax']) {
    assert.equal(withCalibration({ ...calibration, shapes: { ...calibration.shapes, [key]: 0 } }), `p.json: calibration.shapes.${key}: expected a whole number of at least 1, found 0`);
  }
  assert.equal(withCalibration({ ...calibration, device: 5 }), 'p.json: calibration.device: expected a non-empty string of at most 1000 characters, found 5');
  assert.equal(refused({ ...h100, provenance: {}, $schema: 5 }), 'p.json: $schema: expected a string (the path or URL of the JSON schema), found 5');
  assert.equal('calibration' in validateHardwareProfile({ ...h100, provenance: {} }, 'p.json'), false, 'no calibration: no key');
  const stated = validateHardwareProfile({ ...h100, provenance: {}, calibration }, 'p.json').calibration;
  assert.deepEqual(stated, calibration);
  // A peak-rate table that is not an object; a required table or list left out.
  assert.equal(refused({ ...h100, provenance: {}, matrix: { ...h100.matrix, peakTflops: 5 } }), 'p.json: matrix.peakTflops: expected an object of peak rates keyed by dtype (fp32, bf16, fp16, fp8, int8, int4), found 5');
  const { peakTflops: _peak, ...noPeak } = h100.matrix;
  assert.equal(refused({ ...h100, provenance: {}, matrix: noPeak }), 'p.json: matrix.peakTflops: expected an object of peak rates keyed by dtype (fp32, bf16, fp16, fp8, int8, int4), found nothing (the field is missing)');
  const { tiers: _tiers, ...noTiers } = h100.memory;
  assert.equal(refused({ ...h100, provenance: {}, memory: noTiers }), 'p.json: memory.tiers: expected an array of at least 1 memory tier, found nothing (the field is missing)');
  const { memory: _memory, ...noMemory } = h100;
  assert.equal(refused({ ...noMemory, provenance: {} }), 'p.json: memory: expected an object (Memory: tiers, weightsTier, kvCacheTier, prefetch, activationsTier, efficiency), found nothing (the field is missing)');
  assert.equal(refused({ ...h100, provenance: [] }), 'p.json: provenance: expected an object mapping field paths to where each number comes from, found an array of 0');
  assert.equal(refused({ ...h100, provenance: 'x' }), 'p.json: provenance: expected an object mapping field paths to where each number comes from, found "x"');
});

test('an override\'s provenance is told apart by its first word "set", and only by that', () => {
  const changed = applyOverrides(getPreset('gpu-h100'), ['matrix.efficiency=0.5']);
  assert.equal(isOverride(changed.provenance['matrix.efficiency']), true, changed.provenance['matrix.efficiency']);
  assert.equal(isOverride(getPreset('gpu-h100').provenance['matrix.efficiency']), false);
  assert.equal(isOverride('set in the panel'), true);
  assert.equal(isOverride('set'), true);
  for (const text of [undefined, '', 'setting from the datasheet', 'reset by hand', 'user-supplied (set.json)', ' set']) assert.equal(isOverride(text), false, String(text));
});

test('hardware show: every field of a profile that sets them all, by its label, with its unit, in the spec\'s order', () => {
  const p = mini({
    matrix: { peakTflops: { fp32: 1, bf16: 2, fp16: 3, fp8: 4, int8: 5, int4: 6 }, efficiency: 0.5, tileM: 128, tileN: 256, startLatencyNs: 7, weightsResident: false, fusedEpilogue: true, efficiencyByShape: [{ m: 8, k: 16, n: 32, efficiency: 0.25 }] },
    vector: { gelemsPerSec: 9, expCost: 10, rsqrtCost: 11, divCost: 12, startLatencyNs: 13 },
    collective: { topology: 'tree', hopLatencyNs: 14, bandwidthGBps: 15, startLatencyNs: 16, interChip: { hopLatencyNs: 17, bandwidthGBps: 18, startLatencyNs: 19, oneShotStartNs: 20 } },
    memory: { tiers: [{ name: 'hbm', bandwidthGBps: 21, capacityGB: 22 }], weightsTier: 'hbm', kvCacheTier: 'hbm', prefetch: true, activationsTier: 'hbm', efficiency: 0.75 },
    kernels: { attention: 'flash', norm: 'eager', launch: 'graph-in-decode', graphKernelNs: 23, eagerNormMultiply: 'activation', deferredStatistic: 'second-stream-from-512', dispatchNs: 24, streamJoinNs: 25, passOverheadNs: 26, allReduce: 'one-shot' },
    provenance: {},
  });
  const lines = formatProfile(p).split('\n');
  // Each section's rows as [label, value]: label and value are separated by two spaces or more.
  const section = (title: string) => {
    const from = lines.indexOf(title) + 1;
    return lines.slice(from, lines.indexOf('', from)).map((l) => l.trim().split(/ {2,}/).slice(0, 2));
  };
  assert.deepEqual(section('General'), [['default dtype', 'bf16'], ['compute units P', '4 units']]);
  assert.deepEqual(section('Matrix engine'), [
    ['peak fp32', '1 TFLOP/s'], ['peak bf16', '2 TFLOP/s'], ['peak fp16', '3 TFLOP/s'], ['peak fp8', '4 TFLOP/s'], ['peak int8', '5 TFLOP/s'], ['peak int4', '6 TFLOP/s'],
    ['efficiency', '0.5 (50% of peak)'], ['tile rows', '128 rows'], ['tile columns', '256 columns'], ['start latency', '7 ns'],
    ['weights resident', 'no'], ['fused epilogue', 'yes'],
    ['M', '8 rows'], ['K', '16 inputs'], ['N', '32 outputs'], ['efficiency', '0.25 (25% of peak)'],
  ]);
  assert.deepEqual(section('Vector engine'), [['throughput', '9 G elem/s'], ['exp cost', '10 × add'], ['rsqrt cost', '11 × add'], ['div cost', '12 × add'], ['start latency', '13 ns']]);
  assert.deepEqual(section('Collective network'), [
    ['topology', 'tree'], ['hop latency', '14 ns'], ['bandwidth', '15 GB/s'], ['start latency', '16 ns'],
    ['inter-chip hop latency', '17 ns'], ['inter-chip bandwidth', '18 GB/s'], ['all-reduce fixed cost', '19 ns'], ['one-shot all-reduce fixed cost', '20 ns'],
  ]);
  assert.deepEqual(section('Memory'), [
    ['hbm bandwidth', '21 GB/s'], ['hbm capacity', '22 GB'], ['weights tier', 'hbm'], ['KV-cache tier', 'hbm'], ['prefetch', 'yes'], ['activations tier', 'hbm'], ['bandwidth efficiency', '0.75 (75% of peak)'],
  ]);
  assert.deepEqual(section('Kernels'), [
    ['attention kernel', 'flash'], ['norm kernel', 'eager'], ['launch', 'graph-in-decode'], ['kernel in a captured graph', '23 ns'], ['eager norm multiply', 'activation'],
    ['deferred statistic', 'second-stream-from-512'], ['host dispatch per op', '24 ns'], ['second-stream fork and join', '25 ns'], ['host time per pass', '26 ns'], ['all-reduce kernel', 'one-shot'],
  ]);
});

test('unknown fields: one is named with what the object takes, several are listed; dtypes are said as dtypes', () => {
  const h100 = getPreset('gpu-h100');
  const top = 'name, title, description, defaultDtype, computeUnits, matrix, vector, collective, memory, kernels, $schema, provenance, sources, calibration';
  assert.equal(refused({ ...h100, provenance: {}, zz: 1 }), `p.json: zz: expected only the fields of a hardware profile: ${top}, found an unknown field "zz"`);
  assert.equal(refused({ ...h100, provenance: {}, zz: 1, yy: 2 }), `p.json: expected only the fields of a hardware profile: ${top}, found unknown fields "zz", "yy"`);
  const matrix = 'peakTflops, efficiency, tileM, tileN, startLatencyNs, weightsResident, fusedEpilogue, efficiencyByShape';
  assert.equal(refused({ ...h100, provenance: {}, matrix: { ...h100.matrix, zz: 1 } }), `p.json: matrix.zz: expected only the fields of matrix: ${matrix}, found an unknown field "zz"`);
  assert.equal(refused({ ...h100, provenance: {}, matrix: { ...h100.matrix, peakTflops: { bf16: 1, fp64: 2 } } }), 'p.json: matrix.peakTflops.fp64: expected only the dtypes: fp32, bf16, fp16, fp8, int8, int4 (did you mean "fp32"?), found an unknown dtype "fp64"');
  assert.equal(refused({ ...h100, provenance: {}, matrix: { ...h100.matrix, peakTflops: { bf16: 1, fp64: 2, x: 3 } } }), 'p.json: matrix.peakTflops: expected only the dtypes: fp32, bf16, fp16, fp8, int8, int4, found unknown dtypes "fp64", "x"');
});
