/**
 * Tests that catch wrong answers in src/core/model (issue 21): hand mutations of Qwen's sliding-window
 * rule, GGUF gpt-oss's sliding/full parity and the safetensors reader's MoE top-k survived every other
 * test. Expected layouts come from the published configurations and loaders (cited at each test), and
 * parameter counts are summed here by hand from the tensor shapes.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { InputError } from '../../src/core/errors';
import { memorySource } from '../../src/core/model/bytes';
import { specFromConfig } from '../../src/core/model/config';
import { configProblems, nearestDivisors, type ConfigProblem } from '../../src/core/model/config-problems';
import { readGgufHeader, specFromGguf, specFromGgufHeader } from '../../src/core/model/gguf';
import { readSafetensorsHeader, specFromSafetensors } from '../../src/core/model/safetensors';
import { parseActivation } from '../../src/core/model/families/activation';
import { describeGgufValue, ggufFileHeader, INLINE_ARRAY_MAX, VALUE_TEXT_MAX } from '../../src/core/model/file-header';
import { groupLayers } from '../../src/core/model/layers';
import { countParams } from '../../src/core/model/params';
import type { ModelSpec } from '../../src/core/model/spec';
import { formatSpecTable, indexRanges, summarizeSpec } from '../../src/core/model/summary';
import { fixturePath, loadFixture } from './helpers/fixtures';
import { converterMetadata, converterTensors } from './helpers/gguf-converter';
import { gv, llamaGgufKv, type GgufEntry, writeGguf } from './helpers/gguf-writer';
import { llamaTensors, type TensorSpec, writeSafetensors } from './helpers/safetensors-writer';

const CONFIG = { path: '/models/config.json', format: 'config.json' as const };

/** Each layer's attention window, in layer order (null: full attention). */
function windows(spec: ModelSpec): (number | null)[] {
  const out: (number | null)[] = new Array(spec.layers).fill(undefined);
  for (const kind of spec.layerKinds) for (const i of kind.layers) out[i] = kind.attention.window;
  return out;
}

test("Qwen2/Qwen3 slide only with use_sliding_window, and only from layer max_window_layers on", () => {
  // transformers' Qwen2Config/Qwen3Config: sliding_window is kept only when use_sliding_window is true,
  // and layer i is "sliding_attention" when sliding_window is set and i >= max_window_layers.
  const qwen = { hidden_size: 64, num_hidden_layers: 5, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100, sliding_window: 32 };
  for (const model_type of ['qwen2', 'qwen3', 'qwen2_moe', 'qwen3_moe']) {
    const moe = model_type.endsWith('_moe') ? { num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 16 } : {};
    const spec = (extra: object) => specFromConfig({ model_type, ...qwen, ...moe, ...extra }, CONFIG);
    assert.deepEqual(windows(spec({ use_sliding_window: true, max_window_layers: 2 })), [null, null, 32, 32, 32], `${model_type}: from layer 2`);
    assert.deepEqual(windows(spec({ use_sliding_window: true, max_window_layers: 0 })), [32, 32, 32, 32, 32], `${model_type}: from layer 0`);
    assert.deepEqual(windows(spec({ use_sliding_window: true, max_window_layers: 5 })), [null, null, null, null, null], `${model_type}: from past the last layer`);
    // max_window_layers absent: the config classes' default, 28 (the first 28 layers attend in full).
    assert.deepEqual(windows(spec({ use_sliding_window: true, num_hidden_layers: 30 })), [...new Array(28).fill(null), 32, 32], `${model_type}: no max_window_layers`);
    // The published Qwen configs carry a sliding_window with use_sliding_window false: full attention.
    assert.deepEqual(windows(spec({ use_sliding_window: false, max_window_layers: 2 })), [null, null, null, null, null], `${model_type}: switched off`);
    assert.deepEqual(windows(spec({ max_window_layers: 2 })), [null, null, null, null, null], `${model_type}: use_sliding_window absent means off`);
  }
  // Switched on without a window length: nothing to slide over.
  const noWindow = specFromConfig({ model_type: 'qwen2', ...qwen, sliding_window: undefined, use_sliding_window: true, max_window_layers: 1 }, CONFIG);
  assert.deepEqual(windows(noWindow), [null, null, null, null, null]);
  // Mistral-style families slide everywhere when a window is given (use_sliding_window defaults to on).
  const mistral = specFromConfig({ model_type: 'mistral', ...qwen }, CONFIG);
  assert.deepEqual(windows(mistral), [32, 32, 32, 32, 32]);
});

/** A gpt-oss GGUF's metadata as llama.cpp's converter writes it (sizes shrunk). */
function gptOssKv(layers: number): [string, GgufEntry][] {
  const kv = llamaGgufKv({ arch: 'gpt-oss', name: 'tiny gpt-oss', layers, hidden: 64, ffn: 32, heads: 4, kvHeads: 2, context: 4096, vocab: 100, eps: 1e-5, tokens: false });
  kv.push(['gpt-oss.attention.sliding_window', gv.u32(128)], ['gpt-oss.expert_count', gv.u32(8)], ['gpt-oss.expert_used_count', gv.u32(2)], ['gpt-oss.attention.key_length', gv.u32(16)]);
  return kv;
}

test('GGUF gpt-oss: layers alternate sliding and full attention, layer 0 sliding', async () => {
  // HF's GptOssConfig: layer_types = ["sliding_attention" if (i + 1) % 2 else "full_attention"], so the
  // even layers (0, 2, …) slide; llama.cpp's LLM_ARCH_OPENAI_MOE sets swa pattern 2, SWA on il % 2 == 0.
  for (const layers of [4, 5]) {
    const spec = await specFromGguf(memorySource(writeGguf({ kv: gptOssKv(layers) }).bytes), { path: '/models/gpt-oss.gguf', format: 'gguf' });
    const expected = Array.from({ length: layers }, (_, i) => (i % 2 === 0 ? 128 : null));
    assert.deepEqual(windows(spec), expected, `${layers} layers`);
    assert.equal(spec.family, 'gpt_oss');
    const moe = spec.layerKinds.map((k) => [k.mlp.kind, k.mlp.experts, k.mlp.topK]);
    assert.deepEqual(moe, spec.layerKinds.map(() => ['moe', 8, 2]));
  }
});

/** Llama-style attention, norms and embeddings (no MLP), as HF names them, for `layers` layers. */
function attentionOnly(layers: number, d: { hidden: number; vocab: number; headDim: number; heads: number; kvHeads: number; qkNorm?: boolean }): TensorSpec[] {
  return llamaTensors({ layers, ffn: 8, invFreq: !d.qkNorm, ...d }).filter((t) => !t.name.includes('.mlp.'));
}

test('safetensors MoE: top-2 for Mixtral names, top-8 for Qwen names, and the active parameters follow', async () => {
  const d = { hidden: 64, vocab: 100, headDim: 16, heads: 4, kvHeads: 2 };
  const expertFfn = 32;
  const experts = 16;
  // Mixtral: block_sparse_moe.experts.E.{w1,w3} [ffn, hidden] and w2 [hidden, ffn]; Mixtral 8x7B routes each token to 2.
  const mixtral = attentionOnly(2, d);
  for (let l = 0; l < 2; l++) {
    for (let e = 0; e < experts; e++) {
      for (const w of ['w1', 'w3']) mixtral.push({ name: `model.layers.${l}.block_sparse_moe.experts.${e}.${w}.weight`, shape: [expertFfn, 64] });
      mixtral.push({ name: `model.layers.${l}.block_sparse_moe.experts.${e}.w2.weight`, shape: [64, expertFfn] });
    }
    mixtral.push({ name: `model.layers.${l}.block_sparse_moe.gate.weight`, shape: [experts, 64] });
  }
  const m = specFromSafetensors(await readSafetensorsHeader(memorySource(writeSafetensors(mixtral)), '/m/model.safetensors'), { path: '/m/model.safetensors', format: 'safetensors' }, 'tiny-mixtral');
  assert.deepEqual(m.layerKinds.map((k) => [k.mlp.experts, k.mlp.topK]), [[experts, 2]]);
  assert.equal(m.family, 'mixtral');
  assert.ok(m.notes.includes('Experts per token are not stored in the weights: top-2 assumed.'), m.notes.join('\n'));
  // One expert is 3 · 32 · 64 = 6,144 weights; a token skips 14 of 16 in each of 2 layers.
  const perExpert = 3 * expertFfn * 64;
  assert.equal(m.params.total - m.params.active, 2 * (experts - 2) * perExpert);

  // Qwen2-MoE / Qwen3-MoE: mlp.experts.E.{gate,up,down}_proj; Qwen3-30B-A3B routes each token to 8 of 128.
  const qwen = attentionOnly(2, { ...d, qkNorm: true });
  for (let l = 0; l < 2; l++) {
    for (let e = 0; e < experts; e++) {
      for (const w of ['gate_proj', 'up_proj']) qwen.push({ name: `model.layers.${l}.mlp.experts.${e}.${w}.weight`, shape: [expertFfn, 64] });
      qwen.push({ name: `model.layers.${l}.mlp.experts.${e}.down_proj.weight`, shape: [64, expertFfn] });
    }
    qwen.push({ name: `model.layers.${l}.mlp.gate.weight`, shape: [experts, 64] });
  }
  const q = specFromSafetensors(await readSafetensorsHeader(memorySource(writeSafetensors(qwen)), '/q/model.safetensors'), { path: '/q/model.safetensors', format: 'safetensors' }, 'tiny-qwen-moe');
  assert.deepEqual(q.layerKinds.map((k) => [k.mlp.experts, k.mlp.topK, k.mlp.ffn]), [[experts, 8, expertFfn]]);
  assert.equal(q.family, 'qwen3_moe');
  assert.ok(q.notes.includes('Experts per token are not stored in the weights: top-8 assumed.'), q.notes.join('\n'));
  assert.equal(q.params.total - q.params.active, 2 * (experts - 8) * perExpert);
});

/** What a reader makes of a model, the source file aside: sizes, layer kinds with their ops, norms, head, parameters. */
function layout(s: ModelSpec, withMaxPositions = true) {
  return {
    family: s.family, layers: s.layers, hidden: s.hidden, vocab: s.vocab, normKind: s.normKind, normEps: s.normEps, tied: s.tiedEmbeddings,
    positions: s.positions, topology: s.topology, params: s.params, ...(withMaxPositions ? { maxPositions: s.maxPositions } : {}),
    kinds: s.layerKinds.map((k) => ({
      id: k.id, layers: k.layers, block: k.block, attention: k.attention, cross: k.crossAttention, mlp: k.mlp,
      norms: k.norms.map((n) => [n.name, n.role, n.kind, n.placement, n.affine, n.eps, n.width, ...n.feeds]),
      linears: k.linears.map((l) => [l.name, l.role, l.in, l.out, l.bias, l.copies?.total, l.copies?.active]),
    })),
    finalNorm: s.finalNorm && [s.finalNorm.kind, s.finalNorm.affine, s.finalNorm.width], lmHead: s.lmHead && [s.lmHead.in, s.lmHead.out, s.lmHead.bias],
  };
}

const u = gv.u32;
const f = gv.f32;
/**
 * GGUF metadata as llama.cpp's convert_hf_to_gguf.py writes it for each family (its set_gguf_parameters),
 * from the published config of the fixture beside it; `output.weight` is listed when the model has its
 * own output layer. Keys without an arch prefix get `{arch}.`.
 */
