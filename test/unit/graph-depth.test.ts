/**
 * Deferral deeper than the linear layer (issue 10): which depths each site allows and why not
 * deeper, where the graph applies the scale at each depth, and the cost decision between them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayerGraph } from '../../src/core/graph/layer';
import type { Op } from '../../src/core/graph/ops';
import { layerSites } from '../../src/core/graph/sites';
import type { DeferDepth } from '../../src/core/terms';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { profile } from '../../src/core/report/profile';
import { graphContext, simulate } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const depthsOf = async (fixture: string, siteId: string, kindIndex = 0) => {
  const spec = await loadFixture(fixture);
  const site = layerSites(spec.layerKinds[kindIndex]!, 'eager', spec.positions).find((s) => s.id === siteId)!;
  return { depths: site.depths, limit: site.depthLimit ?? '' };
};

test('which depths each site allows, and the reason it stops', async () => {
  // Llama: RMSNorm, no bias, rotary positions: through RoPE and onto the logits; SiLU stops the MLP's.
  assert.deepEqual((await depthsOf('Llama-3.1-8B', 'attn-norm')).depths, ['linear', 'rope', 'attention']);
  const llamaMlp = await depthsOf('Llama-3.1-8B', 'mlp-norm');
  assert.deepEqual(llamaMlp.depths, ['linear']);
  assert.match(llamaMlp.limit, /silu is not positively homogeneous/);
  // T5: RMSNorm and a ReLU MLP: through the ReLU; but its logits get a relative position bias, which r_q·r_k must not scale.
  const t5 = await depthsOf('t5-small', 'attn-norm');
  assert.deepEqual(t5.depths, ['linear']);
  assert.match(t5.limit, /relative position bias after q·kᵀ/);
  assert.deepEqual((await depthsOf('t5-small', 'mlp-norm')).depths, ['linear', 'down']);
  // GPT-2: LayerNorm, and biases on its projections.
  const gpt2 = await depthsOf('GPT-2', 'attn-norm');
  assert.deepEqual(gpt2.depths, ['linear']);
  assert.match(gpt2.limit, /LayerNorm: its deferred output is r·\(x·W̃\) \+ c/);
  // Qwen2: RMSNorm but q, k and v carry biases.
  const qwen2 = await depthsOf('Qwen2-7B-Instruct', 'attn-norm');
  assert.deepEqual(qwen2.depths, ['linear']);
  assert.match(qwen2.limit, /have a bias/);
  // Qwen3: a per-head q/k norm follows the projections.
  assert.match((await depthsOf('Qwen3-0.6B', 'attn-norm')).limit, /per-head norms \(q_norm, k_norm\)/);
  // DeepSeek-V3: multi-head latent attention.
  assert.deepEqual((await depthsOf('DeepSeek-V3', 'attn-norm')).depths, ['linear']);
  // Mixtral: an MoE MLP (the router reads the norm too).
  assert.deepEqual((await depthsOf('Mixtral-8x7B-v0.1', 'mlp-norm')).depths, ['linear']);
});

const w: Workload = { ...DEFAULT_WORKLOAD, batch: 4, tiles: 2 };

async function graphAt(fixture: string, depth: DeferDepth, hardware = getPreset('dimc')): Promise<Op[]> {
  const spec = await loadFixture(fixture);
  const ctx = graphContext(hardware, w, 'bf16');
  // Every site at `depth` where it allows it, at the linear layer otherwise.
  const sites = layerSites(spec.layerKinds[0]!, ctx.attention, spec.positions);
  const at = (id: string): DeferDepth | null => {
    const site = sites.find((s) => s.id === id);
    return site && site.depths.includes(depth) ? depth : 'linear';
  };
  return buildLayerGraph(spec, spec.layerKinds[0]!, ctx, at).ops;
}

const dependsOn = (ops: Op[], op: Op, target: Op): boolean => {
  const seen = new Set<number>();
  const stack = [...op.deps];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id === target.id) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...ops[id]!.deps);
  }
  return false;
};

test('at the linear layer, every consumer of the attention norm is scaled right after its matmul', async () => {
  const ops = await graphAt('Llama-3.1-8B', 'linear');
  const scales = ops.filter((o) => o.role === 'norm-scale' && o.site === 'attn-norm');
  assert.deepEqual([...new Set(scales.map((o) => o.name.split('.')[0]))].sort(), ['k_proj', 'q_proj', 'v_proj']);
});

test('through RoPE: q and k leave their matmuls raw, RoPE runs without the statistic, one scale pass follows it', async () => {
  const ops = await graphAt('Llama-3.1-8B', 'rope');
  const gather = ops.find((o) => o.role === 'norm-gather' && o.site === 'attn-norm')!;
  const rope = ops.find((o) => o.role === 'rope')!;
  assert.ok(!dependsOn(ops, rope, gather), 'RoPE does not wait for the gathered statistic');
  const scales = ops.filter((o) => o.role === 'norm-scale' && o.site === 'attn-norm');
  // v_proj is still scaled after its matmul; q and k once, after RoPE.
  assert.ok(scales.every((o) => o.name.startsWith('v_proj.scale') || o.name === 'input_layernorm.scale(q, k)'));
  const qk = scales.find((o) => o.name === 'input_layernorm.scale(q, k)')!;
  assert.ok(qk.deps.includes(rope.id) && qk.deps.includes(gather.id));
  // Its work: the rotated q and k of each row: 4 rows × (32 + 8 heads) × 128.
  assert.equal(qk.work.kind === 'vector' ? qk.work.elements : NaN, 4 * 40 * 128);
});

test('into the attention: the first pass over the logits waits for the statistic; q·Kᵀ does not', async () => {
  for (const attention of ['eager', 'flash'] as const) {
    const ops = await graphAt('Llama-3.1-8B', 'attention', applyOverrides(getPreset('dimc'), [`kernels.attention=${attention}`]));
    const gather = ops.find((o) => o.role === 'norm-gather' && o.site === 'attn-norm')!;
    assert.equal(ops.filter((o) => o.role === 'norm-scale' && o.site === 'attn-norm' && !o.name.startsWith('v_proj')).length, 0, attention);
    if (attention === 'flash') {
      const fused = ops.filter((o) => o.role === 'attention-fused');
      assert.ok(fused.every((o) => o.deps.includes(gather.id)), 'the fused kernel scales the logits itself');
      continue;
    }
    const scores = ops.filter((o) => o.role === 'scores');
    assert.ok(scores.every((o) => !dependsOn(ops, o, gather)), 'q·Kᵀ runs on raw q and k');
    const firstPass = ops.filter((o) => o.role === 'softmax-max' || (o.role === 'softmax-exp-sum' && !ops.some((m) => m.role === 'softmax-max')));
    assert.ok(firstPass.length > 0 && firstPass.every((o) => o.deps.includes(gather.id)));
    // Two more multiplies per logit (r_q · r_k) on each pass that reads raw logits: max 1 + 2.
    assert.ok(firstPass.every((o) => o.work.kind === 'vector' && o.work.ops === 3));
  }
});

test('through the ReLU MLP: up, ReLU and down run raw; the scale lands on the down projection', async () => {
  const ops = await graphAt('t5-small', 'down');
  const gather = ops.find((o) => o.role === 'norm-gather' && o.site === 'mlp-norm')!;
  const act = ops.find((o) => o.role === 'activation')!;
  assert.ok(!dependsOn(ops, act, gather), 'ReLU runs on the raw rows');
  const scales = ops.filter((o) => o.role === 'norm-scale' && o.site === 'mlp-norm');
  assert.ok(scales.length > 0 && scales.every((o) => o.name.startsWith('DenseReluDense.wo.scale')), scales.map((o) => o.name).join());
  // t5-small: d_model 512; the down projection's output is 4 rows × 512.
  assert.equal(scales.reduce((s, o) => s + (o.work.kind === 'vector' ? o.work.elements : 0), 0), 4 * 512);
});

test('the decision takes, per site, the depth that makes the layer fastest, and says so', async () => {
  const spec = await loadFixture('t5-small');
  const sim = simulate(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 512 });
  for (const kind of sim.kinds) {
    for (const d of kind.sites) {
      if (d.decision !== 'defer') continue;
      const best = Math.min(...d.depthNs.map((x) => x.ns));
      assert.equal(d.depthNs.find((x) => x.depth === d.depth)!.ns, best, `${kind.id} ${d.site.id}`);
      assert.ok(d.deferredNs <= d.keptNs);
    }
  }
  const r = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 512 });
  const mlp = r.layerKinds[0]!.sites.find((s) => s.id === 'mlp-norm')!;
  assert.equal(mlp.depth, 'down');
  assert.match(mlp.reason, /^deferred after the down projection: .*by depth: linear .*, down /);
  // A Softmax's division is applied after ·V, the words of the Applied column, whatever its depth is called.
  const softmaxSites = r.layerKinds.flatMap((k) => k.sites).filter((s) => s.kind === 'softmax' && s.decision === 'defer');
  assert.ok(softmaxSites.length > 0);
  for (const s of softmaxSites) assert.match(s.reason, /^deferred after ·V: /, s.id);
});

test('--defer-depth linear keeps every scale at the linear layer', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const r = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, deferDepth: 'linear' });
  for (const k of r.layerKinds) for (const s of k.sites) assert.ok(s.depth === null || s.depth === 'linear', `${k.id} ${s.id}: ${s.depth}`);
  // The depth limit names the workload's choice, not the algebra's limit, and how far the algebra goes:
  // Llama's q,k,v site could go onto the attention logits on dimc's eager attention.
  const qkv = r.layerKinds[0]!.sites.find((s) => s.id === 'attn-norm')!;
  assert.deepEqual(qkv.depthUs.map((d) => d.depth), ['linear']);
  assert.equal(qkv.depthLimit, "the workload keeps scales at the linear layer (deferDepth linear); the algebra allows 'attention'");
});
