/**
 * Round trips, family by family: a real config.json → the GGUF file llama.cpp's converter would write
 * for it (helpers/gguf-converter.ts, from convert_hf_to_gguf.py's rules) → ModelSpec, which must equal
 * the config's own ModelSpec. Where the GGUF form carries less than the config (or more), the expected
 * spec is the config's after exactly that change, said in `lost` and in docs/development.md.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InputError } from '../../src/core/errors';
import { memorySource } from '../../src/core/model/bytes';
import { specFromConfig } from '../../src/core/model/config';
import { familyOf } from '../../src/core/model/families/descriptors';
import { specFromGguf } from '../../src/core/model/gguf';
import { readSafetensorsHeader, specFromSafetensors } from '../../src/core/model/safetensors';
import type { ModelSpec } from '../../src/core/model/spec';
import { fixturePath, loadFixture, profiledFixtures } from './helpers/fixtures';
import { converterMetadata, ggufFromConfig } from './helpers/gguf-converter';
import { gv, writeGguf, type GgufEntry } from './helpers/gguf-writer';
import { llamaTensors, writeSafetensors, type TensorSpec } from './helpers/safetensors-writer';

type Config = Record<string, unknown>;

/**
 * The spec but for what the two forms hold differently by nature: the source, the notes, the weights' sum
 * (the test GGUF lists only the tensors the reader looks at), the name (general.name vs the folder), the
 * dtype (GGUF's file type, F16 here, vs torch_dtype) and architectures[0] (GGUF has none).
 */
function shape(spec: ModelSpec): unknown {
  const { source: _source, notes: _notes, paramsFromWeights: _weights, name: _name, dtype: _dtype, architecture: _arch, ...rest } = spec;
  return JSON.parse(JSON.stringify(rest));
}

interface Case {
  fixture: string;
  /** What the GGUF form loses or adds, as a change to the config (none when it carries everything). */
  lost?: { why: string; change: (c: Config) => Config };
}

const without = (c: Config, ...keys: string[]) => Object.fromEntries(Object.entries(c).filter(([k]) => !keys.includes(k)));

const CASES: Case[] = [
  { fixture: 'Llama-3.1-8B' },
  { fixture: 'Llama-3.2-1B-Instruct' },
  {
    fixture: 'Mistral-7B-v0.1',
    lost: {
      why: 'converted by LlamaModel as arch "llama": no sliding window key, so every layer attends in full',
      change: (c) => ({ ...without(c, 'sliding_window'), model_type: 'llama' }),
    },
  },
  { fixture: 'Mixtral-8x7B-v0.1' },
  { fixture: 'Qwen2-7B-Instruct' },
  { fixture: 'Qwen3-0.6B' },
  { fixture: 'Qwen3-30B-A3B' },
  { fixture: 'Qwen1.5-MoE-A2.7B' },
  {
    fixture: 'Gemma-2b',
    lost: { why: 'no activation key: the family default (gelu_pytorch_tanh) replaces hidden_act "gelu"', change: (c) => without(c, 'hidden_act') },
  },
  { fixture: 'Gemma-2-9b' },
  { fixture: 'GPT-2' },
  { fixture: 'gpt-oss-20b' },
  { fixture: 'Phi-2' },
  { fixture: 'Pythia-410m' },
  { fixture: 'GPT-J-6B' },
  {
    fixture: 'Falcon-7B',
    lost: { why: 'FalconModel writes context_length 2048, which the config lacks', change: (c) => ({ ...c, max_position_embeddings: 2048 }) },
  },
  {
    fixture: 'Falcon-40B',
    lost: { why: 'FalconModel writes context_length 2048, which the config lacks', change: (c) => ({ ...c, max_position_embeddings: 2048 }) },
  },
  { fixture: 't5-small' },
  {
    fixture: 'flan-t5-small',
    lost: {
      why: 'no activation key: "gated-gelu" (told by enc.blk.0.ffn_gate) reads as gelu, not dense_act_fn "gelu_new"',
      change: (c) => without(c, 'dense_act_fn'),
    },
  },
  { fixture: 'bert-base-uncased' },
  { fixture: 'Phi-3-mini-4k-instruct' },
  { fixture: 'Gemma-3-1b-it' },
  { fixture: 'DeepSeek-V2-Lite' },
  { fixture: 'DeepSeek-V2' },
  {
    fixture: 'DeepSeek-V3',
    lost: { why: 'DeepseekV2Model converts V3 as "deepseek2": read back as deepseek_v2', change: (c) => ({ ...c, model_type: 'deepseek_v2' }) },
  },
  {
    fixture: 'BLOOM-560m',
    lost: { why: 'BloomModel writes the hidden size (1024) as the context length when the config has no seq_length', change: (c) => ({ ...c, max_position_embeddings: 1024 }) },
  },
];

