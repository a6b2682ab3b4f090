/**
 * Tests that catch wrong answers in src/core/validate (issue 21): the error summary's geometric mean
 * (a mutant that took the arithmetic mean, or dropped the exponent, survived every other test), the
 * row and target rules, the FlashNorm savings, and the text. Every expected value is worked out here
 * from the inputs, by hand or by a second formula, not read back from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { validateMeasurements } from '../../src/core/measure/types';
import type { ModelSpec } from '../../src/core/model/spec';
import { heldBackBlocks } from '../../src/core/measure/held-back';
import { formatMeasuredSources, measuredSource } from '../../src/core/validate/measured';
import { POINTS, SOURCES, type Point } from '../../src/core/validate/points';
import { formatMs, formatValidation, fuseConsumers, isCalibrated, restrictConsumers, summarize, validate, type ValidationResult } from '../../src/core/validate/validate';
import { loadFixture } from './helpers/fixtures';

const close = (actual: number, expected: number, what: string, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual}, expected ${expected}`);

test('summarize: n, mean and max |ratio − 1|, and the geometric mean of the ratios, by hand', () => {
  // Ratios 2 and 8: |r − 1| are 1 and 7 (mean 4, max 7); the geometric mean is √16 = 4, the arithmetic 5.
  const two = summarize([{ ratio: 2 }, { ratio: null }, { ratio: 8 }]);
  assert.deepEqual(two, { n: 2, meanAbsError: 4, maxAbsError: 7, geoMeanRatio: 4 });
  // 0.5 and 2 cancel in the geometric mean (1), not in the arithmetic one (1.25); |r − 1| are 0.5 and 1.
  const balanced = summarize([{ ratio: 0.5 }, { ratio: 2 }]);
  close(balanced.geoMeanRatio, 1, 'geo-mean of 0.5 and 2');
  close(balanced.meanAbsError, 0.75, 'mean');
  assert.equal(balanced.maxAbsError, 1);
  // Three ratios: the cube root of their product, 0.8 · 1.25 · 1.728 = 1.728 = 1.2³.
  close(summarize([{ ratio: 0.8 }, { ratio: 1.25 }, { ratio: 1.728 }]).geoMeanRatio, 1.2, 'geo-mean of three');
  // All below 1 (the simulator fast): the max is the largest shortfall, and the mean stays positive.
  const fast = summarize([{ ratio: 0.9 }, { ratio: 0.6 }]);
  close(fast.maxAbsError, 0.4, 'max shortfall');
  close(fast.meanAbsError, 0.25, 'mean shortfall');
  close(fast.geoMeanRatio, Math.sqrt(0.54), 'geo-mean below 1');
  // Nothing to summarise: no error, and a geometric mean of 1 (no bias), not NaN.
  assert.deepEqual(summarize([{ ratio: null }]), { n: 0, meanAbsError: 0, maxAbsError: 0, geoMeanRatio: 1 });
});

let cached: Promise<Map<string, ModelSpec>> | undefined;
const specs = () => (cached ??= (async () => {
  const out = new Map<string, ModelSpec>();
  for (const model of new Set(POINTS.map((p) => p.model))) out.set(model, await loadFixture(model));
  return out;
})());
/** The whole validation, run once for the tests that read it. */
let whole: Promise<ValidationResult> | undefined;
const full = () => (whole ??= specs().then((s) => validate({ specs: s, hardware: getPreset })));

test('validate: every geometric mean is the n-th root of the product of its rows\' ratios (a second formula)', async () => {
  const result = await full();
  const geo = (rows: typeof result.rows) => {
    const ratios = rows.filter((r) => r.ratio !== null).map((r) => r.ratio!);
    return ratios.reduce((p, r) => p * r, 1) ** (1 / ratios.length);
  };
  close(result.overall.geoMeanRatio, geo(result.rows), 'overall', 1e-9);
  close(result.heldBack.geoMeanRatio, geo(result.rows.filter((r) => !r.fitted)), 'held back', 1e-9);
  close(result.calibration.geoMeanRatio, geo(result.rows.filter((r) => r.fitted)), 'calibration', 1e-9);
  for (const s of result.perSource) close(s.geoMeanRatio, geo(result.rows.filter((r) => r.source === s.source)), s.source, 1e-9);
  // The printed table carries them to three places, in the held-back line and each summary row.
  const text = formatValidation(result);
  assert.ok(text.split('\n')[0]!.endsWith(`geometric-mean ratio ${geo(result.rows.filter((r) => !r.fitted)).toFixed(3)}).`), text.split('\n')[0]);
  for (const s of result.perSource) {
    const line = text.split('\n').find((l) => l.startsWith(`${s.source} `))!;
    assert.ok(line.trimEnd().endsWith(geo(result.rows.filter((r) => r.source === s.source)).toFixed(3)), line);
  }
});

test('the table\'s times: one decimal from 100 ms, two from 1 ms, three below', () => {
  assert.equal(formatMs(1234.56), '1,234.6');
  assert.equal(formatMs(100), '100.0');
  assert.equal(formatMs(99.994), '99.99');
  assert.equal(formatMs(1), '1.00');
  assert.equal(formatMs(0.9994), '0.999');
  assert.equal(formatMs(0.0005), '0.001');
});

test('each row names its workload: metric, batch, input, output or context, consumers, tp, dtype', async () => {
  const result = await full();
  const workload = (id: string) => result.rows.find((r) => r.id === id)!.workload;
  // As the sources state them: TensorRT-LLM's first token at batch 1, 128 tokens in, fp16 on one A100;
  // gpt-fast's 6-token prompt and 200 new tokens; FlashNorm's fused q,k,v and Llama's q_proj alone.
  assert.equal(workload('trtllm-a100-l2-7b-in128'), 'ttft b1 in128 tp1 fp16');
  assert.equal(workload('trtllm-h100-l2-70b-in2048'), 'ttft b1 in2048 tp4 fp8');
  assert.equal(workload('gptfast-a100-l2-7b-tp8'), 'e2e b1 in6 out200 tp8 bf16');
  assert.equal(workload('vllm-h100-l3-70b-tp4'), 'e2e b8 in32 out128 tp4 bf16');
  assert.equal(workload('flashnorm-t4-smollm2-4096-std'), 'site b1 in4096 →qkv tp1 fp16');
  assert.equal(workload('flashnorm-t4-l2-7b-1024-flash'), 'site b1 in1024 →q_proj tp1 fp16');
  const tpot: Point = { ...POINTS[0]!, id: 'tpot-test', metric: 'tpot', workload: { batch: 4, input: 64, context: 512, tp: 1, dtype: 'fp16' } };
  const row = validate({ specs: await specs(), hardware: getPreset, points: [tpot] }).rows[0]!;
  assert.equal(row.workload, 'tpot b4 in64 ctx512 tp1 fp16');
  // A decode step at 512 cached tokens: its parts name it, and it is the figure.
  assert.deepEqual(Object.keys(row.parts), ['decodeStep']);
  assert.equal(row.simulatedMs, row.parts['decodeStep']);
  // The table marks a preset run with the point's overrides with *, and what each row was used for.
  const text = formatValidation(result);
  const line = (id: string) => text.split('\n').find((l) => l.startsWith(`${id} `))!;
  assert.match(line('gptfast-a100-l2-7b-tp2'), / gpu-a100\* /);
  assert.match(line('trtllm-a100-l2-7b-in128'), / gpu-a100 /);
  assert.match(line('trtllm-a100-l2-7b-in128'), /held back$/);
});

