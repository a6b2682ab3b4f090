import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayerGraph } from '../../src/core/graph/layer';
import { layerSites } from '../../src/core/graph/sites';
import type { LayerGraph } from '../../src/core/graph/ops';
import { getPreset } from '../../src/core/hardware/presets';
import { graphContext } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const ctx = graphContext(getPreset('dimc'), DEFAULT_WORKLOAD, 'fp8');

/** Whether `to` depends, directly or not, on an op whose name starts with `from`. */
function dependsOn(graph: LayerGraph, to: number, from: string): boolean {
  const seen = new Set<number>();
  const stack = [...graph.ops[to]!.deps];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (graph.ops[id]!.name.startsWith(from)) return true;
    stack.push(...graph.ops[id]!.deps);
  }
  return false;
}

const find = (g: LayerGraph, prefix: string) => g.ops.filter((op) => op.name.startsWith(prefix)).map((op) => op.id);

test('deferred: the matmuls start on the raw rows; baseline: they wait for the gather', async () => {
  const spec = await loadFixture('Llama-2-7b-hf');
  const kind = spec.layerKinds[0]!;
  const baseline = buildLayerGraph(spec, kind, ctx, () => null);
  const deferred = buildLayerGraph(spec, kind, ctx, () => 'linear');
  for (const id of find(baseline, 'q_proj[')) assert.ok(dependsOn(baseline, id, 'input_layernorm.gather'));
  for (const id of find(deferred, 'q_proj[')) assert.ok(!dependsOn(deferred, id, 'input_layernorm.gather'));
  for (const id of find(deferred, 'q_proj.scale')) assert.ok(dependsOn(deferred, id, 'input_layernorm.gather'));
  // Softmax: the division moves after p·V, on v_head values per row.
  assert.equal(find(deferred, 'softmax.divide[').length, 0);
  assert.equal(find(deferred, 'softmax.divide-after-V').length, 4);
  for (const id of find(deferred, 'p·V')) assert.ok(!dependsOn(deferred, id, 'softmax.gather'));
});

test('attention waits for V even when K has a per-head norm (Qwen3)', async () => {
  const spec = await loadFixture('Qwen3-0.6B');
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => 'linear');
  for (const id of find(g, 'p·V')) assert.ok(dependsOn(g, id, 'v_proj'), g.ops[id]!.name);
  for (const id of find(g, 'q·Kᵀ')) assert.ok(dependsOn(g, id, 'k_norm'), g.ops[id]!.name);
});

test('a parallel block adds attention, MLP and input once', async () => {
  for (const name of ['Pythia-410m', 'Phi-2', 'GPT-J-6B']) {
    const spec = await loadFixture(name);
    const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => 'linear');
    assert.deepEqual(g.ops.filter((op) => op.name.startsWith('residual')).map((op) => op.name), ['residual(x + attn + mlp)'], name);
  }
});

test('only rotary models get a rotary op', async () => {
  const has = async (name: string) => {
    const spec = await loadFixture(name);
    return buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => 'linear').ops.some((op) => op.name.startsWith('rope'));
  };
  assert.equal(await has('Llama-3.1-8B'), true);
  assert.equal(await has('GPT-2'), false);
  assert.equal(await has('bert-base-uncased'), false);
});

test('ops list their dependencies before themselves', async () => {
  const spec = await loadFixture('DeepSeek-V3');
  for (const kind of spec.layerKinds) {
    const g = buildLayerGraph(spec, kind, ctx, () => 'linear');
    g.ops.forEach((op, i) => {
      assert.equal(op.id, i);
      for (const d of op.deps) assert.ok(d < i, `${op.name} depends on a later op`);
    });
  }
});

test('QK norms are labelled by what reads them, the per-head scores, not the residual (issue 20)', async () => {
  // Qwen3 normalizes q and k per head (q_norm, k_norm over head_dim 128) before RoPE and q·kᵀ.
  const spec = await loadFixture('Qwen3-0.6B');
  const names = layerSites(spec.layerKinds[0]!).map((s) => s.name);
  assert.ok(names.includes('q_norm → q·kᵀ (per head)'), names.join(' | '));
  assert.ok(names.includes('k_norm → q·kᵀ (per head)'), names.join(' | '));
  assert.ok(!names.some((n) => n.endsWith('→ residual')), names.join(' | '));
});
