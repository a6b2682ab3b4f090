import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InputError } from '../../src/core/errors';
import { specFromConfig } from '../../src/core/model/config';
import type { LayerKind, ModelSpec } from '../../src/core/model/spec';
import { summarizeSpec } from '../../src/core/model/summary';

const DIRS = [join(__dirname, '..', 'fixtures', 'configs'), join(__dirname, '..', 'fixtures', 'configs-extra')];

function fixtures(): { name: string; path: string }[] {
  return DIRS.filter(existsSync).flatMap((dir) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => ({ name: d.name, path: join(dir, d.name, 'config.json') })),
  );
}

function fixturePath(name: string): string {
  const found = fixtures().find((f) => f.name === name);
  if (!found) throw new Error(`no fixture ${name}`);
  return found.path;
}

function load(name: string): ModelSpec {
  const path = fixturePath(name);
  return specFromConfig(JSON.parse(readFileSync(path, 'utf8')), { path, format: 'config.json' });
}

function fromConfig(config: unknown, path = '/models/test/config.json'): ModelSpec {
  return specFromConfig(config, { path, format: 'config.json' });
}

function kind(spec: ModelSpec, id: string): LayerKind {
  const k = spec.layerKinds.find((x) => x.id === id);
  assert.ok(k, `${spec.name}: no layer kind ${id} (have ${spec.layerKinds.map((x) => x.id).join(', ')})`);
  return k;
}

/**
 * What each config says, written out independently of the reader:
 * layers (profiled), heads, kv heads, head dim, ffn (of the most common layer kind), vocab, norm kind.
 */
const EXPECTED: Record<string, [layers: number, heads: number, kv: number, headDim: number, ffn: number, vocab: number, norm: 'rmsnorm' | 'layernorm']> = {
  'DeepSeek-V3': [61, 128, 128, 192, 2048, 129280, 'rmsnorm'],
  'GPT-2': [12, 12, 12, 64, 3072, 50257, 'layernorm'],
  'Gemma-2b': [18, 8, 1, 256, 16384, 256000, 'rmsnorm'],
  'Llama-2-7b-hf': [32, 32, 32, 128, 11008, 32000, 'rmsnorm'],
  'Llama-2-70b-hf': [80, 64, 8, 128, 28672, 32000, 'rmsnorm'],
  'SmolLM2-135M': [30, 9, 3, 64, 1536, 49152, 'rmsnorm'],
  'Llama-3.1-70B': [80, 64, 8, 128, 28672, 128256, 'rmsnorm'],
  'Llama-3.1-8B': [32, 32, 8, 128, 14336, 128256, 'rmsnorm'],
  'Llama-3.1-405B': [126, 128, 8, 128, 53248, 128256, 'rmsnorm'],
  'Llama-3.2-1B-Instruct': [16, 32, 8, 64, 8192, 128256, 'rmsnorm'],
  'Llava-1.5-7b-hf': [32, 32, 32, 128, 11008, 32064, 'rmsnorm'],
  'Mistral-7B-v0.1': [32, 32, 8, 128, 14336, 32000, 'rmsnorm'],
  'Mixtral-8x7B-v0.1': [32, 32, 8, 128, 14336, 32000, 'rmsnorm'],
  'Qwen2-7B-Instruct': [28, 28, 4, 128, 18944, 152064, 'rmsnorm'],
  'Qwen3-0.6B': [28, 16, 8, 128, 3072, 151936, 'rmsnorm'],
  'Qwen3-30B-A3B': [48, 32, 4, 128, 768, 151936, 'rmsnorm'],
  'bert-base-uncased': [12, 12, 12, 64, 3072, 30522, 'layernorm'],
  't5-small': [12, 8, 8, 64, 2048, 32128, 'rmsnorm'],
  'Phi-2': [32, 32, 32, 80, 10240, 51200, 'layernorm'],
  'Phi-3-mini-4k-instruct': [32, 32, 32, 96, 8192, 32064, 'rmsnorm'],
  'GPT-J-6B': [28, 16, 16, 256, 16384, 50400, 'layernorm'],
  'Pythia-410m': [24, 16, 16, 64, 4096, 50304, 'layernorm'],
  'Falcon-7B': [32, 71, 1, 64, 18176, 65024, 'layernorm'],
  'Falcon-40B': [60, 128, 8, 64, 32768, 65024, 'layernorm'],
  'BLOOM-560m': [24, 16, 16, 64, 4096, 250880, 'layernorm'],
  'OPT-125m': [12, 12, 12, 64, 3072, 50272, 'layernorm'],
  'OPT-350m': [24, 16, 16, 64, 4096, 50272, 'layernorm'],
  'Gemma-2-9b': [42, 16, 8, 256, 14336, 256000, 'rmsnorm'],
  'Gemma-3-1b-it': [26, 4, 1, 256, 6912, 262144, 'rmsnorm'],
  'Gemma-3-4b-it': [34, 8, 4, 256, 10240, 262208, 'rmsnorm'],
  'gpt-oss-20b': [24, 64, 8, 64, 2880, 201088, 'rmsnorm'],
  'DeepSeek-V2': [60, 128, 128, 192, 1536, 102400, 'rmsnorm'],
  'DeepSeek-V2-Lite': [27, 16, 16, 192, 1408, 102400, 'rmsnorm'],
  'Qwen1.5-MoE-A2.7B': [24, 16, 16, 128, 1408, 151936, 'rmsnorm'],
  'BART-large': [24, 16, 16, 64, 4096, 50265, 'layernorm'],
  'flan-t5-small': [16, 6, 6, 64, 1024, 32128, 'rmsnorm'],
  'Jamba-v0.1': [4, 32, 8, 128, 14336, 65536, 'rmsnorm'],
};
const REFUSED = new Set(['falcon-mamba-7b', 'mamba-130m-hf', 'mamba-130m-original']);

