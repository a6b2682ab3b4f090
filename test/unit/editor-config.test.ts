/**
 * The pure parts of the config.json editor features: keys by offset, field ranges, the analysis
 * (roles, problems, figures) and the hover, lens and status texts. Expected values are derived by
 * hand here from the fixture's numbers, not read back from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import { buildPanelView } from '../../src/common/panel-view';
import { analyzeConfigText, DIVISOR_SEARCH_SPAN, nearestDivisors, type ConfigAnalysis, type WorkMeter } from '../../src/extension/editor/analysis';
import { AnalysisWorker, ENCODE_PIECE_CHARS, encodeInPieces, HostStretches, LARGE_TEXT_CHARS, AnalysisWorkers, snapshotOfText, type CancelToken, type DocumentSnapshot } from '../../src/extension/editor/analysis-client';
import { fieldRange, keyAt } from '../../src/extension/editor/config-keys';
import { bytesText, endToEndText, escapeMarkdown, fitText, hoverText, lensTitle, openReportLink, shortWorkload, statusText } from '../../src/extension/editor/hover-text';
import { mightBeModelConfig } from '../../src/extension/editor/markers';
import { cancelSource } from './helpers/cancel';
import type { WorkloadInput } from '../../src/common/protocol';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'configs');
const DEFAULT_INPUT: WorkloadInput = { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' };

function fixture(model: string): { text: string; path: string } {
  const path = join(FIXTURES, model, 'config.json');
  return { text: readFileSync(path, 'utf8'), path };
}

function analyze(text: string, path = '/models/x/config.json', input = DEFAULT_INPUT, hardware = 'dimc'): ConfigAnalysis {
  const outcome = analyzeConfigText(text, path, getPreset(hardware), input);
  assert.equal(outcome.kind, 'model', `expected a model config, got ${outcome.kind}`);
  return (outcome as { analysis: ConfigAnalysis }).analysis;
}

function hover(analysis: ConfigAnalysis, key: string): string {
  const field = analysis.fields.find((f) => f.key === key);
  assert.ok(field, `${key} has a role`);
  const text = hoverText({ role: field.role, key, analysis, hardwareLabel: 'dimc', uriJson: { scheme: 'file', path: '/models/x/config.json' } });
  assert.ok(text);
  return text;
}

/** A config with one value replaced (the text stays as the fixture writes it). */
function edited(model: string, key: string, value: string): string {
  const { text } = fixture(model);
  const pattern = new RegExp(`("${key}":\\s*)[^,\\n]+`);
  assert.ok(pattern.test(text), `${key} is in ${model}`);
  return text.replace(pattern, `$1${value}`);
}

test('keyAt: on a key and on its value, the key and its path; elsewhere nothing', () => {
  const { text } = fixture('Llama-3.1-8B');
  const at = text.indexOf('"hidden_size"');
  assert.deepEqual(keyAt(text, at + 3), { path: ['hidden_size'], key: 'hidden_size', start: at, end: at + '"hidden_size"'.length });
  assert.deepEqual(keyAt(text, text.indexOf('4096', at) + 1)?.path, ['hidden_size']);
  // Inside an array of names: the list's key.
  assert.deepEqual(keyAt(text, text.indexOf('LlamaForCausalLM') + 2)?.path, ['architectures']);
  // Between members, and on an object-valued key's value.
  assert.equal(keyAt(text, 1), undefined);
  assert.deepEqual(keyAt(text, text.indexOf('"factor"') + 2)?.path, ['rope_scaling', 'factor']);
  const nested = fixture('Llava-1.5-7b-hf').text;
  const eps = nested.indexOf('"rms_norm_eps"');
  assert.deepEqual(keyAt(nested, eps + 1)?.path, ['text_config', 'rms_norm_eps']);
});

test('fieldRange: the property and its value by path; null for a missing field', () => {
  const text = '{\n  "a": 1,\n  "text_config": { "num_key_value_heads": 7 }\n}';
  const range = fieldRange(text, ['text_config', 'num_key_value_heads']);
  assert.ok(range);
  assert.equal(text.slice(range.property.start, range.property.end), '"num_key_value_heads": 7');
  assert.equal(text.slice(range.value.start, range.value.end), '7');
  assert.equal(fieldRange(text, ['missing']), null);
  assert.equal(fieldRange(text, []), null);
  // Python's bare Infinity, which jsonc-parser reads as no value: the key's property still, the token as its value.
  const bare = '{\n  "hidden_size":  Infinity,\n  "n": NaN\n}';
  const inf = fieldRange(bare, ['hidden_size']);
  assert.ok(inf);
  assert.equal(bare.slice(inf.property.start, inf.property.end), '"hidden_size":  Infinity');
  assert.equal(bare.slice(inf.value.start, inf.value.end), 'Infinity');
  assert.equal(bare.slice(fieldRange(bare, ['n'])?.value.start, fieldRange(bare, ['n'])?.value.end), 'NaN');
});

