/**
 * Tests that catch wrong answers in calibrate's fit (issue 21): the least squares and its first
 * reading, the points made of a measurements file, the profile the fit is written into, the held-back
 * blocks and calibrate's own checks. Every expected value is worked out here by hand from the cpu
 * preset's stated numbers (0.768 TFLOP/s fp32 at efficiency 0.5, 76.8 GB/s at 0.7, 384 G elements/s,
 * starts of 5 µs and 3 µs) and the roofline the simulator states: a kernel's start plus the larger of
 * its arithmetic and its bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import { writeProfile } from '../../src/core/measure/calibrated-profile';
import { calibrate } from '../../src/core/measure/fit';
import { fitPoints, harnessProfile, measuredWorkload, paramsOf, predictNs, withParams, type FitParams, type FitPoint, type MeasuredSet } from '../../src/core/measure/fit-points';
import { heldBackBlocks } from '../../src/core/measure/held-back';
import { cost, directEstimate, errorOf, fitParams, golden, nelderMead, unconstrained } from '../../src/core/measure/least-squares';
import { validateMeasurements, type Measurements } from '../../src/core/measure/types';
import { simulateSite } from '../../src/core/sim/simulate';
import { restrictConsumers } from '../../src/core/validate/validate';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const CPU = getPreset('cpu');
/** The cpu preset under the harness's stack: what the fit predicts with (made in each test, so that a mutant that breaks it fails a test, not the file's loading). */
const cpuHarness = () => harnessProfile(CPU, 'fp32', 'cpu');

/** A point of one op, as fit-points makes them (no dependencies, its own start). */
function copy(bytes: number, measuredNs: number): FitPoint {
  return { label: `copy ${bytes}`, kind: 'stream', m: null, measuredNs, ops: [{ id: 0, name: 'copy', role: 'residual', engine: 'vector', category: 'elementwise', work: { kind: 'vector', elements: bytes / 8, ops: 0, exps: 0, rsqrts: 0, divs: 0, bytes }, deps: [] }] };
}
function vectorLaunch(measuredNs: number, elements = 1, bytes = 8): FitPoint {
  return { label: 'launch vector', kind: 'launch', m: null, measuredNs, ops: [{ id: 0, name: 'mul', role: 'residual', engine: 'vector', category: 'elementwise', work: { kind: 'vector', elements, ops: 1, exps: 0, rsqrts: 0, divs: 0, bytes }, deps: [] }] };
}
function matrixLaunch(measuredNs: number): FitPoint {
  return { label: 'launch matrix', kind: 'launch', m: null, measuredNs, ops: [{ id: 0, name: 'mm', role: 'linear', engine: 'matrix', category: 'linear', work: { kind: 'matmul', m: 1, k: 1, n: 1, bytes: 4, tier: 'weights', exps: 0 }, deps: [] }] };
}
function gemm(m: number, k: number, n: number, measuredNs: number): FitPoint {
  return { label: `g ${m}×${k}×${n}`, kind: 'gemm', m, measuredNs, ops: [{ id: 0, name: 'g', role: 'linear', engine: 'matrix', category: 'linear', work: { kind: 'matmul', m, k, n, bytes: k * n * 4, tier: 'weights', exps: 0, gemm: { m, n } }, deps: [] }] };
}
const PARAMS: FitParams = { matrixTflops: 0.1, bandwidthGBps: 8, vectorGelems: 2, matrixStartNs: 4000, vectorStartNs: 1000 };
const near = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual / expected - 1) <= tol, `${what}: ${actual} is not within ${100 * tol}% of ${expected}`);

test('errorOf: |ratio − 1| as mean and max, and none for no points', () => {
  assert.deepEqual(errorOf([]), { n: 0, meanAbsError: 0, maxAbsError: 0 });
  const e = errorOf([0.9, 1.2, 1]);
  assert.equal(e.n, 3);
  near(e.meanAbsError, (0.1 + 0.2 + 0) / 3, 1e-12, 'mean');
  near(e.maxAbsError, 0.2, 1e-12, 'max');
  // The largest error is the one below 1 here: an absolute value, not the largest ratio.
  near(errorOf([0.5, 1.1]).maxAbsError, 0.5, 1e-12, 'max below 1');
});

test('predictNs and cost: start plus the larger of arithmetic and bytes, log ratios summed in squares', () => {
  const at = withParams(cpuHarness(), 'fp32', PARAMS);
  // A copy of 8,000 bytes at 8 GB/s: 1,000 ns, after a 1,000 ns start.
  assert.equal(predictNs(copy(8000, 1), at, 'fp32', 1), 2000);
  // A 1-element multiply: 1 op at 2 G/s is 0.5 ns, 8 bytes at 8 GB/s 1 ns: the start and 1 ns.
  assert.equal(predictNs(vectorLaunch(1), at, 'fp32', 1), 1001);
  // 1,000 elements at 2 G/s (500 ns) against 8 bytes: bound by the arithmetic.
  assert.equal(predictNs(vectorLaunch(1, 1000), at, 'fp32', 1), 1500);
  // A 64×64×64 GEMM: 524,288 FLOPs at 0.1 TFLOP/s is 5,242.88 ns; 16 KiB of weights at 8 GB/s 2,048 ns.
  near(predictNs(gemm(64, 64, 64, 1), at, 'fp32', 1), 4000 + 5242.88, 1e-12, 'gemm');
  // Exactly predicted points cost nothing; one measured at half its prediction costs ln(2)².
  assert.equal(cost([copy(8000, 2000)], cpuHarness(), 'fp32', PARAMS), 0);
  near(cost([copy(8000, 2000), copy(8000, 1000)], cpuHarness(), 'fp32', PARAMS), Math.LN2 ** 2, 1e-12, 'one point off by 2');
  // Off by 2 either way costs the same: a log ratio, squared.
  near(cost([copy(8000, 4000), copy(8000, 1000)], cpuHarness(), 'fp32', PARAMS), 2 * Math.LN2 ** 2, 1e-12, 'two points');
});

test('withParams writes the rates where the cost functions read them; paramsOf reads a profile\'s rates', () => {
  const twoTiers: HardwareProfile = { ...cpuHarness(), memory: { ...cpuHarness().memory, tiers: [...cpuHarness().memory.tiers, { name: 'l3', bandwidthGBps: 500, capacityGB: 0.03 }] } };
  const at = withParams(twoTiers, 'fp32', PARAMS);
  assert.equal(at.matrix.peakTflops.fp32, 0.1);
  assert.equal(at.matrix.peakTflops.bf16, 0.768, 'the other dtypes keep their peaks');
  assert.equal(at.matrix.efficiency, 1);
  assert.equal(at.matrix.startLatencyNs, 4000);
  assert.equal(at.vector.gelemsPerSec, 2);
  assert.equal(at.vector.startLatencyNs, 1000);
  assert.equal(at.vector.rsqrtCost, 4, 'the other vector numbers are kept');
  assert.equal(at.memory.efficiency, 1);
  assert.deepEqual(at.memory.tiers.map((t) => [t.name, t.bandwidthGBps]), [['dram', 8], ['l3', 500]]);
  // 0.768 × 0.5, 76.8 × 0.7, and the stated vector rate and starts.
  const p = paramsOf(CPU, 'fp32');
  near(p.matrixTflops, 0.384, 1e-12, 'matrix');
  near(p.bandwidthGBps, 53.76, 1e-12, 'bandwidth');
  assert.deepEqual([p.vectorGelems, p.matrixStartNs, p.vectorStartNs], [384, 5000, 3000]);
  // Read from the weights' tier, not the first one.
  const weightsInL3: HardwareProfile = { ...twoTiers, memory: { ...twoTiers.memory, weightsTier: 'l3', efficiency: 0.5 } };
  assert.equal(paramsOf(weightsInL3, 'fp32').bandwidthGBps, 250);
});

