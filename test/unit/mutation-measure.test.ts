/**
 * Tests that catch wrong answers in src/core/measure (issue 21): the measurements reader at each of
 * its bounds and for each kind of entry, the rows a workload's GEMMs have and when a calibrated
 * profile says it is extrapolating, and the GEMM rows the harness times. Every expected value is
 * written out here from the stated rules (schemas/measurements.schema.json, the tile sizes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import { getPreset } from '../../src/core/hardware/presets';
import { calibrationNotes, extrapolationNote, workloadRows } from '../../src/core/measure/extrapolation';
import type { Calibration } from '../../src/core/measure/fit';
import { formatCalibration } from '../../src/core/measure/format';
import { gemmMs, harnessPlan } from '../../src/core/measure/plan';
import { MEASUREMENT_LIMITS, parseMeasurements, validateMeasurements } from '../../src/core/measure/types';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const timing = { medianUs: 2, p10Us: 1, p90Us: 3, samples: 3, inner: 1, timing: 'perf_counter' };
/** One entry of each kind, as the harness writes them. */
const ENTRIES = [
  { kind: 'launch', name: 'mul', engine: 'vector', ...timing },
  { kind: 'stream', name: 'copy', elements: 10, bytes: 40, ...timing },
  { kind: 'gemm', name: 'q', m: 1, k: 2, n: 3, ...timing },
  { kind: 'norm', name: 'rms', norm: 'rmsnorm', impl: 'eager', rows: 4, width: 8, ...timing },
  { kind: 'attention', name: 'sdpa', impl: 'sdpa', batch: 1, heads: 4, kvHeads: 2, headDim: 16, queries: 1, keys: 32, ...timing },
  { kind: 'block', site: 'attn-norm', layerKind: 'decoder', norm: 'input_layernorm', rows: 4, width: 8, consumers: ['q_proj', 'k_proj'], variant: 'standard', ...timing },
];
function file(): Record<string, unknown> {
  return structuredClone({
    schema: 'deferred-norm-measurements/1',
    provenance: { device: 'cuda', deviceName: 'GPU X', torch: '2.4', python: '3.12', dtype: 'bf16', threads: 8, date: '2026-12-06', driver: '550.54', smClock: 1980 },
    model: { name: 'm', path: '/m/config.json' },
    workload: { phase: 'prefill', batch: 2, seq: 3, context: 4, tp: 1, m: 6 },
    quick: false,
    entries: ENTRIES,
    skipped: [{ what: 'fused rmsnorm', why: 'torch 1.13 has no F.rms_norm' }],
  });
}
type Json = Record<string, any>;

/** The InputError a change of the good file gives. */
function refusal(change: (f: Json) => void): InputError {
  const f = file();
  change(f);
  try {
    validateMeasurements(f, 'm.json');
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.file, 'm.json');
    return err;
  }
  assert.fail('expected an InputError');
}

test('measurements: every kind of entry is read with its own fields, and the provenance keeps its extras', () => {
  const m = validateMeasurements(file(), 'm.json');
  assert.deepEqual(m.entries, ENTRIES);
  assert.deepEqual(m.provenance, { device: 'cuda', deviceName: 'GPU X', torch: '2.4', python: '3.12', dtype: 'bf16', threads: 8, date: '2026-12-06', extra: { driver: '550.54', smClock: 1980 } });
  assert.deepEqual(m.model, { name: 'm', path: '/m/config.json' });
  assert.deepEqual(m.workload, { phase: 'prefill', batch: 2, seq: 3, context: 4, tp: 1, m: 6 });
  assert.equal(m.quick, false);
  assert.equal(m.schema, 'deferred-norm-measurements/1');
  assert.deepEqual(m.skipped, [{ what: 'fused rmsnorm', why: 'torch 1.13 has no F.rms_norm' }]);
  // Fields the reader does not know are not copied into an entry.
  const f = file();
  (f.entries as Json[])[2]!.extra = 'x';
  assert.deepEqual(validateMeasurements(f, 'm.json').entries[2], ENTRIES[2]);
  assert.deepEqual(parseMeasurements(JSON.stringify(file()), 'm.json').entries, ENTRIES);
});