describe('every fixture config', () => {
  it('has an expectation here (so new fixtures get checked)', () => {
    for (const f of fixtures()) assert.ok(f.name in EXPECTED || REFUSED.has(f.name), `no expectation for fixture ${f.name}`);
  });

  for (const f of fixtures()) {
    if (REFUSED.has(f.name)) {
      it(`${f.name}: refused as a pure state-space model (kind 'unsupported')`, () => {
        assert.throws(
          () => load(f.name),
          (err: unknown) =>
            err instanceof InputError && err.kind === 'unsupported' && err.field === 'model_type' && /state-space model \(Mamba\)/.test(err.message) && err.message.includes(f.path),
        );
      });
      continue;
    }
    it(`${f.name}: sizes and norm kind are what the config says`, () => {
      const spec = load(f.name);
      const s = summarizeSpec(spec);
      const [layers, heads, kv, headDim, ffn, vocab, norm] = EXPECTED[f.name]!;
      assert.deepEqual(
        { layers: s.layers, heads: s.heads, kv: s.kvHeads, headDim: s.headDim, ffn: s.ffn, vocab: s.vocab, norm: s.normKind },
        { layers, heads, kv, headDim, ffn, vocab, norm },
      );
    });
    it(`${f.name}: the spec is internally consistent`, () => {
      const spec = load(f.name);
      const indices = spec.layerKinds.flatMap((k) => k.layers).sort((a, b) => a - b);
      assert.equal(indices.length, spec.layers, 'every profiled layer is in exactly one kind');
      assert.equal(new Set(indices).size, indices.length);
      for (const k of spec.layerKinds) {
        assert.ok(k.id && k.label, 'kinds are named and labelled');
        assert.equal(new Set(spec.layerKinds.map((x) => x.id)).size, spec.layerKinds.length, 'ids are unique');
        const names = new Set(k.linears.map((l) => l.name));
        assert.equal(names.size, k.linears.length, `${k.id}: linear names are unique within a layer`);
        for (const n of k.norms) {
          for (const fed of n.feeds) assert.ok(names.has(fed), `${k.id}: ${n.name} feeds ${fed}, which is not a linear of the layer`);
          if (n.placement === 'pre' || n.placement === 'latent') assert.ok(n.feeds.length > 0, `${k.id}: ${n.name} (${n.placement}) feeds a linear`);
          if (n.placement === 'sandwich' || n.placement === 'qk') assert.equal(n.feeds.length, 0);
          assert.ok(n.width > 0 && n.eps > 0 && n.eps < 1);
        }
        for (const l of k.linears) assert.ok(Number.isInteger(l.in) && l.in > 0 && Number.isInteger(l.out) && l.out > 0, `${k.id}: ${l.name} has sizes`);
      }
      assert.ok(spec.params.total > 0 && spec.params.active > 0 && spec.params.active <= spec.params.total);
      assert.doesNotThrow(() => JSON.stringify(spec));
    });
  }
});

