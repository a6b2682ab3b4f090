/**
 * The op graph's facts, pinned where mutation testing (`npm run mutate`) found that a wrong formula
 * left every other test green. The model is a tiny one written out here, so every expected count is
 * small arithmetic derived in the comment beside it from the rule it checks, never read back from the
 * code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHeadGraph, buildLayerGraph, keysPerQuery, rowsFor, type DeferChoice, type GraphContext } from '../../src/core/graph/layer';
import type { LayerGraph, Op, OpRole } from '../../src/core/graph/ops';
import { headSites, layerSites } from '../../src/core/graph/sites';
import { depthRefusal } from '../../src/core/graph/depth';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import type { AttentionSpec, LayerKind, LinearSpec, ModelSpec, NormSpec } from '../../src/core/model/spec';
import { parseActivation } from '../../src/core/model/families/activation';
import { graphContext } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
const near = (actual: number, expected: number, what: string) => assert.ok(close(actual, expected), `${what}: got ${actual}, expected ${expected}`);

// Keep every eligible site, or defer every one right after its linear layer (the papers' depth).
const KEEP = (() => null) as unknown as DeferChoice;
const DEFER = (() => 'linear') as unknown as DeferChoice;

// ---------------------------------------------------------------------------------------------
// A tiny Llama-like model: hidden 32, 4 query heads and 2 KV heads of 8, SwiGLU MLP of 48.
// ---------------------------------------------------------------------------------------------

const H = 32;
const lin = (name: string, role: LinearSpec['role'], inW: number, out: number, extra: Partial<LinearSpec> = {}): LinearSpec => ({ name, role, in: inW, out, bias: false, ...extra });
const rms = (name: string, role: NormSpec['role'], feeds: string[], extra: Partial<NormSpec> = {}): NormSpec => ({
  name,
  role,
  kind: 'rmsnorm',
  eps: 1e-5,
  placement: role === 'final' ? 'final' : 'pre',
  width: H,
  affine: 'weight',
  feeds,
  ...extra,
});

const ATTN: AttentionSpec = { kind: 'gqa', heads: 4, kvHeads: 2, headDim: 8, vHeadDim: 8, window: null, causal: true };

function kindOf(extra: Partial<LayerKind> = {}): LayerKind {
  return {
    id: 'decoder',
    label: 'tiny',
    layers: [0, 1],
    block: 'pre-norm',
    attention: ATTN,
    mlp: { kind: 'gated', ffn: 48, activation: 'silu', activationKind: 'silu', gated: true, bias: false },
    norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['gate_proj', 'up_proj'])],
    linears: [
      lin('q_proj', 'q', H, 32),
      lin('k_proj', 'k', H, 16),
      lin('v_proj', 'v', H, 16),
      lin('o_proj', 'o', 32, H),
      lin('gate_proj', 'gate', H, 48),
      lin('up_proj', 'up', H, 48),
      lin('down_proj', 'down', 48, H),
    ],
    stack: 'decoder',
    ...extra,
  };
}

function specOf(kind: LayerKind, extra: Partial<ModelSpec> = {}): ModelSpec {
  return {
    name: 'tiny',
    family: 'llama',
    modelType: 'llama',
    architecture: null,
    readAs: 'family',
    source: { path: 'tiny/config.json', format: 'config.json' },
    hidden: H,
    layers: 2,
    vocab: 100,
    normKind: 'rmsnorm',
    normEps: 1e-5,
    tiedEmbeddings: false,
    positions: 'none',
    maxPositions: null,
    topology: 'decoder',
    layerKinds: [kind],
    finalNorm: rms('norm', 'final', ['lm_head']),
    lmHead: lin('lm_head', 'lm_head', H, 100),
    params: { total: 0, active: 0 },
    paramsFromWeights: null,
    dtype: null,
    vision: null,
    skippedLayers: [],
    notes: [],
    ...extra,
  };
}

/** dimc with its numbers as shipped, except where a test sets them: 2,048 units, eager attention, no fused epilogues. */
function dimc(extra: string[] = []): HardwareProfile {
  return applyOverrides(getPreset('dimc'), ['kernels.attention=eager', 'kernels.norm=fused', ...extra]);
}

function ctxFor(w: Partial<Workload>, hw: HardwareProfile = dimc()): GraphContext {
  return graphContext(hw, { ...DEFAULT_WORKLOAD, ...w }, hw.defaultDtype);
}

const byRole = (g: LayerGraph, role: OpRole): Op[] => g.ops.filter((op) => op.role === role);
const sum = (ops: readonly Op[], f: (op: Op) => number) => ops.reduce((s, op) => s + f(op), 0);
const flops = (op: Op) => (op.work.kind === 'matmul' ? 2 * op.work.m * op.work.k * op.work.n : 0);
const elements = (op: Op) => (op.work.kind === 'vector' ? op.work.elements : 0);
const baseName = (name: string) => name.replace(/\[\d+\/\d+\]$/, '');
const ofLinear = (g: LayerGraph, name: string) => byRole(g, 'linear').filter((op) => baseName(op.name) === name);

// ---------------------------------------------------------------------------------------------

test('keys per query: causal prefill averages (t+1)/2, a window caps it, decode sees the cache plus itself', () => {
  // Counted one query at a time: query i (0-based) of a causal prompt sees min(i + 1, w) keys.
  const counted = (t: number, w: number) => Array.from({ length: t }, (_, i) => Math.min(i + 1, w)).reduce((a, b) => a + b, 0) / t;
  const prefill = (seq: number): GraphContext => ctxFor({ phase: 'prefill', seq, batch: 1 });
  // t = 8, full causal: (1 + … + 8)/8 = 36/8 = 4.5 = (8 + 1)/2.
  near(keysPerQuery(ATTN, prefill(8), false), 4.5, 'causal t=8');
  near(keysPerQuery(ATTN, prefill(8), false), counted(8, Infinity), 'causal t=8, counted');
  // Window 3 over t = 8: 1 + 2 + 3 + 3·5 = 21, /8 = 2.625.
  near(keysPerQuery({ ...ATTN, window: 3 }, prefill(8), false), 2.625, 'window 3, t=8');
  near(keysPerQuery({ ...ATTN, window: 3 }, prefill(8), false), counted(8, 3), 'window 3, t=8, counted');
  // A window as long as the prompt is no window: 4.5 again; one longer, too.
  near(keysPerQuery({ ...ATTN, window: 8 }, prefill(8), false), 4.5, 'window = t');
  near(keysPerQuery({ ...ATTN, window: 9 }, prefill(8), false), 4.5, 'window > t');
  near(keysPerQuery({ ...ATTN, window: 7 }, prefill(8), false), counted(8, 7), 'window t − 1');
  // Bidirectional (an encoder): every query sees all t keys, or its window.
  near(keysPerQuery({ ...ATTN, causal: false }, prefill(8), false), 8, 'bidirectional');
  near(keysPerQuery({ ...ATTN, causal: false, window: 3 }, prefill(8), false), 3, 'bidirectional, window 3');
  // Decode with 100 cached tokens: 100 + the new one = 101; a window of 16 keeps 16.
  const decode = ctxFor({ phase: 'decode', context: 100 });
  near(keysPerQuery(ATTN, decode, false), 101, 'decode');
  near(keysPerQuery({ ...ATTN, window: 16 }, decode, false), 16, 'decode, window 16');
  // Cross-attention sees the whole encoder output (seq tokens), causal or not.
  near(keysPerQuery(ATTN, ctxFor({ phase: 'decode', seq: 77, context: 100 }), true), 77, 'cross');
});

test('rows of a pass: batch × seq in prefill, batch in decode, and batch for the decoder of an encoder-decoder prefill', () => {
  const prefill = ctxFor({ phase: 'prefill', batch: 3, seq: 5 });
  const decode = ctxFor({ phase: 'decode', batch: 3, seq: 5 });
  const decoder = kindOf();
  const encoder = kindOf({ stack: 'encoder' });
  assert.equal(rowsFor(decoder, prefill, 'decoder'), 15);
  assert.equal(rowsFor(decoder, decode, 'decoder'), 3);
  assert.equal(rowsFor(encoder, prefill, 'encoder-decoder'), 15);
  // The decoder of an encoder-decoder makes its first token in the prefill pass: one row per sequence.
  assert.equal(rowsFor(decoder, prefill, 'encoder-decoder'), 3);
  assert.equal(rowsFor(encoder, decode, 'encoder-decoder'), 3);
});

test('tiles split a linear, never change it: by rows when there are enough rows, by output columns when not', () => {
  const spec = specOf(kindOf());
  for (const [batch, tiles] of [[12, 4], [2, 4], [5, 1], [3, 3]] as const) {
    const ctx = ctxFor({ phase: 'decode', batch, tiles, context: 16 });
    const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, KEEP);
    // q_proj: 32 → 32 over `batch` rows: 2·batch·32·32 FLOPs in all, whatever the tiling.
    const q = ofLinear(g, 'q_proj');
    assert.equal(q.length, tiles, `q_proj in ${tiles} tiles`);
    near(sum(q, flops), 2 * batch * 32 * 32, `q_proj FLOPs, batch ${batch}, ${tiles} tiles`);
    for (const op of q) {
      if (op.work.kind !== 'matmul') continue;
      if (batch >= tiles) {
        // Enough rows: each tile takes batch/tiles rows of the full width.
        near(op.work.m, batch / tiles, 'rows per tile');
        assert.equal(op.work.n, 32);
      } else {
        // Fewer rows than tiles: each tile takes all rows and 32/tiles output columns.
        assert.equal(op.work.m, batch);
        near(op.work.n, 32 / tiles, 'columns per tile');
      }
      assert.equal(op.work.k, 32);
    }
    // Only the first tile is a new kernel; the others continue it.
    assert.deepEqual(q.map((op) => Boolean(op.continues)), q.map((_, t) => t > 0));
  }
});

test('the whole layer: 2·rows·Σ(in·out) FLOPs of linears, split evenly over TP chips', () => {
  const spec = specOf(kindOf());
  // Σ in·out = 32·32 + 32·16 + 32·16 + 32·32 + 32·48 + 32·48 + 48·32 = 1024 + 512 + 512 + 1024 + 1536·3 = 7680.
  for (const tp of [1, 2, 4]) {
    const ctx = ctxFor({ phase: 'prefill', batch: 2, seq: 6, tp, tiles: 2 });
    const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, KEEP);
    near(sum(byRole(g, 'linear'), flops), (2 * 12 * 7680) / tp, `TP ${tp}`);
    // Column-parallel (q, k, v, gate, up): full input, outputs / TP. Row-parallel (o, down): inputs / TP.
    for (const op of ofLinear(g, 'k_proj')) assert.deepEqual([op.work.kind === 'matmul' && op.work.k, op.work.kind === 'matmul' && op.work.n], [32, 16 / tp]);
    for (const op of ofLinear(g, 'down_proj')) assert.deepEqual([op.work.kind === 'matmul' && op.work.k, op.work.kind === 'matmul' && op.work.n], [48 / tp, 32]);
  }
});

