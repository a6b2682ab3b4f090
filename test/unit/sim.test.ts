import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset, listPresets } from '../../src/core/hardware/presets';
import { profile } from '../../src/core/report/profile';
import { simulate } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture, profiledFixtures } from './helpers/fixtures';

const close = (a: number, b: number, tol = 1e-6) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

const WORKLOADS: Workload[] = [
  DEFAULT_WORKLOAD,
  { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 512 },
  { ...DEFAULT_WORKLOAD, batch: 1, context: 128, softmaxOffset: 'exact', tiles: 1 },
  { ...DEFAULT_WORKLOAD, tp: 4, softmaxOffset: 'bound' },
];

test('every fixture on every preset: deferred ≤ baseline per layer, totals are the sums over layers', async () => {
  for (const name of profiledFixtures()) {
    const spec = await loadFixture(name);
    for (const preset of listPresets()) {
      const hw = getPreset(preset.name);
      for (const w of WORKLOADS) {
        const workload = spec.topology === 'encoder' ? { ...w, phase: 'prefill' as const } : w;
        const r = profile(spec, hw, workload);
        const where = `${name} on ${preset.name}, ${JSON.stringify(workload)}`;
        assert.ok(r.layers.length > 0, where);
        let base = 0;
        let def = 0;
        for (const l of r.layers) {
          assert.ok(l.deferredUs <= l.baselineUs + 1e-9, `${where}: layer ${l.index} deferred ${l.deferredUs} > baseline ${l.baselineUs}`);
          assert.ok(l.baselineUs > 0, `${where}: layer ${l.index} takes no time`);
          // Each entry is a run of `count` identical layers, with one layer's figures.
          base += l.baselineUs * l.count;
          def += l.deferredUs * l.count;
        }
        assert.ok(close(r.totals.baselineUs, base), where);
        assert.ok(close(r.totals.deferredUs, def), where);
        assert.ok(close(r.totals.savedUs, base - def), where);
        for (const k of r.layerKinds) {
          for (const s of k.sites) {
            if (s.decision === 'defer') assert.ok(s.deferredUs <= s.keptUs + 1e-9, `${where}: ${s.name} deferred but slower`);
            if (s.decision === 'keep') assert.ok(s.deferredUs >= s.keptUs - 1e-9, `${where}: ${s.name} kept but faster deferred`);
          }
        }
      }
    }
  }
});

test('the layer count matches the model: 32 identical decoder layers in one run, then the head', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const r = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD);
  assert.deepEqual(
    r.layers.map((l) => ({ index: l.index, count: l.count, kind: l.kind })),
    [
      { index: 0, count: 32, kind: r.layerKinds[0]!.id },
      { index: 32, count: 1, kind: 'head' },
    ],
  );
});

// With free collectives a norm site still hides its local Σx² pass behind the matmul: about 1% of the layer.
test('the savings come from the collectives: with free collectives the norm sites save (almost) nothing', async () => {
  const spec = await loadFixture('Llama-2-7b-hf');
  const hw = getPreset('dimc');
  const free = applyOverrides(hw, ['collective.hopLatencyNs=0', 'collective.startLatencyNs=0', 'collective.bandwidthGBps=1e12']);
  const withCollectives = profile(spec, hw, DEFAULT_WORKLOAD);
  const without = profile(spec, free, DEFAULT_WORKLOAD);
  assert.ok(without.totals.collectiveShareBaselinePct < 0.01, `share ${without.totals.collectiveShareBaselinePct}`);
  const decoder = without.layerKinds.find((k) => k.id !== 'head')!;
  for (const site of decoder.sites.filter((s) => s.kind !== 'softmax')) {
    assert.ok(site.savedUs < 0.02 * decoder.baselineUs, `${site.name} saves ${site.savedUs} µs of ${decoder.baselineUs} with free collectives`);
  }
  // Softmax keeps one saving that is not about collectives: dividing d_head values per row instead of the context.
  assert.ok(without.totals.savedUs < 0.5 * withCollectives.totals.savedUs, `${without.totals.savedUs} vs ${withCollectives.totals.savedUs}`);
});