describe('parameter counts', () => {
  const exact: [string, number][] = [
    ['Llama-2-7b-hf', 6_738_415_616],
    ['Llama-3.1-8B', 8_030_261_248],
    ['Mistral-7B-v0.1', 7_241_732_096],
    ['GPT-2', 124_439_808],
    ['bert-base-uncased', 109_482_240], // BertModel: embeddings + encoder + pooler
    ['t5-small', 60_506_624],
    ['flan-t5-small', 76_961_152],
    ['Phi-2', 2_779_683_840],
    ['Pythia-410m', 405_334_016],
    ['BLOOM-560m', 559_214_592],
    ['BART-large', 406_291_456],
    ['Gemma-3-1b-it', 999_885_952],
    ['Gemma-2-9b', 9_241_705_984],
  ];
  for (const [name, total] of exact) {
    it(`${name}: exactly ${total.toLocaleString('en')}`, () => {
      const spec = load(name);
      assert.equal(spec.params.total, total);
    });
  }

  const near = (actual: number, published: number, tolerance: number, what: string) =>
    assert.ok(Math.abs(actual - published) / published <= tolerance, `${what}: ${actual.toLocaleString('en')} vs published ${published.toLocaleString('en')}`);

  it('Mixtral-8x7B: 46.7B total / 12.9B active within 0.5%', () => {
    const spec = load('Mixtral-8x7B-v0.1');
    near(spec.params.total, 46.7e9, 0.005, 'total');
    near(spec.params.active, 12.9e9, 0.005, 'active');
  });
  it('DeepSeek-V3: 671B total / 37B active within 0.5% (MTP layer not counted)', () => {
    const spec = load('DeepSeek-V3');
    near(spec.params.total, 671e9, 0.005, 'total');
    near(spec.params.active, 37.5e9, 0.01, 'active');
  });
  it('DeepSeek-V2: 236B total / 21B active', () => {
    const spec = load('DeepSeek-V2');
    near(spec.params.total, 236e9, 0.005, 'total');
    near(spec.params.active, 21.4e9, 0.01, 'active');
  });
  it('Qwen3-30B-A3B: 30.5B total', () => near(load('Qwen3-30B-A3B').params.total, 30.5e9, 0.005, 'total'));
  it('gpt-oss-20b: 20.91B total', () => near(load('gpt-oss-20b').params.total, 20.91e9, 0.005, 'total'));
  it('Jamba-v0.1: 51.6B total / 12B active, Mamba layers counted though skipped', () => {
    const spec = load('Jamba-v0.1');
    near(spec.params.total, 51.6e9, 0.005, 'total');
    near(spec.params.active, 12.1e9, 0.02, 'active');
  });
  it('Llama-3.1-405B: 405.85B', () => near(load('Llama-3.1-405B').params.total, 405.85e9, 0.001, 'total'));
  it('tied embeddings are counted once (GPT-2, Llama-3.2-1B)', () => {
    const gpt2 = load('GPT-2');
    assert.equal(gpt2.tiedEmbeddings, true);
    const llama = load('Llama-3.2-1B-Instruct');
    assert.equal(llama.tiedEmbeddings, true);
    // 16 layers × (q 2048² + k,v 2048×512 + o 2048² + 3×2048×8192 + 2×2048) + embed 128256×2048 + final 2048
    assert.equal(llama.params.total, 16 * (2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048) + 128256 * 2048 + 2048);
  });
});