test('tensor parallelism: two all-reduces of rows × hidden activations per layer, none on one chip', () => {
  const spec = specOf(kindOf());
  // 2 sequences × 6 tokens = 12 rows of 32 values at 2 bytes (dimc keeps activations in 16 bits): 768 B.
  const one = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'prefill', batch: 2, seq: 6, tp: 1 }), KEEP);
  assert.equal(byRole(one, 'all-reduce').length, 0);
  const four = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'prefill', batch: 2, seq: 6, tp: 4 }), KEEP);
  const ar = byRole(four, 'all-reduce');
  assert.equal(ar.length, 2);
  for (const op of ar) assert.deepEqual(op.work, { kind: 'allreduce', bytes: 12 * 32 * 2 });
  // The residual add after each sublayer waits for its all-reduce.
  const residuals = byRole(four, 'residual');
  assert.equal(residuals.length, 2);
  for (const [i, r] of residuals.entries()) assert.ok(r.deps.includes(ar[i]!.id), `residual ${i} after all-reduce ${i}`);
});

test('a kept RMSNorm: Σx² over rows × width, one value per row gathered, applied in one chunk per tile with one rsqrt per row', () => {
  const spec = specOf(kindOf());
  const batch = 8;
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch, tiles: 4, context: 16 }), KEEP);
  const stats = byRole(g, 'norm-stat');
  // Two norms (attention and MLP), 8 rows × 32 wide each: 256 elements, 2 ops (square, add) each.
  assert.equal(stats.length, 2);
  for (const s of stats) assert.deepEqual([elements(s), s.work.kind === 'vector' && s.work.ops], [256, 2]);
  const gathers = byRole(g, 'norm-gather');
  assert.equal(gathers.length, 2);
  for (const ga of gathers) assert.deepEqual(ga.work, { kind: 'collective', rows: batch, values: 1, units: 2048 });
  const applies = byRole(g, 'norm-apply');
  // 4 chunks per norm, 64 elements each, 2 ops (·r, ·γ); the 8 rsqrts once per norm.
  assert.equal(applies.length, 8);
  for (const a of applies) assert.equal(elements(a), 64);
  assert.equal(sum(applies, (op) => (op.work.kind === 'vector' ? op.work.rsqrts : 0)), 2 * batch);
  // Kept: every q_proj tile waits for the gathered statistic, through its chunk.
  const gather0 = gathers[0]!.id;
  for (const op of ofLinear(g, 'q_proj')) assert.ok(op.deps.some((d) => g.ops[d]!.deps.includes(gather0)), `${op.name} after the gather`);
});

test('a LayerNorm gathers two values per row (Σx and Σx²) and costs 3 ops per element for the statistic, 4 to apply', () => {
  const ln = (name: string, role: NormSpec['role'], feeds: string[]) => rms(name, role, feeds, { kind: 'layernorm', affine: 'weight+bias' });
  const kind = kindOf({ norms: [ln('ln_1', 'attn', ['q_proj', 'k_proj', 'v_proj']), ln('ln_2', 'mlp', ['gate_proj', 'up_proj'])] });
  const spec = specOf(kind, { normKind: 'layernorm' });
  const g = buildLayerGraph(spec, kind, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }), KEEP);
  for (const s of byRole(g, 'norm-stat')) assert.deepEqual([elements(s), s.work.kind === 'vector' && s.work.ops], [256, 3]);
  for (const ga of byRole(g, 'norm-gather')) assert.equal(ga.work.kind === 'collective' && ga.work.values, 2);
  for (const a of byRole(g, 'norm-apply')) assert.deepEqual([elements(a), a.work.kind === 'vector' && a.work.ops], [256, 4]);
});

test('a deferred norm: the linears start on the raw input; each tile of output is scaled after the gather, one rsqrt per row', () => {
  const spec = specOf(kindOf());
  const batch = 8;
  for (const tp of [1, 2]) {
    const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch, tiles: 4, context: 16, tp }), DEFER);
    const gather = byRole(g, 'norm-gather')[0]!;
    for (const op of ofLinear(g, 'q_proj')) assert.ok(!op.deps.includes(gather.id) && op.deps.every((d) => !g.ops[d]!.deps.includes(gather.id)), `${op.name} does not wait`);
    const scales = byRole(g, 'norm-scale').filter((op) => op.name.startsWith('k_proj'));
    // k_proj is column-parallel: its output on one chip is 8 rows × 16/TP columns, in 4 tiles.
    assert.equal(scales.length, 4);
    near(sum(scales, elements), (batch * 16) / tp, `k_proj scale elements at TP ${tp}`);
    assert.equal(sum(scales, (op) => (op.work.kind === 'vector' ? op.work.rsqrts : 0)), batch);
    for (const s of scales) {
      assert.ok(s.deps.includes(gather.id), `${s.name} after the gather`);
      // No bias, RMSNorm: one multiply (r·y) per element.
      assert.equal(s.work.kind === 'vector' && s.work.ops, 1);
    }
    // The MLP norm's scale covers gate and up: 8 × 48/TP each.
    const mlpScales = byRole(g, 'norm-scale').filter((op) => op.name.startsWith('gate_proj') || op.name.startsWith('up_proj'));
    near(sum(mlpScales, elements), (2 * batch * 48) / tp, `gate and up scale elements at TP ${tp}`);
  }
});

test('attention in prefill: q·Kᵀ and p·V each 2·rows·heads·(t+1)/2·d FLOPs; nothing read from a cache', () => {
  const spec = specOf(kindOf());
  // 1 sequence of 8 tokens, 4 heads of 8: keys (8+1)/2 = 4.5 per query; 2·8·4·4.5·8 = 2,304 FLOPs each.
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'prefill', batch: 1, seq: 8, tiles: 2 }), KEEP);
  near(sum(byRole(g, 'scores'), flops), 2304, 'q·Kᵀ');
  near(sum(byRole(g, 'pv'), flops), 2304, 'p·V');
  // Two tiles over heads: 2 head groups, 16 query rows each.
  assert.equal(byRole(g, 'scores').length, 2);
  assert.equal(byRole(g, 'kv-read').length, 0);
  // At TP 2 each chip has 2 heads: half of it.
  const tp2 = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'prefill', batch: 1, seq: 8, tiles: 2, tp: 2 }), KEEP);
  near(sum(byRole(tp2, 'scores'), flops), 1152, 'q·Kᵀ at TP 2');
});

test('attention in decode: keys are the cache plus the new token; the cache read is batch × context × KV heads × (d_k + d_v) × 2 B', () => {
  const spec = specOf(kindOf());
  // 3 sequences, 100 cached tokens: 101 keys. q·Kᵀ: 2 · 3 rows · 4 heads · 101 · 8 = 19,392 FLOPs.
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, context: 100, tiles: 2 }), KEEP);
  near(sum(byRole(g, 'scores'), flops), 19392, 'q·Kᵀ');
  near(sum(byRole(g, 'pv'), flops), 19392, 'p·V');
  // Cache: 3 × 100 × 2 KV heads × (8 + 8) × 2 B = 19,200 B, read in 2 tiles.
  const reads = byRole(g, 'kv-read');
  assert.equal(reads.length, 2);
  near(sum(reads, (op) => (op.work.kind === 'memory' ? op.work.bytes : 0)), 19200, 'KV bytes');
  for (const r of reads) assert.equal(r.work.kind === 'memory' && r.work.tier, 'kv');
  // TP 2: one KV head per chip: half the bytes. TP 4: still one KV head per chip (replicated): the same half.
  for (const [tp, bytes] of [[2, 9600], [4, 9600]] as const) {
    const t = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, context: 100, tiles: 2, tp }), KEEP);
    near(sum(byRole(t, 'kv-read'), (op) => (op.work.kind === 'memory' ? op.work.bytes : 0)), bytes, `KV bytes at TP ${tp}`);
  }
});

test('a kept Softmax divides every score; a deferred one divides the v_head outputs after ·V', () => {
  const spec = specOf(kindOf());
  // 3 sequences, 100 cached: 12 query rows (3 × 4 heads) × 101 keys = 1,212 scores, in one tile.
  const ctx = ctxFor({ phase: 'decode', batch: 3, context: 100, tiles: 1 });
  const kept = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, KEEP);
  const divide = byRole(kept, 'softmax-divide');
  assert.equal(divide.length, 1);
  assert.equal(elements(divide[0]!), 1212);
  assert.equal(divide[0]!.work.kind === 'vector' && divide[0]!.work.divs, 12, 'one reciprocal per row');
  const expSum = byRole(kept, 'softmax-exp-sum')[0]!;
  assert.deepEqual([elements(expSum), expSum.work.kind === 'vector' && expSum.work.exps], [1212, 1212]);
  assert.equal(elements(byRole(kept, 'softmax-max')[0]!), 1212);
  const deferred = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, DEFER);
  assert.equal(byRole(deferred, 'softmax-divide').length, 0);
  const after = byRole(deferred, 'softmax-divide-after-v');
  // 12 rows × 8 values of v_head.
  assert.equal(after.length, 1);
  assert.equal(elements(after[0]!), 96);
  // p·V no longer waits for a gather.
  const pv = byRole(deferred, 'pv')[0]!;
  const upstream = new Set<number>();
  const stack = [...pv.deps];
  while (stack.length) {
    const d = stack.pop()!;
    if (upstream.has(d)) continue;
    upstream.add(d);
    stack.push(...deferred.ops[d]!.deps);
  }
  assert.ok([...upstream].every((d) => deferred.ops[d]!.role !== 'softmax-gather'), 'p·V after no gather');
});

test('a score row spans P/(batch × KV heads) units: its max and sum are gathered only when that is more than one', () => {
  const spec = specOf(kindOf());
  const gathersAt = (batch: number, units: number, offset: Workload['softmaxOffset'], choice: DeferChoice) =>
    byRole(buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch, context: 50, tiles: 1, softmaxOffset: offset }, dimc([`computeUnits=${units}`])), choice), 'softmax-gather');
  // 2,048 units / (4 sequences × 2 KV heads) = 256 units per row: kept, two gathers (max, then sum) of one value.
  const kept = gathersAt(4, 2048, 'online', KEEP);
  assert.equal(kept.length, 2);
  for (const ga of kept) assert.deepEqual(ga.work, { kind: 'collective', rows: 16, values: 1, units: 256 });
  // 8 units / (4 × 2) = 1: each row on one unit, nothing to gather.
  assert.equal(gathersAt(4, 8, 'online', KEEP).length, 0);
  assert.equal(gathersAt(4, 8, 'exact', DEFER).length, 0);
  // 16 / 8 = 2 units: gathers again.
  assert.equal(gathersAt(4, 16, 'exact', KEEP).length, 2);
  // Deferred, online: one gather carrying each unit's max and sum (2 values).
  const online = gathersAt(4, 2048, 'online', DEFER);
  assert.equal(online.length, 1);
  assert.equal(online[0]!.work.kind === 'collective' && online[0]!.work.values, 2);
  // Deferred, exact: the max gathered first, then the sum after ·V: two of one value each.
  assert.deepEqual(gathersAt(4, 2048, 'exact', DEFER).map((op) => op.work.kind === 'collective' && op.work.values), [1, 1]);
  // Deferred with a known bound: no max at all, only the sum.
  assert.deepEqual(gathersAt(4, 2048, 'bound', DEFER).map((op) => op.work.kind === 'collective' && op.work.values), [1]);
});

