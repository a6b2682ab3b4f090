/**
 * Tests that catch wrong answers in src/core/report (issue 21): the whole-model totals (collective
 * share, hidden share) summed here from the layer kinds, the exports' contents (CSV columns, the
 * table's and Markdown's figures, the Chrome trace's times) on figures set by hand, and the numerics
 * verdict and table on results set by hand. Expected values are written out or computed here, never
 * read back from the function under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPreset } from '../../src/core/hardware/presets';
import { REPORT_FORMATS, formatCsv, formatMarkdown, formatTable, toChromeTrace } from '../../src/core/report/formats';
import { formatNumerics, numericsOptionsFor, numericsPass } from '../../src/core/report/numerics';
import { profile, reportOf } from '../../src/core/report/profile';
import type { LayerKindResult, Report } from '../../src/core/report/types';
import { simulate } from '../../src/core/sim/simulate';
import type { NumericsEntry, NumericsResult } from '../../src/core/numerics/types';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const DECODE: Workload = { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 8, context: 1024 };

test('totals: sums over the layer kinds, collective share and the hidden part of it, summed here', async () => {
  for (const [name, hw] of [['GPT-2', 'dimc'], ['Llama-3.2-1B-Instruct', 'gpu-h100'], ['Mixtral-8x7B-v0.1', 'dimc']] as const) {
    const r = profile(await loadFixture(name), getPreset(hw), DECODE);
    let base = 0;
    let def = 0;
    let exposedB = 0;
    let exposedD = 0;
    for (const k of r.layerKinds) {
      const n = k.layers.length;
      base += n * k.baselineUs;
      def += n * k.deferredUs;
      exposedB += n * k.exposedCollectiveBaselineUs;
      exposedD += n * k.exposedCollectiveDeferredUs;
    }
    const t = r.totals;
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${name} on ${hw}: ${what} ${a} vs ${b}`);
    close(t.baselineUs, base, 'baseline');
    close(t.deferredUs, def, 'deferred');
    close(t.savedUs, base - def, 'saved');
    close(t.savedPct, (100 * (base - def)) / base, 'saved %');
    close(t.exposedCollectiveBaselineUs, exposedB, 'exposed baseline');
    close(t.exposedCollectiveDeferredUs, exposedD, 'exposed deferred');
    close(t.collectiveShareBaselinePct, (100 * exposedB) / base, 'collective share');
    assert.ok(exposedB > 0, `${name} on ${hw}: the baseline waits on gathers`);
    close(t.hiddenCollectivePct, (100 * (exposedB - exposedD)) / exposedB, 'hidden');
    // On dimc deferral leaves part of the gathers exposed, so less than all of them is hidden.
    if (hw === 'dimc') assert.ok(exposedD > 0 && t.hiddenCollectivePct > 0 && t.hiddenCollectivePct < 100, `${name} on ${hw}: hidden ${t.hiddenCollectivePct}`);
    // Each kind's own figures: saved = baseline − deferred and its share.
    for (const k of r.layerKinds) {
      close(k.savedUs, k.baselineUs - k.deferredUs, `${k.id} saved`);
      close(k.savedPct, (100 * (k.baselineUs - k.deferredUs)) / k.baselineUs, `${k.id} saved %`);
    }
    // The runs of identical layers cover every layer once, in order.
    const covered = r.layers.flatMap((l) => Array.from({ length: l.count }, (_, i) => l.index + i));
    assert.deepEqual(covered, Array.from({ length: r.model.layers + 1 }, (_, i) => i), `${name}: runs cover layers 0…L (the head is L)`);
  }
});

/** A real report with figures replaced by hand-set ones, so each export's numbers are known here. */
async function handReport(): Promise<Report> {
  const r = profile(await loadFixture('GPT-2'), getPreset('dimc'), DECODE);
  const decoder: LayerKindResult = {
    ...r.layerKinds[0]!,
    id: 'decoder',
    label: 'MHA',
    layers: [0, 1, 2],
    baselineUs: 10,
    deferredUs: 7.5,
    savedUs: 2.5,
    savedPct: 25,
  };
  const head: LayerKindResult = { ...r.layerKinds[1]!, id: 'head', label: 'ln_f → lm_head', layers: [3], baselineUs: 4, deferredUs: 4, savedUs: 0, savedPct: 0 };
  const site = (name: string, decision: 'defer' | 'keep' | 'ineligible') => ({ name, kind: 'layernorm' as const, decision, reason: `${decision} reason`, savedUs: 0 });
  return {
    ...r,
    layerKinds: [decoder, head],
    layers: [
      { index: 0, count: 3, kind: 'decoder', baselineUs: 10, deferredUs: 7.5, savedUs: 2.5, sites: [site('ln_1 → c_attn', 'defer'), site('ln_2 → c_fc', 'defer'), site('post', 'ineligible')] },
      { index: 3, count: 1, kind: 'head', baselineUs: 4, deferredUs: 4.5, savedUs: -0.5, sites: [site('ln_f → lm_head', 'keep')] },
    ],
    totals: {
      baselineUs: 1234.5,
      deferredUs: 1000,
      savedUs: 234.5,
      savedPct: 19,
      collectiveShareBaselinePct: 40,
      hiddenCollectivePct: 25,
      exposedCollectiveBaselineUs: 493.8,
      exposedCollectiveDeferredUs: 370.35,
    },
  };
}

