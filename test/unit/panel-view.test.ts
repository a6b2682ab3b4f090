import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHardwareProfileFile } from '../../src/core/files';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import { compareHardware, formatComparisonMarkdown } from '../../src/core/report/compare';
import { profile } from '../../src/core/report/profile';
import { timelinesOf } from '../../src/core/report/timeline';
import { simulate } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { buildPanelView, buildSweepView, inputOf, sweepValues, withKernelOverrides } from '../../src/common/panel-view';
import { loadFixture } from './helpers/fixtures';

const input = inputOf(DEFAULT_WORKLOAD);

test('the timeline shows the gather on the critical path in the baseline and under the matmul when deferred', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const [layer] = timelinesOf(simulate(spec, getPreset('dimc'), DEFAULT_WORKLOAD));
  assert.ok(layer);
  const gather = (ops: typeof layer.baseline.ops) => ops.find((o) => o.site === 'attn-norm' && o.category === 'stat-collective')!;
  const firstQ = (ops: typeof layer.baseline.ops) => ops.filter((o) => o.name.startsWith('q_proj') && o.engine === 'matrix').sort((a, b) => a.startUs - b.startUs)[0]!;
  assert.equal(gather(layer.baseline.ops).engine, 'collective');
  // Usual schedule: q_proj reads the normalized x, so it starts only once Σx² has been gathered.
  assert.ok(firstQ(layer.baseline.ops).startUs >= gather(layer.baseline.ops).endUs);
  // Deferred: q_proj reads x itself and runs while the gather is under way.
  assert.ok(firstQ(layer.deferred.ops).startUs < gather(layer.deferred.ops).endUs);
  for (const side of [layer.baseline, layer.deferred]) {
    for (const op of side.ops) assert.ok(op.startUs >= 0 && op.endUs >= op.startUs && op.endUs <= side.makespanUs + 1e-9, op.name);
  }
});

test('the panel view carries the same figures as profile(), with the code, and numerics as given', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const hw = getPreset('gpu-h100');
  const view = buildPanelView(spec, hw, { ...input, phase: 'prefill', seq: 512, batch: 1 }, { hardware: 'gpu-h100', hardwareChoices: [], interactive: true, numerics: null, sweep: null });
  const direct = profile(spec, getPreset('gpu-h100'), { ...DEFAULT_WORKLOAD, phase: 'prefill', seq: 512, batch: 1 });
  assert.deepEqual(view.report.totals, direct.totals);
  assert.equal(view.report.numerics, null);
  assert.ok(view.report.pseudocode && view.report.pseudocode.some((p) => p.name === 'input_layernorm → q_proj, k_proj, v_proj'));
  assert.equal(view.timelines.length, view.report.layerKinds.length);
  assert.equal(view.workload.seq, 512);
});