test('the MLP: SwiGLU over rows × ffn/TP (silu: 2 ops, 1 exp, 1 division, plus the ⊙ up), residual adds over rows × hidden', () => {
  const spec = specOf(kindOf());
  for (const tp of [1, 2]) {
    const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, context: 16, tiles: 1, tp }), KEEP);
    const act = byRole(g, 'activation');
    assert.equal(act.length, 1);
    const w = act[0]!.work;
    // 8 rows × 48/TP values; silu x/(1 + e^−x): 2 ops, 1 exp and 1 division each, + 1 for the gate product.
    const values = (8 * 48) / tp;
    assert.deepEqual(w.kind === 'vector' && [w.elements, w.ops, w.exps, w.divs], [values, 3, values, values]);
    for (const r of byRole(g, 'residual')) assert.equal(elements(r), 8 * 32);
    // silu(gate) ⊙ up reads both projections: it waits for every tile of each.
    for (const name of ['gate_proj', 'up_proj']) for (const tile of ofLinear(g, name)) assert.ok(act[0]!.deps.includes(tile.id), `${name} tile ${tile.id}`);
  }
});

test('the head: the final norm and lm_head over the last token of each sequence, also in prefill', () => {
  const spec = specOf(kindOf());
  // Prefill of 3 × 10 tokens: the logits of 3 rows; lm_head 2 · 3 · 32 · 100 = 19,200 FLOPs.
  const g = buildHeadGraph(spec, ctxFor({ phase: 'prefill', batch: 3, seq: 10, tiles: 1 }), KEEP)!;
  near(sum(byRole(g, 'linear'), flops), 19200, 'lm_head FLOPs');
  assert.equal(elements(byRole(g, 'norm-stat')[0]!), 3 * 32);
  assert.equal(buildHeadGraph(specOf(kindOf(), { lmHead: null }), ctxFor({}), KEEP), null);
});

test('MoE: the router on every row, experts on rows × top-k, and the weights of the experts the batch touches', () => {
  // 8 experts of 32 → 16 (gate, up) and 16 → 32 (down), top-2, a router 32 → 8; weights streamed (not resident).
  const experts = { total: 8, active: 2 };
  const kind = kindOf({
    mlp: { kind: 'moe', ffn: 16, activation: 'silu', activationKind: 'silu', gated: true, bias: false, experts: 8, topK: 2 },
    norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['router', 'gate_proj', 'up_proj'])],
    linears: [
      lin('q_proj', 'q', H, 32),
      lin('k_proj', 'k', H, 16),
      lin('v_proj', 'v', H, 16),
      lin('o_proj', 'o', 32, H),
      lin('router', 'router', H, 8),
      lin('gate_proj', 'gate', H, 16, { copies: experts }),
      lin('up_proj', 'up', H, 16, { copies: experts }),
      lin('down_proj', 'down', 16, H, { copies: experts }),
    ],
  });
  const spec = specOf(kind);
  const hw = dimc(['matrix.weightsResident=false']);
  const batch = 3;
  const g = buildLayerGraph(spec, kind, ctxFor({ phase: 'decode', batch, context: 16, tiles: 1 }, hw), KEEP);
  // Experts: each row runs top-2: 2 · (3·2) · 32 · 16 FLOPs for gate, the same for up and down.
  near(sum(ofLinear(g, 'gate_proj'), flops), 2 * 6 * 32 * 16, 'gate FLOPs');
  near(sum(ofLinear(g, 'down_proj'), flops), 2 * 6 * 16 * 32, 'down FLOPs');
  // The router runs once per row over all 8 experts: 2 · 3 · 32 · 8.
  near(sum(ofLinear(g, 'router'), flops), 2 * 3 * 32 * 8, 'router FLOPs');
  // Touched experts of 3 rows, each picking 2 of 8: 8·(1 − (6/8)³) = 8 · 37/64 = 4.625 experts' weights, 1 B each (fp8).
  const loads = byRole(g, 'weight-load').filter((op) => baseName(op.name).startsWith('gate_proj'));
  near(sum(loads, (op) => (op.work.kind === 'memory' ? op.work.bytes : 0)), 4.625 * 32 * 16, 'gate weight bytes');
  // The routed experts wait for the routing decision (top-k on the router's logits).
  const topK = byRole(g, 'router-top-k');
  assert.equal(topK.length, 1);
  assert.equal(elements(topK[0]!), 3 * 8);
  for (const op of ofLinear(g, 'gate_proj')) assert.ok(op.deps.includes(topK[0]!.id), `${op.name} waits for the routing`);
  // The gate softmax over 3 × 8 logits, and the combine of the top-2 outputs per row: 3 × 32 × 2.
  assert.equal(elements(byRole(g, 'router-softmax')[0]!), 24);
  assert.equal(elements(byRole(g, 'moe-combine')[0]!), 3 * 32 * 2);
  // The activation runs on rows × top-k × ffn values: 3 · 2 · 16.
  assert.equal(elements(byRole(g, 'activation')[0]!), 96);
});

// ---------------------------------------------------------------------------------------------
// Sites: which norms can be deferred, how deep their scale may travel, and why it stops there.
// ---------------------------------------------------------------------------------------------

const siteOf = (kind: LayerKind, id: string, positions: ModelSpec['positions'] = 'rope', attention: 'eager' | 'flash' = 'eager') => {
  const s = layerSites(kind, attention, positions).find((x) => x.id === id);
  assert.ok(s, `site ${id}`);
  return s;
};

test('sites of a Llama block: ids, names, the norms and softmax eligible; a scale passes RoPE and reaches the logits, not silu', () => {
  const kind = kindOf();
  const sites = layerSites(kind, 'eager', 'rope');
  assert.deepEqual(sites.map((s) => s.id), ['attn-norm', 'mlp-norm', 'softmax']);
  assert.deepEqual(sites.map((s) => s.name), ['input_layernorm → q_proj, k_proj, v_proj', 'post_attention_layernorm → gate_proj, up_proj', 'softmax → ·V']);
  assert.deepEqual(sites.map((s) => s.ineligible), [null, null, null]);
  assert.deepEqual(sites.map((s) => s.kind), ['rmsnorm', 'rmsnorm', 'softmax']);
  // r·RoPE(q) = RoPE(r·q) (a rotation per position is linear), and r_q·r_k scales a logit: the exp then stops it.
  assert.deepEqual(sites[0]!.depths, ['linear', 'rope', 'attention']);
  assert.match(sites[0]!.depthLimit!, /exp/);
  // Without rotary embeddings there is no RoPE to pass.
  assert.deepEqual(siteOf(kind, 'attn-norm', 'none').depths, ['linear', 'attention']);
  // silu(r·a) ≠ r·silu(a): the scale stops at gate and up.
  assert.deepEqual(sites[1]!.depths, ['linear']);
  assert.match(sites[1]!.depthLimit!, /silu/);
  assert.deepEqual(sites[2]!.depths, ['linear']);
  assert.equal(sites[2]!.depthLimit, null);
  assert.equal(sites[2]!.attention, 'self');
  // A fused (FlashAttention-style) kernel already divides after ·V: no Softmax candidate.
  const flash = siteOf(kind, 'softmax', 'rope', 'flash');
  assert.match(flash.ineligible!, /already deferred/);
  assert.deepEqual(flash.depths, []);
  // The head: the last linear map, so the scale stops at lm_head.
  const [head] = headSites(specOf(kind));
  assert.deepEqual([head!.id, head!.name, head!.depths], ['final-norm', 'norm → lm_head', ['linear']]);
  assert.match(head!.depthLimit!, /outside any layer/);
  assert.deepEqual(headSites(specOf(kind, { finalNorm: null })), []);
});

test('sites: a ReLU MLP lets the scale reach the down projection; LayerNorm, a bias, a fused qkv, QK norms or MoE stop it at the linear', () => {
  // ReLU(r·a) = r·ReLU(a) for r ≥ 0.
  const relu = kindOf({ mlp: { kind: 'gated', ffn: 48, activation: 'relu', activationKind: 'relu', gated: true, bias: false } });
  assert.deepEqual(siteOf(relu, 'mlp-norm').depths, ['linear', 'down']);
  assert.match(siteOf(relu, 'mlp-norm').depthLimit!, /residual/);
  // LayerNorm centres: r·(x − μ) is no scale of x.
  const ln = kindOf({ norms: kindOf().norms.map((n) => ({ ...n, kind: 'layernorm' as const })) });
  assert.deepEqual(siteOf(ln, 'attn-norm').depths, ['linear']);
  assert.match(siteOf(ln, 'attn-norm').depthLimit!, /LayerNorm: .*not a scale of y/);
  // A bias after the linear: r·y + b is no scale of y; the reason names the linear.
  const biased = kindOf({ linears: kindOf().linears.map((l) => (l.name === 'k_proj' ? { ...l, bias: true } : l)) });
  assert.deepEqual(siteOf(biased, 'attn-norm').depths, ['linear']);
  assert.match(siteOf(biased, 'attn-norm').depthLimit!, /k_proj has a bias/);
  // One fused qkv projection.
  const qkv = kindOf({
    norms: [rms('ln_1', 'attn', ['qkv_proj']), rms('ln_2', 'mlp', ['gate_proj', 'up_proj'])],
    linears: [lin('qkv_proj', 'qkv', H, 64), ...kindOf().linears.filter((l) => !['q', 'k', 'v'].includes(l.role))],
  });
  assert.deepEqual(siteOf(qkv, 'attn-norm').depths, ['linear']);
  assert.match(siteOf(qkv, 'attn-norm').depthLimit!, /qkv_proj computes q, k and v in one matmul/);
  // Per-head q/k norms need the scaled q and k; they are themselves no site (their statistic is local).
  const qk = kindOf({ norms: [...kindOf().norms, rms('q_norm', 'q', [], { placement: 'qk', width: 8 }), rms('k_norm', 'k', [], { placement: 'qk', width: 8 })] });
  assert.deepEqual(siteOf(qk, 'attn-norm').depths, ['linear']);
  assert.match(siteOf(qk, 'attn-norm').depthLimit!, /per-head norms \(q_norm, k_norm\)/);
  assert.match(siteOf(qk, 'q-norm').ineligible!, /per-head/);
  assert.deepEqual(siteOf(qk, 'q-norm').depths, []);
  // MoE: the router's softmax and the experts' top-k are not linear maps of the norm's output.
  const moe = kindOf({ mlp: { kind: 'moe', ffn: 16, activation: 'relu', activationKind: 'relu', gated: true, bias: false, experts: 4, topK: 1 } });
  assert.deepEqual(siteOf(moe, 'mlp-norm').depths, ['linear']);
});