const GGUF_FAMILIES: { fixture: string; arch: string; kv: [string, GgufEntry][]; output: boolean; extraTensors?: string[]; sameMaxPositions?: false }[] = [
  { fixture: 'GPT-2', arch: 'gpt2', output: false, kv: [['context_length', u(1024)], ['embedding_length', u(768)], ['feed_forward_length', u(3072)], ['block_count', u(12)], ['attention.head_count', u(12)], ['attention.layer_norm_epsilon', f(1e-5)], ['vocab_size', u(50257)]] },
  // rope.dimension_count = int(partial_rotary_factor · hidden) / heads = 0.4 · 2560 / 32 = 32.
  { fixture: 'Phi-2', arch: 'phi2', output: true, kv: [['context_length', u(2048)], ['embedding_length', u(2560)], ['feed_forward_length', u(10240)], ['block_count', u(32)], ['attention.head_count', u(32)], ['attention.head_count_kv', u(32)], ['attention.layer_norm_epsilon', f(1e-5)], ['rope.dimension_count', u(32)], ['vocab_size', u(51200)]] },
  // rope.dimension_count = rotary_pct · head width = 0.25 · 64 = 16.
  { fixture: 'Pythia-410m', arch: 'gptneox', output: true, kv: [['context_length', u(2048)], ['embedding_length', u(1024)], ['block_count', u(24)], ['feed_forward_length', u(4096)], ['rope.dimension_count', u(16)], ['attention.head_count', u(16)], ['use_parallel_residual', gv.bool(true)], ['attention.layer_norm_epsilon', f(1e-5)], ['vocab_size', u(50304)]] },
  // rope.dimension_count = rotary_dim = 64; feed_forward_length = 4 · n_embd (n_inner is null).
  { fixture: 'GPT-J-6B', arch: 'gptj', output: true, kv: [['context_length', u(2048)], ['embedding_length', u(4096)], ['block_count', u(28)], ['feed_forward_length', u(16384)], ['rope.dimension_count', u(64)], ['attention.head_count', u(16)], ['attention.layer_norm_epsilon', f(1e-5)], ['vocab_size', u(50400)]] },
  // Falcon: head_count_kv 1 (multi-query) and the old layout; the converter writes context_length 2048, which the config lacks.
  { fixture: 'Falcon-7B', arch: 'falcon', output: false, sameMaxPositions: false, kv: [['context_length', u(2048)], ['embedding_length', u(4544)], ['feed_forward_length', u(4 * 4544)], ['block_count', u(32)], ['attention.head_count', u(71)], ['attention.head_count_kv', u(1)], ['attention.layer_norm_epsilon', f(1e-5)], ['vocab_size', u(65024)]] },
  // The new decoder architecture is told by its second norm's tensor (ln_mlp → attn_norm_2).
  { fixture: 'Falcon-40B', arch: 'falcon', output: false, sameMaxPositions: false, extraTensors: ['blk.0.attn_norm_2.weight'], kv: [['context_length', u(2048)], ['embedding_length', u(8192)], ['feed_forward_length', u(4 * 8192)], ['block_count', u(60)], ['attention.head_count', u(128)], ['attention.head_count_kv', u(8)], ['attention.layer_norm_epsilon', f(1e-5)], ['vocab_size', u(65024)]] },
  // T5 writes both epsilons and key/value lengths of d_kv; its config's n_positions is not read from context_length.
  { fixture: 't5-small', arch: 't5', output: false, sameMaxPositions: false, kv: [['context_length', u(512)], ['embedding_length', u(512)], ['feed_forward_length', u(2048)], ['block_count', u(6)], ['attention.head_count', u(8)], ['attention.key_length', u(64)], ['attention.value_length', u(64)], ['attention.layer_norm_epsilon', f(1e-6)], ['attention.layer_norm_rms_epsilon', f(1e-6)], ['vocab_size', u(32128)]] },
  { fixture: 'bert-base-uncased', arch: 'bert', output: false, kv: [['context_length', u(512)], ['embedding_length', u(768)], ['feed_forward_length', u(3072)], ['block_count', u(12)], ['attention.head_count', u(12)], ['attention.layer_norm_epsilon', f(1e-12)], ['vocab_size', u(30522)]] },
  { fixture: 'gpt-oss-20b', arch: 'gpt-oss', output: true, kv: [['context_length', u(131072)], ['embedding_length', u(2880)], ['feed_forward_length', u(2880)], ['expert_feed_forward_length', u(2880)], ['block_count', u(24)], ['attention.head_count', u(64)], ['attention.head_count_kv', u(8)], ['attention.key_length', u(64)], ['attention.value_length', u(64)], ['attention.layer_norm_rms_epsilon', f(1e-5)], ['expert_count', u(32)], ['expert_used_count', u(4)], ['attention.sliding_window', u(128)], ['vocab_size', u(201088)]] },
  // DeepSeek-V2: key_length = nope + rope = 128 + 64, value_length = v_head_dim; q_lora_rank is null (absent).
  { fixture: 'DeepSeek-V2-Lite', arch: 'deepseek2', output: true, kv: [['context_length', u(163840)], ['embedding_length', u(2048)], ['feed_forward_length', u(10944)], ['block_count', u(27)], ['attention.head_count', u(16)], ['attention.head_count_kv', u(16)], ['attention.layer_norm_rms_epsilon', f(1e-6)], ['leading_dense_block_count', u(1)], ['attention.kv_lora_rank', u(512)], ['attention.key_length', u(192)], ['attention.value_length', u(128)], ['expert_feed_forward_length', u(1408)], ['expert_count', u(64)], ['expert_shared_count', u(2)], ['expert_used_count', u(6)], ['rope.dimension_count', u(64)], ['vocab_size', u(102400)]] },
  // The newer MLA conversion: absorbed sizes in key/value_length (kv_lora_rank + rope, kv_lora_rank), one KV head, the un-absorbed ones as *_mla.
  { fixture: 'DeepSeek-V2-Lite', arch: 'deepseek2', output: true, kv: [['context_length', u(163840)], ['embedding_length', u(2048)], ['feed_forward_length', u(10944)], ['block_count', u(27)], ['attention.head_count', u(16)], ['attention.head_count_kv', u(1)], ['attention.layer_norm_rms_epsilon', f(1e-6)], ['leading_dense_block_count', u(1)], ['attention.q_lora_rank', u(0)], ['attention.kv_lora_rank', u(512)], ['attention.key_length', u(576)], ['attention.value_length', u(512)], ['attention.key_length_mla', u(192)], ['attention.value_length_mla', u(128)], ['expert_feed_forward_length', u(1408)], ['expert_count', u(64)], ['expert_shared_count', u(2)], ['expert_used_count', u(6)], ['rope.dimension_count', u(64)], ['vocab_size', u(102400)]] },
  { fixture: 'Qwen1.5-MoE-A2.7B', arch: 'qwen2moe', output: true, kv: [['context_length', u(8192)], ['embedding_length', u(2048)], ['feed_forward_length', u(5632)], ['block_count', u(24)], ['attention.head_count', u(16)], ['attention.head_count_kv', u(16)], ['attention.layer_norm_rms_epsilon', f(1e-6)], ['expert_count', u(60)], ['expert_used_count', u(4)], ['expert_feed_forward_length', u(1408)], ['expert_shared_feed_forward_length', u(5632)], ['vocab_size', u(151936)]] },
  // llama.cpp writes Mixtral as the llama architecture with experts.
  { fixture: 'Mixtral-8x7B-v0.1', arch: 'llama', output: true, kv: [['context_length', u(32768)], ['embedding_length', u(4096)], ['feed_forward_length', u(14336)], ['block_count', u(32)], ['attention.head_count', u(32)], ['attention.head_count_kv', u(8)], ['attention.layer_norm_rms_epsilon', f(1e-5)], ['expert_count', u(8)], ['expert_used_count', u(2)], ['vocab_size', u(32000)]] },
];

test('GGUF: each family, written as llama.cpp writes it, reads as the same model as its published config.json', async () => {
  for (const fam of GGUF_FAMILIES) {
    const kv: [string, GgufEntry][] = [['general.architecture', gv.str(fam.arch)], ['general.name', gv.str(fam.fixture)], ...fam.kv.map(([k, v]): [string, GgufEntry] => [`${fam.arch}.${k}`, v])];
    const tensors = ['token_embd.weight', ...(fam.output ? ['output.weight'] : []), ...(fam.extraTensors ?? [])].map((name) => ({ name, shape: [1] }));
    const fromGguf = await specFromGguf(memorySource(writeGguf({ kv, tensors }).bytes), { path: `/models/${fam.fixture}.gguf`, format: 'gguf' });
    const fromConfig = await loadFixture(fam.fixture);
    assert.deepEqual(layout(fromGguf, fam.sameMaxPositions ?? true), layout(fromConfig, fam.sameMaxPositions ?? true), `${fam.fixture} (${fam.arch})`);
    assert.equal(fromGguf.name, fam.fixture);
  }
});

test('model summary: the table of a small Llama and a small Mixtral, every parameter counted by hand', () => {
  const tiny = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 };
  // Per layer: q and o 64·64 = 4,096 each, k and v 64·32 = 2,048 each, gate, up and down 64·128 = 8,192
  // each, two norms of 64: 36,992. Two layers, the embedding and the untied head (100·64 each) and the
  // final norm: 2·36,992 + 2·6,400 + 64 = 86,848.
  const llama = specFromConfig({ model_type: 'llama', ...tiny, rms_norm_eps: 0.01 }, CONFIG);
  assert.equal(formatSpecTable(llama), [
    'models  (llama)',
    '  source      /models/config.json (config.json)',
    '  topology    decoder, 2 layers',
    '  sizes       hidden 64, heads 4 (kv 2) × 16, ffn 128, vocab 100',
    '  norm        RMSNorm, eps 0.01',
    '  positions   rope',
    '  embeddings  separate from the output layer',
    '  dtype       unknown',
    '  params      86,848 total',
    '',
    'Layer kinds',
    '  id       layers  count  block     attention   mlp             norms (placement)                                   params/layer',
    '  decoder  0-1     2      pre-norm  GQA 4/2×16  gated 128 silu  input_layernorm(pre) post_attention_layernorm(pre)  36,992',
    '  head: norm → lm_head (64 → 100)',
    '',
  ].join('\n'));
  // Mixtral with 4 experts of 3·64·128 = 24,576 and a 64 → 4 router: 12,288 + 128 + 256 + 4·24,576 =
  // 110,976 per layer, 61,824 with the 2 experts a token uses; 234,816 in all, 136,512 active.
  const mixtral = specFromConfig({ model_type: 'mixtral', _name_or_path: 'tiny', architectures: ['MixtralForCausalLM'], ...tiny, num_local_experts: 4, num_experts_per_tok: 2, sliding_window: 32, rms_norm_eps: 1e-5, max_position_embeddings: 4096, torch_dtype: 'bfloat16' }, CONFIG);
  const lines = formatSpecTable(mixtral).split('\n');
  assert.deepEqual(lines.slice(0, 9), [
    'tiny  (mixtral, MixtralForCausalLM)',
    '  source      /models/config.json (config.json)',
    '  topology    decoder, 2 layers',
    '  sizes       hidden 64, heads 4 (kv 2) × 16, ffn 128, vocab 100',
    '  norm        RMSNorm, eps 1e-5',
    '  positions   rope, up to 4,096',
    '  embeddings  separate from the output layer',
    '  dtype       bfloat16',
    '  params      234,816 total, 136,512 active per token',
  ]);
  assert.equal(lines[12], '  decoder  0-1     2      pre-norm  GQA 4/2×16 win 32  MoE 4×top-2 128  input_layernorm(pre) post_attention_layernorm(pre)  110,976 (61,824 active)');
  const summary = summarizeSpec(mixtral);
  assert.deepEqual(summary.layerKinds[0]!.paramsPerLayer, { total: 110_976, active: 61_824 });
  assert.deepEqual(summary.params, { total: 234_816, active: 136_512, fromWeights: null });
  assert.deepEqual([summary.heads, summary.kvHeads, summary.headDim, summary.ffn, summary.totalLayers], [4, 2, 16, 128, 2]);
  assert.equal(indexRanges([7, 1, 2, 3, 5, 9, 8]), '1-3, 5, 7-9');
  assert.equal(indexRanges([]), '');
});

test('GGUF: the architecture key missing or not a string; a header read without its tensor list', async () => {
  const read = (kv: [string, GgufEntry][]) => specFromGguf(memorySource(writeGguf({ kv }).bytes), { path: '/models/x.gguf', format: 'gguf' });
  const refused = async (kv: [string, GgufEntry][]) => {
    try {
      await read(kv);
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      return err.message;
    }
    return 'accepted';
  };
  assert.equal(await refused([['general.name', gv.str('x')]]), '/models/x.gguf: general.architecture: expected a string naming the architecture (e.g. "llama"), found nothing');
  assert.equal(await refused([['general.architecture', gv.u32(7)]]), '/models/x.gguf: general.architecture: expected a string naming the architecture (e.g. "llama"), found number');
  assert.equal(await refused([['general.architecture', gv.arr('string', ['llama'])]]), '/models/x.gguf: general.architecture: expected a string naming the architecture (e.g. "llama"), found an array');
  // Without the tensor list: tying follows the family's default, and Falcon's layout is told by its KV heads.
  const falcon = (kvHeads: number) => {
    const fam = GGUF_FAMILIES.find((f) => f.fixture === (kvHeads === 1 ? 'Falcon-7B' : 'Falcon-40B'))!;
    return [['general.architecture', gv.str('falcon')], ...fam.kv.map(([k, v]): [string, GgufEntry] => [`falcon.${k}`, v])] as [string, GgufEntry][];
  };
  for (const [kvHeads, fixture] of [[1, 'Falcon-7B'], [8, 'Falcon-40B']] as const) {
    const header = await readGgufHeader(memorySource(writeGguf({ kv: falcon(kvHeads), tensors: [{ name: 'token_embd.weight', shape: [1] }] }).bytes), '/models/f.gguf', { tensors: true });
    const spec = specFromGgufHeader(header, { path: '/models/f.gguf', format: 'gguf' }, false);
    assert.deepEqual(layout(spec, false).kinds, layout(await loadFixture(fixture), false).kinds, fixture);
    assert.ok(spec.notes.includes('Tensor list not read: whether the output layer is tied to the embeddings follows the family default.'), spec.notes.join('\n'));
    assert.ok(spec.notes.includes('Falcon layout guessed from the KV head count (tensor list not read).'), spec.notes.join('\n'));
  }
});

test('GGUF: a bad T5 size is named by its GGUF key', async () => {
  const t5 = GGUF_FAMILIES.find((f) => f.fixture === 't5-small')!;
  for (const [key, gguf] of [['attention.key_length', 't5.attention.key_length'], ['feed_forward_length', 't5.feed_forward_length'], ['embedding_length', 't5.embedding_length'], ['attention.head_count', 't5.attention.head_count'], ['block_count', 't5.block_count']] as const) {
    const kv: [string, GgufEntry][] = [['general.architecture', gv.str('t5')], ...t5.kv.map(([k, v]): [string, GgufEntry] => [`t5.${k}`, k === key ? gv.i32(-1) : v])];
    await assert.rejects(specFromGguf(memorySource(writeGguf({ kv }).bytes), { path: '/m/t5.gguf', format: 'gguf' }), (e: unknown) => e instanceof InputError && e.field === gguf, key);
  }
});