test('sweep values: powers of two, and only TP degrees the heads can be split into', async () => {
  const llama = await loadFixture('Llama-3.1-8B'); // 32 heads, 8 KV heads
  const gpt2 = await loadFixture('GPT-2'); // 12 heads
  // Each chip holds whole heads (32 = 16·2 = 32·1); 16 and 32 chips replicate the 8 KV heads.
  assert.deepEqual(sweepValues(llama, 'tp'), [1, 2, 4, 8, 16, 32]);
  assert.deepEqual(sweepValues(gpt2, 'tp'), [1, 2, 4]);
  assert.deepEqual(sweepValues(llama, 'batch'), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  const sweep = buildSweepView(llama, getPreset('dimc'), 'dimc', input, 'batch');
  assert.deepEqual(sweep.points.map((p) => p.batch), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
  assert.ok(sweep.points.every((p) => p.context === input.context && p.tp === 1));
  const at32 = sweep.points.find((p) => p.batch === 32)!;
  assert.equal(at32.savedPct, profile(llama, getPreset('dimc'), DEFAULT_WORKLOAD).totals.savedPct);
});

test('the panel refuses a TP degree that splits heads, and says when KV heads are replicated', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const options = { hardware: 'dimc', hardwareChoices: [], interactive: true, numerics: null, sweep: null };
  assert.throws(() => buildPanelView(spec, getPreset('dimc'), { ...input, tp: 3 }, options), (err: Error) => err.name === 'InputError' && /tp/.test(err.message));
  const view = buildPanelView(spec, getPreset('dimc'), { ...input, tp: 16 }, options);
  assert.ok(view.report.model.notes.some((n) => /replicated on 2 chips/.test(n)), view.report.model.notes.join(' | '));
  assert.ok(!spec.notes.some((n) => /replicated/.test(n)), 'the shared spec is not changed');
});

test('hardware comparison: one row per machine with its own totals; names from files cannot form markup', async () => {
  const spec = await loadFixture('Llama-2-7b-hf');
  const machines = [getPreset('dimc'), getPreset('gpu-h100'), getPreset('tpu-v5e')];
  const result = compareHardware(spec, machines, DEFAULT_WORKLOAD);
  assert.deepEqual(result.rows.map((r) => r.hardware), ['dimc', 'gpu-h100', 'tpu-v5e']);
  for (const row of result.rows) assert.equal(row.savedPct, profile(spec, getPreset(row.hardware), DEFAULT_WORKLOAD).totals.savedPct);
  // dimc has no fp32 matrix rate: that machine is listed as not compared, with the reason, and the others still are.
  const fp32 = compareHardware(spec, [getPreset('dimc'), getPreset('gpu-h100')], { ...DEFAULT_WORKLOAD, dtype: 'fp32' });
  assert.deepEqual(fp32.rows.map((r) => r.hardware), ['gpu-h100']);
  assert.equal(fp32.skipped[0]?.hardware, 'dimc');
  assert.match(fp32.skipped[0]!.reason, /dtype/);
  const md = formatComparisonMarkdown('<img src=x onerror=alert(1)>[link](javascript:x)', 'decode', result);
  assert.ok(!md.includes('<img') && !md.includes('](javascript'), md.split('\n')[0]);
  assert.match(md, /Simulated estimates, not measurements/);
});

test('kernel choices from the panel are the core’s --set overrides, named in the view and the provenance', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const h100 = getPreset('gpu-h100');
  const options = { hardware: 'gpu-h100', hardwareChoices: [], interactive: true, numerics: null, sweep: null };
  const plain = buildPanelView(spec, h100, input, options);
  assert.deepEqual(plain.kernels, { attention: null, norm: null });
  assert.deepEqual(plain.profileKernels, { attention: 'flash', norm: 'fused' });
  const softmax = (v: typeof plain) => v.report.layerKinds[0]!.sites.find((s) => s.kind === 'softmax')!;
  assert.equal(softmax(plain).decision, 'ineligible');
  assert.match(softmax(plain).reason, /already deferred by the baseline kernel/);

  const eager = buildPanelView(spec, h100, input, { ...options, kernels: { attention: 'eager', norm: null } });
  // The expected figures: the CLI's path, `--set kernels.attention=eager`, called directly.
  const direct = profile(spec, applyOverrides(getPreset('gpu-h100'), ['kernels.attention=eager']), DEFAULT_WORKLOAD);
  assert.deepEqual(eager.report.totals, direct.totals);
  assert.notDeepEqual(eager.report.totals, plain.report.totals);
  assert.deepEqual(eager.kernels, { attention: 'eager', norm: null });
  assert.deepEqual(eager.profileKernels, { attention: 'flash', norm: 'fused' }, 'the profile’s own choice stays what the "(profile)" option says');
  assert.notEqual(softmax(eager).decision, 'ineligible');
  assert.match(eager.report.hardware.provenance['kernels.attention']!, /set in the report panel's controls \(the "gpu-h100" profile says flash\)/);
  assert.equal(h100.kernels.attention, 'flash', 'the preset itself is untouched');
  // The report's own assumptions say which kernel the panel changed, and the others stay the profile's.
  const kernelsAssumption = (v: typeof plain) => v.report.assumptions.find((a) => a.startsWith('Kernels'))!;
  assert.match(kernelsAssumption(eager), /^Kernels \(stated choices of the "gpu-h100" profile, except: attention set in the report panel's controls \(the "gpu-h100" profile says flash\)\): attention eager/);
  assert.doesNotMatch(kernelsAssumption(eager), /norm set/);
  assert.match(kernelsAssumption(plain), /^Kernels \(stated choices of the "gpu-h100" profile\): attention fused/);

  const both = buildPanelView(spec, h100, input, { ...options, kernels: { attention: 'eager', norm: 'eager' } });
  assert.deepEqual(both.report.totals, profile(spec, applyOverrides(getPreset('gpu-h100'), ['kernels.attention=eager', 'kernels.norm=eager']), DEFAULT_WORKLOAD).totals);

  // An override equal to the profile's own choice is none.
  const same = buildPanelView(spec, h100, input, { ...options, kernels: { attention: 'flash', norm: 'fused' } });
  assert.deepEqual(same.kernels, { attention: null, norm: null });
  assert.deepEqual(same.report.totals, plain.report.totals);
  assert.equal(withKernelOverrides(h100, { attention: 'flash', norm: null }), h100);

  // A sweep on the panel's kernels: its point at the panel's batch is the overridden profile's.
  const sweep = buildSweepView(spec, h100, 'gpu-h100', input, 'batch', { attention: 'eager', norm: null });
  assert.equal(sweep.points.find((p) => p.batch === input.batch)!.savedPct, direct.totals.savedPct);
});

test('deferral depth from the panel: linear keeps every scale after its linear layer (the papers’ rewrite)', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const options = { hardware: 'dimc', hardwareChoices: [], interactive: true, numerics: null, sweep: null };
  const attnNorm = (v: ReturnType<typeof buildPanelView>) => v.report.layerKinds[0]!.sites.find((s) => s.id === 'attn-norm')!;
  const deepest = buildPanelView(spec, getPreset('dimc'), input, options);
  assert.equal(deepest.workload.deferDepth, 'deepest');
  assert.equal(attnNorm(deepest).depth, 'rope');
  assert.deepEqual(attnNorm(deepest).depthUs.map((d) => d.depth), ['linear', 'rope', 'attention']);
  const linear = buildPanelView(spec, getPreset('dimc'), { ...input, deferDepth: 'linear' }, options);
  assert.equal(linear.workload.deferDepth, 'linear');
  assert.equal(attnNorm(linear).depth, 'linear');
  assert.deepEqual(attnNorm(linear).depthUs.map((d) => d.depth), ['linear']);
  assert.deepEqual(linear.report.totals, profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, deferDepth: 'linear' }).totals);
  assert.ok(linear.report.totals.savedUs < deepest.report.totals.savedUs, 'the deeper scales save more on dimc');
});

