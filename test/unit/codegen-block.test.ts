import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayerGraph } from '../../src/core/graph/layer';
import type { Op } from '../../src/core/graph/ops';
import type { DeferDepth } from '../../src/core/terms';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import type { LinearSpec, ModelSpec } from '../../src/core/model/spec';
import { graphContext, type KindSimulation } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { blockListings, blockPseudocode, type Schedule } from '../../src/core/codegen/index';
import { generate, lineIndex, type Generated } from './helpers/codegen';
import { profiledFixtures } from './helpers/fixtures';

const WORKLOADS: Partial<Workload>[] = [
  {},
  { phase: 'prefill', batch: 1, seq: 512, softmaxOffset: 'exact' },
  { batch: 1, context: 128, softmaxOffset: 'bound', tiles: 1 },
  { tp: 4, softmaxOffset: 'online', tiles: 2 },
];

function linearsOf(spec: ModelSpec, kind: KindSimulation): LinearSpec[] {
  const k = spec.layerKinds.find((l) => l.id === kind.id);
  return k ? k.linears : spec.lmHead ? [spec.lmHead] : [];
}

/** The listing is generated from the graph: every op once, after its deps, in timeline order, with its engine and name. */
function checkListing(spec: ModelSpec, kind: KindSimulation, schedule: Schedule, where: string): void {
  const listing = blockPseudocode(spec, kind, schedule);
  const run = kind[schedule];
  const { ops } = run.graph;
  const first = new Map<number, number>();
  listing.lines.forEach((l, i) => {
    if (l.opId !== null && !first.has(l.opId)) first.set(l.opId, i);
  });
  assert.equal(first.size, ops.length, `${where}: every op has a line`);
  let lastStart = -Infinity;
  const byLine = [...first.entries()].sort((a, b) => a[1] - b[1]);
  for (const [id] of byLine) {
    const start = run.timeline.start[id]!;
    assert.ok(start >= lastStart, `${where}: lines follow the timeline`);
    lastStart = start;
  }
  const linears = new Map(linearsOf(spec, kind).map((l) => [l.name, l]));
  for (const op of ops) {
    const at = first.get(op.id)!;
    for (const d of op.deps) assert.ok(first.get(d)! < at, `${where}: ${op.name} after its dep ${ops[d]!.name}`);
    const lines = listing.lines.filter((l) => l.opId === op.id);
    const main = lines[lines.length - 1]!;
    const engine = op.fused === true ? 'matrix*' : op.engine;
    assert.ok(main.comment!.startsWith(engine), `${where}: ${op.name} runs on ${engine}: ${main.comment}`);
    assert.ok(main.comment!.includes(`  ${op.name}`), `${where}: ${op.name} is named`);
    assert.ok(main.code.length > 0 && listing.text.includes(main.code), `${where}: ${op.name} has code`);
    // The fallback for an op the listing does not understand names its role and id: no op should need it.
    assert.ok(!main.code.startsWith(`${op.role.replace(/-/g, '_')}_${op.id} = `), `${where}: ${op.name} (${op.role}) has real code: ${main.code}`);
    if (op.category === 'linear') {
      const lin = linears.get(op.name.replace(/\[\d+\/\d+\]$/, ''));
      assert.ok(lin, `${where}: ${op.name} is a linear of the spec`);
      assert.ok(main.code.includes(`@ ${lin!.name}.weight`), `${where}: ${main.code}`);
      assert.ok(main.comment!.includes(`${lin!.in} → ${lin!.out}`), `${where}: ${main.comment}`);
    }
  }
  for (const lin of linears.values()) {
    assert.ok(listing.text.includes(`#   ${lin.name}: Linear(${lin.in} → ${lin.out}, bias=${lin.bias ? 'True' : 'False'}`), `${where}: module ${lin.name}`);
  }
  // Load-time folds: exactly the consumers of the deferred norm sites, in the deferred listing only.
  for (const d of kind.sites) {
    if (!d.site.norm) continue;
    for (const lin of d.site.consumers) {
      const folded = listing.text.includes(`${lin.name}.weight′ = ${lin.name}.weight`);
      assert.equal(folded, schedule === 'deferred' && d.decision === 'defer', `${where}: fold of ${lin.name} (${d.decision})`);
    }
  }
}

/** The machines whose graphs differ in shape: resident weights, flash attention, eager RMSNorm kernels, eager attention. */
const PRESETS: HardwareProfile[] = [
  getPreset('dimc'),
  getPreset('gpu-h100'),
  applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager']),
  applyOverrides(getPreset('gpu-h100'), ['kernels.attention=eager']),
];