test('safetensors MoE with Qwen2 names (biases on q, k, v, no QK-norm) reads as qwen2_moe; Jamba\'s attention layers slide when a window is set', async () => {
  const t = attentionOnly(1, { hidden: 64, vocab: 100, headDim: 16, heads: 4, kvHeads: 2 });
  t.push({ name: 'model.layers.0.self_attn.q_proj.bias', shape: [64] });
  for (let e = 0; e < 16; e++) {
    for (const w of ['gate_proj', 'up_proj']) t.push({ name: `model.layers.0.mlp.experts.${e}.${w}.weight`, shape: [32, 64] });
    t.push({ name: `model.layers.0.mlp.experts.${e}.down_proj.weight`, shape: [64, 32] });
  }
  const spec = specFromSafetensors(await readSafetensorsHeader(memorySource(writeSafetensors(t)), '/q/model.safetensors'), { path: '/q/model.safetensors', format: 'safetensors' }, 'q2moe');
  assert.equal(spec.family, 'qwen2_moe');
  assert.deepEqual(spec.layerKinds.map((k) => [k.mlp.experts, k.mlp.topK, k.mlp.ffn]), [[16, 8, 32]]);
  // Jamba: one attention layer every attn_layer_period (8) from attn_layer_offset (4). The published
  // config has no window (full attention); given one, those layers slide over it.
  const published = JSON.parse(readFileSync(fixturePath('Jamba-v0.1'), 'utf8')) as Record<string, unknown>;
  const full = specFromConfig(published, CONFIG);
  assert.deepEqual(full.layerKinds.map((k) => k.attention.window), full.layerKinds.map(() => null));
  // transformers' JambaConfig: layer i is attention when i % attn_layer_period == attn_layer_offset.
  const every4 = specFromConfig({ ...published, num_hidden_layers: 8, attn_layer_period: 4, attn_layer_offset: 1, expert_layer_period: 2, expert_layer_offset: 1 }, CONFIG);
  assert.deepEqual(every4.layerKinds.flatMap((k) => k.layers).sort((a, b) => a - b), [1, 5]);
  const sliding = specFromConfig({ ...published, sliding_window: 64 }, CONFIG);
  assert.deepEqual(sliding.layerKinds.flatMap((k) => k.layers), [4, 12, 20, 28]);
  assert.deepEqual(sliding.layerKinds.map((k) => k.attention.window), sliding.layerKinds.map(() => 64));
});

/** A config's problems as [path, severity, message, fixes], for one deepEqual. */
function problems(config: Record<string, unknown>, prefix: string[] = []): [string, ConfigProblem['severity'], string, number[]][] {
  return configProblems(config, prefix).map((p) => [p.path.join('.'), p.severity, p.message, p.fixes]);
}

test('config problems: every size that is zero or negative, named by the key the file uses', () => {
  // The editor's diagnostics (config-problems.ts), which no reader test reaches. One size at a time,
  // under the first alias of each group in transformers' naming and then a later alias (GPT-2's, T5's).
  const base = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 };
  assert.deepEqual(problems(base), []);
  const cases: [string, string][] = [
    ['hidden_size', 'hidden size'], ['n_embd', 'hidden size'], ['num_hidden_layers', 'layer count'], ['n_layer', 'layer count'],
    ['num_attention_heads', 'number of attention heads'], ['n_head', 'number of attention heads'], ['num_key_value_heads', 'number of KV heads'],
    ['n_head_kv', 'number of KV heads'], ['intermediate_size', 'MLP width'], ['d_ff', 'MLP width'], ['num_local_experts', 'number of experts'],
    ['n_routed_experts', 'number of experts'], ['num_experts_per_tok', 'number of experts per token'], ['top_k', 'number of experts per token'],
    ['vocab_size', 'vocabulary size'], ['padded_vocab_size', 'vocabulary size'],
  ];
  for (const [key, what] of cases) {
    for (const value of [0, -3]) {
      const config: Record<string, unknown> = { ...base, [key]: value };
      // A later alias is read only when the earlier ones are absent or null.
      for (const earlier of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size', 'vocab_size']) {
        if (key !== earlier && ({ n_embd: 'hidden_size', n_layer: 'num_hidden_layers', n_head: 'num_attention_heads', n_head_kv: 'num_key_value_heads', d_ff: 'intermediate_size', padded_vocab_size: 'vocab_size' } as Record<string, string>)[key] === earlier) config[earlier] = null;
      }
      const found = problems(config).filter(([path]) => path === key);
      assert.deepEqual(found, [[key, 'error', `${key}: the ${what} must be a positive integer, found ${value}.`, []]], `${key} = ${value}`);
    }
  }
  // 1 is positive; a string or a fraction is the reader's business, not a size problem here.
  assert.deepEqual(problems({ ...base, num_key_value_heads: 1, vocab_size: '100', intermediate_size: 0.5 }), []);
  assert.deepEqual(problems({ ...base, head_dim: 0 }), [['head_dim', 'error', 'head_dim: the head width must be a positive integer, found 0.', []]]);
  assert.deepEqual(problems({ ...base, head_dim: -16 }), [['head_dim', 'error', 'head_dim: the head width must be a positive integer, found -16.', []]]);
  assert.deepEqual(problems({ ...base, head_dim: 1 }), []);
  // Under a prefix (a multimodal config's text_config), the paths start with it; a prefix naming no
  // object falls back to the top level.
  assert.deepEqual(problems({ model_type: 'x', text_config: { ...base, hidden_size: 0 } }, ['text_config']), [
    ['text_config.hidden_size', 'error', 'hidden_size: the hidden size must be a positive integer, found 0.', []],
  ]);
  assert.deepEqual(problems({ ...base, vocab_size: -1, text_config: 7 }, ['text_config']), [
    ['text_config.vocab_size', 'error', 'vocab_size: the vocabulary size must be a positive integer, found -1.', []],
  ]);
});

test('config problems: heads that do not divide the hidden size, with the nearest divisors as fixes (KV-compatible first)', () => {
  const dense = { num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100 };
  // 100 / 7: divisors of 100 outward from 7 are 5 (distance 2), 4 and 10 (distance 3), 2, 1, 20.
  assert.deepEqual(problems({ ...dense, hidden_size: 100, num_attention_heads: 7 }), [
    ['num_attention_heads', 'error', '7 heads do not divide the hidden size 100 (100 / 7 = 14.29), and no head_dim is given.'.replace(/^/, 'num_attention_heads: '), [5, 4, 10]],
  ]);
  // 3072 / 13 with 8 KV heads: the divisors outward from 13 are 12, 16, 8, 6, 4, 3; of those, 16 and 8
  // are multiples of 8 and come first, then 12. The KV heads are not blamed as well.
  assert.deepEqual(problems({ ...dense, hidden_size: 3072, num_attention_heads: 13, num_key_value_heads: 8 }), [
    ['num_attention_heads', 'error', 'num_attention_heads: 13 heads do not divide the hidden size 3072 (3072 / 13 = 236.31), and no head_dim is given; nor is 13 a multiple of the 8 KV heads.', [16, 8, 12]],
  ]);
  // GPT-2's aliases: the message names n_head.
  assert.deepEqual(problems({ n_embd: 100, n_head: 7, n_layer: 2, vocab_size: 10 }).map(([path, , message]) => [path, message.startsWith('n_head: 7 heads do not divide')]), [['n_head', true]]);
  // A fractional hidden size is not a size the heads are checked against.
  assert.deepEqual(problems({ ...dense, hidden_size: 100.5, num_attention_heads: 7 }), []);
  // head_dim 0 is its own error and does not count as a head width.
  assert.deepEqual(problems({ ...dense, hidden_size: 100, num_attention_heads: 7, head_dim: 0 }).map(([path]) => path), ['head_dim', 'num_attention_heads']);
  assert.ok(problems({ ...dense, hidden_size: 100, num_attention_heads: 7, head_dim: 0 })[1]![2].endsWith('and no head_dim is given.'));
});

test('config problems: with a head_dim, a head count is blamed only when hidden / head_dim would fix the KV grouping (issue 20)', () => {
  const dense = { num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100 };
  // Llama-3.2-3B (hidden 3072, 24 heads of 128, 8 KV heads) with 23 typed for 24: 23 × 128 = 2,944.
  const llama = { ...dense, hidden_size: 3072, num_attention_heads: 23, num_key_value_heads: 8, head_dim: 128 };
  assert.deepEqual(problems(llama), [
    ['num_attention_heads', 'error', 'num_attention_heads: 23 heads × head_dim 128 = 2,944 ≠ hidden size 3,072; nor is 23 a multiple of the 8 KV heads; 24 heads fit both.', [24]],
  ]);
  // Gemma-2-2B: 8 heads × 256 = 2048 ≠ 2304, and that is how it is published (8 is a multiple of 4 KV heads).
  assert.deepEqual(problems({ ...dense, hidden_size: 2304, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256 }), []);
  // 7 heads with 4 KV heads: 2304 / 256 = 9 heads would not group either, so the KV heads are blamed;
  // the divisors of 7 within reach of 4 are 1 and 7.
  assert.deepEqual(problems({ ...dense, hidden_size: 2304, num_attention_heads: 7, num_key_value_heads: 4, head_dim: 256 }), [
    ['num_key_value_heads', 'error', 'num_key_value_heads: 4 KV heads do not divide the 7 attention heads (each KV head serves a whole group of query heads).', [1, 7]],
  ]);
  // hidden / head_dim not whole (3000 / 128): no head count fits both, the KV heads are blamed.
  assert.deepEqual(problems({ ...llama, hidden_size: 3000 }).map(([path]) => path), ['num_key_value_heads']);
  // heads × head_dim equal to the hidden size: the heads are right, the KV heads are blamed.
  assert.deepEqual(problems({ ...llama, hidden_size: 2944 }).map(([path]) => path), ['num_key_value_heads']);
  // Without KV heads nothing groups: no problem, whatever heads × head_dim is.
  assert.deepEqual(problems({ ...dense, hidden_size: 3072, num_attention_heads: 23, head_dim: 128 }), []);
});

test('config problems: KV heads that do not divide the heads, named by their key, fixes nearest first', () => {
  const dense = { num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100, hidden_size: 4096, num_attention_heads: 32 };
  // Divisors of 32 outward from 6: 4 and 8 (distance 2), then 2.
  assert.deepEqual(problems({ ...dense, num_key_value_heads: 6 }), [
    ['num_key_value_heads', 'error', 'num_key_value_heads: 6 KV heads do not divide the 32 attention heads (each KV head serves a whole group of query heads).', [4, 8, 2]],
  ]);
  assert.deepEqual(problems({ ...dense, num_kv_heads: 6 }).map(([path]) => path), ['num_kv_heads']);
  assert.deepEqual(problems({ ...dense, num_key_value_heads: 8 }), []);
  assert.deepEqual(problems({ ...dense, num_key_value_heads: 32 }), []);
});

test('config problems: a layer list of the wrong length; a sliding pattern longer than the model', () => {
  const base = { hidden_size: 64, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 128, vocab_size: 100 };
  const full = 'full_attention';
  assert.deepEqual(problems({ ...base, layer_types: [full, full, full] }), [
    ['layer_types', 'error', 'layer_types: 3 entries for 4 layers (num_hidden_layers); one per layer is expected.', []],
  ]);
  assert.deepEqual(problems({ ...base, num_hidden_layers: null, n_layer: 4, layers_block_type: ['mamba', 'attention', 'mamba', 'mamba', 'mamba'] }), [
    ['layers_block_type', 'error', 'layers_block_type: 5 entries for 4 layers (n_layer); one per layer is expected.', []],
  ]);
  assert.deepEqual(problems({ ...base, layer_types: [full, full, full, full], layers_block_type: 'mamba' }), []);
  assert.deepEqual(problems({ ...base, num_hidden_layers: 0, layer_types: [full] }).map(([path]) => path), ['num_hidden_layers']);
  // Gemma 3's pattern: every 6th layer global; with 4 layers none is.
  assert.deepEqual(problems({ ...base, sliding_window_pattern: 6 }), [
    ['sliding_window_pattern', 'warning', 'sliding_window_pattern: every 6th layer is global, but there are only 4 layers: none is.', []],
  ]);
  assert.deepEqual(problems({ ...base, _sliding_window_pattern: 5 }).map(([path, severity]) => [path, severity]), [['_sliding_window_pattern', 'warning']]);
  assert.deepEqual(problems({ ...base, sliding_window_pattern: 4 }), []);
  assert.deepEqual(problems({ ...base, sliding_window_pattern: 5.5 }), []);
  assert.deepEqual(problems({ ...base, sliding_window_pattern: '6' }), []);
});

