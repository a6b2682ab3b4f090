import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset, isPresetName } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import type { ModelSpec } from '../../src/core/model/spec';
import { simulate, simulateSite } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { POINTS, SOURCES } from '../../src/core/validate/points';
import { formatValidation, fuseProjections, passMs, passWorkload, TARGETS, validate, type ValidationResult, validationHeadline } from '../../src/core/validate/validate';
import { fixturesDir } from '../../src/cli/validate';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'configs');
const GPU_END_TO_END = POINTS.filter((p) => p.metric !== 'site' && p.hardware.startsWith('gpu-'));

let cached: Promise<{ result: ValidationResult; specs: Map<string, ModelSpec> }> | undefined;
function run(): Promise<{ result: ValidationResult; specs: Map<string, ModelSpec> }> {
  cached ??= (async () => {
    const specs = new Map<string, ModelSpec>();
    for (const model of new Set(POINTS.map((p) => p.model))) specs.set(model, await loadModel(join(FIXTURES, model, 'config.json')));
    return { result: validate({ specs, hardware: getPreset }), specs };
  })();
  return cached;
}

test('at least 8 GPU points (TTFT or end to end) from at least 3 sources, plus FlashNorm\'s T4 rows', () => {
  assert.ok(GPU_END_TO_END.length >= 8, `${GPU_END_TO_END.length} GPU points`);
  const sources = new Set(GPU_END_TO_END.map((p) => p.source));
  assert.ok(sources.size >= 3, `sources: ${[...sources].join(', ')}`);
  const gpus = new Set(GPU_END_TO_END.map((p) => p.hardware));
  assert.ok(gpus.has('gpu-a100') && gpus.has('gpu-h100'), [...gpus].join(', '));
  const flash = POINTS.filter((p) => p.source === 'flashnorm');
  assert.ok(flash.every((p) => p.metric === 'site' && p.hardware === 'gpu-t4'));
  assert.deepEqual(new Set(flash.map((p) => p.model)), new Set(['SmolLM2-135M', 'Llama-2-7b-hf']));
  assert.equal(new Set(POINTS.map((p) => p.id)).size, POINTS.length, 'ids are unique');
});