test('FlashNorm\'s savings: (standard − deferred) ÷ standard, published and simulated, one per pair', async () => {
  const result = await full();
  // The published times (ms) of each pair, as in points.ts's table rows.
  const published: [string, number, number, number][] = [['SmolLM2-135M', 4096, 0.704, 0.468], ['SmolLM2-135M', 8192, 0.929, 0.599], ['Llama-2-7b-hf', 1024, 1.882, 1.654]];
  for (const [model, tokens, std, flash] of published) {
    const s = result.flashNorm.find((f) => f.model === model && f.tokens === tokens)!;
    close(s.publishedPct, (100 * (std - flash)) / std, `${model} ${tokens} published`);
  }
  assert.equal(result.flashNorm.length, POINTS.filter((p) => p.metric === 'site').length / 2);
  for (const s of result.flashNorm) {
    const rows = result.rows.filter((r) => r.metric === 'site' && r.model === s.model && r.workload.includes(` in${s.tokens} `));
    const [std, def] = [rows.find((r) => r.id.endsWith('-std'))!, rows.find((r) => r.id.endsWith('-flash'))!];
    close(s.simulatedPct!, (100 * (std.simulatedMs! - def.simulatedMs!)) / std.simulatedMs!, `${s.model} ${s.tokens} simulated`);
    // A site row's figure is its variant's time: kept for the standard form, deferred for FlashNorm's.
    assert.equal(std.simulatedMs, std.parts['kept']);
    assert.equal(def.simulatedMs, def.parts['deferred']);
  }
  const text = formatValidation(result);
  assert.ok(text.includes(`  SmolLM2-135M at 4096 tokens: ${((100 * (0.704 - 0.468)) / 0.704).toFixed(1)}% published; `), text);
  // Without a deferred partner there is no saving to state, and no FlashNorm section.
  const lone = validate({ specs: await specs(), hardware: getPreset, points: POINTS.filter((p) => p.id === 'flashnorm-t4-smollm2-4096-std') });
  assert.deepEqual(lone.flashNorm, []);
  assert.ok(!formatValidation(lone).includes('FlashNorm on a T4'));
});

test('the targets: the held-back share, and each verdict at the thresholds issue 19 states', async () => {
  const result = await full();
  assert.deepEqual([result.targets.perPoint, result.targets.mean, result.targets.heldBackShare, result.targets.saving], [0.2, 0.08, 2 / 3, 0.25]);
  const held = result.rows.filter((r) => !r.fitted);
  assert.deepEqual(result.heldBackPoints, held.map((r) => r.id));
  assert.equal(result.targets.enoughHeldBack, held.length >= (2 / 3) * result.rows.length);
  // Two points only, both held back: 2 of 2 is enough; one point fitted of three is not (2/3 of 3 = 2: enough).
  const two = validate({ specs: await specs(), hardware: getPreset, points: POINTS.filter((p) => p.id === 'trtllm-a100-l2-7b-in128' || p.id === 'trtllm-a100-l2-70b-in128') });
  assert.equal(two.targets.enoughHeldBack, true);
  assert.equal(two.targets.everyPointWithin, two.rows.every((r) => Math.abs(r.ratio! - 1) <= 0.2));
  assert.equal(two.targets.meanWithin, (Math.abs(two.rows[0]!.ratio! - 1) + Math.abs(two.rows[1]!.ratio! - 1)) / 2 <= 0.08);
  assert.equal(two.perSource.length, 1, 'only the sources with points');
  assert.equal(two.presets.length, 1);
  const p = two.presets[0]!;
  assert.deepEqual([p.name, p.matrixEfficiency, p.memoryEfficiency], ['gpu-a100', getPreset('gpu-a100').matrix.efficiency, getPreset('gpu-a100').memory.efficiency]);
  const text = formatValidation(two);
  assert.match(text, /at least 67% of all points held back: yes \(2 of 2\)/);
  assert.match(text, /Validation against published measurements: 2 points from 1 sources\./);
});

test('restrictConsumers and fuseConsumers: the measured projection, not the model\'s whole site', async () => {
  const all = await specs();
  const llama = all.get('Llama-2-7b-hf')!;
  assert.equal(restrictConsumers(llama, 'attn-norm', undefined), llama);
  const q = restrictConsumers(llama, 'attn-norm', ['q_proj']);
  for (const kind of q.layerKinds) {
    assert.deepEqual(kind.norms.find((n) => n.role === 'attn')!.feeds, ['q_proj']);
    assert.deepEqual(kind.norms.find((n) => n.role === 'mlp')!.feeds, ['gate_proj', 'up_proj'], 'the other norm keeps its consumers');
  }
  const mlp = restrictConsumers(llama, 'mlp-norm', ['up_proj']);
  assert.deepEqual(mlp.layerKinds[0]!.norms.find((n) => n.role === 'mlp')!.feeds, ['up_proj']);
  assert.deepEqual(mlp.layerKinds[0]!.norms.find((n) => n.role === 'attn')!.feeds, ['q_proj', 'k_proj', 'v_proj']);
  assert.throws(() => restrictConsumers(llama, 'final-norm', ['lm_head']), /cannot restrict the consumers of site final-norm/);
  // SmolLM2-135M: q 576 → 576, k and v 576 → 192 (3 KV heads of 64) make one 576 → 960 GEMM.
  const smol = all.get('SmolLM2-135M')!;
  const fused = fuseConsumers(smol, 'attn-norm');
  const kind = fused.layerKinds[0]!;
  assert.deepEqual(kind.linears[0], { name: 'qkv_proj', role: 'qkv', in: 576, out: 960, bias: false });
  assert.deepEqual(kind.linears.slice(1).map((l) => l.name), ['o_proj', 'gate_proj', 'up_proj', 'down_proj']);
  assert.deepEqual(kind.norms.find((n) => n.role === 'attn')!.feeds, ['qkv_proj']);
  assert.deepEqual(kind.norms.find((n) => n.role === 'mlp')!.feeds, ['gate_proj', 'up_proj']);
  // A site that feeds one linear has nothing to fuse.
  assert.deepEqual(fuseConsumers(q, 'attn-norm').layerKinds[0]!.linears, q.layerKinds[0]!.linears);
  // The MLP norm's gate and up (576 → 1536 each) make one 576 → 3072 GEMM, as vLLM runs them.
  const gateUp = fuseConsumers(smol, 'mlp-norm').layerKinds[0]!;
  assert.deepEqual(gateUp.linears.find((l) => l.role === 'gate_up'), { name: 'gate_up_proj', role: 'gate_up', in: 576, out: 3072, bias: false });
  assert.deepEqual(gateUp.norms.find((n) => n.role === 'mlp')!.feeds, ['gate_up_proj']);
  assert.throws(() => fuseConsumers(smol, 'final-norm'), /cannot fuse the consumers of site final-norm/);
});

