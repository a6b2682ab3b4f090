/**
 * The cost model's modelling choices (issue 10, "modelling errors to fix"), each pinned by a value
 * derived by hand here from the formula it states, not read back from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayerGraph } from '../../src/core/graph/layer';
import type { Op, Work } from '../../src/core/graph/ops';
import { headsOf, shardOf } from '../../src/core/graph/shard';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import type { LinearSpec } from '../../src/core/model/spec';
import { opDurationNs, opMemoryNs, type CostContext } from '../../src/core/sim/costs';
import { graphContext, simulate, simulateSite } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

/** Round numbers so every expected time below is simple arithmetic. */
function roundMachine(extra: string[] = []): HardwareProfile {
  return applyOverrides(getPreset('gpu-h100'), [
    'matrix.peakTflops.bf16=100',
    'matrix.efficiency=0.5', // 50 TFLOP/s reached
    'matrix.startLatencyNs=3000',
    'vector.gelemsPerSec=1000', // 10^12 adds per second: 1 ns per 1,000
    'vector.startLatencyNs=2000',
    'vector.expCost=10',
    'memory.tiers[0].bandwidthGBps=1000',
    'memory.efficiency=0.5', // 500 GB/s reached: 2 ns per 1,000 bytes
    'kernels.graphKernelNs=500',
    ...extra,
  ]);
}

const vectorWork = (elements: number, ops: number, bytes: number): Work => ({ kind: 'vector', elements, ops, exps: 0, rsqrts: 0, divs: 0, bytes });
const op = (work: Work, engine: Op['engine'], extra: Partial<Op> = {}): Op => ({ id: 0, name: 'x', role: 'linear', engine, category: 'elementwise', work, deps: [], ...extra });

test('an elementwise kernel takes the larger of its arithmetic and its memory traffic, plus its launch', () => {
  const hw = roundMachine();
  const c: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
  // 10^6 values × 2 adds at 10^12/s = 2,000 ns; 4·10^6 bytes at 500 GB/s = 8,000 ns; launch 2,000 ns.
  const bound = op(vectorWork(1e6, 2, 4e6), 'vector');
  assert.ok(close(opDurationNs(bound, c), 2000 + 8000));
  assert.ok(close(opMemoryNs(bound, c), 8000));
  // Arithmetic-bound: 10^6 × 20 adds = 20,000 ns beats the 8,000 ns of traffic.
  assert.ok(close(opDurationNs(op(vectorWork(1e6, 20, 4e6), 'vector'), c), 2000 + 20000));
});

test('a fused epilogue costs its ALU ops on values in registers: no launch, no memory pass', () => {
  const hw = roundMachine();
  const c: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
  // A deferred scale over a 4096 × 12288 q,k,v output: 1 multiply each = 50,331,648 adds → 50,331.648 ns.
  // As an unfused pass it would also read and write the output (2 × 2 B each): 201 MB → 402,653 ns.
  const scale = op(vectorWork(4096 * 12288, 1, 2 * 2 * 4096 * 12288), 'matrix', { fused: true, category: 'epilogue', role: 'norm-scale' });
  assert.ok(close(opDurationNs(scale, c), 50331.648));
  assert.equal(opMemoryNs(scale, c), 0);
});

test('a matmul streams its weights inside the kernel: the larger of compute and stream, plus its launch', () => {
  const c: CostContext = { hw: roundMachine(), dtype: 'bf16', tp: 1, phase: 'prefill' };
  const mm = (m: number): Op => op({ kind: 'matmul', m, k: 1000, n: 1000, bytes: 2e6, tier: 'weights', exps: 0 }, 'matrix');
  // 2·1000³ = 2·10^9 FLOPs at 5·10^13/s = 40,000 ns against 2·10^6 B at 500 GB/s = 4,000 ns.
  assert.ok(close(opDurationNs(mm(1000), c), 3000 + 40000));
  // One row: 2·10^6 FLOPs = 40 ns; the stream's 4,000 ns wins.
  assert.ok(close(opDurationNs(mm(1), c), 3000 + 4000));
  assert.ok(close(opMemoryNs(mm(1), c), 4000));
});

test('decode under a captured graph pays graphKernelNs per kernel instead of the launch', () => {
  const hw = roundMachine(['kernels.launch=graph-in-decode']);
  const work = vectorWork(1e6, 2, 0);
  assert.ok(close(opDurationNs(op(work, 'vector'), { hw, dtype: 'bf16', tp: 1, phase: 'decode' }), 500 + 2000));
  assert.ok(close(opDurationNs(op(work, 'vector'), { hw, dtype: 'bf16', tp: 1, phase: 'prefill' }), 2000 + 2000));
});