test('the panel view of a 16-million-character name and a 100,000-character hidden_act shows them shortened, with their length', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const name = `\u202e${'N'.repeat(16_000_000)}`;
  const hostile = { ...spec, name, layerKinds: spec.layerKinds.map((k) => ({ ...k, label: `${k.label} ${'x'.repeat(100_000)}` })) };
  const view = buildPanelView(hostile, getPreset('dimc'), input, { hardware: 'dimc', hardwareChoices: [], interactive: false, numerics: null, sweep: null });
  // Its first 200 characters (the bidi override, dropped, and 199 N's) and its length as read.
  assert.equal(view.report.model.name, `${'N'.repeat(199)}… (16,000,001 characters)`);
  assert.ok(view.report.model.notes.some((n) => n.includes('16,000,001 characters long')));
  for (const k of [...view.report.layerKinds, ...view.timelines]) assert.ok(k.label.length <= 200 + ' (100,000 characters)…'.length + 20, `${k.label.length}`);
  // Nothing in the view (pseudo-code comments included) carries the long strings: the view stays small.
  const text = JSON.stringify(view);
  assert.ok(!text.includes('N'.repeat(201)) && !text.includes('x'.repeat(201)));
  assert.ok(text.length < 2_000_000, `${text.length}`);
});

test("the panel's layers: one entry per run of identical layers, covering every layer once", async () => {
  const spec = await loadFixture('Llama-3.1-405B');
  const view = buildPanelView(spec, getPreset('dimc'), input, { hardware: 'dimc', hardwareChoices: [], interactive: false, numerics: null, sweep: null });
  // 126 identical decoder layers, then the head.
  assert.deepEqual(view.report.layers.map((l) => [l.index, l.count, l.kind]), [[0, 126, 'decoder'], [126, 1, 'head']]);
});