test('CSV: each column holds its own figure (hand-set layers)', async () => {
  const text = formatCsv(await handReport());
  assert.ok(text.endsWith('\n3,head,4.0000,4.5000,-0.5000,-12.500,,ln_f → lm_head,,1\n') && !text.endsWith('\n\n'), 'one line per row, each ended by a newline');
  const csv = text.trimEnd().split('\n').map((line) => line.split(','));
  assert.deepEqual(csv, [
    ['index', 'kind', 'baselineUs', 'deferredUs', 'savedUs', 'savedPct', 'deferredSites', 'keptSites', 'ineligibleSites', 'count'],
    // 2.5 of 10 µs saved = 25%; the two deferred sites joined by "; ".
    ['0', 'decoder', '10.0000', '7.5000', '2.5000', '25.000', 'ln_1 → c_attn; ln_2 → c_fc', '', 'post', '3'],
    // A negative saving: −0.5 of 4 µs = −12.5%.
    ['3', 'head', '4.0000', '4.5000', '-0.5000', '-12.500', '', 'ln_f → lm_head', '', '1'],
  ]);
  // A layer that takes no time: a saving of 0%, not 0/0.
  const r = await handReport();
  const idle = formatCsv({ ...r, layers: [{ ...r.layers[0]!, baselineUs: 0, deferredUs: 0, savedUs: 0 }] }).split('\n')[1]!.split(',');
  assert.equal(idle[5], '0');
});

test('table and Markdown: the kind rows, the whole-model row and the collective line (hand-set figures)', async () => {
  const r = await handReport();
  const table = formatTable(r);
  const lines = table.split('\n');
  const row = (start: string) => lines.find((l) => l.startsWith(start))?.split(/\s{2,}/);
  assert.deepEqual(row('decoder (MHA)'), ['decoder (MHA)', '0–2', '10.00', '7.50', '2.50', '25.0%']);
  assert.deepEqual(row('head (ln_f → lm_head)'), ['head (ln_f → lm_head)', '3', '4.00', '4.00', '0.00', '0.0%']);
  // Four layers (3 + the head); the totals as set.
  assert.deepEqual(row('whole model'), ['whole model', '4', '1,234.50', '1,000.00', '234.50', '19.0%']);
  assert.ok(lines.includes('Statistic collectives take 40.0% of the baseline latency; deferral hides 25.0% of that time.'));
  assert.ok(lines.includes(`Does the rewrite keep the numbers: deferred-norm verify ${r.model.source}`));
  const md = formatMarkdown(r).split('\n');
  assert.ok(md.includes('| whole model | 4 | 1,234.50 | 1,000.00 | 234.50 | 19.0% |'), 'the whole-model row in Markdown');
  assert.ok(md.includes('| decoder (MHA) | 0–2 | 10.00 | 7.50 | 2.50 | 25.0% |'));
  assert.ok(md.includes('Statistic collectives take 40.0% of the baseline latency; deferral hides 25.0% of that time.'));
  assert.ok(md.includes('| Layer kind | Layers | Baseline µs | Deferred µs | Saved µs | Saved |'));
  assert.ok(md.includes('| :--- | :--- | ---: | ---: | ---: | ---: |'), 'figures right-aligned');
  assert.equal(md.includes('## Numerics'), false, 'no numerics section without a check');
});

function entry(over: Partial<NumericsEntry>): NumericsEntry {
  return {
    site: 'RMSNorm → Linear',
    siteKind: 'rmsnorm-linear',
    dtype: 'bf16',
    baselineMaxRelErr: 1e-3,
    baselineMeanRelErr: 1e-4,
    deferredMaxRelErr: 2e-3,
    deferredMeanRelErr: 5e-4,
    withinBaseline: true,
    ...over,
  };
}