function configOf(fixture: string): { path: string; config: Config } {
  const path = fixturePath(fixture);
  return { path, config: JSON.parse(readFileSync(path, 'utf8')) as Config };
}

describe('config → GGUF (as llama.cpp converts it) → the same ModelSpec, family by family', () => {
  for (const c of CASES) {
    it(`${c.fixture}${c.lost ? ` (the GGUF form ${c.lost.why})` : ''}`, async () => {
      const { path, config } = configOf(c.fixture);
      const fromConfig = specFromConfig(config, { path, format: 'config.json' });
      const expected = c.lost ? specFromConfig(c.lost.change(config), { path, format: 'config.json' }) : fromConfig;
      const file = ggufFromConfig(config, fromConfig.tiedEmbeddings);
      const fromGguf = await specFromGguf(memorySource(file.bytes), { path: '/models/x.gguf', format: 'gguf' });
      assert.deepEqual(shape(fromGguf), shape(expected));
      // Read metadata only (the editor's and the panel's first look): the same spec but for what
      // only the tensor list tells (tied embeddings, Falcon's layout, T5's gate).
      const cheap = await specFromGguf(memorySource(file.bytes), { path: '/models/x.gguf', format: 'gguf' }, {});
      assert.equal(cheap.layers, expected.layers);
      assert.equal(cheap.hidden, expected.hidden);
    });
  }
});