test('measurements: each bound at its edge, with the field and what was expected', () => {
  const msg = (change: (f: Json) => void) => refusal(change).message;
  assert.equal(msg((f) => (f.entries[0].medianUs = 0)), 'm.json: entries[0].medianUs: expected a time in µs above 0 and at most 10^9, found 0');
  assert.equal(msg((f) => (f.entries[0].p90Us = 1e9 + 1)), 'm.json: entries[0].p90Us: expected a time in µs above 0 and at most 10^9, found 1000000001');
  assert.equal(msg((f) => (f.entries[0].p10Us = 'fast')), 'm.json: entries[0].p10Us: expected a time in µs above 0 and at most 10^9, found "fast"');
  assert.equal(msg((f) => (f.entries[0].p10Us = null)), 'm.json: entries[0].p10Us: expected a time in µs above 0 and at most 10^9, found null');
  const f = file();
  Object.assign((f.entries as Json[])[0]!, { p10Us: 1e9, medianUs: 1e9, p90Us: 1e9 });
  assert.equal(validateMeasurements(f, 'm.json').entries[0]!.p90Us, 1e9);
  // The median between the 10th and 90th percentiles (the three times quoted as one text); equal is fine.
  assert.equal(msg((f) => (f.entries[1].p10Us = 2.5)), 'm.json: entries[1].medianUs: expected p10Us ≤ medianUs ≤ p90Us, found "2.5 / 2 / 3"');
  assert.equal(msg((f) => (f.entries[1].p90Us = 1.5)), 'm.json: entries[1].medianUs: expected p10Us ≤ medianUs ≤ p90Us, found "1 / 2 / 1.5"');
  const same = file();
  Object.assign((same.entries as Json[])[1]!, { p10Us: 2, p90Us: 2 });
  assert.ok(validateMeasurements(same, 'm.json'));
  assert.equal(msg((f) => (f.entries[2].samples = 0)), 'm.json: entries[2].samples: expected a whole number of at least 1, found 0');
  assert.equal(msg((f) => (f.entries[2].inner = 2 ** 53)), 'm.json: entries[2].inner: expected a whole number of at least 1, found 9007199254740992');
  assert.equal(msg((f) => (f.entries[3].timing = 'wall')), 'm.json: entries[3].timing: expected one of perf_counter, cuda-events, cuda-graph, found "wall"');
  // Strings: non-empty, at most 1,000 characters.
  assert.equal(msg((f) => (f.model.name = '')), 'm.json: model.name: expected a non-empty string of at most 1000 characters, found ""');
  const longest = file();
  (longest.model as Json).path = 'p'.repeat(MEASUREMENT_LIMITS.text);
  assert.ok(validateMeasurements(longest, 'm.json'));
  assert.equal(refusal((f) => (f.model.path = 'p'.repeat(1001))).field, 'model.path');
  assert.equal(msg((f) => (f.model = 'm')), 'm.json: model: expected an object (name, path), found "m"');
  assert.equal(msg((f) => (f.provenance.threads = 0)), 'm.json: provenance.threads: expected a whole number of at least 1, found 0');
  assert.equal(msg((f) => (f.provenance.device = 'tpu')), 'm.json: provenance.device: expected one of cpu, cuda, found "tpu"');
  assert.equal(msg((f) => (f.provenance.dtype = 'fp8')), 'm.json: provenance.dtype: expected one of fp32, bf16, fp16, found "fp8"');
  assert.equal(msg((f) => (f.provenance.clock = Infinity)), 'm.json: provenance.clock: expected a string or a finite number, found Infinity');
  assert.equal(msg((f) => (f.provenance.note = 'n'.repeat(1001))), `m.json: provenance.note: expected a string or a finite number, found "${'n'.repeat(40)}…"`);
  assert.equal(msg((f) => (f.provenance.list = [1])), 'm.json: provenance.list: expected a string or a finite number, found an array of 1');
  assert.equal(msg((f) => (f.workload.phase = 'train')), 'm.json: workload.phase: expected one of prefill, decode, found "train"');
  for (const key of ['batch', 'seq', 'context', 'tp', 'm']) assert.equal(refusal((f) => (f.workload[key] = 0)).field, `workload.${key}`);
  assert.equal(msg((f) => (f.quick = 'yes')), 'm.json: quick: expected true or false, found "yes"');
  assert.equal(msg((f) => (f.skipped = [{ what: 'x' }])), 'm.json: skipped[0].why: expected a non-empty string of at most 1000 characters, found nothing');
  assert.equal(msg((f) => (f.skipped = [3])), 'm.json: skipped[0]: expected an object (what, why), found 3');
});