test('only model configs are analyzed: other JSON is not-a-model, broken JSON is invalid-json', () => {
  const tokenizer = JSON.stringify({ tokenizer_class: 'LlamaTokenizer', model_max_length: 131072, bos_token: '<s>' });
  assert.equal(mightBeModelConfig(tokenizer), false);
  assert.equal(analyzeConfigText(tokenizer, 'tokenizer_config.json', getPreset('dimc'), DEFAULT_INPUT).kind, 'not-a-model');
  // "model_type" as a value, not a key, is not a marker.
  assert.equal(mightBeModelConfig('{"note": "model_type"}'), false);
  const broken = fixture('Llama-3.1-8B').text.replace('"hidden_size": 4096,', '"hidden_size": 40');
  assert.equal(analyzeConfigText(broken, 'config.json', getPreset('dimc'), DEFAULT_INPUT).kind, 'invalid-json');
  assert.equal(mightBeModelConfig(fixture('GPT-2').text), true);
});

test('Llama-3.1-8B: KV bytes per token, attention kind, MLP share, computed hovers', () => {
  const a = analyze(fixture('Llama-3.1-8B').text);
  assert.ok(a.figures && a.model);
  // K and V × 32 layers × 8 KV heads × 128 head_dim × 2 bytes. The hover uses the simulation's own
  // cache width: dimc runs fp8 weights, and the simulator keeps activations and the KV cache at 16 bits
  // when weights are narrower, so 2 bytes (what bf16, the checkpoint's torch_dtype, also gives).
  assert.equal(a.figures.kvCache.bytesPerValue, 2);
  assert.equal(a.figures.kvCache.bytesPerToken, 2 * 32 * 8 * 128 * 2);
  assert.equal(a.figures.kvCache.bytesPerToken, 131_072);
  const kv = hover(a, 'num_key_value_heads');
  assert.match(kv, /Grouped-query attention \(GQA\): 32 query heads share 8 KV heads, 4 per group/);
  assert.match(kv, /131,072 bytes per token/);
  // 131,072 B × 2,048 tokens × batch 32 = 8 GiB.
  assert.match(kv, /8\.0 GiB for 2,048 tokens × batch 32/);

  // Gated MLP: 3 × 4096 × 14336 weights of a layer's 3 × 4096 × 14336 + 2 × 4096 × 4096 + 2 × 4096 × 1024.
  const mlp = 3 * 4096 * 14336;
  const share = mlp / (mlp + 2 * 4096 * 4096 + 2 * 4096 * 1024);
  assert.ok(Math.abs(a.model.mlp.paramShare - share) < 1e-12);
  assert.match(hover(a, 'intermediate_size'), new RegExp(`${(100 * share).toFixed(1)}% of the weights`));
  assert.deepEqual(a.model.mlp.linears, ['gate_proj', 'up_proj', 'down_proj']);
  assert.ok(a.figures.layer.mlpMatrixUs > 0 && a.figures.layer.mlpMatrixUs < a.figures.layer.matrixUs);

  // hidden_size: the layer's saving as the report computes it, and both norm sites by their module names.
  const hidden = hover(a, 'hidden_size');
  const l = a.figures.layer;
  assert.equal(l.count, 32);
  assert.ok(Math.abs(l.savedUs - (l.baselineUs - l.deferredUs)) < 1e-9);
  assert.ok(hidden.includes(`saves **${l.savedUs.toFixed(2)} µs (${l.savedPct.toFixed(1)}%)**`), hidden);
  assert.match(hidden, /input\\_layernorm → q\\_proj, k\\_proj, v\\_proj \(RMSNorm, pre\): deferred/);
  assert.match(hidden, /post\\_attention\\_layernorm → gate\\_proj, up\\_proj \(RMSNorm, pre\): deferred/);
  assert.match(hidden, /4,096 values per token/);

  // The whole model: 32 layers + the head, the same saving in the hover, the lens and the status bar.
  const t = a.figures.totals;
  const head = a.figures.headUs;
  assert.ok(head);
  assert.ok(Math.abs(t.baselineUs - (32 * l.baselineUs + head.baseline)) < 1e-6);
  const pct = t.savedPct.toFixed(1);
  // README's calibration table gives 20.3% for the papers' rewrite on dimc; deferring deeper can only add to it.
  assert.ok(t.savedPct >= 20.3 - 0.05, pct);
  assert.ok(hover(a, 'num_hidden_layers').includes(`(**${pct}%**)`));
  assert.ok(lensTitle(a, 'dimc').startsWith(`Deferred norm: −${pct}% on dimc · decode b32 ctx2048 · TPOT `), lensTitle(a, 'dimc'));
  // 8 GB of fp8 weights on 2 GB cards: the warning (the lens test below derives its TP).
  assert.deepEqual(statusText(a, 'dimc').text, `$(pulse) −${pct}% dimc $(warning)`);

  assert.match(hover(a, 'rms_norm_eps'), /RMSNorm with ε = 0\.00001: r = 1\/√\(mean\(x²\)\+ε\): one sum \(Σx²\)/);
  assert.match(hover(a, 'model_type'), /Read as the \*\*llama\*\* family \(model_type "llama", LlamaForCausalLM\)/);
  assert.match(hover(a, 'architectures'), /8\.03 B parameters/);
  assert.deepEqual(a.problems, []);
});

