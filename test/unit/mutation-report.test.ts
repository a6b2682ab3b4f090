/**
 * Tests that catch wrong answers in src/core/report (issue 21): the whole-model totals (collective
 * share, hidden share) summed here from the layer kinds, the exports' contents (CSV columns, the
 * table's and Markdown's figures, the Chrome trace's times) on figures set by hand, and the numerics
 * verdict and table on results set by hand; the text helpers, headline, chat answer, sweep, comparisons,
 * timelines and end-to-end figures, on hand-set values or against a second simulation of the same
 * point (profile() at a sweep point's own workload). Expected values are written out or computed here, never
 * read back from the function under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPreset } from '../../src/core/hardware/presets';
import { REPORT_FORMATS, formatCsv, formatMarkdown, formatTable, toChromeTrace } from '../../src/core/report/formats';
import { formatNumerics, numericsOptionsFor, numericsPass } from '../../src/core/report/numerics';
import { profile, reportOf, shownSpec } from '../../src/core/report/profile';
import type { LayerKindResult, Report } from '../../src/core/report/types';
import { engineBusyNs, simulate } from '../../src/core/sim/simulate';
import type { NumericsEntry, NumericsResult } from '../../src/core/numerics/types';
import { checkWorkloadForModel, DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';
import { InputError } from '../../src/core/errors';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { chatParts, headlineFigures, headlineSentence, profileChecked, provenanceCounts, provenanceLine } from '../../src/core/report/brief';
import { compareHardware, formatComparisonMarkdown, formatRunsMarkdown, workloadVariants } from '../../src/core/report/compare';
import { endToEndOf } from '../../src/core/report/end-to-end';
import { fullReport } from '../../src/core/report/full';
import { activationBytes, kvBytesPerToken, kvCacheBytes, memoryOf, minimumTpOf, paramsPerDevice } from '../../src/core/report/memory';
import type { ModelSpec } from '../../src/core/model/spec';
import { timelinesOf } from '../../src/core/report/timeline';
import { endToEndLine, memoryLine, savingLine, savingPartsPct } from '../../src/core/report/figures';
import { workloadLine } from '../../src/core/report/formats';
import { evaluateSweep, formatSweep, planSweep, runSweep, sweepSize, type SweepPoint } from '../../src/core/report/sweep';
import { statedWorkload, tpLine, tpRequested, tpText } from '../../src/core/report/tensor-parallel';
import { byteCount, count, csvField, duration, markdownTable, num, percent, ranges, table, tokenRate } from '../../src/core/report/text';
import { pct, totalsOf } from '../../src/core/report/totals';
import type { Totals } from '../../src/core/report/types';

const DECODE: Workload = { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 8, context: 1024 };

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

// The pure views and helpers first: a mutant there fails here, before the tests that simulate.

test('text helpers: numbers, units, counts, ranges and cells, written out by hand', () => {
  assert.equal(num(1_234_567.891), '1,234,567.89');
  assert.equal(num(999, 0), '999');
  assert.equal(num(1000, 0), '1,000');
  assert.equal(num(-0.25, 1), '−0.3'.replace('0.3', (0.25).toFixed(1)), 'the sign in front, the digits of |value|');
  assert.equal(num(-1234.5), '−1,234.50');
  assert.equal(num(0, 0), '0', 'no decimals: no point');
  assert.equal(num(Infinity), 'Infinity');
  assert.equal(num(NaN), 'NaN');
  assert.equal(num(-Infinity), '-Infinity', 'as JavaScript writes it, not with the minus sign of finite numbers');
  assert.equal(percent(12.345), '12.3%');
  assert.equal(percent(5, 0), '5%');
  assert.equal(tokenRate(100), '100 tokens/s', 'whole tokens from 100 up');
  assert.equal(tokenRate(99.94), '99.9 tokens/s');
  // The duration's thresholds: 999,995 µs would round to 1,000.00 ms, so it is 1.00 s.
  assert.equal(duration(999_994), '999.99 ms');
  assert.equal(duration(999_995), '1.00 s');
  assert.equal(duration(-2_000_000), '−2.00 s');
  assert.equal(duration(-999.96), '−1.00 ms');
  // 999.95 µs would print as 1,000.0 µs: from there it is in ms.
  assert.equal(duration(999.95), '1.00 ms');
  assert.equal(duration(999.94), '999.9 µs');
  // 128 KiB = 131,072 B; three digits before the point: no decimal.
  assert.equal(byteCount(131_072, 1024), '128 KiB');
  assert.equal(byteCount(1500, 1000), '1.5 KB');
  assert.equal(byteCount(1023, 1024), '1,023 B');
  assert.equal(byteCount(1024, 1024), '1.0 KiB');
  assert.equal(byteCount(999, 1000), '999 B');
  assert.equal(byteCount(1000, 1000), '1.0 KB');
  assert.equal(byteCount(80e9, 1000), '80.0 GB');
  assert.equal(byteCount(3 * 1024 ** 3, 1024), '3.0 GiB');
  assert.equal(byteCount(2.5e12, 1000), '2.5 TB');
  // Past the largest unit the count stays in it.
  assert.equal(byteCount(5e15, 1000), '5,000 TB');
  assert.equal(byteCount(2 * 1024 ** 4, 1024), '2.0 TiB');
  // From 100 of a unit up, no decimal: 100 KiB = 102,400 B.
  assert.equal(byteCount(102_400, 1024), '100 KiB');
  assert.equal(byteCount(99_999, 1000), '100.0 KB', 'just under 100 KB: one decimal, which rounds up');
  assert.equal(count(8_030_261_248), '8.03 B');
  assert.equal(count(1e12), '1.00 T');
  assert.equal(count(1e9), '1.00 B');
  assert.equal(count(1e6), '1.0 M');
  assert.equal(count(999_999), '999,999');
  assert.equal(count(1_500_000), '1.5 M');
  assert.equal(ranges([5, 0, 2, 1]), '0–2, 5');
  assert.equal(ranges([10, 9, 2]), '2, 9–10', 'sorted as numbers, not as text');
  assert.equal(ranges([0, 1, 3, 4, 5, 7]), '0–1, 3–5, 7');
  assert.equal(ranges([3]), '3');
  assert.equal(ranges([]), '');
  // Widths: column 1 is 3 wide ("xxx"), column 2 is 2 ("bb", "22"); two spaces between; no trailing space.
  assert.equal(table(['a', 'bb'], [['xxx', '1'], ['y', '22']], ['left', 'right']), 'a    bb\n───  ──\nxxx   1\ny    22');
  assert.equal(table(['a', 'b'], [['x', 'long']], ['left', 'left']), 'a  b\n─  ────\nx  long');
  // Cells are escaped; the alignment row is not.
  assert.equal(markdownTable(['A|', 'B'], [['x|y', '1']], ['left', 'right']), '| A&#124; | B |\n| :--- | ---: |\n| x&#124;y | 1 |');
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField(3.5), '3.5');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('a\nb'), 'a b', 'a line break never splits a row');
});

test('tensor-parallel texts: the degree as given, as chosen, and whether a choice still holds', () => {
  assert.equal(tpText({ tp: 8 }), 'TP 8');
  assert.equal(tpText({ tp: 16, tpChosen: 'smallest-that-fits' }), 'TP 16, the smallest that fits');
  assert.equal(tpText({ tp: 1, tpChosen: 'fits-at-none' }), 'TP 1, fits at no TP');
  assert.equal(tpLine({ tp: 'auto' }), 'tp auto');
  assert.equal(tpLine({ tp: 8 }), 'tp 8');
  assert.equal(tpLine({ tp: 16, tpChosen: 'smallest-that-fits' }), 'tp 16 (auto: the smallest that fits)');
  assert.equal(tpLine({ tp: 1, tpChosen: 'fits-at-none' }), 'tp 1 (auto: fits at no TP)');
  assert.equal(tpRequested({ tp: 4 }), 4);
  assert.equal(tpRequested({ tp: 4, tpChosen: 'smallest-that-fits' }), 'auto');
  const chosen: Workload = { ...DECODE, tp: 16, tpChosen: 'smallest-that-fits' };
  assert.equal(statedWorkload(chosen, 16), chosen, 'still the smallest that fits: kept as it is');
  assert.deepEqual(statedWorkload(chosen, 8), { ...DECODE, tp: 16 }, 'no longer the smallest: a plain degree');
  assert.deepEqual(statedWorkload(chosen, null), { ...DECODE, tp: 16 });
  const none: Workload = { ...DECODE, tp: 1, tpChosen: 'fits-at-none' };
  assert.equal(statedWorkload(none, null), none);
  assert.deepEqual(statedWorkload(none, 4), { ...DECODE, tp: 1 }, 'some degree fits after all');
  const doubled: Workload = { ...DECODE, tp: 2, tpChosen: 'fits-at-none' };
  assert.deepEqual(statedWorkload(doubled, null), { ...DECODE, tp: 2 }, 'a degree changed after resolving');
  const plain: Workload = { ...DECODE, tp: 2 };
  assert.equal(statedWorkload(plain, 8), plain);
});

test('totalsOf: sums, shares and the hidden share kept within 0…100 (hand-set kinds)', () => {
  const kind = (layers: number, baselineUs: number, deferredUs: number, exposedCollectiveBaselineUs: number, exposedCollectiveDeferredUs: number) => ({
    layers: Array.from({ length: layers }, (_, i) => i),
    baselineUs,
    deferredUs,
    exposedCollectiveBaselineUs,
    exposedCollectiveDeferredUs,
  });
  // 3 × 10 + 1 × 20 = 50 µs baseline; 3 × 8 + 1 × 20 = 44 deferred; exposed 3 × 2 + 1 × 4 = 10 → 3 × 1 + 1 × 2 = 5.
  assert.deepEqual(totalsOf([kind(3, 10, 8, 2, 1), kind(1, 20, 20, 4, 2)]), {
    baselineUs: 50,
    deferredUs: 44,
    savedUs: 6,
    savedPct: 12,
    collectiveShareBaselinePct: 20,
    hiddenCollectivePct: 50,
    exposedCollectiveBaselineUs: 10,
    exposedCollectiveDeferredUs: 5,
  });
  // Deferral exposing more than the baseline did: hidden is 0, not negative.
  assert.equal(totalsOf([kind(1, 10, 12, 1, 3)]).hiddenCollectivePct, 0);
  // No exposed gathers: nothing to hide, 0 (not 0/0).
  assert.equal(totalsOf([kind(2, 10, 9, 0, 0)]).hiddenCollectivePct, 0);
  // A negative exposure (never simulated, but the clamp's upper side): at most 100.
  assert.equal(totalsOf([kind(1, 10, 9, 2, -1)]).hiddenCollectivePct, 100);
  const empty = totalsOf([]);
  assert.equal(empty.savedPct, 0, 'no time: a saving of 0%');
  assert.equal(empty.collectiveShareBaselinePct, 0);
  assert.equal(pct(1, 4), 25);
  assert.equal(pct(1, 0), 0);
  assert.equal(pct(1, -4), 0, 'a whole of zero or less has no share');
});

test('headline, provenance and the chat answer (hand-set report)', async () => {
  const r = await handReport();
  assert.deepEqual(headlineFigures(r), { baseline: '1,234.50 µs', deferred: '1,000.00 µs', saved: '234.50 µs', savedPct: '19.0%' });
  assert.equal(headlineSentence(r), `Deferring the norms of GPT-2 saves 234.50 µs of 1,234.50 µs (19.0%) per pass on dimc: 1,000.00 µs instead of 1,234.50 µs (simulated estimate; ${workloadLine(r.workload)}).`);
  // Kinds by the first word of each source, most first, ties by name; a text without a leading word is "other".
  assert.equal(provenanceCounts({ a: 'datasheet: x', b: 'Datasheet y', c: 'assumption: z', d: '— no word', e: 'measured', f: 'calibrated' }), '2 datasheet, 1 assumption, 1 calibrated, 1 measured, 1 other');
  assert.equal(provenanceCounts({}), '');
  const hardware = { ...r.hardware, name: 'm', title: 'T', provenance: { x: 'datasheet', y: 'assumption: why' }, sources: [{ ...r.hardware.sources[0]!, id: 'a' }, { ...r.hardware.sources[0]!, id: 'b' }] };
  const cited = { ...r, hardware };
  assert.equal(provenanceLine(cited, 'preset'), `Hardware: m ("T", preset); its 2 numbers by source: 1 assumption, 1 datasheet (cited: a, b). ${r.estimate}`);
  assert.equal(provenanceLine({ ...r, hardware: { ...hardware, sources: [] } }, 'file x.json'), `Hardware: m ("T", file x.json); its 2 numbers by source: 1 assumption, 1 datasheet. ${r.estimate}`);
  const parts = chatParts({ ...cited, model: { ...r.model, params: { total: 8_030_261_248, active: 1_500_000 }, notes: ['first note', 'second note'] } }, 'preset');
  assert.equal(parts.length, 4, 'the headline, one site table per kind (decoder, head), provenance');
  const headline = parts[0]!.split('\n');
  assert.equal(headline[0], `**${headlineSentence(r).replace(' on dimc: ', ' on m: ')}**`);
  assert.equal(headline[1], '');
  assert.equal(headline[2], `- Model: GPT-2 (${r.model.family}, ${r.model.layers} layers, hidden ${r.model.hidden}, 8.03 B params, 1.5 M active; ${r.model.source})`);
  assert.equal(headline[3], '- Whole model: baseline 1,234.50 µs, deferred 1,000.00 µs, saved 234.50 µs (19.0%)');
  assert.equal(headline[4], '- Statistic collectives take 40.0% of the baseline latency; deferral hides 25.0% of that time.');
  assert.deepEqual(headline.slice(5), ['- Note: first note', '- Note: second note']);
  assert.ok(parts[1]!.startsWith('Sites in each decoder layer (MHA, 3 of them), µs per layer:\n\n| '), parts[1]);
  assert.ok(parts[2]!.startsWith('Sites in the head, µs per layer:\n\n| '), parts[2]);
  assert.equal(parts[3], provenanceLine(cited, 'preset'));
  // Every parameter active and no notes: neither is said.
  const plain = chatParts({ ...r, model: { ...r.model, params: { total: 124_439_808, active: 124_439_808 }, notes: [] } }, 'preset')[0]!.split('\n');
  assert.ok(plain[2]!.includes(', 124.4 M params; '), plain[2]);
  assert.equal(plain.length, 5);
});

test('figures in words: the saving line, the end-to-end line and the memory line (hand-set report)', async () => {
  const r = await handReport();
  // Parts of a 1,234.5 µs baseline: 123.45 µs = 10%, −12.345 µs = −1%, 123.4 µs ≈ 9.996%.
  const withParts = { ...r, savingParts: { collectiveUs: 123.45, startsUs: -12.345, workUs: 123.4 } };
  assert.deepEqual(
    savingPartsPct(withParts).map((p) => [p.key, p.label, p.us, Math.round(p.pct * 1e9) / 1e9]),
    [
      ['collectivePart', 'Collective hidden', 123.45, 10],
      ['startsPart', 'Kernel starts removed', -12.345, -1],
      ['workPart', 'Vector and memory work removed', 123.4, Math.round(((100 * 123.4) / 1234.5) * 1e9) / 1e9],
    ],
  );
  assert.equal(savingLine(withParts), 'Saved 19.0% (234.5 µs) = collective hidden 10.0% (123.5 µs) + kernel starts removed −1.0% (−12.3 µs) + vector and memory work removed 10.0% (123.4 µs).');
  assert.deepEqual(savingPartsPct({ ...withParts, totals: { ...r.totals, baselineUs: 0 } }).map((p) => p.pct), [0, 0, 0], 'no baseline: no shares');
  const e2e = { ...r, endToEnd: { ttft: { baselineUs: 2_180_000, deferredUs: 2_160_000 }, tpot: { baselineUs: 11_870, deferredUs: 11_500 }, tokensPerSecond: { baseline: 2695.83, deferred: 79.55 }, notes: ['A note.'] } };
  assert.equal(endToEndLine(e2e), 'End to end (baseline → deferred): time to first token 2.18 s → 2.16 s; time per output token 11.87 ms → 11.50 ms; 2,696 tokens/s → 79.5 tokens/s. A note.');
  assert.equal(endToEndLine({ ...r, endToEnd: { ttft: { baselineUs: 500, deferredUs: 400 }, tpot: null, tokensPerSecond: null, notes: [] } }), 'End to end (baseline → deferred): time to first token 500.0 µs → 400.0 µs.');
  assert.equal(endToEndLine({ ...r, endToEnd: { ttft: null, tpot: null, tokensPerSecond: null, notes: ['Only why.'] } }), 'Only why.');
  const memory = {
    perDevice: { weightBytes: 16.1e9, kvBytes: 8.6e9, activationBytes: 8.2e6, totalBytes: 24.7082e9 },
    tiers: [
      { tier: 'hbm3', holds: ['weights' as const, 'kv' as const], usedBytes: 24.7e9, capacityBytes: 80e9, fits: true },
      { tier: 'sram', holds: ['activations' as const], usedBytes: 3e9, capacityBytes: 2e9, fits: false },
    ],
    fits: false,
    minimumTp: 4,
    warnings: [],
  };
  assert.equal(memoryLine({ ...r, memory, workload: { ...r.workload, tp: 1 } }), 'Memory per device: 24.7 GB (weights 16.1 GB, KV cache 8.6 GB, activations 8.2 MB); hbm3 24.7 GB of 80.0 GB, sram 3.0 GB of 2.0 GB (over): does not fit; smallest tensor-parallel degree that fits: 4.');
  assert.ok(memoryLine({ ...r, memory: { ...memory, fits: true }, workload: { ...r.workload, tp: 4 } }).endsWith(': fits.'), 'at the smallest degree: not said again');
  assert.ok(memoryLine({ ...r, memory: { ...memory, minimumTp: null }, workload: { ...r.workload, tp: 1 } }).endsWith(': does not fit.'));
});

test('sweep text: the lines above the table and each cell (hand-set points)', () => {
  const totals = { baselineUs: 1234.5, deferredUs: 1000, savedUs: 234.5, savedPct: 19, collectiveShareBaselinePct: 40, hiddenCollectivePct: 25, exposedCollectiveBaselineUs: 1, exposedCollectiveDeferredUs: 1 };
  const points: SweepPoint[] = [
    { phase: 'decode', seq: 128, batch: 1, context: 256, tp: 1, set: { 'collective.hopLatencyNs': '0' }, ...totals },
    { phase: 'decode', seq: 128, batch: 16, context: 256, tp: 2, set: { 'collective.hopLatencyNs': '100' }, ...totals, savedPct: 5.55 },
  ];
  const hw = getPreset('dimc');
  const lines = formatSweep(points, hw, DECODE).split('\n');
  assert.equal(lines[0], 'Sweep of 2 points, decode, on "dimc": simulated estimates, not measurements.');
  assert.equal(lines[1], '(context is the cached length; seq is unused)');
  assert.equal(lines[2], '');
  assert.deepEqual(lines[3]!.trim().split(/\s{2,}/), ['seq', 'batch', 'context', 'tp', 'collective.hopLatencyNs', 'Baseline µs', 'Deferred µs', 'Saved', 'Collectives', 'Hidden']);
  assert.deepEqual(lines[5]!.trim().split(/\s+/), ['128', '1', '256', '1', '0', '1,234.50', '1,000.00', '19.0%', '40.0%', '25.0%']);
  assert.deepEqual(lines[6]!.trim().split(/\s+/), ['128', '16', '256', '2', '100', '1,234.50', '1,000.00', '5.5%', '40.0%', '25.0%'].map((c, i) => (i === 7 ? `${(5.55).toFixed(1)}%` : c)));
  assert.equal(lines.at(-1), '', 'ends with a newline');
  assert.equal(lines.length, 8);
  // Every column is right-aligned: the shorter batch (1 under 16) is padded on its left.
  assert.ok(lines[5]!.startsWith('128      1'), lines[5]);
  const prefill = formatSweep([], hw, { ...DECODE, phase: 'prefill', seq: 512, tp: 16, tpChosen: 'smallest-that-fits' }).split('\n');
  assert.equal(prefill[0], 'Sweep of 0 points, prefill, on "dimc": simulated estimates, not measurements.');
  assert.equal(prefill[1], '(seq is the prompt length; context is unused)');
  assert.equal(prefill[2], '(tp auto: 16, the smallest that fits at the base point, batch 8, seq 512, held for every point; --tp sets it)');
  assert.deepEqual(prefill[4]!.trim().split(/\s{2,}/), ['seq', 'batch', 'context', 'tp', 'Baseline µs', 'Deferred µs', 'Saved', 'Collectives', 'Hidden']);
  const none = formatSweep([], hw, { ...DECODE, tp: 1, tpChosen: 'fits-at-none' }).split('\n');
  assert.equal(none[2], '(tp auto: no degree the heads allow fits at the base point, batch 8, context 1024, so tp 1 is held for every point; --tp sets it)');
});

test('sweep grid: its size, its ranges as written, and the point limit', async () => {
  const grid = { seq: [1, 2], batch: [1], context: [1, 2, 3], tp: [1], ranges: ['a.b=1,2', 'c=x'] };
  assert.equal(sweepSize(grid), 12, '2 × 1 × 3 × 1 × 2 × 1');
  assert.equal(sweepSize({ ...grid, ranges: [] }), 6);
  assert.equal(sweepSize({ ...grid, tp: [1, 2], ranges: [] }), 12, 'two degrees double it');
  for (const bad of ['=1', 'a.b=', 'a.b=,', 'a.b= , ', 'noequals']) {
    assert.throws(() => sweepSize({ ...grid, ranges: [bad] }), (e: unknown) => e instanceof InputError && e.message === `--set-range: ${bad}: expected path=v1,v2,… with at least one value`, bad);
  }
  const spec = await loadFixture('GPT-2');
  const hw = getPreset('dimc');
  // 1,000 × 101 = 101,000 points: over the limit, refused before anything is built; the sizes above 1 and every range named.
  const seq = Array.from({ length: 1000 }, (_, i) => i + 1);
  const batch = Array.from({ length: 101 }, (_, i) => i + 1);
  assert.throws(
    () => planSweep(spec, hw, DECODE, { seq, batch, context: [1], tp: [1], ranges: ['not.a.path=1'] }),
    (e: unknown) => e instanceof InputError && e.kind === 'limit' && e.message === 'sweep: grid: expected at most 100,000 points, found 101,000 (1000 × 101 × 1)',
  );
  // Exactly 100,000 is allowed.
  assert.equal(planSweep(spec, hw, DECODE, { seq, batch: batch.slice(0, 100), context: [1], tp: [1], ranges: [] }).size, 100_000);
  // Spaces around the path and the values are dropped, empty values skipped.
  const plan = planSweep(spec, hw, DECODE, { seq: [64], batch: [1], context: [128], tp: [1], ranges: [' collective.hopLatencyNs = 0 , , 96 '] });
  assert.deepEqual(plan.machines.map((m) => m.set), [{ 'collective.hopLatencyNs': '0' }, { 'collective.hopLatencyNs': '96' }]);
  assert.deepEqual(plan.machines.map((m) => m.hw.collective.hopLatencyNs), [0, 96]);
  // Every value is checked before any point runs, and every degree against the heads (GPT-2: 12 heads).
  assert.throws(() => planSweep(spec, hw, DECODE, { seq: [64], batch: [1], context: [128], tp: [1], ranges: ['collective.hopLatencyNs=0,-5'] }), InputError);
  assert.throws(() => planSweep(spec, hw, DECODE, { seq: [64], batch: [1], context: [128], tp: [1, 5], ranges: [] }), InputError);
});

test('comparison on every machine in Markdown: the heading, the figures and the machines that could not run it (hand-set rows)', () => {
  const row = { model: 'M', params: 1e9, workload: 'w', hardware: 'gpu-h100', title: 'H100 <b>', dtype: 'bf16', tp: 'TP 2', baselineUs: 1234.5, deferredUs: 1000, savedUs: 234.5, savedPct: 19, collectiveShareBaselinePct: 40, hiddenCollectivePct: 25, exposedCollectiveBaselineUs: 1, exposedCollectiveDeferredUs: 1 };
  const text = formatComparisonMarkdown('Model #1', 'decode, batch 8', { rows: [row], skipped: [{ hardware: 'gpu-t4', reason: 'no <fp8>' }] });
  assert.equal(
    text,
    [
      '# Model &#35;1 on every hardware profile',
      '',
      "> Simulated estimates, not measurements. Workload: decode, batch 8. Each profile's numbers and their sources: `deferred-norm hardware show NAME`.",
      '',
      '| Hardware | Dtype | TP | Baseline µs | Deferred µs | Saved µs | Saved | Collective share | Hidden |',
      '| :--- | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| H100 &#60;b&#62; (gpu-h100) | bf16 | TP 2 | 1,234.50 | 1,000.00 | 234.50 | 19.0% | 40.0% | 25.0% |',
      '',
      'Not compared:',
      '',
      '- gpu-t4: no &#60;fp8&#62;',
      '',
    ].join('\n'),
  );
  assert.ok(!formatComparisonMarkdown('M', 'w', { rows: [row], skipped: [] }).includes('Not compared'));
  // A prefill's variants: the decode at its context, batch 1 and ×4, the prompt ×4, TP × 2; none past the limits.
  const prefill = { phase: 'prefill' as const, batch: 4, seq: 100, context: 50, tp: 2 };
  assert.deepEqual(
    workloadVariants(prefill).map((v) => [v.label, v.workload]),
    [
      ['decode, context 50', { ...prefill, phase: 'decode' }],
      ['batch 1', { ...prefill, batch: 1 }],
      ['batch 16', { ...prefill, batch: 16 }],
      ['prompt of 400 tokens', { ...prefill, seq: 400 }],
      ['tensor parallel 4', { ...prefill, tp: 4 }],
    ],
  );
  assert.deepEqual(workloadVariants({ ...prefill, seq: 1 << 22 }).map((v) => v.label).at(-2), `prompt of ${1 << 24} tokens`, 'up to 2^24 tokens');
  assert.ok(!workloadVariants({ ...prefill, seq: (1 << 22) + 1 }).some((v) => v.label.startsWith('prompt')));
  assert.ok(!workloadVariants({ ...prefill, tp: 'auto' as const }).some((v) => v.label.startsWith('tensor')), "'auto' has no degree to double");
});

test('runs side by side: the whole document, with a run that could not be simulated, and one run alone (hand-set rows)', () => {
  const row = { model: 'M', params: 1e9, workload: 'w', hardware: 'h', title: 'T', dtype: 'bf16', tp: 'TP 1', baselineUs: 100, deferredUs: 80, savedUs: 20, savedPct: 20, collectiveShareBaselinePct: 40, hiddenCollectivePct: 25, exposedCollectiveBaselineUs: 1, exposedCollectiveDeferredUs: 1 };
  const two = formatRunsMarkdown({ rows: [row, { ...row, model: 'N', baselineUs: 200, deferredUs: 100, savedUs: 100, savedPct: 50, collectiveShareBaselinePct: 30, hiddenCollectivePct: 25 }], skipped: [{ hardware: 'gpu-t4', run: 'M <x>, w', reason: 'no fp8' }] });
  assert.equal(
    two,
    [
      '# Compared side by side',
      '',
      "> Simulated estimates, not measurements. Each column is one model at one workload on one hardware profile, simulated on its own; Baseline, Deferred and Saved are one pass of the column's phase, summed over every layer and the head.",
      '',
      '| Figure | Run 1 | Run 2 | Run 2 vs 1 |',
      '| :--- | ---: | ---: | ---: |',
      '| Model | M | N |  |',
      '| Parameters | 1.00 B | 1.00 B | ×1.00 |',
      '| Workload | w | w |  |',
      '| Hardware | T (h) | T (h) |  |',
      '| Dtype | bf16 | bf16 |  |',
      '| Baseline µs | 100.00 | 200.00 | ×2.00 |',
      '| Deferred µs | 80.00 | 100.00 | ×1.25 |',
      '| Saved µs | 20.00 | 100.00 | ×5.00 |',
      '| Saved | 20.0% | 50.0% | +30.0 pp |',
      '| Collective share | 40.0% | 30.0% | −10.0 pp |',
      '| Hidden | 25.0% | 25.0% | +0.0 pp |',
      '',
      'Not compared:',
      '',
      '- M &#60;x&#62;, w on gpu-t4: no fp8',
      '',
    ].join('\n'),
  );
  // One run: its column alone, no change column, nothing skipped.
  const one = formatRunsMarkdown({ rows: [row], skipped: [] }).split('\n');
  assert.ok(one.includes('| Figure | Run 1 |'));
  assert.ok(one.includes('| :--- | ---: |'));
  assert.ok(one.includes('| Baseline µs | 100.00 |'));
  assert.ok(!one.some((l) => l.startsWith('Not compared')));
  assert.equal(one.at(-1), '');
  // A skipped run without a run label names its machine.
  assert.ok(formatRunsMarkdown({ rows: [row], skipped: [{ hardware: 'gpu-t4', reason: 'why' }] }).includes('\n- gpu-t4 on gpu-t4: why\n'));
});

test('workload variants stop at the limits: batch 2^16, context and prompt 2^24, TP 1,024', () => {
  const labels = (w: { phase: 'decode' | 'prefill'; batch: number; seq: number; context: number; tp: number }) => workloadVariants(w).map((v) => v.label);
  const decode = { phase: 'decode' as const, batch: 1, seq: 1, context: 1, tp: 1 };
  assert.ok(labels({ ...decode, batch: 1 << 14 }).includes(`batch ${1 << 16}`), '4 × 16,384 = 65,536 is allowed');
  assert.ok(!labels({ ...decode, batch: (1 << 14) + 1 }).some((l) => l.startsWith('batch 6')), 'one more is not');
  assert.ok(labels({ ...decode, context: 1 << 22 }).includes(`context ${1 << 24}`));
  assert.ok(!labels({ ...decode, context: (1 << 22) + 1 }).some((l) => l.startsWith('context')));
  assert.ok(labels({ ...decode, tp: 512 }).includes('tensor parallel 1024'));
  assert.ok(!labels({ ...decode, tp: 513 }).some((l) => l.startsWith('tensor')));
});

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

test('sweep points: in the order tp, batch, seq, context, machines innermost, each equal to its own profile', async () => {
  const spec = await loadFixture('GPT-2');
  const hw = getPreset('dimc');
  const grid = { seq: [64], batch: [1, 4], context: [128, 256], tp: [1], ranges: ['collective.hopLatencyNs=0,96'] };
  const points = runSweep(spec, hw, DECODE, grid);
  const expected: [number, number, string][] = [];
  for (const batch of [1, 4]) for (const context of [128, 256]) for (const hop of ['0', '96']) expected.push([batch, context, hop]);
  assert.deepEqual(points.map((p) => [p.batch, p.context, p.set['collective.hopLatencyNs']]), expected);
  // Each point has exactly its workload, the values set, and the eight totals: nothing more.
  const fields = ['phase', 'seq', 'batch', 'context', 'tp', 'set', 'baselineUs', 'deferredUs', 'savedUs', 'savedPct', 'collectiveShareBaselinePct', 'hiddenCollectivePct', 'exposedCollectiveBaselineUs', 'exposedCollectiveDeferredUs'];
  for (const p of points) assert.deepEqual(Object.keys(p).sort(), [...fields].sort());
  for (const p of points) {
    assert.equal(p.phase, 'decode');
    assert.equal(p.seq, 64);
    assert.equal(p.tp, 1);
    // The second method: a report of that point alone, through profile() and its layer kinds.
    const t = profile(spec, applyOverrides(hw, [`collective.hopLatencyNs=${p.set['collective.hopLatencyNs']}`]), { ...DECODE, seq: 64, batch: p.batch, context: p.context }).totals;
    for (const f of Object.keys(t) as (keyof Totals)[]) assert.ok(Math.abs(p[f] - t[f]) <= 1e-9 * Math.max(1, Math.abs(t[f])), `batch ${p.batch}, context ${p.context}, hop ${p.set['collective.hopLatencyNs']}: ${f} ${p[f]} vs ${t[f]}`);
  }
  // The hop latency matters here: free hops are faster.
  assert.ok(points[0]!.baselineUs < points[1]!.baselineUs);
  // A share of a plan writes only its own points' numbers, at their places.
  const plan = planSweep(spec, hw, DECODE, grid);
  const width = 8;
  const out = new Float64Array(plan.size * width).fill(-1);
  evaluateSweep(spec, plan, 3, 6, out);
  for (let i = 0; i < plan.size; i++) {
    const row = Array.from(out.subarray(i * width, (i + 1) * width));
    if (i < 3 || i >= 6) assert.ok(row.every((v) => v === -1), `point ${i} untouched`);
    else assert.deepEqual(row, [points[i]!.baselineUs, points[i]!.deferredUs, points[i]!.savedUs, points[i]!.savedPct, points[i]!.collectiveShareBaselinePct, points[i]!.hiddenCollectivePct, points[i]!.exposedCollectiveBaselineUs, points[i]!.exposedCollectiveDeferredUs]);
  }
});

test('the report says what it cannot show and how it was set up: long names, positions, kernels, tensor parallelism, skipped layers', async () => {
  const gpt2 = await loadFixture('GPT-2');
  // A 300-character name and layer label: the report and the rewritten code show the first 200 and say so.
  const long = { ...gpt2, name: 'N'.repeat(300), layerKinds: gpt2.layerKinds.map((k) => ({ ...k, label: 'L'.repeat(300) })) };
  assert.equal(shownSpec(gpt2), gpt2, 'nothing to shorten: the same spec');
  const shown = shownSpec(long);
  assert.equal(shown.name, `${'N'.repeat(200)}… (300 characters)`);
  assert.equal(shown.layerKinds[0]!.label, `${'L'.repeat(200)}… (300 characters)`);
  assert.equal(shownSpec({ ...gpt2, name: 'N'.repeat(300) }).layerKinds[0], gpt2.layerKinds[0], 'a label short enough is kept as it is');
  assert.equal(shownSpec({ ...gpt2, name: 'N'.repeat(300) }).name, `${'N'.repeat(200)}… (300 characters)`, 'a long name alone is shortened');
  // Two kinds, only the first with a long label: that one is shortened, the other kept as it is.
  const mixed = shownSpec({ ...gpt2, layerKinds: [{ ...gpt2.layerKinds[0]!, label: 'L'.repeat(300) }, gpt2.layerKinds[0]!] });
  assert.deepEqual(mixed.layerKinds.map((k) => k.label.length), [200 + '… (300 characters)'.length, gpt2.layerKinds[0]!.label.length]);
  assert.equal(shownSpec({ ...long, name: 'short' }).name, 'short');
  assert.equal(shownSpec({ ...long, name: 'short' }).layerKinds[0]!.label, `${'L'.repeat(200)}… (300 characters)`, 'a long label alone is shortened');
  const full = fullReport(long, getPreset('dimc'), { ...DECODE, context: 512 }).report;
  assert.ok(full.model.notes.includes("The model's name is 300 characters long; reports show its first 200."), full.model.notes.join(' | '));
  assert.ok(full.numerics !== null && full.numerics.entries.length > 0, 'the full report has the numerics check');
  assert.ok(full.pseudocode !== null && full.pseudocodeBlocks !== null && full.pseudocodeBlocks.length > 0, 'and the rewritten code');
  assert.ok(!JSON.stringify(full.pseudocode).includes('N'.repeat(201)), 'the code quotes the shortened name');
  // GPT-2 was trained on 1,024 positions: a context or prompt past them is simulated and noted; 1,024 itself is not.
  const hw = getPreset('dimc');
  const positions = (w: Workload) => profile(gpt2, hw, w).model.notes.filter((n) => n.includes('max_position_embeddings'));
  assert.deepEqual(positions({ ...DECODE, context: 1024 }), []);
  assert.deepEqual(positions({ ...DECODE, context: 2048 }), ['A context of 2,048 tokens is beyond the 1,024 positions the model was trained for (max_position_embeddings); it is simulated as asked, but the model would need position scaling or would not run.']);
  assert.deepEqual(positions({ ...DECODE, phase: 'prefill', seq: 1025, context: 16 }), ['A prefill of 1,025 tokens is beyond the 1,024 positions the model was trained for (max_position_embeddings); it is simulated as asked, but the model would need position scaling or would not run.']);
  assert.deepEqual(positions({ ...DECODE, phase: 'prefill', seq: 64, context: 4096 }), [], 'a prefill reads its prompt, not the context');
  assert.deepEqual(profile({ ...gpt2, maxPositions: null }, hw, { ...DECODE, context: 2048 }).model.notes.filter((n) => n.includes('max_position_embeddings')), [], 'no stated limit: nothing to say');
  // The first assumption: the pass, the batch, the degree and how it was chosen.
  const first = (w: Workload, machine = hw) => profile(gpt2, machine, w).assumptions[0];
  assert.equal(first({ ...DECODE, tp: 2 }), 'A simulation of one decode step with 1024 tokens of context at batch 8, tensor-parallel over 2 chips, on the "dimc" hardware profile.');
  assert.equal(first({ ...DECODE, phase: 'prefill', seq: 64 }), 'A simulation of one prefill of 64 tokens at batch 8, on the "dimc" hardware profile.');
  assert.equal(profileChecked(gpt2, hw, { ...DECODE, tp: 'auto' }).assumptions[0], 'A simulation of one decode step with 1024 tokens of context at batch 8 (tp auto: the smallest degree the heads allow at which weights, KV cache and activations fit each device), on the "dimc" hardware profile.');
  // Kernels: the profile's own choices, or those changed over it, named with what they were.
  const kernels = (machine: typeof hw) => profile(gpt2, machine, DECODE).assumptions.find((a) => a.startsWith('Kernels'));
  const h100 = getPreset('gpu-h100');
  assert.ok(kernels(h100)!.startsWith('Kernels (stated choices of the "gpu-h100" profile): attention fused'), kernels(h100));
  const eager = kernels(applyOverrides(h100, ['kernels.norm=eager', 'kernels.attention=eager']))!;
  assert.ok(eager.startsWith(`Kernels (stated choices of the "gpu-h100" profile, except: attention set on the command line (was flash); norm set on the command line (was fused)): attention eager (scores, softmax and ·V as separate ops); norms eager`), eager);
  // Weights: resident (dimc), streamed and fetched ahead, or streamed inside each matmul.
  const weights = (machine: typeof hw) => profile(gpt2, machine, DECODE).assumptions.at(-1);
  assert.match(weights(hw)!, /^Weights are resident in the matrix engine/);
  assert.equal(weights(h100), 'Weights stream from "hbm3" inside each matmul (roofline).');
  assert.equal(weights(applyOverrides(hw, ['matrix.weightsResident=false'])), 'Weights stream from "lpddr5x", fetched ahead by the memory engine.');
  // The launch and the memory system: a captured graph in decode with its cost per kernel, or every kernel
  // on its own; the share of peak bandwidth as a whole percent (gpu-h100's memory efficiency is 0.76).
  assert.ok(kernels(h100)!.endsWith('; norms one fused kernel; decode as a captured graph (1000 ns per kernel).'), kernels(h100));
  assert.ok(kernels(hw)!.endsWith('; every kernel launched on its own.'), kernels(hw));
  const memoryLine = (machine: typeof hw) => profile(gpt2, machine, DECODE).assumptions.find((a) => a.startsWith('One memory system'));
  assert.equal(memoryLine(h100), 'One memory system: weight streams, KV-cache reads and elementwise passes over activations in "hbm3" share its bandwidth (at 76% of peak).');
  assert.equal(memoryLine(hw), 'One memory system: weight streams and KV-cache reads share its bandwidth (at 100% of peak).');
  assert.equal(profile(gpt2, h100, DECODE).assumptions.filter((a) => a.startsWith('Layers ')).length, 0, 'no layer left out: nothing said');
  // Jamba's Mamba layers are left out, and the report says which.
  const jamba = await loadFixture('Jamba-v0.1');
  const skipped = jamba.skippedLayers[0]!;
  assert.ok(profile(jamba, h100, DECODE).assumptions.includes(`Layers ${skipped.indices.join(', ')} are left out: mamba layers have no Softmax attention to profile.`));
});

test('end to end: the other pass is simulated on its own, or the report says why it is not there', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const hw = getPreset('dimc');
  const prefill: Workload = { ...DECODE, phase: 'prefill', seq: 64 };
  const r = profile(gpt2, hw, prefill);
  const decode = profile(gpt2, hw, { ...prefill, phase: 'decode' }).totals;
  assert.deepEqual(r.endToEnd.ttft, { baselineUs: r.totals.baselineUs, deferredUs: r.totals.deferredUs });
  assert.deepEqual(r.endToEnd.tpot, { baselineUs: decode.baselineUs, deferredUs: decode.deferredUs });
  // tokens/s = batch / TPOT: 8 sequences, one token each per step.
  assert.ok(Math.abs(r.endToEnd.tokensPerSecond!.baseline - 8e6 / decode.baselineUs) < 1e-9);
  assert.ok(Math.abs(r.endToEnd.tokensPerSecond!.deferred - 8e6 / decode.deferredUs) < 1e-9);
  assert.deepEqual(r.endToEnd.notes, []);
  // 64 sequences × a context of 2^25 tokens is past 2^31 tokens in one decode pass, so only the prefill (64 × 1) runs.
  const over = profile(gpt2, hw, { ...prefill, batch: 64, seq: 1, context: 2 ** 25 });
  assert.equal(over.endToEnd.tpot, null);
  assert.equal(over.endToEnd.tokensPerSecond, null);
  assert.equal(over.endToEnd.notes.length, 1);
  assert.match(over.endToEnd.notes[0]!, /^No time per output token: workload: /);
});

test('tokens/s from the decode step: batch per step time, and none from a step of no time (hand-set totals)', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const totals = (baselineUs: number, deferredUs: number) => ({ ...totalsOf([]), baselineUs, deferredUs });
  // 8 sequences, a step of 1,000 µs: 8,000 tokens/s; of 800 µs: 10,000.
  assert.deepEqual(endToEndOf(gpt2, getPreset('dimc'), DECODE, totals(1000, 800)).tokensPerSecond, { baseline: 8000, deferred: 10_000 });
  assert.deepEqual(endToEndOf(gpt2, getPreset('dimc'), DECODE, totals(0, 0)).tokensPerSecond, { baseline: 0, deferred: 0 });
});

test('parameters per device: a column split divides the bias with the outputs, a row split keeps it whole (GPT-2 by hand)', async () => {
  const gpt2 = await loadFixture('GPT-2');
  // Per layer at TP 2: c_attn 768 → 2,304 split by columns (768 × 1,152 + 1,152), attn.c_proj 768 → 768 by rows
  // (384 × 768 + the whole 768), c_fc 768 → 3,072 by columns (768 × 1,536 + 1,536), mlp.c_proj 3,072 → 768 by rows
  // (1,536 × 768 + 768). The lm_head is the tied embedding table, counted with the rest.
  const perLayer = 768 * 1152 + 1152 + (384 * 768 + 768) + (768 * 1536 + 1536) + (1536 * 768 + 768);
  const whole = 768 * 2304 + 2304 + (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768);
  // Everything else whole: wte 50,257 × 768, wpe 1,024 × 768, two LayerNorms a layer and ln_f (weight and bias).
  const other = 50_257 * 768 + 1024 * 768 + 12 * 4 * 768 + 2 * 768;
  assert.equal(gpt2.params.total, 12 * whole + other);
  assert.deepEqual(paramsPerDevice(gpt2, 2), { linears: 12 * perLayer, other });
  assert.deepEqual(paramsPerDevice(gpt2, 1), { linears: 12 * whole, other });
  // Mixtral at TP 2: q and o halved (4,096 × 2,048 each), k and v (4,096 × 512 each), each of the 8 experts'
  // w1, w3 (4,096 × 7,168) and w2 (7,168 × 4,096) halved, the router (4,096 × 8) whole; lm_head 4,096 × 16,000.
  const mixtral = await loadFixture('Mixtral-8x7B-v0.1');
  const mixtralLayer = 4096 * 2048 * 2 + 4096 * 512 * 2 + 8 * (4096 * 7168 * 2 + 7168 * 4096) + 4096 * 8;
  assert.equal(paramsPerDevice(mixtral, 2).linears, 32 * mixtralLayer + 4096 * 16_000);
});

test('memory: what does not fit is named, with its bytes and the tier (hand-set sizes)', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const h100 = getPreset('gpu-h100');
  // An 80 GB HBM of 1 GB: GPT-2's 124 M bf16 parameters (249 MB) fit, a KV cache of 12 layers × 2 × 768 × 2 bytes
  // × 32 × 16,384 tokens (19.3 GB) does not.
  const small = { ...h100, memory: { ...h100.memory, tiers: h100.memory.tiers.map((t) => ({ ...t, capacityGB: 1 })) } };
  const m = memoryOf(gpt2, small, { ...DECODE, batch: 32, context: 16_384 }, 'bf16');
  assert.equal(m.perDevice.kvBytes, 12 * 2 * 768 * 2 * 32 * 16_384);
  assert.equal(m.fits, false);
  assert.equal(m.warnings[0], `Does not fit: weights, KV cache, activations need ${byteCount(m.tiers[0]!.usedBytes, 1000)} of "hbm3" per device, which holds 1.0 GB.`);
});

test('activations on one device: two residual streams and the widest output per row, eager scores, or the logits (GPT-2 by hand)', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const flash = getPreset('gpu-h100');
  const eager = getPreset('dimc');
  assert.equal(flash.kernels.attention, 'flash');
  assert.equal(eager.kernels.attention, 'eager');
  const w = (phase: 'decode' | 'prefill', batch: number, seq: number, context: number, tp = 1) => ({ phase, batch, seq, context, tp });
  // Decode, batch 8: 8 rows × (2 × 768 + the widest output, c_fc's 3,072) = 36,864 values, fewer than the
  // logits of the last token, 8 × 50,257 = 402,056; 2 bytes each.
  assert.equal(activationBytes(gpt2, flash, w('decode', 8, 1, 1024), 2), 2 * 8 * 50_257);
  // Prefill of 2 × 128 tokens: 256 rows × 4,608 = 1,179,648 values; flash attention keeps no score matrix.
  assert.equal(activationBytes(gpt2, flash, w('prefill', 2, 128, 9999), 2), 2 * 256 * 4608);
  // Eager attention adds one layer's scores: 256 rows × 12 heads × 128 keys.
  assert.equal(activationBytes(gpt2, eager, w('prefill', 2, 128, 9999), 2), 2 * (256 * 4608 + 256 * 12 * 128));
  // A decode step's scores cover the context and the new token: 8 × 12 × 10,000, past the logits.
  assert.equal(activationBytes(gpt2, eager, w('decode', 8, 1, 9999), 2), 2 * (8 * 4608 + 8 * 12 * 10_000));
  // TP 2: the widest output (c_fc) and the heads are halved: 256 × (1,536 + 1,536) + 256 × 6 × 128.
  assert.equal(activationBytes(gpt2, eager, w('prefill', 2, 128, 1, 2), 1), 256 * 3072 + 256 * 6 * 128);
  // A sliding window keeps its window of keys: 4,096 instead of the 10,000 a full layer reads.
  const windowed = { ...gpt2, layerKinds: gpt2.layerKinds.map((k) => ({ ...k, attention: { ...k.attention, window: 4096 } })) };
  assert.equal(activationBytes(windowed, eager, w('decode', 8, 1, 9999), 2), 2 * (8 * 4608 + 8 * 12 * 4096));
  // An MoE layer's widest output is a routed projection's for each active expert: Mixtral's w1 and w3
  // (14,336 wide) for its 2 of 8 experts, 28,672 per row; 128 rows × (2 × 4,096 + 28,672), past the 32,000 logits.
  const mixtral = await loadFixture('Mixtral-8x7B-v0.1');
  assert.equal(activationBytes(mixtral, flash, w('prefill', 1, 128, 1), 2), 2 * 128 * (2 * 4096 + 2 * 14_336));
});

test('memory tiers: resident linears in the fastest tier, the rest where the profile puts it (GPT-2 bf16 on dimc, by hand)', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const dimc = getPreset('dimc');
  // Linears 85,017,600 parameters and the rest 39,422,208 (the test above), 2 bytes each at bf16. KV: 12 layers ×
  // 8 sequences × 1,024 tokens × 12 heads × (64 + 64) × 2 bytes. Activations: the logits, 2 × 8 × 50,257.
  const linears = 2 * 85_017_600;
  const rest = 2 * 39_422_208;
  const kv = 12 * 8 * 1024 * 12 * 128 * 2;
  const act = 2 * 8 * 50_257;
  const expected = [
    { tier: 'sram', holds: ['weights', 'kv', 'activations'], usedBytes: linears + kv + act, capacityBytes: 2e9, fits: true },
    { tier: 'lpddr5x', holds: ['weights'], usedBytes: rest, capacityBytes: 256e9, fits: true },
  ];
  assert.deepEqual(memoryOf(gpt2, dimc, DECODE, 'bf16').tiers, expected);
  assert.deepEqual(memoryOf(gpt2, dimc, DECODE, 'bf16').perDevice, { weightBytes: linears + rest, kvBytes: kv, activationBytes: act, totalBytes: linears + rest + kv + act });
  // The fastest tier by bandwidth, wherever it is listed.
  const reversed = { ...dimc, memory: { ...dimc.memory, tiers: [...dimc.memory.tiers].reverse() } };
  assert.deepEqual(memoryOf(gpt2, reversed, DECODE, 'bf16').tiers, [...expected].reverse());
  // Exactly full still fits: an SRAM of exactly the bytes it holds.
  const exact = { ...dimc, memory: { ...dimc.memory, tiers: dimc.memory.tiers.map((t) => (t.name === 'sram' ? { ...t, capacityGB: (linears + kv + act) / 1e9 } : t)) } };
  assert.equal(memoryOf(gpt2, exact, DECODE, 'bf16').tiers[0]!.fits, true);
  // A tier that holds nothing is not listed; an encoder caches nothing, so its tier does not name a KV cache.
  const h100 = getPreset('gpu-h100');
  const spare = { ...h100, memory: { ...h100.memory, tiers: [...h100.memory.tiers, { ...h100.memory.tiers[0]!, name: 'spare', bandwidthGBps: 1 }] } };
  assert.deepEqual(memoryOf(gpt2, spare, DECODE, 'bf16').tiers.map((t) => [t.tier, t.holds]), [['hbm3', ['weights', 'kv', 'activations']]]);
  const bert = await loadFixture('bert-base-uncased');
  assert.deepEqual(memoryOf(bert, h100, { ...DECODE, phase: 'prefill', seq: 128 }, 'bf16').tiers.map((t) => [t.tier, t.holds]), [['hbm3', ['weights', 'activations']]]);
});

test('memory: MLA caches one latent per token, and cross-attention caches the prompt (by hand from the configs)', async () => {
  // DeepSeek-V2-Lite: kv_lora_rank 512 + qk_rope_head_dim 64, 2 bytes each, the same on every chip.
  const ds = await loadFixture('DeepSeek-V2-Lite');
  assert.equal(kvBytesPerToken(ds.layerKinds[0]!.attention, 1, 2), (512 + 64) * 2);
  assert.equal(kvBytesPerToken(ds.layerKinds[0]!.attention, 4, 1), 512 + 64);
  // 27 layers × batch 2 × context 100 tokens × 1,152 bytes.
  assert.equal(kvCacheBytes(ds, { phase: 'decode', batch: 2, seq: 7, context: 100, tp: 1 }, 2), 27 * 2 * 100 * 1152);
  // t5-small: the encoder caches nothing; each of the 6 decoder layers caches its own tokens and the prompt's
  // (cross-attention), 8 KV heads × (64 + 64) × 2 bytes = 2,048 bytes a token each.
  const t5 = await loadFixture('t5-small');
  assert.equal(kvCacheBytes(t5, { phase: 'decode', batch: 3, seq: 100, context: 50, tp: 1 }, 2), 6 * 3 * (50 + 100) * 2048);
  // A prefill caches its prompt: 100 tokens of self-attention and the same 100 of the encoder's output.
  assert.equal(kvCacheBytes(t5, { phase: 'prefill', batch: 3, seq: 100, context: 50, tp: 1 }, 2), 6 * 3 * (100 + 100) * 2048);
});

test('timelines: each op of both schedules in µs from its layer\'s start, with its engine, category and site', async () => {
  const spec = await loadFixture('GPT-2');
  const sim = simulate(spec, getPreset('dimc'), DECODE);
  const views = timelinesOf(sim);
  assert.deepEqual(views.map((v) => [v.kind, v.label]), sim.kinds.map((k) => [k.id, k.label]));
  for (const [i, v] of views.entries()) {
    for (const pick of ['baseline', 'deferred'] as const) {
      const run = sim.kinds[i]![pick];
      assert.equal(v[pick].makespanUs * 1000, run.timeline.makespanNs);
      assert.equal(v[pick].ops.length, run.graph.ops.length);
      v[pick].ops.forEach((o, j) => {
        const op = run.graph.ops[j]!;
        assert.deepEqual(o, { name: op.name, engine: op.engine, category: op.category, startUs: run.timeline.start[j]! / 1000, endUs: run.timeline.end[j]! / 1000, site: op.site ?? null });
      });
    }
  }
  const all = views.flatMap((v) => [...v.baseline.ops, ...v.deferred.ops]);
  assert.ok(all.some((o) => o.site !== null) && all.some((o) => o.site === null), 'ops with and without a site');
  // A label from the file is shown shortened.
  const long = { ...spec, layerKinds: spec.layerKinds.map((k) => ({ ...k, label: 'L'.repeat(300) })) };
  assert.equal(timelinesOf(simulate(long, getPreset('dimc'), DECODE))[0]!.label, `${'L'.repeat(200)}… (300 characters)`);
});

test('the smallest degree that fits skips degrees the KV heads do not allow (Qwen2-7B: 28 heads, 4 KV heads, on a 16 GB T4)', async () => {
  const qwen = await loadFixture('Qwen2-7B-Instruct');
  const t4 = getPreset('gpu-t4');
  // Degrees that divide the 28 heads: 1, 2, 4, 7, 14, 28. Of those, 7 and 14 neither divide the 4 KV heads nor are
  // multiples of them, so the heads allow 1, 2, 4 and 28.
  const w = { ...DECODE, batch: 8, context: 110_000 };
  assert.throws(() => checkWorkloadForModel(qwen, { ...w, tp: 7 }), InputError);
  assert.throws(() => checkWorkloadForModel(qwen, { ...w, tp: 14 }), InputError);
  // At this context 4 chips do not hold it (the KV cache, one KV head per chip from 4 on, does not shrink), 28 do.
  assert.equal(memoryOf(qwen, t4, { ...w, tp: 4 }, 'fp16').fits, false);
  assert.equal(memoryOf(qwen, t4, { ...w, tp: 28 }, 'fp16').fits, true);
  assert.equal(minimumTpOf(qwen, t4, w, 'fp16'), 28);
});

test('the report of GPT-2 on dimc: schema, names, notes, runs of consecutive layers and each site\'s reason', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const dimc = getPreset('dimc');
  const r = profile(gpt2, dimc, DECODE);
  assert.equal(r.schema, 'deferred-norm-report/1');
  assert.equal(r.model.architecture, 'GPT2LMHeadModel');
  assert.equal(profile({ ...gpt2, architecture: null }, dimc, DECODE).model.architecture, null);
  // The model's own note and nothing else (dimc's figures are not calibrated to measurements; 1,024 positions suffice).
  assert.deepEqual(r.model.notes, ['GPT-2 stores its projections as Conv1D (transposed weights); c_attn holds q, k and v.']);
  // Each site's reason: where the scale goes and the layer's two times in µs to three decimals, from the simulation.
  const sim = simulate(gpt2, dimc, DECODE);
  const decisions = sim.kinds[0]!.sites;
  r.layerKinds[0]!.sites.forEach((site, i) => {
    const d = decisions[i]!;
    const where = d.site.kind === 'softmax' ? 'after ·V' : 'after the linear layer';
    assert.equal(site.decision, 'defer');
    assert.equal(site.reason, `deferred ${where}: the layer takes ${(d.deferredNs / 1000).toFixed(3)} µs instead of ${(d.keptNs / 1000).toFixed(3)} µs`);
  });
  // The per-layer entry lists the same sites, each with its name, kind, decision, reason and saving, from the simulation.
  assert.deepEqual(
    r.layers[0]!.sites.map((x) => [x.name, x.kind, x.decision, x.reason.startsWith('deferred '), Math.abs(x.savedUs - (decisions.find((d) => d.site.name === x.name)!.keptNs - decisions.find((d) => d.site.name === x.name)!.deferredNs) / 1000) < 1e-12]),
    decisions.map((d) => [d.site.name, d.site.kind, 'defer', true, true]),
  );
  // Each engine's busy time, in µs, from the simulator's own sum.
  for (const pick of ['baseline', 'deferred'] as const) {
    const ns = engineBusyNs(sim.kinds[0]![pick]);
    assert.deepEqual(r.layerKinds[0]!.busyUs[pick], Object.fromEntries(Object.entries(ns).map(([e, v]) => [e, v / 1000])));
  }
  // On the H100 the fused attention already defers the Softmax: ineligible, with the site's own reason, nothing saved.
  const h100 = profile(gpt2, getPreset('gpu-h100'), DECODE).layerKinds[0]!.sites.find((x) => x.kind === 'softmax')!;
  assert.equal(h100.decision, 'ineligible');
  assert.match(h100.reason, /^already deferred by the baseline kernel: a fused \(FlashAttention-style\) attention/);
  assert.equal(h100.savedUs, 0);
  // A kind whose layers are not all consecutive: one run per stretch (0–2 and 5–6), then the head.
  const gaps = profile({ ...gpt2, layers: 7, layerKinds: [{ ...gpt2.layerKinds[0]!, layers: [0, 1, 2, 5, 6] }] }, dimc, DECODE);
  assert.deepEqual(gaps.layers.map((l) => [l.index, l.count, l.kind]), [[0, 3, 'decoder'], [5, 2, 'decoder'], [7, 1, 'head']]);
});

test('each site of Llama-3.2-1B on dimc: its norm, consumers, depths tried and the depth chosen, in the reason', async () => {
  const spec = await loadFixture('Llama-3.2-1B-Instruct');
  const dimc = getPreset('dimc');
  const r = profile(spec, dimc, DECODE);
  const decisions = simulate(spec, dimc, DECODE).kinds[0]!.sites;
  const text = { linear: 'after the linear layer', rope: 'after RoPE', attention: 'on the attention logits, before the exp', down: 'after the down projection' } as const;
  let withDepths = 0;
  r.layerKinds[0]!.sites.forEach((site, i) => {
    const d = decisions[i]!;
    assert.equal(site.norm, d.site.norm?.name ?? null);
    assert.deepEqual(site.consumers, d.site.consumers.map((c) => c.name));
    assert.deepEqual(site.depthUs, d.depthNs.map(({ depth, ns }) => ({ depth, us: ns / 1000 })));
    const byDepth = d.depthNs.length > 1 ? `; by depth: ${d.depthNs.map(({ depth, ns }) => `${depth} ${(ns / 1000).toFixed(3)} µs`).join(', ')}` : '';
    if (d.depthNs.length > 1) withDepths++;
    if (site.decision === 'defer') {
      const where = d.site.kind === 'softmax' ? 'after ·V' : text[d.depth!];
      assert.equal(site.reason, `deferred ${where}: the layer takes ${(d.deferredNs / 1000).toFixed(3)} µs instead of ${(d.keptNs / 1000).toFixed(3)} µs${byDepth}`);
    }
  });
  assert.ok(withDepths > 0, 'some site tried more than one depth');
  assert.ok(r.layerKinds[0]!.sites.some((x) => x.norm !== null) && r.layerKinds[0]!.sites.some((x) => x.norm === null), 'norm sites and the Softmax');
});

test('more runs of identical layers than the list holds: the first 1,000 listed, and a note says so', async () => {
  const gpt2 = await loadFixture('GPT-2');
  const decoder = gpt2.layerKinds[0]!;
  // Two decoder kinds taking turns over 1,002 layers: 1,002 runs of one layer, then the head (layer 1,002): 1,003 runs.
  const even = { ...decoder, id: 'even', layers: Array.from({ length: 501 }, (_, i) => 2 * i) };
  const odd = { ...decoder, id: 'odd', layers: Array.from({ length: 501 }, (_, i) => 2 * i + 1) };
  const spec: ModelSpec = { ...gpt2, layers: 1002, layerKinds: [even, odd] };
  const r = profile(spec, getPreset('dimc'), DECODE);
  assert.equal(r.layers.length, 1000);
  assert.deepEqual(r.layers.slice(0, 3).map((l) => [l.index, l.count, l.kind]), [[0, 1, 'even'], [1, 1, 'odd'], [2, 1, 'even']]);
  assert.ok(r.model.notes.includes('The per-layer list shows the first 1,000 of 1,003 runs of identical layers (1,000 of 1,003 layers); the layer kinds and the totals cover them all.'), r.model.notes.join(' | '));
  // At the limit itself: 999 layers and the head, 1,000 runs, all listed, no note.
  const at = profile({ ...spec, layers: 999, layerKinds: [{ ...even, layers: even.layers.slice(0, 500) }, { ...odd, layers: odd.layers.slice(0, 499) }] }, getPreset('dimc'), DECODE);
  assert.equal(at.layers.length, 1000);
  assert.ok(!at.model.notes.some((n) => n.startsWith('The per-layer list')));
});

test('the small branches of the views: a short row, a first run with nothing saved, the prefill a decode cannot have, depth at the linear', async () => {
  // A row with fewer cells than the header: the missing cell is empty, not wider.
  assert.equal(table(['a', 'b'], [['x']], ['left', 'left']), 'a  b\n─  ─\nx');
  // Run 2 against run 1: ratios of times, points of shares; no ratio against nothing.
  const row = { model: 'M', params: 1e9, workload: 'w', hardware: 'h', title: 'T', dtype: 'bf16', tp: 'TP 1', baselineUs: 100, deferredUs: 100, savedUs: 0, savedPct: 0, collectiveShareBaselinePct: 40, hiddenCollectivePct: 25, exposedCollectiveBaselineUs: 1, exposedCollectiveDeferredUs: 1 };
  const md = formatRunsMarkdown({ rows: [row, { ...row, params: 2e9, baselineUs: 150, deferredUs: 120, savedUs: 30, savedPct: 20, hiddenCollectivePct: 20 }], skipped: [] }).split('\n');
  const cells = (label: string) => md.find((l) => l.startsWith(`| ${label} |`))!.split(' | ').slice(1).map((c) => c.replace(/ \|$/, ''));
  assert.deepEqual(cells('Model'), ['M', 'M', '']);
  assert.deepEqual(cells('Workload'), ['w', 'w', '']);
  assert.deepEqual(cells('Hardware'), ['T (h)', 'T (h)', '']);
  assert.deepEqual(cells('Dtype'), ['bf16', 'bf16', '']);
  assert.deepEqual(cells('Parameters'), ['1.00 B', '2.00 B', '×2.00']);
  assert.deepEqual(cells('Baseline µs'), ['100.00', '150.00', '×1.50']);
  assert.deepEqual(cells('Deferred µs'), ['100.00', '120.00', '×1.20']);
  assert.deepEqual(cells('Saved µs'), ['0.00', '30.00', ''], 'nothing saved in run 1: no ratio');
  assert.deepEqual(cells('Saved'), ['0.0%', '20.0%', '+20.0 pp']);
  assert.deepEqual(cells('Collective share'), ['40.0%', '40.0%', '+0.0 pp']);
  assert.deepEqual(cells('Hidden'), ['25.0%', '20.0%', '−5.0 pp']);
  // A machine that cannot run the workload (the T4 has no fp8 rate) is named with why, and no run label.
  const gpt2 = await loadFixture('GPT-2');
  const both = compareHardware(gpt2, [getPreset('dimc'), getPreset('gpu-t4')], { ...DECODE, dtype: 'fp8' });
  assert.deepEqual(both.rows.map((r) => r.hardware), ['dimc']);
  assert.deepEqual(both.skipped.map((s) => Object.keys(s)), [['hardware', 'reason']]);
  assert.equal(both.skipped[0]!.hardware, 'gpu-t4');
  assert.match(both.skipped[0]!.reason, /gpu-t4.*found fp8/);
  // A decode step whose prompt could not be one prefill pass (64 × 2^25 tokens > 2^31): no time to first token, and why.
  const decode = profile(gpt2, getPreset('dimc'), { ...DECODE, batch: 64, seq: 2 ** 25, context: 16 });
  assert.equal(decode.endToEnd.ttft, null);
  assert.ok(decode.endToEnd.tpot !== null);
  assert.match(decode.endToEnd.notes[0]!, /^No time to first token: workload: /);
  // --defer-depth linear: the assumption says so.
  assert.ok(profile(gpt2, getPreset('dimc'), { ...DECODE, deferDepth: 'linear' }).assumptions.includes('Deferred norm scales are applied right after the linear layer, as in the papers (--defer-depth linear).'));
});

test("profileChecked: the model's notes, then the tensor-parallel check's", async () => {
  const llama = { ...(await loadFixture('Llama-3.1-8B')), notes: ['A note of the model.'] };
  // 16 chips, 8 KV heads: each KV head on 2 chips.
  const r = profileChecked(llama, getPreset('gpu-h100'), { ...DECODE, tp: 16 });
  assert.equal(r.model.notes[0], 'A note of the model.');
  assert.equal(r.model.notes.at(-1), 'Tensor parallelism over 16 chips with 8 KV heads: each KV head is replicated on 2 chips (its projection and cache computed on each), as serving engines do.');
  assert.equal(r.workload.tp, 16);
});

test('an encoder-only model: the report says there is no decode step, in its own words', async () => {
  const bert = await loadFixture('bert-base-uncased');
  const r = profile(bert, getPreset('gpu-h100'), { ...DECODE, phase: 'prefill', seq: 128 });
  assert.equal(r.endToEnd.tpot, null);
  // Not the simulator's refusal of a decode step passed on ("No time per output token: …"): the reason itself.
  assert.deepEqual(r.endToEnd.notes, ['An encoder-only model has no decode step: no time per output token or tokens/s.']);
});

test('a hybrid model’s head comes after its last layer, not on a profiled layer’s index (Jamba)', async () => {
  // Jamba-v0.1's config: 32 layers, attention every 8th from layer 4, so layers 4, 12, 20 and 28 are
  // profiled and the 28 Mamba layers are left out; the head follows layer 31, at index 32.
  const spec = await loadFixture('Jamba-v0.1');
  const report = profile(spec, getPreset('gpu-h100'), { ...DEFAULT_WORKLOAD, tp: 1 });
  const decoders = report.layers.filter((l) => l.kind !== 'head').map((l) => l.index);
  assert.deepEqual(decoders, [4, 12, 20, 28]);
  assert.deepEqual(report.layers.filter((l) => l.kind === 'head').map((l) => l.index), [32]);
});