test('sites: post-norms, sandwich norms and norms that feed no linear are ineligible, with the reason', () => {
  const post = kindOf({ block: 'post-norm', norms: [rms('attention.output.LayerNorm', 'attn-post', [], { placement: 'post' })] });
  const p = layerSites(post, 'eager', 'none')[0]!;
  assert.match(p.ineligible!, /post-norm/);
  assert.deepEqual([p.depths, p.name], [[], 'attention.output.LayerNorm → residual']);
  const sandwich = kindOf({ block: 'sandwich', norms: [...kindOf().norms, rms('post_attention_norm', 'attn-post', [], { placement: 'sandwich' })] });
  assert.match(siteOf(sandwich, 'attn-post-norm').ineligible!, /residual sum/);
  const orphan = kindOf({ norms: [rms('input_layernorm', 'attn', [])] });
  assert.match(siteOf(orphan, 'attn-norm').ineligible!, /does not go straight into a linear/);
  // Two norms with one role get the module name in their id, so ids stay unique.
  const twice = kindOf({ norms: [rms('norm_a', 'attn', ['q_proj']), rms('norm_b', 'attn', ['k_proj'])] });
  assert.deepEqual(layerSites(twice, 'eager', 'none').map((s) => s.id), ['attn-norm:norm_a', 'attn-norm:norm_b', 'softmax']);
});

test('a scale deferred past RoPE: q and k leave their projections raw and one pass scales the rotated q and k', () => {
  const spec = specOf(kindOf(), { positions: 'rope' });
  const batch = 8;
  const depth = ((id: string) => (id === 'attn-norm' ? 'rope' : null)) as unknown as DeferChoice;
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch, tiles: 2, context: 16 }), depth);
  const scales = byRole(g, 'norm-scale');
  // v is scaled on its output (8 rows × 16, in 2 tiles); q and k are not scaled at their projections.
  assert.deepEqual(scales.filter((op) => op.name.startsWith('q_proj') || op.name.startsWith('k_proj')), []);
  near(sum(scales.filter((op) => op.name.startsWith('v_proj')), elements), batch * 16, 'v scale');
  // After RoPE: 8 rows × (4 + 2 heads) × 8 = 384 values, one rsqrt per row, after the rotation and the gather.
  const late = scales.filter((op) => !/^[qkv]_proj/.test(op.name));
  assert.equal(late.length, 1);
  assert.deepEqual([elements(late[0]!), late[0]!.work.kind === 'vector' && late[0]!.work.rsqrts], [384, batch]);
  const rope = byRole(g, 'rope')[0]!;
  assert.ok(late[0]!.deps.includes(rope.id) && late[0]!.deps.includes(byRole(g, 'norm-gather')[0]!.id));
  for (const s of byRole(g, 'scores')) assert.ok(s.deps.includes(late[0]!.id), 'q·Kᵀ after the scale');
});

test('a scale deferred into the attention: the passes that read raw logits multiply them by r_q·r_k (2 ops more) after the gather', () => {
  const spec = specOf(kindOf());
  const depth = ((id: string) => (id === 'attn-norm' ? 'attention' : null)) as unknown as DeferChoice;
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, tiles: 1, context: 100 }), depth);
  const gather = byRole(g, 'norm-gather')[0]!;
  const max = byRole(g, 'softmax-max')[0]!;
  const expSum = byRole(g, 'softmax-exp-sum')[0]!;
  // Kept softmax: max 1 op and exp-sum 2 ops per score, each + 2 for the two scales.
  assert.deepEqual([max.work.kind === 'vector' && max.work.ops, expSum.work.kind === 'vector' && expSum.work.ops], [3, 4]);
  assert.ok(max.deps.includes(gather.id));
  assert.equal(byRole(g, 'norm-scale').filter((op) => !op.name.startsWith('v_proj')).length, 0);
});

test('a scale deferred through a ReLU MLP: gate and up run raw, the down projection output is scaled', () => {
  const kind = kindOf({ mlp: { kind: 'gated', ffn: 48, activation: 'relu', activationKind: 'relu', gated: true, bias: false } });
  const spec = specOf(kind);
  const depth = ((id: string) => (id === 'mlp-norm' ? 'down' : null)) as unknown as DeferChoice;
  const g = buildLayerGraph(spec, kind, ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16 }), depth);
  const scales = byRole(g, 'norm-scale');
  // Only the down projection's output: 8 rows × 32, in 2 tiles, after the MLP norm's gather.
  assert.ok(scales.every((op) => op.name.startsWith('down_proj')), scales.map((op) => op.name).join());
  near(sum(scales, elements), 8 * 32, 'down scale');
  const gather = byRole(g, 'norm-gather')[1]!;
  for (const s of scales) assert.ok(s.deps.includes(gather.id));
  assert.equal(sum(scales, (op) => (op.work.kind === 'vector' ? op.work.rsqrts : 0)), 8);
});

// ---------------------------------------------------------------------------------------------
// Round two: what each op is called, where it runs and what it moves, and the other block shapes.
// ---------------------------------------------------------------------------------------------

const names = (g: LayerGraph) => g.ops.map((op) => op.name).sort();
const tiled = (base: string, n: number) => (n === 1 ? [base] : Array.from({ length: n }, (_, t) => `${base}[${t + 1}/${n}]`));
const scaledTiles = (lin: string, n: number) => Array.from({ length: n }, (_, t) => `${lin}.scale[${t + 1}/${n}]`);

test('op names: what the timeline and the trace show, tile by tile, kept and deferred', () => {
  const spec = specOf(kindOf(), { positions: 'rope' });
  // 8 sequences, 2 tiles; dimc: weights resident (no loads), 2,048 units / (8 × 2 KV heads) = 128 per row, so Softmax gathers.
  const ctx = ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16, tp: 2 });
  const attention = (t: string) => [`kv_cache.read${t}`, `q·Kᵀ${t}`, `p·V${t}`];
  const kept = [
    'input_layernorm.Σx²',
    'input_layernorm.gather',
    ...tiled('input_layernorm.apply', 2),
    ...tiled('q_proj', 2),
    ...tiled('k_proj', 2),
    ...tiled('v_proj', 2),
    'rope(q, k)',
    // Two head groups (4 heads / TP 2 = 2 heads on the chip, 2 tiles): max → gather → exp-sum → gather → divide.
    ...['[1/2]', '[2/2]'].flatMap((t) => [...attention(t), `softmax.max${t}`, `softmax.gather-max${t}`, `softmax.exp-sum${t}`, `softmax.gather-sum${t}`, `softmax.divide${t}`]),
    ...tiled('o_proj', 2),
    'all-reduce(attn)',
    'residual(attn)',
    'post_attention_layernorm.Σx²',
    'post_attention_layernorm.gather',
    ...tiled('post_attention_layernorm.apply', 2),
    ...tiled('gate_proj', 2),
    ...tiled('up_proj', 2),
    'silu ⊙ up',
    ...tiled('down_proj', 2),
    'all-reduce(mlp)',
    'residual(mlp)',
  ];
  assert.deepEqual(names(buildLayerGraph(spec, spec.layerKinds[0]!, ctx, KEEP)), kept.sort());
  const deferred = [
    'input_layernorm.Σx²',
    'input_layernorm.gather',
    ...['q_proj', 'k_proj', 'v_proj'].flatMap((l) => [...tiled(l, 2), ...scaledTiles(l, 2)]),
    'rope(q, k)',
    // Online offset: a local max, one gather of max and sum, the division after ·V.
    ...['[1/2]', '[2/2]'].flatMap((t) => [...attention(t), `softmax.local-max${t}`, `softmax.exp-sum${t}`, `softmax.gather-max-sum${t}`, `softmax.divide-after-V${t}`]),
    ...tiled('o_proj', 2),
    'all-reduce(attn)',
    'residual(attn)',
    'post_attention_layernorm.Σx²',
    'post_attention_layernorm.gather',
    ...['gate_proj', 'up_proj'].flatMap((l) => [...tiled(l, 2), ...scaledTiles(l, 2)]),
    'silu ⊙ up',
    ...tiled('down_proj', 2),
    'all-reduce(mlp)',
    'residual(mlp)',
  ];
  assert.deepEqual(names(buildLayerGraph(spec, spec.layerKinds[0]!, ctx, DEFER)), deferred.sort());
  // One tile: no [t/T] suffixes. Weights streamed ahead of the matmul (prefetch): one load per tile.
  const one = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }, dimc(['matrix.weightsResident=false'])), KEEP);
  const oneNames = names(one);
  for (const n of ['q_proj', 'q_proj.load[1/1]', 'q·Kᵀ', 'p·V', 'kv_cache.read', 'softmax.max', 'softmax.gather-max', 'softmax.divide', 'input_layernorm.apply[1/1]']) assert.ok(oneNames.includes(n), `${n} in ${oneNames.join(', ')}`);
  // The head, and the exact-offset deferred Softmax (max gathered, then the sum).
  assert.deepEqual(names(buildHeadGraph(spec, ctxFor({ phase: 'decode', batch: 8, tiles: 2 }), DEFER)!), ['lm_head[1/2]', 'lm_head[2/2]', 'lm_head.scale[1/2]', 'lm_head.scale[2/2]', 'norm.gather', 'norm.Σx²'].sort());
  const exact = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16, softmaxOffset: 'exact' }), DEFER);
  assert.deepEqual(exact.ops.filter((op) => op.name.startsWith('softmax')).map((op) => op.name).sort(), ['softmax.divide-after-V', 'softmax.exp-sum', 'softmax.gather-max', 'softmax.gather-sum', 'softmax.max']);
});