test('each point\'s citation agrees with its own figures: table, row, build, stack flags and notes', () => {
  const byId = (id: string) => POINTS.find((p) => p.id === id)!;
  for (const p of POINTS.filter((q) => q.source === 'trtllm')) {
    const h100 = p.hardware === 'gpu-h100';
    const size = p.model === 'Llama-2-7b-hf' ? '7B' : '70B';
    // docs/source/performance.md: "H100 GPUs (FP8)" and "A100 GPUs (FP16)" tables, rows "LLaMA 7B | 1 | 1 | 128".
    assert.equal(p.where, `${h100 ? '"H100 GPUs (FP8)"' : '"A100 GPUs (FP16)"'} low-latency table, row "LLaMA ${size} | 1 | ${p.workload.tp} | ${p.workload.input}"`, p.id);
    assert.equal(p.workload.dtype, h100 ? 'fp8' : 'fp16', p.id);
    assert.equal(p.hardwareAsPublished, h100 ? 'H100 SXM 80GB (H100-HBM3-80GB)' : 'A100 SXM 80GB', p.id);
    assert.match(p.modelAsPublished, size === '7B' ? /^"LLaMA 7B", built as Llama2-7b \(n_layer 32, n_head 32,/ : /^"LLaMA 70B", built as Llama2-70b \(n_layer 80, n_head 64, n_kv_head 8,/, p.id);
    assert.equal(p.stack.includes('--enable_fp8 --fp8_kv_cache'), h100, `${p.id}: fp8 flags`);
    assert.equal(p.stack.endsWith(`--world_size ${p.workload.tp} --tp_size ${p.workload.tp}, run with mpirun -n ${p.workload.tp}`), p.workload.tp > 1, `${p.id}: tp flags`);
    assert.equal(p.note.includes('On H100 the engines were built with --enable_fp8'), h100, `${p.id}: H100 note`);
    assert.equal(p.note.includes('"64:128,1" twice'), size === '70B', `${p.id}: 70B note`);
    assert.deepEqual(p.set, [], `${p.id}: TensorRT-LLM runs the presets' own stack`);
    assert.equal(p.published, `${p.measuredMs} ms`);
  }
  for (const p of POINTS.filter((q) => q.source === 'gpt-fast')) {
    const size = p.model === 'Llama-2-7b-hf' ? '7B' : '70B';
    assert.match(p.modelAsPublished, new RegExp(`^"Llama-2-${size}" \\(meta-llama/Llama-2-${size.toLowerCase()}-chat-hf`), p.id);
    assert.deepEqual(p.set, ['kernels.allReduce=one-shot'], p.id);
    assert.ok(p.where.startsWith('README.md, table '), p.id);
  }
  assert.equal(byId('gptfast-a100-l2-70b-tp8').where, 'README.md, table Tensor Parallelism, "Llama-2-70B | 8" (62.50)');
  assert.equal(byId('gptfast-a100-l2-7b-tp2').derivation, '200 generated tokens ÷ 168.84 tokens/s = 1184.6 ms');
  for (const p of POINTS.filter((q) => q.source === 'vllm-ci')) {
    const h100 = p.hardware === 'gpu-h100';
    const size = p.model === 'Llama-3.1-8B' ? '8B' : '70B';
    // Build 9523 ran on A100-SXM4-80GB, build 9555 on 8xH100 (the source's title).
    assert.equal(p.where, `build ${h100 ? '9555' : '9523'}, Latency tests, row "latency_llama${size}_tp${p.workload.tp} | ${h100 ? '8xH100' : 'A100-SXM4-80GB'}", column "Mean latency (ms)"`, p.id);
    assert.match(p.modelAsPublished, size === '8B' ? /^meta-llama\/Meta-Llama-3-8B / : /^meta-llama\/Meta-Llama-3-70B-Instruct /, p.id);
    assert.equal(p.hardwareAsPublished.startsWith(h100 ? '8xH100' : 'A100-SXM4-80GB'), true, p.id);
    assert.equal(p.stack.endsWith(`, tensor_parallel_size ${p.workload.tp}`), p.workload.tp > 1, p.id);
    assert.equal(p.id, `vllm-${h100 ? 'h100' : 'a100'}-l3-${size.toLowerCase()}-tp${p.workload.tp}`);
    assert.deepEqual(p.set, ['kernels.allReduce=one-shot'], p.id);
  }
  for (const p of POINTS.filter((q) => q.source === 'flashnorm')) {
    const small = p.model === 'SmolLM2-135M';
    assert.equal(p.where.endsWith(p.site!.variant === 'baseline' ? ', column "Sequential"' : ')'), true, p.id);
    assert.equal(p.where.includes('column "FlashNorm" (latency reduction as published: +'), p.site!.variant === 'deferred', p.id);
    assert.match(p.modelAsPublished, small ? /^SmolLM2-135M scale: RMSNorm over n = 576/ : /^Llama-7B scale: RMSNorm over n = 4096/, p.id);
    // PyTorch eager, per-kernel launches and a separate scale kernel: the notebook's stack, not the preset's.
    assert.deepEqual(p.set, ['kernels.norm=eager', 'kernels.eagerNormMultiply=activation', 'kernels.deferredStatistic=second-stream-from-512', 'kernels.dispatchNs=10000', 'kernels.streamJoinNs=100000', 'kernels.launch=per-kernel', 'matrix.fusedEpilogue=false'], p.id);
    assert.deepEqual(p.site, small ? { siteId: 'attn-norm', variant: p.site!.variant, fused: true } : { siteId: 'attn-norm', variant: p.site!.variant, consumers: ['q_proj'] }, p.id);
    assert.equal(p.id, `flashnorm-t4-${small ? 'smollm2' : 'l2-7b'}-${p.workload.input}-${p.site!.variant === 'baseline' ? 'std' : 'flash'}`);
  }
  assert.equal(byId('flashnorm-t4-smollm2-8192-flash').where, 'tab:overlap, row "8192", column "FlashNorm" (latency reduction as published: +35.5%)');
});

test('the printed tables: their headers, right-aligned figures and left-aligned words', async () => {
  const text = formatValidation(await full());
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('point '))!;
  assert.match(header, /^point +source +model +hardware +workload +measured +simulated +ratio +used for$/);
  // gpt-fast's 200 tokens at 104.9 tokens/s: 1,906.6 ms, a cell longer than its header: it ends where the
  // header's "measured" ends (right-aligned), as does its simulated time; "used for" starts where its header does.
  const result = await full();
  const gf = result.rows.find((r) => r.id === 'gptfast-a100-l2-7b-tp1')!;
  const gfRow = lines.find((l) => l.startsWith('gptfast-a100-l2-7b-tp1 '))!;
  assert.equal(gfRow.indexOf(' 1,906.6 ms') + ' 1,906.6 ms'.length, header.indexOf('measured') + 'measured'.length, gfRow);
  const simulated = ` ${formatMs(gf.simulatedMs!)} ms`;
  assert.equal(gfRow.indexOf(simulated) + simulated.length, header.indexOf('simulated') + 'simulated'.length, gfRow);
  const row = lines.find((l) => l.startsWith('trtllm-a100-l2-7b-in128 '))!;
  assert.equal(row.indexOf('held back'), header.indexOf('used for'), row);
  // What each row was used for: fitted, a calibration point whose preset holds no fit, or held back.
  const fitted = (hw: string) => ['matrix.efficiency', 'memory.efficiency'].every((k) => getPreset(hw).provenance[k]!.startsWith('calibrated:'));
  for (const p of POINTS) {
    const used = p.use === 'calibration' ? (fitted(p.hardware) ? 'calibration' : 'held back (fit not applied)') : 'held back';
    assert.ok(lines.find((l) => l.startsWith(`${p.id} `))!.endsWith(`  ${used}`), `${p.id}: ${used}`);
  }
  // A calibration point on a preset whose efficiency was set by hand (no fit): held back, and said so.
  const unfitted = validate({ specs: await specs(), hardware: (name) => applyOverrides(getPreset(name), ['matrix.efficiency=0.5']), points: POINTS.filter((p) => p.id === 'trtllm-a100-l2-7b-in2048') });
  assert.equal(unfitted.rows[0]!.fitted, false);
  assert.deepEqual(unfitted.calibrationPoints, []);
  assert.ok(formatValidation(unfitted).split('\n').find((l) => l.startsWith('trtllm-a100-l2-7b-in2048 '))!.endsWith('  held back (fit not applied)'));
  assert.equal(row.indexOf(' ttft b1 in128 tp1 fp16') + 1, header.indexOf('workload'), row);
  const summary = lines.find((l) => l.startsWith('source '))!;
  assert.match(summary, /^source +n +mean \|ratio−1\| +max \|ratio−1\| +geo-mean ratio$/);
  const all = lines.find((l) => l.startsWith('all '))!;
  assert.equal(all.indexOf(` ${result.overall.n} `) + ` ${result.overall.n}`.length, summary.indexOf(' n ') + 2, all);
  assert.ok(all.endsWith(result.overall.geoMeanRatio.toFixed(3)), all);
  assert.ok(lines.some((l) => l.startsWith('held back ')) && lines.some((l) => l.startsWith('calibration ')), 'a line each for the held-back and calibration points');
});

/** A measurements file of SmolLM2-135M's blocks, as `deferred-norm measure` writes one (decode, 32 rows). */
const block = (variant: 'standard' | 'deferred', p10Us: number, site = 'attn-norm', consumers = ['q_proj', 'k_proj', 'v_proj']) => ({
  kind: 'block', site, layerKind: 'decoder', norm: 'input_layernorm', rows: 32, width: 576, consumers, variant,
  medianUs: 2 * p10Us, p10Us, p90Us: 3 * p10Us, samples: 9, inner: 1, timing: 'perf_counter',
});
const measurementsFile = (spec: ModelSpec, threads: number, entries: object[]) => validateMeasurements({
  schema: 'deferred-norm-measurements/1',
  provenance: { device: 'cpu', deviceName: 'My CPU', torch: '2.4', python: '3.12', dtype: 'fp32', threads, date: '2026-12-06' },
  model: { name: 'SmolLM2-135M', path: spec.source.path },
  workload: { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, m: 32 },
  quick: true,
  entries,
  skipped: [],
}, 'mine.json');

test('the user\'s measurements section: rows, title, notes and its own error, from a file\'s blocks', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const file = (threads: number, entries: object[]) => measurementsFile(spec, threads, entries);
  const cpu = getPreset('cpu');
  const s = measuredSource({ file: 'mine.json', measurements: file(4, [block('standard', 150), block('deferred', 100)]), spec }, cpu);
  assert.deepEqual(s.rows.map((r) => [r.site, r.variant, r.rows, r.consumers.join(','), r.measuredMs]), [['attn-norm', 'standard', 32, 'q_proj,k_proj,v_proj', 0.15], ['attn-norm', 'deferred', 32, 'q_proj,k_proj,v_proj', 0.1]]);
  for (const r of s.rows) close(r.ratio, r.simulatedMs / r.measuredMs, `${r.variant} ratio`);
  // The p10 by default; the median on request (twice the p10 here).
  const median = measuredSource({ file: 'mine.json', measurements: file(4, [block('standard', 150), block('deferred', 100)]), spec }, cpu, 'median');
  assert.deepEqual(median.rows.map((r) => r.measuredMs), [0.3, 0.2]);
  assert.deepEqual([s.file, s.title, s.device, s.date, s.torch, s.dtype, s.threads, s.statistic, s.hardware, s.calibratedHere], ['mine.json', 'your measurements: mine.json on My CPU, 2026-12-06', 'My CPU', '2026-12-06', '2.4', 'fp32', 4, 'p10', 'cpu', false]);
  const ratios = s.rows.map((r) => r.ratio);
  assert.equal(s.summary.n, 2);
  close(s.summary.meanAbsError, (Math.abs(ratios[0]! - 1) + Math.abs(ratios[1]! - 1)) / 2, 'mean');
  close(s.summary.geoMeanRatio, Math.sqrt(ratios[0]! * ratios[1]!), 'geometric mean');
  const text = formatMeasuredSources([s]);
  assert.ok(text.startsWith('\nYour measurements: mine.json on My CPU, 2026-12-06 (torch 2.4, fp32, 4 threads; the p10 of each entry), simulated on "cpu" under the harness\'s stack. Not part of the published figures above.\n'), text);
  assert.match(text, /^block +variant +rows +measured +simulated +ratio$/m);
  assert.match(text, /^attn-norm → q_proj,k_proj,v_proj +standard +32 +0\.150 ms +[\d.]+ ms +\d\.\d{3}$/m);
  assert.ok(text.includes(`Your measurements (mine.json): mean |ratio−1| ${(100 * s.summary.meanAbsError).toFixed(1)}% over 2 blocks (max ${(100 * s.summary.maxAbsError).toFixed(1)}%, geometric-mean ratio ${Math.sqrt(ratios[0]! * ratios[1]!).toFixed(3)}).`), text);
  assert.ok(text.endsWith('The "cpu" profile was not calibrated on My CPU: calibrate on this file (deferred-norm calibrate FILE --out NAME.hardware.json) and pass --hardware NAME.hardware.json to compare like with like.\n'), text);
  // Calibrated on this device: no such note. One thread: "1 thread". A standard block without its deferred partner is not compared.
  const mine = { ...cpu, calibration: { device: 'My CPU', date: '2026-12-06', measurements: 1, shapes: { mMin: 1, mMax: 64, kMax: 1, nMax: 1 } } };
  const here = measuredSource({ file: 'mine.json', measurements: file(1, [block('standard', 150), block('deferred', 100), block('standard', 90, 'mlp-norm', ['gate_proj', 'up_proj'])]), spec }, mine);
  assert.equal(here.calibratedHere, true);
  assert.deepEqual(here.notes, []);
  assert.equal(here.rows.length, 2);
  assert.match(formatMeasuredSources([here]), /, fp32, 1 thread; the p10 of each entry\)/);
  assert.equal(formatMeasuredSources([]), '');
});