const memo = new Map<string, Promise<Generated>>();
/** Generated once per fixture, workload and machine for all the tests of this file. */
function generated(name: string, w: Partial<Workload>, hw: HardwareProfile, i: number): Promise<Generated> {
  const key = `${name} ${JSON.stringify(w)} ${i}`;
  let g = memo.get(key);
  if (!g) memo.set(key, (g = generate(name, w, hw)));
  return g;
}

test('every fixture, workload and profile: the block listings render every op of the graph, in a valid order', async () => {
  for (const name of profiledFixtures()) {
    for (const [i, hw] of PRESETS.entries()) {
      // The eager-kernel variants of the GPU with two workloads: a prefill and a tensor-parallel decode.
      for (const w of i < 2 ? WORKLOADS : [WORKLOADS[1]!, WORKLOADS[3]!]) {
        const g = await generated(name, w, hw, i);
        const blocks = blockListings(g.spec, g.simulation);
        for (const kind of g.simulation.kinds) {
          const where = `${name} on ${hw.name} ${JSON.stringify(w)} ${kind.id}`;
          for (const schedule of ['baseline', 'deferred'] as const) checkListing(g.spec, kind, schedule, `${where} ${schedule}`);
          const b = blocks.find((x) => x.layerKind === kind.id)!;
          assert.equal(b.deferred, blockPseudocode(g.spec, kind, 'deferred').text);
          assert.equal(b.baseline, blockPseudocode(g.spec, kind, 'baseline').text);
        }
      }
    }
  }
});