test('each kind of op runs on its engine, in its timeline category', () => {
  // role → [engine, category], as the timeline colours them and the collective statistics count them.
  const expected: Partial<Record<OpRole, [string, string]>> = {
    linear: ['matrix', 'linear'],
    'weight-load': ['memory', 'memory'],
    'kv-read': ['memory', 'memory'],
    scores: ['matrix', 'attention'],
    pv: ['matrix', 'attention'],
    'softmax-max': ['vector', 'softmax'],
    'softmax-exp-sum': ['vector', 'softmax'],
    'softmax-divide': ['vector', 'softmax'],
    'softmax-gather': ['collective', 'stat-collective'],
    'norm-stat': ['vector', 'norm-stat'],
    'norm-gather': ['collective', 'stat-collective'],
    'norm-apply': ['vector', 'norm-apply'],
    rope: ['vector', 'elementwise'],
    activation: ['vector', 'elementwise'],
    residual: ['vector', 'elementwise'],
    'all-reduce': ['collective', 'allreduce'],
    'router-top-k': ['vector', 'elementwise'],
    'router-softmax': ['vector', 'elementwise'],
    'moe-combine': ['vector', 'elementwise'],
  };
  const moeKind = kindOf({
    mlp: { kind: 'moe', ffn: 16, activation: 'silu', activationKind: 'silu', gated: true, bias: false, experts: 4, topK: 2 },
    norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['router', 'gate_proj', 'up_proj'])],
    linears: [...kindOf().linears.slice(0, 4), lin('router', 'router', H, 4), lin('gate_proj', 'gate', H, 16, { copies: { total: 4, active: 2 } }), lin('up_proj', 'up', H, 16, { copies: { total: 4, active: 2 } }), lin('down_proj', 'down', 16, H, { copies: { total: 4, active: 2 } })],
  });
  const spec = specOf(moeKind, { positions: 'rope' });
  const g = buildLayerGraph(spec, moeKind, ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16, tp: 2 }, dimc(['matrix.weightsResident=false'])), KEEP);
  const seen = new Set<string>();
  for (const op of g.ops) {
    const want = expected[op.role];
    if (!want) continue;
    seen.add(op.role);
    assert.deepEqual([op.engine, op.category], want, `${op.name} (${op.role})`);
  }
  assert.equal(seen.size, Object.keys(expected).length, `roles seen: ${[...seen].join(', ')}`);
  // Deferred on dimc (no fused epilogues): the scales and the division after ·V are vector epilogues.
  const d = buildLayerGraph(spec, moeKind, ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16 }), DEFER);
  for (const op of d.ops.filter((o) => o.role === 'norm-scale' || o.role === 'softmax-divide-after-v')) {
    assert.deepEqual([op.engine, op.category, Boolean(op.fused)], ['vector', 'epilogue', false], op.name);
  }
});

/** An H100-like GPU at bf16 (2-byte activations), eager attention, epilogues fused or not as asked. */
function gpu(extra: string[] = []): HardwareProfile {
  return applyOverrides(getPreset('gpu-h100'), ['kernels.attention=eager', 'kernels.norm=fused', 'kernels.launch=per-kernel', 'matrix.weightsResident=false', ...extra]);
}
const bytesOf = (op: Op) => (op.work.kind === 'matmul' || op.work.kind === 'vector' || op.work.kind === 'memory' ? op.work.bytes : 0);
const sumBytes = (g: LayerGraph, role: OpRole) => sum(byRole(g, role), bytesOf);

test('elementwise bytes at 2 bytes per activation: each pass reads its inputs and writes its output', () => {
  const spec = specOf(kindOf(), { positions: 'rope' });
  // 8 rows (decode), one tile, 16 cached tokens: 17 keys. x = 8 × 32 = 256 values per norm.
  const ctx = ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }, gpu(['matrix.fusedEpilogue=false']));
  assert.equal(ctx.activationBytes, 2);
  const kept = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, KEEP);
  // Statistic: reads x (512 B), writes one fp32 per row (32 B) = 544 B, per norm.
  assert.equal(sumBytes(kept, 'norm-stat'), 2 * 544);
  // Apply: reads x and r, writes x: 2·512 + 32 = 1,056 B, plus γ (32 × 2 B = 64 B) = 1,120 B, per norm.
  assert.equal(sumBytes(kept, 'norm-apply'), 2 * 1120);
  // RoPE over q and k: 8 × (4 + 2) × 8 = 384 values: reads them and cos/sin, writes them: 3 × 384 × 2 B.
  assert.equal(sumBytes(kept, 'rope'), 2304);
  // SwiGLU: reads gate and up, writes the product: 3 × 8 × 48 × 2 B.
  assert.equal(sumBytes(kept, 'activation'), 2304);
  // Each residual add reads two streams and writes one: 3 × 256 × 2 B.
  assert.equal(sumBytes(kept, 'residual'), 2 * 1536);
  // Scores: 8 rows × 4 heads × 17 keys = 544 values (1,088 B): written by q·Kᵀ, read by the max, read
  // and written by exp-sum and by the division, read by p·V.
  assert.deepEqual([sumBytes(kept, 'scores'), sumBytes(kept, 'softmax-max'), sumBytes(kept, 'softmax-exp-sum'), sumBytes(kept, 'softmax-divide'), sumBytes(kept, 'pv')], [1088, 1088, 2176, 2176, 1088]);
  for (const op of [...byRole(kept, 'scores'), ...byRole(kept, 'pv')]) assert.equal(op.work.kind === 'matmul' && op.work.tier, 'activations');
  // Linears stream their weights: q_proj 32 × 32 × 2 B = 2,048 B, from the weights tier.
  const q = ofLinear(kept, 'q_proj')[0]!;
  assert.deepEqual(q.work.kind === 'matmul' && [q.work.bytes, q.work.tier], [2048, 'weights']);
  const deferred = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, DEFER);
  // An unfused scale reads the output and r, writes the output: k_proj 8 × 16 values → 2·256 + 32 = 544 B.
  assert.equal(sum(byRole(deferred, 'norm-scale').filter((op) => op.name.startsWith('k_proj')), bytesOf), 544);
  // The division after ·V: 32 rows × 8 values → 2·512 + 32 × 4 = 1,152 B.
  assert.equal(sumBytes(deferred, 'softmax-divide-after-v'), 1152);
  // Fused epilogues run on values in registers: inside the matmul, no bytes, no launch of their own.
  const fused = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16 }, gpu(['matrix.fusedEpilogue=true'])), DEFER);
  for (const op of [...byRole(fused, 'norm-scale'), ...byRole(fused, 'softmax-divide-after-v')]) {
    assert.deepEqual([op.engine, op.fused, bytesOf(op)], ['matrix', true, 0], op.name);
  }
  // PyTorch's eager RMSNorm fuses nothing, even where the GPU could.
  const eager = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }, gpu(['matrix.fusedEpilogue=true', 'kernels.norm=eager'])), DEFER);
  for (const op of byRole(eager, 'norm-scale')) assert.deepEqual([op.engine, Boolean(op.fused)], ['vector', false], op.name);
});

test("PyTorch's eager RMSNorm: to(float32), pow(2), mean, gather, + eps, rsqrt, then x * r, to(dtype), γ *: a memory pass each", () => {
  const spec = specOf(kindOf());
  const hw = gpu(['kernels.norm=eager']);
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }, hw), KEEP);
  const attnNorm = (role: OpRole) => byRole(g, role).filter((op) => op.name.startsWith('input_layernorm.'));
  // x = 256 values; bf16 in memory (2 B), fp32 working copies (4 B); 8 rows of fp32 statistics.
  const stat = attnNorm('norm-stat').map((op) => [op.name.slice('input_layernorm.'.length), bytesOf(op)]);
  assert.deepEqual(stat, [
    ['to(float32)', 512 + 1024], // read bf16, write fp32
    ['pow(2)', 2048], // read and write fp32
    ['mean(-1)', 1024 + 32], // read fp32, write a mean per row
    ['+ eps', 64], // read and write 8 means
    ['rsqrt', 64],
  ]);
  assert.equal(attnNorm('norm-stat').at(-1)!.work.kind === 'vector' && (attnNorm('norm-stat').at(-1)!.work as { rsqrts: number }).rsqrts, 8);
  // The partial means are gathered before + eps: the gather sits after mean(-1).
  const gather = byRole(g, 'norm-gather')[0]!;
  assert.ok(g.ops[gather.deps[0]!]!.name.endsWith('mean(-1)'));
  assert.ok(attnNorm('norm-stat').find((op) => op.name.endsWith('+ eps'))!.deps.includes(gather.id));
  const apply = attnNorm('norm-apply').map((op) => [op.name.slice('input_layernorm.'.length), bytesOf(op)]);
  assert.deepEqual(apply, [
    ['x * r', 2048 + 32], // read x and r in fp32, write fp32
    ['to(dtype)', 1024 + 512], // read fp32, write bf16
    ['γ *', 1024 + 64], // read and write bf16, read γ
  ]);
  // At fp32 activations there is nothing to up-cast or down-cast.
  const f32 = buildLayerGraph(spec, spec.layerKinds[0]!, graphContext(hw, { ...DEFAULT_WORKLOAD, batch: 8, tiles: 1, context: 16 }, 'fp32'), KEEP);
  const kernels = f32.ops.filter((op) => op.name.startsWith('input_layernorm.') && op.engine === 'vector').map((op) => op.name.slice('input_layernorm.'.length));
  assert.deepEqual(kernels, ['pow(2)', 'mean(-1)', '+ eps', 'rsqrt', 'x * r', 'γ *']);
});

test('LayerNorm with a bias: 2 statistics per row, β and γ read by the apply, and a scale-and-shift per output when deferred', () => {
  const ln = (name: string, role: NormSpec['role'], feeds: string[]) => rms(name, role, feeds, { kind: 'layernorm', affine: 'weight+bias' });
  const kind = kindOf({ norms: [ln('ln_1', 'attn', ['q_proj', 'k_proj', 'v_proj']), ln('ln_2', 'mlp', ['gate_proj', 'up_proj'])] });
  const spec = specOf(kind, { normKind: 'layernorm' });
  const ctx = ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }, gpu(['matrix.fusedEpilogue=false']));
  const g = buildLayerGraph(spec, kind, ctx, KEEP);
  // Statistic: 512 B read, 8 rows × 2 fp32 written = 576 B. Apply: 1,024 + 64 + β and γ (2 × 32 × 2 B = 128) = 1,216 B.
  assert.equal(sumBytes(g, 'norm-stat'), 2 * 576);
  assert.equal(sumBytes(g, 'norm-apply'), 2 * 1216);
  assert.deepEqual(names(g).filter((n) => n.startsWith('ln_1')), ['ln_1.apply[1/1]', 'ln_1.gather', 'ln_1.Σx,Σx²'].sort());
  const d = buildLayerGraph(spec, kind, ctx, DEFER);
  // r·y + c: two ops per output element, for LayerNorm even without a bias on the linear.
  for (const op of byRole(d, 'norm-scale')) assert.equal(op.work.kind === 'vector' && op.work.ops, 2, op.name);
  // An RMSNorm feeding a linear with a bias: r·y + b, two ops too; without a bias, one.
  const biased = kindOf({ linears: kindOf().linears.map((l) => (l.name === 'k_proj' ? { ...l, bias: true } : l)) });
  const b = buildLayerGraph(specOf(biased), biased, ctx, DEFER);
  for (const op of byRole(b, 'norm-scale').filter((o) => /^[qk]_proj/.test(o.name))) assert.equal(op.work.kind === 'vector' && op.work.ops, op.name.startsWith('k_proj') ? 2 : 1, op.name);
});