test('every fitted preset, gpu-h100 included, names exactly the points marked for calibration on it', () => {
  const presets = [...new Set(POINTS.map((p) => p.hardware))];
  const fitted = presets.filter((hw) => getPreset(hw).provenance['matrix.efficiency']!.startsWith('calibrated:'));
  assert.ok(fitted.includes('gpu-h100') && fitted.includes('gpu-a100') && fitted.includes('gpu-t4'), fitted.join(', '));
  for (const hw of fitted) {
    const note = getPreset(hw).provenance['matrix.efficiency']!;
    const named = POINTS.filter((p) => new RegExp(`\\b${p.id}\\b`).test(note)).map((p) => p.id);
    assert.deepEqual(named, POINTS.filter((p) => p.hardware === hw && p.use === 'calibration').map((p) => p.id), hw);
  }
});

test('the user\'s measurements section: a file with no pair of blocks says so, with no table and no mean of nothing', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  // A standard block without its deferred partner is not compared: nothing to put in the table.
  const s = measuredSource({ file: 'mine.json', measurements: measurementsFile(spec, 4, [block('standard', 150)]), spec }, getPreset('cpu'));
  assert.deepEqual(s.rows, []);
  assert.equal(s.summary.n, 0);
  const uncalibrated = 'The "cpu" profile was not calibrated on My CPU: calibrate on this file (deferred-norm calibrate FILE --out NAME.hardware.json) and pass --hardware NAME.hardware.json to compare like with like.';
  const none = 'The file has no standard and deferred norm → projection blocks to compare.';
  assert.deepEqual(s.notes, [uncalibrated, none]);
  assert.equal(
    formatMeasuredSources([s]),
    '\nYour measurements: mine.json on My CPU, 2026-12-06 (torch 2.4, fp32, 4 threads; the p10 of each entry), simulated on "cpu" under the harness\'s stack. Not part of the published figures above.\n'
      + `${uncalibrated}\n${none}\n`,
  );
});