test('every hover names the estimate, the hardware and workload, and ends with the command link', () => {
  const a = analyze(fixture('Llama-3.1-8B').text);
  const uri = { scheme: 'file', path: '/models/x/config.json' };
  for (const field of a.fields) {
    const text = hoverText({ role: field.role, key: field.key, analysis: a, hardwareLabel: 'dimc', uriJson: uri });
    assert.ok(text);
    assert.match(text, /_Simulated estimate on dimc · decode b32 ctx2048 \(fp8\), not a measurement\._/);
    assert.ok(text.endsWith(`[Open report](${openReportLink(uri)})`), field.key);
  }
  assert.equal(openReportLink(uri), `command:deferredNorm.profileModel?${encodeURIComponent(JSON.stringify([uri]))}`);
});

test('aliases are the core\'s: GPT-2 n_embd, n_head, n_layer, layer_norm_epsilon; MHA', () => {
  const a = analyze(fixture('GPT-2').text);
  const roles = Object.fromEntries(a.fields.map((f) => [f.key, f.role]));
  assert.deepEqual(roles, { architectures: 'architectures', layer_norm_epsilon: 'eps', model_type: 'modelType', n_embd: 'hidden', n_head: 'heads', n_layer: 'layers', vocab_size: 'vocab' });
  assert.ok(a.figures);
  // K and V × 12 layers × 12 heads × 64 head_dim (768 / 12) × 2 bytes.
  assert.equal(a.figures.kvCache.bytesPerToken, 2 * 12 * 12 * 64 * 2);
  assert.match(hover(a, 'n_head'), /Multi-head attention \(MHA\)/);
  assert.match(hover(a, 'layer_norm_epsilon'), /LayerNorm with ε = 0\.00001: mean and variance: two sums \(Σx, Σx²\)/);
});

test('Mixtral: routing on the expert keys, active and total parameters', () => {
  const a = analyze(fixture('Mixtral-8x7B-v0.1').text);
  const experts = hover(a, 'num_local_experts');
  assert.match(experts, /each token goes to the top 2 of 8 experts/);
  assert.match(experts, /12\.88 B of 46\.70 B parameters are active per token/);
  assert.match(hover(a, 'num_experts_per_tok'), /top 2 of 8/);
  assert.match(hover(a, 'intermediate_size'), /14,336 wide per expert/);
});

test('workload and hardware follow the input: prefill on gpu-h100', () => {
  const a = analyze(fixture('Llama-3.1-8B').text, '/m/config.json', { ...DEFAULT_INPUT, phase: 'prefill', batch: 1, seq: 4096 }, 'gpu-h100');
  assert.ok(a.figures);
  assert.equal(a.figures.hardware, 'gpu-h100');
  assert.equal(shortWorkload(a.figures.workload), 'prefill b1 seq4096');
  assert.equal(shortWorkload({ ...a.figures.workload, tp: 2 }), 'prefill b1 seq4096 tp2');
  assert.ok(lensTitle(a, 'gpu-h100').startsWith('Deferred norm: '));
  // A tensor-parallel degree the heads cannot take is the settings' error, not the file's.
  const bad = analyze(fixture('Llama-3.1-8B').text, '/m/config.json', { ...DEFAULT_INPUT, tp: 3 });
  assert.equal(bad.figures, null);
  assert.equal(bad.error?.inFile, false);
  assert.deepEqual(bad.problems, []);
  assert.equal(lensTitle(bad, 'dimc'), 'Deferred norm: not profiled (settings)');
});

test('problems: KV heads not dividing heads, with the nearest divisors as fixes', () => {
  const a = analyze(edited('Llama-3.1-8B', 'num_key_value_heads', '7'));
  const p = a.problems.find((x) => x.path.join('.') === 'num_key_value_heads');
  assert.ok(p, JSON.stringify(a.problems));
  assert.equal(p.severity, 'error');
  assert.match(p.message, /7 KV heads do not divide the 32 attention heads/);
  // Divisors of 32 by distance from 7: 8 (1), 4 (3), 2 (5).
  assert.deepEqual(p.fixes, [8, 4, 2]);
  // The core refuses the same field: one problem for it, not two.
  assert.equal(a.problems.filter((x) => x.path.join('.') === 'num_key_value_heads').length, 1);
  assert.equal(a.figures, null);
});