test('measurements: the entry and consumer caps, and each kind\'s own fields', () => {
  const msg = (change: (f: Json) => void) => refusal(change).message;
  const many = file();
  many.entries = Array.from({ length: MEASUREMENT_LIMITS.entries }, () => ENTRIES[2]);
  assert.equal(validateMeasurements(many, 'm.json').entries.length, 10_000);
  assert.equal(msg((f) => (f.entries = Array.from({ length: 10_001 }, () => ENTRIES[2]))), 'm.json: entries: expected an array of at most 10000 items, found an array of 10001');
  assert.equal(msg((f) => (f.entries = {})), 'm.json: entries: expected an array of at most 10000 items, found an object');
  assert.equal(msg((f) => (f.entries = [])), 'm.json: entries: expected at least one measurement, found an array of 0');
  assert.equal(msg((f) => (f.entries = [7])), 'm.json: entries[0]: expected an object (one measurement: kind, its shape, medianUs, p10Us, p90Us, samples, inner, timing), found 7');
  const block = 5;
  assert.equal(msg((f) => (f.entries[block].consumers = [])), 'm.json: entries[5].consumers: expected the names of the linear layers the norm feeds (at least one), found an array of 0');
  assert.equal(msg((f) => (f.entries[block].consumers = ['q', ''])), 'm.json: entries[5].consumers[1]: expected a linear layer\'s name, found ""');
  assert.equal(msg((f) => (f.entries[block].consumers = ['q', 'c'.repeat(1001)])), `m.json: entries[5].consumers[1]: expected a linear layer's name, found "${'c'.repeat(40)}…"`);
  assert.equal(msg((f) => (f.entries[block].consumers = ['q', 5])), 'm.json: entries[5].consumers[1]: expected a linear layer\'s name, found 5');
  const sixtyFour = file();
  (sixtyFour.entries as Json[])[block]!.consumers = Array.from({ length: 64 }, (_, i) => `c${i}`);
  assert.equal((validateMeasurements(sixtyFour, 'm.json').entries[block] as { consumers: string[] }).consumers.length, 64);
  assert.equal(refusal((f) => (f.entries[block].consumers = Array.from({ length: 65 }, (_, i) => `c${i}`))).field, 'entries[5].consumers');
  assert.equal(msg((f) => (f.entries[block].variant = 'fused')), 'm.json: entries[5].variant: expected one of standard, deferred, found "fused"');
  assert.equal(msg((f) => (f.entries[0].engine = 'tensor')), 'm.json: entries[0].engine: expected one of vector, matrix, found "tensor"');
  assert.equal(msg((f) => (f.entries[1].bytes = 0)), 'm.json: entries[1].bytes: expected a whole number of at least 1, found 0');
  assert.equal(msg((f) => (f.entries[3].norm = 'batchnorm')), 'm.json: entries[3].norm: expected one of rmsnorm, layernorm, found "batchnorm"');
  assert.equal(msg((f) => (f.entries[3].impl = 'sdpa')), 'm.json: entries[3].impl: expected one of eager, fused, found "sdpa"');
  assert.equal(msg((f) => (f.entries[4].impl = 'fused')), 'm.json: entries[4].impl: expected one of eager, sdpa, found "fused"');
  assert.equal(msg((f) => (f.entries[4].keys = 0)), 'm.json: entries[4].keys: expected a whole number of at least 1, found 0');
  assert.equal(msg((f) => (f.entries[block].site = '')), 'm.json: entries[5].site: expected a non-empty string of at most 1000 characters, found ""');
  assert.equal(msg((f) => (f.provenance = null)), 'm.json: provenance: expected an object (device, deviceName, torch, python, dtype, threads, date), found null');
  assert.equal(msg((f) => (f.workload = [])), 'm.json: workload: expected an object (phase, batch, seq, context, tp, m), found an array of 0');
  assert.throws(() => validateMeasurements([], 'm.json'), /^InputError: m\.json: expected an object \(the measurements a harness wrote\), found an array of 0$/);
});