test('the user\'s measurements section: simulated under the harness\'s stack, whatever the profile given', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const set = { file: 'mine.json', measurements: measurementsFile(spec, 4, [block('standard', 150), block('deferred', 100)]), spec };
  // The harness times PyTorch eager: an unfused norm, one launch per kernel, the scale as its own kernel
  // (docs/validation.md). gpu-t4's own stack fuses the norm and the epilogue, so the stack must be applied.
  const t4 = getPreset('gpu-t4');
  assert.notDeepEqual([t4.kernels.norm, t4.kernels.launch, t4.matrix.fusedEpilogue], ['eager', 'per-kernel', false]);
  const stack = ['kernels.norm=eager', 'kernels.launch=per-kernel', 'matrix.fusedEpilogue=false'];
  const given = measuredSource(set, t4).rows.map((r) => r.simulatedMs);
  const applied = measuredSource(set, applyOverrides(getPreset('gpu-t4'), stack)).rows.map((r) => r.simulatedMs);
  assert.deepEqual(given, applied);
  // The bare preset's own stack gives other times (a second path: the held-back comparison on it as it is).
  const bare = heldBackBlocks(set, getPreset('gpu-t4'));
  assert.notDeepEqual(given, [bare[0]!.simulatedStandardUs / 1000, bare[0]!.simulatedDeferredUs / 1000]);
});

test('the user\'s measurements table: counts and times right-aligned under their headers', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  // 1.5 s and 0.8 µs: cells wider and narrower than their headers, and a ratio of more than 10.
  const s = measuredSource({ file: 'mine.json', measurements: measurementsFile(spec, 4, [block('standard', 1_500_000), block('deferred', 0.8)]), spec }, getPreset('cpu'));
  const lines = formatMeasuredSources([s]).split('\n');
  const header = lines.find((l) => l.startsWith('block '))!;
  const rows = lines.filter((l) => l.startsWith('attn-norm → '));
  assert.equal(rows.length, 2);
  const endOf = (word: string) => header.indexOf(word) + word.length;
  const cells = (row: string) => row.split(/ {2,}/);
  for (const [i, row] of rows.entries()) {
    const r = s.rows[i]!;
    const [, variant, count, measured, simulated, ratio] = cells(row);
    assert.deepEqual([variant, count, measured], [r.variant, '32', i === 0 ? '1,500.0 ms' : '0.001 ms'], row);
    // Right-aligned: each cell ends where its header ends (or the header ends where the widest cell does).
    assert.equal(row.indexOf(` ${count} `) + 1 + count!.length, endOf('rows'), row);
    assert.equal(row.indexOf(` ${measured}  `) + 1 + measured!.length, endOf('measured'), row);
    assert.equal(row.indexOf(` ${simulated}  `) + 1 + simulated!.length, endOf('simulated'), row);
    assert.ok(row.endsWith(ratio!) && row.length === header.length, `${row} | ${header}`);
  }
  // The widest measured cell (1,500.0 ms) is wider than "measured": the header moves right to end with it.
  assert.equal(header.indexOf('measured'), rows[0]!.indexOf('1,500.0 ms') + 2);
});

test('isCalibrated: both efficiencies fitted ("calibrated:" provenance), not one, not a missing note', () => {
  const a100 = getPreset('gpu-a100');
  const fitted = 'calibrated: by hand in this test';
  const withNotes = (notes: Record<string, string>) => ({ ...a100, provenance: notes });
  assert.equal(isCalibrated(withNotes({ 'matrix.efficiency': fitted, 'memory.efficiency': fitted })), true);
  assert.equal(isCalibrated(withNotes({ 'matrix.efficiency': fitted })), false, 'memory.efficiency has no note');
  assert.equal(isCalibrated(withNotes({ 'memory.efficiency': fitted })), false, 'matrix.efficiency has no note');
  assert.equal(isCalibrated(withNotes({ 'matrix.efficiency': fitted, 'memory.efficiency': 'stated: a datasheet figure' })), false);
  assert.equal(isCalibrated(withNotes({})), false);
});

test('validate: a point whose model was not loaded is named, with its fixture', async () => {
  const point = POINTS.find((p) => p.id === 'trtllm-a100-l2-7b-in128')!;
  assert.throws(() => validate({ specs: new Map(), hardware: getPreset, points: [point] }), { message: 'validate: no model spec for fixture Llama-2-7b-hf (point trtllm-a100-l2-7b-in128)' });
});

test('validate: an end-to-end point of one output token is its first-token latency alone', async () => {
  const ttft = POINTS.find((p) => p.id === 'trtllm-a100-l2-7b-in128')!;
  // The same request measured end to end with one generated token: no decode step follows the prefill.
  const e2e: Point = { ...ttft, id: 'e2e-one-token', metric: 'e2e', workload: { ...ttft.workload, output: 1 } };
  const [a, b] = validate({ specs: await specs(), hardware: getPreset, points: [ttft, e2e] }).rows;
  assert.equal(b!.simulatedMs, a!.simulatedMs);
  assert.deepEqual(a!.parts, { ttft: a!.simulatedMs });
  assert.deepEqual(b!.parts, { ttft: a!.simulatedMs });
  assert.equal(b!.workload, 'e2e b1 in128 out1 tp1 fp16');
});