test('harnessProfile: the harness\'s stack, a fresh matrix fit, and refusals of a base the fit cannot write into', () => {
  const calibrated = { ...CPU, matrix: { ...CPU.matrix, efficiencyByShape: [{ m: 1, k: 1, n: 1, efficiency: 0.5 }] }, calibration: { device: 'x', date: 'd', shapes: { mMin: 1, mMax: 1, kMax: 1, nMax: 1 } }, kernels: { ...CPU.kernels, norm: 'fused' as const, launch: 'graph' as const } };
  const hw = harnessProfile(calibrated as unknown as HardwareProfile, 'fp32', 'base.json');
  assert.equal(hw.matrix.efficiencyByShape, undefined);
  assert.equal(hw.calibration, undefined);
  assert.equal(hw.kernels.norm, 'eager');
  assert.equal(hw.kernels.launch, 'per-kernel');
  assert.equal(hw.matrix.fusedEpilogue, false);
  assert.equal(hw.matrix.efficiency, 0.5, 'the rest of the base is kept');
  const refuse = (base: HardwareProfile, dtype: 'fp32' | 'fp16') => {
    try {
      harnessProfile(base, dtype, 'base.json');
    } catch (err) {
      assert.ok(err instanceof InputError);
      return err.message;
    }
    return assert.fail('expected an InputError');
  };
  assert.equal(refuse({ ...CPU, memory: { ...CPU.memory, activationsTier: undefined } }, 'fp32'), 'base.json: memory: expected a base profile whose weights and activations share one memory tier (a CPU or GPU preset), found weights in dram, activations in the compute units');
  assert.equal(refuse({ ...CPU, memory: { ...CPU.memory, activationsTier: 'sram' } }, 'fp32'), 'base.json: memory: expected a base profile whose weights and activations share one memory tier (a CPU or GPU preset), found weights in dram, activations in sram');
  assert.equal(refuse(CPU, 'fp16'), 'base.json: matrix.peakTflops.fp16: expected a peak rate for fp16, the dtype the measurements were taken in, found none');
});

test('directEstimate: starts from the launches, bandwidth from the largest copy, the median GEMM rate', () => {
  const fallback: FitParams = { matrixTflops: 9, bandwidthGBps: 9, vectorGelems: 9, matrixStartNs: 9, vectorStartNs: 9 };
  // Nothing to read: everything stays.
  assert.deepEqual(directEstimate([], fallback), fallback);
  const points = [
    vectorLaunch(3000), vectorLaunch(1000), vectorLaunch(2000),
    matrixLaunch(5000), matrixLaunch(4000),
    // The largest copy: 80,000 bytes in 11,000 ns, less the 2,000 ns vector start: 80,000 / 9,000 GB/s… per ns.
    copy(8000, 3000), copy(80000, 11000), copy(800, 2500),
    // 2·32·64·64 = 262,144 FLOPs; times less the 5,000 ns matrix start: 1,000, 2,000 and 4,000 ns.
    gemm(32, 64, 64, 6000), gemm(32, 64, 64, 9000), gemm(32, 64, 64, 7000),
  ];
  const p = directEstimate(points, fallback);
  // Median of 1,000, 2,000, 3,000; of two (4,000, 5,000) the upper one.
  assert.equal(p.vectorStartNs, 2000);
  assert.equal(p.matrixStartNs, 5000);
  near(p.bandwidthGBps, 80000 / 9000, 1e-12, 'bandwidth');
  // Rates 262.144, 131.072 and 65.536 GFLOP/s: the median, in TFLOP/s.
  near(p.matrixTflops, 262144 / 2000 / 1e3, 1e-12, 'matrix rate');
  assert.equal(p.vectorGelems, 9, 'no point reads the vector rate directly');
  // A copy or GEMM no slower than its start says nothing: the fallback stays.
  const slow = directEstimate([vectorLaunch(5000), copy(8000, 5000), matrixLaunch(5000), gemm(32, 64, 64, 5000)], fallback);
  assert.equal(slow.bandwidthGBps, 9);
  assert.equal(slow.matrixTflops, 9);
  // Launches of one engine only: the other's start stays.
  assert.equal(directEstimate([vectorLaunch(700)], fallback).matrixStartNs, 9);
  assert.equal(directEstimate([matrixLaunch(700)], fallback).vectorStartNs, 9);
});

test('unconstrained: the numbers no prediction moves by 1% when doubled or halved', () => {
  // Copies alone: the bandwidth and the vector start show; the matrix numbers and the vector rate do not.
  assert.deepEqual(unconstrained([copy(8000, 2000)], cpuHarness(), 'fp32', PARAMS), ['matrixTflops', 'vectorGelems', 'matrixStartNs']);
  // A start of 1 ns against 1,000 ns of bytes: doubling it moves the copy by 0.1%.
  assert.deepEqual(unconstrained([copy(8000, 2000)], cpuHarness(), 'fp32', { ...PARAMS, vectorStartNs: 1 }), ['matrixTflops', 'vectorGelems', 'matrixStartNs', 'vectorStartNs']);
  // 100 ns of start against 1,000 ns: doubling moves it by ln(1200/1100) = 8.7%.
  assert.deepEqual(unconstrained([copy(8000, 2000)], cpuHarness(), 'fp32', { ...PARAMS, vectorStartNs: 100 }), ['matrixTflops', 'vectorGelems', 'matrixStartNs']);
  // A launch whose arithmetic (16 elements at 2 G/s: 8 ns) equals its bytes (64 B at 8 GB/s: 8 ns), after
  // a 1 ns start: a doubled rate moves nothing (the bytes bound it), a halved one moves it: the rate counts.
  const tie = { ...PARAMS, vectorStartNs: 1 };
  assert.deepEqual(unconstrained([vectorLaunch(9, 16, 64)], cpuHarness(), 'fp32', tie), ['matrixTflops', 'matrixStartNs']);
});