function result(entries: NumericsEntry[], fold: NumericsResult['layerNormFold'] = null): NumericsResult {
  return {
    entries,
    overflow: [],
    layerNormFold: fold,
    tolerance: 4,
    seed: 3,
    shape: { hidden: 512, outFeatures: 64, multiOut: [64, 16, 16], headDim: 128, context: 256, rows: 4 },
    accumulate: 'fp32',
  };
}

test('numericsPass: false when any entry is outside its baseline or the LayerNorm fold is wrong', () => {
  const good = entry({});
  const bad = entry({ dtype: 'fp16', withinBaseline: false });
  assert.equal(numericsPass(result([good, good])), true);
  assert.equal(numericsPass(result([])), true, 'nothing checked: nothing failed');
  assert.equal(numericsPass(result([good, bad])), false);
  assert.equal(numericsPass(result([bad, good])), false);
  assert.equal(numericsPass(result([good], { maxAbsErr: 1, maxRelErr: 1, ok: false })), false);
  assert.equal(numericsPass(result([good], { maxAbsErr: 0, maxRelErr: 1e-16, ok: true })), true);
  assert.equal(numericsPass(result([bad], { maxAbsErr: 0, maxRelErr: 1e-16, ok: true })), false);
});

test('formatNumerics: the figures in scientific notation, the verdict per entry and overall', () => {
  const failing = result([entry({}), entry({ site: 'Softmax → ·V', siteKind: 'softmax-v', dtype: 'fp16', offset: 'bound', deferredMaxRelErr: 0.5, withinBaseline: false })], {
    maxAbsErr: 0,
    maxRelErr: 0,
    ok: false,
  });
  const text = formatNumerics(failing, 'Tiny');
  const lines = text.split('\n');
  assert.equal(lines[0], 'Numerics of the rewrite for Tiny: baseline and deferred forms against a float64 reference');
  assert.equal(lines[1], '(seed 3; tensors 4 rows × hidden 512, outputs 64, head_dim 128, context 256; accumulation fp32).');
  assert.equal(lines[2], '"Within" means the deferred form\'s max relative error is at most 4× the baseline\'s own.');
  const row = (start: string) => lines.find((l) => l.startsWith(start))?.split(/\s{2,}/);
  assert.deepEqual(row('RMSNorm → Linear'), ['RMSNorm → Linear', 'bf16', '1.00e-3', '2.00e-3', '5.00e-4', 'yes']);
  assert.deepEqual(row('Softmax → ·V'), ['Softmax → ·V', 'fp16', 'bound', '1.00e-3', '5.00e-1', '5.00e-4', 'NO']);
  assert.ok(text.includes('max relative error 0 (WRONG)'), 'a wrong fold says so');
  assert.equal(lines.at(-2), 'Some deferred form is worse than its baseline beyond the tolerance.');
  const passing = formatNumerics(result([entry({})], { maxAbsErr: 0, maxRelErr: 1.5e-17, ok: true }), 'Tiny');
  assert.ok(passing.includes('max relative error 1.50e-17 (ok)'));
  assert.ok(passing.endsWith('Every deferred form is within its baseline.\n'));
  const overflow = formatNumerics({ ...result([]), overflow: [{ dtype: 'fp16', maxLogit: 24, offset: 'none', overflowed: true, note: 'c = 0' }, { dtype: 'bf16', maxLogit: 24, offset: 'exact', overflowed: false, note: 'fits' }] }, 'Tiny');
  assert.ok(overflow.includes('  fp16, max logit 24, offset none: overflows. c = 0'));
  assert.ok(overflow.includes('  bf16, max logit 24, offset exact: finite. fits'));
  assert.ok(!formatNumerics(result([]), 'Tiny').includes('Softmax offset and overflow'), 'no overflow cases: no section');
});

test('Markdown numerics section: one row per entry with its figures', async () => {
  const r = { ...(await handReport()), numerics: result([entry({}), entry({ dtype: 'fp16', offset: 'online', withinBaseline: false, deferredMaxRelErr: 3e-2 })]) };
  const md = formatMarkdown(r).split('\n');
  assert.ok(md.includes('## Numerics'));
  assert.ok(md.includes('| RMSNorm → Linear | bf16 |  | 1.00e-3 | 2.00e-3 | 5.00e-4 | yes |'));
  assert.ok(md.includes('| RMSNorm → Linear | fp16 | online | 1.00e-3 | 3.00e-2 | 5.00e-4 | no |'));
  assert.ok(md.some((l) => l.includes('(seed 3, accumulation fp32)') && l.includes('at most 4× the baseline')));
});

