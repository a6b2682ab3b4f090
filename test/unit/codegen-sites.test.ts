import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { InputError } from '../../src/core/errors';
import { formatPseudocode, pseudocodeFor, siteInputs, sitePseudocode } from '../../src/core/codegen/index';
import { depthRefusal } from '../../src/core/graph/depth';
import type { DeferDepth } from '../../src/core/terms';
import type { ModelSpec } from '../../src/core/model/spec';
import type { PseudocodeSite } from '../../src/core/report/types';
import { fullReport } from '../../src/core/report/full';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { generate, lineIndex, site } from './helpers/codegen';
import { loadFixture, profiledFixtures } from './helpers/fixtures';

const us2 = (v: number): string => `${v.toFixed(2)} µs`;

test('Llama-2-7B: RMSNorm → q, k, v: fold diag(γ)·W, matmuls and statistic side by side, one epilogue per consumer', async () => {
  const g = await generate('Llama-2-7b-hf', { softmaxOffset: 'online' });
  const attn = site(g, 'decoder', 'attn-norm');
  for (const name of ['q_proj', 'k_proj', 'v_proj']) {
    assert.match(attn.before, new RegExp(`${name}_out = h @ ${name}\\.weight\\.T +# matrix engine: 4096 → 4096`));
    assert.match(attn.after, new RegExp(`${name}\\.weight′ = ${name}\\.weight \\* γ +# W′ = diag\\(γ\\)·W, \\[4096, 4096\\]`));
    assert.match(attn.after, new RegExp(`${name}_raw = x @ ${name}\\.weight′\\.T +# matrix engine: 4096 → 4096`));
    assert.match(attn.after, new RegExp(`${name}_out = r \\* ${name}_raw +# vector engine: y = r·\\(x @ W′\\)`));
  }
  assert.match(attn.after, /γ = input_layernorm\.weight/);
  assert.match(attn.before, /ss = all_gather_sum\(ss\) +# collective: gather Σx² over 2048 units, on the critical path/);
  assert.match(attn.after, /ss = all_gather_sum\(ss\) +# collective: gather Σx² over 2048 units, hidden behind the matmuls/);
  assert.match(attn.after, /ss = \(x \* x\)\.sum\(dim=-1\) +# vector engine/);
  assert.match(attn.after, /one statistic, one epilogue per consumer \(3\)/);
  assert.equal(attn.after.split('\n').filter((l) => l.startsWith('r = rsqrt(ss / 4096 + 1e-05)')).length, 1, 'one statistic');
  // The matmuls are issued before the statistic's gather; the epilogue after both.
  assert.ok(lineIndex(attn.after, 'q_proj_raw =') < lineIndex(attn.after, 'all_gather_sum'));
  assert.ok(lineIndex(attn.after, 'all_gather_sum') < lineIndex(attn.after, 'q_proj_out ='));
  // In the usual schedule the normalization comes before the matmuls.
  assert.ok(lineIndex(attn.before, 'h = x * r * input_layernorm.weight') < lineIndex(attn.before, 'q_proj_out ='));

  const mlp = site(g, 'decoder', 'mlp-norm');
  assert.match(mlp.before, /gate_proj_out = h @ gate_proj\.weight\.T +# matrix engine: 4096 → 11008/);
  assert.match(mlp.after, /up_proj\.weight′ = up_proj\.weight \* γ +# W′ = diag\(γ\)·W, \[11008, 4096\]/);
  assert.match(mlp.after, /gate_proj_out = r \* gate_proj_raw +# vector engine: y = r·\(x @ W′\), 11008 values per row/);
});

test('each header states the decision with the report numbers', async () => {
  const g = await generate('Llama-2-7b-hf');
  for (const k of g.report.layerKinds) {
    for (const s of k.sites) {
      const p = site(g, k.id, s.id);
      const per = k.id === 'head' ? 'for the head' : 'per layer';
      const expected =
        s.decision === 'defer'
          ? `# deferred: ${us2(s.deferredUs)} instead of ${us2(s.keptUs)} ${per} (simulated)`
          : s.decision === 'keep'
            ? `# kept: `
            : `# ineligible: `;
      assert.ok(p.before.includes(expected), `${k.id}/${s.id}: ${p.before.split('\n')[2]}`);
      assert.ok(p.after.includes(expected), `${k.id}/${s.id}`);
      assert.ok(p.before.startsWith(`# ${s.name}  ·  `), `${k.id}/${s.id} names the site`);
    }
  }
  // One entry per site of every layer kind, the head included.
  assert.deepEqual(
    g.sites.map((p) => `${p.layerKind}/${p.site}`),
    g.report.layerKinds.flatMap((k) => k.sites.map((s) => `${k.id}/${s.id}`)),
  );
});

test('RMSNorm → Linear with bias (Qwen2): the bias is added after the scale', async () => {
  const g = await generate('Qwen2-7B-Instruct');
  const attn = site(g, 'decoder', 'attn-norm');
  assert.match(attn.before, /q_proj_out = h @ q_proj\.weight\.T \+ q_proj\.bias/);
  assert.match(attn.after, /q_proj_out = r \* q_proj_raw \+ q_proj\.bias +# .*y = r·\(x @ W′\) \+ b/);
  assert.doesNotMatch(attn.after, /q_proj_raw = x @ q_proj\.weight′\.T \+/);
});

test('Gemma: γ is defined as (1 + weight) and folded as diag(γ), never diag(1 + γ) (issue 20)', async () => {
  const g = await generate('Gemma-2b');
  const attn = site(g, 'decoder', 'attn-norm');
  assert.match(attn.after, /γ = \(1 \+ input_layernorm\.weight\)/);
  // γ already holds the 1: W′ = diag(1 + weight)·W = diag(γ)·W; diag(1 + γ) would add it twice.
  assert.match(attn.after, /W′ = diag\(γ\)·W/);
  assert.doesNotMatch(attn.after, /1 \+ γ/);
  assert.match(attn.before, /h = x \* r \* \(1 \+ input_layernorm\.weight\)/);
});

test('GPT-2: LayerNorm → c_attn: centering and γ folded into W̃, c = β·W + b, Σx and Σx² gathered with the matmul', async () => {
  const g = await generate('GPT-2');
  const attn = site(g, 'decoder', 'attn-norm');
  assert.match(attn.before, /c_attn_out = h @ c_attn\.weight\.T \+ c_attn\.bias +# matrix engine: 768 → 2304/);
  assert.match(attn.before, /h = \(x - mu\) \* r \* ln_1\.weight \+ ln_1\.bias/);
  assert.match(attn.after, /γ, β = ln_1\.weight, ln_1\.bias/);
  assert.match(attn.after, /c_attn\.weight′ = c_attn\.weight′ - c_attn\.weight′\.mean\(dim=-1, keepdim=True\) +# W̃ = \(I − 11ᵀ\/n\)·diag\(γ\)·W/);
  assert.match(attn.after, /c_attn\.bias′ = c_attn\.weight @ β \+ c_attn\.bias +# c = β·W \+ b: 2304 values/);
  assert.match(attn.after, /s1, ss = all_gather_sum\(s1, ss\) +# collective: gather Σx and Σx² over \d+ units, hidden behind the matmuls/);
  assert.match(attn.after, /c_attn_out = r \* c_attn_raw \+ c_attn\.bias′ +# vector engine: y = r·\(x @ W̃\) \+ c, 2304 values per row/);
  // The head: lm_head has no bias, β alone makes c.
  const head = site(g, 'head', 'final-norm');
  assert.match(head.after, /lm_head\.bias′ = lm_head\.weight @ β +# c = β·W: 50257 values/);
});

test('Softmax → ·V follows the offset mode', async () => {
  const exact = site(await generate('Llama-2-7b-hf', { softmaxOffset: 'exact' }), 'decoder', 'softmax');
  const bound = site(await generate('Llama-2-7b-hf', { softmaxOffset: 'bound' }), 'decoder', 'softmax');
  const online = site(await generate('Llama-2-7b-hf', { softmaxOffset: 'online' }), 'decoder', 'softmax');
  for (const p of [exact, bound, online]) {
    assert.match(p.before, /p = e \/ l +# vector engine: p = exp\(s − c\) \/ sum\(exp\(s − c\)\), 2049 values per row/);
    assert.match(p.before, /o = p @ v +# matrix engine: \[rows, 2049\] @ \[2049, 128\]/);
    assert.ok(lineIndex(p.before, 'all_gather_max') < lineIndex(p.before, 'e = exp('));
    assert.match(p.after, /o_raw = e @ v +# matrix engine: starts at once/);
    assert.match(p.after, /128 values per row instead of 2049/);
  }
  // exact: the max is gathered before exp, then Σ beside e @ V, then the division on head_dim values.
  assert.match(exact.after, /\(offset: exact\)/);
  assert.ok(lineIndex(exact.after, 'c = all_gather_max(c)') > 0);
  assert.ok(lineIndex(exact.after, 'c = all_gather_max(c)') < lineIndex(exact.after, 'e = exp(s - c)'));
  assert.ok(lineIndex(exact.after, 'o_raw = e @ v') < lineIndex(exact.after, 'o = o_raw / l'));
  assert.match(exact.after, /o = o_raw \/ l +# vector engine: o = \(exp\(s − c\) @ V\) \/ Σ, 128 values per row/);
  // bound: no max at all.
  assert.match(bound.after, /c = score_bound/);
  assert.doesNotMatch(bound.after, /amax|all_gather_max/);
  // online: local max, one gather of (max, Σ), rescale by exp(m_unit − m).
  assert.match(online.after, /m_unit = s\.amax/);
  assert.match(online.after, /m, l = all_gather_max_sum\(m_unit, l_unit\)/);
  assert.match(online.after, /o = o_raw \* exp\(m_unit - m\) \/ l +# .*rescale by exp\(m_unit − m\)/);
  assert.doesNotMatch(online.after, /all_gather_max\(/);
});

test('MoE router as a consumer: top-k on raw logits, the gate softmax after the scale (Qwen3-30B-A3B)', async () => {
  const g = await generate('Qwen3-30B-A3B');
  const mlp = site(g, 'decoder', 'mlp-norm');
  assert.match(mlp.after, /gate_raw = x @ gate\.weight′\.T +# matrix engine: 2048 → 128 \(router logits\)/);
  assert.match(mlp.after, /topk_idx = topk\(gate_raw, k=8\) +# vector engine: top-k on raw logits: a positive scale r does not change top-k/);
  assert.match(mlp.after, /experts_gate_proj_raw = x @ experts\.gate_proj\.weight′\[topk_idx\]\.T +# matrix engine: 2048 → 768, top-8 of 128 experts per token/);
  assert.match(mlp.after, /experts\.up_proj\.weight′ = experts\.up_proj\.weight \* γ +# W′ = diag\(γ\)·W, \[128, 768, 2048\]/);
  assert.ok(lineIndex(mlp.after, 'topk_idx = topk(gate_raw') < lineIndex(mlp.after, 'ss = all_gather_sum'), 'routing does not wait for the statistic');
  assert.ok(lineIndex(mlp.after, 'gate_out = r * gate_raw') < lineIndex(mlp.after, 'gate_w = softmax(gate_out'), 'gate softmax after the scale');
  assert.match(mlp.after, /gate_w = softmax\(gate_out, dim=-1\) +# vector engine: the gate softmax after the scale/);
  // Per-head q/k norms: no collective, ineligible.
  for (const id of ['q-norm', 'k-norm']) {
    const p = site(g, 'decoder', id);
    assert.match(p.before, /# ineligible: per-head statistic/);
    assert.match(p.before, /no collective: the statistic is local to one unit/);
    assert.match(p.after, /no rewrite/);
    assert.doesNotMatch(p.after, /weight′/);
  }
});

test('DeepSeek-V3 MLA: q_a_proj / kv_a_proj_with_mqa behind input_layernorm, latent norms before q_b_proj / kv_b_proj', async () => {
  const g = await generate('DeepSeek-V3');
  for (const kind of ['dense', 'moe']) {
    const attn = site(g, kind, 'attn-norm');
    assert.match(attn.after, /q_a_proj_raw = x @ q_a_proj\.weight′\.T +# matrix engine: 7168 → 1536/);
    assert.match(attn.after, /kv_a_proj_with_mqa_raw = x @ kv_a_proj_with_mqa\.weight′\.T +# matrix engine: 7168 → 576/);
    const q = site(g, kind, 'q-latent-norm');
    assert.match(q.before, /RMSNorm over 1536 values \(latent-norm\)/);
    assert.match(q.before, /q_b_proj_out = h @ q_b_proj\.weight\.T +# matrix engine: 1536 → 24576/);
    assert.match(q.before, /h = x \* r \* q_a_layernorm\.weight/);
    const kv = site(g, kind, 'kv-latent-norm');
    assert.match(kv.before, /kv_b_proj_out = h @ kv_b_proj\.weight\.T +# matrix engine: 512 → 32768/);
    assert.match(kv.before, /kv_a_layernorm/);
  }
  const shared = site(g, 'moe', 'mlp-norm');
  assert.match(shared.after, /shared_experts_gate_proj_raw = x @ shared_experts\.gate_proj\.weight′\.T +# matrix engine: 7168 → 2048/);
  assert.match(shared.after, /experts_up_proj_raw = x @ experts\.up_proj\.weight′\[topk_idx\]\.T +# matrix engine: 7168 → 2048, top-8 of 256 experts per token/);
});

test('a kept site says kept and why, and shows the rejected rewrite marked as such', async () => {
  const hw = applyOverrides(getPreset('dimc'), ['vector.gelemsPerSec=5']);
  const g = await generate('Llama-2-7b-hf', {}, hw);
  const r = g.report.layerKinds.find((k) => k.id === 'head')!.sites[0]!;
  assert.equal(r.decision, 'keep');
  const head = site(g, 'head', 'final-norm');
  const why = `# kept: deferring would take ${us2(r.deferredUs)} instead of ${us2(r.keptUs)} for the head (simulated); the epilogue scales 32000 values per row (lm_head), which costs more than the gather it would hide`;
  assert.ok(head.before.includes(why), head.before.split('\n')[2]);
  assert.ok(head.after.includes(why));
  assert.match(head.after, /REJECTED rewrite: not applied/);
  assert.match(head.after, /lm_head_out = r \* lm_head_raw/);
  assert.ok(lineIndex(head.after, 'REJECTED') < lineIndex(head.after, 'lm_head_raw ='));
  assert.match(head.before, /lm_head_out = h @ lm_head\.weight\.T +# matrix engine: 4096 → 32000/);
});

test('BERT post-norm sites are ineligible: before shows the usual schedule, after says why there is no rewrite', async () => {
  const g = await generate('bert-base-uncased');
  for (const id of ['attn-post-norm', 'mlp-post-norm']) {
    const p = site(g, 'encoder', id);
    assert.match(p.before, /# ineligible: post-norm: its output is the residual stream itself/);
    assert.match(p.before, /x = h +# post-norm: the normalized rows are the residual stream itself/);
    assert.match(p.after, /# ineligible: post-norm/);
    assert.match(p.after, /no rewrite: the usual schedule \(before\) stays as it is/);
    assert.doesNotMatch(p.after, /weight′|all_gather/);
  }
  assert.match(site(g, 'encoder', 'attn-post-norm').before, /intermediate_dense_out = h @ intermediate\.dense\.weight\.T \+ intermediate\.dense\.bias +# matrix engine: 768 → 3072/);
});

test('fused epilogues (GPU profile) are labelled as such', async () => {
  const g = await generate('Llama-3.1-8B', {}, getPreset('gpu-h100'));
  const deferred = g.sites.find((p) => /# deferred:/.test(p.before) && p.site !== 'softmax');
  assert.ok(deferred, 'some norm site is deferred on the GPU profile');
  // Whatever depth the simulator chose, the scale's epilogue says where it runs.
  assert.match(deferred!.after, /= (r|s) \* .+ +# matrix engine, fused into the matmul epilogue/);
});

test('formatPseudocode: --site by id, by kind/id, by name substring; unknown → InputError listing the ids', async () => {
  const g = await generate('Llama-2-7b-hf');
  const all = formatPseudocode(g.sites, g.blocks);
  assert.match(all, /═══ decoder · attn-norm/);
  assert.match(all, /═══ block decoder · deferred/);
  assert.match(all, /═══ block head · baseline/);

  const byId = formatPseudocode(g.sites, g.blocks, 'softmax');
  assert.match(byId, /═══ decoder · softmax/);
  assert.doesNotMatch(byId, /attn-norm|═══ block/);
  assert.match(byId, /── before ──[\s\S]*── after ──/);

  const byName = formatPseudocode(g.sites, g.blocks, 'gate_proj');
  assert.match(byName, /═══ decoder · mlp-norm/);
  assert.equal(byName.match(/═══ /g)!.length, 1);

  assert.match(formatPseudocode(g.sites, g.blocks, 'head/final-norm'), /═══ head · final-norm/);

  assert.throws(
    () => formatPseudocode(g.sites, g.blocks, 'no-such-site'),
    (e: unknown) => e instanceof InputError && e.file === '--site' && e.field === '' && e.expected === 'one of: attn-norm, mlp-norm, softmax, final-norm',
  );
});

test('every fixture: plain text, every site listed, no NaN or undefined', async () => {
  for (const name of profiledFixtures()) {
    const g = await generate(name);
    const text = formatPseudocode(g.sites, g.blocks);
    assert.doesNotMatch(text, /undefined|NaN|\[object |\u001b|<\/?[a-z]+>/i, name);
    assert.equal(g.sites.length, g.report.layerKinds.reduce((n, k) => n + k.sites.length, 0), name);
    for (const p of g.sites) {
      assert.ok(p.before.length > 0 && p.after.length > 0, `${name} ${p.layerKind}/${p.site}`);
    }
  }
});

test('no model names are hard-coded in codegen: every module name comes from the spec', async () => {
  const dir = join(__dirname, '..', '..', 'src', 'core', 'codegen');
  const source = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n')
    // Doc comments may give examples; the code may not.
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const names = new Set<string>();
  for (const fixture of profiledFixtures()) {
    const spec = await loadFixture(fixture);
    for (const k of spec.layerKinds) for (const m of [...k.linears, ...k.norms]) names.add(m.name);
    if (spec.lmHead) names.add(spec.lmHead.name);
    if (spec.finalNorm) names.add(spec.finalNorm.name);
  }
  // Distinctive module names (q_proj, c_attn, input_layernorm, ln_f, …); short words like `gate` or `key` are ordinary prose.
  const distinctive = [...names].filter((n) => /[._]/.test(n));
  assert.ok(distinctive.length > 20);
  for (const n of distinctive) assert.ok(!source.includes(n), `codegen source mentions the module name ${n}`);
});

test('fullReport fills the pseudo-code, the block listings and the numerics', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const hw = getPreset('dimc');
  const { report } = fullReport(spec, hw, DEFAULT_WORKLOAD);
  assert.ok(report.pseudocode !== null && report.pseudocode.length === report.layerKinds.reduce((n, k) => n + k.sites.length, 0));
  assert.deepEqual(report.pseudocodeBlocks?.map((b) => b.layerKind), report.layerKinds.map((k) => k.id));
  assert.ok(report.numerics !== null && report.numerics.entries.length > 0);
  for (const p of report.pseudocode) {
    const site = report.layerKinds.find((k) => k.id === p.layerKind)!.sites.find((s) => s.id === p.site)!;
    assert.equal(p.name, site.name);
    assert.equal(p.decision, site.decision);
  }
  const g = await generate('Llama-3.1-8B');
  assert.deepEqual(report.pseudocode, pseudocodeFor(g.spec, g.simulation, g.report));
  assert.match(JSON.stringify(report.pseudocode), /q_proj\.weight′ = q_proj\.weight \* γ/);
});

// ---------------------------------------------------------------------------------------------
// Deeper deferral (issue 10): the listing at the depth the simulator chose

/** One site's pseudo-code at a depth, with the layer kind and positions from the spec. */
function atDepth(g: Awaited<ReturnType<typeof generate>>, kind: string, id: string, depth: DeferDepth | undefined, spec: ModelSpec = g.spec): PseudocodeSite {
  const input = siteInputs(g.spec, g.simulation, g.report).find((i) => i.layerKind.id === kind && i.site.id === id);
  assert.ok(input, `${kind}/${id}`);
  const layer = spec.layerKinds.find((k) => k.id === kind);
  return sitePseudocode({ ...input!, depth, layer, positions: spec.positions });
}

test("depth 'rope' (Llama-2-7B): q and k rotated raw, r applied after RoPE; v scaled after its matmul", async () => {
  const g = await generate('Llama-2-7b-hf');
  const p = atDepth(g, 'decoder', 'attn-norm', 'rope');
  assert.match(p.after, /after \(depth: rope\)/);
  assert.match(p.after, /q_proj_raw = x @ q_proj\.weight′\.T +# matrix engine: 4096 → 4096, on the raw rows/);
  assert.match(p.after, /q_proj_rot = rope\(q_proj_raw, pos\) +# vector engine: RoPE on the raw rows: .*rope\(r·q\) = r·rope\(q\)/);
  assert.match(p.after, /k_proj_rot = rope\(k_proj_raw, pos\)/);
  assert.match(p.after, /q_proj_out = r \* q_proj_rot +# vector engine: q = r·rope\(x @ W′\)/);
  assert.match(p.after, /k_proj_out = r \* k_proj_rot/);
  assert.match(p.after, /v_proj_out = r \* v_proj_raw +# vector engine: y = r·\(x @ W′\)/);
  assert.match(p.after, /all_gather_sum\(ss\) +# collective: .*hidden behind the matmuls and RoPE/);
  // RoPE runs before r is needed: rotation, then the statistic's rsqrt, then the scale.
  assert.ok(lineIndex(p.after, 'q_proj_rot = rope(') < lineIndex(p.after, 'r = rsqrt('));
  assert.ok(lineIndex(p.after, 'r = rsqrt(') < lineIndex(p.after, 'q_proj_out = r * q_proj_rot'));
  assert.equal(p.after.split('\n').filter((l) => l.startsWith('r = rsqrt(')).length, 1, 'one statistic');
  // The usual schedule for the same span: normalize, project, rotate.
  assert.match(p.before, /q_proj_rot = rope\(q_proj_out, pos\)/);
  assert.ok(lineIndex(p.before, 'h = x * r') < lineIndex(p.before, 'q_proj_rot = rope('));
});

test("depth 'attention' (Llama-2-7B): r_i·r_j on the logits before exp, v's r after the row sum, the cache stored scaled", async () => {
  const g = await generate('Llama-2-7b-hf');
  const p = atDepth(g, 'decoder', 'attn-norm', 'attention');
  assert.match(p.after, /after \(depth: attention\)/);
  assert.match(p.after, /s = \(q_proj_rot @ k_proj_rot\.transpose\(-2, -1\)\) \* scale +# matrix engine: logits of the raw rows/);
  assert.match(p.after, /s = s \* \(r\[:, None\] \* r\[None, :\]\) +# .*row i by q's scale, column j by k's/);
  assert.match(p.after, /decode: the new token's r on its row, and on its own column only/);
  assert.match(p.after, /e = exp\(s - c\); l = e\.sum\(dim=-1, keepdim=True\) +# vector engine: the row sum, without v's scale/);
  assert.match(p.after, /o = \(\(e \* r\[None, :\]\) @ v_proj_raw\) \/ l +# matrix engine: v's scale r_j on column j of e after the row sum is taken/);
  assert.match(p.after, /cache_k, cache_v = r\[:, None\] \* k_proj_rot, r\[:, None\] \* v_proj_raw +# stored scaled for later decode steps/);
  assert.match(p.after, /hidden behind the matmuls, RoPE and q·kᵀ/);
  // The scales go on the logits before exp; the v scale multiplies e after its sum is taken.
  assert.ok(lineIndex(p.after, 's = (q_proj_rot @') < lineIndex(p.after, 'r = rsqrt('));
  assert.ok(lineIndex(p.after, 's = s * (r[:, None]') < lineIndex(p.after, 'c = s.amax'));
  assert.ok(lineIndex(p.after, 'e = exp(s - c); l = e.sum') < lineIndex(p.after, 'o = ((e * r[None, :])'));
  // None of q, k, v is scaled on its own any more.
  assert.doesNotMatch(p.after, /_out = r \*/);
  assert.match(p.before, /s = \(q_proj_rot @ k_proj_rot\.transpose\(-2, -1\)\) \* scale/);
  assert.match(p.before, /o = p @ v_proj_out/);
});

test("depth 'down': a ReLU MLP runs raw and r scales the down projection's output (T5); a gated ReLU takes r²", async () => {
  const t5 = await generate('t5-small');
  const p = atDepth(t5, 'encoder', 'mlp-norm', 'down');
  assert.match(p.after, /after \(depth: down\)/);
  assert.match(p.after, /DenseReluDense_wi_raw = x @ DenseReluDense\.wi\.weight′\.T/);
  assert.match(p.after, /h = relu\(DenseReluDense_wi_raw\) +# vector engine: on the raw rows, relu\(r·a\) = r·relu\(a\) for r > 0/);
  assert.match(p.after, /DenseReluDense_wo_raw = h @ DenseReluDense\.wo\.weight\.T +# matrix engine: 2048 → 512, weights unchanged/);
  assert.match(p.after, /DenseReluDense_wo_out = r \* DenseReluDense_wo_raw +# vector engine: out = r·\(h @ W_down\), 512 values per row/);
  assert.doesNotMatch(p.after, /DenseReluDense\.wo\.weight′/, 'the down projection keeps its weights');
  assert.ok(lineIndex(p.after, 'DenseReluDense_wo_raw = h @') < lineIndex(p.after, 'r = rsqrt('));
  assert.match(p.before, /h = relu\(DenseReluDense_wi_out\)/);
  assert.match(p.before, /DenseReluDense_wo_out = h @ DenseReluDense\.wo\.weight\.T/);

  // Llama-2-7B with its SiLU replaced by ReLU: ReGLU, relu(r·g)⊙(r·u) = r²·(relu(g)⊙u).
  const llama = await generate('Llama-2-7b-hf');
  const reglu: ModelSpec = { ...llama.spec, layerKinds: llama.spec.layerKinds.map((k) => ({ ...k, mlp: { ...k.mlp, activation: 'relu', activationKind: 'relu' } })) };
  const q = atDepth(llama, 'decoder', 'mlp-norm', 'down', reglu);
  assert.match(q.after, /h = relu\(gate_proj_raw\) \* up_proj_raw +# .*relu\(r·g\)⊙\(r·u\) = r²·\(relu\(g\)⊙u\)/);
  assert.match(q.after, /down_proj_raw = h @ down_proj\.weight\.T +# matrix engine: 11008 → 4096/);
  assert.match(q.after, /down_proj_out = r \* r \* down_proj_raw +# vector engine: out = r²·\(h @ W_down\), 4096 values per row/);
  assert.match(q.after, /epilogue: r² on the down projection's output/);
});

test('a fused qkv projection (Phi-3) keeps its scale at the linear layer, and says why', async () => {
  const g = await generate('Phi-3-mini-4k-instruct');
  for (const depth of ['rope', 'attention'] as const) {
    const p = atDepth(g, 'decoder', 'attn-norm', depth);
    assert.match(p.after, new RegExp(`depth '${depth}' not taken: qkv_proj computes q, k and v in one matmul`));
    assert.match(p.after, /qkv_proj_out = r \* qkv_proj_raw/);
    assert.doesNotMatch(p.after, /rope\(/);
  }
});

test('a depth the algebra does not allow is refused in words and the linear form is shown', async () => {
  const cases: [string, string, string, DeferDepth, RegExp][] = [
    ['Llama-2-7b-hf', 'decoder', 'mlp-norm', 'down', /silu is not positively homogeneous: silu\(r·a\) ≠ r·silu\(a\)/],
    ['Gemma-2b', 'decoder', 'mlp-norm', 'down', /gelu is not positively homogeneous/],
    ['Qwen2-7B-Instruct', 'decoder', 'attn-norm', 'rope', /q_proj, k_proj have a bias: .*RoPE\(r·y \+ b\) ≠ r·RoPE\(y \+ b\)/],
    ['Qwen2-7B-Instruct', 'decoder', 'attn-norm', 'attention', /q_proj, k_proj, v_proj have a bias/],
    ['Qwen3-0.6B', 'decoder', 'attn-norm', 'rope', /per-head norms \(q_norm, k_norm\) sit between the projections and RoPE/],
    ['GPT-2', 'decoder', 'attn-norm', 'rope', /LayerNorm: its deferred output is r·\(x·W̃\) \+ c/],
    ['DeepSeek-V3', 'dense', 'attn-norm', 'rope', /q_a_proj, kv_a_proj_with_mqa are not the q and k projections/],
    ['Llama-2-7b-hf', 'decoder', 'attn-norm', 'down', /q_proj, k_proj, v_proj are not the input projection of an MLP/],
    ['Llama-2-7b-hf', 'decoder', 'mlp-norm', 'rope', /gate_proj, up_proj are not the q and k projections/],
    ['Llama-2-7b-hf', 'head', 'final-norm', 'attention', /norm feeds lm_head outside any layer/],
    ['t5-small', 'encoder', 'attn-norm', 'rope', /no rotary embedding \(positions: relative\)/],
    ['t5-small', 'encoder', 'attn-norm', 'attention', /the logits also get a relative position bias after q·kᵀ/],
  ];
  for (const [name, kind, id, depth, why] of cases) {
    const g = await generate(name);
    const p = atDepth(g, kind, id, depth);
    const linear = atDepth(g, kind, id, 'linear');
    assert.match(p.after, new RegExp(`depth '${depth}' not taken: ${why.source}`), `${name} ${kind}/${id} ${depth}`);
    // Otherwise the listing is the linear one.
    assert.equal(p.after.split('\n').filter((l) => !l.includes('not taken')).join('\n'), linear.after, `${name} ${kind}/${id}`);
    assert.equal(p.before, linear.before);
    const site = siteInputs(g.spec, g.simulation, g.report).find((i) => i.layerKind.id === kind && i.site.id === id)!.site;
    assert.match(depthRefusal(site, depth, g.spec.layerKinds.find((k) => k.id === kind), g.spec.positions) ?? '', why);
  }
});

test('depthRefusal allows what the algebra allows', async () => {
  const allowed = async (name: string, kind: string, id: string, depth: DeferDepth): Promise<string | null> => {
    const g = await generate(name);
    const site = siteInputs(g.spec, g.simulation, g.report).find((i) => i.layerKind.id === kind && i.site.id === id)!.site;
    return depthRefusal(site, depth, g.spec.layerKinds.find((k) => k.id === kind), g.spec.positions);
  };
  assert.equal(await allowed('Llama-3.1-8B', 'decoder', 'attn-norm', 'rope'), null);
  assert.equal(await allowed('Llama-3.1-8B', 'decoder', 'attn-norm', 'attention'), null);
  assert.equal(await allowed('Llama-3.1-8B', 'decoder', 'mlp-norm', 'linear'), null);
  assert.equal(await allowed('t5-small', 'encoder', 'mlp-norm', 'down'), null);
  assert.equal(await allowed('Mistral-7B-v0.1', 'decoder', 'attn-norm', 'attention'), null);
});

test("no depth, or depth 'linear', gives the listing every existing caller gets", async () => {
  for (const name of ['Llama-2-7b-hf', 'GPT-2', 'Qwen3-30B-A3B']) {
    const g = await generate(name);
    for (const input of siteInputs(g.spec, g.simulation, g.report)) {
      const plain = sitePseudocode(input);
      const layer = g.spec.layerKinds.find((k) => k.id === input.layerKind.id);
      assert.deepEqual(sitePseudocode({ ...input, depth: 'linear', layer, positions: g.spec.positions }), plain, `${name} ${input.site.id}`);
      assert.deepEqual(sitePseudocode({ ...input, layer, positions: g.spec.positions }), plain);
    }
  }
});
