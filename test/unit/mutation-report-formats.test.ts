/**
 * The exports' full text on a small report whose every figure is set by hand (issue 21: exports were
 * checked by line counts). The expected Markdown document is written out here line by line; the
 * terminal table's lines likewise, its padded tables checked cell by cell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMarkdown, formatTable, workloadLine } from '../../src/core/report/formats';
import { formatNumerics, numericsFor, numericsOptionsFor } from '../../src/core/report/numerics';
import type { LayerKindResult, Report, SiteResult } from '../../src/core/report/types';
import { loadFixture } from './helpers/fixtures';

const busy = { matrix: 1, vector: 1, collective: 1, memory: 1 };

function site(over: Partial<SiteResult> & Pick<SiteResult, 'id' | 'name' | 'kind' | 'decision'>): SiteResult {
  return { reason: `${over.id} reason`, keptUs: 0, deferredUs: 0, savedUs: 0, norm: null, consumers: [], depth: null, depthUs: [], depthLimit: null, ...over };
}

function kind(over: Partial<LayerKindResult> & Pick<LayerKindResult, 'id' | 'label' | 'layers' | 'sites'>): LayerKindResult {
  return { baselineUs: 0, deferredUs: 0, savedUs: 0, savedPct: 0, exposedCollectiveBaselineUs: 0, exposedCollectiveDeferredUs: 0, busyUs: { baseline: busy, deferred: busy }, ...over };
}

function handReport(): Report {
  const decoder = kind({
    id: 'decoder',
    label: 'MHA 2 heads',
    layers: [0, 1],
    baselineUs: 400,
    deferredUs: 300,
    savedUs: 100,
    savedPct: 25,
    sites: [
      site({ id: 'a', name: 'ln1 → qkv', kind: 'layernorm', decision: 'defer', depth: 'linear', keptUs: 12, deferredUs: 10.5, savedUs: 1.5 }),
      site({ id: 'b', name: 'softmax → ·V', kind: 'softmax', decision: 'defer', depth: 'linear', keptUs: 9, deferredUs: 8, savedUs: 1 }),
      site({ id: 'c', name: 'n2 → up', kind: 'rmsnorm', decision: 'defer', depth: 'rope', keptUs: 3, deferredUs: 2, savedUs: 1 }),
      site({ id: 'd', name: 'n3 → q', kind: 'rmsnorm', decision: 'defer', depth: 'attention', keptUs: 3, deferredUs: 2, savedUs: 1 }),
      site({ id: 'e', name: 'n4 → fc', kind: 'rmsnorm', decision: 'defer', depth: 'down', keptUs: 3, deferredUs: 2, savedUs: 1 }),
      site({ id: 'f', name: 'post', kind: 'rmsnorm', decision: 'ineligible', reason: 'post-norm' }),
      site({ id: 'g', name: 'n5 → out', kind: 'rmsnorm', decision: 'keep', keptUs: 5, deferredUs: 6 }),
    ],
  });
  const head = kind({ id: 'head', label: 'norm → lm head', layers: [2], baselineUs: 200, deferredUs: 200, sites: [site({ id: 'final', name: 'norm → lm head', kind: 'rmsnorm', decision: 'keep', keptUs: 7, deferredUs: 7.25 })] });
  return {
    schema: 'deferred-norm-report/1',
    estimate: 'A simulated estimate.',
    model: { name: 'Tiny', family: 'tiny', modelType: 'tiny', architecture: null, source: '/m/config.json', layers: 2, hidden: 64, vocab: 100, params: { total: 1_500_000_000, active: 250_000_000 }, notes: ['First note.'] },
    hardware: { name: 'box', title: 'A Box', description: 'd', provenance: { 'matrix.peak': 'datasheet', 'vector.rate': 'assumption' }, sources: [{ id: 'src1', citation: 'A paper.' }] },
    workload: { phase: 'decode', batch: 8, seq: 128, context: 1024, tp: 2, tpRequested: 2, dtype: 'fp8', softmaxOffset: 'online', deferDepth: 'deepest', tiles: 4 },
    assumptions: ['One assumption.'],
    layerKinds: [decoder, head],
    layers: [],
    totals: { baselineUs: 1000, deferredUs: 800, savedUs: 200, savedPct: 20, collectiveShareBaselinePct: 40, hiddenCollectivePct: 25, exposedCollectiveBaselineUs: 400, exposedCollectiveDeferredUs: 300 },
    numerics: null,
    pseudocode: null,
    pseudocodeBlocks: null,
    memory: {
      perDevice: { weightBytes: 16e9, kvBytes: 8e9, activationBytes: 8.2e6, totalBytes: 24.0082e9 },
      tiers: [{ tier: 'hbm', holds: ['weights', 'kv', 'activations'], usedBytes: 24.0082e9, capacityBytes: 80e9, fits: true }],
      fits: true,
      minimumTp: null,
      warnings: ['Too big.'],
    },
    endToEnd: { ttft: { baselineUs: 2_000_000, deferredUs: 1_500_000 }, tpot: null, tokensPerSecond: null, notes: ['No decode.'] },
    savingParts: { collectiveUs: 100, startsUs: 60, workUs: 40 },
  };
}

// The headline lines, written out: 200 of 1000 µs = 20%, its parts 100, 60 and 40 µs = 10%, 6%, 4%.
const SAVING = 'Saved 20.0% (200.0 µs) = collective hidden 10.0% (100.0 µs) + kernel starts removed 6.0% (60.0 µs) + vector and memory work removed 4.0% (40.0 µs).';
const END_TO_END = 'End to end (baseline → deferred): time to first token 2.00 s → 1.50 s. No decode.';
const MEMORY = 'Memory per device: 24.0 GB (weights 16.0 GB, KV cache 8.0 GB, activations 8.2 MB); hbm 24.0 GB of 80.0 GB: fits.';
const COLLECTIVE = 'Statistic collectives take 40.0% of the baseline latency; deferral hides 25.0% of that time.';

test('workloadLine: each workload value in words', () => {
  const w = handReport().workload;
  assert.equal(workloadLine(w), 'decode, context 1024, batch 8, tp 2, fp8, softmax offset online, scales as deep as they go, 4 tiles');
  assert.equal(workloadLine({ ...w, phase: 'prefill', dtype: null, deferDepth: 'linear', softmaxOffset: 'bound', tiles: 2 }), 'prefill of 128 tokens, batch 8, tp 2, default dtype, softmax offset bound, scales at the linear layer, 2 tiles');
});

test('Markdown: the whole document, written out', () => {
  const r: Report = {
    ...handReport(),
    pseudocode: [
      { site: 'a', name: 'ln1 → qkv', decision: 'defer', layerKind: 'decoder', before: 'y = ln(x)', after: 'y = r * (x @ W)' },
      { site: 'b', name: 'softmax → ·V', decision: 'defer', layerKind: 'decoder', before: 'doc = """```"""', after: 'o = e @ V / l' },
    ],
    numerics: {
      entries: [{ site: 'RMSNorm → Linear', siteKind: 'rmsnorm-linear', dtype: 'bf16', baselineMaxRelErr: 1e-3, baselineMeanRelErr: 1e-4, deferredMaxRelErr: 2e-3, deferredMeanRelErr: 5e-4, withinBaseline: false }],
      overflow: [],
      layerNormFold: null,
      tolerance: 4,
      seed: 3,
      shape: { hidden: 64, outFeatures: 64, multiOut: [64], headDim: 32, context: 256, rows: 4 },
      accumulate: 'fp32',
    },
  };
  const expected = [
    '# Deferred normalization: Tiny on box',
    '',
    '> A simulated estimate.',
    '',
    '- **Model:** Tiny (tiny, 2 layers, hidden 64, 1.50 B parameters)',
    '- **Hardware:** A Box (box)',
    '- **Workload:** decode, context 1024, batch 8, tp 2, fp8, softmax offset online, scales as deep as they go, 4 tiles',
    '',
    '| Layer kind | Layers | Baseline µs | Deferred µs | Saved µs | Saved |',
    '| :--- | :--- | ---: | ---: | ---: | ---: |',
    '| decoder (MHA 2 heads) | 0–1 | 400.00 | 300.00 | 100.00 | 25.0% |',
    '| head (norm → lm head) | 2 | 200.00 | 200.00 | 0.00 | 0.0% |',
    '| whole model | 3 | 1,000.00 | 800.00 | 200.00 | 20.0% |',
    '',
    COLLECTIVE,
    '',
    SAVING,
    '',
    END_TO_END,
    '',
    MEMORY,
    '',
    '> **Warning:** Too big.',
    '',
    '## Sites in each decoder layer',
    '',
    '| Decision | Applied | Site | Kept µs | Deferred µs | Saved µs | Why not |',
    '| :--- | :--- | :--- | ---: | ---: | ---: | :--- |',
    '| defer | after linear | ln1 → qkv | 12.00 | 10.50 | 1.50 |  |',
    '| defer | after ·V | softmax → ·V | 9.00 | 8.00 | 1.00 |  |',
    '| defer | after RoPE | n2 → up | 3.00 | 2.00 | 1.00 |  |',
    '| defer | on logits | n3 → q | 3.00 | 2.00 | 1.00 |  |',
    '| defer | after down proj | n4 → fc | 3.00 | 2.00 | 1.00 |  |',
    '| ineligible |  | post |  |  | 0.00 | post-norm |',
    '| keep |  | n5 → out | 5.00 | 6.00 | 0.00 |  |',
    '',
    '## Sites in the head',
    '',
    '| Decision | Applied | Site | Kept µs | Deferred µs | Saved µs | Why not |',
    '| :--- | :--- | :--- | ---: | ---: | ---: | :--- |',
    '| keep |  | norm → lm head | 7.00 | 7.25 | 0.00 |  |',
    '',
    '## Notes',
    '',
    '- First note.',
    '',
    '## Numerics',
    '',
    'Baseline and deferred forms against a float64 reference on seeded tensors shaped like the model\'s (seed 3, accumulation fp32); "within" means the deferred max error is at most 4× the baseline\'s.',
    '',
    '| Site | Dtype | Offset | Baseline max | Deferred max | Deferred mean | Within |',
    '| :--- | :--- | :--- | ---: | ---: | ---: | :--- |',
    '| RMSNorm → Linear | bf16 |  | 1.00e-3 | 2.00e-3 | 5.00e-4 | no |',
    '',
    '## Rewritten code',
    '',
    '### decoder: ln1 → qkv (defer)',
    '',
    'Before:',
    '',
    '```python',
    'y = ln(x)',
    '```',
    '',
    'After:',
    '',
    '```python',
    'y = r * (x @ W)',
    '```',
    '',
    '### decoder: softmax → ·V (defer)',
    '',
    'Before:',
    '',
    // Three backticks inside: a fence of four.
    '````python',
    'doc = """```"""',
    '````',
    '',
    'After:',
    '',
    '```python',
    'o = e @ V / l',
    '```',
    '',
    '',
    '## Assumptions',
    '',
    '- One assumption.',
    '',
    '## Where the hardware numbers come from',
    '',
    '| Number | Source |',
    '| :--- | :--- |',
    '| matrix.peak | datasheet |',
    '| vector.rate | assumption |',
    '',
    '- \\[src1\\] A paper.',
    '',
  ].join('\n');
  assert.equal(formatMarkdown(r), expected);
  // Without notes, warnings or sources, their sections are left out.
  const bare = formatMarkdown({ ...handReport(), model: { ...handReport().model, notes: [] }, hardware: { ...handReport().hardware, sources: [] } });
  assert.equal(bare.includes('## Notes'), false);
  assert.equal(bare.includes('\\[src1\\]'), false);
  assert.ok(bare.endsWith('| vector.rate | assumption |\n'));
});

test('terminal table: the lines around the tables, and each table cell', () => {
  const text = formatTable(handReport());
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 6), [
    'Deferred Norm Profiler: A simulated estimate.',
    '',
    // 1.5 B parameters of which 250 M are active.
    'Model     Tiny (tiny, 2 layers, hidden 64, 1.50 B params, 250.0 M active)',
    'Hardware  box: A Box',
    'Workload  decode, context 1024, batch 8, tp 2, fp8, softmax offset online, scales as deep as they go, 4 tiles',
    '',
  ]);
  const at = lines.indexOf(COLLECTIVE);
  assert.ok(at > 0);
  assert.equal(lines[at - 1], '');
  assert.deepEqual(lines.slice(at + 1, at + 10), ['', SAVING, '', END_TO_END, '', MEMORY, '', 'Warning: Too big.', '']);
  assert.equal(lines[at + 10], 'Sites in each decoder layer (µs per layer):');
  const cells = (has: string) => lines.map((l) => l.split(/\s{2,}/)).find((c) => c.includes(has))!;
  assert.deepEqual(cells('decoder (MHA 2 heads)'), ['decoder (MHA 2 heads)', '0–1', '400.00', '300.00', '100.00', '25.0%']);
  assert.deepEqual(cells('whole model'), ['whole model', '3', '1,000.00', '800.00', '200.00', '20.0%']);
  assert.deepEqual(cells('ln1 → qkv'), ['defer', 'after linear', 'ln1 → qkv', '12.00', '10.50', '1.50']);
  assert.deepEqual(cells('n4 → fc'), ['defer', 'after down proj', 'n4 → fc', '3.00', '2.00', '1.00']);
  assert.deepEqual(cells('ineligible'), ['ineligible', 'post', '0.00', 'post-norm']);
  assert.ok(lines.includes('Sites in the head (µs per layer):'));
  assert.deepEqual(lines.slice(-7), [
    '',
    'Notes:',
    '  - First note.',
    '',
    'Where the numbers come from: deferred-norm hardware show box',
    'Does the rewrite keep the numbers: deferred-norm verify /m/config.json',
    '',
  ]);
  // All parameters active: no "active" part; no notes: no Notes section.
  const dense = formatTable({ ...handReport(), model: { ...handReport().model, params: { total: 8e6, active: 8e6 }, notes: [] } });
  assert.ok(dense.includes('hidden 64, 8.0 M params)\n'));
  assert.equal(dense.includes('Notes:'), false);
});

test('formatNumerics: the table, the overflow cases and the fold, line by line', () => {
  const text = formatNumerics(
    {
      entries: [
        { site: 'RMSNorm → Linear', siteKind: 'rmsnorm-linear', dtype: 'bf16', baselineMaxRelErr: 1e-3, baselineMeanRelErr: 1e-4, deferredMaxRelErr: 2e-3, deferredMeanRelErr: 5e-4, withinBaseline: true },
        { site: 'Softmax → ·V', siteKind: 'softmax-v', dtype: 'fp16', offset: 'bound', baselineMaxRelErr: 0, baselineMeanRelErr: 0, deferredMaxRelErr: Infinity, deferredMeanRelErr: 0.25, withinBaseline: false },
      ],
      overflow: [{ dtype: 'fp16', maxLogit: 24, offset: 'none', overflowed: true, note: 'c = 0' }],
      layerNormFold: { maxAbsErr: 0, maxRelErr: 2.5e-16, ok: true },
      tolerance: 4,
      seed: 1,
      shape: { hidden: 64, outFeatures: 32, multiOut: [32], headDim: 16, context: 128, rows: 4 },
      accumulate: 'fp32',
    },
    'Tiny',
  );
  // Columns padded to their widest cell (16, 5, 6, 12, 12, 13, 6), figures right-aligned, two spaces apart.
  const row = (c: string[]) =>
    [c[0]!.padEnd(16), c[1]!.padEnd(5), c[2]!.padEnd(6), c[3]!.padStart(12), c[4]!.padStart(12), c[5]!.padStart(13), c[6]!.padEnd(6)].join('  ').trimEnd();
  assert.equal(
    text,
    [
      'Numerics of the rewrite for Tiny: baseline and deferred forms against a float64 reference',
      '(seed 1; tensors 4 rows × hidden 64, outputs 32, head_dim 16, context 128; accumulation fp32).',
      '"Within" means the deferred form\'s max relative error is at most 4× the baseline\'s own.',
      '',
      row(['Site', 'Dtype', 'Offset', 'Baseline max', 'Deferred max', 'Deferred mean', 'Within']),
      ['─'.repeat(16), '─'.repeat(5), '─'.repeat(6), '─'.repeat(12), '─'.repeat(12), '─'.repeat(13), '─'.repeat(6)].join('  '),
      row(['RMSNorm → Linear', 'bf16', '', '1.00e-3', '2.00e-3', '5.00e-4', 'yes']),
      // 0 is written 0, a non-finite error as JavaScript writes it.
      row(['Softmax → ·V', 'fp16', 'bound', '0', 'Infinity', '2.50e-1', 'NO']),
      '',
      'Softmax offset and overflow:',
      '  fp16, max logit 24, offset none: overflows. c = 0',
      '',
      'LayerNorm fold W̃ = (I − 11ᵀ/n)·diag(γ)·W, c = β·W + b against the unfolded layer in float64: max relative error 2.50e-16 (ok).',
      '',
      'Some deferred form is worse than its baseline beyond the tolerance.',
      '',
    ].join('\n'),
  );
});

test("numerics options: the site kinds each model's rewrite sites call for", async () => {
  const kinds = async (name: string) => numericsOptionsFor(await loadFixture(name)).sites.slice().sort();
  // Llama: RoPE, no bias: the scale may travel past RoPE and into the attention; q, k, v share a norm.
  assert.deepEqual(await kinds('Llama-3.1-8B'), ['norm-multi-linear', 'rmsnorm-attention', 'rmsnorm-linear', 'rmsnorm-rope', 'softmax-v']);
  // T5: relative positions (no RoPE), a ReLU MLP that passes r to the down projection.
  assert.deepEqual(await kinds('t5-small'), ['norm-multi-linear', 'rmsnorm-linear', 'rmsnorm-relu-down', 'softmax-v']);
  // Qwen2's q, k, v carry a bias: no deeper deferral.
  assert.deepEqual(await kinds('Qwen2-7B-Instruct'), ['norm-multi-linear', 'rmsnorm-linear', 'softmax-v']);
  // GPT-2: one fused consumer (c_attn) per LayerNorm, and its final LayerNorm → lm_head.
  assert.deepEqual(await kinds('GPT-2'), ['layernorm-linear', 'softmax-v']);
  // BERT: post-norms only (ineligible) and no LM head: the Softmax alone.
  assert.deepEqual(await kinds('bert-base-uncased'), ['softmax-v']);
  const bert = await loadFixture('bert-base-uncased');
  const check = numericsFor(bert, 9);
  assert.equal(check.seed, 9);
  assert.deepEqual([...new Set(check.entries.map((e) => e.siteKind))], ['softmax-v']);
});