test('validate: one summary per source with points, in the sources\' order, each over its own rows', async () => {
  const ids = ['vllm-a100-l3-8b-tp1', 'trtllm-a100-l2-7b-in128', 'trtllm-a100-l2-70b-in128'];
  const r = validate({ specs: await specs(), hardware: getPreset, points: POINTS.filter((p) => ids.includes(p.id)) });
  assert.deepEqual(r.perSource.map((s) => [s.source, s.n]), [['trtllm', 2], ['vllm-ci', 1]]);
  assert.equal(r.perSource[0]!.title, SOURCES.find((s) => s.id === 'trtllm')!.title);
  const vllm = r.rows.find((row) => row.source === 'vllm-ci')!;
  close(r.perSource[1]!.meanAbsError, Math.abs(vllm.ratio! - 1), 'one row: its own error');
});

test('formatValidation: a row without a simulated figure reads "pending", its ratio "—", and is listed as pending', async () => {
  const r = validate({ specs: await specs(), hardware: getPreset, points: POINTS.filter((p) => p.source === 'flashnorm' && p.model === 'SmolLM2-135M' && p.workload.input === 4096) });
  // A result as a JSON report of an older version carries it: the deferred row still waiting for the simulator.
  const waiting = { ...r.rows[1]!, simulatedMs: null, ratio: null, pending: 'no site simulator yet' };
  const text = formatValidation({ ...r, rows: [r.rows[0]!, waiting], pending: [waiting.id, 'another-point'], flashNorm: [{ ...r.flashNorm[0]!, simulatedPct: null }] });
  const row = text.split('\n').find((l) => l.startsWith(`${waiting.id} `))!;
  assert.match(row, / 0\.468 ms +pending +— +held back$/);
  assert.ok(text.includes(`  SmolLM2-135M at 4096 tokens: ${((100 * (0.704 - 0.468)) / 0.704).toFixed(1)}% published; pending\n`), text);
  assert.ok(text.endsWith(`\n\nPending (no simulated figure yet): ${waiting.id}, another-point.\n`), text);
  assert.ok(!formatValidation(r).includes('Pending'), 'no pending line when every row has a figure');
});

test('validate: the metrics agree with each other as their definitions say (TTFT, decode steps, end to end)', async () => {
  // Eight sequences of 4,096 tokens on one A100: the KV cache is a large part of each decode step, so a
  // step one token of context off is a different figure.
  const base = POINTS.find((p) => p.id === 'trtllm-a100-l2-7b-in128')!;
  const at = (id: string, metric: Point['metric'], workload: Partial<Point['workload']>): Point => ({ ...base, id, metric, workload: { ...base.workload, batch: 8, input: 4096, ...workload } });
  const points = [
    at('ttft', 'ttft', {}),
    at('step-4097', 'tpot', { context: 4097 }),
    at('step-4098', 'tpot', { context: 4098 }),
    at('step-4099', 'tpot', { context: 4099 }),
    at('e2e-2', 'e2e', { output: 2 }),
    at('e2e-3', 'e2e', { output: 3 }),
    // Without a context, a decode step runs with the prompt cached.
    at('step-prompt', 'tpot', {}),
    at('step-4096', 'tpot', { context: 4096 }),
  ];
  const ms = Object.fromEntries(validate({ specs: await specs(), hardware: getPreset, points }).rows.map((r) => [r.id, r.simulatedMs!]));
  // The first generated token comes with the prefill; the second is a decode step with the prompt and that token cached.
  close(ms['e2e-2']!, ms['ttft']! + ms['step-4097']!, 'two tokens: TTFT + the step at 4,097');
  // Three tokens: the steps at 4,097 and 4,098 (the mean of the first and last step, twice, is their sum).
  close(ms['e2e-3']!, ms['ttft']! + ms['step-4097']! + ms['step-4098']!, 'three tokens: TTFT + the steps at 4,097 and 4,098');
  const parts = validate({ specs: await specs(), hardware: getPreset, points: [points[5]!] }).rows[0]!.parts;
  assert.deepEqual(Object.keys(parts), ['ttft', 'decodeFirst', 'decodeLast', 'decode']);
  assert.deepEqual([parts['ttft'], parts['decodeFirst'], parts['decodeLast']], [ms['ttft'], ms['step-4097'], ms['step-4098']]);
  close(parts['decode']!, ms['step-4097']! + ms['step-4098']!, 'the decode part');
  assert.ok(ms['step-4099']! > ms['step-4098']! && ms['step-4098']! > ms['step-4097']!, 'each cached token costs time');
  assert.ok(ms['step-4097']! < ms['ttft']!, 'a decode step is far cheaper than the prefill of 4,096 tokens');
  assert.equal(ms['step-prompt'], ms['step-4096']);
});

test('validate: a point runs on its preset with its own overrides, and only those', async () => {
  // gpt-fast's all-reduce (kernels.allReduce=one-shot) at TP 2, and FlashNorm's PyTorch-eager stack.
  const ids = ['gptfast-a100-l2-7b-tp2', 'flashnorm-t4-l2-7b-1024-std', 'flashnorm-t4-l2-7b-1024-flash'];
  const own = POINTS.filter((p) => ids.includes(p.id));
  const all = await specs();
  const asPublished = validate({ specs: all, hardware: getPreset, points: own }).rows.map((r) => r.simulatedMs);
  // A second path: the same points without overrides, on presets the overrides were applied to first.
  const bare = own.map((p) => ({ ...p, set: [] }));
  const setFirst = (p: Point) => validate({ specs: all, hardware: (name) => applyOverrides(getPreset(name), p.set), points: bare.filter((q) => q.id === p.id) }).rows[0]!.simulatedMs;
  assert.deepEqual(asPublished, own.map(setFirst));
  // and the overrides change each figure: without them the preset's own stack gives others.
  const without = validate({ specs: all, hardware: getPreset, points: bare }).rows.map((r) => r.simulatedMs);
  for (const [i, id] of ids.entries()) assert.notEqual(without[i], asPublished[i], id);
});

test('the held-back share: at least two thirds of all points, counted over the points never fitted', async () => {
  const share = async (ids: string[]) => validate({ specs: await specs(), hardware: getPreset, points: POINTS.filter((p) => ids.includes(p.id)) }).targets.enoughHeldBack;
  // gpu-a100 holds the fit of its calibration points: trtllm-a100-l2-7b-in2048 is fitted, the others held back.
  assert.equal(await share(['trtllm-a100-l2-7b-in128', 'trtllm-a100-l2-7b-in2048']), false, '1 of 2 held back: less than 2/3');
  assert.equal(await share(['trtllm-a100-l2-7b-in128', 'trtllm-a100-l2-70b-in128', 'trtllm-a100-l2-7b-in2048']), true, '2 of 3: exactly 2/3');
  assert.equal(await share(['trtllm-a100-l2-7b-in2048']), false, '0 of 1');
});