test('later tiles of a kernel continue it: applies, scales, the down projection scale, flash attention', () => {
  const relu = kindOf({ mlp: { kind: 'gated', ffn: 48, activation: 'relu', activationKind: 'relu', gated: true, bias: false } });
  const spec = specOf(relu);
  const ctx = ctxFor({ phase: 'decode', batch: 8, tiles: 4, context: 16 });
  const check = (ops: Op[], what: string) => {
    assert.ok(ops.length > 1, what);
    assert.deepEqual(ops.map((op) => Boolean(op.continues)), ops.map((_, t) => t > 0), what);
  };
  const kept = buildLayerGraph(spec, relu, ctx, KEEP);
  check(byRole(kept, 'norm-apply').filter((op) => op.name.startsWith('input_layernorm')), 'apply chunks');
  const d = buildLayerGraph(spec, relu, ctx, DEFER);
  check(byRole(d, 'norm-scale').filter((op) => op.name.startsWith('q_proj')), 'q_proj scale tiles');
  const down = buildLayerGraph(spec, relu, ctx, ((id: string) => (id === 'mlp-norm' ? 'down' : null)) as unknown as DeferChoice);
  const downScales = byRole(down, 'norm-scale');
  check(downScales, 'down scale tiles');
  // One rsqrt per row, paid once (by the first tile).
  assert.deepEqual(downScales.map((op) => op.work.kind === 'vector' && op.work.rsqrts), [8, 0, 0, 0]);
  const flash = buildLayerGraph(spec, relu, ctxFor({ phase: 'decode', batch: 8, tiles: 4, context: 16 }, dimc(['kernels.attention=flash'])), KEEP);
  check(byRole(flash, 'attention-fused'), 'flash tiles');
});

test('flash attention: one kernel per head group, 2·rows·keys·(d_qk + d_v) FLOPs, exps on every score, the cache streamed through it', () => {
  const spec = specOf(kindOf());
  // 3 sequences, 100 cached (101 keys), 2 head groups of 2 heads: 6 query rows each.
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, context: 100, tiles: 2 }, dimc(['kernels.attention=flash'])), KEEP);
  const k = byRole(g, 'attention-fused');
  assert.equal(k.length, 2);
  for (const op of k) {
    assert.deepEqual(op.work, { kind: 'matmul', m: 6, k: 101, n: 16, bytes: 9600, tier: 'kv', exps: 606 });
    assert.deepEqual([op.engine, op.category], ['matrix', 'attention']);
  }
  for (const r of ['scores', 'pv', 'kv-read', 'softmax-max', 'softmax-gather'] as const) assert.equal(byRole(g, r).length, 0, r);
  // With the norm's scales carried into it, the kernel waits for the gathered statistic.
  const late = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, context: 100, tiles: 2 }, dimc(['kernels.attention=flash'])), ((id: string) => (id === 'attn-norm' ? 'attention' : null)) as unknown as DeferChoice);
  const gather = byRole(late, 'norm-gather')[0]!;
  for (const op of byRole(late, 'attention-fused')) assert.ok(op.deps.includes(gather.id), op.name);
});

test('other blocks: post-norm (BERT), sandwich (Gemma 2), parallel (GPT-J), cross-attention (T5 decoder)', () => {
  // Post-norm: attention → residual → norm, then MLP → residual → norm; each norm after its residual add.
  const postKind = kindOf({
    block: 'post-norm',
    attention: { ...ATTN, causal: false },
    mlp: { kind: 'dense', ffn: 48, activation: 'gelu', activationKind: 'gelu', gated: false, bias: true },
    norms: [rms('attention.output.LayerNorm', 'attn', [], { placement: 'post', kind: 'layernorm' }), rms('output.LayerNorm', 'mlp', [], { placement: 'post', kind: 'layernorm' })],
    linears: [...kindOf().linears.slice(0, 4), lin('intermediate.dense', 'fc1', H, 48), lin('output.dense', 'down', 48, H)],
    stack: 'encoder',
  });
  const post = buildLayerGraph(specOf(postKind, { topology: 'encoder' }), postKind, ctxFor({ phase: 'prefill', batch: 1, seq: 8, tiles: 1 }), DEFER);
  const residuals = byRole(post, 'residual');
  const stats = byRole(post, 'norm-stat');
  assert.equal(stats.length, 2);
  for (const [i, s] of stats.entries()) assert.ok(s.deps.includes(residuals[i]!.id), `${s.name} after ${residuals[i]!.name}`);
  // GELU (tanh form): 7 ops, one exp and one division per value; not gated: reads and writes 8 × 48 values.
  const act = byRole(post, 'activation')[0]!;
  assert.deepEqual(act.work.kind === 'vector' && [act.name, act.work.ops, act.work.exps, act.work.divs, act.work.elements], ['gelu', 7, 384, 384, 384]);
  // Ineligible norms are applied whatever is asked: the post norms are kept.
  assert.equal(byRole(post, 'norm-apply').length, 2);
  assert.equal(byRole(post, 'norm-scale').length, 0);

  // Sandwich: the post-attention norm sits between the attention output and the residual add.
  const sandwichKind = kindOf({ block: 'sandwich', norms: [...kindOf().norms, rms('post_attention_norm', 'attn-post', [], { placement: 'sandwich' })] });
  const sw = buildLayerGraph(specOf(sandwichKind), sandwichKind, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }), KEEP);
  const swStat = byRole(sw, 'norm-stat').find((op) => op.name.startsWith('post_attention_norm'))!;
  const o = ofLinear(sw, 'o_proj')[0]!;
  assert.ok(swStat.deps.includes(o.id), 'the sandwich norm reads the attention output');
  const swApply = byRole(sw, 'norm-apply').find((op) => op.name.startsWith('post_attention_norm'))!;
  assert.ok(byRole(sw, 'residual')[0]!.deps.includes(swApply.id), 'the residual adds the normalized output');

  // Parallel: both norms read the input; one residual sums input, attention and MLP (reads 3 streams, writes 1); one all-reduce at TP 2.
  const parallelKind = kindOf({ block: 'parallel' });
  const par = buildLayerGraph(specOf(parallelKind), parallelKind, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16, tp: 2 }, gpu()), KEEP);
  assert.deepEqual(byRole(par, 'norm-stat').map((op) => op.deps), [[], []]);
  const sumOp = byRole(par, 'residual');
  assert.equal(sumOp.length, 1);
  assert.deepEqual(sumOp[0]!.work.kind === 'vector' && [sumOp[0]!.name, sumOp[0]!.work.elements, sumOp[0]!.work.ops, sumOp[0]!.work.bytes], ['residual(x + attn + mlp)', 256, 2, 4 * 256 * 2]);
  assert.ok(sumOp[0]!.deps.includes(ofLinear(par, 'o_proj')[0]!.id) && sumOp[0]!.deps.includes(ofLinear(par, 'down_proj')[0]!.id));
  const ar = byRole(par, 'all-reduce');
  assert.deepEqual(ar.map((op) => [op.name, op.deps]), [['all-reduce(attn + mlp)', [sumOp[0]!.id]]]);

  // Cross-attention: the decoder's queries attend to all `seq` encoder tokens, read from the cache.
  const crossAttn: AttentionSpec = { ...ATTN, causal: false };
  const crossKind = kindOf({
    crossAttention: crossAttn,
    norms: [...kindOf().norms, rms('cross_layernorm', 'cross', ['EncDecAttention.q'])],
    linears: [...kindOf().linears, lin('EncDecAttention.q', 'cross_q', H, 32), lin('EncDecAttention.o', 'cross_o', 32, H)],
  });
  const crossSpec = specOf(crossKind, { topology: 'encoder-decoder' });
  // Decode, 3 sequences, an encoder output of 10 tokens: cross q·Kᵀ 2 · 3 · 4 heads · 10 · 8 = 1,920 FLOPs.
  const x = buildLayerGraph(crossSpec, crossKind, ctxFor({ phase: 'decode', batch: 3, seq: 10, context: 5, tiles: 1 }), KEEP);
  const crossScores = byRole(x, 'scores').filter((op) => op.name.startsWith('cross_'));
  assert.equal(crossScores.length, 1);
  assert.equal(flops(crossScores[0]!), 1920);
  // Its cache: 3 × 10 tokens × 2 KV heads × (8 + 8) × 2 B = 1,920 B.
  assert.equal(sum(byRole(x, 'kv-read').filter((op) => op.name.startsWith('cross_')), bytesOf), 1920);
  assert.deepEqual(layerSites(crossKind, 'eager', 'none').map((s) => s.id), ['attn-norm', 'mlp-norm', 'cross-norm', 'softmax', 'cross-softmax']);
  assert.equal(layerSites(crossKind, 'eager', 'none').at(-1)!.attention, 'cross');
  // Three residual adds: attention, cross-attention, MLP.
  assert.deepEqual(byRole(x, 'residual').map((op) => op.name), ['residual(attn)', 'residual(cross)', 'residual(mlp)']);
});

test('MLP variants: a dense fc1 with ReLU, a fused gate_up, shared experts beside routed ones', () => {
  // fc1 → ReLU → down: 1 op per value, no exp, no division; reads and writes 8 × 48 values.
  const dense = kindOf({ mlp: { kind: 'dense', ffn: 48, activation: 'ReLU', activationKind: 'relu', gated: false, bias: false }, linears: [...kindOf().linears.slice(0, 4), lin('fc1', 'fc1', H, 48), lin('fc2', 'down', 48, H)] });
  const g = buildLayerGraph(specOf(dense), dense, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }, gpu()), KEEP);
  const act = byRole(g, 'activation')[0]!;
  assert.deepEqual(act.work.kind === 'vector' && [act.name, act.work.ops, act.work.exps, act.work.divs, act.work.bytes], ['ReLU', 1, 0, 0, 2 * 384 * 2]);
  assert.ok(act.deps.includes(ofLinear(g, 'fc1')[0]!.id));
  assert.deepEqual(siteOf(dense, 'mlp-norm', 'none').consumers.map((l) => l.name), []);
  // A fused gate_up projection (Phi-3): one linear of 2 × ffn outputs feeding the gated activation.
  const fused = kindOf({
    norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['gate_up_proj'])],
    linears: [...kindOf().linears.slice(0, 4), lin('gate_up_proj', 'gate_up', H, 96), lin('down_proj', 'down', 48, H)],
  });
  const f = buildLayerGraph(specOf(fused), fused, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }), KEEP);
  assert.ok(byRole(f, 'activation')[0]!.deps.includes(ofLinear(f, 'gate_up_proj')[0]!.id));
  assert.equal(elements(byRole(f, 'activation')[0]!), 8 * 48);
  // Shared experts (DeepSeek, Qwen2-MoE): their own gated path of sharedFfn, beside the routed experts, both into the combine.
  const shared = kindOf({
    mlp: { kind: 'moe', ffn: 16, activation: 'silu', activationKind: 'silu', gated: true, bias: false, experts: 4, topK: 1, sharedExperts: 1, sharedFfn: 24 },
    norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['gate_proj', 'up_proj', 'router', 'shared_expert.gate_proj', 'shared_expert.up_proj'])],
    linears: [
      ...kindOf().linears.slice(0, 4),
      lin('gate_proj', 'gate', H, 16, { copies: { total: 4, active: 1 } }),
      lin('up_proj', 'up', H, 16, { copies: { total: 4, active: 1 } }),
      lin('down_proj', 'down', 16, H, { copies: { total: 4, active: 1 } }),
      lin('router', 'router', H, 4),
      lin('shared_expert.gate_proj', 'shared_gate', H, 24),
      lin('shared_expert.up_proj', 'shared_up', H, 24),
      lin('shared_expert.down_proj', 'shared_down', 24, H),
    ],
  });
  const s = buildLayerGraph(specOf(shared), shared, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }), KEEP);
  const acts = byRole(s, 'activation');
  assert.deepEqual(acts.map(elements), [8 * 16, 8 * 24]);
  const combine = byRole(s, 'moe-combine')[0]!;
  assert.ok(combine.deps.includes(ofLinear(s, 'down_proj')[0]!.id) && combine.deps.includes(ofLinear(s, 'shared_expert.down_proj')[0]!.id));
  // The routed experts wait for the routing decision (built first, though listed after them); the shared ones do not.
  const topK = byRole(s, 'router-top-k')[0]!;
  assert.ok(ofLinear(s, 'gate_proj')[0]!.deps.includes(topK.id));
  assert.ok(!ofLinear(s, 'shared_expert.gate_proj')[0]!.deps.includes(topK.id));
  assert.ok(topK.id < ofLinear(s, 'gate_proj')[0]!.id);
  // Deferred, too: the router's top-k runs on raw logits (a positive scale keeps the order).
  const sd = buildLayerGraph(specOf(shared), shared, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }), DEFER);
  const routerOp = ofLinear(sd, 'router')[0]!;
  assert.ok(!routerOp.deps.includes(byRole(sd, 'norm-gather')[1]!.id));
  assert.ok(ofLinear(sd, 'gate_proj')[0]!.deps.includes(byRole(sd, 'router-top-k')[0]!.id));
  // The gate softmax waits for the router's scaled logits.
  const routerScale = byRole(sd, 'norm-scale').find((op) => op.name.startsWith('router'))!;
  assert.ok(byRole(sd, 'router-softmax')[0]!.deps.includes(routerScale.id));
});