test('nearestDivisors: outward from the written count, the smaller first at a tie, at most DIVISOR_SEARCH_SPAN either side', () => {
  // 32 from 7: 8 (distance 1), 4 (3), 2 (5). 12 from 5: 4 and 6 (1), 3 (2). 1 from 3: only 1.
  assert.deepEqual(nearestDivisors(32, 7), [8, 4, 2]);
  assert.deepEqual(nearestDivisors(12, 5), [4, 6, 3]);
  assert.deepEqual(nearestDivisors(12, 5, 2), [4, 6]);
  assert.deepEqual(nearestDivisors(1, 3), [1]);
  assert.deepEqual(nearestDivisors(7, 4, 5), [1, 7]);
  // 1e20 = 2^20 · 5^20 from 7: 8, 5, 4; the search stops after distance 3 (6 candidates tried).
  const meter = { steps: 0 };
  assert.deepEqual(nearestDivisors(1e20, 7, 3, meter), [8, 5, 4]);
  assert.equal(meter.steps, 6);
  // 2^53 − 1 = 6361 · 69431 · 20394401: within 1,024 of 7 only 1 divides it; every candidate is tried
  // once, 2 × 1,024 of them.
  const whole = { steps: 0 };
  assert.deepEqual(nearestDivisors(2 ** 53 - 1, 7, 3, whole), [1]);
  assert.equal(whole.steps, 2 * 1024);
  // Divisors of 2048 from 1032: 1024 (distance 8), 512, 256, 128, 64, 32, then 16 and 2048 (both 1,016),
  // 8 at exactly 1,024 (the span's edge); 4 (1,028) is past it.
  assert.deepEqual(nearestDivisors(2048, 1032, 12), [1024, 512, 256, 128, 64, 32, 16, 2048, 8]);
});

/** Little-endian GGUF pieces, written here by the format's spec (ggml docs/gguf.md) for values the test writer has no form for. */
const le = {
  u32: (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff],
  u64: (n: number): number[] => [...le.u32(n), 0, 0, 0, 0],
  str: (s: string): number[] => [...le.u64(s.length), ...[...s].map((c) => c.charCodeAt(0))],
  /** An array value without its kv type: element type, count, elements. */
  arr: (elementType: number, elements: number[][]): number[] => [...le.u32(elementType), ...le.u64(elements.length), ...elements.flat()],
};
const U8 = 0, U32 = 4, STRING = 8, ARRAY = 9;
/** A GGUF v3 file of kv pairs (key, value type, value bytes) and no tensors. */
function ggufOf(kv: [string, number, number[]][]): Uint8Array {
  return Uint8Array.from([...[...'GGUF'].map((c) => c.charCodeAt(0)), ...le.u32(3), ...le.u64(0), ...le.u64(kv.length), ...kv.flatMap(([k, type, v]) => [...le.str(k), ...le.u32(type), ...v])]);
}
async function ggufRefusal(bytes: Uint8Array): Promise<{ field: string | undefined; message: string } | 'accepted'> {
  try {
    await readGgufHeader(memorySource(bytes), '/m/x.gguf');
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return { field: err.field, message: err.message };
  }
  return 'accepted';
}

test('GGUF arrays of arrays: skipped by their lengths and summarised; the key after them reads right', async () => {
  // [[1, 2, 3] as u32, ["ab", "c"]]: the inner arrays take 12 + 3·4 = 24 and 12 + (8 + 2) + (8 + 1) = 31 bytes.
  const nested = le.arr(ARRAY, [le.arr(U32, [le.u32(1), le.u32(2), le.u32(3)]), le.arr(STRING, [le.str('ab'), le.str('c')])]);
  const header = await readGgufHeader(memorySource(ggufOf([['t.nested', ARRAY, nested], ['t.after', U32, le.u32(7)]])), '/m/x.gguf');
  assert.deepEqual(header.metadata.get('t.nested'), { longArray: true, elementType: 'array', count: 2, bytes: 55 });
  assert.equal(header.metadata.get('t.after'), 7);
  // Three levels inside the top one: [[[[5, 6] as u8]]], 4 deep, is read: 12 + 12 + 12 + 2 bytes.
  const deep = (levels: number): number[] => (levels === 1 ? le.arr(U8, [[5], [6]]) : le.arr(ARRAY, [deep(levels - 1)]));
  const four = await readGgufHeader(memorySource(ggufOf([['t.deep', ARRAY, deep(4)], ['t.after', U32, le.u32(9)]])), '/m/x.gguf');
  assert.deepEqual(four.metadata.get('t.deep'), { longArray: true, elementType: 'array', count: 1, bytes: 38 });
  assert.equal(four.metadata.get('t.after'), 9);
  // Five deep is refused: GGUF_LIMITS.nesting is 4.
  assert.deepEqual(await ggufRefusal(ggufOf([['t.deep', ARRAY, deep(5)]])), { field: 'metadata[0] (t.deep)', message: '/m/x.gguf: metadata[0] (t.deep): expected arrays nested at most 4 deep' });
});

test('GGUF arrays of arrays: a bad inner type or count is named with its offset', async () => {
  // The inner array starts after the 24-byte header, the key (8 + 5), the value type (4), and the outer
  // array's element type and count (4 + 8): at offset 53.
  const badType = await ggufRefusal(ggufOf([['t.bad', ARRAY, le.arr(ARRAY, [[...le.u32(13), ...le.u64(0)]])]]));
  assert.deepEqual(badType, { field: 'metadata[0] (t.bad) element at offset 53', message: '/m/x.gguf: metadata[0] (t.bad) element at offset 53: expected a GGUF value type 0–12, found 13' });
  // An inner u8 array at the end of the file: a count of exactly the bytes left after its 12-byte head
  // fits; one more does not.
  const innerU8 = (count: number, bytes: number): number[] => le.arr(ARRAY, [[...le.u32(U8), ...le.u64(count), ...new Array(bytes).fill(1)]]);
  const header = await readGgufHeader(memorySource(ggufOf([['t.bad', ARRAY, innerU8(3, 3)]])), '/m/x.gguf');
  assert.deepEqual(header.metadata.get('t.bad'), { longArray: true, elementType: 'array', count: 1, bytes: 15 });
  assert.deepEqual(await ggufRefusal(ggufOf([['t.bad', ARRAY, innerU8(4, 3)]])), { field: 'metadata[0] (t.bad) element at offset 53', message: '/m/x.gguf: metadata[0] (t.bad) element at offset 53: expected an element count that fits the file, found 4' });
  // Strings inside: a count of 2 strings needs at least 2 · 8 bytes after the head.
  const innerStrings = (count: number, bytes: number[]): number[] => le.arr(ARRAY, [[...le.u32(STRING), ...le.u64(count), ...bytes]]);
  assert.deepEqual(await ggufRefusal(ggufOf([['t.bad', ARRAY, innerStrings(2, le.u64(0))]])), { field: 'metadata[0] (t.bad) element at offset 53', message: '/m/x.gguf: metadata[0] (t.bad) element at offset 53: expected an element count that fits the file, found 2' });
  const ok = await readGgufHeader(memorySource(ggufOf([['t.bad', ARRAY, innerStrings(2, [...le.u64(0), ...le.u64(0)])]])), '/m/x.gguf');
  assert.deepEqual(ok.metadata.get('t.bad'), { longArray: true, elementType: 'array', count: 1, bytes: 28 });
});

test('GGUF: an inner array, or a tensor name, longer than the read buffer is read on until it fits', async () => {
  // One inner array of three 600,000-byte strings: 12 + 3 · (8 + 600,000) bytes, more than the largest
  // chunk the cursor reads on its own (1 MiB), so only asking for more than is buffered gets past it.
  // Built as bytes, not number lists (1.8 MB).
  const long = new Uint8Array(600_000).fill(0x78);
  // The file up to the inner array's count, its kv count (bytes 16–23) made 2 for the key after the strings.
  const head = ggufOf([['t.long', ARRAY, [...le.u32(ARRAY), ...le.u64(1), ...le.u32(STRING), ...le.u64(3)]]]);
  const parts = [head.subarray(0, 16), Uint8Array.from(le.u64(2)), head.subarray(24), ...[long, long, long].flatMap((b) => [Uint8Array.from(le.u64(b.length)), b]), Uint8Array.from([...le.str('t.after'), ...le.u32(U32), ...le.u32(11)])];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  const header = await readGgufHeader(memorySource(bytes), '/m/x.gguf');
  assert.deepEqual(header.metadata.get('t.long'), { longArray: true, elementType: 'array', count: 1, bytes: 12 + 3 * 600_008 });
  assert.equal(header.metadata.get('t.after'), 11);
  // Tensor infos: a 30,000-byte name between two short ones.
  const tensors = [{ name: 'a', shape: [2, 3] }, { name: 'n'.repeat(30_000), shape: [5] }, { name: 'b', shape: [7, 1, 2] }];
  const file = writeGguf({ kv: [['general.architecture', gv.str('llama')]], tensors });
  const read = await readGgufHeader(memorySource(file.bytes), '/m/x.gguf', { tensors: true });
  assert.deepEqual(read.tensors?.map((t) => [t.name.length, t.shape]), [[1, [2, 3]], [30_000, [5]], [1, [7, 1, 2]]]);
});

/** The fact lines of a spec's table by their label, and its lines from "head:" on. */
function tableParts(spec: ModelSpec): { facts: Map<string, string>; rest: string[] } {
  const lines = formatSpecTable(spec).split('\n');
  const blank = lines.indexOf('');
  const facts = new Map(lines.slice(1, blank).map((l) => [l.slice(2, 14).trim(), l.slice(14)]));
  return { facts, rest: lines.slice(lines.findIndex((l) => l.startsWith('  head:') || l === 'Skipped layers' || l === 'Notes')) };
}

test('model summary: LayerNorm, tied embeddings, cross-attention, skipped hybrid layers, vision and notes, as published', async () => {
  // GPT-2 (124M): LayerNorm, head tied to wte. Per layer: c_attn 768·2304 + 2304, c_proj 768·768 + 768,
  // c_fc 768·3072 + 3072, mlp c_proj 3072·768 + 768, two LayerNorms of 2·768: 7,087,872; the model's
  // 124,439,808 is the published GPT2LMHeadModel count.
  const gpt2 = tableParts(await loadFixture('GPT-2'));
  assert.equal(gpt2.facts.get('norm'), 'LayerNorm, eps 1e-5');
  assert.equal(gpt2.facts.get('embeddings'), 'tied to the output layer');
  assert.equal(gpt2.facts.get('params'), '124,439,808 total');
  assert.deepEqual(gpt2.rest.slice(0, 4), ['  head: ln_f → lm_head (768 → 50,257)', '', 'Notes', '  - GPT-2 stores its projections as Conv1D (transposed weights); c_attn holds q, k and v.']);
  // BART-large: 12 encoder and 12 decoder layers, post-norm, no final norm before the tied head. Decoder
  // layer: three attention-sized blocks of 4·(1024·1024 + 1024) (self, cross, fc1 4096·1024 + 4096 is the
  // same count), fc2 4096·1024 + 1024, three LayerNorms of 2·1024: 16,796,672.
  const bart = formatSpecTable(await loadFixture('BART-large')).split('\n');
  assert.ok(bart.some((l) => /^ {2}cross-decoder +12-23 +12 +post-norm +MHA 16\/16×64 \+cross +dense 4,096 gelu .* 16,796,672$/.test(l)), bart.join('\n'));
  assert.ok(bart.includes('  head: no final norm → lm_head (1,024 → 50,265)'), bart.join('\n'));
  // Jamba-v0.1: attention every 8th layer from 4 (attn_layer_period 8, attn_layer_offset 4) of 32.
  const jamba = tableParts(await loadFixture('Jamba-v0.1'));
  assert.equal(jamba.facts.get('topology'), 'decoder, 4 layers profiled of 32');
  const skipped = jamba.rest.indexOf('Skipped layers');
  assert.deepEqual(jamba.rest.slice(skipped, skipped + 3), ['Skipped layers', '  0-3, 5-11, 13-19, 21-27, 29-31: mamba layers have no Softmax attention to profile', '']);
  // Llava-1.5: CLIP ViT-L/14 at 336 px: 24 layers, hidden 1024, 16 heads.
  const llava = tableParts(await loadFixture('Llava-1.5-7b-hf'));
  assert.equal(llava.facts.get('vision'), 'clip_vision_model: 24 layers, hidden 1024, 16 heads, 336px images, 14px patches (not profiled)');
  // BERT (the encoder alone): neither a final norm nor an output layer, so no head line.
  assert.ok(!formatSpecTable(await loadFixture('bert-base-uncased')).includes('head:'));
  // A spec with weights counted from its files, and one with a final norm but no output layer.
  const tiny = specFromConfig({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 }, CONFIG);
  assert.equal(tableParts({ ...tiny, paramsFromWeights: 1_234_567 }).facts.get('weights'), '1,234,567 elements in the weight files');
  assert.equal(tableParts({ ...tiny, lmHead: null }).rest[0], '  head: norm → no output layer');
});

