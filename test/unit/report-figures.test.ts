/**
 * The headline's figures: the saving in parts that add up (report/saving.ts), time to first token,
 * time per output token and tokens/s (report/end-to-end.ts), and the one duration format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { savingLine } from '../../src/core/report/figures';
import { profile } from '../../src/core/report/profile';
import { duration, tokenRate } from '../../src/core/report/text';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const W: Workload = { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 8, context: 4096, seq: 512 };
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

const MACHINES: [string, string[]][] = [
  ['dimc', []],
  ['gpu-h100', []],
  ['gpu-h100', ['kernels.norm=eager', 'kernels.attention=eager']],
  ['gpu-a100', ['kernels.norm=eager']],
  ['tpu-v5e', []],
];

test('the saving’s parts add up to the saving, and the collective part is collective share × hidden', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  for (const [name, sets] of MACHINES) {
    for (const w of [W, { ...W, tp: 4 }, { ...W, phase: 'prefill' as const }]) {
      const r = profile(spec, applyOverrides(getPreset(name), sets), w);
      const p = r.savingParts;
      const where = `${name} ${sets.join(' ')} ${w.phase} tp ${w.tp}`;
      close(p.collectiveUs + p.startsUs + p.workUs, r.totals.savedUs, `${where}: parts sum`);
      // The arithmetic: share × hidden is the collective part's share of the baseline.
      const t = r.totals;
      close((100 * p.collectiveUs) / t.baselineUs, (t.collectiveShareBaselinePct * t.hiddenCollectivePct) / 100, `${where}: collective part`);
    }
  }
});

test('each part measures what it names: free gathers leave no collective part, free kernel starts no starts part', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  let sameGraphs = 0;
  for (const [name, sets] of MACHINES) {
    const hw = applyOverrides(getPreset(name), sets);
    const baseReport = profile(spec, hw, W);
    const freeReport = profile(spec, applyOverrides(hw, ['collective.startLatencyNs=0', 'collective.hopLatencyNs=0', 'collective.bandwidthGBps=1000000000']), W);
    const [base, freeNet] = [baseReport.savingParts, freeReport.savingParts];
    assert.ok(Math.abs(freeNet.collectiveUs) < 1e-3, `${name}: ${freeNet.collectiveUs} µs of collective with a free network`);
    // The other parts are measured with the gathers free already: where the free network leaves every
    // site's decision and depth as they were (the same graphs), its cost cannot move them.
    const choices = (r: typeof baseReport) => JSON.stringify(r.layerKinds.map((k) => k.sites.map((x) => [x.decision, x.depth])));
    if (choices(freeReport) === choices(baseReport)) {
      sameGraphs++;
      close(freeNet.startsUs, base.startsUs, `${name}: starts`);
      close(freeNet.workUs, base.workUs, `${name}: work`);
    }
    const noStarts = profile(spec, applyOverrides(hw, ['matrix.startLatencyNs=0', 'vector.startLatencyNs=0', 'kernels.graphKernelNs=0']), W).savingParts;
    assert.equal(noStarts.startsUs, 0, `${name}: no start cost, no starts part`);
  }
  assert.ok(sameGraphs >= 3, `only ${sameGraphs} machines kept their decisions with a free network`);
  // On an H100 with eager norms and attention, the gathers hide nothing and the saving is kernels and work (issue 20's "hidden 0.0% yet saved 2.8%").
  const eager = profile(spec, applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager', 'kernels.attention=eager']), W);
  assert.ok(eager.totals.savedUs > 0);
  assert.ok(eager.savingParts.startsUs + eager.savingParts.workUs > 0);
  assert.match(savingLine(eager), /^Saved \d+\.\d% \(.+\) = collective hidden .+ \+ kernel starts removed .+ \+ vector and memory work removed .+\.$/);
});

test('TTFT is a prefill pass of the prompt, TPOT a decode step at the context, tokens/s = batch / TPOT', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const hw = getPreset('gpu-h100');
  const dec = profile(spec, hw, W);
  const pre = profile(spec, hw, { ...W, phase: 'prefill' });
  for (const r of [dec, pre]) {
    const e = r.endToEnd;
    assert.ok(e.ttft && e.tpot && e.tokensPerSecond);
    assert.deepEqual(e.ttft, { baselineUs: pre.totals.baselineUs, deferredUs: pre.totals.deferredUs });
    assert.deepEqual(e.tpot, { baselineUs: dec.totals.baselineUs, deferredUs: dec.totals.deferredUs });
    close(e.tokensPerSecond.baseline, 8 / (dec.totals.baselineUs / 1e6), 'tokens/s baseline');
    close(e.tokensPerSecond.deferred, 8 / (dec.totals.deferredUs / 1e6), 'tokens/s deferred');
    assert.deepEqual(e.notes, []);
  }
  // A prefill of 512 tokens does more work than one decode step.
  assert.ok(dec.endToEnd.ttft!.baselineUs > dec.endToEnd.tpot!.baselineUs);
});

test('an encoder-only model has no decode step: no TPOT or tokens/s, and the report says why', async () => {
  const spec = await loadFixture('bert-base-uncased');
  const r = profile(spec, getPreset('gpu-h100'), { ...W, phase: 'prefill' });
  assert.deepEqual(r.endToEnd.ttft, { baselineUs: r.totals.baselineUs, deferredUs: r.totals.deferredUs });
  assert.equal(r.endToEnd.tpot, null);
  assert.equal(r.endToEnd.tokensPerSecond, null);
  assert.match(r.endToEnd.notes.join(' '), /encoder-only model has no decode step/);
});

test('durations scale their unit: µs, then ms, then s; never 12,227,636.5 µs', () => {
  assert.equal(duration(0.42), '0.4 µs');
  assert.equal(duration(424.31), '424.3 µs');
  assert.equal(duration(999.94), '999.9 µs');
  assert.equal(duration(999.96), '1.00 ms');
  assert.equal(duration(11_870.18), '11.87 ms');
  assert.equal(duration(12_227_636.5), '12.23 s');
  assert.equal(duration(114_693_785.96), '114.69 s');
  assert.equal(duration(-1500), '−1.50 ms');
  assert.equal(tokenRate(2695.83), '2,696 tokens/s');
  assert.equal(tokenRate(79.547), '79.5 tokens/s');
});
