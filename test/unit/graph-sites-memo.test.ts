/**
 * sitesOfKind: a kind's sites found once and shared by every graph build and simulation. The same
 * inputs give the same list; another attention kernel or depth limit gives the sites those inputs
 * call for (worked out here from the model's structure, not read back from the memo).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUSED_ATTENTION_REASON, layerSites, sitesOfKind } from '../../src/core/graph/sites';
import { loadFixture } from './helpers/fixtures';

test('the same kind and inputs give the same shared list, equal to a fresh one', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const kind = spec.layerKinds[0]!;
  const first = sitesOfKind(kind, 'eager', 'rope');
  assert.equal(sitesOfKind(kind, 'eager', 'rope'), first);
  assert.equal(sitesOfKind(kind, 'eager', 'rope', 'deepest'), first);
  assert.deepEqual(first, layerSites(kind, 'eager', 'rope'));
  // A kind of another model, even with the same structure, has its own sites (its own norms and linears).
  const other = (await loadFixture('Llama-2-7b-hf')).layerKinds[0]!;
  assert.equal(sitesOfKind(other, 'eager', 'rope')[0]!.norm, other.norms[0]);
});

test('another attention kernel: the Softmax site is refused under a fused kernel only', async () => {
  const kind = (await loadFixture('Llama-3.1-8B')).layerKinds[0]!;
  const softmax = (attention: 'eager' | 'flash') => sitesOfKind(kind, attention, 'rope').find((s) => s.id === 'softmax')!;
  assert.equal(softmax('eager').ineligible, null);
  assert.deepEqual(softmax('eager').depths, ['linear']);
  assert.equal(softmax('flash').ineligible, FUSED_ATTENTION_REASON);
  assert.deepEqual(softmax('flash').depths, []);
  // Asking for flash did not change the eager list it was asked after.
  assert.equal(softmax('eager').ineligible, null);
});

test("another depth limit: 'linear' keeps every scale at the linear layer and leaves 'deepest' as it was", async () => {
  const kind = (await loadFixture('Llama-3.1-8B')).layerKinds[0]!;
  const attnNorm = (limit: 'deepest' | 'linear') => sitesOfKind(kind, 'eager', 'rope', limit).find((s) => s.id === 'attn-norm')!;
  // Llama's attention norm is an RMSNorm into q, k, v without bias, and the positions are rotary:
  // its scale may pass RoPE and reach the logits.
  assert.deepEqual(attnNorm('deepest').depths, ['linear', 'rope', 'attention']);
  assert.deepEqual(attnNorm('linear').depths, ['linear']);
  assert.match(attnNorm('linear').depthLimit!, /deferDepth linear.*'attention'/);
  assert.deepEqual(attnNorm('deepest').depths, ['linear', 'rope', 'attention']);
  // Without rotary positions the scale cannot stop after RoPE, but still reaches the logits.
  assert.deepEqual(sitesOfKind(kind, 'eager', 'none').find((s) => s.id === 'attn-norm')!.depths, ['linear', 'attention']);
  // SiLU stops the MLP norm's scale at the linear layer either way: the same site in both lists.
  const mlpNorm = (limit: 'deepest' | 'linear') => sitesOfKind(kind, 'eager', 'rope', limit).find((s) => s.id === 'mlp-norm')!;
  assert.deepEqual(mlpNorm('linear').depths, ['linear']);
  assert.match(mlpNorm('linear').depthLimit!, /silu is not positively homogeneous/);
});