test('problems: heads not dividing hidden, zero and negative sizes, all at once', () => {
  let text = edited('Llama-3.1-8B', 'num_attention_heads', '30');
  text = text.replace('"intermediate_size": 14336', '"intermediate_size": 0').replace('"vocab_size": 128256', '"vocab_size": -5');
  const a = analyze(text);
  const byPath = new Map(a.problems.map((p) => [p.path.join('.'), p]));
  assert.match(byPath.get('num_attention_heads')?.message ?? '', /30 heads do not divide the hidden size 4096/);
  // Divisors of 4096 near 30: 32 (2), 16 (14), 8 (22); 64 is 34 away.
  assert.deepEqual(byPath.get('num_attention_heads')?.fixes, [32, 16, 8]);
  assert.match(byPath.get('intermediate_size')?.message ?? '', /must be a positive integer, found 0/);
  assert.match(byPath.get('vocab_size')?.message ?? '', /found -5/);
  // 30 is not a multiple of the 8 KV heads either: the heads' problem says so, and the KV heads are not blamed.
  assert.match(byPath.get('num_attention_heads')?.message ?? '', /4096 \/ 30 = 136\.53.*nor is 30 a multiple of the 8 KV heads/);
  assert.ok(!byPath.has('num_key_value_heads'));
});

test('problems: a layer pattern whose length is not the layer count; a sliding pattern beyond it', () => {
  const base = JSON.parse(fixture('Llama-3.1-8B').text) as Record<string, unknown>;
  const a = analyze(JSON.stringify({ ...base, layer_types: Array(30).fill('full_attention') }));
  assert.match(a.problems.find((p) => p.path[0] === 'layer_types')?.message ?? '', /30 entries for 32 layers/);
  const g = analyze(JSON.stringify({ ...base, sliding_window_pattern: 40 }));
  assert.equal(g.problems.find((p) => p.path[0] === 'sliding_window_pattern')?.severity, 'warning');
});

test('problems: an unknown model_type read by its fields is information; the core\'s InputError lands on its field', () => {
  const unknown = analyze(edited('Llama-3.1-8B', 'model_type', '"acme_lm"').replace('"LlamaForCausalLM"', '"AcmeForCausalLM"'));
  assert.ok(unknown.figures, 'still profiled');
  const info = unknown.problems.find((p) => p.path[0] === 'model_type');
  assert.equal(info?.severity, 'information');
  assert.match(info?.message ?? '', /Unknown model_type "acme_lm": read by its fields/);
  assert.match(hover(unknown, 'model_type'), /Unknown model_type "acme\\_lm": read by its fields/);

  const eps = analyze(edited('Llama-3.1-8B', 'rms_norm_eps', '5'), '/models/x/config.json');
  const p = eps.problems.find((x) => x.path[0] === 'rms_norm_eps');
  assert.equal(p?.severity, 'error');
  assert.equal(p?.message, '/models/x/config.json: rms_norm_eps: expected a positive number below 1 (a norm epsilon), found 5');
  // The hover says why there are no figures instead.
  assert.match(hover(eps, 'hidden_size'), /Not profiled: \/models\/x\/config\\\.json: rms\\_norm\\_eps/);

  const mamba = analyze(fixture('falcon-mamba-7b').text);
  assert.equal(mamba.problems.find((x) => x.path[0] === 'model_type')?.severity, 'information');
});

test('model strings are escaped: a hostile name cannot add a link or a command', () => {
  const hostile = '](command:workbench.action.terminal.new) <img src=x> `code` *b*';
  const base = JSON.parse(fixture('Llama-3.1-8B').text) as Record<string, unknown>;
  const a = analyze(JSON.stringify({ ...base, model_type: hostile, architectures: [hostile] }));
  for (const key of ['model_type', 'architectures', 'hidden_size']) {
    const text = hover(a, key);
    // The only link is ours, at the end.
    assert.equal(text.split('](command:').length - 1, 1, text);
    assert.ok(!/(^|[^\\])</.test(text), 'no raw HTML');
  }
  assert.equal(escapeMarkdown('a_b [c](d)\n`e`'), 'a\\_b \\[c\\]\\(d\\) \\`e\\`');
});

test('nearestDivisors and bytesText', () => {
  assert.deepEqual(nearestDivisors(32, 7), [8, 4, 2]);
  assert.deepEqual(nearestDivisors(12, 5), [4, 6, 3]);
  assert.deepEqual(nearestDivisors(1, 3), [1]);
  assert.equal(bytesText(512), '512 B');
  assert.equal(bytesText(131_072), '128 KiB');
  assert.equal(bytesText(8 * 1024 ** 3), '8.0 GiB');
});

// ---- issue 16: hostile inputs never stall the editor ----

const HOSTILE = join(import.meta.dirname, '..', 'fixtures', 'hostile', 'editor');
const hostile = (name: string): string => readFileSync(join(HOSTILE, name), 'utf8');

function analyzeMetered(text: string, meter: WorkMeter, path = '/models/x/config.json'): ConfigAnalysis {
  const outcome = analyzeConfigText(text, path, getPreset('dimc'), DEFAULT_INPUT, meter);
  assert.equal(outcome.kind, 'model', `expected a model config, got ${outcome.kind}`);
  return (outcome as { analysis: ConfigAnalysis }).analysis;
}