// A list scheduler is not monotone in every duration (Graham's anomalies): a longer gather can
// reorder a queue and shorten the baseline by a hair. Savings may dip by that much, never more.
const ANOMALY = 0.01;

test('slower collectives never lower the savings (beyond list-scheduling anomalies of 1% of latency)', async () => {
  for (const name of ['Llama-3.1-8B', 'Llama-2-7b-hf', 'Mixtral-8x7B-v0.1']) {
    const spec = await loadFixture(name);
    for (const preset of listPresets()) {
      const hw = getPreset(preset.name);
      const hop = Math.max(hw.collective.hopLatencyNs, 10);
      for (const phase of ['decode', 'prefill'] as const) {
        const w = { ...DEFAULT_WORKLOAD, phase, seq: 512 };
        let previous = -Infinity;
        for (const factor of [0, 0.5, 1, 2, 4, 8]) {
          const slower = applyOverrides(hw, [`collective.hopLatencyNs=${hop * factor}`]);
          const t = profile(spec, slower, w).totals;
          assert.ok(t.savedUs >= previous - ANOMALY * t.baselineUs, `${name} ${preset.name} ${phase}: ×${factor} hop latency saves ${t.savedUs} < ${previous}`);
          previous = Math.max(previous, t.savedUs);
        }
      }
    }
  }
});

// In decode, where a score row's gather is what the exact offset waits for. (In prefill on dimc the
// online rescale over d_head can cost more vector work than a short max gather: exact then wins.)
test('the exact Softmax offset never saves more than the online one in decode', async () => {
  for (const name of ['Llama-3.1-8B', 'Mistral-7B-v0.1', 'GPT-2', 'Qwen3-30B-A3B']) {
    const spec = await loadFixture(name);
    for (const preset of listPresets()) {
      const hw = getPreset(preset.name);
      for (const phase of ['decode'] as const) {
        for (const batch of [1, 8, 32, 128]) {
          const w = { ...DEFAULT_WORKLOAD, phase, batch, seq: 1024 };
          const exact = profile(spec, hw, { ...w, softmaxOffset: 'exact' }).totals;
          const online = profile(spec, hw, { ...w, softmaxOffset: 'online' }).totals;
          // Online pays one exp per row to rescale; where the max gather is nearly free that is all it differs by.
          assert.ok(exact.savedUs <= online.savedUs + 1e-4 * online.baselineUs, `${name} ${preset.name} ${phase} b${batch}: exact ${exact.savedUs} > online ${online.savedUs}`);
        }
      }
    }
  }
});

test('GPU preset: prefill saves more than decode (FlashNorm: the gain is in the compute-bound prefill)', async () => {
  const hw = getPreset('gpu-h100');
  for (const name of ['Llama-2-7b-hf', 'Llama-3.1-8B']) {
    const spec = await loadFixture(name);
    const prefill = profile(spec, hw, { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 2048 });
    const decode = profile(spec, hw, { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 1, context: 2048 });
    assert.ok(prefill.totals.savedUs > decode.totals.savedUs, `${name}: prefill saves ${prefill.totals.savedUs} µs, decode ${decode.totals.savedUs} µs`);
  }
});

// Salmani & Soloveychik (arXiv 2502.17728): collectives "slow down inference on Transformers by approximately
// 20%"; deferral gives "about 15–20%" lower latency on Llama-2 and Llama-3; the gather is completely hidden.
test("dimc: the fitted hop latency still gives the paper's 20% slowdown (a check of the fit, not of the model)", async () => {
  // collective.hopLatencyNs is FITTED (npm run calibrate) so that the mean slowdown of these two models is 20%.
  // This only says the fit is up to date with the cost model: re-run the calibration when it fails.
  let sum = 0;
  for (const name of ['Llama-2-7b-hf', 'Llama-3.1-8B']) {
    const t = profile(await loadFixture(name), getPreset('dimc'), DEFAULT_WORKLOAD).totals;
    sum += t.exposedCollectiveBaselineUs / (t.baselineUs - t.exposedCollectiveBaselineUs);
  }
  // The fit rounds the hop latency to whole ns: within one percentage point of 20%.
  assert.ok(Math.abs(sum / 2 - 0.2) < 0.01, `mean slowdown ${(50 * sum).toFixed(2)}%`);
});