test('one memory system: no two streams overlap, so a decode layer takes at least its bytes over the bandwidth', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const hw = applyOverrides(getPreset('gpu-h100'), ['kernels.attention=eager']);
  const sim = simulate(spec, hw, DEFAULT_WORKLOAD);
  const run = sim.kinds[0]!.baseline;
  const held = run.graph.ops
    .map((o, i) => ({ from: run.timeline.start[i]!, to: run.timeline.start[i]! + (o.engine === 'memory' ? run.times.busy[i]! : run.times.memory[i]!) }))
    .filter((h) => h.to > h.from)
    .sort((a, b) => a.from - b.from);
  for (let i = 1; i < held.length; i++) assert.ok(held[i]!.from >= held[i - 1]!.to - 1e-6, `streams ${i - 1} and ${i} overlap`);
  // Weights of one layer: q 4096², k and v 4096·1024 each, o 4096², gate/up/down 3·4096·14336, in bf16.
  const weights = (4096 * 4096 * 2 + 4096 * 1024 * 2 + 3 * 4096 * 14336) * 2;
  // KV cache: 32 sequences × 2,048 cached tokens × 8 KV heads × (128 + 128) values × 2 B.
  const kv = 32 * 2048 * 8 * 256 * 2;
  const bandwidth = 3350 * hw.memory.efficiency; // GB/s = bytes per ns
  assert.ok(run.timeline.makespanNs >= (weights + kv) / bandwidth, `${run.timeline.makespanNs} ns < ${(weights + kv) / bandwidth} ns`);
});

test('fused attention: one kernel per head group with 2·rows·keys·(d_qk + d_v) FLOPs; the Softmax site is already deferred', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const hw = getPreset('gpu-h100');
  assert.equal(hw.kernels.attention, 'flash');
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 512 };
  const sim = simulate(spec, hw, w);
  const softmax = sim.kinds[0]!.sites.find((d) => d.site.id === 'softmax')!;
  assert.equal(softmax.decision, 'ineligible');
  assert.match(softmax.site.ineligible!, /already deferred by the baseline kernel/);
  const ops = sim.kinds[0]!.baseline.graph.ops;
  assert.equal(ops.filter((o) => o.category === 'softmax').length, 0, 'no separate softmax passes');
  const fused = ops.filter((o) => o.role === 'attention-fused');
  let flops = 0;
  let exps = 0;
  for (const o of fused) {
    if (o.work.kind !== 'matmul') throw new Error('fused attention is matrix work');
    flops += 2 * o.work.m * o.work.k * o.work.n;
    exps += o.work.exps;
  }
  // 512 queries × 32 heads; causal: (512 + 1) / 2 keys on average; q·Kᵀ over 128 and p·V over 128.
  assert.ok(close(flops, 2 * 512 * 32 * (513 / 2) * (128 + 128)));
  assert.ok(close(exps, 512 * 32 * (513 / 2)));
});

test("eager RMSNorm is PyTorch's eight kernels, each a pass over memory", async () => {
  const spec = await loadFixture('Llama-2-7b-hf');
  const hw = applyOverrides(getPreset('gpu-h100'), ['kernels.norm=eager']);
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 1024 };
  const ctx = graphContext(hw, w, 'bf16');
  const ops = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => null).ops.filter((o) => o.site === 'attn-norm');
  const stat = ops.filter((o) => o.role === 'norm-stat');
  const apply = ops.filter((o) => o.role === 'norm-apply');
  // to(float32), pow(2), mean(-1), + eps, rsqrt | x * r, to(dtype), γ *
  assert.equal(stat.length, 5);
  assert.equal(apply.length, 3);
  const rows = 1024;
  const x = rows * 4096;
  const bytes = (os: Op[]) => os.reduce((s, o) => s + (o.work.kind === 'vector' ? o.work.bytes : 0), 0);
  // Read bf16 write fp32; read and write fp32; read fp32 write a row; read and write a row, twice.
  assert.equal(bytes(stat), x * (2 + 4) + x * 8 + (x * 4 + rows * 4) + rows * 8 + rows * 8);
  // Read fp32 and r, write fp32; read fp32 write bf16; read bf16 and γ, write bf16.
  assert.equal(bytes(apply), x * 8 + rows * 4 + x * (4 + 2) + (x * 4 + 4096 * 2));
});

test('each elementwise op is charged the bytes it reads and writes at the workload dtype', async () => {
  const spec = await loadFixture('Llama-2-7b-hf');
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 1024, tiles: 1 };
  for (const dtype of ['bf16', 'fp8'] as const) {
    const hw = getPreset('gpu-h100');
    const ctx = graphContext(hw, { ...w, dtype }, dtype);
    const ops = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => null).ops;
    const rows = 1024;
    const act = 2; // activations stay 16-bit when weights are 8-bit
    const statBytes = (ops.find((o) => o.site === 'attn-norm' && o.role === 'norm-stat')!.work as { bytes: number }).bytes;
    assert.equal(statBytes, rows * 4096 * act + rows * 4, `${dtype}: Σx² reads x once and writes one fp32 per row`);
    const applyBytes = (ops.find((o) => o.site === 'attn-norm' && o.role === 'norm-apply')!.work as { bytes: number }).bytes;
    assert.equal(applyBytes, 2 * rows * 4096 * act + rows * 4 + 4096 * act, `${dtype}: the apply reads x, r and γ and writes y`);
    const residual = ops.find((o) => o.role === 'residual')!.work as { bytes: number };
    assert.equal(residual.bytes, 3 * rows * 4096 * act, `${dtype}: a residual add reads two and writes one`);
  }
});