test('nearestDivisors: a bounded search beside the written count, whatever the size (a typed 1e20 froze the host)', () => {
  // 1e20 = 2^20 · 5^20: outward from 7, 6 = 2·3 does not divide it, 8 does; then 5 (9 does not); then 4.
  const meter = { steps: 0 };
  assert.deepEqual(nearestDivisors(1e20, 7, 3, meter), [8, 5, 4]);
  assert.ok(meter.steps > 0 && meter.steps <= 2 * DIVISOR_SEARCH_SPAN, `${meter.steps} candidates`);
  // 2^53 − 1 = 6361 · 69431 · 20394401: within the span around 7 only 1 divides it, so the search
  // walks the whole span, and no further (a full search walked 9.5e7 candidates).
  const whole = { steps: 0 };
  assert.deepEqual(nearestDivisors(2 ** 53 - 1, 7, 3, whole), [1]);
  assert.equal(whole.steps, 2 * DIVISOR_SEARCH_SPAN);
  // 1e300 heads (a float far beyond 2^53): still at most the span's candidates.
  const huge = { steps: 0 };
  nearestDivisors(1e300, 7, 3, huge);
  assert.ok(huge.steps <= 2 * DIVISOR_SEARCH_SPAN);
});

test('a hostile config: hidden_size 1e20 with 7 heads gets its problems and fixes, in bounded work', () => {
  const meter = { steps: 0 };
  const a = analyzeMetered(hostile('hidden-1e20-7-heads.json'), meter);
  const heads = a.problems.find((p) => p.path.join('.') === 'num_attention_heads');
  assert.ok(heads, a.problems.map((p) => p.message).join('\n'));
  assert.deepEqual(heads.fixes, [8, 5, 4]);
  // The core's own limit names the hidden size.
  assert.match(a.problems.find((p) => p.path.join('.') === 'hidden_size')?.message ?? '', /hidden_size: expected a positive integer no larger than/);
  assert.equal(a.figures, null);
  assert.ok(meter.steps <= 4 * DIVISOR_SEARCH_SPAN + 200, `${meter.steps} steps`);
  // Nested in text_config, the same.
  const nested = analyzeMetered(hostile('text-config-hidden-1e20.json'), { steps: 0 });
  assert.deepEqual(nested.problems.find((p) => p.path.join('.') === 'text_config.num_attention_heads')?.fixes, [8, 5, 4]);
});

test('the keys with a role are probed by name: a config with 100,000 other keys costs the same steps', () => {
  const { text } = fixture('Llama-3.1-8B');
  const plain = { steps: 0 };
  analyzeMetered(text, plain);
  const padded = JSON.stringify({ ...JSON.parse(text), ...Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`junk_${i}`, i])) });
  const many = { steps: 0 };
  const a = analyzeMetered(padded, many);
  assert.ok(plain.steps > 0);
  assert.equal(many.steps, plain.steps);
  assert.deepEqual(a.fields.map((f) => f.key).sort(), ['hidden_size', 'intermediate_size', 'model_type', 'architectures', 'num_attention_heads', 'num_hidden_layers', 'num_key_value_heads', 'rms_norm_eps', 'torch_dtype', 'vocab_size'].sort());
});

test('file keys never reach JavaScript internals: a "__proto__" object in a commented config is not read through', () => {
  // With a comment the JSON goes through jsonc-parser, whose "__proto__" member becomes the object's
  // prototype: `key in config` and config[key] then read the file's inherited values.
  const notAModel = '{\n  // a tokenizer file\n  "__proto__": { "model_type": "llama", "hidden_size": 4096 },\n  "note": 1\n}';
  assert.equal(analyzeConfigText(notAModel, 'c.json', getPreset('dimc'), DEFAULT_INPUT).kind, 'not-a-model');
  const inherited = '{\n  // from a hub\n  "__proto__": { "num_attention_heads": 7, "num_key_value_heads": 3 },\n  "model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2, "intermediate_size": 128\n}';
  const a = analyze(inherited);
  // No problem about heads the file does not hold at the top level.
  assert.deepEqual(a.problems.filter((p) => /heads/.test(p.message)), []);
  assert.ok(a.fields.every((f) => f.key !== 'num_attention_heads'));
});

// The worker as the extension runs it, from its TypeScript source (tsx in the worker thread).
const WORKER_SCRIPT = join(import.meta.dirname, '..', '..', 'src', 'extension', 'editor', 'worker.ts');
const newWorker = (jobLimitMs?: number): AnalysisWorker => new AnalysisWorker({ script: WORKER_SCRIPT, execArgv: ['--require', 'tsx/cjs'], jobLimitMs });
const snapshot = (text: string, version = 1, path = '/models/x/config.json'): DocumentSnapshot => snapshotOfText(`file://${path}`, version, path, text);
const nanConfig = (entries: number): string => `{"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 2, "intermediate_size": 14336, "vocab_size": 128256, "x": [${'NaN,'.repeat(entries - 1)}NaN]}`;


