/**
 * A calibrated profile's matrix efficiency by shape (issue 18, round 2): the lookup (nearest weight
 * shape in log space, log-linear over M, held at the ends), the simulator's matmul cost reading it,
 * the validator's messages, calibrate writing it from measurements whose rate depends on the shape,
 * and the report's note when a workload's M lies outside the shapes measured. Every expected value
 * is worked out by hand here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile, ShapeEfficiency } from '../../src/core/hardware/profile';
import { efficiencyAt, shapeTable } from '../../src/core/hardware/shape-efficiency';
import { validateHardwareProfile } from '../../src/core/hardware/validate';
import { calibrate } from '../../src/core/measure/fit';
import { validateMeasurements, type Entry } from '../../src/core/measure/types';
import { profile } from '../../src/core/report/profile';
import { opDurationNs } from '../../src/core/sim/costs';
import type { Op } from '../../src/core/graph/ops';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const TABLE: ShapeEfficiency[] = [
  { m: 64, k: 576, n: 192, efficiency: 0.04 },
  { m: 32, k: 576, n: 192, efficiency: 0.01 },
  { m: 32, k: 576, n: 49152, efficiency: 0.001 },
];

const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual / expected - 1) < 1e-9, `${what}: ${actual}, expected ${expected}`);

test('the efficiency of a shape: log-linear over M between the points measured, held outside them, from the nearest weight shape', () => {
  const t = shapeTable(TABLE);
  near(efficiencyAt(t, 32, 576, 192), 0.01, 'a measured point');
  near(efficiencyAt(t, 64, 576, 192), 0.04, 'the other (listed first, sorted by M)');
  // M = 32·√2 is halfway in log M: exp((ln 0.01 + ln 0.04) / 2) = √(0.0004) = 0.02.
  near(efficiencyAt(t, 32 * Math.SQRT2, 576, 192), 0.02, 'halfway in log M');
  // M = 48: t = ln(1.5)/ln 2 = 0.58496; 0.01 · 4^0.58496 = 0.01 · 2.25 = 0.0225 (4^log2 1.5 = 1.5²).
  near(efficiencyAt(t, 48, 576, 192), 0.0225, 'M = 48');
  near(efficiencyAt(t, 8, 576, 192), 0.01, 'below the measured M: the first point');
  near(efficiencyAt(t, 4096, 576, 192), 0.04, 'above: the last');
  // N = 40,000 is nearer 49,152 than 192 in log space (|ln(40000/49152)| = 0.21 against 5.34).
  near(efficiencyAt(t, 32, 576, 40000), 0.001, 'the nearest weight shape');
  near(efficiencyAt(t, 32, 600, 200), 0.01, 'a shape next to 576 × 192');
});

function matmul(m: number, k: number, n: number, gemm: boolean): Op {
  return { id: 0, name: 'w', role: 'linear', engine: 'matrix', category: 'linear', work: { kind: 'matmul', m, k, n, bytes: k * n * 4, tier: 'weights', exps: 0, ...(gemm ? { gemm: { m, n } } : {}) }, deps: [] };
}

test("the simulator's linear reaches its shape's efficiency; a matmul without a GEMM shape keeps matrix.efficiency", () => {
  const cpu = getPreset('cpu');
  const hw: HardwareProfile = { ...cpu, matrix: { ...cpu.matrix, efficiencyByShape: TABLE } };
  const c = { hw, dtype: 'fp32' as const, tp: 1, phase: 'decode' as const };
  const start = cpu.matrix.startLatencyNs + cpu.kernels.dispatchNs;
  // 2 · 48 · 576 · 192 = 10,616,832 FLOPs at 0.768 TFLOP/s × 0.0225 = 17.28 GFLOP/s: 614,400 ns
  // (its 442,368 weight bytes take microseconds: compute-bound).
  near(opDurationNs(matmul(48, 576, 192, true), c) - start, 614_400, 'M = 48 at 0.0225');
  // Without a shape: the preset's efficiency 0.5: 10,616,832 / (0.384 TFLOP/s) = 27,648 ns.
  near(opDurationNs(matmul(48, 576, 192, false), c) - start, 27_648, 'matrix.efficiency');
  // And no table: the same linear at 0.5.
  near(opDurationNs(matmul(48, 576, 192, true), { ...c, hw: cpu }) - start, 27_648, 'no table');
});

test('the validator names the field of a bad shape table or calibration record', () => {
  const cpu = getPreset('cpu');
  const bad = (change: (p: Record<string, unknown> & { matrix: Record<string, unknown> }) => void, field: string, expected: RegExp) => {
    const p = JSON.parse(JSON.stringify({ ...cpu, matrix: { ...cpu.matrix, efficiencyByShape: TABLE } })) as Record<string, unknown> & { matrix: Record<string, unknown> };
    change(p);
    assert.throws(() => validateHardwareProfile(p, 'x.hardware.json'), (err: unknown) => err instanceof InputError && err.file === 'x.hardware.json' && err.field === field && expected.test(err.message), field);
  };
  assert.equal(validateHardwareProfile(JSON.parse(JSON.stringify({ ...cpu, matrix: { ...cpu.matrix, efficiencyByShape: TABLE } })), 'x.hardware.json').matrix.efficiencyByShape!.length, 3);
  bad((p) => ((p.matrix.efficiencyByShape as ShapeEfficiency[])[1]!.efficiency = 0), 'matrix.efficiencyByShape[1].efficiency', /≥ 0\.001 and ≤ 1/);
  bad((p) => ((p.matrix.efficiencyByShape as ShapeEfficiency[])[0]!.m = 2.5), 'matrix.efficiencyByShape[0].m', /an integer/);
  bad((p) => (p.matrix.efficiencyByShape = []), 'matrix.efficiencyByShape', /at least 1/);
  bad((p) => (p.matrix.efficiencyByShape = [...TABLE, TABLE[1]]), 'matrix.efficiencyByShape[3]', /not listed before/);
  bad((p) => (p.matrix.efficiencyByShape = Array.from({ length: 1025 }, (_, i) => ({ m: i + 1, k: 1, n: 1, efficiency: 1 }))), 'matrix.efficiencyByShape', /at most 1024/);
  const record = { device: 'CPU', date: '2026-12-06', measurements: 17, shapes: { mMin: 31, mMax: 33, kMax: 1536, nMax: 1536 } };
  bad((p) => (p.calibration = { ...record, shapes: { ...record.shapes, mMax: 30 } }), 'calibration.shapes.mMax', /at least mMin \(31\)/);
  bad((p) => (p.calibration = { ...record, device: '' }), 'calibration.device', /a non-empty string/);
  bad((p) => (p.calibration = 'yesterday'), 'calibration', /an object/);
});

/** GEMMs whose rate depends on the output width, as a CPU BLAS's does: N 192 at 0.08 TFLOP/s, 576 at 0.04, 1536 at 0.01. */
const RATE: Record<number, number> = { 192: 0.08, 576: 0.04, 1536: 0.01 };
const START_NS = 4000;
const gemmUs = (m: number, k: number, n: number, scale = 1) => (START_NS + (2 * m * k * n) / (scale * RATE[n]! * 1e3)) / 1000;