test('fitParams: least squares recovers the rates that generated the points, and moves only the numbers asked', () => {
  // Copies of 8 kB to 8 MB at 30 GB/s after 2,500 ns, and compute-bound launches at 3 G elements/s.
  const truth = { bandwidthGBps: 30, vectorStartNs: 2500, vectorGelems: 3 };
  const points = [8e3, 8e4, 8e5, 8e6].map((b) => copy(b, truth.vectorStartNs + b / truth.bandwidthGBps));
  points.push(...[3e3, 3e4].map((e) => vectorLaunch(truth.vectorStartNs + e / truth.vectorGelems, e, 8)));
  const start: FitParams = { matrixTflops: 0.7, bandwidthGBps: 1, vectorGelems: 100, matrixStartNs: 123, vectorStartNs: 10 };
  const p = fitParams(points, cpuHarness(), 'fp32', start, ['bandwidthGBps', 'vectorGelems', 'vectorStartNs']);
  near(p.bandwidthGBps, 30, 1e-4, 'bandwidth');
  near(p.vectorGelems, 3, 1e-4, 'vector rate');
  near(p.vectorStartNs, 2500, 1e-4, 'vector start');
  assert.equal(p.matrixTflops, 0.7);
  assert.equal(p.matrixStartNs, 123);
  // One number asked: the others stay where they were, even when wrong.
  const one = fitParams(points, cpuHarness(), 'fp32', { ...start, bandwidthGBps: 30, vectorGelems: 3 }, ['vectorStartNs']);
  near(one.vectorStartNs, 2500, 1e-4, 'vector start alone');
  assert.deepEqual([one.bandwidthGBps, one.vectorGelems], [30, 3]);
  // GEMMs at 0.05 TFLOP/s after 4,000 ns (compute-bound: 2·32·576² FLOPs take 424 µs).
  const gemms = [31, 32, 33].map((m) => gemm(m, 576, 576, 4000 + (2 * m * 576 * 576) / 50));
  const g = fitParams(gemms, cpuHarness(), 'fp32', { ...PARAMS, matrixStartNs: 4000 }, ['matrixTflops']);
  near(g.matrixTflops, 0.05, 1e-4, 'matrix rate');
  // A rate above the search range's top is clamped there, not left where the simplex wandered.
  const fast = fitParams([copy(8e6, 2500 + 8e6 / 1e7)], cpuHarness(), 'fp32', { ...start, vectorStartNs: 2500 }, ['bandwidthGBps']);
  assert.ok(fast.bandwidthGBps <= 1e6 && fast.bandwidthGBps >= 1e5, `bandwidth ${fast.bandwidthGBps}`);
});

/** A measurements file of the cpu run of SmolLM2-135M, with the entries given. */
function measurements(entries: unknown[], over: Record<string, unknown> = {}): Measurements {
  return validateMeasurements(
    {
      schema: 'deferred-norm-measurements/1',
      provenance: { device: 'cpu', deviceName: 'Test CPU', torch: '2.4', python: '3.12', dtype: 'fp32', threads: 4, date: '2026-12-06' },
      model: { name: 'SmolLM2-135M', path: '/m/config.json' },
      workload: { phase: 'decode', batch: 32, seq: 2048, context: 1024, tp: 1, m: 32 },
      quick: true,
      entries,
      skipped: [],
      ...over,
    },
    'm.json',
  );
}
const t = (medianUs: number, p10Us = medianUs, p90Us = medianUs, timing = 'perf_counter') => ({ medianUs, p10Us, p90Us, samples: 5, inner: 1, timing });

test('measuredWorkload and fitPoints: each entry as the ops the simulator makes of it, at the statistic asked', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const m = measurements([
    { kind: 'launch', name: 'mul', engine: 'vector', ...t(4, 3, 5) },
    { kind: 'launch', name: 'mm', engine: 'matrix', ...t(6, 5, 7) },
    { kind: 'stream', name: 'copy', elements: 100, bytes: 800, ...t(10, 8, 12, 'cuda-graph') },
    { kind: 'gemm', name: 'q_proj', m: 32, k: 576, n: 192, ...t(20, 18, 22, 'cuda-graph') },
    { kind: 'gemm', name: 'o_proj', m: 31, k: 576, n: 576, ...t(20, 18, 22) },
    { kind: 'norm', name: 'input_layernorm', norm: 'rmsnorm', impl: 'eager', rows: 32, width: 576, ...t(30, 25, 35) },
    // The fused RMSNorm and an eager LayerNorm are not what PyTorch runs under the harness's stack.
    { kind: 'norm', name: 'input_layernorm', norm: 'rmsnorm', impl: 'fused', rows: 32, width: 576, ...t(30) },
    { kind: 'norm', name: 'input_layernorm', norm: 'layernorm', impl: 'eager', rows: 32, width: 576, ...t(30) },
    // A norm the model does not have, attention and blocks: never fitted.
    { kind: 'norm', name: 'no_such_norm', norm: 'rmsnorm', impl: 'eager', rows: 32, width: 576, ...t(30) },
    { kind: 'attention', name: 'sdpa', impl: 'sdpa', batch: 1, heads: 9, kvHeads: 3, headDim: 64, queries: 1, keys: 32, ...t(40) },
    { kind: 'block', site: 'attn-norm', layerKind: 'decoder', norm: 'input_layernorm', rows: 32, width: 576, consumers: ['q_proj'], variant: 'standard', ...t(50) },
  ]);
  assert.deepEqual(measuredWorkload(m), { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 32, seq: 2048, context: 1024, tp: 1, dtype: 'fp32' });
  assert.equal(measuredWorkload(measurements([{ kind: 'launch', name: 'mul', engine: 'vector', ...t(4) }], { provenance: { device: 'cuda', deviceName: 'G', torch: '2', python: '3', dtype: 'bf16', threads: 1, date: 'd' } })).dtype, 'bf16');
  const set: MeasuredSet = { file: 'm.json', measurements: m, spec };
  const points = fitPoints(set, cpuHarness());
  assert.deepEqual(points.map((p) => [p.label, p.kind, p.m, p.measuredNs, p.inGraph ?? null]), [
    ['launch vector', 'launch', null, 3000, null],
    ['launch matrix', 'launch', null, 5000, null],
    ['copy 100', 'stream', null, 8000, true],
    ['q_proj 32×576×192', 'gemm', 32, 18000, true],
    ['o_proj 31×576×576', 'gemm', 31, 18000, false],
    ['input_layernorm (eager)', 'norm', null, 25000, false],
  ]);
  assert.deepEqual(fitPoints(set, cpuHarness(), 'median').map((p) => p.measuredNs), [4000, 6000, 10000, 20000, 20000, 30000]);
  const [vec, mat, cp, q] = points;
  assert.deepEqual([vec!.ops[0]!.engine, vec!.ops[0]!.work], ['vector', { kind: 'vector', elements: 1, ops: 1, exps: 0, rsqrts: 0, divs: 0, bytes: 8 }]);
  assert.deepEqual([mat!.ops[0]!.engine, mat!.ops[0]!.work], ['matrix', { kind: 'matmul', m: 1, k: 1, n: 1, bytes: 4, tier: 'weights', exps: 0 }]);
  assert.deepEqual([cp!.ops[0]!.engine, q!.ops[0]!.engine], ['vector', 'matrix']);
  assert.deepEqual(cp!.ops[0]!.work, { kind: 'vector', elements: 100, ops: 0, exps: 0, rsqrts: 0, divs: 0, bytes: 800 });
  assert.deepEqual(q!.ops[0]!.work, { kind: 'matmul', m: 32, k: 576, n: 192, bytes: 576 * 192 * 4, tier: 'weights', exps: 0, gemm: { m: 32, n: 192 } });
  assert.deepEqual(points.slice(0, 5).map((p) => [p.ops.length, p.ops[0]!.deps]), Array.from({ length: 5 }, () => [1, []]));
  // Hugging Face's eager RMSNorm: x², mean, the gather of the statistic, + ε, rsqrt, x·r, γ·.
  assert.deepEqual(points[5]!.ops.map((op) => op.category), ['norm-stat', 'norm-stat', 'stat-collective', 'norm-stat', 'norm-stat', 'norm-apply', 'norm-apply']);
  // The statistic's gather and broadcast over the cpu preset's 8 cores, a tree: 2 × log2(8) = 6 hops of
  // 50 ns, added to the ops' own times (a profile whose hops cost nothing is 300 ns quicker).
  const normPoint = points[5]!;
  const hw = cpuHarness();
  const noHops: HardwareProfile = { ...hw, collective: { ...hw.collective, hopLatencyNs: 0 } };
  near(predictNs(normPoint, hw, 'fp32', 1) - predictNs(normPoint, noHops, 'fp32', 1), 300, 1e-9, 'hop latency');
  // A LayerNorm model (GPT-2): PyTorch's LayerNorm is one fused kernel; an eager one is not what it runs.
  const gpt2 = await loadFixture('GPT-2');
  const ln = measurements([
    { kind: 'norm', name: 'ln_1', norm: 'layernorm', impl: 'eager', rows: 32, width: 768, ...t(30) },
    { kind: 'norm', name: 'ln_1', norm: 'layernorm', impl: 'fused', rows: 32, width: 768, ...t(20) },
  ]);
  const lnPoints = fitPoints({ file: 'ln.json', measurements: ln, spec: gpt2 }, cpuHarness());
  assert.deepEqual(lnPoints.map((p) => [p.label, p.measuredNs]), [['ln_1 (fused)', 20000]]);
  assert.ok(lnPoints[0]!.ops.length > 0 && lnPoints[0]!.ops.every((op) => op.category === 'norm-stat' || op.category === 'norm-apply' || op.category === 'stat-collective'));
  // bf16 GEMMs read 2 bytes a weight.
  const bf = measurements([{ kind: 'gemm', name: 'q', m: 2, k: 3, n: 5, ...t(1) }], { provenance: { device: 'cuda', deviceName: 'G', torch: '2', python: '3', dtype: 'bf16', threads: 1, date: 'd' } });
  assert.deepEqual(fitPoints({ file: 'b.json', measurements: bf, spec }, cpuHarness())[0]!.ops[0]!.work, { kind: 'matmul', m: 2, k: 3, n: 5, bytes: 30, tier: 'weights', exps: 0, gemm: { m: 2, n: 5 } });
});

