import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import type { LinearSpec, ModelSpec } from '../../src/core/model/spec';
import type { KindSimulation } from '../../src/core/sim/simulate';
import type { Workload } from '../../src/core/workload';
import { blockListings, blockPseudocode, type Schedule } from '../../src/core/codegen/index';
import { generate, lineIndex } from './helpers/codegen';
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

test('every fixture, workload and profile: the block listings render every op of the graph, in a valid order', async () => {
  const presets: HardwareProfile[] = [getPreset('dimc'), getPreset('gpu-h100')];
  for (const name of profiledFixtures()) {
    for (const hw of presets) {
      for (const w of WORKLOADS) {
        const g = await generate(name, w, hw);
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