/** A measurements file of SmolLM2-135M in decode at batch 32 (M = 32) with these entries. */
function measuredAt32(modelPath: string, entries: Entry[], deviceName: string) {
  return validateMeasurements(
    {
      schema: 'deferred-norm-measurements/1',
      provenance: { device: 'cpu', deviceName, torch: '1.13.0', python: '3.11', dtype: 'fp32', threads: 1, date: '2026-12-06T00:00:00Z' },
      model: { name: 'SmolLM2-135M', path: modelPath },
      workload: { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, m: 32 },
      quick: true,
      entries,
      skipped: [],
    },
    's.json',
  );
}

test('calibrate writes each shape\'s own rate, and a calibrated profile times each GEMM as measured', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const t = (us: number) => ({ medianUs: us, p10Us: us, p90Us: us * 1.1, samples: 9, inner: 1, timing: 'perf_counter' as const });
  const entries: Entry[] = [
    { kind: 'launch', name: 'matrix', engine: 'matrix', ...t(START_NS / 1000) },
    ...[31, 32, 33].flatMap((m) => [[576, 576], [576, 192], [576, 1536], [1536, 576]].map(([k, n]): Entry => ({ kind: 'gemm', name: 'g', m, k: k!, n: n!, ...t(gemmUs(m, k!, n!)) }))),
  ];
  const measurements = measuredAt32(spec.source.path, entries, 'Test CPU');
  const c = calibrate([{ file: 's.json', measurements, spec }], getPreset('cpu'), 'shaped', 'cpu');
  const p = c.profile;
  // 0.08 TFLOP/s is below the stated 0.768 peak: each efficiency is its rate ÷ 0.768.
  assert.equal(p.matrix.peakTflops.fp32, 0.768);
  for (const s of p.matrix.efficiencyByShape!) assert.ok(Math.abs(s.efficiency / (RATE[s.n]! / 0.768) - 1) < 0.01, `${s.m}×${s.k}×${s.n}: ${s.efficiency}`);
  // A GEMM as the simulator builds it on the calibrated profile takes the time measured:
  // 32 × 576 → 192 is 2·32·576·192 / 0.08e12 s = 88.5 µs plus the 4 µs start.
  const c2 = { hw: p, dtype: 'fp32' as const, tp: 1, phase: 'decode' as const };
  for (const [k, n] of [[576, 192], [576, 1536], [1536, 576]] as const) {
    const us = opDurationNs(matmul(32, k, n, true), c2) / 1000;
    assert.ok(Math.abs(us / gemmUs(32, k, n) - 1) < 0.01, `${k}→${n}: ${us} µs, measured ${gemmUs(32, k, n)} µs`);
  }
  // With the one fitted efficiency instead (the table taken out) the three cannot all be right.
  const one = { ...c2, hw: { ...p, matrix: { ...p.matrix, efficiencyByShape: undefined } } };
  const worst = Math.max(...([[576, 192], [576, 1536]] as const).map(([k, n]) => Math.abs(opDurationNs(matmul(32, k, n, true), one) / 1000 / gemmUs(32, k, n) - 1)));
  assert.ok(worst > 0.3, `one efficiency misses some shape by ${worst}`);
  // The profile records what was measured, and a report outside it says so.
  assert.deepEqual(p.calibration!.shapes, { mMin: 31, mMax: 33, kMax: 1536, nMax: 576 + 960 });
  const notes = (batch: number) => profile(spec, p, { ...DEFAULT_WORKLOAD, phase: 'decode', batch }).model.notes;
  assert.equal(notes(32).some((n) => /outside the measured shapes/.test(n)), false);
  assert.ok(notes(512).some((n) => n.includes('The "shaped" profile was calibrated on Test CPU (2026-12-06T00:00:00Z); M = 512 is outside the measured shapes (M 31–33)')), notes(512).join(' | '));
  // A prefill of 1 × 128 tokens: M = 128, outside too.
  assert.ok(profile(spec, p, { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 128 }).model.notes.some((n) => n.includes('M = 128 is outside')));
});