test('the analysis worker answers what the analysis computes in-process, problem ranges and keys included', async () => {
  const worker = newWorker();
  try {
    const texts = [fixture('Llama-3.1-8B').text, hostile('hidden-1e20-7-heads.json'), edited('Llama-3.1-8B', 'num_key_value_heads', '7')];
    // One document, edited from one text to the next: each is a new version.
    for (const [version, text] of texts.entries()) {
      const result = await worker.analyze(snapshot(text, version), getPreset('dimc'), null, DEFAULT_INPUT);
      assert.ok(result);
      assert.deepEqual(result.outcome, analyzeConfigText(text, '/models/x/config.json', getPreset('dimc'), DEFAULT_INPUT));
      const problems = result.outcome.kind === 'model' ? result.outcome.analysis.problems : [];
      assert.deepEqual(result.ranges, problems.map((p) => fieldRange(text, p.path)));
      const at = text.indexOf('"hidden_size"') + 3;
      assert.deepEqual(await worker.keyAt(snapshot(text, version), at), keyAt(text, at) ?? null);
    }
    // A broken hardware profile: the model says why instead of a figure.
    const broken = await worker.analyze(snapshot(fixture('Llama-3.1-8B').text), null, 'lab.hardware.json: line 1: expected valid JSON', DEFAULT_INPUT);
    assert.ok(broken?.outcome.kind === 'model');
    assert.equal(broken.outcome.analysis.figures, null);
    assert.equal(broken.outcome.analysis.error?.message, 'lab.hardware.json: line 1: expected valid JSON');
    assert.equal(worker.started, 1);
  } finally {
    worker.dispose();
  }
});

test('the analysis worker: a canceled request ends without an answer; a stuck job restarts the worker', async () => {
  const worker = newWorker();
  try {
    const early = cancelSource();
    early.cancel();
    assert.equal(await worker.analyze(snapshot(fixture('GPT-2').text), getPreset('dimc'), null, DEFAULT_INPUT, early.token), undefined);
    // Queued behind a long job (a 4-million-entry NaN array), then canceled: it never runs.
    const long = worker.analyze(snapshot(nanConfig(4_000_000), 1, '/models/nan/config.json'), getPreset('dimc'), null, DEFAULT_INPUT);
    const queued = cancelSource();
    const behind = worker.analyze(snapshot(fixture('GPT-2').text, 2), getPreset('dimc'), null, DEFAULT_INPUT, queued.token);
    queued.cancel();
    assert.equal(await behind, undefined);
    const done = await long;
    assert.equal(done?.outcome.kind, 'model');
  } finally {
    worker.dispose();
  }
  // A job over the limit: the worker is replaced and the job fails with a message; the next one runs.
  const impatient = newWorker(1);
  try {
    await assert.rejects(impatient.analyze(snapshot(nanConfig(1_000_000)), getPreset('dimc'), null, DEFAULT_INPUT), /took over 0\.001 s; the worker was restarted/);
    assert.equal(impatient.started, 1);
    await assert.rejects(impatient.analyze(snapshot(fixture('GPT-2').text), getPreset('dimc'), null, DEFAULT_INPUT), /the worker was restarted/);
    assert.equal(impatient.started, 2);
  } finally {
    impatient.dispose();
  }
});

test('the text goes to the worker in UTF-8 pieces, one per turn of the event loop, never splitting a surrogate pair', async () => {
  // A pair straddles the first boundary: it goes whole into the first piece.
  const text = 'a'.repeat(ENCODE_PIECE_CHARS - 1) + '😀' + 'é'.repeat(ENCODE_PIECE_CHARS) + 'z';
  let turns = 0;
  const counting = setInterval(() => turns++, 0);
  const stretches = new HostStretches();
  const pieces = await encodeInPieces(snapshot(text), new TextEncoder(), undefined, stretches);
  clearInterval(counting);
  assert.ok(pieces);
  // ENCODE_PIECE_CHARS + 1 characters, then ENCODE_PIECE_CHARS, then the last one: three pieces.
  assert.equal(pieces.length, 3);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  assert.equal(pieces.map((p) => decoder.decode(p)).join(''), text);
  assert.equal(decoder.decode(pieces[0]).slice(-2), '😀');
  assert.ok(turns >= 1, 'timers ran between the pieces');
  assert.equal(stretches.longestWhat, 'read and encode a piece');
  // Canceled between pieces: no pieces.
  let canceled = false;
  const token: CancelToken = { get isCancellationRequested() { return canceled; }, onCancellationRequested: () => ({ dispose() {} }) };
  const pending = encodeInPieces(snapshot(text), new TextEncoder(), token);
  canceled = true;
  assert.equal(await pending, undefined);
  // Changed between pieces (a keystroke meanwhile): no pieces, never a text torn between two versions.
  let edited = false;
  const changing = { ...snapshot(text), stale: () => edited };
  const torn = encodeInPieces(changing, new TextEncoder());
  edited = true;
  assert.equal(await torn, undefined);
  // A text of one piece is one piece (an empty one too).
  assert.equal((await encodeInPieces(snapshot(''), new TextEncoder()))?.length, 1);
});

test('large texts go to a worker of their own, so an ordinary config never queues behind one', () => {
  const workers = new AnalysisWorkers({ script: WORKER_SCRIPT });
  assert.equal(workers.for(snapshot('x'.repeat(LARGE_TEXT_CHARS))), workers.small);
  assert.equal(workers.for(snapshot('x'.repeat(LARGE_TEXT_CHARS + 1))), workers.large);
  // Neither was started by being chosen.
  assert.equal(workers.small.started + workers.large.started, 0);
  workers.dispose();
});