test('parameter count of a spec without its extra parameters: one vocab × hidden embedding table is assumed', () => {
  // The tiny Llama of the summary test: 2 · 36,992 per layer + the final norm 64 + the untied head
  // 100 · 64; the assumed embedding table adds 100 · 64: 86,848. Tied, the head's weight is not counted again.
  const tiny = specFromConfig({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 }, CONFIG);
  assert.deepEqual(countParams({ ...tiny, extraParams: undefined }), { total: 86_848, active: 86_848 });
  assert.deepEqual(countParams({ ...tiny, extraParams: undefined, tiedEmbeddings: true }), { total: 80_448, active: 80_448 });
  // OLMo's LayerNorm has no learned parameters (affine 'none'): two per layer count nothing.
  const olmoLike = { ...tiny, extraParams: undefined, layerKinds: tiny.layerKinds.map((k) => ({ ...k, norms: k.norms.map((n) => ({ ...n, affine: 'none' as const })) })), finalNorm: tiny.finalNorm && { ...tiny.finalNorm, affine: 'none' as const } };
  assert.deepEqual(countParams(olmoLike), { total: 86_848 - 2 * 2 * 64 - 64, active: 86_848 - 2 * 2 * 64 - 64 });
});

test('GGUF reads past the end: a truncated header and a source that returns less than it holds are named by field and offset', async () => {
  // "GGUF", version 3, then 3 of the tensor count's 8 bytes.
  const truncated = Uint8Array.from([...[...'GGUF'].map((c) => c.charCodeAt(0)), ...le.u32(3), 1, 0, 0]);
  assert.deepEqual(await ggufRefusal(truncated), { field: 'header.tensor_count', message: '/m/x.gguf: header.tensor_count: expected a 64-bit integer (8 bytes) within the file, found only 3 bytes left at offset 8: truncated or corrupt' });
  // A source that hands back at most 16 bytes a read, whatever it was asked (a misbehaving disk or network
  // source): the 20-byte key at offset 32 (after the 24-byte header and its 8-byte length) comes up short.
  const stingy = (bytes: Uint8Array) => ({ size: bytes.length, read: async (offset: number, length: number) => bytes.subarray(offset, Math.min(bytes.length, offset + Math.min(length, 16))) });
  const key = 'k'.repeat(20);
  await assert.rejects(readGgufHeader(stingy(ggufOf([[key, U32, le.u32(1)]])), '/m/x.gguf'), (e: unknown) => e instanceof InputError && e.message === `/m/x.gguf: metadata[0].key: expected the key (20 bytes), found a short read at offset 32: the file ended early`);
  // Seventy strings (more than are kept) are skipped by refilling the buffer, and the refill comes up short.
  const strings = le.arr(STRING, Array.from({ length: 70 }, () => le.str('s')));
  await assert.rejects(readGgufHeader(stingy(ggufOf([['t.s', ARRAY, strings]])), '/m/x.gguf'), (e: unknown) => e instanceof InputError && e.field === 'metadata[0] (t.s).array data' && /: expected the array elements \(\d+ bytes\), found a short read at offset \d+: the file ended early$/.test(e.message));
});

/** A safetensors file by the format's layout: the JSON's byte length as a little-endian u64, the JSON, `data` bytes. */
function safetensorsOf(json: string, data = 8): Uint8Array {
  const text = new TextEncoder().encode(json);
  return Uint8Array.from([...le.u64(text.length), ...text, ...new Array(data).fill(0)]);
}
/** [field, expected, found] of the reader's refusal, or the tensors it read. */
async function safetensorsRead(bytes: Uint8Array): Promise<[string, string, string | undefined] | { tensors: [string, string, number[], number][]; metadata: [string, string][] }> {
  try {
    const h = await readSafetensorsHeader(memorySource(bytes), '/m/w.safetensors');
    return { tensors: h.tensors.map((t) => [t.name, t.dtype, t.shape, t.elements]), metadata: [...h.metadata] };
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return [err.field, err.expected, err.found];
  }
}

test('safetensors header: the top level, entry separators, names and strings, each refused with its field', async () => {
  const a = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  const read = (json: string, data?: number) => safetensorsRead(safetensorsOf(json, data));
  assert.deepEqual(await read(`{"a":${a}}`), { tensors: [['a', 'F32', [2], 2]], metadata: [] });
  // Whitespace anywhere JSON allows it, and the format's trailing padding of spaces.
  assert.deepEqual(await read(` \t\r\n{ "a" : { "dtype" : "F32" , "shape" : [ 2 ] , "data_offsets" : [ 0 , 8 ] } }    `), { tensors: [['a', 'F32', [2], 2]], metadata: [] });
  assert.deepEqual(await read('{}'), { tensors: [], metadata: [] });
  assert.deepEqual(await read('{ }'), { tensors: [], metadata: [] });
  const top = 'a JSON object';
  assert.deepEqual(await read('[]'), ['header', top, 'an array']);
  assert.deepEqual(await read('"x"'), ['header', top, 'a string']);
  assert.deepEqual(await read('-12e3,'), ['header', top, '-12e3']);
  assert.deepEqual(await read('nul'), ['header', top, 'true, false or null']);
  assert.deepEqual(await read('x'), ['header', top, '"x" at character 0 of the header']);
  assert.deepEqual(await read(''), ['header', top, 'the end of the header']);
  assert.deepEqual(await read('{} x'), ['header', 'nothing after the JSON object', 'invalid JSON at character 3 of the header']);
  assert.deepEqual(await read('{"a" 1}'), ['header', '":" after the name "a"', 'invalid JSON at character 5 of the header']);
  assert.deepEqual(await read(`{"a":${a} "b"}`), ['header', '"," or "}" after the entry "a"', `invalid JSON at character ${6 + a.length} of the header`]);
  assert.deepEqual(await read('{1:2}'), ['header', 'a tensor name (a JSON string)', '1']);
  // Names: escapes decoded; an unterminated one, a raw control character, a bad escape refused.
  assert.deepEqual(await read(`{"\\u0061\\"b":${a}}`), { tensors: [['a"b', 'F32', [2], 2]], metadata: [] });
  assert.deepEqual(await read('{"ab'), ['header', 'a closing quote', 'the end of the header']);
  assert.deepEqual(await read('{"a\nb":1}'), ['header', 'a JSON string (no raw control characters)', 'invalid JSON at character 3 of the header']);
  assert.deepEqual(await read('{"a\\x":1}'), ['header', 'a JSON string with valid escapes', 'invalid JSON at character 6 of the header']);
  // A long name is cut to 80 characters in the message.
  const long = 'n'.repeat(100);
  assert.deepEqual(await read(`{"${long}" 1}`), ['header', `":" after the name "${'n'.repeat(80)}…"`, 'invalid JSON at character 104 of the header']);
});

test('safetensors header: tensor entries, their dtype, shape and offsets, and the metadata, each refused with its field', async () => {
  const read = (json: string, data?: number) => safetensorsRead(safetensorsOf(json, data));
  const entry = (fields: string) => `{"a":{${fields}}}`;
  const ok = '"dtype":"F32","shape":[2],"data_offsets":[0,8]';
  const at = 'header["a"]';
  assert.deepEqual(await read(`{"a":{${ok}},"a":{${ok}}}`), [at, 'each tensor named once', 'a second entry of that name']);
  assert.deepEqual(await read('{"a":[1]}'), [at, 'a tensor entry {dtype, shape, data_offsets}', 'an array']);
  assert.deepEqual(await read('{"a":{}}'), [`${at}.dtype`, 'a dtype name such as "BF16"', 'nothing']);
  assert.deepEqual(await read(entry('"dtype":5')), [`${at}.dtype`, 'a dtype name such as "BF16"', '5']);
  assert.deepEqual(await read(entry('"dtype":"F32"')), [`${at}.shape`, 'a list of non-negative integers', 'nothing']);
  assert.deepEqual(await read(entry('"dtype":"F32","shape":[2]')), [`${at}.data_offsets`, '[begin, end] within the 8 data bytes', 'nothing']);
  assert.deepEqual(await read(entry('"dtype" "F32"')), [at, '":" after "dtype"', 'invalid JSON at character 14 of the header']);
  assert.deepEqual(await read(entry(`${ok} "x"`)), [at, '"," or "}" inside the tensor entry', `invalid JSON at character ${7 + ok.length} of the header`]);
  // Offsets: begin ≤ end ≤ the data bytes, exactly two.
  const offsets = (o: string, data = 8) => read(entry(`"dtype":"F32","shape":[2],"data_offsets":${o}`), data);
  const within8 = '[begin, end] within the 8 data bytes';
  assert.deepEqual(await offsets('[8,8]'), { tensors: [['a', 'F32', [2], 2]], metadata: [] });
  assert.deepEqual(await offsets('[8,0]'), [`${at}.data_offsets`, within8, '[8, 0]']);
  assert.deepEqual(await offsets('[0,9]'), [`${at}.data_offsets`, within8, '[0, 9]']);
  assert.deepEqual(await offsets('[0]'), [`${at}.data_offsets`, within8, '[0]']);
  assert.deepEqual(await offsets('[]'), [`${at}.data_offsets`, within8, '[]']);
  assert.deepEqual(await offsets('[0,1,2]'), [`${at}.data_offsets`, `${within8}, at most 2 of them`, 'more']);
  assert.deepEqual(await offsets('[0;8]'), [`${at}.data_offsets`, within8, 'invalid JSON at character 49 of the header']);
  assert.deepEqual(await offsets('{}'), [`${at}.data_offsets`, within8, 'an object']);
  // Shapes: at most 8 dimensions of non-negative integers written as such; the element count is their product.
  const shape = (s: string) => read(entry(`"dtype":"BF16","shape":${s},"data_offsets":[0,8]`));
  const dims = 'a list of non-negative integers';
  assert.deepEqual(await shape('[1,2,1,3,1,1,1,2]'), { tensors: [['a', 'BF16', [1, 2, 1, 3, 1, 1, 1, 2], 12]], metadata: [] });
  assert.deepEqual(await shape('[]'), { tensors: [['a', 'BF16', [], 1]], metadata: [] });
  assert.deepEqual(await shape('[0,9007199254740991,5]'), { tensors: [['a', 'BF16', [0, 9007199254740991, 5], 0]], metadata: [] });
  assert.deepEqual(await shape('[1,1,1,1,1,1,1,1,1]'), [`${at}.shape`, `${dims}, at most 8 of them`, 'more']);
  for (const [bad, found] of [['-1', '-1'], ['1.5', '1.5'], ['1e3', '1e3'], ['2E3', '2E3'], ['01', '01'], ['12345678901234567', '12345678901234567'], ['9007199254740993', '9007199254740992'], ['"2"', 'a string'], ['true', 'true, false or null']]) {
    assert.deepEqual(await shape(`[${bad}]`), [`${at}.shape`, dims, found], bad);
  }
  assert.deepEqual(await shape('[1,10,]'), [`${at}.shape`, dims, ']" at character 35 of the header'.replace(/^/, '"')]);
  assert.deepEqual(await shape('[4294967296,4294967296]'), [`${at}.shape`, 'dimensions whose product (the element count) is at most 9007199254740991', '[4294967296, 4294967296]']);
  // Unknown fields of an entry: any string, number or literal is skipped; arrays and objects are refused.
  for (const value of ['"s"', 'true', 'false', 'null', '0', '-1.5e+3', '2E-7', '10']) {
    assert.deepEqual(await read(entry(`"extra":${value},${ok}`)), { tensors: [['a', 'F32', [2], 2]], metadata: [] }, value);
  }
  const scalar = 'a string, number, true, false or null (an unknown field of a tensor entry)';
  for (const [bad, found] of [['[1]', 'an array'], ['{}', 'an object'], ['tru', 'true, false or null'], ['1.', '1.'], ['-', '-'], ['+1', '"+" at character 14 of the header'], ['.5', '"." at character 14 of the header'], ['1e', '1e'], ['x1', '"x" at character 14 of the header']]) {
    assert.deepEqual(await read(entry(`"extra":${bad},${ok}`)), [`${at}.extra`, scalar, found], bad);
  }
  // A number of 64 digits is skipped; a run of 100 is cut off after 65 characters, not copied whole, and
  // refused at the character where the cut falls.
  assert.deepEqual(await read(entry(`"extra":${'1'.repeat(64)},${ok}`)), { tensors: [['a', 'F32', [2], 2]], metadata: [] });
  assert.deepEqual(await read(entry(`"extra":${'1'.repeat(100)},${ok}`)), [at, '"," or "}" inside the tensor entry', 'invalid JSON at character 79 of the header']);
  // __metadata__: strings to strings, in file order.
  assert.deepEqual(await read('{"__metadata__":{"format":"pt","b":"2"}}'), { tensors: [], metadata: [['format', 'pt'], ['b', '2']] });
  assert.deepEqual(await read('{"__metadata__":{}}'), { tensors: [], metadata: [] });
  const meta = 'header["__metadata__"]';
  assert.deepEqual(await read('{"__metadata__":[]}'), [meta, 'an object of strings', 'an array']);
  assert.deepEqual(await read('{"__metadata__":{"k":1}}'), [`${meta}["k"]`, 'a string', '1']);
  assert.deepEqual(await read('{"__metadata__":{"k" "v"}}'), [meta, '":" after "k"', 'invalid JSON at character 21 of the header']);
  assert.deepEqual(await read('{"__metadata__":{"k":"v" "x"}}'), [meta, '"," or "}" inside __metadata__', 'invalid JSON at character 25 of the header']);
  assert.deepEqual(await read('{"__metadata__":{1:"v"}}'), [meta, 'a metadata key (a JSON string)', '1']);
});