test('every point cites its source in full: title, authors, URL, where in it, the figure as published, the stack', () => {
  for (const s of SOURCES) {
    for (const field of ['id', 'title', 'authors', 'url', 'kind'] as const) assert.ok(s[field].trim().length > 0, `${s.id}.${field}`);
    assert.match(s.url, /https:\/\//, s.id);
  }
  for (const p of POINTS) {
    assert.ok(SOURCES.some((s) => s.id === p.source), `${p.id}: source ${p.source} is listed`);
    for (const field of ['where', 'modelAsPublished', 'hardwareAsPublished', 'stack', 'published', 'note'] as const) {
      assert.ok(p[field].trim().length > 10 || (field === 'published' && p.published.length > 0), `${p.id}.${field}`);
    }
    assert.ok(p.measuredMs > 0 && Number.isFinite(p.measuredMs), p.id);
    if (p.metric === 'e2e') assert.ok((p.workload.output ?? 0) >= 1, `${p.id}: e2e names its output length`);
    if (p.metric === 'site') assert.ok(p.site, `${p.id}: site points name the site`);
  }
});

test('the measured figure is the published one, or follows from it as the derivation says', () => {
  for (const p of POINTS) {
    const m = /^([\d.]+) (ms|tokens\/s)$/.exec(p.published);
    assert.ok(m, `${p.id}: published "${p.published}" has a number and a unit`);
    const value = Number(m[1]);
    if (m[2] === 'ms') assert.equal(p.measuredMs, value, p.id);
    else {
      // tokens/s over the generated tokens of one request (batch 1) → wall time of the request.
      assert.equal(p.workload.batch, 1, p.id);
      assert.ok(Math.abs(p.measuredMs - (p.workload.output! / value) * 1000) < 1e-9, p.id);
      assert.ok(p.derivation && p.derivation.includes(m[1]!), `${p.id}: derivation states the published figure`);
    }
  }
});

test('every fixture and every preset a point names exists, and every override applies', async () => {
  for (const p of POINTS) {
    assert.ok(existsSync(join(FIXTURES, p.model, 'config.json')), `${p.id}: fixture ${p.model}`);
    assert.ok(isPresetName(p.hardware), `${p.id}: preset ${p.hardware}`);
  }
  assert.equal(fixturesDir(), FIXTURES, 'the CLI finds the same fixtures folder');
  const { result } = await run();
  assert.equal(result.rows.length, POINTS.length);
});

test('calibration and held-back points: about a third of each GPU\'s points are fitted to, the rest held back', () => {
  for (const gpu of ['gpu-a100', 'gpu-h100', 'gpu-t4']) {
    const mine = POINTS.filter((p) => p.hardware === gpu);
    const fitted = mine.filter((p) => p.use === 'calibration');
    assert.ok(fitted.length >= 1, `${gpu} has calibration points`);
    assert.ok(fitted.length <= Math.ceil(mine.length / 3) + 1, `${gpu}: ${fitted.length} of ${mine.length} fitted`);
  }
  // FlashNorm's deferred rows are never fitted to: its trend must come out of the model.
  assert.ok(POINTS.filter((p) => p.site?.variant === 'deferred').every((p) => p.use === 'held-back'));
});

test('a fitted preset names exactly its calibration points in the provenance of both efficiencies', () => {
  for (const gpu of ['gpu-a100', 'gpu-t4']) {
    const hw = getPreset(gpu);
    const ids = POINTS.filter((p) => p.hardware === gpu && p.use === 'calibration').map((p) => p.id);
    for (const path of ['matrix.efficiency', 'memory.efficiency']) {
      const note = hw.provenance[path]!;
      assert.ok(note.startsWith('calibrated:') && note.includes('npm run calibrate:gpu'), `${gpu} ${path}`);
      for (const id of ids) assert.ok(note.includes(id), `${gpu} ${path} names ${id}`);
      const named = POINTS.filter((p) => note.includes(p.id)).map((p) => p.id);
      assert.deepEqual(named, ids, `${gpu} ${path} names no other point`);
    }
  }
});

test('ratios and the error figures, recomputed here from the rows', async () => {
  const { result } = await run();
  for (const row of result.rows) {
    if (row.simulatedMs === null) continue;
    assert.ok(row.simulatedMs > 0, row.id);
    assert.ok(Math.abs(row.ratio! - row.simulatedMs / row.measuredMs) < 1e-12, row.id);
  }
  const byHand = (rows: typeof result.rows) => {
    const errs = rows.filter((r) => r.ratio !== null).map((r) => (r.ratio! > 1 ? r.ratio! - 1 : 1 - r.ratio!));
    let sum = 0;
    let max = 0;
    for (const e of errs) {
      sum += e;
      if (e > max) max = e;
    }
    return { n: errs.length, mean: errs.length ? sum / errs.length : 0, max };
  };
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  for (const s of result.perSource) {
    const h = byHand(result.rows.filter((r) => r.source === s.source));
    assert.equal(s.n, h.n, s.source);
    close(s.meanAbsError, h.mean, `${s.source} mean`);
    close(s.maxAbsError, h.max, `${s.source} max`);
  }
  assert.deepEqual(result.perSource.map((s) => s.source), SOURCES.map((s) => s.id));
  const all = byHand(result.rows);
  assert.equal(result.overall.n, all.n);
  close(result.overall.meanAbsError, all.mean, 'overall mean');
  close(result.overall.maxAbsError, all.max, 'overall max');
  // A point counts as fitted only where its preset holds the fit (both efficiencies "calibrated:").
  const fittedPreset = (name: string) => ['matrix.efficiency', 'memory.efficiency'].every((k) => getPreset(name).provenance[k]!.startsWith('calibrated:'));
  const fitted = new Set(POINTS.filter((p) => p.use === 'calibration' && fittedPreset(p.hardware)).map((p) => p.id));
  const held = byHand(result.rows.filter((r) => !fitted.has(r.id)));
  const cal = byHand(result.rows.filter((r) => fitted.has(r.id)));
  assert.equal(result.heldBack.n, held.n);
  close(result.heldBack.meanAbsError, held.mean, 'held-back mean');
  close(result.heldBack.maxAbsError, held.max, 'held-back max');
  close(result.calibration.meanAbsError, cal.mean, 'calibration mean');
  assert.deepEqual(result.calibrationPoints, [...fitted]);
  // Issue 19's verdicts follow from the held-back figures (they are reported, not asserted to hold).
  assert.equal(result.targets.meanWithin, result.pending.length === 0 && held.mean <= 0.08);
  assert.equal(result.targets.everyPointWithin, result.pending.length === 0 && held.max <= 0.2);
  assert.equal(result.targets.enoughHeldBack, 3 * (result.rows.length - fitted.size) >= 2 * result.rows.length);
  const within = result.flashNorm.filter((f) => f.simulatedPct !== null && Math.abs(f.simulatedPct - f.publishedPct) <= 0.25 * f.publishedPct);
  assert.equal(result.targets.savingsWithin, within.length);
});

test('an end-to-end figure is TTFT plus (output − 1) decode steps at the contexts they run with', async () => {
  const { result, specs } = await run();
  const p = POINTS.find((q) => q.id === 'gptfast-a100-l2-7b-tp1')!;
  const row = result.rows.find((r) => r.id === p.id)!;
  const hw = getPreset('gpu-a100');
  const base: Workload = { ...DEFAULT_WORKLOAD, batch: 1, seq: 6, tp: 1, dtype: 'bf16' };
  const passMs = (w: Workload) => {
    const s = simulate(specs.get('Llama-2-7b-hf')!, hw, w);
    let us = 0;
    for (const k of s.kinds) us += (k.layers.length * k.baseline.timeline.makespanNs) / 1000;
    return us / 1000;
  };
  const ttft = passMs({ ...base, phase: 'prefill' });
  let decode = 0;
  for (let context = 7; context <= 205; context++) decode += passMs({ ...base, phase: 'decode', context });
  // The runtime's host time, once for the prefill and once for each of the 199 decode steps: 200 passes.
  const host = (200 * hw.kernels.passOverheadNs) / 1e6;
  // Summed step by step here; validate uses the two end steps (decode latency is affine in the context).
  assert.ok(Math.abs(row.simulatedMs! - (ttft + decode + host)) / (ttft + decode + host) < 0.005, `${row.simulatedMs} vs ${ttft + decode + host}`);
});

test("the runtime's host time per pass is paid once by a TTFT and once per pass by an end-to-end figure", async () => {
  const { specs } = await run();
  const points = POINTS.filter((p) => p.id === 'trtllm-a100-l2-7b-in128' || p.id === 'gptfast-a100-l2-7b-tp1');
  const at = (ns: number) => validate({ specs, points, hardware: (name) => applyOverrides(getPreset(name), [`kernels.passOverheadNs=${ns}`]) }).rows;
  const [without, withOne] = [at(0), at(1_000_000)];
  // By hand: a TTFT is one pass (+1 ms); gpt-fast's 200 new tokens are one prefill and 199 decode steps (+200 ms).
  assert.ok(Math.abs(withOne[0]!.simulatedMs! - without[0]!.simulatedMs! - 1) < 1e-9, `TTFT: ${withOne[0]!.simulatedMs} vs ${without[0]!.simulatedMs}`);
  assert.ok(Math.abs(withOne[1]!.simulatedMs! - without[1]!.simulatedMs! - 200) < 1e-6, `e2e: ${withOne[1]!.simulatedMs} vs ${without[1]!.simulatedMs}`);
});

test("TensorRT-LLM's 128-token first-token latencies are within issue 19's ±20% (split-K pays its partial sums and reduction kernel)", async () => {
  const { result } = await run();
  const short = result.rows.filter((r) => r.source === 'trtllm' && r.id.endsWith('-in128'));
  assert.equal(short.length, 4);
  // Issue 19: every held-back point within ±20% of the published figure. Before split-K was costed,
  // Llama-2-70B at TP 4 in FP8 on H100 came out at 0.708 and Llama-2-7B on A100 at 0.809.
  for (const r of short) assert.ok(Math.abs(r.ratio! - 1) <= TARGETS.perPoint, `${r.id}: ${r.ratio}`);
});

test("each whole-pass point runs its stack's GEMMs: q, k and v as one in all three stacks, gate and up as one in vLLM", async () => {
  const { specs, result } = await run();
  // From the stacks' model code (the points' notes): TensorRT-LLM's Attention.qkv, gpt-fast's Attention.wqkv,
  // vLLM's QKVParallelLinear and MergedColumnParallelLinear.
  const expected: Record<string, string[]> = { trtllm: ['qkv'], 'gpt-fast': ['qkv'], 'vllm-ci': ['qkv', 'gate_up'], flashnorm: [] };
  for (const p of POINTS) assert.deepEqual(p.fusedProjections ?? [], expected[p.source], p.id);
  // Llama-2-70B: 64 query heads and 8 KV heads of 128 make one 8,192 → 8,192 + 2 · 1,024 = 10,240 GEMM;
  // Llama-3.1-8B's gate and up (14,336 each) one 4,096 → 28,672 GEMM. A layer then has 5 GEMMs, or 4, not 7.
  const l70 = fuseProjections(specs.get('Llama-2-70b-hf')!, ['qkv']).layerKinds[0]!;
  assert.deepEqual(l70.linears.find((l) => l.role === 'qkv'), { name: 'qkv_proj', role: 'qkv', in: 8192, out: 10240, bias: false });
  assert.equal(l70.linears.length, 5);
  const l8 = fuseProjections(specs.get('Llama-3.1-8B')!, ['qkv', 'gate_up']).layerKinds[0]!;
  assert.deepEqual(l8.linears.find((l) => l.role === 'gate_up'), { name: 'gate_up_proj', role: 'gate_up', in: 4096, out: 28672, bias: false });
  assert.equal(l8.linears.length, 4);
  assert.deepEqual(l8.norms.find((n) => n.role === 'mlp')!.feeds, ['gate_up_proj']);
  // The figure validate prints is the fused stack's: a TTFT is one pass of the fused spec, plus the host time.
  const p = POINTS.find((q) => q.id === 'trtllm-h100-l2-70b-in128')!;
  const hw = getPreset('gpu-h100');
  const fused = passMs(fuseProjections(specs.get(p.model)!, ['qkv']), hw, passWorkload(p, 'prefill'));
  const apart = passMs(specs.get(p.model)!, hw, passWorkload(p, 'prefill'));
  assert.equal(result.rows.find((r) => r.id === p.id)!.simulatedMs, fused);
  assert.ok(fused < apart, `fused ${fused} ms, apart ${apart} ms`);
});

test('the table says the simulated figures are estimates and prints every row and the per-source errors', async () => {
  const { result } = await run();
  const text = formatValidation(result);
  assert.match(text, /estimates of this simulator, not measurements/);
  for (const p of POINTS) assert.ok(text.includes(p.id), p.id);
  for (const s of SOURCES) assert.match(text, new RegExp(`^${s.id}\\s+\\d+\\s`, 'm'));
  assert.match(text, /Calibration \(npm run calibrate:gpu/);
  // The headline is the held-back error, its mean recomputed here from the rows.
  const held = result.rows.filter((r) => !r.fitted && r.ratio !== null).map((r) => Math.abs(r.ratio! - 1));
  const mean = (100 * held.reduce((a, b) => a + b, 0)) / held.length;
  assert.match(text.split('\n')[0]!, new RegExp(`^Held-back error: mean \\|ratio−1\\| ${mean.toFixed(1)}% over the ${held.length} points never fitted`));
});

const siteSaving = (spec: ModelSpec, seq: number) => {
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq, tp: 1, dtype: null };
  const s = simulateSite(spec, getPreset('gpu-t4'), w, 'attn-norm');
  return (s.keptNs - s.deferredNs) / s.keptNs;
};

test("FlashNorm's trend comes out of the model: on gpu-t4 in prefill the norm → projection saves more at SmolLM2-135M shapes than at Llama-2-7B's, and both save", async () => {
  const { result, specs } = await run();
  for (const seq of [1024, 4096]) {
    const small = siteSaving(specs.get('SmolLM2-135M')!, seq);
    const large = siteSaving(specs.get('Llama-2-7b-hf')!, seq);
    assert.ok(small > large && large > 0, `seq ${seq}: SmolLM2 ${(100 * small).toFixed(1)}%, Llama-2-7B ${(100 * large).toFixed(1)}%`);
  }
  // and on FlashNorm's own stack, at its token counts
  const small = result.flashNorm.filter((s) => s.model === 'SmolLM2-135M').map((s) => s.simulatedPct!);
  const large = result.flashNorm.filter((s) => s.model === 'Llama-2-7b-hf').map((s) => s.simulatedPct!);
  assert.ok(Math.min(...small) > Math.max(...large) && Math.min(...large) > 0, `SmolLM2 ${small.join(', ')}; Llama-2-7B ${large.join(', ')}`);
});

test('the Llama-2-7B attn-norm site is deferred on gpu-t4 in prefill', async () => {
  const { specs } = await run();
  const spec = specs.get('Llama-2-7b-hf')!;
  for (const seq of [512, 2048]) {
    const sim = simulate(spec, getPreset('gpu-t4'), { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq });
    const site = sim.kinds[0]!.sites.find((s) => s.site.id === 'attn-norm')!;
    assert.equal(site.decision, 'defer', `seq ${seq}: kept ${site.keptNs} ns, deferred ${site.deferredNs} ns`);
  }
});

test("the panel's validation headline: every published point, and the held-back error recomputed from the rows", async () => {
  const { result } = await run();
  const headline = validationHeadline(result);
  assert.equal(headline.points, POINTS.length);
  // A second way to the held-back error: the mean of |ratio − 1| over the rows never fitted, by hand.
  const heldBack = result.rows.filter((r) => !r.fitted && r.ratio !== null);
  const mean = heldBack.reduce((s, r) => s + Math.abs(r.ratio! - 1), 0) / heldBack.length;
  assert.equal(headline.heldBack, heldBack.length);
  assert.ok(Math.abs(headline.heldBackErrorPct - 100 * mean) < 1e-9, `${headline.heldBackErrorPct} vs ${100 * mean}`);
});