test('Llama-2-7B block: the deferred matmuls start on the raw rows before the gather, the scale comes once', async () => {
  const g = await generate('Llama-2-7b-hf', { softmaxOffset: 'exact' });
  const b = g.blocks.find((x) => x.layerKind === 'decoder')!;
  assert.match(b.deferred, /^# meta-llama\/Llama-2-7b-hf · layer kind "decoder"/);
  assert.match(b.deferred, /q_proj\.weight′ = q_proj\.weight \* γ +# W′ = diag\(γ\)·W, \[4096, 4096\]/);
  assert.match(b.deferred, /q_proj_raw\[1\/4\] = x @ q_proj\.weight′\.T +# matrix .* q_proj\[1\/4\] +\(4096 → 4096; 8×4096 @ 4096×4096/);
  assert.match(b.deferred, /gate_proj_raw\[1\/4\] = x @ gate_proj\.weight′\.T +# matrix .*\(4096 → 11008;/);
  assert.match(b.deferred, /q_proj_out\[1\/4\] = r_input_layernorm \* q_proj_raw\[1\/4\]/);
  assert.ok(lineIndex(b.deferred, 'q_proj_raw[1/4] =') < lineIndex(b.deferred, 'input_layernorm.gather'));
  assert.equal(b.deferred.split('\n').filter((l) => l.startsWith('r_input_layernorm = rsqrt(ss_input_layernorm / 4096 + 1e-05)')).length, 1);
  // Exact offset: the max is gathered before the exponentials; the division after e @ V.
  assert.ok(lineIndex(b.deferred, 'c[1/4] = all_gather_max(c[1/4])') < lineIndex(b.deferred, 'e[1/4] = exp(s[1/4] - c[1/4])'));
  assert.ok(lineIndex(b.deferred, 'o_raw[1/4] = e[1/4] @') < lineIndex(b.deferred, 'o[1/4] = o_raw[1/4] / l[1/4]'));
  // The baseline normalizes first, then multiplies.
  assert.match(b.baseline, /nothing to fold/);
  assert.ok(lineIndex(b.baseline, 'input_layernorm.gather') < lineIndex(b.baseline, 'q_proj_out[1/4] = h_input_layernorm[1/4] @ q_proj.weight.T'));
  assert.match(b.baseline, /p\[1\/4\] = e\[1\/4\] \/ l\[1\/4\]/);
  assert.doesNotMatch(b.baseline, /weight′/);
});

test('block listings: GPT-2 LayerNorm folds, Qwen3 routing on raw logits, DeepSeek-V3 latent norms', async () => {
  const gpt2 = (await generate('GPT-2', { tiles: 1 })).blocks.find((x) => x.layerKind === 'decoder')!;
  assert.match(gpt2.deferred, /c_attn\.weight′ = c_attn\.weight′ - c_attn\.weight′\.mean\(dim=-1, keepdim=True\)/);
  assert.match(gpt2.deferred, /c_attn_raw(\[1\/4\])? = x @ c_attn\.weight′\.T +# matrix .*\(768 → 2304;/);
  assert.match(gpt2.deferred, /c_attn_out(\[1\/4\])? = r_ln_1 \* c_attn_raw(\[1\/4\])? \+ c_attn\.bias′/);
  assert.match(gpt2.deferred, /mlp_c_proj_out = a_c_fc @ mlp\.c_proj\.weight\.T \+ mlp\.c_proj\.bias/);

  const qwen = (await generate('Qwen3-30B-A3B')).blocks.find((x) => x.layerKind === 'decoder')!;
  assert.match(qwen.deferred, /topk_idx = topk\(gate_raw, k=8\) +# vector .*routing on raw logits/);
  assert.ok(lineIndex(qwen.deferred, 'topk_idx = topk(gate_raw') < lineIndex(qwen.deferred, 'r_post_attention_layernorm = rsqrt'));
  assert.ok(lineIndex(qwen.deferred, 'gate_out[1/4] = r_post_attention_layernorm * gate_raw[1/4]') < lineIndex(qwen.deferred, 'gate_w = softmax(gate_out'));
  assert.match(qwen.deferred, /experts_down_proj_out(\[1\/4\])? = a_experts_gate_proj @ experts\.down_proj\.weight\[topk_idx\]\.T/);

  const ds = await generate('DeepSeek-V3');
  const moe = ds.blocks.find((x) => x.layerKind === 'moe')!;
  assert.match(moe.deferred, /q_a_proj_raw(\[1\/4\])? = x @ q_a_proj\.weight′\.T +# matrix .*\(7168 → 1536;/);
  assert.match(moe.deferred, /kv_a_proj_with_mqa_raw(\[1\/4\])? = x @ kv_a_proj_with_mqa\.weight′\.T/);
  assert.match(moe.deferred, /ss_q_a_layernorm = \(q_a_proj_out \* q_a_proj_out\)\.sum\(dim=-1\)/);
  assert.match(moe.deferred, /shared_experts_down_proj_out/);
  const kvLatent = ds.simulation.kinds.find((k) => k.id === 'moe')!.sites.find((d) => d.site.id === 'kv-latent-norm')!;
  if (kvLatent.decision === 'keep') {
    assert.match(moe.deferred, /kv_a_layernorm → kv_b_proj: kept, usual schedule/);
    assert.match(moe.deferred, /kv_b_proj_out = h_kv_a_layernorm @ kv_b_proj\.weight\.T/);
  }
});

/** The same simulation with every op of one schedule renamed. */
function renamed(kind: KindSimulation, schedule: Schedule, name: (op: Op, ops: readonly Op[]) => string): KindSimulation {
  const run = kind[schedule];
  const ops = run.graph.ops.map((op) => ({ ...op, name: name(op, run.graph.ops) }));
  return { ...kind, [schedule]: { ...run, graph: { ...run.graph, ops } } };
}

test('names are for people: renaming every op leaves the code column of every listing unchanged', async () => {
  const renamings: [string, (op: Op, ops: readonly Op[]) => string][] = [
    ['every op named x', () => 'x'],
    // Misleading names: each op wears the name of another (a scale named like a matmul, a max like a sum, …).
    ['names rotated', (op, ops) => ops[(op.id + 1) % ops.length]!.name],
  ];
  for (const name of profiledFixtures()) {
    for (const [i, hw] of PRESETS.entries()) {
      for (const w of [WORKLOADS[1]!, WORKLOADS[3]!]) {
        const g = await generated(name, w, hw, i);
        for (const kind of g.simulation.kinds) {
          for (const schedule of ['baseline', 'deferred'] as const) {
            const code = blockPseudocode(g.spec, kind, schedule).lines.map((l) => l.code);
            for (const [what, rename] of renamings) {
              const other = blockPseudocode(g.spec, renamed(kind, schedule, rename), schedule).lines.map((l) => l.code);
              assert.deepEqual(other, code, `${name} on ${hw.name} ${JSON.stringify(w)} ${kind.id} ${schedule}, ${what}`);
            }
          }
        }
      }
    }
  }
});

/** The code column of a listing (what a line says, without the timing comment). */
const codeLines = (text: string): string[] => text.split('\n').map((l) => (l.startsWith('#') ? '' : l.split('  # ')[0]!.trimEnd()));
/** Index of the line whose code is exactly `code`. */
const codeIndex = (text: string, code: string): number => codeLines(text).indexOf(code);
/** The whole line whose code is exactly `code`. */
const lineOf = (text: string, code: string): string => text.split('\n')[codeIndex(text, code)] ?? '';

test('flash attention (gpu-h100): one fused kernel per head group, read as flash_attention, no scores in memory', async () => {
  const hw = getPreset('gpu-h100');
  assert.equal(hw.kernels.attention, 'flash');
  // Llama-3.1-8B: 32 query heads, 8 KV heads, head_dim 128; prefill of 512 tokens in 4 head groups.
  const prefill = await generate('Llama-3.1-8B', { phase: 'prefill', batch: 1, seq: 512, tiles: 4 }, hw);
  const b = prefill.blocks.find((x) => x.layerKind === 'decoder')!;
  for (const text of [b.baseline, b.deferred]) {
    const code = codeLines(text).join('\n');
    assert.doesNotMatch(code, /^s(\[\d\/4\])? = /m, 'no score matrix');
    assert.doesNotMatch(code, /softmax|amax|all_gather_max/);
    assert.ok(codeIndex(text, 'o_proj_out[1/4] = o @ o_proj.weight.T') > 0);
  }
  for (let t = 1; t <= 4; t++) assert.ok(codeIndex(b.baseline, `o[${t}/4] = flash_attention(q[${t}/4], k[${t}/4], v[${t}/4])`) > 0, `head group ${t}`);
  // 512·32/4 = 4096 query rows per head group; causal: (512 + 1)/2 = 256.5 keys per row on average; n = 128 + 128.
  const line = lineOf(b.baseline, 'o[1/4] = flash_attention(q[1/4], k[1/4], v[1/4])');
  assert.match(line, /# matrix .* flash_attention\[1\/4\]  \(fused kernel: online softmax, the division after ·V; 4096 query rows × ≈256\.5 keys, d_qk \+ d_v = 256\)$/);
  assert.ok(codeIndex(b.baseline, 'q, k = rope(split_heads(q_proj_out), split_heads(k_proj_out))') < codeIndex(b.baseline, 'o[1/4] = flash_attention(q[1/4], k[1/4], v[1/4])'));
  assert.ok(codeIndex(b.baseline, 'o[4/4] = flash_attention(q[4/4], k[4/4], v[4/4])') < codeIndex(b.baseline, 'o_proj_out[1/4] = o @ o_proj.weight.T'));

  // Decode with 1024 cached tokens: 1·32/4 = 8 query rows per group, 1025 keys; the cache streams through the
  // kernel: 1024 tokens × 8 KV heads × (128 + 128) values × 2 bytes / 4 groups = 1 048 576 bytes.
  const decode = await generate('Llama-3.1-8B', { phase: 'decode', batch: 1, context: 1024, tiles: 4 }, hw);
  const d = decode.blocks.find((x) => x.layerKind === 'decoder')!;
  const code = 'o[2/4] = flash_attention(q[2/4], cat(k_cache[2/4], k[2/4]), cat(v_cache[2/4], v[2/4]))';
  assert.ok(codeIndex(d.baseline, code) > 0, d.baseline);
  assert.match(lineOf(d.baseline, code), /\(fused kernel: online softmax, the division after ·V; 8 query rows × 1025 keys, d_qk \+ d_v = 256; KV cache 1\.0 MB streamed through\)$/);
  assert.doesNotMatch(d.baseline, /= load\(kv_cache/, 'no separate cache read');

  // The Softmax site's shape comes from the fused kernel: the report's site shows the widths.
  const site = prefill.sites.find((s) => s.layerKind === 'decoder' && s.site === 'softmax')!;
  assert.match(site.before, /q·k over 128, v width 128/);
});

test('eager RMSNorm kernels (kernels.norm=eager): PyTorch\'s chain, line by line; the deferred scale is a pass of its own', async () => {
  const hw = applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager']);
  const g = await generate('Llama-3.1-8B', { phase: 'prefill', batch: 1, seq: 512, tiles: 4 }, hw);
  const b = g.blocks.find((x) => x.layerKind === 'decoder')!;
  // LlamaRMSNorm.forward in eager PyTorch: up-cast, square, mean, + ε, rsqrt; x·r, down-cast, ·γ; bf16 activations.
  const usual = [
    'xf_input_layernorm = x.to(torch.float32)',
    'sq_input_layernorm = xf_input_layernorm.pow(2)',
    'var_input_layernorm = sq_input_layernorm.mean(-1, keepdim=True)',
    'var_input_layernorm = all_gather_sum(var_input_layernorm)',
    'var_input_layernorm = var_input_layernorm + 1e-05',
    'r_input_layernorm = torch.rsqrt(var_input_layernorm)',
    'hf_input_layernorm = xf_input_layernorm * r_input_layernorm',
    'h_input_layernorm = hf_input_layernorm.to(input_dtype)',
    'h_input_layernorm = input_layernorm.weight * h_input_layernorm',
    'q_proj_out[1/4] = h_input_layernorm @ q_proj.weight.T',
  ];
  const at = usual.map((c) => codeIndex(b.baseline, c));
  assert.ok(at.every((i) => i > 0), `all lines present: ${usual.filter((_, i) => at[i]! < 0).join(' | ')}`);
  assert.deepEqual([...at].sort((x, y) => x - y), at, 'in this order');
  assert.match(lineOf(b.baseline, 'var_input_layernorm = var_input_layernorm + 1e-05'), /# vector .* input_layernorm\.\+ eps  \(eager RMSNorm kernel: \+ ε, one value per row\)$/);
  assert.match(lineOf(b.baseline, 'var_input_layernorm = all_gather_sum(var_input_layernorm)'), /# collective .* \(gather the partial means of x² over 132 units\)$/);
  // No fused-kernel statistic and no second r: the chain computes it.
  assert.doesNotMatch(b.baseline, /ss_input_layernorm|rsqrt\(ss_/);

  // Deferred: the chain still computes r; the scale on the gate projection is an unfused pass on the vector engine:
  // 512 rows × 14336 / 4 tiles = 1 835 008 bf16 values read and written, and 128 fp32 statistics: 7 340 544 bytes.
  const scale = 'gate_proj_out[1/4] = r_post_attention_layernorm * gate_proj_raw[1/4]';
  assert.match(lineOf(b.deferred, scale), /# vector .* gate_proj\.scale\[1\/4\]  \(deferred post_attention_layernorm scale, 14336 values per row; its own pass over the output, 7\.3 MB\)$/);
  assert.ok(codeIndex(b.deferred, 'r_post_attention_layernorm = torch.rsqrt(var_post_attention_layernorm)') < codeIndex(b.deferred, scale));
  assert.equal(codeLines(b.deferred).filter((c) => c.startsWith('r_post_attention_layernorm = ')).length, 1, 'the rsqrt after the gather, no second r');
  assert.ok(codeIndex(b.deferred, 'gate_proj_raw[1/4] = x @ gate_proj.weight′.T') >= 0);
  const head = g.blocks.find((x) => x.layerKind === 'head')!;
  assert.match(lineOf(head.deferred, 'lm_head_out[1/4] = r_norm * lm_head_raw[1/4]'), /# vector .*its own pass over the output/);

  // fp32 activations: no up-cast and no down-cast kernels.
  const f32 = (await generate('Llama-3.1-8B', { phase: 'prefill', batch: 1, seq: 512, tiles: 4, dtype: 'fp32' }, hw)).blocks.find((x) => x.layerKind === 'decoder')!;
  for (const c of ['sq_input_layernorm = x.pow(2)', 'hf_input_layernorm = x * r_input_layernorm', 'h_input_layernorm = input_layernorm.weight * hf_input_layernorm']) {
    assert.ok(codeIndex(f32.baseline, c) > 0, c);
  }
  assert.doesNotMatch(f32.baseline, /torch\.float32|input_dtype/);
});

test('eager RMSNorm with r in the activation dtype; a scale joined from a second stream scales its linear\'s whole output', async () => {
  // FlashNorm's notebook: r down-cast, then x·r and ·γ in bf16; the deferred statistic on a second stream, joined by one scale kernel per linear.
  const hw = applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager', 'kernels.eagerNormMultiply=activation', 'kernels.deferredStatistic=second-stream']);
  const w: Partial<Workload> = { phase: 'prefill', batch: 1, seq: 512, tiles: 4, deferDepth: 'linear' };
  const g = await generate('Llama-3.1-8B', w, hw);
  const usual = [
    'r_input_layernorm = torch.rsqrt(var_input_layernorm)',
    'r_input_layernorm = r_input_layernorm.to(input_dtype)',
    'h_input_layernorm = x * r_input_layernorm',
    'h_input_layernorm = input_layernorm.weight * h_input_layernorm',
  ];
  const b = g.blocks.find((x) => x.layerKind === 'decoder')!;
  const at = usual.map((c) => codeIndex(b.baseline, c));
  assert.ok(at.every((i) => i > 0), `all lines present: ${usual.filter((_, i) => at[i]! < 0).join(' | ')}`);
  assert.deepEqual([...at].sort((x, y) => x - y), at, 'in this order');
  assert.match(lineOf(b.baseline, usual[1]!), /input_layernorm\.r\.to\(dtype\)  \(eager RMSNorm kernel: r down-cast to the activation dtype\)$/);
  assert.doesNotMatch(b.baseline, /hf_input_layernorm/, 'no fp32 multiply');

  const kind = atDepths(g, hw, w, 'decoder', { [siteOfRole(g, 'decoder', 'attn')]: 'linear' });
  const deferred = blockPseudocode(g.spec, kind, 'deferred').text;
  // q_proj 4096 → 4096, k_proj and v_proj 4096 → 1024 (8 KV heads × 128): each scaled once, over all its tiles.
  for (const [lin, width] of [['q_proj', 4096], ['k_proj', 1024], ['v_proj', 1024]] as const) {
    const line = lineOf(deferred, `${lin}_out = r_input_layernorm * ${lin}_raw`);
    assert.match(line, new RegExp(`# vector .* ${lin}\\.scale  \\(deferred input_layernorm scale, ${width} values per row; its own pass over the output`), `${lin}: ${line}`);
  }
  assert.ok(codeIndex(deferred, 'q, k = rope(split_heads(q_proj_out), split_heads(k_proj_out))') > 0, 'RoPE reads the scaled q and k');
  assert.doesNotMatch(deferred, /depth rope/, 'depth linear: nothing is scaled after RoPE');
});

// Deeper deferral: the scale where the graph applies it, named by its depth

/**
 * A layer kind's deferred run rebuilt with the given sites deferred at the given depths (the others
 * kept), whatever the cost search would choose; ops listed in build order (a valid order).
 */
function atDepths(g: Generated, hw: HardwareProfile, w: Partial<Workload>, kindId: string, depths: Record<string, DeferDepth>): KindSimulation {
  const sim = g.simulation.kinds.find((k) => k.id === kindId)!;
  const kind = g.spec.layerKinds.find((k) => k.id === kindId)!;
  const ctx = graphContext(hw, { ...DEFAULT_WORKLOAD, ...w }, g.simulation.dtype);
  const graph = buildLayerGraph(g.spec, kind, ctx, (id) => depths[id] ?? null);
  const start = Float64Array.from(graph.ops, (op) => op.id);
  const sites = sim.sites.map((d) => (d.site.ineligible !== null ? d : { ...d, decision: depths[d.site.id] ? ('defer' as const) : ('keep' as const), depth: depths[d.site.id] ?? null }));
  return { ...sim, sites, deferred: { ...sim.deferred, graph, timeline: { ...sim.deferred.timeline, start } } };
}

const siteOfRole = (g: Generated, kindId: string, role: string): string => g.simulation.kinds.find((k) => k.id === kindId)!.sites.find((d) => d.site.norm?.role === role)!.site.id;

test("depth 'rope' (Llama-2-7B, dimc): q and k rotated raw, one pass scales both after RoPE; v scaled after its matmul", async () => {
  const hw = getPreset('dimc');
  const w: Partial<Workload> = { softmaxOffset: 'exact' };
  const g = await generate('Llama-2-7b-hf', w, hw);
  const sim = atDepths(g, hw, w, 'decoder', { [siteOfRole(g, 'decoder', 'attn')]: 'rope' });
  const text = blockPseudocode(g.spec, sim, 'deferred').text;
  const rope = codeIndex(text, 'q, k = rope(split_heads(q_proj_raw), split_heads(k_proj_raw))');
  const scale = codeIndex(text, 'q, k = r_input_layernorm * q, r_input_layernorm * k');
  assert.ok(rope > 0 && scale > rope, text);
  assert.match(lineOf(text, 'q, k = rope(split_heads(q_proj_raw), split_heads(k_proj_raw))'), /\(rotary embedding; raw q and k: RoPE\(r·q\) = r·RoPE\(q\)\)$/);
  // Decode, batch 32: 32 rows × (32 + 32 heads) × 128 = 262 144 values of q and k, 2 bytes each read and
  // written, and 32 fp32 statistics: 1 048 704 bytes.
  assert.match(lineOf(text, 'q, k = r_input_layernorm * q, r_input_layernorm * k'), /# vector .* input_layernorm\.scale\(q, k\)  \(deferred input_layernorm scale, depth rope: RoPE\(r·q\) = r·RoPE\(q\), the same for k; its own pass over q and k, 1\.0 MB\)$/);
  assert.ok(codeIndex(text, 'v_proj_out[1/4] = r_input_layernorm * v_proj_raw[1/4]') > 0);
  assert.doesNotMatch(text, /^(q|k)_proj_out/m, 'q and k are never scaled at their matmuls');
  assert.ok(codeIndex(text, 's[1/4] = (q[1/4] @ cat(k_cache[1/4], k[1/4]).transpose(-2, -1)) * scale') > scale);
  assert.equal(codeLines(text).filter((c) => c.startsWith('r_input_layernorm = rsqrt(')).length, 1);
  assert.match(text, /# {3}input_layernorm → q_proj, k_proj, v_proj: deferred, depth rope: q and k are rotated raw and scaled after RoPE, v after its matmul/);
});

test("depth 'attention': the logits are scaled by r_q·r_k on every pass before the exp (eager), or inside the fused kernel", async () => {
  const dimc = getPreset('dimc');
  for (const offset of ['exact', 'online', 'bound'] as const) {
    const w: Partial<Workload> = { softmaxOffset: offset };
    const g = await generate('Llama-2-7b-hf', w, dimc);
    const sim = atDepths(g, dimc, w, 'decoder', { [siteOfRole(g, 'decoder', 'attn')]: 'attention', softmax: 'linear' });
    const text = blockPseudocode(g.spec, sim, 'deferred').text;
    const where = `offset ${offset}`;
    const rr = 's[1/4] * outer(r_input_layernorm, r_input_layernorm)';
    // The scores are computed raw; each pass over them multiplies by r_q·r_k first.
    const scores = codeIndex(text, 's[1/4] = (q[1/4] @ cat(k_cache[1/4], k[1/4]).transpose(-2, -1)) * scale');
    assert.ok(scores > 0, where);
    const max = { exact: `c[1/4] = (${rr}).amax(dim=-1, keepdim=True)`, online: `m_unit[1/4] = (${rr}).amax(dim=-1, keepdim=True)`, bound: null }[offset];
    const offsetVar = { exact: 'c[1/4]', online: 'm_unit[1/4]', bound: 'score_bound' }[offset];
    const exp = `e[1/4] = exp((${rr}) - ${offsetVar}); l[1/4] = e[1/4].sum(dim=-1, keepdim=True)`;
    if (max) {
      assert.ok(codeIndex(text, max) > scores, `${where}: ${max}`);
      assert.match(lineOf(text, max), /deferred input_layernorm scale, depth attention: logits times r_q·r_k\)$/, where);
    }
    assert.ok(codeIndex(text, exp) > scores, `${where}: ${exp}\n${text}`);
    assert.match(lineOf(text, exp), /deferred input_layernorm scale, depth attention: logits times r_q·r_k; 524544 exps\)$/, where);
    assert.doesNotMatch(text, /^(q|k)_proj_out|^q, k = r_/m, `${where}: q and k are not scaled anywhere else`);
    assert.ok(codeIndex(text, 'v_proj_out[1/4] = r_input_layernorm * v_proj_raw[1/4]') > 0, where);
    // r is computed once, before its first use.
    const r = codeLines(text).findIndex((c) => c.startsWith('r_input_layernorm = rsqrt('));
    assert.ok(r > 0 && r < Math.min(codeIndex(text, exp), codeIndex(text, 'v_proj_out[1/4] = r_input_layernorm * v_proj_raw[1/4]')), where);
    assert.equal(codeLines(text).filter((c) => c.startsWith('r_input_layernorm = rsqrt(')).length, 1, where);
  }

  const h100 = getPreset('gpu-h100');
  const w: Partial<Workload> = { phase: 'prefill', batch: 1, seq: 512 };
  const g = await generate('Llama-3.1-8B', w, h100);
  const sim = atDepths(g, h100, w, 'decoder', { [siteOfRole(g, 'decoder', 'attn')]: 'attention' });
  const text = blockPseudocode(g.spec, sim, 'deferred').text;
  const flash = 'o[1/4] = flash_attention(q[1/4], k[1/4], v[1/4], logit_scale=outer(r_input_layernorm, r_input_layernorm))';
  assert.match(lineOf(text, flash), /\(fused kernel: online softmax, the division after ·V; deferred input_layernorm scale, depth attention: logits times r_q·r_k before the exp; 4096 query rows × ≈256\.5 keys, d_qk \+ d_v = 256\)$/, text);
  const r = codeLines(text).findIndex((c) => c.startsWith('r_input_layernorm = rsqrt('));
  assert.ok(r > 0 && r < codeIndex(text, flash));
});

test("depth 'down': a ReLU MLP runs on raw rows and r scales the down projection's output (T5); r² past a gated ReLU", async () => {
  const hw = getPreset('dimc');
  const w: Partial<Workload> = { phase: 'prefill', batch: 1, seq: 128, tiles: 4 };
  const g = await generate('t5-small', w, hw);
  const kindId = g.spec.layerKinds[0]!.id;
  const kind = g.spec.layerKinds[0]!;
  const norm = kind.norms.find((n) => n.role === 'mlp')!;
  const [wi, wo] = [kind.linears.find((l) => l.role === 'fc1' || l.role === 'up')!, kind.linears.find((l) => l.role === 'down')!];
  assert.equal(`${wi.name} ${wo.name} ${norm.name}`, 'DenseReluDense.wi DenseReluDense.wo layer.1.layer_norm');
  const sim = atDepths(g, hw, w, kindId, { [siteOfRole(g, kindId, 'mlp')]: 'down' });
  const text = blockPseudocode(g.spec, sim, 'deferred').text;
  const lines = [
    'DenseReluDense_wi_raw[1/4] = x @ DenseReluDense.wi.weight′.T',
    'a_DenseReluDense_wi = relu(DenseReluDense_wi_raw)',
    'DenseReluDense_wo_raw[1/4] = a_DenseReluDense_wi @ DenseReluDense.wo.weight.T',
    'DenseReluDense_wo_out[1/4] = r_layer_1_layer_norm * DenseReluDense_wo_raw[1/4]',
    'x = x + DenseReluDense_wo_out',
  ];
  const at = lines.map((c) => codeIndex(text, c));
  assert.ok(at.every((i) => i > 0), `${lines.filter((_, i) => at[i]! < 0).join(' | ')}\n${text}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at);
  assert.match(lineOf(text, lines[1]!), /\(activation; on raw rows: relu\(r·a\) = r·relu\(a\)\)$/);
  assert.match(lineOf(text, lines[2]!), /\(2048 → 512; 32×2048 @ 2048×512; scaled later\)$/);
  // 128 rows × 512 outputs / 4 tiles; r once.
  assert.match(lineOf(text, lines[3]!), /DenseReluDense\.wo\.scale\[1\/4\]  \(deferred layer\.1\.layer_norm scale, depth down: relu\(r·a\) = r·relu\(a\) carries r through the MLP to the DenseReluDense\.wo output, 512 values per row; /);
  assert.doesNotMatch(text, /DenseReluDense_wi_out|DenseReluDense\.wo\.weight′/);
  assert.match(text, /# {3}layer\.1\.layer_norm → DenseReluDense\.wi: deferred, depth down: the MLP runs on raw rows and r scales the down projection's output/);

  // A gated ReLU (Llama-2-7B with relu in place of silu): relu(r·g) ⊙ (r·u) = r²·(relu(g) ⊙ u).
  const llama = await generate('Llama-2-7b-hf', {}, hw);
  const relu: ModelSpec = { ...llama.spec, layerKinds: llama.spec.layerKinds.map((k) => ({ ...k, mlp: { ...k.mlp, activation: 'relu', activationKind: 'relu' } })) };
  const gated = atDepths({ ...llama, spec: relu }, hw, {}, 'decoder', { [siteOfRole(llama, 'decoder', 'mlp')]: 'down' });
  const t = blockPseudocode(relu, gated, 'deferred').text;
  assert.ok(codeIndex(t, 'a_gate_proj = relu(gate_proj_raw) * up_proj_raw') > 0, t);
  const down = 'down_proj_out[1/4] = r_post_attention_layernorm * r_post_attention_layernorm * down_proj_raw[1/4]';
  assert.match(lineOf(t, down), /depth down: relu\(r·a\) = r·relu\(a\) carries r² \(r from each branch\) through the MLP to the down_proj output/);
});

test("the simulation's own depth choices appear in the block listing, named by depth", async () => {
  let seen = 0;
  for (const name of profiledFixtures()) {
    for (const [i, hw] of PRESETS.entries()) {
      const g = await generated(name, WORKLOADS[1]!, hw, i);
      for (const kind of g.simulation.kinds) {
        const text = blockPseudocode(g.spec, kind, 'deferred').text;
        for (const d of kind.sites) {
          if (d.decision !== 'defer' || d.depth === null || d.depth === 'linear') continue;
          seen++;
          assert.match(text, new RegExp(`deferred .*depth ${d.depth}`), `${name} on ${hw.name} ${kind.id}: ${d.site.id} at ${d.depth}`);
        }
      }
    }
  }
  assert.ok(seen > 0, 'some site goes deeper than its linear layer');
});