test('safetensors header length: shorter than 8 bytes, past the file, over the cap; JSON that is not UTF-8', async () => {
  const refusal = (bytes: Uint8Array) => safetensorsRead(bytes);
  assert.deepEqual(await refusal(Uint8Array.from([1, 2, 3, 4, 5])), ['header length', 'an 8-byte little-endian header length', 'a 5-byte file']);
  // 10 bytes of header announced, 4 of JSON and nothing else in a 12-byte file.
  assert.deepEqual(await refusal(Uint8Array.from([...le.u64(10), ...new TextEncoder().encode('{}  ')])), ['header length', 'at most 4 bytes (the file is 12 bytes)', '10']);
  assert.deepEqual(await refusal(Uint8Array.from([...le.u64(100_000_001), 0x7b, 0x7d])), ['header length', 'a header length in bytes no larger than 100,000,000', '100,000,001']);
  // A header that fills the file to its last byte is read.
  assert.deepEqual(await refusal(safetensorsOf('{}', 0)), { tensors: [], metadata: [] });
  assert.deepEqual(await refusal(Uint8Array.from([...le.u64(2), 0xff, 0xfe])), ['header', 'UTF-8 JSON', 'bytes that are not UTF-8']);
});

test("Jamba's skipped Mamba layers are counted by transformers' JambaMambaMixer shapes", () => {
  // Two layers: 0 Mamba with a dense MLP, 1 attention with 4 experts (attn_layer_period 2, offset 1;
  // expert_layer_period 2, offset 1). hidden 64, mamba_expand 2 (inner 128), d_state 16, d_conv 4,
  // dt_rank "auto" = ceil(64 / 16) = 4, conv bias, no projection bias. The mixer:
  //   in_proj 64·256 = 16,384; conv1d 128·4 + 128 = 640; x_proj 128·(4 + 32) = 4,608;
  //   dt_proj 4·128 + 128 = 640; A_log 128·16 = 2,048; D 128; out_proj 128·64 = 8,192;
  //   dt, B and C layernorms 4 + 16 + 16 = 36: 32,676.
  // The Mamba layer adds its two RMSNorms (128) and a gated MLP 3·64·128 = 24,576: 57,380.
  // The attention layer is the tiny Mixtral's of the summary test: 110,976 (61,824 active). With the
  // embeddings and the untied head (2·6,400) and the final norm (64): 181,220 (132,068 active).
  const published = JSON.parse(readFileSync(fixturePath('Jamba-v0.1'), 'utf8')) as Record<string, unknown>;
  const tiny = { ...published, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100, num_experts: 4, num_experts_per_tok: 2, attn_layer_period: 2, attn_layer_offset: 1, expert_layer_period: 2, expert_layer_offset: 1 };
  for (const rank of ['auto', undefined]) {
    const spec = specFromConfig({ ...tiny, mamba_dt_rank: rank }, CONFIG);
    assert.deepEqual(spec.params, { total: 181_220, active: 132_068 }, String(rank));
  }
  // dt_rank 8: x_proj and dt_proj grow by 128·4 each and the dt layernorm by 4: 1,028 more.
  assert.deepEqual(specFromConfig({ ...tiny, mamba_dt_rank: 8 }, CONFIG).params, { total: 182_248, active: 133_096 });
  // With the projection biases (2·128 on in_proj, 64 on out_proj) and no conv bias (−128): 192 more.
  assert.deepEqual(specFromConfig({ ...tiny, mamba_dt_rank: 'auto', mamba_proj_bias: true, mamba_conv_bias: false }, CONFIG).params, { total: 181_412, active: 132_260 });
});

test('activation names: the HF ACT2FN names map to the costed forms', () => {
  const cases: [string, string][] = [['relu', 'relu'], [' ReLU ', 'relu'], ['relu2', 'relu-like'], ['leaky_relu', 'relu-like'], ['gelu', 'gelu'], ['gelu_new', 'gelu'], ['quick_gelu', 'gelu'], ['gelu_pytorch_tanh', 'gelu'], ['silu', 'silu'], ['swish', 'silu'], ['SiLU', 'silu'], ['tanh', 'other'], ['', 'other']];
  for (const [name, form] of cases) assert.equal(parseActivation(name), form, name);
});

test('MoE styles with no experts: Qwen and DeepSeek configs read as dense; a Mixtral without experts is refused', () => {
  const tiny = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 };
  // transformers' Qwen2MoeConfig and DeepseekV2Config take num_experts / n_routed_experts; 0 or null
  // leaves only the dense MLP of intermediate_size.
  for (const [model_type, key] of [['qwen2_moe', 'num_experts'], ['deepseek_v2', 'n_routed_experts'], ['llama', 'num_local_experts']] as const) {
    for (const none of [0, null]) {
      const extra = model_type === 'deepseek_v2' ? { kv_lora_rank: 16, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, q_lora_rank: null } : {};
      const spec = specFromConfig({ model_type, ...tiny, ...extra, [key]: none }, CONFIG);
      assert.deepEqual(spec.layerKinds.map((k) => [k.mlp.kind, k.mlp.ffn]), spec.layerKinds.map(() => ['gated', 128]), `${model_type} ${key} ${none}`);
    }
  }
  assert.throws(() => specFromConfig({ model_type: 'mixtral', ...tiny, num_local_experts: 0 }, CONFIG), (e: unknown) => e instanceof InputError && e.field === 'num_local_experts' && /expected a positive number of experts/.test(e.message));
});

test('config.json edges: a text_config without its own model_type, model_type null or not a string, vision towers, a name from nothing', () => {
  const tiny = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 };
  // LLaVA's text model is a Llama when text_config names no model_type (transformers' LlavaConfig
  // defaults text_config to "llama"); another top-level type is its own text type.
  assert.equal(specFromConfig({ model_type: 'llava', text_config: tiny }, CONFIG).family, 'llama');
  assert.equal(specFromConfig({ model_type: 'mistral', text_config: tiny }, CONFIG).family, 'mistral');
  // A state-space text model is refused under its path inside the file.
  assert.throws(() => specFromConfig({ model_type: 'llava', text_config: { ...tiny, model_type: 'mamba' } }, CONFIG), (e: unknown) => e instanceof InputError && e.field === 'text_config.model_type' && e.kind === 'unsupported');
  assert.throws(() => specFromConfig({ model_type: 5, ...tiny }, CONFIG), (e: unknown) => e instanceof InputError && e.message === '/models/config.json: model_type: expected a string, found 5');
  // null is as good as absent: the architecture names the family, a Mamba architecture is refused.
  assert.equal(specFromConfig({ model_type: null, architectures: ['LlamaForCausalLM'], ...tiny }, CONFIG).family, 'llama');
  assert.throws(() => specFromConfig({ architectures: ['MambaForCausalLM'], ...tiny }, CONFIG), (e: unknown) => e instanceof InputError && e.field === 'model_type' && e.kind === 'unsupported');
  // Vision towers: a vision_config without a model_type or sizes, and LLaVA-1.5's original mm_vision_tower.
  assert.deepEqual(specFromConfig({ model_type: 'llama', ...tiny, vision_config: {} }, CONFIG).vision, { modelType: 'vision tower', description: 'vision tower' });
  assert.deepEqual(specFromConfig({ model_type: 'llama', ...tiny, mm_vision_tower: 'openai/clip-vit-large-patch14-336' }, CONFIG).vision, { modelType: 'openai/clip-vit-large-patch14-336', description: 'vision tower openai/clip-vit-large-patch14-336' });
  // No _name_or_path and a path with no file name: the architecture, else the model type.
  const root = { path: '/', format: 'config.json' as const };
  assert.equal(specFromConfig({ model_type: 'llama', architectures: ['LlamaForCausalLM'], ...tiny }, root).name, 'LlamaForCausalLM');
  assert.equal(specFromConfig({ model_type: 'llama', ...tiny }, root).name, 'llama');
});

test('config.json fields of the wrong type or shape are named: booleans, strings, layer_types, mlp_only_layers', () => {
  const tiny = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 };
  const refused = (config: Record<string, unknown>): string => {
    try {
      specFromConfig(config, CONFIG);
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      return err.message.replace('/models/config.json: ', '');
    }
    return 'accepted';
  };
  assert.equal(refused({ model_type: 'llama', ...tiny, tie_word_embeddings: 'yes' }), 'tie_word_embeddings: expected true or false, found "yes"');
  assert.equal(refused({ model_type: 'bert', ...tiny, max_position_embeddings: 512, position_embedding_type: 5 }), 'position_embedding_type: expected a string, found 5');
  assert.equal(refused({ model_type: 'qwen3', ...tiny, layer_types: [1, 2] }), 'layer_types: expected a list of strings, found an array of 2');
  assert.equal(refused({ model_type: 'qwen3', ...tiny, layer_types: 'full_attention' }), 'layer_types: expected a list of strings, found "full_attention"');
  // Sliding layers need a window; a list with no attention layer leaves nothing to profile.
  assert.equal(refused({ model_type: 'qwen3', ...tiny, layer_types: ['sliding_attention', 'full_attention'] }), 'sliding_window: expected a window length for the sliding_attention layers');
  assert.equal(refused({ model_type: 'qwen3', ...tiny, layer_types: ['chunked_attention', 'full_attention'] }), 'sliding_window: expected a window length for the chunked_attention layers');
  assert.equal(refused({ model_type: 'qwen3', ...tiny, layer_types: ['linear_attention', 'linear_attention'] }), 'layer_types: expected at least one attention layer to profile');
  // Qwen2-MoE's mlp_only_layers: indices of the 2 layers, 0 or 1.
  const moe = { model_type: 'qwen2_moe', ...tiny, num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 16 };
  assert.equal(refused({ ...moe, mlp_only_layers: [0, 2] }), 'mlp_only_layers: expected a list of layer indices between 0 and 1, found an array of 2');
  assert.equal(refused({ ...moe, mlp_only_layers: [-1] }), 'mlp_only_layers: expected a list of layer indices between 0 and 1, found an array of 1');
  assert.equal(refused({ ...moe, mlp_only_layers: [0.5] }), 'mlp_only_layers: expected a list of layer indices between 0 and 1, found an array of 1');
  assert.equal(refused({ ...moe, mlp_only_layers: 1 }), 'mlp_only_layers: expected a list of layer indices between 0 and 1, found 1');
  const only0 = specFromConfig({ ...moe, mlp_only_layers: [0] }, CONFIG);
  assert.deepEqual(only0.layerKinds.map((k) => [k.layers, k.mlp.kind]), [[[0], 'gated'], [[1], 'moe']]);
});

test('GGUF metadata edges: an unknown file type, per-layer arrays, an architecture that is a long string', async () => {
  const base = llamaGgufKv({ arch: 'llama', name: 't', layers: 4, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, context: 4096, vocab: 100, eps: 1e-5, tokens: false });
  const read = (kv: [string, GgufEntry][]) => specFromGguf(memorySource(writeGguf({ kv }).bytes), { path: '/m/t.gguf', format: 'gguf' });
  const replaced = (key: string, v: GgufEntry): [string, GgufEntry][] => base.map(([k, x]) => [k, k === key ? v : x]);
  // llama.cpp's LLAMA_FTYPE: 15 is MOSTLY_Q4_K_M; a number it does not define is shown as itself.
  assert.equal((await read(replaced('general.file_type', gv.u32(15)))).dtype, 'Q4_K_M');
  assert.equal((await read(replaced('general.file_type', gv.u32(99)))).dtype, 'file_type 99');
  // Per-layer KV heads (llama.cpp writes arrays for models whose layers differ): the largest is used,
  // with a note when they differ; zeros (layers without attention) are not counted.
  const kvHeads = async (values: number[]) => {
    const spec = await read(replaced('llama.attention.head_count_kv', gv.arr('u32', values)));
    return [spec.layerKinds.map((k) => k.attention.kvHeads), spec.notes.filter((n) => n.includes('varies per layer'))];
  };
  assert.deepEqual(await kvHeads([2, 2, 1, 2]), [[2], ['llama.attention.head_count_kv varies per layer; the largest value (2) was used for every layer.']]);
  assert.deepEqual(await kvHeads([1, 2, 2, 2]), [[2], ['llama.attention.head_count_kv varies per layer; the largest value (2) was used for every layer.']]);
  assert.deepEqual(await kvHeads([0, 2, 0, 2]), [[2], []]);
  assert.deepEqual(await kvHeads([2, 2, 2, 2]), [[2], []]);
  // All zeros, or an array too long to keep: as if absent, so the KV heads default to the heads (4).
  assert.deepEqual(await kvHeads([0, 0, 0, 0]), [[4], []]);
  assert.deepEqual(await kvHeads(new Array(5000).fill(2)), [[4], []]);
  // A size given as a long string is refused with its first characters.
  await assert.rejects(read(replaced('llama.attention.head_count_kv', gv.str('y'.repeat(5000)))), (e: unknown) => e instanceof InputError && e.field === 'llama.attention.head_count_kv' && e.message.endsWith(`found "${'y'.repeat(40)}…"`));
  await assert.rejects(read(replaced('general.architecture', gv.str('x'.repeat(5000)))), (e: unknown) => e instanceof InputError && e.message === '/m/t.gguf: general.architecture: expected a string naming the architecture (e.g. "llama"), found a 5,000-byte string');
});

/** A published config from the fixtures, parsed. */
function published(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as Record<string, unknown>;
}

