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
import { gemmMs } from '../../src/core/measure/plan';
import { MEASUREMENT_LIMITS, parseMeasurements, validateMeasurements } from '../../src/core/measure/types';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';

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