test('the worker reads and profiles the config beside modeling code: the same report as in-process; a hostile one gets the core\'s message', async () => {
  const worker = newWorker();
  try {
    const { path } = fixture('Llama-3.1-8B');
    const answer = await worker.report(path, getPreset('dimc'), 'dimc', DEFAULT_INPUT);
    const spec = await loadModel(path);
    const expected = buildPanelView(spec, getPreset('dimc'), DEFAULT_INPUT, { hardware: 'dimc', hardwareChoices: [], interactive: false, numerics: null, sweep: null }).report;
    assert.deepEqual(answer, { report: expected, error: null });
    const hostilePath = join(HOSTILE, 'hidden-1e20-7-heads.json');
    const refused = await worker.report(hostilePath, getPreset('dimc'), 'dimc', DEFAULT_INPUT);
    assert.equal(refused?.report, null);
    assert.match(refused?.error ?? '', /hidden-1e20-7-heads\.json: hidden_size: expected a positive integer no larger than/);
  } finally {
    worker.dispose();
  }
});

test('a large text that names no model key is looked at by the worker, not the host: not a model', async () => {
  const worker = newWorker();
  try {
    const big = `{"note": 1, "x": [${'1,'.repeat(LARGE_TEXT_CHARS / 2)}1]}`;
    assert.ok(big.length > LARGE_TEXT_CHARS);
    assert.deepEqual(await worker.analyze(snapshot(big), getPreset('dimc'), null, DEFAULT_INPUT), { outcome: { kind: 'not-a-model' }, ranges: [] });
  } finally {
    worker.dispose();
  }
});

test('problems: a head-count typo with a head_dim points at the heads and says heads × head_dim ≠ hidden (issue 20)', () => {
  // Llama-3.2-3B's shape (hidden 3072, 24 heads of 128, 8 KV heads) with 24 mistyped as 23.
  const base = JSON.parse(fixture('Llama-3.1-8B').text) as Record<string, unknown>;
  const a = analyze(JSON.stringify({ ...base, hidden_size: 3072, num_attention_heads: 23, num_key_value_heads: 8, head_dim: 128 }));
  const ours = a.problems.filter((p) => p.path[0] === 'num_attention_heads' || p.path[0] === 'num_key_value_heads');
  // 23 × 128 = 2944; 3072 / 128 = 24 heads, a multiple of 8.
  assert.deepEqual(ours.map((p) => [p.path.join('.'), p.fixes]), [['num_attention_heads', [24]]]);
  assert.equal(ours[0]!.message, 'num_attention_heads: 23 heads × head_dim 128 = 2,944 ≠ hidden size 3,072; nor is 23 a multiple of the 8 KV heads; 24 heads fit both.');
  // Gemma's and Qwen3's heads × head_dim differ from the hidden size by design: no problem when the grouping holds.
  const qwen = analyze(fixture('Qwen3-0.6B').text);
  assert.deepEqual(qwen.problems.filter((p) => p.path[0] === 'num_attention_heads'), []);
});

test('TP auto (the default): the lens, status bar and hovers say the degree used and that it was chosen', () => {
  const llama = fixture('Llama-3.1-8B');
  // On dimc, TP 8 holds 938 MB of fp8 linears + 1.07 GB of KV cache per card (over 2 GB); TP 16 fits
  // (test/unit/tensor-parallel.test.ts derives both): auto is 16, and nothing warns.
  const auto = analyze(llama.text, llama.path, { ...DEFAULT_INPUT, tp: 'auto' });
  assert.equal(auto.figures?.workload.tp, 16);
  assert.equal(auto.figures?.memory.fits, true);
  assert.match(lensTitle(auto, 'dimc'), /^Deferred norm: −\d+\.\d% on dimc · decode b32 ctx2048 TP auto → 16 · TPOT [\d.,]+ (µs|ms)$/);
  assert.match(statusText(auto, 'dimc').tooltip, /decode b32 ctx2048 TP auto → 16\./);
  assert.match(statusText(auto, 'dimc').text, /^\$\(pulse\) −\d+\.\d% dimc TP auto → 16$/);
  assert.match(hover(auto, 'num_hidden_layers'), /Memory per device: [\d.]+ GB at TP 16, the smallest that fits\./);
  // 405B on dimc fits at no degree its heads allow: TP 1, said so, with the warning.
  const big = fixture('Llama-3.1-405B');
  const none = analyze(big.text, big.path, { ...DEFAULT_INPUT, tp: 'auto' });
  assert.equal(none.figures?.workload.tp, 1);
  assert.match(lensTitle(none, 'dimc'), / TP auto → 1 · .*\$\(warning\) fits at no TP$/);
  // A number is kept as typed: no "auto".
  assert.doesNotMatch(lensTitle(analyze(llama.text, llama.path, { ...DEFAULT_INPUT, tp: 8 }), 'dimc'), /auto/);
});

