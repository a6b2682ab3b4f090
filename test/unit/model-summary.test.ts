import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { specFromConfig } from '../../src/core/model/config';
import { countParams } from '../../src/core/model/params';
import type { ModelSpec } from '../../src/core/model/spec';
import { formatSpecTable, indexRanges, summarizeSpec } from '../../src/core/model/summary';
import { getPreset } from '../../src/core/hardware/presets';
import { profileChecked } from '../../src/core/report/brief';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

function load(folder: string, name: string): ModelSpec {
  const path = join(__dirname, '..', 'fixtures', folder, name, 'config.json');
  return specFromConfig(JSON.parse(readFileSync(path, 'utf8')), { path, format: 'config.json' });
}

describe('summarizeSpec', () => {
  it('has the identity, sizes, params and notes of Llama-3.1-8B', () => {
    const s = summarizeSpec(load('configs', 'Llama-3.1-8B'));
    assert.deepEqual(
      [s.name, s.family, s.modelType, s.layers, s.hidden, s.heads, s.kvHeads, s.headDim, s.ffn, s.vocab, s.normKind],
      ['Llama-3.1-8B', 'llama', 'llama', 32, 4096, 32, 8, 128, 14336, 128256, 'rmsnorm'],
    );
    assert.deepEqual(s.params, { total: 8_030_261_248, active: 8_030_261_248, fromWeights: null });
    assert.equal(s.layerKinds.length, 1);
    assert.equal(s.layerKinds[0]!.layers, '0-31');
    assert.ok(Array.isArray(s.notes));
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'plain JSON');
  });

  it('lists each layer kind with ranges, attention, MLP, experts and norms with placement', () => {
    const s = summarizeSpec(load('configs', 'DeepSeek-V3'));
    const [dense, moe] = s.layerKinds;
    assert.deepEqual([dense!.id, dense!.layers, dense!.count], ['dense', '0-2', 3]);
    assert.deepEqual([moe!.id, moe!.layers, moe!.count, moe!.mlp.experts, moe!.mlp.topK, moe!.mlp.sharedExperts], ['moe', '3-60', 58, 256, 8, 1]);
    assert.equal(moe!.attention.kind, 'mla');
    assert.deepEqual(moe!.norms.map((n) => n.placement), ['pre', 'latent', 'latent', 'pre']);
    assert.ok(moe!.paramsPerLayer.active < moe!.paramsPerLayer.total);
    // Per-kind counts add up to the model's layers.
    const total = s.layerKinds.reduce((n, k) => n + k.count * k.paramsPerLayer.total, 0);
    assert.ok(total < s.params.total);
  });

  it('shows skipped layers of a hybrid and the total layer count', () => {
    const s = summarizeSpec(load('configs-extra', 'Jamba-v0.1'));
    assert.deepEqual([s.layers, s.totalLayers], [4, 32]);
    assert.equal(s.layerKinds[0]!.layers, '4, 12, 20, 28');
  });
});

describe('formatSpecTable', () => {
  it('prints identity, sizes, thousands-separated params, layer kinds and notes', () => {
    const text = formatSpecTable(load('configs', 'Mixtral-8x7B-v0.1'));
    assert.match(text, /^Mixtral-8x7B-v0\.1 {2}\(mixtral, MixtralForCausalLM\)/);
    assert.match(text, /46,702,792,704 total, 12,879,925,248 active per token/);
    assert.match(text, /MoE 8×top-2 14,336/);
    assert.match(text, /input_layernorm\(pre\)/);
    assert.doesNotMatch(text, /\u001b\[/, 'no ANSI colours');
  });
  it('prints notes and the vision tower', () => {
    const text = formatSpecTable(load('configs', 'Llava-1.5-7b-hf'));
    assert.match(text, /vision +clip_vision_model/);
    assert.match(text, /\nNotes\n {2}- /);
  });
  it('handles encoder-only models without a head', () => {
    const text = formatSpecTable(load('configs', 'bert-base-uncased'));
    assert.match(text, /encoder, 12 layers/);
    assert.match(text, /attention\.output\.LayerNorm\(post\)/);
  });
});

describe('helpers', () => {
  it('indexRanges', () => {
    assert.equal(indexRanges([]), '');
    assert.equal(indexRanges([3]), '3');
    assert.equal(indexRanges([5, 0, 1, 2, 7, 8, 9]), '0-2, 5, 7-9');
  });
  it('countParams counts a tied lm_head once, and assumes one embedding when a spec has no extras', () => {
    const spec = load('configs', 'GPT-2');
    const { extraParams: _e, ...bare } = spec;
    const withoutExtras = countParams({ ...bare, extraParams: undefined });
    // GPT-2's extras are wte and wpe; without them the count assumes wte only.
    assert.equal(withoutExtras.total, spec.params.total - 1024 * 768);
  });
});

describe('a quantized checkpoint (issue 20)', () => {
  it('gpt-oss-20b: the report says its mxfp4 weights are simulated unquantized, at the dtype the report states', async () => {
    // config.json: "quantization_config": { "quant_method": "mxfp4", … }; gpu-h100 runs bf16 unless told.
    const report = profileChecked(await loadFixture('gpt-oss-20b'), getPreset('gpu-h100'), DEFAULT_WORKLOAD);
    assert.equal(report.workload.dtype, 'bf16');
    const note = report.model.notes.find((n) => n.includes('mxfp4'));
    assert.ok(note, report.model.notes.join('\n'));
    assert.match(note, /simulated unquantized/);
    assert.match(note, /the workload's dtype/);
  });
});