test('a workspace profile named like a preset is shown in the panel as that file, its own numbers kept', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const { $schema: _schema, ...dimc } = getPreset('dimc');
  const file = join(mkdtempSync(join(tmpdir(), 'dnp-ws-')), 'lab.hardware.json');
  writeFileSync(file, JSON.stringify({ ...dimc, collective: { ...dimc.collective, hopLatencyNs: 0 } }));
  // The extension reads workspace profiles through the core's file edge, as here.
  const hw = await readHardwareProfileFile(file);
  assert.equal(hw.name, 'lab.hardware.json');
  // The title was the preset's own, not its name: it stays.
  assert.equal(hw.title, dimc.title);
  const view = buildPanelView(spec, hw, input, { hardware: file, hardwareChoices: [], interactive: false, numerics: null, sweep: null });
  assert.equal(view.report.hardware.name, 'lab.hardware.json');
  // Free hops: its own numbers, not the preset's.
  assert.ok(view.report.totals.collectiveShareBaselinePct < profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD).totals.collectiveShareBaselinePct);
});

test('site sources: every site of a config-read model names the config and the keys it comes from; a model read from weights has none (issue 20)', async () => {
  const dir = join(__dirname, '..', 'fixtures', 'configs', 'Llama-3.1-8B');
  const spec = await loadModel(dir);
  const options = { hardware: 'dimc', hardwareChoices: [], interactive: true, numerics: null, sweep: null };
  const view = buildPanelView(spec, getPreset('dimc'), inputOf(DEFAULT_WORKLOAD), options);
  const sites = view.report.layerKinds.flatMap((k) => k.sites.map((s) => `${k.id}/${s.id}`));
  assert.deepEqual(view.siteSources!.map((s) => `${s.layerKind}/${s.site}`), sites);
  // Llama's config.json sets its RMSNorms by rms_norm_eps and its attention by num_attention_heads (read here from the file).
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['rms_norm_eps'], 1e-5);
  assert.equal(config['num_attention_heads'], 32);
  const source = (kind: string, site: string) => view.siteSources!.find((s) => s.layerKind === kind && s.site === site)!;
  const decoder = view.report.layerKinds[0]!.id;
  for (const [kind, site] of [[decoder, 'attn-norm'], [decoder, 'mlp-norm'], ['head', 'final-norm']] as const) {
    assert.equal(source(kind, site).configPath, `${dir}/config.json`);
    assert.equal(source(kind, site).keys.find((k) => k in config), 'rms_norm_eps', site);
  }
  assert.equal(source(decoder, 'softmax').keys.find((k) => k in config), 'num_attention_heads');
  assert.match(source(decoder, 'attn-norm').title, /input_layernorm\(…\)/);
  // From a GGUF header there is no config to point at.
  const fromWeights = buildPanelView({ ...spec, source: { path: '/m/model.gguf', format: 'gguf' } }, getPreset('dimc'), inputOf(DEFAULT_WORKLOAD), options);
  assert.deepEqual(fromWeights.siteSources, []);
});