test('writeProfile: each fitted number in its own field with its provenance; kept numbers say so', () => {
  const prov = { device: 'cpu' as const, deviceName: 'Test CPU', torch: '2.4', python: '3.12', dtype: 'fp32' as const, threads: 4, date: '2026-12-06', extra: {} };
  const run = { name: 'mine', prov, n: 5, residual: { n: 5, meanAbsError: 0.01234, maxAbsError: 0.0456 } };
  const said = 'calibrated: 5 measurements on Test CPU, 2026-12-06, residual 1.2% (mean |simulated ÷ measured − 1|; max 4.6%)';
  const p: FitParams = { matrixTflops: 0.192, bandwidthGBps: 38.4, vectorGelems: 12.34567, matrixStartNs: 4999.6, vectorStartNs: 2500.44 };
  const record = { device: 'Test CPU', date: '2026-12-06', measurements: 5, shapes: { mMin: 31, mMax: 33, kMax: 576, nMax: 576 } };
  const out = writeProfile(CPU, cpuHarness(), 'fp32', p, [], [{ m: 32, k: 576, n: 576, tflops: 0.1 }, { m: 33, k: 576, n: 192, tflops: 0.9 }, { m: 31, k: 576, n: 192, tflops: 1e-6 }], record, run);
  // 38.4 / 76.8 = 0.5; four significant digits elsewhere.
  assert.equal(out.memory.efficiency, 0.5);
  assert.equal(out.vector.gelemsPerSec, 12.35);
  assert.equal(out.matrix.startLatencyNs, 5000);
  assert.equal(out.vector.startLatencyNs, 2500);
  // A shape at 0.9 TFLOP/s is above the stated 0.768: 0.9 is the peak, and each shape an efficiency of it
  // (0.1 / 0.9 = 0.1111; 1e-6 / 0.9 below the schema's least efficiency, 0.001).
  assert.equal(out.matrix.peakTflops.fp32, 0.9, 'a shape faster than the stated peak makes the peak');
  assert.deepEqual(out.matrix.efficiencyByShape, [
    { m: 32, k: 576, n: 576, efficiency: 0.1111 },
    { m: 33, k: 576, n: 192, efficiency: 1 },
    { m: 31, k: 576, n: 192, efficiency: 0.001 },
  ]);
  assert.equal(out.matrix.efficiency, 0.2133, '0.192 of the new 0.9 peak');
  assert.equal(out.provenance['matrix.peakTflops.fp32'], `${said}: the fastest measured fp32 GEMM rate; above the base's stated peak of 0.768 TFLOP/s`);
  assert.equal(out.provenance['matrix.efficiency'], `${said}: 0.192 TFLOP/s reached at the workload's M, of the measured peak above`);
  assert.equal(out.provenance['matrix.efficiencyByShape[0].efficiency'], `${said}: the rate of the 32 × 576 × 576 GEMM fitted alone, 0.1 TFLOP/s, of the peak`);
  for (const f of ['m', 'k', 'n']) assert.equal(out.provenance[`matrix.efficiencyByShape[2].${f}`], `${said}: the GEMM shape measured`);
  assert.equal(out.provenance['memory.efficiency'], `${said}: 38.4 GB/s reached, of the stated 76.8 GB/s`);
  assert.equal(out.provenance['vector.gelemsPerSec'], `${said}: elementwise rate of the norm kernels and copies`);
  assert.equal(out.provenance['matrix.startLatencyNs'], `${said}: the cost of starting one linear (a 1×1×1 one measured, with the GEMMs)`);
  assert.equal(out.provenance['vector.startLatencyNs'], `${said}: the cost of starting one elementwise kernel (a 1-element one measured, with the norms and copies)`);
  assert.equal(out.provenance.computeUnits, 'measured: torch ran 4 thread(s) on Test CPU (2026-12-06)');
  assert.equal(out.computeUnits, 4);
  assert.deepEqual(out.calibration, record);
  assert.equal(out.name, 'mine');
  assert.equal(out.title, 'Generic x86-64 CPU (8 cores, AVX2), calibrated on Test CPU');
  assert.equal(out.description, 'cpu calibrated by deferred-norm calibrate on Test CPU (cpu, torch 2.4, fp32, 4 thread(s)), 2026-12-06. The fitted numbers are measured rates at the measured shapes; elsewhere they are extrapolated.');
  assert.equal(CPU.matrix.efficiency, 0.5, 'the base is not changed');

  // Every rate within the stated peak: efficiencies of it. A rate equal to the peak still fits.
  const within = writeProfile(CPU, cpuHarness(), 'fp32', p, [], [{ m: 32, k: 576, n: 576, tflops: 0.768 }], undefined, run);
  assert.equal(within.matrix.peakTflops.fp32, 0.768);
  assert.equal(within.matrix.efficiency, 0.25);
  assert.deepEqual(within.matrix.efficiencyByShape, [{ m: 32, k: 576, n: 576, efficiency: 1 }]);
  assert.equal(within.provenance['matrix.efficiency'], `${said}: 0.192 TFLOP/s reached at the workload's M, of the stated 0.768 TFLOP/s fp32 peak`);
  assert.equal(within.provenance['matrix.peakTflops.fp32'], CPU.provenance['matrix.peakTflops.fp32']);
  assert.equal(within.calibration, undefined);
  // No GEMM measured: a base calibrated before keeps its record, which describes the matrix numbers it keeps.
  const before = { device: 'Old CPU', date: '2026-11-01', measurements: 9, shapes: { mMin: 1, mMax: 8, kMax: 64, nMax: 64 } };
  assert.deepEqual(writeProfile({ ...CPU, calibration: before }, cpuHarness(), 'fp32', p, ['matrixTflops'], [], undefined, run).calibration, before);
  // No shapes: no table.
  assert.equal(writeProfile(CPU, cpuHarness(), 'fp32', p, [], [], undefined, run).matrix.efficiencyByShape, undefined);

  // A reference BLAS: 0.0005 TFLOP/s is below a thousandth of the stated 0.768: the fastest rate becomes the peak.
  const slow = writeProfile(CPU, cpuHarness(), 'fp32', { ...p, matrixTflops: 0.01 }, [], [{ m: 32, k: 576, n: 576, tflops: 0.0005 }], undefined, run);
  assert.equal(slow.matrix.peakTflops.fp32, 0.01);
  assert.equal(slow.matrix.efficiency, 1);
  assert.deepEqual(slow.matrix.efficiencyByShape, [{ m: 32, k: 576, n: 576, efficiency: 0.05 }]);
  assert.equal(slow.provenance['matrix.peakTflops.fp32'], `${said}: the fastest measured fp32 GEMM rate; the base's stated 0.768 TFLOP/s is more than 1,000× the slowest rate measured (0.0005 TFLOP/s), below the least efficiency a profile states`);
  // The edges: a rate at exactly a thousandth of the peak (1 TFLOP/s stated: 0.001) still fits; one of
  // 0.001 on the cpu preset is 1/768 of its peak, above a thousandth; a fastest rate equal to the peak is
  // not above it (the slowest, 0.0005, is what makes the measured peak).
  const onePeak: HardwareProfile = { ...CPU, matrix: { ...CPU.matrix, peakTflops: { ...CPU.matrix.peakTflops, fp32: 1 } } };
  const atEdge = writeProfile(onePeak, harnessProfile(onePeak, 'fp32', 'one'), 'fp32', { ...p, matrixTflops: 0.5 }, [], [{ m: 32, k: 576, n: 576, tflops: 0.001 }], undefined, run);
  assert.deepEqual([atEdge.matrix.peakTflops.fp32, atEdge.matrix.efficiency, atEdge.matrix.efficiencyByShape![0]!.efficiency], [1, 0.5, 0.001]);
  const aboveEdge = writeProfile(CPU, cpuHarness(), 'fp32', p, [], [{ m: 32, k: 576, n: 576, tflops: 0.001 }], undefined, run);
  assert.deepEqual([aboveEdge.matrix.peakTflops.fp32, aboveEdge.matrix.efficiencyByShape![0]!.efficiency], [0.768, 0.001302]);
  const atPeak = writeProfile(CPU, cpuHarness(), 'fp32', { ...p, matrixTflops: 0.768 }, [], [{ m: 32, k: 576, n: 576, tflops: 0.0005 }], undefined, run);
  assert.equal(atPeak.matrix.peakTflops.fp32, 0.768);
  assert.equal(atPeak.provenance['matrix.peakTflops.fp32'], `${said}: the fastest measured fp32 GEMM rate; the base's stated 0.768 TFLOP/s is more than 1,000× the slowest rate measured (0.0005 TFLOP/s), below the least efficiency a profile states`);
  // Slower than 1 GFLOP/s: the least peak a profile states.
  const tiny = writeProfile(CPU, cpuHarness(), 'fp32', { ...p, matrixTflops: 0.0002 }, [], [{ m: 32, k: 576, n: 576, tflops: 0.0001 }], undefined, run);
  assert.equal(tiny.matrix.peakTflops.fp32, 0.001);
  assert.equal(tiny.matrix.efficiency, 0.2);
  assert.deepEqual(tiny.matrix.efficiencyByShape, [{ m: 32, k: 576, n: 576, efficiency: 0.1 }]);
  assert.equal(tiny.provenance['matrix.peakTflops.fp32'], `${said}: the least peak a profile states (0.001 TFLOP/s), above the fastest measured fp32 GEMM rate (0.0002 TFLOP/s); the base's stated 0.768 TFLOP/s is more than 1,000× the slowest rate measured (0.0001 TFLOP/s), below the least efficiency a profile states`);

  // Bandwidth above the stated tier: the tier's bandwidth is the measured one. Equal to it: efficiency 1.
  const cached = writeProfile(CPU, cpuHarness(), 'fp32', { ...p, bandwidthGBps: 123.456 }, [], [], undefined, run);
  assert.equal(cached.memory.tiers[0]!.bandwidthGBps, 123.5);
  assert.equal(cached.memory.efficiency, 1);
  assert.equal(cached.provenance['memory.tiers[0].bandwidthGBps'], `${said}: the bandwidth copies and kernels at the model's sizes reached, above the base's stated 76.8 GB/s (at these sizes the data stays in caches)`);
  assert.equal(cached.provenance['memory.efficiency'], `${said}: the measured bandwidth is the tier's above`);
  const equal = writeProfile(CPU, cpuHarness(), 'fp32', { ...p, bandwidthGBps: 76.8 }, [], [], undefined, run);
  assert.deepEqual([equal.memory.tiers[0]!.bandwidthGBps, equal.memory.efficiency], [76.8, 1]);
  assert.equal(equal.provenance['memory.efficiency'], `${said}: 76.8 GB/s reached, of the stated 76.8 GB/s`);
  assert.equal(equal.provenance['memory.tiers[0].bandwidthGBps'], CPU.provenance['memory.tiers[0].bandwidthGBps']);
  // The weights' tier, not the first one listed.
  const l3First: HardwareProfile = { ...CPU, memory: { ...CPU.memory, tiers: [{ name: 'l3', bandwidthGBps: 500, capacityGB: 0.03 }, ...CPU.memory.tiers] } };
  const l3Hw = harnessProfile(l3First, 'fp32', 'cpu');
  assert.equal(writeProfile(l3First, l3Hw, 'fp32', p, [], [], undefined, run).memory.efficiency, 0.5);
  const l3Cached = writeProfile(l3First, l3Hw, 'fp32', { ...p, bandwidthGBps: 123.456 }, [], [], undefined, run);
  assert.deepEqual(l3Cached.memory.tiers.map((t) => t.bandwidthGBps), [500, 123.5]);
  assert.equal(l3Cached.provenance['memory.tiers[1].bandwidthGBps'], `${said}: the bandwidth copies and kernels at the model's sizes reached, above the base's stated 76.8 GB/s (at these sizes the data stays in caches)`);
  // Far below: the schema's least efficiency.
  assert.equal(writeProfile(CPU, cpuHarness(), 'fp32', { ...p, bandwidthGBps: 0.01 }, [], [], undefined, run).memory.efficiency, 0.001);

  // Kept numbers: the base's value and its provenance, marked; a kept number with no provenance says where it is from.
  const kept = writeProfile(CPU, cpuHarness(), 'fp32', p, ['vectorGelems', 'matrixTflops'], [{ m: 32, k: 576, n: 576, tflops: 0.1 }], undefined, run);
  assert.equal(kept.vector.gelemsPerSec, 384);
  assert.equal(kept.matrix.efficiency, 0.5);
  assert.equal(kept.matrix.efficiencyByShape, undefined);
  assert.equal(kept.provenance['vector.gelemsPerSec'], `${CPU.provenance['vector.gelemsPerSec']} (kept by calibrate: no measurement constrains it)`);
  assert.equal(kept.memory.efficiency, 0.5, 'the numbers not kept are still written');
  const bare = { ...CPU, provenance: { ...CPU.provenance } };
  delete bare.provenance['vector.startLatencyNs'];
  assert.equal(writeProfile(bare, cpuHarness(), 'fp32', p, ['vectorStartNs'], [], undefined, run).provenance['vector.startLatencyNs'], 'from the base profile (kept by calibrate: no measurement constrains it)');
  // A GPU's measurements leave its compute units as stated.
  const h100 = getPreset('gpu-h100');
  const gpu = writeProfile(h100, harnessProfile(h100, 'bf16', 'gpu-h100'), 'bf16', { ...p, matrixTflops: 500, bandwidthGBps: 2000 }, [], [], undefined, { ...run, prov: { ...prov, device: 'cuda', threads: 1 } });
  assert.equal(gpu.computeUnits, h100.computeUnits);
  assert.equal(gpu.provenance.computeUnits, h100.provenance.computeUnits);
});

