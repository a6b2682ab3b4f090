/**
 * Ops say what they are (issue 21): the linear a matmul computes or a scale applies to, the tile of
 * its kernel, the attention and the norm step it belongs to are fields set where the graph builds the
 * op, so that nothing downstream reads them back from names. The expected values here are written out
 * by hand from the models' configs and the kernels' definitions, not read from the builder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayerGraph } from '../../src/core/graph/layer';
import type { LayerGraph, Op } from '../../src/core/graph/ops';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { graphContext } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const tilesOf = (ops: readonly Op[]): string[] => ops.map((op) => (op.tile ? `${op.tile.index + 1}/${op.tile.count}` : '-'));
const ofRole = (g: LayerGraph, role: Op['role']): Op[] => g.ops.filter((op) => op.role === role);

test('Llama-3.1-8B on dimc: every matmul names its linear and tile; attention ops are self-attention; each norm is one fused statistic', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const kind = spec.layerKinds[0]!;
  const ctx = graphContext(getPreset('dimc'), { ...DEFAULT_WORKLOAD, tiles: 4 }, 'fp8');
  const g = buildLayerGraph(spec, kind, ctx, () => null);
  // The seven projections of a Llama block, each split into 4 tiles, in the order the block runs them.
  const linears = ofRole(g, 'linear');
  const expected = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  assert.deepEqual([...new Set(linears.map((op) => op.linear?.name))], expected);
  for (const name of expected) {
    const tiles = linears.filter((op) => op.linear?.name === name);
    assert.deepEqual(tilesOf(tiles), ['1/4', '2/4', '3/4', '4/4'], name);
  }
  // Scores, Softmax and p·V: 32 heads in 4 head groups, all of the self-attention.
  const attention = g.ops.filter((op) => op.category === 'attention' || op.category === 'softmax' || op.role === 'softmax-gather' || op.role === 'kv-read');
  assert.ok(attention.length > 0);
  for (const op of attention) assert.equal(op.attention, 'self', op.name);
  assert.deepEqual(tilesOf(ofRole(g, 'scores')), ['1/4', '2/4', '3/4', '4/4']);
  // Two RMSNorms (input, post-attention), each one fused statistic and 4 streamed chunks.
  assert.deepEqual(ofRole(g, 'norm-stat').map((op) => op.normStep), ['fused', 'fused']);
  const chunks = ofRole(g, 'norm-apply');
  assert.deepEqual(chunks.map((op) => op.normStep), Array(8).fill('chunk'));
  assert.deepEqual(tilesOf(chunks), ['1/4', '2/4', '3/4', '4/4', '1/4', '2/4', '3/4', '4/4']);
  // Elementwise ops (RoPE, activation, residuals) belong to no linear and are not split.
  for (const role of ['rope', 'activation', 'residual'] as const) for (const op of ofRole(g, role)) assert.ok(op.linear === undefined && op.tile === undefined, op.name);
});

test("eager RMSNorm (PyTorch's chain): each kernel says which step it is; deferred scales name the linear they scale", async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const kind = spec.layerKinds[0]!;
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 512, tiles: 4 };
  const eager = graphContext(applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager']), w, 'bf16');
  const kept = buildLayerGraph(spec, kind, eager, () => null);
  // LlamaRMSNorm in eager PyTorch with bf16 activations: up-cast, square, mean, + ε, rsqrt; x·r in fp32, down-cast, ·γ.
  const stats = ofRole(kept, 'norm-stat').filter((op) => op.site === 'attn-norm');
  assert.deepEqual(stats.map((op) => op.normStep), ['up-cast', 'square', 'mean', '+ eps', 'rsqrt']);
  assert.deepEqual(ofRole(kept, 'norm-apply').filter((op) => op.site === 'attn-norm').map((op) => op.normStep), ['x * r', 'down-cast', 'γ *']);
  // FlashNorm's notebook multiplies in the activation dtype: r is down-cast first, x·r needs no down-cast after it.
  const activation = graphContext(applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager', 'kernels.eagerNormMultiply=activation']), w, 'bf16');
  const inBf16 = buildLayerGraph(spec, kind, activation, () => null);
  assert.deepEqual(ofRole(inBf16, 'norm-apply').filter((op) => op.site === 'attn-norm').map((op) => op.normStep), ['r down-cast', 'x * r', 'γ *']);

  // Deferred at the linear layer: one scale per tile of q, k and v (tiled epilogues), or, from a second stream, one per linear.
  const tiled = buildLayerGraph(spec, kind, graphContext(getPreset('dimc'), w, 'fp8'), (id) => (id === 'attn-norm' ? 'linear' : null));
  const scales = ofRole(tiled, 'norm-scale');
  assert.deepEqual(scales.map((op) => `${op.linear?.name} ${op.tile ? `${op.tile.index + 1}/${op.tile.count}` : '-'}`), ['q_proj', 'k_proj', 'v_proj'].flatMap((n) => [1, 2, 3, 4].map((t) => `${n} ${t}/4`)));
  const stream = graphContext(applyOverrides(getPreset('gpu-h100'), ['kernels.deferredStatistic=second-stream']), w, 'bf16');
  const joined = ofRole(buildLayerGraph(spec, kind, stream, (id) => (id === 'attn-norm' ? 'linear' : null)), 'norm-scale');
  assert.deepEqual(joined.map((op) => `${op.linear?.name} ${op.tile === undefined ? 'whole output' : 'a tile'}`), ['q_proj whole output', 'k_proj whole output', 'v_proj whole output']);
});

test('t5-small decoder: cross-attention ops say so, self-attention ops too, whatever they are named', async () => {
  const spec = await loadFixture('t5-small');
  const kind = spec.layerKinds.find((k) => k.crossAttention !== undefined)!;
  const ctx = graphContext(getPreset('dimc'), { ...DEFAULT_WORKLOAD, tiles: 2 }, 'fp8');
  const g = buildLayerGraph(spec, kind, ctx, () => null);
  // t5-small: 8 heads in 2 head groups per attention; decode reads both caches (self: context, cross: the encoder's).
  for (const side of ['self', 'cross'] as const) {
    const mine = g.ops.filter((op) => op.attention === side);
    assert.deepEqual(tilesOf(mine.filter((op) => op.role === 'scores')), ['1/2', '2/2'], side);
    assert.deepEqual(tilesOf(mine.filter((op) => op.role === 'kv-read')), ['1/2', '2/2'], side);
    assert.deepEqual(tilesOf(mine.filter((op) => op.role === 'pv')), ['1/2', '2/2'], side);
  }
  // The cross-attention's query projection is the linear with role cross_q; its scores read it.
  const crossScores = g.ops.find((op) => op.role === 'scores' && op.attention === 'cross')!;
  assert.ok(crossScores.deps.some((d) => g.ops[d]!.linear?.role === 'cross_q'));
});