test('classic families: GPT-BigCode multi-query, GPT-J and GPT-NeoX rotary notes, OPT without affine norms, Phi with QK LayerNorms', () => {
  // transformers' GPTBigCodeConfig: multi_query defaults to true, one shared K/V head. A 2-layer model of
  // width 64, 4 heads of 16, 4·64 MLP: c_attn 64·(64 + 2·16) + 96 = 6,240, c_proj 4,160, c_fc 16,640,
  // mlp c_proj 16,448, two LayerNorms 256 → 43,744 a layer; wte 6,400, wpe 128·64 = 8,192, ln_f 128,
  // the head tied: 102,208. Without multi_query c_attn is 64·192 + 192 = 12,480: 114,688.
  const bigcode = { model_type: 'gpt_bigcode', n_embd: 64, n_layer: 2, n_head: 4, vocab_size: 100, n_positions: 128 };
  const mqa = specFromConfig(bigcode, CONFIG);
  assert.deepEqual([mqa.family, mqa.layerKinds[0]!.attention.kvHeads, mqa.params.total], ['gpt_bigcode', 1, 102_208]);
  const mha = specFromConfig({ ...bigcode, multi_query: false }, CONFIG);
  assert.deepEqual([mha.layerKinds[0]!.attention.kvHeads, mha.params.total], [4, 114_688]);
  // GPT-J-6B: rotary_dim 64 of the 4096 / 16 = 256 dimensions of a head; without rotary_dim, no such note.
  const gptj = published('GPT-J-6B');
  assert.ok(specFromConfig(gptj, CONFIG).notes.includes('Rotary embedding on the first 64 of 256 dimensions of each head.'));
  assert.ok(!specFromConfig({ ...gptj, rotary_dim: null }, CONFIG).notes.some((n) => n.startsWith('Rotary')));
  // Pythia-410m: rotary_pct 0.25; use_parallel_residual false makes the block sequential (same parameters).
  const pythia = published('Pythia-410m');
  const sequential = specFromConfig({ ...pythia, use_parallel_residual: false }, CONFIG);
  assert.deepEqual(sequential.notes, ['Sequential residual (use_parallel_residual false).', 'Rotary embedding on 25% of each head.']);
  assert.deepEqual(sequential.layerKinds.map((k) => k.block), ['pre-norm']);
  assert.equal(sequential.params.total, specFromConfig(pythia, CONFIG).params.total);
  assert.ok(!specFromConfig({ ...pythia, rotary_pct: 1 }, CONFIG).notes.some((n) => n.startsWith('Rotary')));
  // OPT-125m: 125,239,296 parameters as published; layer_norm_elementwise_affine false drops the
  // weight and bias of 2 LayerNorms in each of 12 layers and of the final one: 25 · 2 · 768 = 38,400.
  const opt = published('OPT-125m');
  assert.equal(specFromConfig(opt, CONFIG).params.total, 125_239_296);
  const plain = specFromConfig({ ...opt, layer_norm_elementwise_affine: false }, CONFIG);
  assert.equal(plain.params.total, 125_239_296 - 38_400);
  assert.deepEqual(plain.layerKinds[0]!.norms.map((n) => n.affine), ['none', 'none']);
  // Phi-2 with qk_layernorm: LayerNorms of the 2560 / 32 = 80-wide head on q and k (weight and bias), in
  // each of 32 layers: 32 · 4 · 80 = 10,240 more.
  const phi = published('Phi-2');
  const qk = specFromConfig({ ...phi, qk_layernorm: true }, CONFIG);
  assert.equal(qk.params.total - specFromConfig(phi, CONFIG).params.total, 10_240);
  assert.deepEqual(qk.layerKinds[0]!.norms.map((n) => n.name), ['input_layernorm', 'q_layernorm', 'k_layernorm']);
});

test('Falcon: multi_query overrides num_kv_heads (with a note), KV heads must divide the heads, sequential and one-norm blocks', () => {
  const f7 = published('Falcon-7B');
  const said8 = specFromConfig({ ...f7, num_kv_heads: 8 }, CONFIG);
  assert.equal(said8.layerKinds[0]!.attention.kvHeads, 1);
  assert.ok(said8.notes.includes('multi_query is true: one KV head, whatever num_kv_heads (8) says.'));
  assert.ok(!specFromConfig({ ...f7, num_kv_heads: 1 }, CONFIG).notes.some((n) => n.startsWith('multi_query')));
  // parallel_attn false (transformers' FalconDecoderLayer): a post_attention_layernorm as well, 2 · 4544
  // more in each of 32 layers: 290,816.
  const sequential = specFromConfig({ ...f7, parallel_attn: false }, CONFIG);
  assert.deepEqual(sequential.layerKinds.map((k) => [k.block, k.norms.map((n) => n.name)]), [['pre-norm', ['input_layernorm', 'post_attention_layernorm']]]);
  assert.equal(sequential.params.total - specFromConfig(f7, CONFIG).params.total, 290_816);
  assert.ok(sequential.notes.includes('Falcon sequential block.'));
  const f40 = published('Falcon-40B');
  assert.throws(() => specFromConfig({ ...f40, num_kv_heads: 7 }, CONFIG), (e: unknown) => e instanceof InputError && e.message === '/models/config.json: num_kv_heads: expected a divisor of the number of attention heads 128, found 7');
  // The new architecture with num_ln_in_parallel_attn 1: one input_layernorm feeds both branches.
  const oneNorm = specFromConfig({ ...f40, num_ln_in_parallel_attn: 1 }, CONFIG);
  assert.deepEqual(oneNorm.layerKinds.map((k) => [k.block, k.norms.map((n) => n.name)]), [['parallel', ['input_layernorm']]]);
  assert.ok(oneNorm.notes.includes('Falcon parallel block: one input_layernorm feeds query_key_value and dense_h_to_4h.'), oneNorm.notes.join('\n'));
});

test('encoder families: BERT without a pooler or with relative positions, mT5, BART heads and mBART pre-norm', () => {
  // bert-base-uncased as BertModel: 109,482,240 (published). A masked-LM architecture has no pooler
  // (768·768 + 768 = 590,592 fewer), and its task head is not counted.
  const bert = published('bert-base-uncased');
  assert.equal(specFromConfig(bert, CONFIG).params.total, 109_482_240);
  const mlm = specFromConfig({ ...bert, architectures: ['BertForMaskedLM'] }, CONFIG);
  assert.equal(mlm.params.total, 109_482_240 - 590_592);
  assert.ok(mlm.notes[0]!.endsWith('embeddings are counted; the task head is not.'), mlm.notes[0]);
  assert.ok(specFromConfig(bert, CONFIG).notes[0]!.endsWith('embeddings and the pooler are counted as in BertModel.'));
  assert.equal(specFromConfig(bert, CONFIG).positions, 'learned');
  assert.equal(specFromConfig({ ...bert, position_embedding_type: 'relative_key' }, CONFIG).positions, 'relative');
  // mT5 is read as T5 and keeps its name.
  assert.equal(specFromConfig({ ...published('t5-small'), model_type: 'mt5' }, CONFIG).family, 'mt5');
  assert.equal(specFromConfig(published('t5-small'), CONFIG).family, 't5');
  // BART: each stack's heads must divide d_model.
  const bart = published('BART-large');
  for (const key of ['encoder_attention_heads', 'decoder_attention_heads']) {
    assert.throws(() => specFromConfig({ ...bart, [key]: 7 }, CONFIG), (e: unknown) => e instanceof InputError && e.message === `/models/config.json: ${key}: expected a divisor of d_model 1024, found 7`, key);
  }
  // normalize_before (mBART): every norm before its block, and a LayerNorm closing each stack
  // (transformers' MBartEncoder/MBartDecoder layer_norm): 2 · 2 · 1024 = 4,096 more than BART-large.
  const post = specFromConfig(bart, CONFIG);
  const pre = specFromConfig({ ...bart, normalize_before: true }, CONFIG);
  assert.equal(pre.params.total - post.params.total, 4_096);
  assert.deepEqual(pre.layerKinds.map((k) => [k.block, k.norms.map((n) => `${n.name}(${n.placement})`)]), [
    ['pre-norm', ['self_attn_layer_norm(pre)', 'final_layer_norm(pre)']],
    ['pre-norm', ['self_attn_layer_norm(pre)', 'encoder_attn_layer_norm(pre)', 'final_layer_norm(pre)']],
  ]);
  assert.equal(pre.finalNorm?.name, 'decoder.layer_norm');
  assert.equal(post.finalNorm, null);
  assert.ok(pre.notes.includes('Pre-norm (mBART / normalize_before): encoder.layer_norm and decoder.layer_norm close each stack.'));
});

test('a lone .safetensors file: names that are not Llama-style, indices past the limits, a head width the weights do not give', async () => {
  const read = async (tensors: TensorSpec[]) => {
    try {
      return specFromSafetensors(await readSafetensorsHeader(memorySource(writeSafetensors(tensors)), '/w/m.safetensors'), { path: '/w/m.safetensors', format: 'safetensors' }, 'm');
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      return `${err.field} | ${err.expected} | ${err.found}`;
    }
  };
  const llamaStyle = 'Llama-style tensor names (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, …); for other layouts put the config.json beside the weights';
  assert.equal(await read([{ name: 'transformer.wte.weight', shape: [100, 64] }, { name: 'transformer.h.0.attn.c_attn.weight', shape: [64, 192] }, { name: 'lm_head.weight', shape: [100, 64] }]), `tensors | ${llamaStyle} | 3 tensors such as "transformer.wte.weight", "transformer.h.0.attn.c_attn.weight"`);
  assert.equal(await read([]), `tensors | ${llamaStyle} | 0 tensors such as none`);
  // A q_proj of one dimension is not a weight matrix.
  const base = attentionOnly(1, { hidden: 64, vocab: 100, headDim: 16, heads: 4, kvHeads: 2 });
  assert.equal(await read(base.map((t) => (t.name.endsWith('q_proj.weight') ? { ...t, shape: [64] } : t))), `tensors | ${llamaStyle} | ${base.length} tensors such as "${base[0]!.name}", "${base[1]!.name}"`);
  // Layer indices up to LIMITS.layers − 1 (9,999) and expert indices up to LIMITS.experts − 1 (99,999).
  const extra = (name: string) => read([...base, { name, shape: [4] }]);
  assert.equal(await extra('model.layers.10000.input_layernorm.weight'), 'tensors["model.layers.10000.input_layernorm.weight"] | a layer index no larger than 9999 | 10000');
  assert.equal(await extra(`model.layers.${'9'.repeat(25)}.input_layernorm.weight`), `tensors["model.layers.${'9'.repeat(25)}.input_layernorm.weight"] | a layer index no larger than 9999 | ${'9'.repeat(20)}…`);
  // Up to 20 digits are quoted whole.
  assert.equal(await extra(`model.layers.${'9'.repeat(20)}.input_layernorm.weight`), `tensors["model.layers.${'9'.repeat(20)}.input_layernorm.weight"] | a layer index no larger than 9999 | ${'9'.repeat(20)}`);
  assert.equal(await extra('model.layers.0.block_sparse_moe.experts.100000.w1.weight'), 'tensors["model.layers.0.block_sparse_moe.experts.100000.w1.weight"] | an expert index no larger than 99999 | 100000');
  // Neither a q_norm nor a rotary inv_freq: heads of 128 are assumed, and the rows must be multiples of it.
  const noWidth = llamaTensors({ layers: 1, hidden: 256, ffn: 8, heads: 2, kvHeads: 1, headDim: 128, vocab: 100 }).filter((t) => !t.name.includes('inv_freq') && !t.name.includes('q_norm'));
  const assumed = await read(noWidth);
  assert.ok(typeof assumed !== 'string', String(assumed));
  assert.deepEqual([assumed.layerKinds[0]!.attention.heads, assumed.layerKinds[0]!.attention.kvHeads, assumed.layerKinds[0]!.attention.headDim], [2, 1, 128]);
  assert.ok(assumed.notes.includes('Head width is not stored in the weights: 128 assumed (heads = q_proj rows / 128).'));
  const narrow = llamaTensors({ layers: 1, hidden: 64, ffn: 8, heads: 4, kvHeads: 2, headDim: 16, vocab: 100 }).filter((t) => !t.name.includes('inv_freq') && !t.name.includes('q_norm'));
  assert.equal(await read(narrow), 'model.layers.0.self_attn.q_proj.weight shape | rows that are a multiple of the head width 128 | 64 and 32');
});

test('GGUF phi3: a sliding_window of 0 (what the converter writes for Phi-4, whose config has none) is no window', async () => {
  const kv = (window: number): [string, GgufEntry][] => [
    ...llamaGgufKv({ arch: 'phi3', name: 'tiny phi3', layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 4, context: 4096, vocab: 100, eps: 1e-5, tokens: false }),
    ['phi3.attention.sliding_window', gv.u32(window)],
  ];
  const read = async (window: number) => windows(await specFromGguf(memorySource(writeGguf({ kv: kv(window) }).bytes), { path: '/m/phi.gguf', format: 'gguf' }));
  // Phi-3-mini-4k's published sliding_window is 2047, on every layer.
  assert.deepEqual(await read(2047), [2047, 2047]);
  assert.deepEqual(await read(0), [null, null]);
});