test('the points as their sources publish them: TensorRT-LLM\'s table, gpt-fast\'s rows, FlashNorm\'s rows, the stacks per degree', () => {
  const byId = (id: string) => POINTS.find((p) => p.id === id)!;
  // TensorRT-LLM v0.5's performance.md, "1st Token Latency (ms)" at batch 1: [GPU, model, TP, input, ms].
  const trtllm: [string, string, number, number, number][] = [
    ['a100', '7b', 1, 128, 16], ['a100', '7b', 1, 2048, 133], ['a100', '70b', 4, 128, 47], ['a100', '70b', 4, 2048, 377],
    ['h100', '7b', 1, 128, 7], ['h100', '7b', 1, 2048, 36], ['h100', '70b', 4, 128, 26], ['h100', '70b', 4, 2048, 109],
  ];
  assert.deepEqual(POINTS.filter((p) => p.source === 'trtllm').map((p) => [p.hardware, p.model, p.workload.tp, p.workload.input, p.measuredMs]),
    trtllm.map(([gpu, size, tp, input, ms]) => [`gpu-${gpu}`, size === '7b' ? 'Llama-2-7b-hf' : 'Llama-2-70b-hf', tp, input, ms]));
  for (const [gpu, size, , input] of trtllm) assert.ok(byId(`trtllm-${gpu}-l2-${size}-in${input}`), `${gpu} ${size} ${input}`);
  // One build command: FP8 flags on H100, the TP flags when TP > 1, nothing else between them.
  const stack = (gpu: string, size: string, input: number) => byId(`trtllm-${gpu}-l2-${size}-in${input}`).stack;
  const plain = stack('a100', '7b', 128);
  assert.ok(plain.startsWith('TensorRT-LLM v0.5.0 with TensorRT 9.1, gptSessionBenchmark') && plain.endsWith('--use_gpt_attention_plugin float16'), plain);
  assert.equal(stack('h100', '7b', 2048), `${plain} --enable_fp8 --fp8_kv_cache`);
  assert.equal(stack('a100', '70b', 128), `${plain}, --world_size 4 --tp_size 4, run with mpirun -n 4`);
  assert.equal(stack('h100', '70b', 2048), `${plain} --enable_fp8 --fp8_kv_cache, --world_size 4 --tp_size 4, run with mpirun -n 4`);
  // Notes: the common note, then what holds for H100 and for the 70B command, then the GEMMs the stack runs.
  const note = (gpu: string, size: string) => byId(`trtllm-${gpu}-l2-${size}-in128`).note;
  const fusedNote = ' Projections: TensorRT-LLM\'s Attention layer runs q, k and v as one GEMM (tensorrt_llm/layers/attention.py: one ColumnLinear `qkv`); gate and up stay two GEMMs (the Llama builds of the document do not pass --use_fused_mlp).';
  const common = note('a100', '7b').slice(0, -fusedNote.length);
  assert.equal(note('a100', '7b'), common + fusedNote);
  assert.ok(common.startsWith('TTFT of a batch of one, as published (whole milliseconds, so ±0.5 ms of rounding).') && common.endsWith('Number of runs: 5 after 1 warm-up (the documented command).'), common);
  const h100 = note('h100', '7b').slice(common.length, -fusedNote.length);
  assert.ok(note('h100', '7b').startsWith(common) && h100.startsWith(' On H100 the engines were built with --enable_fp8 --fp8_kv_cache: FP8 weights'), h100);
  const big = note('a100', '70b').slice(common.length, -fusedNote.length);
  assert.ok(note('a100', '70b').startsWith(common) && big.startsWith(' The document\'s Llama2-70b first-token command lists "64:128,1" twice'), big);
  assert.equal(note('h100', '70b'), common + h100 + big + fusedNote);
  // gpt-fast's README: the Benchmarks table for one GPU, the Tensor Parallelism table for more.
  for (const p of POINTS.filter((q) => q.source === 'gpt-fast')) {
    const size = p.model === 'Llama-2-7b-hf' ? '7B' : '70B';
    const row = p.workload.tp === 1 ? `Benchmarks, "Llama-2-${size} | Base"` : `Tensor Parallelism, "Llama-2-${size} | ${p.workload.tp}"${p.published === '62.5 tokens/s' ? ' (62.50)' : ''}`;
    assert.equal(p.where, `README.md, table ${row}`, p.id);
  }
  assert.deepEqual(POINTS.filter((q) => q.source === 'gpt-fast').map((p) => [p.id, p.published]), [
    ['gptfast-a100-l2-7b-tp1', '104.9 tokens/s'], ['gptfast-a100-l2-7b-tp2', '168.84 tokens/s'], ['gptfast-a100-l2-7b-tp4', '254.02 tokens/s'], ['gptfast-a100-l2-7b-tp8', '328.43 tokens/s'],
    ['gptfast-a100-l2-70b-tp2', '21.32 tokens/s'], ['gptfast-a100-l2-70b-tp4', '38.01 tokens/s'], ['gptfast-a100-l2-70b-tp8', '62.5 tokens/s'],
  ]);
  // vLLM: one stack, with the TP degree appended when there is one.
  assert.equal(byId('vllm-a100-l3-70b-tp4').stack, `${byId('vllm-a100-l3-8b-tp1').stack}, tensor_parallel_size 4`);
  assert.ok(byId('vllm-a100-l3-8b-tp1').stack.endsWith('5 warm-up and 15 measured iterations'));
  // FlashNorm's tables: tab:overlap (SmolLM2-135M) and tab:overlap7b (Llama-7B), by token count.
  for (const p of POINTS.filter((q) => q.source === 'flashnorm')) {
    const table = p.model === 'SmolLM2-135M' ? 'tab:overlap' : 'tab:overlap7b';
    assert.ok(p.where.startsWith(`${table}, row "${p.workload.input}", column "${p.site!.variant === 'baseline' ? 'Sequential' : 'FlashNorm'}"`), `${p.id}: ${p.where}`);
  }
  // Every point is either fitted to or held back, in the two words the JSON report and the panel read.
  for (const p of POINTS) assert.ok(p.use === 'calibration' || p.use === 'held-back', `${p.id}: use "${p.use}"`);
});