test('heldBackBlocks: each standard and deferred pair beside the simulation of its site and consumers', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const block = (site: string, variant: string, times: ReturnType<typeof t>, consumers = ['q_proj', 'k_proj', 'v_proj'], layerKind = 'decoder') =>
    ({ kind: 'block', site, layerKind, norm: 'input_layernorm', rows: 32, width: 576, consumers, variant, ...times });
  const m = measurements([
    block('attn-norm', 'standard', t(100, 90, 110)),
    block('attn-norm', 'deferred', t(80, 75, 95)),
    // Within noise: 2 µs apart against spreads of 20 and 30 µs.
    block('mlp-norm', 'standard', t(60, 50, 70), ['gate_proj', 'up_proj']),
    block('mlp-norm', 'deferred', t(60, 48, 80), ['gate_proj', 'up_proj']),
    // A standard block with no deferred twin is not compared.
    block('attn-norm', 'standard', t(100), ['q_proj'], 'other'),
  ]);
  const hw = cpuHarness();
  const rows = heldBackBlocks({ file: 'm.json', measurements: m, spec }, hw);
  assert.equal(rows.length, 2);
  const [attn, mlp] = rows;
  // p10 by default: 90 and 75 µs, a saving of 16.7%.
  assert.deepEqual([attn!.file, attn!.site, attn!.consumers, attn!.rows, attn!.measuredStandardUs, attn!.measuredDeferredUs], ['m.json', 'attn-norm', ['q_proj', 'k_proj', 'v_proj'], 32, 90, 75]);
  near(attn!.measuredSavingPct, (100 * 15) / 90, 1e-12, 'measured saving');
  // The simulated times are those of the site with those consumers, on the profile given.
  const sim = simulateSite(restrictConsumers(spec, 'attn-norm', ['q_proj', 'k_proj', 'v_proj']), hw, measuredWorkload(m), 'attn-norm');
  near(attn!.simulatedStandardUs, sim.keptNs / 1000, 1e-12, 'simulated standard');
  near(attn!.simulatedDeferredUs, sim.deferredNs / 1000, 1e-12, 'simulated deferred');
  near(attn!.standardRatio, sim.keptNs / 1000 / 90, 1e-12, 'standard ratio');
  near(attn!.deferredRatio, sim.deferredNs / 1000 / 75, 1e-12, 'deferred ratio');
  near(attn!.simulatedSavingPct, (100 * (sim.keptNs - sim.deferredNs)) / sim.keptNs, 1e-12, 'simulated saving');
  // 15 µs apart against a spread of 20 (standard's 110 − 90): resolved.
  assert.equal(attn!.resolved, true);
  assert.equal(attn!.signRight, Math.sign(sim.keptNs - sim.deferredNs) === 1);
  // 2 µs apart (50 vs 48) against half the wider spread (32 / 2 = 16): not resolved.
  assert.deepEqual([mlp!.site, mlp!.measuredStandardUs, mlp!.measuredDeferredUs, mlp!.resolved], ['mlp-norm', 50, 48, false]);
  // At the median: 100 against 80, and 60 against 60 (no saving: sign 0 against the simulated sign).
  const median = heldBackBlocks({ file: 'm.json', measurements: m, spec }, hw, 'median');
  assert.deepEqual(median.map((b) => [b.measuredStandardUs, b.measuredDeferredUs, b.measuredSavingPct]), [[100, 80, 20], [60, 60, 0]]);
  assert.equal(median[1]!.signRight, false);
  // Exactly half the spread apart is not enough: 10 µs against spreads of 20.
  const edge = heldBackBlocks({ file: 'e.json', measurements: measurements([block('attn-norm', 'standard', t(100, 90, 110)), block('attn-norm', 'deferred', t(90, 80, 100))]), spec }, hw);
  assert.equal(edge[0]!.resolved, false);
  // The noisier form's spread counts: 15 µs apart (90 vs 75) is within half the deferred form's 40.
  const noisy = heldBackBlocks({ file: 'n.json', measurements: measurements([block('attn-norm', 'standard', t(100, 90, 110)), block('attn-norm', 'deferred', t(90, 75, 115))]), spec }, hw);
  assert.equal(noisy[0]!.resolved, false);
  // A block of a layer kind or a site the model lacks is refused, naming what it has.
  const refuse = (entries: unknown[]) => {
    try {
      heldBackBlocks({ file: 'bad.json', measurements: measurements(entries), spec }, hw);
    } catch (err) {
      assert.ok(err instanceof InputError);
      return err.message;
    }
    return assert.fail('expected an InputError');
  };
  assert.equal(refuse([block('attn-norm', 'standard', t(1), ['q_proj'], 'moe'), block('attn-norm', 'deferred', t(1), ['q_proj'], 'moe')]), 'bad.json: entries: expected blocks of the layer kinds of SmolLM2-135M (decoder), found "moe"');
  const dsv2 = await loadFixture('DeepSeek-V2-Lite');
  assert.throws(() => heldBackBlocks({ file: 'bad.json', measurements: measurements([block('attn-norm', 'standard', t(1), ['q_proj'], 'decoder'), block('attn-norm', 'deferred', t(1), ['q_proj'], 'decoder')]), spec: dsv2 }, hw), (err: unknown) => err instanceof InputError && err.message === 'bad.json: entries: expected blocks of the layer kinds of DeepSeek-V2-Lite (dense, moe), found "decoder"');
  assert.equal(refuse([block('final-norm', 'standard', t(1)), block('final-norm', 'deferred', t(1))]), 'bad.json: entries: expected blocks of the sites attn-norm, mlp-norm, found "final-norm"');
});