describe('GGUF keys the config names differently, read into the family’s own field', () => {
  it('gpt-neox: use_parallel_residual false in the GGUF gives sequential blocks, as in the config', async () => {
    const { path, config } = configOf('Pythia-410m');
    const sequential = { ...config, use_parallel_residual: false };
    const expected = specFromConfig(sequential, { path, format: 'config.json' });
    assert.equal(expected.layerKinds[0]!.block, 'pre-norm', 'the config path: sequential residual');
    const spec = await specFromGguf(memorySource(ggufFromConfig(sequential, false).bytes), { path: '/m.gguf', format: 'gguf' });
    assert.deepEqual(shape(spec), shape(expected));
  });

  it('t5: decoder_block_count sizes the decoder stack (num_decoder_layers), block_count the encoder', async () => {
    const { path, config } = configOf('t5-small');
    const uneven = { ...config, num_layers: 6, num_decoder_layers: 2 };
    const expected = specFromConfig(uneven, { path, format: 'config.json' });
    // By hand: 6 encoder layers, then 2 decoder layers.
    assert.equal(expected.layers, 8);
    const spec = await specFromGguf(memorySource(ggufFromConfig(uneven, true).bytes), { path: '/m.gguf', format: 'gguf' });
    assert.equal(spec.layers, 8);
    assert.deepEqual(shape(spec), shape(expected));
  });

  it('bert: tokenizer.ggml.token_type_count sizes the token type embeddings (type_vocab_size)', async () => {
    const { path, config } = configOf('bert-base-uncased');
    const oneType = { ...config, type_vocab_size: 1 };
    const spec = await specFromGguf(memorySource(ggufFromConfig(oneType, false).bytes), { path: '/m.gguf', format: 'gguf' });
    const twoTypes = specFromConfig(config, { path, format: 'config.json' });
    // By hand: one row of 768 fewer than bert-base's two.
    assert.equal(twoTypes.params.total - spec.params.total, 768);
  });

  it('falcon: no attn_norm_2 and one KV head → the old parallel layout; attn_norm_2 → ln_attn and ln_mlp; no tensor list → guessed from the KV heads', async () => {
    const read = async (fixture: string, opts?: { tensors?: boolean }) => {
      const { config } = configOf(fixture);
      return specFromGguf(memorySource(ggufFromConfig(config, false).bytes), { path: '/m.gguf', format: 'gguf' }, opts);
    };
    // By hand: Falcon-7B has 71 heads sharing one KV head and one input_layernorm per block;
    // Falcon-40B 128 heads, 8 KV heads, ln_attn and ln_mlp.
    const f7 = await read('Falcon-7B');
    assert.deepEqual([f7.layerKinds[0]!.attention.heads, f7.layerKinds[0]!.attention.kvHeads], [71, 1]);
    assert.deepEqual(f7.layerKinds[0]!.norms.map((n) => n.name), ['input_layernorm']);
    const f40 = await read('Falcon-40B');
    assert.deepEqual([f40.layerKinds[0]!.attention.heads, f40.layerKinds[0]!.attention.kvHeads], [128, 8]);
    assert.deepEqual(f40.layerKinds[0]!.norms.map((n) => n.name), ['ln_attn', 'ln_mlp']);
    const guessed = await read('Falcon-40B', {});
    assert.deepEqual(guessed.layerKinds[0]!.norms.map((n) => n.name), ['ln_attn', 'ln_mlp']);
    assert.ok(guessed.notes.some((n) => /guessed from the KV head count/.test(n)));
  });

  it('gpt-oss: layers alternate sliding (128 tokens) and full attention, starting with sliding', async () => {
    const { config } = configOf('gpt-oss-20b');
    const spec = await specFromGguf(memorySource(ggufFromConfig(config, false).bytes), { path: '/m.gguf', format: 'gguf' });
    const windows = spec.layerKinds.flatMap((k) => k.layers.map((i) => [i, k.attention.window] as const)).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(windows.map(([, w]) => w), Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 128 : null)));
    // 32 experts, 4 used per token (experts_per_token in the config, expert_used_count in the GGUF).
    assert.deepEqual([spec.layerKinds[0]!.mlp.experts, spec.layerKinds[0]!.mlp.topK], [32, 4]);
  });

  it('phi3: sliding_window 0 (what the converter writes for a config without one, Phi-4) means no window, as in the config', async () => {
    const { path, config } = configOf('Phi-3-mini-4k-instruct');
    const noWindow = { ...config, sliding_window: null };
    const expected = specFromConfig(noWindow, { path, format: 'config.json' });
    // By hand: every layer attends in full.
    assert.ok(expected.layerKinds.every((k) => k.attention.window === null));
    const { kv } = converterMetadata(noWindow);
    assert.deepEqual(kv.find(([k]) => k === 'phi3.attention.sliding_window')?.[1], gv.u32(0));
    const spec = await specFromGguf(memorySource(ggufFromConfig(noWindow, false).bytes), { path: '/m.gguf', format: 'gguf' });
    assert.deepEqual(shape(spec), shape(expected));
  });

  it('deepseek2: a key length shorter than the rope part is refused, naming the *_mla key it came from', async () => {
    const { config } = configOf('DeepSeek-V2-Lite');
    // qk_nope_head_dim = key_length_mla − rope = 32 − 64 < 0.
    const kv = converterMetadata(config).kv.map(([k, v]): [string, GgufEntry] => [k, k === 'deepseek2.attention.key_length_mla' ? gv.u32(32) : v]);
    await assert.rejects(
      specFromGguf(memorySource(writeGguf({ kv }).bytes), { path: '/m.gguf', format: 'gguf' }),
      (e: unknown) => e instanceof InputError && e.field === 'deepseek2.attention.key_length_mla',
    );
  });

  it('phi2: rope.dimension_count 32 of a head of 80 → partial rotary 0.4', async () => {
    const { config } = configOf('Phi-2');
    const { kv } = converterMetadata(config);
    assert.deepEqual(kv.find(([k]) => k === 'phi2.rope.dimension_count')?.[1], gv.u32(32));
    const spec = await specFromGguf(memorySource(writeGguf({ kv }).bytes), { path: '/m.gguf', format: 'gguf' });
    assert.ok(spec.notes.some((n) => n.includes('RoPE on 32 of 80 dimensions')), spec.notes.join('\n'));
  });
});