test('formatValidation: the whole text of a small result, written out by hand', () => {
  const row = (id: string, hardware: string, set: string[], workload: string, measuredMs: number, simulatedMs: number | null, fitted: boolean) => ({
    id, source: 'src', model: 'M', hardware, set, workload, metric: 'ttft' as const, published: `${measuredMs} ms`, where: 'w', stack: 's', note: 'n',
    measuredMs, simulatedMs, ratio: simulatedMs === null ? null : simulatedMs / measuredMs, use: 'calibration' as const, fitted,
    pending: simulatedMs === null ? 'waiting' : null, parts: {},
  });
  const summary = (n: number, error: number, geoMeanRatio: number) => ({ n, meanAbsError: error, maxAbsError: error, geoMeanRatio });
  const result: ValidationResult = {
    estimate: 'Estimates, not measurements.',
    rows: [
      row('a-1', 'gpu-x', [], 'ttft b1 in128 tp1 fp16', 100, 90, true),
      row('b-22', 'gpu-y', ['x=1'], 'e2e b1 in6 out200 tp2 bf16', 1234.5, null, false),
      row('c-3', 'gpu-x', [], 'ttft b1 in128 tp1 fp16', 200, 220, true),
    ],
    sources: SOURCES,
    perSource: [{ source: 'src', title: 'A source', ...summary(2, 0.1, 0.995) }],
    overall: summary(2, 0.1, 0.995),
    heldBack: summary(0, 0, 1),
    calibration: summary(2, 0.1, 0.995),
    calibrationPoints: ['a-1', 'c-3'],
    heldBackPoints: ['b-22'],
    presets: [{ name: 'gpu-x', matrixEfficiency: 0.8, memoryEfficiency: 0.9, calibrated: true }, { name: 'gpu-y', matrixEfficiency: 0.5, memoryEfficiency: 0.6, calibrated: false }],
    flashNorm: [{ model: 'M', tokens: 4096, publishedPct: 33.52, simulatedPct: 30 }, { model: 'M', tokens: 8192, publishedPct: 35.5, simulatedPct: null }],
    targets: { perPoint: 0.2, mean: 0.08, heldBackShare: 2 / 3, saving: 0.25, everyPointWithin: false, meanWithin: true, enoughHeldBack: false, savingsWithin: 1 },
    pending: ['b-22'],
  };
  // Columns two spaces apart; words padded on the right, the figures on the left (right-aligned); widths:
  // point 5, source 6, model 5, hardware 8, workload 26, measured 10 ("1,234.5 ms"), simulated 9, ratio 5.
  const expected = [
    'Held-back error: mean |ratio−1| 0.0% over the 0 points never fitted (max 0.0%, geometric-mean ratio 1.000).',
    'Validation against published measurements: 3 points from 1 sources.',
    'Estimates, not measurements.',
    'ratio = simulated ÷ measured. * = preset with the point\'s --set overrides (the measured software stack; `--format json` lists them).',
    '',
    ['point', 'source', 'model', 'hardware', 'workload                  ', '  measured', 'simulated', 'ratio', 'used for'].join('  '),
    ['─'.repeat(5), '─'.repeat(6), '─'.repeat(5), '─'.repeat(8), '─'.repeat(26), '─'.repeat(10), '─'.repeat(9), '─'.repeat(5), '─'.repeat(27)].join('  '),
    ['a-1  ', 'src   ', 'M    ', 'gpu-x   ', 'ttft b1 in128 tp1 fp16    ', '  100.0 ms', ' 90.00 ms', '0.900', 'calibration'].join('  '),
    ['b-22 ', 'src   ', 'M    ', 'gpu-y*  ', 'e2e b1 in6 out200 tp2 bf16', '1,234.5 ms', '  pending', '    —', 'held back (fit not applied)'].join('  '),
    ['c-3  ', 'src   ', 'M    ', 'gpu-x   ', 'ttft b1 in128 tp1 fp16    ', '  200.0 ms', ' 220.0 ms', '1.100', 'calibration'].join('  '),
    '',
    'Error of the simulated estimates, per source:',
    ['source     ', 'n', 'mean |ratio−1|', 'max |ratio−1|', 'geo-mean ratio'].join('  '),
    ['─'.repeat(11), '─', '─'.repeat(14), '─'.repeat(13), '─'.repeat(14)].join('  '),
    ['src        ', '2', '         10.0%', '        10.0%', '         0.995'].join('  '),
    ['all        ', '2', '         10.0%', '        10.0%', '         0.995'].join('  '),
    ['held back  ', '0', '          0.0%', '         0.0%', '         1.000'].join('  '),
    ['calibration', '2', '         10.0%', '        10.0%', '         0.995'].join('  '),
    '',
    'Targets (issue 19), over the held-back points: mean within 8.0%: yes; every point within ±20.0%: no; at least 67% of all points held back: no (1 of 3); FlashNorm\'s savings within ±25.0% of the published: 1 of 2.',
    'Calibration (npm run calibrate:gpu fits matrix.efficiency and memory.efficiency of each GPU preset and one host time per pass, kernels.passOverheadNs, shared by the presets with whole-pass points, nothing else): a-1, c-3.',
    'Held back (never fitted): 1 points.',
    'Efficiencies: gpu-x matrix 0.8, memory 0.9 (fitted); gpu-y matrix 0.5, memory 0.6 (stated assumptions, not fitted).',
    '',
    'FlashNorm on a T4, the site\'s latency saved by deferral (published; simulated estimate):',
    '  M at 4096 tokens: 33.5% published; 30.0% simulated',
    '  M at 8192 tokens: 35.5% published; pending',
    '',
    'Pending (no simulated figure yet): b-22.',
    '',
  ];
  assert.deepEqual(formatValidation(result).split('\n'), expected);
});

test('fuseConsumers: a kind without the norm is left alone; the fused GEMM has a bias if any part had one', async () => {
  const smol = (await specs()).get('SmolLM2-135M')!;
  const kind = smol.layerKinds[0]!;
  const noAttnNorm = { ...smol, layerKinds: [{ ...kind, norms: kind.norms.filter((n) => n.role !== 'attn') }] };
  assert.deepEqual(fuseConsumers(noAttnNorm, 'attn-norm'), noAttnNorm);
  // q alone biased (k and v not): the concatenated weight's bias is q's followed by zeros, still a bias.
  const qBias = { ...smol, layerKinds: [{ ...kind, linears: kind.linears.map((l) => (l.name === 'q_proj' ? { ...l, bias: true } : l)) }] };
  assert.deepEqual(fuseConsumers(qBias, 'attn-norm').layerKinds[0]!.linears[0], { name: 'qkv_proj', role: 'qkv', in: 576, out: 960, bias: true });
});

test('validate: two measured consumers are named in the workload; a saving pairs rows of one source only', async () => {
  const std = POINTS.find((p) => p.id === 'flashnorm-t4-l2-7b-1024-std')!;
  const flash = POINTS.find((p) => p.id === 'flashnorm-t4-l2-7b-1024-flash')!;
  const two: Point = { ...std, id: 'two', site: { ...std.site!, consumers: ['q_proj', 'k_proj'] } };
  // A deferred row of the same model and size from another source, listed first, is not FlashNorm's partner.
  const other: Point = { ...flash, id: 'other-flash', source: 'elsewhere', measuredMs: 0.1 };
  const r = validate({ specs: await specs(), hardware: getPreset, points: [two, std, other, flash] });
  assert.equal(r.rows[0]!.workload, 'site b1 in1024 →q_proj,k_proj tp1 fp16');
  // Both standard rows (two consumers, and FlashNorm's q_proj) pair with FlashNorm's 1.654 ms, not the 0.1 ms.
  const saved = (100 * (1.882 - 1.654)) / 1.882;
  assert.deepEqual(r.flashNorm.map((s) => [s.tokens, s.publishedPct]), [[1024, saved], [1024, saved]]);
});