test('calibrate: refuses no files, files of two devices and files with nothing to fit; notes and shapes', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const msg = (sets: MeasuredSet[]) => {
    try {
      calibrate(sets, CPU, 'x', 'cpu');
    } catch (err) {
      assert.ok(err instanceof InputError);
      return err.message;
    }
    return assert.fail('expected an InputError');
  };
  assert.equal(msg([]), 'command line: expected at least one measurements file');
  const launches = (deviceName: string, dtype = 'fp32', device = 'cpu') =>
    measurements(
      [
        { kind: 'launch', name: 'mul', engine: 'vector', ...t(3) },
        { kind: 'stream', name: 'copy', elements: 1e6, bytes: 8e6, ...t(3 + 8e6 / 40 / 1000) },
        { kind: 'stream', name: 'copy', elements: 1e5, bytes: 8e5, ...t(3 + 8e5 / 40 / 1000) },
      ],
      { provenance: { device, deviceName, torch: '2.4', python: '3.12', dtype, threads: 4, date: '2026-12-06' } },
    );
  const a = { file: 'a.json', measurements: launches('CPU A'), spec };
  assert.equal(msg([a, { file: 'b.json', measurements: launches('CPU B'), spec }]), 'b.json: provenance: expected measurements of one device and dtype (CPU A, fp32, as in a.json), found CPU B, fp32');
  assert.equal(msg([a, { file: 'b.json', measurements: launches('CPU A', 'bf16'), spec }]), 'b.json: provenance: expected measurements of one device and dtype (CPU A, fp32, as in a.json), found CPU A, bf16');
  assert.match(msg([a, { file: 'b.json', measurements: launches('CPU A', 'fp32', 'cuda'), spec }]), /^b\.json: provenance: expected measurements of one device and dtype/);
  const nothing = measurements([{ kind: 'attention', name: 'sdpa', impl: 'sdpa', batch: 1, heads: 9, kvHeads: 3, headDim: 64, queries: 1, keys: 32, ...t(40) }]);
  assert.equal(msg([{ file: 'n.json', measurements: nothing, spec }]), 'n.json: entries: expected launch, stream, gemm or norm measurements to fit, found none');

  // Copies at 40 GB/s after 3 µs: the fit finds both; no GEMM, so no record, no shapes, no matrix fit.
  const withNotes = measurements([...launches('CPU A').entries, { kind: 'attention', name: 'sdpa', impl: 'eager', batch: 2, heads: 9, kvHeads: 3, headDim: 64, queries: 1, keys: 32, ...t(40.04) }], { skipped: [{ what: 'fused rmsnorm', why: 'torch 1.13 has no F.rms_norm' }] });
  const c = calibrate([{ file: 'a.json', measurements: withNotes, spec }], CPU, 'mine', 'cpu');
  assert.deepEqual(c.notes, ['a.json: not measured: fused rmsnorm: torch 1.13 has no F.rms_norm', 'a.json: attention eager (2×9 heads, 1 queries × 32 keys): 40.0 µs (shown, not fitted)']);
  near(c.params.bandwidthGBps, 40, 1e-3, 'bandwidth');
  near(c.params.vectorStartNs, 3000, 1e-3, 'vector start');
  // No GEMM: the matrix numbers are the base's; a 1-element launch and copies (no arithmetic) say nothing of the vector rate.
  assert.deepEqual(c.kept, ['matrixTflops', 'vectorGelems', 'matrixStartNs']);
  assert.equal(c.params.matrixTflops, 0.384);
  assert.equal(c.profile.calibration, undefined);
  assert.equal(c.profile.computeUnits, 4);
  assert.deepEqual([c.device, c.deviceKind, c.date, c.dtype, c.statistic], ['Test CPU', 'cpu', '2026-12-06', 'fp32', 'p10']);
  assert.deepEqual(c.fitted.map((f) => f.label), ['launch vector', 'copy 1000000', 'copy 100000']);
  for (const f of c.fitted) near(f.ratio, f.simulatedUs / f.measuredUs, 1e-12, f.label);
  assert.equal(c.fitError.n, 3);
  assert.deepEqual(c.heldBack, []);
  assert.deepEqual(c.heldBackError, { n: 0, meanAbsError: 0, maxAbsError: 0 });
  assert.equal(calibrate([{ file: 'a.json', measurements: withNotes, spec }], CPU, 'mine', 'cpu', 'median').statistic, 'median');

  // GEMMs away from the workload's M ± 1 are in the shape table, not the one matrix rate's fit.
  const gemms = measurements([
    ...launches('CPU A').entries,
    { kind: 'launch', name: 'mm', engine: 'matrix', ...t(4) },
    // 2·32·64·64 FLOPs at 0.1 TFLOP/s is 2.62 µs; at 64 rows, 0.05 TFLOP/s: 10.49 µs.
    { kind: 'gemm', name: 'q', m: 32, k: 64, n: 64, ...t(4 + 2.62144) },
    { kind: 'gemm', name: 'q', m: 64, k: 64, n: 64, ...t(4 + 10.48576) },
    // M 31 at 0.1 TFLOP/s too (2.54 µs), 33 at 0.05 (5.41 µs): fitted with M = 32; 30 and 34 are not (0.05 TFLOP/s).
    { kind: 'gemm', name: 'q', m: 31, k: 64, n: 64, ...t(4 + 2.539520) },
    { kind: 'gemm', name: 'q', m: 33, k: 64, n: 64, ...t(4 + 5.406720) },
    { kind: 'gemm', name: 'q', m: 30, k: 64, n: 64, ...t(4 + 4.91520) },
    { kind: 'gemm', name: 'q', m: 34, k: 64, n: 64, ...t(4 + 5.570560) },
    { kind: 'block', site: 'attn-norm', layerKind: 'decoder', norm: 'input_layernorm', rows: 32, width: 576, consumers: ['q_proj'], variant: 'standard', ...t(100, 90, 110) },
    { kind: 'block', site: 'attn-norm', layerKind: 'decoder', norm: 'input_layernorm', rows: 32, width: 576, consumers: ['q_proj'], variant: 'deferred', ...t(80, 70, 90) },
  ]);
  const g = calibrate([{ file: 'g.json', measurements: gemms, spec }], CPU, 'mine', 'cpu');
  assert.deepEqual(g.fitted.map((f) => f.label), ['launch vector', 'copy 1000000', 'copy 100000', 'launch matrix', 'q 32×64×64', 'q 31×64×64', 'q 33×64×64']);
  // The one matrix rate lies between the rates at M ± 1; the GEMMs' spread does not reach the numbers
  // fitted on the launches and copies alone (40 GB/s, 3 µs).
  assert.ok(g.params.matrixTflops > 0.05 && g.params.matrixTflops < 0.1, `matrix rate ${g.params.matrixTflops}`);
  near(g.params.bandwidthGBps, 40, 1e-3, 'bandwidth, from the copies');
  near(g.params.vectorStartNs, 3000, 1e-3, 'vector start, from the launch');
  assert.deepEqual(g.byShape.map((s) => [s.m, s.k, s.n]), [[32, 64, 64], [64, 64, 64], [31, 64, 64], [33, 64, 64], [30, 64, 64], [34, 64, 64]]);
  for (const [i, rate] of [0.1, 0.05, 0.1, 0.05, 0.05, 0.05].entries()) near(g.byShape[i]!.tflops, rate, 1e-3, `the rate at M = ${g.byShape[i]!.m}`);
  near(g.byShape[1]!.efficiency, 0.05 / 0.768, 1e-3, 'its efficiency of the stated peak');
  assert.deepEqual(g.shapes, { mMin: 30, mMax: 64, kMax: 64, nMax: 64, workloadM: 32 });
  assert.deepEqual(g.profile.calibration, { device: 'Test CPU', date: '2026-12-06', measurements: 10, shapes: { mMin: 30, mMax: 64, kMax: 64, nMax: 64 } });
  // The held-back pair, compared on the calibrated profile; its error over both forms.
  assert.equal(g.heldBack.length, 1);
  const b = g.heldBack[0]!;
  assert.deepEqual([b.measuredStandardUs, b.measuredDeferredUs], [90, 70]);
  const e = errorOf([b.standardRatio, b.deferredRatio]);
  assert.deepEqual(g.heldBackError, e);
});