test('a sliding-window layer reads only its window of the KV cache in decode', async () => {
  const spec = await loadFixture('Mistral-7B-v0.1');
  for (const attention of ['eager', 'flash'] as const) {
    const hw = applyOverrides(getPreset('gpu-h100'), [`kernels.attention=${attention}`]);
    const w: Workload = { ...DEFAULT_WORKLOAD, batch: 1, context: 16384 };
    const ops = buildLayerGraph(spec, spec.layerKinds[0]!, graphContext(hw, w, 'bf16'), () => null).ops;
    const kvBytes = ops.reduce((s, o) => s + ((o.work.kind === 'memory' || o.work.kind === 'matmul') && o.work.tier === 'kv' ? o.work.bytes : 0), 0);
    // The new token attends to 4,096 keys: 4,095 cached ones × 8 KV heads × (128 + 128) values × 2 B.
    assert.equal(kvBytes, 4095 * 8 * 256 * 2, attention);
  }
});

test("a deferred scale covers the linear's output on one chip: split only when its columns are", async () => {
  const hw = getPreset('dimc');
  const w: Workload = { ...DEFAULT_WORKLOAD, batch: 4, tp: 8, tiles: 1 };
  const scaled = async (fixture: string, kindIndex: number, linear: string): Promise<number> => {
    const spec = await loadFixture(fixture);
    const ops = buildLayerGraph(spec, spec.layerKinds[kindIndex]!, graphContext(hw, w, 'bf16'), () => 'linear').ops;
    return ops.filter((o) => o.role === 'norm-scale' && o.name.startsWith(`${linear}.scale`)).reduce((s, o) => s + (o.work.kind === 'vector' ? o.work.elements : 0), 0);
  };
  // DeepSeek-V3's q_a_proj (7168 → 1536) is replicated on every chip: 4 rows × 1,536, not 1,536 / 8.
  assert.equal(await scaled('DeepSeek-V3', 0, 'q_a_proj'), 4 * 1536);
  // Mixtral's router (4096 → 8 experts) likewise: 4 × 8.
  assert.equal(await scaled('Mixtral-8x7B-v0.1', 0, 'gate'), 4 * 8);
  // q_proj is column-parallel: 4 × 4096 / 8.
  assert.equal(await scaled('Llama-3.1-8B', 0, 'q_proj'), (4 * 4096) / 8);
});

test('the TP split of a linear and of the heads, stated once', () => {
  const lin = (role: LinearSpec['role'], inW: number, out: number): LinearSpec => ({ name: role, role, in: inW, out, bias: false });
  assert.deepEqual(shardOf(lin('q', 4096, 4096), 4), { k: 4096, n: 1024, split: 'columns' });
  assert.deepEqual(shardOf(lin('o', 4096, 4096), 4), { k: 1024, n: 4096, split: 'rows' });
  assert.deepEqual(shardOf(lin('down', 14336, 4096), 8), { k: 1792, n: 4096, split: 'rows' });
  assert.deepEqual(shardOf(lin('router', 4096, 8), 8), { k: 4096, n: 8, split: 'none' });
  assert.deepEqual(shardOf(lin('q', 4096, 4096), 1), { k: 4096, n: 4096, split: 'none' });
  // 8 KV heads over 16 chips: each chip keeps a replica of one.
  assert.deepEqual(headsOf({ heads: 32, kvHeads: 8 } as never, 16), { heads: 2, kvHeads: 1 });
});

test('one site alone: the Llama-2-7B q,k,v site on a T4-class GPU in prefill is deferred and saves time (FlashNorm)', async () => {
  // A T4 stated by its datasheet numbers (65 TFLOPS fp16 tensor, 8.1 TFLOPS fp32, 320 GB/s, 40 SMs),
  // PyTorch eager RMSNorm as FlashNorm's baseline, kernels launched one by one.
  const t4 = applyOverrides(getPreset('gpu-h100'), [
    'defaultDtype=fp16',
    'matrix.peakTflops.fp16=65',
    'vector.gelemsPerSec=8100',
    'memory.tiers[0].bandwidthGBps=320',
    'computeUnits=40',
    'kernels.norm=eager',
    'kernels.launch=per-kernel',
  ]);
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 1024 };
  const big = simulateSite(await loadFixture('Llama-2-7b-hf'), t4, w, 'attn-norm');
  const decision = simulate(await loadFixture('Llama-2-7b-hf'), t4, w).kinds[0]!.sites.find((d) => d.site.id === 'attn-norm')!;
  assert.equal(decision.decision, 'defer');
  assert.ok(big.deferredNs < big.keptNs);
});