test('numerics options: the model\'s norm kind, bias and sizes', async () => {
  const llama = numericsOptionsFor(await loadFixture('Llama-3.1-8B'), 5, 3);
  assert.equal(llama.normKind, 'rmsnorm');
  assert.equal(llama.linearBias, false);
  assert.equal(llama.seed, 5);
  assert.equal(llama.tolerance, 3);
  assert.deepEqual(llama.dtypes, ['fp32', 'bf16', 'fp16']);
  assert.equal(llama.accumulate, 'fp32');
  // 4096 hidden → 512; FFN 14336 → 64 outputs; q 32 × 128 and kv 8 × 128 → 64 and 16.
  assert.deepEqual(llama.shape, { hidden: 512, outFeatures: 64, multiOut: [64, 16, 16], headDim: 128, context: 256, rows: 4 });
  const gpt2 = numericsOptionsFor(await loadFixture('GPT-2'));
  assert.equal(gpt2.normKind, 'layernorm');
  // GPT-2's Conv1D projections carry a bias.
  assert.equal(gpt2.linearBias, true);
  assert.equal(gpt2.seed, 1);
  assert.equal(gpt2.tolerance, 4);
  assert.equal(numericsOptionsFor(await loadFixture('Qwen2-7B-Instruct')).linearBias, true);
});

test('Chrome trace: every op of both schedules at its simulated time, layer kinds one after the other', async () => {
  const spec = await loadFixture('GPT-2');
  const hw = getPreset('dimc');
  const sim = simulate(spec, hw, DECODE);
  const trace = JSON.parse(toChromeTrace(reportOf(spec, hw, DECODE, sim), sim)) as { traceEvents: { name: string; ph: string; pid: number; tid: number; ts?: number; dur?: number; args?: Record<string, unknown> }[]; displayTimeUnit: string };
  assert.equal(trace.displayTimeUnit, 'ns');
  const ops = trace.traceEvents.filter((e) => e.ph === 'X');
  const expected = sim.kinds.reduce((n, k) => n + k.baseline.graph.ops.length + k.deferred.graph.ops.length, 0);
  assert.equal(ops.length, expected);
  for (const [pid, pick] of [[1, 'baseline'], [2, 'deferred']] as const) {
    const mine = ops.filter((e) => e.pid === pid);
    let offset = 0;
    let i = 0;
    for (const k of sim.kinds) {
      const run = k[pick];
      run.graph.ops.forEach((op, j) => {
        const e = mine[i++]!;
        assert.equal(e.name, op.name);
        assert.ok(Math.abs(e.ts! - (offset + run.timeline.start[j]! / 1000)) < 1e-9, `${pick} ${op.name} start`);
        assert.ok(Math.abs(e.dur! - (run.timeline.end[j]! - run.timeline.start[j]!) / 1000) < 1e-9, `${pick} ${op.name} duration`);
        assert.equal(e.args!['layerKind'], k.id);
        assert.equal(e.args!['site'], op.site ?? undefined, `${op.name}: its site, when it has one`);
      });
      // The next kind starts 1 µs after this one's makespan.
      offset += run.timeline.makespanNs / 1000 + 1;
    }
  }
  // Nothing else: a name for each of the 2 processes and 4 engine threads per process, then the ops.
  assert.equal(trace.traceEvents.length, 2 + 2 * 4 + expected);
  const other = (JSON.parse(toChromeTrace(reportOf(spec, hw, DECODE, sim), sim)) as { otherData: { estimate: string; model: string; workload: { batch: number } } }).otherData;
  assert.equal(other.model, 'GPT-2');
  assert.match(other.estimate, /^Simulated estimate/);
  assert.equal(other.workload.batch, DECODE.batch);
  const meta = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => [e.pid, (e.args as { name: string }).name]);
  assert.deepEqual(meta, [[1, 'baseline (simulated, dimc)'], [2, 'deferred (simulated, dimc)']]);
  // One thread per engine, named by the engine its ops run on.
  const threads = new Map(trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === 1).map((e) => [e.tid, (e.args as { name: string }).name]));
  for (const e of ops.slice(0, 50)) {
    const op = sim.kinds.flatMap((k) => k.baseline.graph.ops).find((o) => o.name === e.name)!;
    assert.equal(threads.get(e.tid), op.engine, e.name);
  }
});

test('the export formats the CLI and the panel offer', () => {
  // As README.md lists them for `profile --format`.
  assert.deepEqual(REPORT_FORMATS, ['table', 'json', 'csv', 'md', 'trace', 'html']);
});