test('golden: the section points at 0.382 and 0.618 of the interval, the interval kept around the least value, its middle returned', () => {
  // By hand, one iteration on f(x) = (x − 3)² over [0, 10]: c = 10 − 0.618…·10 = 3.8197, d = 6.1803;
  // f(c) < f(d), so the interval becomes [0, 6.1803] and its middle is 3.0902.
  const r = (Math.sqrt(5) - 1) / 2;
  const f = (x: number) => (x - 3) ** 2;
  assert.ok(Math.abs(golden(f, 0, 10, 1) - (0 + r * 10) / 2) < 1e-12);
  // Two iterations: [0, 6.1803] → c = 6.1803 − 0.618·6.1803 = 2.3607, d = 3.8197 (kept);
  // f(2.3607) = 0.4087 < f(3.8197) = 0.6719, so c wins again: [0, 3.8197], middle 1.9098.
  assert.ok(Math.abs(golden(f, 0, 10, 2) - (10 - r * 10) / 2) < 1e-12);
  // Three: [0, 3.8197], c = 1.4590, d = 2.3607 (kept); f(c) = 2.3747 > f(d) = 0.4087: [1.4590, 3.8197], middle 2.6393.
  assert.ok(Math.abs(golden(f, 0, 10, 3) - (10 - r * 10 - r * (10 - r * 10) + 10 - r * 10) / 2) < 1e-12);
  // 60 iterations shrink the interval to 0.618⁶⁰ of its length (1.5e-12 of 10): the minimum to 1e-9, from either side.
  assert.ok(Math.abs(golden(f, 0, 10) - 3) < 1e-9);
  assert.ok(Math.abs(golden((x) => (x + 7.25) ** 2, -20, 5) + 7.25) < 1e-9);
  // A tie keeps the upper section (the lower end moves up): a flat function ends at the top of the range.
  assert.ok(golden(() => 1, 0, 10) > 10 - 1e-9);
  // At an end of the range: the end.
  assert.ok(Math.abs(golden((x) => x, -4, 4) + 4) < 1e-9);
  assert.ok(Math.abs(golden((x) => -x, -4, 4) - 4) < 1e-9);
});