test('why a scale stops: each refusal names its reason, and the algebra decides which depths are refused', () => {
  const kind = kindOf();
  const site = (k: LayerKind, id: string) => layerSites(k, 'eager', 'rope').find((s) => s.id === id)!;
  const attn = site(kind, 'attn-norm');
  const mlp = site(kind, 'mlp-norm');
  // Allowed: every scale at its linear layer; the attention norm past RoPE and onto the logits.
  for (const d of ['linear', 'rope', 'attention'] as const) assert.equal(depthRefusal(attn, d, kind, 'rope'), null, d);
  assert.equal(depthRefusal(mlp, 'linear', kind, 'rope'), null);
  // The Softmax site has no norm to carry.
  assert.match(depthRefusal(site(kind, 'softmax'), 'rope', kind, 'rope')!, /Softmax site has no norm/);
  // Outside a layer (the head): nothing after it.
  const [head] = headSites(specOf(kind));
  assert.match(depthRefusal(head!, 'attention', undefined, 'rope')!, /^norm feeds lm_head outside any layer/);
  // No rotary embedding: nothing to pass; the attention depth stays open, except under a position bias on the logits.
  assert.match(depthRefusal(attn, 'rope', kind, 'none')!, /no rotary embedding \(positions: none\)/);
  assert.match(depthRefusal(attn, 'rope', kind, undefined)!, /positions: not given/);
  assert.equal(depthRefusal(attn, 'attention', kind, 'learned'), null);
  assert.match(depthRefusal(attn, 'attention', kind, 'alibi')!, /ALiBi position bias/);
  assert.match(depthRefusal(attn, 'attention', kind, 'relative')!, /a relative position bias/);
  assert.equal(depthRefusal(attn, 'rope', kind, 'alibi')!.includes('ALiBi'), false);
  // A site whose consumers are not q and k: one is "is not", several "are not".
  const onlyQ = kindOf({ norms: [rms('input_layernorm', 'attn', ['q_proj']), rms('kv_norm', 'mlp', ['k_proj', 'v_proj'])] });
  assert.match(depthRefusal(site(onlyQ, 'attn-norm'), 'rope', onlyQ, 'rope')!, /^q_proj is not the q and k projections .* follows it directly/);
  assert.match(depthRefusal(site(onlyQ, 'mlp-norm'), 'attention', onlyQ, 'rope')!, /^k_proj, v_proj are not the q and k projections .* follows them directly/);
  // Biases: RoPE needs q and k unbiased; the logits and p·V need q, k and v unbiased.
  const vBias = kindOf({ linears: kindOf().linears.map((l) => (l.name === 'v_proj' ? { ...l, bias: true } : l)) });
  assert.equal(depthRefusal(site(vBias, 'attn-norm'), 'rope', vBias, 'rope'), null, 'a bias on v does not stop RoPE');
  assert.match(depthRefusal(site(vBias, 'attn-norm'), 'attention', vBias, 'rope')!, /^v_proj has a bias: .* the logits and p·V would see r·y \+ b/);
  const qkBias = kindOf({ linears: kindOf().linears.map((l) => (l.role === 'q' || l.role === 'k' ? { ...l, bias: true } : l)) });
  assert.match(depthRefusal(site(qkBias, 'attn-norm'), 'rope', qkBias, 'rope')!, /^q_proj, k_proj have a bias: .*RoPE\(r·y \+ b\) ≠ r·RoPE\(y \+ b\)/);
  // MLP: ReLU passes the scale (its name in any case); silu and GELU do not; a bias before it stops it; no down projection, nothing to reach.
  const relu = (extra: Partial<LayerKind> = {}, activation = 'relu') => kindOf({ mlp: { kind: 'gated', ffn: 48, activation, activationKind: parseActivation(activation), gated: true, bias: false }, ...extra });
  assert.equal(depthRefusal(site(relu(), 'mlp-norm'), 'down', relu(), 'rope'), null);
  assert.equal(depthRefusal(site(relu({}, ' ReLU '), 'mlp-norm'), 'down', relu({}, ' ReLU '), 'rope'), null);
  for (const a of ['silu', 'gelu', 'relu2', 'leaky_relu']) assert.match(depthRefusal(site(relu({}, a), 'mlp-norm'), 'down', relu({}, a), 'rope')!, new RegExp(`^${a} is not positively homogeneous`), a);
  const upBias = relu({ linears: kindOf().linears.map((l) => (l.name === 'up_proj' ? { ...l, bias: true } : l)) });
  assert.match(depthRefusal(site(upBias, 'mlp-norm'), 'down', upBias, 'rope')!, /^up_proj has a bias: relu\(r·a \+ b\)/);
  const noDown = relu({ linears: kindOf().linears.filter((l) => l.role !== 'down') });
  assert.match(depthRefusal(site(noDown, 'mlp-norm'), 'down', noDown, 'rope')!, /no down projection/);
  assert.match(depthRefusal(attn, 'down', kind, 'rope')!, /^q_proj, k_proj, v_proj are not the input projection of an MLP/);
  const routed = relu({ norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['router', 'gate_proj', 'up_proj'])], linears: [...kindOf().linears, lin('router', 'router', H, 4)] });
  assert.match(depthRefusal(site(routed, 'mlp-norm'), 'down', routed, 'rope')!, /^routed experts/);
  // A site feeding neither attention nor an MLP input (a latent norm into kv_b) can go at most onto the logits: refused, with its reason.
  const latent = kindOf({ norms: [rms('kv_a_layernorm', 'kv-latent', ['kv_b_proj'], { placement: 'latent' })], linears: [...kindOf().linears, lin('kv_b_proj', 'kv_b', 16, 64)] });
  const l = site(latent, 'kv-latent-norm');
  assert.deepEqual(l.depths, ['linear']);
  assert.match(l.depthLimit!, /^kv_b_proj is not the q and k projections/);
});

// ---------------------------------------------------------------------------------------------
// Round three: what the second run of `npm run mutate` still found unpinned.
// ---------------------------------------------------------------------------------------------

test('ops that are no later tile start a kernel of their own; weight loads wait for nothing', () => {
  const spec = specOf(kindOf(), { positions: 'rope' });
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16 }, dimc(['matrix.weightsResident=false'])), KEEP);
  for (const role of ['norm-stat', 'rope', 'activation', 'residual', 'softmax-max', 'softmax-exp-sum', 'softmax-divide'] as const) {
    for (const op of byRole(g, role)) assert.equal(Boolean(op.continues), false, op.name);
  }
  const loads = byRole(g, 'weight-load');
  assert.equal(loads.length, 7 * 2);
  for (const op of loads) assert.deepEqual(op.deps, [], op.name);
  // Each tile of q_proj waits for its own load.
  const q = ofLinear(g, 'q_proj');
  for (const [t, op] of q.entries()) assert.ok(op.deps.includes(loads.find((l) => l.name === `q_proj.load[${t + 1}/2]`)!.id), op.name);
});

test('bytes over several tiles: each apply chunk reads γ, each scale tile its rows of r; RoPE-depth scale; the router and the combine', () => {
  const spec = specOf(kindOf(), { positions: 'rope' });
  const ctx = ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16 }, gpu(['matrix.fusedEpilogue=false']));
  const kept = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, KEEP);
  // Two chunks of the attention norm's apply: (1,024 + 32)/2 each, plus γ (64 B) each: 1,184 B.
  assert.equal(sum(byRole(kept, 'norm-apply').filter((op) => op.name.startsWith('input_layernorm')), bytesOf), 1184);
  const deferred = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, DEFER);
  // k_proj's scale in two tiles of 4 rows: 2 × (2·64·2 B + 4 × 4 B) = 544 B, as in one tile.
  assert.equal(sum(byRole(deferred, 'norm-scale').filter((op) => op.name.startsWith('k_proj')), bytesOf), 544);
  // Past RoPE: one pass over 384 values of q and k, reading them and r (8 rows), writing them: 2·768 + 32 B.
  const rope = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, ((id: string) => (id === 'attn-norm' ? 'rope' : null)) as unknown as DeferChoice);
  const late = byRole(rope, 'norm-scale').filter((op) => !/^[qkv]_proj/.test(op.name));
  assert.deepEqual(late.map((op) => [op.name, bytesOf(op), op.category, op.engine]), [['input_layernorm.scale(q, k)', 1568, 'epilogue', 'vector']]);
  // MoE on the GPU: top-k reads the 3 × 4 logits (24 B); the gate softmax reads and writes them (48 B);
  // the combine reads the top-2 outputs and writes one: 3 × 32 × 3 values × 2 B = 576 B.
  const moe = kindOf({
    mlp: { kind: 'moe', ffn: 16, activation: 'silu', activationKind: 'silu', gated: true, bias: false, experts: 4, topK: 2 },
    norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['router', 'gate_proj', 'up_proj'])],
    linears: [...kindOf().linears.slice(0, 4), lin('router', 'router', H, 4), lin('gate_proj', 'gate', H, 16, { copies: { total: 4, active: 2 } }), lin('up_proj', 'up', H, 16, { copies: { total: 4, active: 2 } }), lin('down_proj', 'down', 16, H, { copies: { total: 4, active: 2 } })],
  });
  const m = buildLayerGraph(specOf(moe), moe, ctxFor({ phase: 'decode', batch: 3, tiles: 1, context: 16 }, gpu()), KEEP);
  assert.deepEqual(byRole(m, 'router-top-k').map((op) => [op.name, elements(op), bytesOf(op)]), [['router.top-k', 12, 24]]);
  assert.deepEqual(byRole(m, 'router-softmax').map((op) => [op.name, elements(op), bytesOf(op), op.work.kind === 'vector' && op.work.exps]), [['router.softmax', 12, 48, 12]]);
  assert.deepEqual(byRole(m, 'moe-combine').map((op) => [op.name, elements(op), bytesOf(op)]), [['moe.combine', 192, 576]]);
});