test('GGUF tensor infos and arrays refused by field: too many dimensions, an element count past 2^53, an unknown element type; long strings in a kept list', async () => {
  const tensorsOf = (tensors: { name: string; shape: number[] }[]) => readGgufHeader(memorySource(writeGguf({ kv: [['general.architecture', gv.str('llama')]], tensors }).bytes), '/m/x.gguf', { tensors: true });
  // GGML_MAX_DIMS is 4; the reader allows up to 8 and refuses 9.
  await assert.rejects(tensorsOf([{ name: 'w', shape: new Array(9).fill(1) }]), (e: unknown) => e instanceof InputError && e.message === '/m/x.gguf: tensor_info[0] (w).n_dims: expected at most 8 dimensions, found 9');
  assert.deepEqual((await tensorsOf([{ name: 'w', shape: new Array(8).fill(2) }])).tensors?.[0]?.shape, new Array(8).fill(2));
  await assert.rejects(tensorsOf([{ name: 'w', shape: [4294967296, 4294967296] }]), (e: unknown) => e instanceof InputError && e.message === '/m/x.gguf: tensor_info[0] (w).dims: expected dimensions whose product (the element count) is at most 9007199254740991, found [4294967296, 4294967296]');
  // A top-level array whose element type is 13 (the types are 0–12).
  assert.deepEqual(await ggufRefusal(ggufOf([['t.bad', ARRAY, [...le.u32(13), ...le.u64(0)]]])), { field: 'metadata[0] (t.bad).array element type', message: '/m/x.gguf: metadata[0] (t.bad).array element type: expected a GGUF value type 0–12, found 13' });
  // A short list of strings is kept; a string in it longer than 4,096 bytes keeps its head, marked cut.
  const header = await readGgufHeader(memorySource(ggufOf([['t.list', ARRAY, le.arr(STRING, [le.str('a'), le.str('b'.repeat(5000))])]])), '/m/x.gguf');
  assert.deepEqual(header.metadata.get('t.list'), ['a', `${'b'.repeat(4096)}…`]);
});

test('file header rows: singular counts, boolean arrays, an inline array too long to show, a header without its tensor list', async () => {
  assert.equal(describeGgufValue({ longArray: true, elementType: 'string', count: 1, bytes: 1 }), 'array of 1 string (1 byte)');
  assert.equal(describeGgufValue(new Array(INLINE_ARRAY_MAX + 1).fill(true)), `array of ${INLINE_ARRAY_MAX + 1} booleans`);
  // Three 100-character strings: 3 · 102 + 2 · 2 + 2 = 312 characters inline, over VALUE_TEXT_MAX (240).
  const strings = ['x', 'y', 'z'].map((c) => c.repeat(100));
  const inline = `[${strings.map((s) => JSON.stringify(s)).join(', ')}]`;
  assert.equal(describeGgufValue(strings), `${inline.slice(0, VALUE_TEXT_MAX)}… (array of 3 strings)`);
  const noTensors = ggufFileHeader(await readGgufHeader(memorySource(ggufOf([['t.n', U32, le.u32(1)]])), '/m/x.gguf'));
  assert.deepEqual([noTensors.tensors, noTensors.elements, noTensors.metadata], [[], 0, [{ key: 't.n', value: '1' }]]);
});

test('GGUF: the families the list above leaves out, converted by the rules of llama.cpp\'s converter (helpers/gguf-converter.ts), read as their configs', async () => {
  // The lean form of model-family-roundtrip.test.ts (too slow for every mutant: it writes each
  // vocabulary as tokens): the vocabulary size goes in {arch}.vocab_size instead of a token list.
  const cases: [string, ((c: Record<string, unknown>) => Record<string, unknown>)?][] = [
    ['Qwen2-7B-Instruct'], ['Qwen3-0.6B'], ['Qwen3-30B-A3B'], ['Gemma-2-9b'], ['Gemma-3-1b-it'], ['Phi-3-mini-4k-instruct'], ['Llama-3.2-1B-Instruct'], ['DeepSeek-V2'],
    // Gemma writes no activation key: the family default (gelu_pytorch_tanh) replaces hidden_act "gelu".
    ['Gemma-2b', (c) => Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'hidden_act'))],
    // BloomModel writes the hidden size (1024) as the context length when the config has no seq_length.
    ['BLOOM-560m', (c) => ({ ...c, max_position_embeddings: 1024 })],
  ];
  for (const [fixture, lost] of cases) {
    const config = published(fixture);
    const fromConfig = specFromConfig(config, CONFIG);
    const { arch, kv, vocab } = converterMetadata(config);
    const lean: [string, GgufEntry][] = [...kv.filter(([k]) => k !== 'tokenizer.ggml.tokens'), [`${arch}.vocab_size`, gv.u32(vocab)]];
    const bytes = writeGguf({ kv: lean, tensors: converterTensors(config, arch, vocab, fromConfig.tiedEmbeddings) }).bytes;
    const fromGguf = await specFromGguf(memorySource(bytes), { path: '/models/x.gguf', format: 'gguf' });
    const expected = lost ? specFromConfig(lost(config), CONFIG) : fromConfig;
    assert.deepEqual(layout(fromGguf), layout(expected), `${fixture} (${arch})`);
    // Gemma-2-9b's attn_logit_softcapping (50) is read from gemma2.attn_logit_softcapping.
    if (fixture === 'Gemma-2-9b') assert.ok(fromGguf.notes.includes('Attention logits are soft-capped (tanh, cap 50) before the Softmax.'), fromGguf.notes.join('\n'));
  }
  // The LayerNorm epsilon of the GPT-2-style families is {arch}.attention.layer_norm_epsilon; the
  // published ones equal the config defaults (1e-5), so a different one shows it is read.
  const gpt2 = GGUF_FAMILIES.find((f) => f.fixture === 'GPT-2')!;
  const kv: [string, GgufEntry][] = [['general.architecture', gv.str('gpt2')], ...gpt2.kv.map(([k, v]): [string, GgufEntry] => [`gpt2.${k}`, k === 'attention.layer_norm_epsilon' ? gv.f32(1e-6) : v])];
  assert.equal((await specFromGguf(memorySource(writeGguf({ kv }).bytes), { path: '/models/x.gguf', format: 'gguf' })).normEps, 1e-6);
});

test('layer kinds: identical layers merge; kinds told apart by nothing the ids name get numbered', () => {
  const tiny = specFromConfig({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 }, CONFIG);
  const a = tiny.layerKinds[0]!;
  const at = (i: number, kind = a) => ({ ...kind, layers: [i] });
  assert.deepEqual(groupLayers([at(0), at(1), at(2)]).map((k) => [k.id, k.layers]), [['decoder', [0, 1, 2]]]);
  // Two dense, full-attention decoder kinds that differ only in their MLP width: the second is "decoder-2".
  const wider = { ...a, mlp: { ...a.mlp, ffn: 256 } };
  assert.deepEqual(groupLayers([at(0), at(1, wider), at(2)]).map((k) => [k.id, k.layers]), [['decoder', [0, 2]], ['decoder-2', [1]]]);
});

test('size and epsilon bounds: the largest allowed value is accepted and one more refused; zero experts allowed, negative not', async () => {
  const tiny = { model_type: 'llama', hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100 };
  const refused = (extra: Record<string, unknown>): string => {
    try {
      specFromConfig({ ...tiny, ...extra }, CONFIG);
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      return err.message.replace('/models/config.json: ', '');
    }
    return 'accepted';
  };
  // LIMITS.vocab is 100,000,000 (a table that size of width 64 is cheap to describe).
  assert.equal(refused({ vocab_size: 100_000_000 }), 'accepted');
  assert.equal(refused({ vocab_size: 100_000_001 }), 'vocab_size: expected a positive integer no larger than 100000000, found 100000001');
  assert.equal(refused({ vocab_size: 0 }), 'vocab_size: expected a positive integer no larger than 100000000, found 0');
  // A norm epsilon lies strictly between 0 and 1.
  assert.equal(refused({ rms_norm_eps: 0.5 }), 'accepted');
  assert.equal(refused({ rms_norm_eps: 1 }), 'rms_norm_eps: expected a positive number below 1 (a norm epsilon), found 1');
  assert.equal(refused({ rms_norm_eps: 0 }), 'rms_norm_eps: expected a positive number below 1 (a norm epsilon), found 0');
  // The expert count may be 0 (a dense model), not negative.
  assert.equal(refused({ model_type: 'qwen2_moe', num_experts: -1 }), 'num_experts: expected a non-negative integer no larger than 100000, found -1');
  // A text_config's defaults are noted once each, however often a key is read (LlamaConfig's defaults
  // for what llava-1.5-7b's text_config leaves out).
  assert.ok((await loadFixture('Llava-1.5-7b-hf')).notes.includes('text_config leaves hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act unset: the llama config defaults were used.'));
});

test("Jamba's attention layers without attn_layer_period and attn_layer_offset: transformers' defaults, 8 and 4", () => {
  const jamba = published('Jamba-v0.1');
  const config = Object.fromEntries(Object.entries({ ...jamba, num_hidden_layers: 16 }).filter(([k]) => k !== 'attn_layer_period' && k !== 'attn_layer_offset'));
  assert.deepEqual(specFromConfig(config, CONFIG).layerKinds.flatMap((k) => k.layers).sort((a, b) => a - b), [4, 12]);
});

test("config class defaults: JambaConfig's Mamba and expert-layer fields, DeepseekV2Config's first_k_dense_replace and n_shared_experts", () => {
  // JambaConfig: mamba_d_state 16, mamba_d_conv 4, mamba_expand 2, mamba_dt_rank "auto", conv bias on,
  // projection bias off, expert_layer_period 2, expert_layer_offset 1: the tiny Jamba of the Mamba test
  // without those keys counts the same 181,220 (132,068 active).
  const jamba = published('Jamba-v0.1');
  const tiny = { ...jamba, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 100, num_experts: 4, num_experts_per_tok: 2, attn_layer_period: 2, attn_layer_offset: 1 };
  const defaulted = ['mamba_d_state', 'mamba_d_conv', 'mamba_expand', 'mamba_dt_rank', 'mamba_conv_bias', 'mamba_proj_bias', 'expert_layer_period', 'expert_layer_offset'];
  const bare = Object.fromEntries(Object.entries(tiny).filter(([k]) => !defaulted.includes(k)));
  assert.deepEqual(specFromConfig(bare, CONFIG).params, { total: 181_220, active: 132_068 });
  // Over 8 layers the experts sit on the odd layers (i % 2 == 1), which are also the attention layers.
  assert.deepEqual(specFromConfig({ ...bare, num_hidden_layers: 8 }, CONFIG).layerKinds.map((k) => [k.layers, k.mlp.kind]), [[[1, 3, 5, 7], 'moe']]);
  // DeepseekV2Config: first_k_dense_replace 0 (every layer has experts), n_shared_experts None (none).
  const deepseek = specFromConfig({ model_type: 'deepseek_v2', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, intermediate_size: 128, vocab_size: 100, kv_lora_rank: 16, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, q_lora_rank: null, n_routed_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 16 }, CONFIG);
  assert.deepEqual(deepseek.layerKinds.map((k) => [k.layers, k.mlp.kind, k.mlp.experts, k.mlp.topK, k.mlp.sharedExperts ?? 0]), [[[0, 1], 'moe', 4, 2, 0]]);
});

test("an MLP width left out: the config classes' defaults (GPTNeoXConfig 24576 for hidden 6144, PhiConfig 8192 for 2048, BertConfig 3072 for 768)", () => {
  const drop = (c: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(c).filter(([k]) => !keys.includes(k)));
  const ffn = (c: Record<string, unknown>) => specFromConfig(c, CONFIG).layerKinds[0]!.mlp.ffn;
  // At each class's default hidden size its default width is four times it, which is how the reader
  // fills it in (at other hidden sizes the reader scales the width, where transformers keeps the number).
  assert.equal(ffn({ ...drop(published('Pythia-410m'), 'intermediate_size'), hidden_size: 6144, num_attention_heads: 64 }), 24_576);
  assert.equal(ffn({ ...drop(published('Phi-2'), 'intermediate_size'), hidden_size: 2048, num_attention_heads: 32 }), 8192);
  assert.equal(ffn(drop(published('bert-base-uncased'), 'intermediate_size')), 3072);
});

test("a norm epsilon left out: each config class's default", () => {
  // GPT2Config, GPTJConfig, GPTNeoXConfig, FalconConfig, BloomConfig, PhiConfig: 1e-5; LlamaConfig's
  // rms_norm_eps 1e-6; BertConfig 1e-12; T5Config 1e-6.
  const cases: [string, number][] = [['GPT-2', 1e-5], ['GPT-J-6B', 1e-5], ['Pythia-410m', 1e-5], ['Falcon-7B', 1e-5], ['BLOOM-560m', 1e-5], ['Phi-2', 1e-5], ['Llama-3.1-8B', 1e-6], ['bert-base-uncased', 1e-12], ['t5-small', 1e-6]];
  const epsKeys = ['rms_norm_eps', 'layer_norm_eps', 'layer_norm_epsilon', 'norm_epsilon'];
  for (const [fixture, eps] of cases) {
    const config = Object.fromEntries(Object.entries(published(fixture)).filter(([k]) => !epsKeys.includes(k)));
    assert.equal(specFromConfig(config, CONFIG).normEps, eps, fixture);
  }
});