test('a workload\'s GEMM rows, and the note when they lie outside what a profile was calibrated on', () => {
  assert.equal(workloadRows({ phase: 'decode', batch: 32, seq: 2048 }), 32);
  assert.equal(workloadRows({ phase: 'prefill', batch: 2, seq: 100 }), 200);
  const shapes = { mMin: 16, mMax: 64, kMax: 1, nMax: 1 };
  assert.equal(extrapolationNote(shapes, 16), null);
  assert.equal(extrapolationNote(shapes, 64), null);
  assert.equal(extrapolationNote(shapes, 15), 'M = 15 is outside the measured shapes (M 16–64): the calibrated matrix efficiency is extrapolated there; measure at this workload to calibrate it');
  assert.match(extrapolationNote(shapes, 65)!, /^M = 65 is outside/);
  const hw = getPreset('cpu');
  assert.deepEqual(calibrationNotes(hw, DEFAULT_WORKLOAD), [], 'an uncalibrated profile says nothing');
  const calibrated = { ...hw, calibration: { device: 'My CPU', date: '2026-12-01', shapes } } as typeof hw;
  assert.deepEqual(calibrationNotes(calibrated, { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 32 }), []);
  assert.deepEqual(calibrationNotes(calibrated, { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 100 }), [
    'The "cpu" profile was calibrated on My CPU (2026-12-01); M = 100 is outside the measured shapes (M 16–64): the calibrated matrix efficiency is extrapolated there; measure at this workload to calibrate it.',
  ]);
});

test('the GEMM rows the harness times: M ± 1, and in full mode the next tile size above M + 1 ± 1', () => {
  assert.deepEqual(gemmMs(32, true), [31, 32, 33]);
  // The next tile above 33 is 64.
  assert.deepEqual(gemmMs(32, false), [31, 32, 33, 63, 64, 65]);
  // M = 1: no row 0. The next tile above 2 is 16.
  assert.deepEqual(gemmMs(1, false), [1, 2, 15, 16, 17]);
  // M + 1 = 16 is a tile itself: the next one above it is 32.
  assert.deepEqual(gemmMs(15, false), [14, 15, 16, 31, 32, 33]);
  // Past the largest tile (512), nothing more.
  assert.deepEqual(gemmMs(511, false), [510, 511, 512]);
  assert.deepEqual(gemmMs(510, false), [509, 510, 511, 512, 513]);
  assert.deepEqual(gemmMs(4096, false), [4095, 4096, 4097]);
});

/** A calibration with chosen figures: what `calibrate` prints is checked line by line against them. */
function calibration(over: Partial<Calibration> = {}): Calibration {
  const cpu = getPreset('cpu');
  const profile = { ...cpu, name: 'mine', matrix: { ...cpu.matrix, efficiency: 0.25 }, memory: { ...cpu.memory, efficiency: 0.5 } };
  return {
    profile,
    device: 'Test CPU',
    deviceKind: 'cpu',
    date: '2026-12-06',
    dtype: 'fp32',
    params: { matrixTflops: 0.192, bandwidthGBps: 38.4, vectorGelems: 12.3456, matrixStartNs: 4999.6, vectorStartNs: 2500.4 },
    kept: [],
    fitted: [
      { label: 'gemm 32×576×576', measuredUs: 424.4, simulatedUs: 99.94, ratio: 0.2356 },
      { label: 'norm', measuredUs: 9.994, simulatedUs: 10.06, ratio: 1.0056 },
      { label: 'copy', measuredUs: 10, simulatedUs: 100, ratio: 10 },
    ],
    fitError: { n: 2, meanAbsError: 0.38498, maxAbsError: 0.7646 },
    statistic: 'p10',
    byShape: [
      { m: 64, k: 576, n: 192, tflops: 0.1234, efficiency: 0.16067 },
      { m: 32, k: 1536, n: 576, tflops: 0.2, efficiency: 0.26042 },
      { m: 32, k: 576, n: 192, tflops: 0.1, efficiency: 0.13021 },
      { m: 32, k: 576, n: 1536, tflops: 0.25, efficiency: 0.32552 },
    ],
    heldBack: [],
    heldBackError: { n: 0, meanAbsError: 0, maxAbsError: 0 },
    shapes: { mMin: 31, mMax: 64, kMax: 1536, nMax: 576, workloadM: 32 },
    notes: [],
    ...over,
  };
}