test('lens and status bar: the preset, the end-to-end figure and a memory warning with the smallest TP (issue 20)', () => {
  const llama = fixture('Llama-3.1-8B');
  // dimc holds 2 GB of SRAM per card; 8.03 B weights at fp8 are 8 GB: they cannot fit one card.
  const dimc = analyze(llama.text, llama.path);
  assert.equal(dimc.figures?.memory.fits, false);
  const tp = dimc.figures!.memory.minimumTp!;
  // At least 8 GB / 2 GB = 4 cards for the weights alone, and a degree the 8 KV heads split into.
  assert.ok(tp >= 4 && 8 % tp === 0 || tp % 8 === 0, `minimum TP ${tp}`);
  assert.match(lensTitle(dimc, 'dimc'), new RegExp(`^Deferred norm: −\\d+\\.\\d% on dimc · decode b32 ctx2048 · TPOT [\\d.,]+ (µs|ms) · \\$\\(warning\\) needs TP ≥ ${tp}$`));
  assert.match(statusText(dimc, 'dimc').text, /on|dimc \$\(warning\)$/);
  assert.match(statusText(dimc, 'dimc').tooltip, new RegExp(`does not fit: TP ≥ ${tp}`));
  // On an 80 GB H100 the same model in bf16 (16 GB of weights) fits at batch 1: no warning.
  const h100 = analyze(llama.text, llama.path, { ...DEFAULT_INPUT, batch: 1 }, 'gpu-h100');
  assert.equal(h100.figures?.memory.fits, true);
  assert.doesNotMatch(lensTitle(h100, 'gpu-h100'), /warning/);
  // tokens/s is the batch over the time per output token: 1 / TPOT here.
  const e = h100.figures!.endToEnd;
  assert.ok(Math.abs(e.tokensPerSecond!.deferred - 1e6 / e.tpot!.deferredUs) < 1e-6 * e.tokensPerSecond!.deferred);
  // Prefill leads with the time to first token.
  const prefill = analyze(llama.text, llama.path, { ...DEFAULT_INPUT, phase: 'prefill', batch: 1, seq: 1024 }, 'gpu-h100');
  assert.match(endToEndText(prefill.figures!) ?? '', /^TTFT [\d.,]+ (µs|ms|s)$/);
  assert.equal(fitText(h100.figures!), null);
});

test('the formats of the short figures, from figures given by hand', () => {
  const f = analyze(fixture('Llama-3.1-8B').text).figures!;
  const given = { ...f, endToEnd: { ttft: null, tpot: { baselineUs: 13000, deferredUs: 11870 }, tokensPerSecond: { baseline: 2461.5, deferred: 2695.9 }, notes: [] }, memory: { ...f.memory, fits: false, minimumTp: null } };
  assert.equal(endToEndText(given), 'TPOT 11.87 ms, 2,696 tokens/s');
  assert.equal(fitText(given), 'does not fit at any TP');
  assert.equal(fitText({ ...given, memory: { ...given.memory, minimumTp: 16 } }), 'does not fit: TP ≥ 16');
});

test('hovers on vocab_size, head_dim and torch_dtype (issue 20)', () => {
  const llama = analyze(fixture('Llama-3.1-8B').text);
  // lm_head: 4096 × 128,256 = 525,336,576 weights of 8,030,261,248 = 6.5%; not tied in Llama-3.1-8B.
  const vocab = hover(llama, 'vocab_size');
  assert.match(vocab, /projects 4,096 → 128,256: 525\.3 M weights, 6\.5% of the model's 8\.03 B/);
  assert.doesNotMatch(vocab, /tied/);
  assert.match(vocab, /The head \(final norm and lm_head\) takes [\d.]+ µs → [\d.]+ µs of each pass/);
  assert.match(vocab, /norm → lm\\_head|norm \(RMSNorm/);
  // dimc simulates fp8 weights: 8,030,261,248 × 1 B = 8.03 GB; the file says bfloat16.
  const dtype = hover(llama, 'torch_dtype');
  assert.match(dtype, /Weights in the file: \*\*bfloat16\*\*\. Simulated in \*\*fp8\*\*/);
  assert.match(dtype, /8\.03 B weights × 1 B = \*\*8\.0 GB\*\* of weights/);
  // Qwen3-0.6B: 16 heads × 128 = 2,048 query width beside a hidden size of 1,024; 8 KV heads × 128 = 1,024;
  // KV bytes per token 28 layers × 8 × (128 + 128) values × 2 B = 114,688.
  const qwen = analyze(fixture('Qwen3-0.6B').text);
  const headDim = hover(qwen, 'head_dim');
  assert.match(headDim, /queries 16 × 128 = 2,048, keys and values 8 × 128 = 1,024 each, against the hidden size 1,024/);
  assert.match(headDim, /\*\*114,688 bytes per token\*\*: 28 layers × 2,048 values/);
  assert.match(hover(qwen, 'vocab_size'), /tied: the same matrix as the embedding table/);
});