/** Nelder–Mead as its comment states it, written out here plainly: the second method for its iterates. */
function referenceNelderMead(f: (x: number[]) => number, x0: number[], step: number, iterations: number): number[] {
  const n = x0.length;
  const vertices: { x: number[]; fx: number }[] = [{ x: [...x0], fx: f([...x0]) }];
  for (let i = 0; i < n; i++) {
    const x = [...x0];
    x[i] = x[i]! + step;
    vertices.push({ x, fx: f(x) });
  }
  const point = (from: number[], to: number[], t: number) => from.map((v, i) => v + t * (to[i]! - v));
  for (let it = 0; it < iterations; it++) {
    vertices.sort((a, b) => a.fx - b.fx);
    const worst = vertices[n]!;
    const centroid: number[] = [];
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let v = 0; v < n; v++) sum += vertices[v]!.x[i]!;
      centroid.push(sum / n);
    }
    const reflected = point(centroid, worst.x, -1);
    const fr = f(reflected);
    if (fr < vertices[0]!.fx) {
      const expanded = point(centroid, worst.x, -2);
      const fe = f(expanded);
      vertices[n] = fe < fr ? { x: expanded, fx: fe } : { x: reflected, fx: fr };
    } else if (fr < vertices[n - 1]!.fx) {
      vertices[n] = { x: reflected, fx: fr };
    } else {
      const contracted = point(centroid, worst.x, 0.5);
      const fc = f(contracted);
      if (fc < worst.fx) vertices[n] = { x: contracted, fx: fc };
      else for (let v = 1; v <= n; v++) {
        const x = point(vertices[0]!.x, vertices[v]!.x, 0.5);
        vertices[v] = { x, fx: f(x) };
      }
    }
  }
  vertices.sort((a, b) => a.fx - b.fx);
  return vertices[0]!.x;
}

test('nelderMead: every iterate as the plain statement of the method gives, and the minimum of a bowl and a valley', () => {
  // A tilted bowl and Rosenbrock's valley, in 2 and 3 dimensions, after each number of iterations from 0
  // to 60: the same best vertex, bit for bit (each kind of step is taken along the way).
  const bowl = (x: number[]) => (x[0]! - 1) ** 2 + 10 * (x[1]! + 2) ** 2 + (x[0]! - 1) * (x[1]! + 2);
  const valley = (x: number[]) => 100 * (x[1]! - x[0]! ** 2) ** 2 + (1 - x[0]!) ** 2;
  const three = (x: number[]) => (x[0]! - 0.5) ** 2 + 3 * (x[1]! - x[2]!) ** 2 + Math.abs(x[2]! + 1);
  // A flat function ties every comparison: a step is taken only on a strict improvement (the simplex shrinks).
  const flat = () => 1;
  for (const [name, f, x0] of [['bowl', bowl, [0, 0]], ['valley', valley, [-1.2, 1]], ['three', three, [2, -1, 3]], ['flat', flat, [1, 2]]] as const) {
    for (let it = 0; it <= 60; it++) assert.deepEqual(nelderMead(f, x0, 0.5, it), referenceNelderMead(f, [...x0], 0.5, it), `${name} after ${it}`);
  }
  // And where it ends: the bowl's minimum (1, −2), Rosenbrock's (1, 1).
  const end = nelderMead(bowl, [0, 0], 0.5, 400);
  assert.ok(Math.abs(end[0]! - 1) < 1e-6 && Math.abs(end[1]! + 2) < 1e-6, `${end}`);
  const v = nelderMead(valley, [-1.2, 1], 0.5, 2000);
  assert.ok(Math.abs(v[0]! - 1) < 1e-4 && Math.abs(v[1]! - 1) < 1e-4, `${v}`);
  // No iterations: the best vertex of the first simplex, by hand: f(0.25, −3) = 11.3125, f(0.75, −3) =
  // 10.3125, f(0.25, −2.5) = 3.4375.
  assert.deepEqual(nelderMead(bowl, [0.25, -3], 0.5, 0), [0.25, -2.5]);
});