test('calibrate\'s text: the fitted numbers against the peaks, the fit\'s error, each shape, in order', () => {
  const lines = formatCalibration(calibration()).split('\n');
  assert.deepEqual(lines.slice(0, 5), [
    'Calibrated "mine" on Test CPU (cpu, fp32), measured 2026-12-06; fitted on each entry\'s 10th percentile.',
    'Fitted numbers (rates reached at the measured shapes):',
    // The cpu preset's peaks: 0.768 TFLOP/s fp32 and 76.8 GB/s of DRAM; four significant digits, whole ns.
    '  matrix  0.1920 TFLOP/s (matrix.efficiency 0.25 of 0.768 TFLOP/s), start 5000 ns',
    '  vector  12.35 G elem/s, start 2500 ns',
    '  memory  38.40 GB/s (memory.efficiency 0.5 of 76.8 GB/s)',
  ]);
  assert.equal(lines[5], '');
  assert.equal(lines[6], 'Fit error on the points used: n 2, mean |simulated ÷ measured − 1| 38.5%, max 76.5%');
  // Times: no decimals from 100 µs, one from 10 µs, two below; ratios to three places.
  assert.match(lines[9]!, /^gemm 32×576×576 +424 +99\.9 +0\.236$/);
  assert.match(lines[10]!, /^norm +9\.99 +10\.1 +1\.006$/);
  assert.match(lines[11]!, /^copy +10\.0 +100 +10\.000$/);
  // The header over those rows: columns as wide as their widest cell, figures right-aligned, two spaces apart.
  assert.equal(lines[7], `${'point'.padEnd(15)}  ${'measured µs'.padStart(11)}  ${'simulated µs'.padStart(12)}  ${'ratio'.padStart(6)}`);
  assert.equal(lines[8], `${'─'.repeat(15)}  ${'─'.repeat(11)}  ${'─'.repeat(12)}  ${'─'.repeat(6)}`);
  assert.equal(lines[12], '');
  assert.equal(lines[13], "Matrix efficiency by shape (each GEMM's rate fitted alone; written as matrix.efficiencyByShape, read by the nearest weight shape, interpolated over M):");
  // Shapes ordered by K·N, then K, then M: 576×192 (M 32, then 64) before 1536×576.
  // 576 × 1536 and 1536 × 576 have the same K·N: the smaller K first.
  const shapes = lines.slice(lines.indexOf('K × N        M  TFLOP/s  efficiency') + 2, lines.indexOf('K × N        M  TFLOP/s  efficiency') + 6);
  assert.deepEqual(shapes, ['576 × 192   32    0.100      0.1302', '576 × 192   64    0.123      0.1607', '576 × 1536  32    0.250      0.3255', '1536 × 576  32    0.200      0.2604']);
  assert.ok(lines.includes('Held-back blocks: none measured (the model has no deferrable RMSNorm site).'));
  assert.ok(lines.includes('Measured shapes: GEMM M 31–64, K ≤ 1536, N ≤ 576; a workload outside them is an extrapolation of this profile.'));
  assert.ok(!lines.some((l) => l.startsWith('  kept from the base')));
  assert.ok(!lines.some((l) => l.startsWith('Note: ')));
  assert.ok(!lines.some((l) => l.startsWith("'within noise'")));
  // The median, numbers kept from the base, and notes.
  const median = formatCalibration(calibration({ statistic: 'median', kept: ['vectorGelems', 'vectorStartNs'], notes: ['attention: eager 12 µs'] }));
  assert.match(median, /fitted on each entry's median\.\n/);
  assert.match(median, /\n {2}kept from the base \(no measurement constrains them\): vectorGelems, vectorStartNs\n/);
  assert.ok(median.endsWith('\nNote: attention: eager 12 µs\n'), median);
});

test('calibrate\'s text: the held-back blocks, their signed errors and savings, and the sign verdict', () => {
  const block = (site: string, measuredSavingPct: number, simulatedSavingPct: number, resolved: boolean, signRight: boolean) => ({
    file: 'm.json', site, consumers: ['q_proj', 'k_proj'], rows: 32,
    measuredStandardUs: 150, measuredDeferredUs: 100, simulatedStandardUs: 165, simulatedDeferredUs: 97,
    standardRatio: 1.1, deferredRatio: 0.97, measuredSavingPct, simulatedSavingPct, resolved, signRight,
  });
  const c = calibration({
    heldBack: [block('attn-norm', 33.3, 41.2, true, true), block('mlp-norm', -2, 5, true, false), block('x', 0.5, -0.4, false, false)] as Calibration['heldBack'],
    heldBackError: { n: 6, meanAbsError: 0.065, maxAbsError: 0.1 },
  });
  const lines = formatCalibration(c).split('\n');
  assert.ok(lines.includes('Held back (never fitted): the standard and the deferred norm → projection blocks: n 6, mean |simulated ÷ measured − 1| 6.5%, max 10.0%'), lines.join('\n'));
  // +10.0% and −3.0% are the ratios 1.1 and 0.97 as errors; savings signed; a resolved wrong sign says WRONG.
  const row = (site: string) => lines.find((l) => l.startsWith(`${site} → q_proj, k_proj`))!;
  assert.match(row('attn-norm'), /^attn-norm → q_proj, k_proj +32 +150 µs +165 µs +\+10\.0% +100 µs +97\.0 µs +-3\.0% +\+33\.3% +\+41\.2% +right$/);
  assert.match(row('mlp-norm'), / +-2\.0% +\+5\.0% +WRONG$/);
  assert.match(lines.find((l) => l.startsWith('site '))!, /^site +M +std measured +std simulated +error +deferred measured +deferred simulated +error +saving measured +saving simulated +sign$/);
  assert.match(row('x'), / +\+0\.5% +-0\.4% +within noise$/);
  // Exactly, with the widths worked out by hand (the widest cell or label of each column, two spaces
  // apart): the site and the sign to the left, every figure to the right.
  const right = (text: string, width: number) => text.padStart(width);
  assert.equal(lines.find((l) => l.startsWith('site '))!, ['site'.padEnd(26), right('M', 2), 'std measured', 'std simulated', right('error', 6), 'deferred measured', 'deferred simulated', 'error', 'saving measured', 'saving simulated', 'sign'].join('  '));
  assert.equal(row('attn-norm'), ['attn-norm → q_proj, k_proj', '32', right('150 µs', 12), right('165 µs', 13), '+10.0%', right('100 µs', 17), right('97.0 µs', 18), '-3.0%', right('+33.3%', 15), right('+41.2%', 16), 'right'].join('  '));
  assert.equal(row('x'), ['x → q_proj, k_proj'.padEnd(26), '32', right('150 µs', 12), right('165 µs', 13), '+10.0%', right('100 µs', 17), right('97.0 µs', 18), '-3.0%', right('+0.5%', 15), right('-0.4%', 16), 'within noise'].join('  '));
  assert.ok(lines.includes("'within noise': the measured standard and deferred times differ by less than half the spread (10th–90th percentile) of their samples: the sign of the saving cannot be told on this machine."));
  const allResolved = formatCalibration(calibration({ heldBack: [block('attn-norm', 1, 2, true, true)] as Calibration['heldBack'] }));
  assert.ok(!allResolved.includes("'within noise':"));
});

test('the plan of a LayerNorm model (GPT-2, prefill): its GEMMs, one norm per shape, no blocks, and why', async () => {
  const spec = await loadFixture('GPT-2');
  const plan = harnessPlan(spec, getPreset('gpu-h100'), { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 2, seq: 100 }, 'cuda', 'bf16', false);
  // Its config.json: n_embd 768, 12 heads of 64, the MLP 4 × 768 = 3072, vocabulary 50257, eps 1e-5.
  // Prefill of 2 × 100 tokens: M = 200; the next tile above 201 is 256.
  assert.deepEqual(plan.gemms, [
    { name: 'c_attn', k: 768, n: 2304, ms: [199, 200, 201, 255, 256, 257] },
    { name: 'attn.c_proj', k: 768, n: 768, ms: [199, 200, 201, 255, 256, 257] },
    { name: 'c_fc', k: 768, n: 3072, ms: [199, 200, 201, 255, 256, 257] },
    { name: 'mlp.c_proj', k: 3072, n: 768, ms: [199, 200, 201, 255, 256, 257] },
    { name: 'lm_head', k: 768, n: 50257, ms: [199, 200, 201, 255, 256, 257] },
  ]);
  // ln_1 and ln_2 have one shape: timed once, under the first name.
  assert.deepEqual(plan.norms, [{ name: 'ln_1', kind: 'layernorm', width: 768, eps: 1e-5, rows: 200 }]);
  assert.deepEqual(plan.blocks, []);
  assert.deepEqual(plan.notes, [
    'block decoder/attn-norm: a LayerNorm site; the harness times RMSNorm blocks only',
    'block decoder/mlp-norm: a LayerNorm site; the harness times RMSNorm blocks only',
  ]);
  assert.deepEqual(plan.workload, { phase: 'prefill', batch: 2, seq: 100, context: 2048, tp: 1, m: 200 });
  assert.deepEqual([plan.device, plan.dtype, plan.quick, plan.model.name], ['cuda', 'bf16', false, 'GPT-2']);
  // Prefill times every query of the sequence.
  assert.deepEqual({ ...plan.attention, keys: 0 }, { batch: 2, heads: 12, kvHeads: 12, headDim: 64, queries: 100, keys: 0 });
  // Copies of the activations (200 × 768) and of the largest weight (768 × 50257).
  assert.deepEqual(plan.streams, [153_600, 38_597_376]);
});

test('the plan of an MLA model with dense and MoE layers (DeepSeek-V2-Lite): each shape once, each name once, no attention', async () => {
  const spec = await loadFixture('DeepSeek-V2-Lite');
  const plan = harnessPlan(spec, getPreset('gpu-h100'), DEFAULT_WORKLOAD, 'cuda', 'bf16', true);
  // Its config.json: hidden 2048; 16 heads of 128 + 64 (rope) query dims (no q LoRA): 3072; the KV
  // down-projection 512 + 64 = 576, up-projection 16 × (128 + 128) = 4096; o_proj 16 × 128; a dense
  // first layer of 10944; 64 routed experts of 1408 and 2 shared (2816). Quick mode: M ± 1 only, and no lm_head.
  const ms = [31, 32, 33];
  assert.deepEqual(plan.gemms, [
    { name: 'q_proj', k: 2048, n: 3072, ms },
    { name: 'kv_a_proj_with_mqa', k: 2048, n: 576, ms },
    { name: 'kv_b_proj', k: 512, n: 4096, ms },
    { name: 'o_proj', k: 2048, n: 2048, ms },
    { name: 'gate_proj, up_proj', k: 2048, n: 10944, ms },
    { name: 'down_proj', k: 10944, n: 2048, ms },
    { name: 'gate', k: 2048, n: 64, ms },
    { name: 'experts.gate_proj, experts.up_proj', k: 2048, n: 1408, ms },
    { name: 'experts.down_proj', k: 1408, n: 2048, ms },
    { name: 'shared_experts.gate_proj, shared_experts.up_proj', k: 2048, n: 2816, ms },
    { name: 'shared_experts.down_proj', k: 2816, n: 2048, ms },
  ]);
  assert.deepEqual(plan.norms, [
    { name: 'input_layernorm', kind: 'rmsnorm', width: 2048, eps: 1e-6, rows: 32 },
    { name: 'kv_a_layernorm', kind: 'rmsnorm', width: 512, eps: 1e-6, rows: 32 },
  ]);
  // Each site's block once, from the first layer kind (the dense one).
  assert.deepEqual(plan.blocks.map((b) => [b.site, b.layerKind, b.norm, b.width, b.rows, b.consumers]), [
    ['attn-norm', 'dense', 'input_layernorm', 2048, 32, [{ name: 'q_proj', n: 3072 }, { name: 'kv_a_proj_with_mqa', n: 576 }]],
    ['mlp-norm', 'dense', 'post_attention_layernorm', 2048, 32, [{ name: 'gate_proj', n: 10944 }, { name: 'up_proj', n: 10944 }]],
  ]);
  assert.equal(plan.attention, null);
  assert.deepEqual(plan.notes, ['gemm: quick mode leaves out lm_head (2048×102400)', 'attention: MLA is not timed by the harness']);
  // The largest weight left in quick mode: the dense MLP's 2048 × 10944.
  assert.deepEqual(plan.streams, [32 * 2048, 2048 * 10944]);
});

test('the plan shards by TP, refuses a model with no layers, and caps quick mode\'s keys', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  // TP 3 of 9 heads (3 KV heads): q_proj and the MLP's inputs split by output, o_proj and down_proj by input.
  const plan = harnessPlan(spec, getPreset('gpu-h100'), { ...DEFAULT_WORKLOAD, tp: 3 }, 'cuda', 'bf16', true);
  assert.deepEqual(plan.gemms.map((g) => [g.name, g.k, g.n]), [['q_proj', 576, 192], ['k_proj, v_proj', 576, 64], ['o_proj', 192, 576], ['gate_proj, up_proj', 576, 512], ['down_proj', 512, 576]]);
  assert.deepEqual(plan.blocks[0]!.consumers, [{ name: 'q_proj', n: 192 }, { name: 'k_proj', n: 64 }, { name: 'v_proj', n: 64 }]);
  assert.deepEqual({ ...plan.attention! }, { batch: 32, heads: 3, kvHeads: 1, headDim: 64, queries: 1, keys: 512 });
  assert.ok(plan.notes.includes("attention: quick mode times 512 keys per query, not the workload's 2049"));
  // 512 keys exactly is not capped, and says nothing.
  const short = harnessPlan(spec, getPreset('gpu-h100'), { ...DEFAULT_WORKLOAD, context: 511 }, 'cuda', 'bf16', true);
  assert.equal(short.attention!.keys, 512);
  assert.ok(!short.notes.some((n) => n.startsWith('attention:')), short.notes.join('\n'));
  assert.throws(() => harnessPlan({ ...spec, layerKinds: [] }, getPreset('cpu'), DEFAULT_WORKLOAD, 'cpu', 'fp32', true), (err: unknown) => err instanceof InputError && err.message === `${spec.source.path}: layers: expected a model with at least one layer to measure, found none`);
});