describe('a lone safetensors file: the family its tensor names point to, and the same spec as its config', () => {
  const source = { path: '/models/model.safetensors', format: 'safetensors' as const };
  const SMALL = { layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100 };
  const read = async (tensors: TensorSpec[]) => specFromSafetensors(await readSafetensorsHeader(memorySource(writeSafetensors(tensors)), source.path), source, 'tiny');
  /** The config a person would write for these sizes (eps 1e-5, as the reader assumes: the weights do not hold it). */
  const configFor = (extra: Config): Config => ({
    hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 128,
    vocab_size: 100, rms_norm_eps: 1e-5, tie_word_embeddings: false, ...extra,
  });
  /** Layer 1's MLP replaced by `experts` experts of width 24 (Qwen names), layer 0 left dense. */
  const qwenMoe = (qkNorm: boolean) => {
    const t = llamaTensors({ ...SMALL, qkNorm, invFreq: true }).filter((x) => !x.name.startsWith('model.layers.1.mlp.'));
    for (let e = 0; e < 16; e++) {
      for (const w of ['gate_proj', 'up_proj']) t.push({ name: `model.layers.1.mlp.experts.${e}.${w}.weight`, shape: [24, 64] });
      t.push({ name: `model.layers.1.mlp.experts.${e}.down_proj.weight`, shape: [64, 24] });
    }
    t.push({ name: 'model.layers.1.mlp.gate.weight', shape: [16, 64] });
    return t;
  };
  const mixtral = (qkNorm: boolean) => {
    const t = llamaTensors({ ...SMALL, layers: 1, qkNorm, invFreq: true }).filter((x) => !x.name.includes('.mlp.'));
    for (let e = 0; e < 4; e++) {
      for (const w of ['w1', 'w3']) t.push({ name: `model.layers.0.block_sparse_moe.experts.${e}.${w}.weight`, shape: [32, 64] });
      t.push({ name: `model.layers.0.block_sparse_moe.experts.${e}.w2.weight`, shape: [64, 32] });
    }
    t.push({ name: 'model.layers.0.block_sparse_moe.gate.weight', shape: [4, 64] });
    return t;
  };

  it('Qwen MoE names (mlp.experts.E, a dense first layer): top-8 assumed, and the spec of the matching Qwen config', async () => {
    for (const [qkNorm, modelType] of [[false, 'qwen2_moe'], [true, 'qwen3_moe']] as const) {
      const spec = await read(qwenMoe(qkNorm));
      const expected = specFromConfig(
        configFor({ model_type: modelType, num_experts: 16, num_experts_per_tok: 8, moe_intermediate_size: 24, mlp_only_layers: [0] }),
        source,
      );
      assert.deepEqual(shape(spec), shape(expected));
      // By hand: layer 0 dense (128 wide), layer 1 sixteen experts of width 24, eight used per token.
      const moe = spec.layerKinds.find((k) => k.mlp.kind === 'moe')!;
      assert.deepEqual([moe.layers, moe.mlp.experts, moe.mlp.topK, moe.mlp.ffn], [[1], 16, 8, 24]);
      assert.ok(spec.notes.some((n) => n.includes('top-8 assumed')));
    }
  });

  it('Mixtral names (block_sparse_moe.experts.E.w1): top-2 assumed, Mixtral even with QK-norms', async () => {
    for (const qkNorm of [false, true]) {
      const spec = await read(mixtral(qkNorm));
      assert.equal(spec.family, 'mixtral');
      const expected = specFromConfig(
        configFor({ model_type: 'mixtral', num_hidden_layers: 1, num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 32 }),
        source,
      );
      assert.deepEqual(shape(spec), shape(expected));
      assert.deepEqual([spec.layerKinds[0]!.mlp.experts, spec.layerKinds[0]!.mlp.topK, spec.layerKinds[0]!.mlp.ffn], [4, 2, 32]);
    }
  });

  it('dense: q_proj bias → Qwen2, q_norm → Qwen3 (with or without the bias), neither → Llama', async () => {
    const withBias = (t: TensorSpec[]) => [...t, ...[0, 1].map((i) => ({ name: `model.layers.${i}.self_attn.q_proj.bias`, shape: [64] }))];
    const cases: [TensorSpec[], string][] = [
      [withBias(llamaTensors({ ...SMALL, invFreq: true })), 'qwen2'],
      [withBias(llamaTensors({ ...SMALL, qkNorm: true })), 'qwen3'],
      [llamaTensors({ ...SMALL, qkNorm: true }), 'qwen3'],
      [llamaTensors({ ...SMALL, invFreq: true }), 'llama'],
    ];
    for (const [tensors, family] of cases) {
      const spec = await read(tensors);
      assert.equal(spec.family, family);
      assert.deepEqual(shape(spec), shape(specFromConfig(configFor({ model_type: family }), source)));
    }
  });
});

describe('every family descriptor says the norm kind its adapter builds', () => {
  it('for every fixture a family reads', async () => {
    let checked = 0;
    for (const name of profiledFixtures()) {
      const spec = await loadFixture(name);
      const family = familyOf(spec.modelType) ?? familyOf(spec.family);
      if (!family) continue;
      assert.equal(spec.normKind, family.norm, name);
      checked++;
    }
    // Every fixture but Gemma-3-4b-it, whose wrapper type (gemma3) and family name (gemma3) are not the
    // text model's type (gemma3_text); Llava is found by its family name (llama).
    assert.equal(checked, profiledFixtures().length - 1);
  });
});
