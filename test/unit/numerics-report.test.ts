import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numericsFor, numericsOptionsFor, numericsPass } from '../../src/core/report/numerics';
import { loadFixture, profiledFixtures } from './helpers/fixtures';

test('the check exercises the site kinds each model has', async () => {
  const kinds = async (name: string) => numericsOptionsFor(await loadFixture(name)).sites.sort();
  // Llama: RoPE, no bias, no per-head q/k norm, SiLU MLP: the scale may travel past RoPE and into the attention, not past SiLU.
  assert.deepEqual(await kinds('Llama-3.1-8B'), ['norm-multi-linear', 'rmsnorm-attention', 'rmsnorm-linear', 'rmsnorm-rope', 'softmax-v']);
  // Qwen2's q/k/v have a bias, Qwen3 a per-head q/k norm: neither goes deeper. T5's ReLU MLP passes r to the down projection.
  assert.deepEqual(await kinds('Qwen2-7B-Instruct'), ['norm-multi-linear', 'rmsnorm-linear', 'softmax-v']);
  assert.deepEqual(await kinds('Qwen3-0.6B'), ['norm-multi-linear', 'rmsnorm-linear', 'softmax-v']);
  assert.deepEqual(await kinds('t5-small'), ['norm-multi-linear', 'rmsnorm-linear', 'rmsnorm-relu-down', 'softmax-v']);
  // GPT-2's fused c_attn is one consumer per norm; Phi-2's parallel block feeds q, k, v and fc1 from one LayerNorm.
  assert.deepEqual(await kinds('GPT-2'), ['layernorm-linear', 'softmax-v']);
  assert.deepEqual(await kinds('Phi-2'), ['layernorm-linear', 'norm-multi-linear', 'softmax-v']);
  // BERT's norms are post-norms (ineligible): only its Softmax is rewritten.
  assert.deepEqual(await kinds('bert-base-uncased'), ['softmax-v']);
  assert.equal(numericsOptionsFor(await loadFixture('Qwen2-7B-Instruct')).linearBias, true);
  assert.equal(numericsOptionsFor(await loadFixture('Llama-3.1-8B')).linearBias, false);
});

test('every fixture: every deferred form is within its baseline at the default seed', async () => {
  for (const name of profiledFixtures()) {
    const result = numericsFor(await loadFixture(name));
    const failing = result.entries.filter((e) => !e.withinBaseline).map((e) => `${e.site} ${e.dtype} ${e.offset ?? ''}`);
    assert.ok(numericsPass(result), `${name}: ${failing.join('; ')}`);
  }
});

test('the verdict does not depend on the seed (the stated tolerance covers the noise of a max)', async () => {
  for (const name of ['Llama-3.1-8B', 'GPT-2']) {
    const spec = await loadFixture(name);
    for (let seed = 1; seed <= 12; seed++) assert.ok(numericsPass(numericsFor(spec, seed)), `${name} seed ${seed}`);
  }
});

test('same seed, same numbers; another seed, other numbers', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  assert.deepEqual(numericsFor(spec, 7), numericsFor(spec, 7));
  assert.notDeepEqual(numericsFor(spec, 7).entries, numericsFor(spec, 8).entries);
});