test("PyTorch's eager RMSNorm runs as a chain: each kernel after the one before, the apply whole before the matmuls", () => {
  const spec = specOf(kindOf());
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 8, tiles: 2, context: 16 }, gpu(['kernels.norm=eager'])), KEEP);
  const chain = g.ops.filter((op) => op.name.startsWith('input_layernorm.'));
  assert.deepEqual(chain.map((op) => op.name.slice('input_layernorm.'.length)), ['to(float32)', 'pow(2)', 'mean(-1)', 'gather', '+ eps', 'rsqrt', 'x * r', 'to(dtype)', 'γ *']);
  for (let i = 1; i < chain.length; i++) assert.deepEqual(chain[i]!.deps, [chain[i - 1]!.id], chain[i]!.name);
  assert.deepEqual(chain.map((op) => op.category), ['norm-stat', 'norm-stat', 'norm-stat', 'stat-collective', 'norm-stat', 'norm-stat', 'norm-apply', 'norm-apply', 'norm-apply']);
  for (const op of ofLinear(g, 'q_proj')) assert.ok(op.deps.includes(chain.at(-1)!.id), op.name);
});

test('a deferred Softmax whose row sits on one unit: no gather, so no online rescale; the plain max and one division per row', () => {
  const spec = specOf(kindOf());
  // 8 units / (4 sequences × 2 KV heads) = 1 unit per row.
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 4, tiles: 1, context: 16, softmaxOffset: 'online' }, dimc(['computeUnits=8'])), DEFER);
  assert.deepEqual(byRole(g, 'softmax-max').map((op) => op.name), ['softmax.max']);
  const div = byRole(g, 'softmax-divide-after-v')[0]!;
  // 16 rows × 8 values; one op each, one division per row, no exp.
  assert.deepEqual(div.work.kind === 'vector' && [div.work.elements, div.work.ops, div.work.divs, div.work.exps], [128, 1, 16, 0]);
  // Online with a span: two ops per output (rescale and divide) and one exp per row.
  const wide = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 4, tiles: 1, context: 16, softmaxOffset: 'online' }), DEFER);
  const w = byRole(wide, 'softmax-divide-after-v')[0]!;
  assert.deepEqual(w.work.kind === 'vector' && [w.work.ops, w.work.divs, w.work.exps], [2, 16, 16]);
  assert.ok(w.deps.includes(byRole(wide, 'pv')[0]!.id) && w.deps.includes(byRole(wide, 'softmax-gather')[0]!.id));
});

test('norm scales carried onto the logits with the Softmax deferred too: both changes in one attention', () => {
  const spec = specOf(kindOf());
  const both = ((id: string) => (id === 'attn-norm' ? 'attention' : id === 'softmax' ? 'linear' : null)) as unknown as DeferChoice;
  // 3 sequences × 4 heads = 12 rows × 101 keys = 1,212 scores, one tile, exact offset (max gathered first).
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, tiles: 1, context: 100, softmaxOffset: 'exact' }), both);
  const gather = byRole(g, 'norm-gather')[0]!;
  const scores = byRole(g, 'scores')[0]!;
  const max = byRole(g, 'softmax-max')[0]!;
  const exp = byRole(g, 'softmax-exp-sum')[0]!;
  assert.deepEqual(max.work.kind === 'vector' && [max.work.elements, max.work.ops], [1212, 3]);
  assert.deepEqual(max.deps.sort(), [scores.id, gather.id].sort());
  assert.deepEqual(exp.work.kind === 'vector' && [exp.work.ops, exp.work.exps], [4, 1212]);
  // Bound offset: no max; the exp reads the raw logits and scales them itself.
  const bound = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, tiles: 1, context: 100, softmaxOffset: 'bound' }), both);
  const bexp = byRole(bound, 'softmax-exp-sum')[0]!;
  assert.deepEqual(bexp.deps.sort(), [byRole(bound, 'scores')[0]!.id, byRole(bound, 'norm-gather')[0]!.id].sort());
  // p·V runs on the exponentials and v; the division after it waits for p·V and the gathered sum.
  const pv = byRole(g, 'pv')[0]!;
  assert.ok(pv.deps.includes(exp.id));
  const after = byRole(g, 'softmax-divide-after-v')[0]!;
  assert.ok(after.deps.includes(pv.id));
  assert.equal(after.work.kind === 'vector' && after.work.divs, 12);
});

test('cross-attention wiring: its norm feeds its query projection, its output projection reads ·V, its residual follows', () => {
  const crossKind = kindOf({
    crossAttention: { ...ATTN, causal: false },
    norms: [...kindOf().norms, rms('cross_layernorm', 'cross', ['EncDecAttention.q'])],
    linears: [...kindOf().linears, lin('EncDecAttention.q', 'cross_q', H, 32), lin('EncDecAttention.o', 'cross_o', 32, H)],
  });
  const g = buildLayerGraph(specOf(crossKind, { topology: 'encoder-decoder' }), crossKind, ctxFor({ phase: 'decode', batch: 3, seq: 10, context: 5, tiles: 1 }), KEEP);
  const q = ofLinear(g, 'EncDecAttention.q');
  const o = ofLinear(g, 'EncDecAttention.o');
  assert.deepEqual([q.length, o.length], [1, 1]);
  const crossApply = byRole(g, 'norm-apply').find((op) => op.name.startsWith('cross_layernorm'))!;
  assert.ok(q[0]!.deps.includes(crossApply.id));
  const crossScores = byRole(g, 'scores').find((op) => op.name.startsWith('cross_'))!;
  assert.ok(crossScores.deps.includes(q[0]!.id));
  const crossPv = byRole(g, 'pv').find((op) => op.name.startsWith('cross_'))!;
  assert.ok(o[0]!.deps.includes(crossPv.id));
  // The cross norm reads the residual after self-attention; the MLP norm reads the one after cross-attention.
  const [rAttn, rCross] = byRole(g, 'residual');
  assert.ok(byRole(g, 'norm-stat').find((op) => op.name.startsWith('cross_layernorm'))!.deps.includes(rAttn!.id));
  assert.ok(rCross!.deps.includes(o[0]!.id));
  assert.ok(byRole(g, 'norm-stat').find((op) => op.name.startsWith('post_attention_layernorm'))!.deps.includes(rCross!.id));
  // The cross-attention Softmax site's consumer stands for p·V into the output projection.
  const sites = layerSites(crossKind, 'eager', 'none');
  assert.deepEqual(sites.filter((s) => s.kind === 'softmax').map((s) => [s.name, s.consumers]), [
    ['softmax → ·V', [{ name: 'attn(p·V)', role: 'o', in: 0, out: 0, bias: false }]],
    ['cross-attention softmax → ·V', [{ name: 'cross_attn(p·V)', role: 'cross_o', in: 0, out: 0, bias: false }]],
  ]);
});

test('flash kernels are named per head group; the parallel sum is elementwise work', () => {
  const spec = specOf(kindOf());
  const g = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, tiles: 2, context: 10 }, dimc(['kernels.attention=flash'])), KEEP);
  assert.deepEqual(byRole(g, 'attention-fused').map((op) => op.name), ['flash_attention[1/2]', 'flash_attention[2/2]']);
  const one = buildLayerGraph(spec, spec.layerKinds[0]!, ctxFor({ phase: 'decode', batch: 3, tiles: 1, context: 10 }, dimc(['kernels.attention=flash'])), KEEP);
  assert.deepEqual(byRole(one, 'attention-fused').map((op) => op.name), ['flash_attention']);
  const par = kindOf({ block: 'parallel' });
  const p = buildLayerGraph(specOf(par), par, ctxFor({ phase: 'decode', batch: 8, tiles: 1, context: 16 }), KEEP);
  assert.deepEqual(byRole(p, 'residual').map((op) => [op.engine, op.category]), [['vector', 'elementwise']]);
});

test('depth roles: a bias on q or k stops the scale before the logits; fc1 and a fused gate_up feed a ReLU MLP; the depths in order', () => {
  const kind = kindOf();
  const site = (k: LayerKind, id: string) => layerSites(k, 'eager', 'rope').find((s) => s.id === id)!;
  for (const name of ['q_proj', 'k_proj']) {
    const biased = kindOf({ linears: kindOf().linears.map((l) => (l.name === name ? { ...l, bias: true } : l)) });
    assert.match(depthRefusal(site(biased, 'attn-norm'), 'attention', biased, 'rope')!, new RegExp(`^${name} has a bias`));
  }
  assert.equal(depthRefusal(site(kind, 'attn-norm'), 'attention', kind, 'rope'), null);
  const fc1 = kindOf({
    mlp: { kind: 'dense', ffn: 48, activation: 'relu', activationKind: 'relu', gated: false, bias: false },
    norms: [kindOf().norms[0]!, rms('post_attention_layernorm', 'mlp', ['fc1'])],
    linears: [...kindOf().linears.slice(0, 4), lin('fc1', 'fc1', H, 48), lin('fc2', 'down', 48, H)],
  });
  assert.deepEqual(site(fc1, 'mlp-norm').depths, ['linear', 'down']);
  const gateUp = kindOf({
    mlp: { kind: 'gated', ffn: 48, activation: 'relu', activationKind: 'relu', gated: true, bias: false },
    norms: [kindOf().norms[0]!, rms('post_attention_layernorm', 'mlp', ['gate_up_proj'])],
    linears: [...kindOf().linears.slice(0, 4), lin('gate_up_proj', 'gate_up', H, 96), lin('down_proj', 'down', 48, H)],
  });
  assert.deepEqual(site(gateUp, 'mlp-norm').depths, ['linear', 'down']);
  const upOnly = kindOf({ mlp: { kind: 'gated', ffn: 48, activation: 'relu', activationKind: 'relu', gated: true, bias: false }, norms: [kindOf().norms[0]!, rms('post_attention_layernorm', 'mlp', ['up_proj'])] });
  assert.deepEqual(site(upOnly, 'mlp-norm').depths, ['linear', 'down']);
});