test("dimc, not fitted: the papers' rewrite saves about 15–20% and hides the gather (Llama-2-7B; Llama-3.1-8B only deeper)", async () => {
  for (const name of ['Llama-2-7b-hf', 'Llama-3.1-8B']) {
    const spec = await loadFixture(name);
    const paper = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, deferDepth: 'linear' }).totals;
    // "about 15–20%": the paper's range, with "about" read as half a percentage point either side.
    assert.ok(paper.savedPct >= 14.5 && paper.savedPct <= 20.5, `${name}: saved ${paper.savedPct}%`);
    const deep = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD).totals;
    // "completely hidden": all of the collective time, to the rounding of a float.
    assert.ok(deep.hiddenCollectivePct > 99.9, `${name}: hidden ${deep.hiddenCollectivePct}% when deferred as deep as the algebra allows`);
    if (name === 'Llama-2-7b-hf') assert.ok(paper.hiddenCollectivePct > 99.9, `${name}: hidden ${paper.hiddenCollectivePct}% at the linear layer`);
  }
});

test('deferring deeper than the paper never loses, and hides more of the collectives on dimc', async () => {
  for (const name of ['Llama-2-7b-hf', 'Llama-3.1-8B', 't5-small']) {
    const spec = await loadFixture(name);
    const paper = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, deferDepth: 'linear' }).totals;
    const deep = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD).totals;
    assert.ok(deep.deferredUs <= paper.deferredUs + 1e-9, `${name}: ${deep.deferredUs} µs deep, ${paper.deferredUs} µs at the linear layer`);
    assert.ok(deep.hiddenCollectivePct >= paper.hiddenCollectivePct - 1e-9, name);
  }
});

test('a vocabulary-wide epilogue can lose: the lm_head site is kept when the vector engine is slow', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const slowVector = applyOverrides(getPreset('dimc'), ['vector.gelemsPerSec=5']);
  const r = profile(spec, slowVector, DEFAULT_WORKLOAD);
  const head = r.layerKinds.find((k) => k.id === 'head')!;
  const site = head.sites[0]!;
  assert.equal(site.decision, 'keep');
  assert.equal(site.savedUs, 0);
  assert.ok(site.deferredUs > site.keptUs);
  assert.match(site.reason, /kept/);
  assert.equal(head.deferredUs, head.baselineUs);
});

test('post-norm and sandwich norms are ineligible with a reason; their Softmax still defers', async () => {
  const bert = profile(await loadFixture('bert-base-uncased'), getPreset('dimc'), { ...DEFAULT_WORKLOAD, phase: 'prefill', seq: 128 });
  const sites = bert.layerKinds[0]!.sites;
  assert.ok(sites.filter((s) => s.kind === 'layernorm').every((s) => s.decision === 'ineligible' && /post-norm/.test(s.reason)));
  assert.equal(sites.find((s) => s.kind === 'softmax')!.decision, 'defer');
});

test('tensor parallelism adds all-reduces on the collective engine', async () => {
  const spec = await loadFixture('Llama-3.1-70B');
  const hw = getPreset('gpu-h100');
  const one = simulate(spec, hw, DEFAULT_WORKLOAD);
  const four = simulate(spec, hw, { ...DEFAULT_WORKLOAD, tp: 4 });
  const count = (s: typeof one) => s.kinds[0]!.baseline.graph.ops.filter((op) => op.category === 'allreduce').length;
  assert.equal(count(one), 0);
  assert.equal(count(four), 2);
});

test('identical layers are simulated once; different kinds each once', async () => {
  const llama = simulate(await loadFixture('Llama-3.1-8B'), getPreset('dimc'), DEFAULT_WORKLOAD);
  assert.deepEqual(llama.kinds.map((k) => k.id), ['decoder', 'head']);
  const deepseek = simulate(await loadFixture('DeepSeek-V3'), getPreset('dimc'), DEFAULT_WORKLOAD);
  assert.ok(deepseek.kinds.length >= 3, deepseek.kinds.map((k) => k.id).join(','));
});

test('an encoder-only model has no decode step: a clear error', async () => {
  const spec = await loadFixture('bert-base-uncased');
  assert.throws(() => profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD), /phase: expected prefill/);
});