describe('layer kinds', () => {
  it('Mistral: every layer slides over a 4096 window', () => {
    const spec = load('Mistral-7B-v0.1');
    assert.equal(spec.layerKinds.length, 1);
    assert.equal(spec.layerKinds[0]!.attention.window, 4096);
    assert.equal(spec.layerKinds[0]!.attention.kind, 'gqa');
  });

  it('Mixtral: 8 experts top-2 with real expert names and copies', () => {
    const k = load('Mixtral-8x7B-v0.1').layerKinds[0]!;
    assert.equal(k.mlp.kind, 'moe');
    assert.deepEqual([k.mlp.experts, k.mlp.topK], [8, 2]);
    assert.equal(k.attention.window, null, 'sliding_window null means full attention');
    const w1 = k.linears.find((l) => l.name === 'experts.w1')!;
    assert.deepEqual(w1.copies, { total: 8, active: 2 });
    assert.deepEqual([w1.in, w1.out, w1.role], [4096, 14336, 'gate']);
    assert.equal(k.linears.find((l) => l.role === 'router')!.name, 'gate');
    assert.deepEqual(k.norms.find((n) => n.role === 'mlp')!.feeds, ['gate', 'experts.w1', 'experts.w3']);
  });

  it('Qwen3-30B-A3B: 128 experts top-8 on every layer, QK-norm', () => {
    const spec = load('Qwen3-30B-A3B');
    assert.equal(spec.layerKinds.length, 1);
    const k = spec.layerKinds[0]!;
    assert.deepEqual([k.mlp.kind, k.mlp.experts, k.mlp.topK, k.mlp.ffn], ['moe', 128, 8, 768]);
    assert.ok(k.norms.some((n) => n.name === 'q_norm' && n.placement === 'qk'));
  });

  it('Qwen3-MoE: mlp_only_layers and decoder_sparse_step make dense layers', () => {
    const config = JSON.parse(readFileSync(fixturePath('Qwen3-30B-A3B'), 'utf8'));
    const spec = fromConfig({ ...config, mlp_only_layers: [0, 47], decoder_sparse_step: 2 });
    const dense = kind(spec, 'dense');
    const moe = kind(spec, 'moe');
    // MoE where (i+1) % 2 == 0 and i not in mlp_only_layers.
    assert.deepEqual(moe.layers, Array.from({ length: 24 }, (_, j) => 2 * j + 1).filter((i) => i !== 47));
    assert.equal(dense.mlp.ffn, 6144);
    assert.equal(dense.layers.length + moe.layers.length, 48);
  });

  it('DeepSeek-V3: 3 dense then 58 MoE layers, MLA with latent norms, one shared expert', () => {
    const spec = load('DeepSeek-V3');
    const dense = kind(spec, 'dense');
    const moe = kind(spec, 'moe');
    assert.deepEqual(dense.layers, [0, 1, 2]);
    assert.equal(moe.layers.length, 58);
    assert.equal(moe.layers[0], 3);
    assert.equal(dense.mlp.ffn, 18432);
    assert.deepEqual([moe.mlp.experts, moe.mlp.topK, moe.mlp.sharedExperts, moe.mlp.sharedFfn], [256, 8, 1, 2048]);
    const a = moe.attention;
    assert.equal(a.kind, 'mla');
    assert.deepEqual(a.mla, { qLoraRank: 1536, kvLoraRank: 512, ropeHeadDim: 64, nopeHeadDim: 128 });
    assert.deepEqual([a.headDim, a.vHeadDim], [192, 128]);
    const names = moe.linears.map((l) => l.name);
    for (const n of ['q_a_proj', 'q_b_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'o_proj', 'gate', 'experts.gate_proj', 'shared_experts.gate_proj', 'shared_experts.down_proj']) {
      assert.ok(names.includes(n), `has ${n}`);
    }
    const kvA = moe.linears.find((l) => l.name === 'kv_a_proj_with_mqa')!;
    assert.deepEqual([kvA.in, kvA.out], [7168, 512 + 64]);
    const qNorm = moe.norms.find((n) => n.name === 'q_a_layernorm')!;
    assert.deepEqual([qNorm.placement, qNorm.role, qNorm.width, qNorm.feeds], ['latent', 'q-latent', 1536, ['q_b_proj']]);
    const kvNorm = moe.norms.find((n) => n.name === 'kv_a_layernorm')!;
    assert.deepEqual([kvNorm.placement, kvNorm.role, kvNorm.width, kvNorm.feeds], ['latent', 'kv-latent', 512, ['kv_b_proj']]);
    assert.ok(spec.notes.some((n) => /multi-token-prediction/.test(n)));
  });

  it('DeepSeek-V2-Lite: no q compression → q_proj straight from the input norm', () => {
    const k = kind(load('DeepSeek-V2-Lite'), 'moe');
    assert.equal(k.attention.mla!.qLoraRank, null);
    assert.ok(!k.linears.some((l) => l.name === 'q_a_proj'));
    assert.deepEqual(k.norms.find((n) => n.role === 'attn')!.feeds, ['q_proj', 'kv_a_proj_with_mqa']);
  });

  it('Gemma-2b: MQA, head_dim 256, RMSNorm (1 + w), tied', () => {
    const spec = load('Gemma-2b');
    const k = spec.layerKinds[0]!;
    assert.deepEqual([k.attention.kind, k.attention.kvHeads, k.attention.headDim], ['mqa', 1, 256]);
    assert.ok(k.norms.every((n) => n.affine === 'one-plus-weight'));
    assert.equal(spec.tiedEmbeddings, true);
  });

  it('Qwen3-0.6B: head_dim 128 ≠ hidden/heads (64), with QK-norms of width 128', () => {
    const k = load('Qwen3-0.6B').layerKinds[0]!;
    assert.equal(k.attention.headDim, 128);
    const q = k.linears.find((l) => l.name === 'q_proj')!;
    assert.deepEqual([q.in, q.out], [1024, 16 * 128]);
    const o = k.linears.find((l) => l.name === 'o_proj')!;
    assert.deepEqual([o.in, o.out], [2048, 1024]);
    for (const name of ['q_norm', 'k_norm']) {
      const n = k.norms.find((x) => x.name === name)!;
      assert.deepEqual([n.placement, n.width, n.role], ['qk', 128, name[0]]);
    }
  });

  it('Qwen2: q/k/v carry biases, o does not', () => {
    const k = load('Qwen2-7B-Instruct').layerKinds[0]!;
    const bias = Object.fromEntries(k.linears.map((l) => [l.name, l.bias]));
    assert.deepEqual([bias['q_proj'], bias['k_proj'], bias['v_proj'], bias['o_proj']], [true, true, true, false]);
    assert.equal(k.attention.window, null, 'use_sliding_window false');
  });

  it('BERT: encoder-only, post-norm everywhere, no lm head', () => {
    const spec = load('bert-base-uncased');
    assert.equal(spec.topology, 'encoder');
    assert.equal(spec.lmHead, null);
    assert.equal(spec.finalNorm, null);
    const k = spec.layerKinds[0]!;
    assert.equal(k.block, 'post-norm');
    assert.equal(k.stack, 'encoder');
    assert.equal(k.attention.causal, false);
    assert.ok(k.norms.every((n) => n.placement === 'post'));
    assert.deepEqual(k.linears.map((l) => l.name), ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense']);
  });

  it('T5: encoder kind then decoder kind with cross-attention; RMS-style norm; relative positions', () => {
    const spec = load('t5-small');
    assert.equal(spec.topology, 'encoder-decoder');
    assert.equal(spec.positions, 'relative');
    const enc = kind(spec, 'encoder');
    const dec = kind(spec, 'cross-decoder');
    assert.deepEqual(enc.layers, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(dec.layers, [6, 7, 8, 9, 10, 11]);
    assert.equal(enc.stack, 'encoder');
    assert.equal(dec.stack, 'decoder');
    assert.ok(dec.crossAttention && !enc.crossAttention);
    assert.ok(dec.linears.some((l) => l.name === 'EncDecAttention.q' && l.role === 'cross_q'));
    assert.deepEqual(dec.norms.map((n) => n.role), ['attn', 'cross', 'mlp']);
    assert.ok(enc.linears.some((l) => l.name === 'DenseReluDense.wi'));
  });

  it('flan-T5: gated-gelu → wi_0 / wi_1', () => {
    const enc = kind(load('flan-t5-small'), 'encoder');
    assert.equal(enc.mlp.gated, true);
    assert.deepEqual(enc.norms.find((n) => n.role === 'mlp')!.feeds, ['DenseReluDense.wi_0', 'DenseReluDense.wi_1']);
  });

  it('BART: post-norm encoder and decoder with cross-attention', () => {
    const spec = load('BART-large');
    const dec = kind(spec, 'cross-decoder');
    assert.equal(dec.block, 'post-norm');
    assert.ok(dec.norms.every((n) => n.placement === 'post'));
    assert.deepEqual(dec.norms.map((n) => n.name), ['self_attn_layer_norm', 'encoder_attn_layer_norm', 'final_layer_norm']);
    assert.equal(kind(spec, 'encoder').layers.length, 12);
  });

  it('Llava: profiles the language model (text_config + Llama defaults) and names the vision tower', () => {
    const spec = load('Llava-1.5-7b-hf');
    assert.equal(spec.modelType, 'llava');
    assert.equal(spec.family, 'llama');
    assert.equal(spec.name, 'Llava-1.5-7b-hf');
    assert.equal(spec.vision?.modelType, 'clip_vision_model');
    assert.equal(spec.hidden, 4096);
    assert.ok(spec.notes.some((n) => /defaults/.test(n)));
  });

  it('Gemma 2: sandwich norms, alternating sliding (even) and global (odd) layers', () => {
    const spec = load('Gemma-2-9b');
    const sliding = kind(spec, 'sliding');
    const full = kind(spec, 'full');
    assert.deepEqual(sliding.layers.slice(0, 3), [0, 2, 4]);
    assert.deepEqual(full.layers.slice(0, 3), [1, 3, 5]);
    assert.equal(sliding.attention.window, 4096);
    assert.equal(sliding.block, 'sandwich');
    const placement = Object.fromEntries(sliding.norms.map((n) => [n.name, n.placement]));
    assert.deepEqual(placement, {
      input_layernorm: 'pre',
      post_attention_layernorm: 'sandwich',
      pre_feedforward_layernorm: 'pre',
      post_feedforward_layernorm: 'sandwich',
    });
  });

  it('Gemma 3 (multimodal): 29 sliding + 5 global layers, QK-norm (1 + w), SigLIP named', () => {
    const spec = load('Gemma-3-4b-it');
    assert.deepEqual(kind(spec, 'full').layers, [5, 11, 17, 23, 29]);
    assert.equal(kind(spec, 'sliding').layers.length, 29);
    assert.equal(kind(spec, 'sliding').attention.window, 1024);
    const qn = kind(spec, 'full').norms.find((n) => n.name === 'q_norm')!;
    assert.deepEqual([qn.placement, qn.affine, qn.width], ['qk', 'one-plus-weight', 256]);
    assert.equal(spec.vision?.modelType, 'siglip_vision_model');
  });

  it('Phi-2: one LayerNorm feeds q, k, v and fc1 in a parallel block', () => {
    const k = load('Phi-2').layerKinds[0]!;
    assert.equal(k.block, 'parallel');
    assert.equal(k.norms.length, 1);
    assert.deepEqual(k.norms[0]!.feeds, ['q_proj', 'k_proj', 'v_proj', 'fc1']);
    assert.ok(load('Phi-2').lmHead!.bias);
  });

  it('Phi-3: fused qkv_proj and gate_up_proj', () => {
    const k = load('Phi-3-mini-4k-instruct').layerKinds[0]!;
    const qkv = k.linears.find((l) => l.name === 'qkv_proj')!;
    assert.deepEqual([qkv.role, qkv.out], ['qkv', 3 * 3072]);
    const gu = k.linears.find((l) => l.name === 'gate_up_proj')!;
    assert.deepEqual([gu.role, gu.out], ['gate_up', 2 * 8192]);
  });

  it('GPT-J: parallel block with one ln_1', () => {
    const k = load('GPT-J-6B').layerKinds[0]!;
    assert.equal(k.block, 'parallel');
    assert.deepEqual(k.norms.map((n) => [n.name, n.feeds]), [['ln_1', ['q_proj', 'k_proj', 'v_proj', 'fc_in']]]);
  });

  it('GPT-NeoX (parallel residual): two pre-norms, both on the block input', () => {
    const k = load('Pythia-410m').layerKinds[0]!;
    assert.equal(k.block, 'parallel');
    assert.deepEqual(k.norms.map((n) => [n.name, n.placement, n.feeds]), [
      ['input_layernorm', 'pre', ['query_key_value']],
      ['post_attention_layernorm', 'pre', ['dense_h_to_4h']],
    ]);
  });

  it('Falcon old layout: one input_layernorm, multi-query; new layout: ln_attn + ln_mlp, 8 KV heads', () => {
    const old = load('Falcon-7B').layerKinds[0]!;
    assert.deepEqual(old.norms.map((n) => [n.name, n.feeds]), [['input_layernorm', ['query_key_value', 'dense_h_to_4h']]]);
    assert.equal(old.attention.kind, 'mqa');
    assert.equal(old.linears[0]!.out, (71 + 2) * 64);
    const nu = load('Falcon-40B').layerKinds[0]!;
    assert.deepEqual(nu.norms.map((n) => n.name), ['ln_attn', 'ln_mlp']);
    assert.equal(nu.linears[0]!.out, (128 + 16) * 64);
  });

  it('Falcon: multi_query true means one KV head whatever num_kv_heads says (old layout)', () => {
    const config = JSON.parse(readFileSync(fixturePath('Falcon-7B'), 'utf8'));
    const spec = fromConfig({ ...config, num_kv_heads: 71 });
    assert.equal(spec.layerKinds[0]!.attention.kvHeads, 1);
  });

  it('BLOOM: ALiBi, embedding LayerNorm counted', () => {
    const spec = load('BLOOM-560m');
    assert.equal(spec.positions, 'alibi');
    assert.ok(spec.extraParams!.some((p) => p.name === 'word_embeddings_layernorm'));
  });

  it('OPT: pre-norm normally; opt-350m is post-norm with a 512-wide head', () => {
    assert.equal(load('OPT-125m').layerKinds[0]!.block, 'pre-norm');
    const spec = load('OPT-350m');
    assert.equal(spec.layerKinds[0]!.block, 'post-norm');
    assert.equal(spec.finalNorm, null);
    assert.equal(spec.lmHead!.in, 512);
  });

  it('gpt-oss: alternating sliding (128) / full layers, MoE 32 top-4, sinks noted', () => {
    const spec = load('gpt-oss-20b');
    assert.deepEqual(kind(spec, 'sliding').layers.slice(0, 3), [0, 2, 4]);
    assert.equal(kind(spec, 'sliding').attention.window, 128);
    assert.equal(kind(spec, 'full').attention.window, null);
    assert.deepEqual([kind(spec, 'full').mlp.experts, kind(spec, 'full').mlp.topK], [32, 4]);
    assert.ok(spec.notes.some((n) => /sink/i.test(n)));
  });

  it('Jamba (hybrid): attention layers profiled, Mamba layers listed as skipped', () => {
    const spec = load('Jamba-v0.1');
    assert.deepEqual(spec.layerKinds.flatMap((k) => k.layers), [4, 12, 20, 28]);
    const skipped = spec.skippedLayers.flatMap((s) => s.indices);
    assert.equal(skipped.length, 28);
    assert.ok(!skipped.includes(4));
    assert.match(spec.skippedLayers[0]!.reason, /mamba/);
    assert.ok(spec.notes.some((n) => /Hybrid/.test(n)));
  });

  it('layer_types with non-attention layers: those are skipped, not refused', () => {
    const config = JSON.parse(readFileSync(fixturePath('Llama-3.1-8B'), 'utf8'));
    const types = Array.from({ length: 32 }, (_, i) => (i % 4 === 3 ? 'full_attention' : 'linear_attention'));
    const spec = fromConfig({ ...config, layer_types: types });
    assert.equal(spec.layers, 8);
    assert.equal(spec.skippedLayers[0]!.indices.length, 24);
  });
});

describe('bad configs → InputError naming the file and the field', () => {
  const base = JSON.parse(readFileSync(fixturePath('Llama-2-7b-hf'), 'utf8')) as Record<string, unknown>;
  const file = '/models/broken/config.json';
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['missing hidden size', { hidden_size: undefined }, 'hidden_size', /positive integer.*n_embd/],
    ['zero layers', { num_hidden_layers: 0 }, 'num_hidden_layers', /positive integer/],
    ['negative heads', { num_attention_heads: -32 }, 'num_attention_heads', /positive integer/],
    ['fractional intermediate size', { intermediate_size: 11008.5 }, 'intermediate_size', /integer/],
    ['absurd hidden size', { hidden_size: 1e8 }, 'hidden_size', /no larger than 10000000/],
    ['hidden size as a string', { hidden_size: '4096' }, 'hidden_size', /positive integer/],
    ['heads that do not divide hidden (no head_dim)', { num_attention_heads: 33 }, 'num_attention_heads', /divisor of the hidden size 4096/],
    ['kv heads that do not divide heads', { num_key_value_heads: 5 }, 'num_key_value_heads', /divisor of the number of attention heads 32/],
    ['bad eps', { rms_norm_eps: 5 }, 'rms_norm_eps', /epsilon/],
    ['bad architectures', { architectures: 'LlamaForCausalLM' }, 'architectures', /list/],
    ['missing vocab', { vocab_size: undefined }, 'vocab_size', /positive integer/],
    ['layer_types of the wrong length', { layer_types: ['full_attention'] }, 'layer_types', /32 layer types/],
  ];
  for (const [what, patch, field, expected] of cases) {
    it(what, () => {
      const config = { ...base, ...patch };
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete config[k];
      assert.throws(
        () => fromConfig(config, file),
        (err: unknown) => {
          assert.ok(err instanceof InputError, `an InputError, got ${String(err)}`);
          assert.equal(err.field, field);
          assert.equal(err.file, file);
          assert.ok(err.message.startsWith(`${file}: ${field}: expected`), err.message);
          assert.match(err.message, expected);
          assert.equal(err.kind, 'invalid');
          return true;
        },
      );
    });
  }
  it('top-k larger than the number of experts', () => {
    const config = JSON.parse(readFileSync(fixturePath('Mixtral-8x7B-v0.1'), 'utf8'));
    assert.throws(() => fromConfig({ ...config, num_experts_per_tok: 9 }, file), (e: unknown) => e instanceof InputError && e.field === 'num_experts_per_tok');
  });
  it('not an object', () => {
    assert.throws(() => fromConfig([1, 2], file), (e: unknown) => e instanceof InputError && /JSON object/.test(e.message));
  });
  it('no model_type and no known architecture', () => {
    const { model_type: _m, architectures: _a, ...rest } = base;
    assert.throws(() => fromConfig(rest, file), (e: unknown) => e instanceof InputError && e.field === 'model_type');
  });
  it('architectures[0] stands in for a missing model_type', () => {
    const { model_type: _m, ...rest } = base;
    assert.equal(fromConfig(rest, file).family, 'llama');
  });
  it('an unknown model type without decoder fields is unsupported; with them it is read as Llama-style', () => {
    assert.throws(() => fromConfig({ model_type: 'wav2vec2', conv_dim: [512] }, file), (e: unknown) => e instanceof InputError && e.kind === 'unsupported');
    const spec = fromConfig({ ...base, model_type: 'my_llama' }, file);
    assert.equal(spec.params.total, 6_738_415_616);
    assert.ok(spec.notes.some((n) => /Unknown model_type/.test(n)));
  });
  it('a hybrid whose layout is not modelled (Zamba) is refused, not misread as Llama-style', () => {
    const zamba = { model_type: 'zamba', hidden_size: 3712, num_hidden_layers: 76, num_attention_heads: 16, intermediate_size: 14848, vocab_size: 32000, mamba_d_state: 16 };
    assert.throws(() => fromConfig(zamba, file), (e: unknown) => e instanceof InputError && e.kind === 'unsupported' && /hybrid/.test(e.message));
  });
  it('nested text_config fields are named with their path', () => {
    const config = JSON.parse(readFileSync(fixturePath('Llava-1.5-7b-hf'), 'utf8'));
    config.text_config.hidden_size = 0;
    assert.throws(() => fromConfig(config, file), (e: unknown) => e instanceof InputError && e.field === 'text_config.hidden_size');
  });
});