test('measurements: the schema, the extras\' edge, times that are not numbers, and the list of what was skipped', () => {
  const msg = (change: (f: Json) => void) => refusal(change).message;
  assert.equal(msg((f) => (f.schema = 'deferred-norm-measurements/2')), 'm.json: schema: expected "deferred-norm-measurements/1", found "deferred-norm-measurements/2"');
  assert.equal(msg((f) => delete f.schema), 'm.json: schema: expected "deferred-norm-measurements/1", found nothing');
  // An extra of exactly 1,000 characters is kept; a known key is read by its own rule, not as an extra.
  const edge = file();
  (edge.provenance as Json).note = 'n'.repeat(1000);
  assert.equal(validateMeasurements(edge, 'm.json').provenance.extra.note, 'n'.repeat(1000));
  assert.equal(msg((f) => (f.provenance.flag = true)), 'm.json: provenance.flag: expected a string or a finite number, found true');
  assert.equal(msg((f) => (f.provenance.clock = NaN)), 'm.json: provenance.clock: expected a string or a finite number, found NaN');
  assert.equal(msg((f) => (f.provenance.threads = 2.5)), 'm.json: provenance.threads: expected a whole number of at least 1, found 2.5');
  assert.equal(msg((f) => (f.provenance.threads = '4')), 'm.json: provenance.threads: expected a whole number of at least 1, found "4"');
  assert.equal(msg((f) => (f.entries[0].medianUs = NaN)), 'm.json: entries[0].medianUs: expected a time in µs above 0 and at most 10^9, found NaN');
  assert.equal(msg((f) => (f.entries[0].medianUs = -1)), 'm.json: entries[0].medianUs: expected a time in µs above 0 and at most 10^9, found -1');
  assert.equal(msg((f) => (f.entries[0].kind = 7)), 'm.json: entries[0].kind: expected one of launch, stream, gemm, norm, attention, block, found 7');
  assert.equal(msg((f) => (f.entries[2].name = 5)), 'm.json: entries[2].name: expected a non-empty string of at most 1000 characters, found 5');
  assert.equal(msg((f) => (f.quick = undefined)), 'm.json: quick: expected true or false, found nothing');
  assert.equal(msg((f) => (f.skipped = 'none')), 'm.json: skipped: expected an array of at most 10000 items, found "none"');
  assert.equal(msg((f) => (f.skipped = Array.from({ length: 10_001 }, () => ({ what: 'a', why: 'b' })))), 'm.json: skipped: expected an array of at most 10000 items, found an array of 10001');
  const none = file();
  none.skipped = [];
  assert.deepEqual(validateMeasurements(none, 'm.json').skipped, []);
  assert.equal(msg((f) => (f.skipped = [{ why: 'b' }])), 'm.json: skipped[0].what: expected a non-empty string of at most 1000 characters, found nothing');
});

test('calibrate\'s text: the memory line quotes the weights\' tier, not the first one listed', () => {
  const c = calibration();
  const l3First = { ...c.profile, memory: { ...c.profile.memory, tiers: [{ name: 'l3', bandwidthGBps: 500, capacityGB: 0.03 }, ...c.profile.memory.tiers] } };
  const lines = formatCalibration({ ...c, profile: l3First }).split('\n');
  assert.equal(lines[4], '  memory  38.40 GB/s (memory.efficiency 0.5 of 76.8 GB/s)');
});