test('--statistic: the 10th percentile or the median of each entry is fitted', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  // Every 10th percentile half the median: the machine fitted on p10 is twice as fast, start and rate.
  const t = (us: number) => ({ medianUs: us, p10Us: us / 2, p90Us: us * 1.1, samples: 9, inner: 1, timing: 'perf_counter' as const });
  const entries: Entry[] = [
    { kind: 'launch', name: 'matrix', engine: 'matrix', ...t(START_NS / 1000) },
    ...[[576, 192], [576, 1536]].map(([k, n]): Entry => ({ kind: 'gemm', name: 'g', m: 32, k: k!, n: n!, ...t(gemmUs(32, k!, n!)) })),
  ];
  const measurements = measuredAt32(spec.source.path, entries, 'Test CPU');
  const fit = (statistic: 'median' | 'p10') => calibrate([{ file: 's.json', measurements, spec }], getPreset('cpu'), 'x', 'cpu', statistic);
  const [median, p10] = [fit('median'), fit('p10')];
  assert.equal(p10.statistic, 'p10');
  for (const [i, shape] of median.byShape.entries()) {
    assert.ok(Math.abs(shape.tflops / RATE[shape.n]! - 1) < 0.01, `median rate of ${shape.k}×${shape.n}: ${shape.tflops}`);
    assert.ok(Math.abs(p10.byShape[i]!.tflops / (2 * RATE[shape.n]!) - 1) < 0.01, `p10 rate of ${shape.k}×${shape.n}: ${p10.byShape[i]!.tflops}`);
  }
});

test('rates under a thousandth of the stated peak (a reference BLAS) make the fastest one the peak, so that none is clamped', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  // 1/200 of the rates above: 0.4, 0.2 and 0.05 GFLOP/s against the cpu preset's 768 (under 1/1000 of it).
  const scale = 1 / 200;
  const t = (us: number) => ({ medianUs: us, p10Us: us, p90Us: us * 1.1, samples: 9, inner: 1, timing: 'perf_counter' as const });
  const entries: Entry[] = [
    { kind: 'launch', name: 'matrix', engine: 'matrix', ...t(START_NS / 1000) },
    ...[[576, 192], [576, 576], [576, 1536]].map(([k, n]): Entry => ({ kind: 'gemm', name: 'g', m: 32, k: k!, n: n!, ...t(gemmUs(32, k!, n!, scale)) })),
  ];
  const measurements = measuredAt32(spec.source.path, entries, 'Slow CPU');
  const p = calibrate([{ file: 's.json', measurements, spec }], getPreset('cpu'), 'slow', 'cpu').profile;
  // The peak becomes the least a profile states, 0.001 TFLOP/s (above the fastest, 0.0004): efficiencies 0.4, 0.2, 0.05.
  assert.equal(p.matrix.peakTflops.fp32, 0.001);
  assert.match(p.provenance['matrix.peakTflops.fp32']!, /the least peak a profile states .* more than 1,000× the slowest rate measured/);
  const eff = Object.fromEntries(p.matrix.efficiencyByShape!.map((e) => [e.n, e.efficiency]));
  for (const [n, expected] of [[192, 0.4], [576, 0.2], [1536, 0.05]] as const) assert.ok(Math.abs(eff[n]! / expected - 1) < 0.01, `N ${n}: ${eff[n]}`);
  const c = { hw: p, dtype: 'fp32' as const, tp: 1, phase: 'decode' as const };
  for (const n of [192, 576, 1536]) {
    const us = opDurationNs(matmul(32, 576, n, true), c) / 1000;
    assert.ok(Math.abs(us / gemmUs(32, 576, n, scale) - 1) < 0.01, `576→${n}: simulated ${us} µs, measured ${gemmUs(32, 576, n, scale)} µs`);
  }
});
