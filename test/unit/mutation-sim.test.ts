/**
 * The simulator's facts, pinned where mutation testing (`npm run mutate`) found that a wrong formula
 * or a wrong scheduling rule left every other test green. Each expected value is derived by hand in
 * the comment beside it from the rule it checks, never read back from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine, Op, Work } from '../../src/core/graph/ops';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import { buildLayerGraph, buildSiteGraph } from '../../src/core/graph/layer';
import { layerSites } from '../../src/core/graph/sites';
import { collectiveHops, GraphTimes, opDurationNs, opLatencyNs, opMemoryNs, opTimes, type CostContext, type OpTimes } from '../../src/core/sim/costs';
import { makespanOf, schedule } from '../../src/core/sim/scheduler';
import { engineBusyNs, graphContext, simulate, simulateSite } from '../../src/core/sim/simulate';
import { runOf, timerOf } from '../../src/core/sim/timing';
import type { LayerKind, LinearSpec, ModelSpec, NormSpec } from '../../src/core/model/spec';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
const near = (actual: number, expected: number, what: string) => assert.ok(close(actual, expected), `${what}: got ${actual}, expected ${expected}`);

// ---------------------------------------------------------------------------------------------
// The scheduler, on graphs made by hand with durations given directly (no cost model involved).
// ---------------------------------------------------------------------------------------------

const NOWORK: Work = { kind: 'memory', bytes: 0, tier: 'kv' };

/** Op i on `engine`, after `deps`. */
function node(id: number, engine: Engine, deps: number[] = []): Op {
  return { id, name: `op${id}`, role: 'linear', engine, category: 'linear', work: NOWORK, deps };
}

/** Times by hand: busy (engine occupancy), latency (network flight after release), memory (memory-system hold). */
function times(busy: number[], latency: number[] = [], memory: number[] = []): OpTimes {
  const n = busy.length;
  const f = (a: number[]) => Float64Array.from({ length: n }, (_, i) => a[i] ?? 0);
  return { busy: f(busy), latency: f(latency), memory: f(memory) };
}

test('scheduler: a chain adds up; ops on different engines overlap; ops on one engine take turns', () => {
  // A → B → C on three engines: each starts when the previous ends: 10 + 20 + 30 = 60.
  const chain = [node(0, 'matrix'), node(1, 'vector', [0]), node(2, 'matrix', [1])];
  const c = schedule(chain, times([10, 20, 30]));
  assert.deepEqual([...c.start], [0, 10, 30]);
  assert.deepEqual([...c.end], [10, 30, 60]);
  assert.equal(c.makespanNs, 60);
  // Two independent ops on two engines run side by side: max(10, 25) = 25.
  assert.equal(schedule([node(0, 'matrix'), node(1, 'vector')], times([10, 25])).makespanNs, 25);
  // Two independent ops on one engine run one after the other: 10 + 25 = 35.
  const serial = schedule([node(0, 'vector'), node(1, 'vector')], times([10, 25]));
  assert.equal(serial.makespanNs, 35);
  // The empty graph takes no time.
  assert.equal(schedule([], times([])).makespanNs, 0);
});

test('scheduler: network latency delays the result, not the engine (the collective network is pipelined)', () => {
  // Two gathers on the collective engine, 5 ns busy each, 100 ns in flight each. The second starts as
  // soon as the first leaves the engine (t = 5), not when its result lands (t = 105): it ends at
  // 5 + 5 + 100 = 110. A vector op after the first gather starts at 105 and ends at 105 + 7 = 112.
  const ops = [node(0, 'collective'), node(1, 'collective'), node(2, 'vector', [0])];
  const t = schedule(ops, times([5, 5, 7], [100, 100, 0]));
  assert.deepEqual([...t.start], [0, 5, 105]);
  assert.deepEqual([...t.release], [5, 10, 112]);
  assert.deepEqual([...t.end], [105, 110, 112]);
  assert.equal(t.makespanNs, 112);
});

test('scheduler: an idle engine starts the ready op with the longest path to the end; ties go to program order', () => {
  // Ops 0 and 1 both ready on the vector engine. Op 1 heads a long chain (1 → 2 on the matrix engine,
  // 50 ns), op 0 none: the critical path says run op 1 first. Then: op 1 [0, 10], op 2 [10, 60],
  // op 0 [10, 20]; makespan 60. Program order (op 0 first) would give op 1 [10, 20], op 2 [20, 70]: 70.
  const ops = [node(0, 'vector'), node(1, 'vector'), node(2, 'matrix', [1])];
  const t = schedule(ops, times([10, 10, 50]));
  assert.equal(t.start[1], 0);
  assert.equal(t.start[0], 10);
  assert.equal(t.makespanNs, 60);
  // Equal paths: the lower id first (op 0 at 0, op 1 at 10).
  const tie = schedule([node(0, 'vector'), node(1, 'vector')], times([10, 10]));
  assert.deepEqual([...tie.start], [0, 10]);
  // The latency of a successor's path counts too: op 1 leads to a gather with 100 ns in flight.
  const viaLatency = schedule([node(0, 'vector'), node(1, 'vector'), node(2, 'collective', [1])], times([10, 10, 1], [0, 0, 100]));
  assert.equal(viaLatency.start[1], 0, 'the op that feeds the slow gather goes first');
  assert.equal(viaLatency.makespanNs, 10 + 1 + 100);
});

test('scheduler: an op waits for all of its dependencies, and for the last one to land', () => {
  // C needs A (matrix, 30) and B (collective, 5 busy + 40 flight = lands at 45): C starts at 45.
  const ops = [node(0, 'matrix'), node(1, 'collective'), node(2, 'vector', [0, 1])];
  const t = schedule(ops, times([30, 5, 1], [0, 40, 0]));
  assert.equal(t.start[2], 45);
  assert.equal(t.makespanNs, 46);
});

test('scheduler: one memory system: a streaming op on another engine and a transfer never overlap', () => {
  // A weight load on the memory engine (40 ns) and an independent vector op that streams its operands
  // (20 ns busy, holding memory for 20 ns). Without sharing they would overlap (makespan 40); with one
  // memory system they take turns: 40 + 20 = 60, whichever goes first.
  const ops = [node(0, 'memory'), node(1, 'vector')];
  const t = schedule(ops, times([40, 20], [0, 0], [0, 20]));
  assert.equal(t.makespanNs, 60);
  assert.ok(t.start[1]! >= t.release[0]! || t.start[0]! >= t.release[1]!, 'the two never hold memory at once');
  // An op that does not touch memory runs beside the transfer: max(40, 20) = 40.
  assert.equal(schedule(ops, times([40, 20])).makespanNs, 40);
  // Two streaming ops on two compute engines share memory too: 30 + 20 = 50 (each holds it for its whole time).
  const two = schedule([node(0, 'matrix'), node(1, 'vector')], times([30, 20], [0, 0], [30, 20]));
  assert.equal(two.makespanNs, 50);
});

// ---------------------------------------------------------------------------------------------
// Costs of single ops on a machine with round numbers (every number the formulas read is set here).
// ---------------------------------------------------------------------------------------------

function roundMachine(extra: string[] = []): HardwareProfile {
  return applyOverrides(getPreset('gpu-h100'), [
    'computeUnits=64',
    'matrix.peakTflops.bf16=100',
    'matrix.efficiency=0.5', // 5·10^13 FLOP/s reached
    'matrix.startLatencyNs=3000',
    'vector.gelemsPerSec=1000', // 10^12 add-equivalents per second: 1 ns per 1,000
    'vector.startLatencyNs=2000',
    'vector.expCost=10',
    'vector.rsqrtCost=20',
    'vector.divCost=30',
    'collective.topology=tree',
    'collective.hopLatencyNs=50',
    'collective.bandwidthGBps=100', // 100 bytes per ns
    'collective.startLatencyNs=700',
    'collective.interChip.hopLatencyNs=1000',
    'collective.interChip.bandwidthGBps=400', // 400 bytes per ns
    'collective.interChip.startLatencyNs=500', // fixed cost per all-reduce (issue 19)
    'memory.tiers[0].bandwidthGBps=1000',
    'memory.efficiency=0.5', // 500 bytes per ns
    'kernels.launch=per-kernel',
    ...extra,
  ]);
}

const work = (w: Work, engine: Engine, extra: Partial<Op> = {}): Op => ({ id: 0, name: 'x', role: 'linear', engine, category: 'elementwise', work: w, deps: [], ...extra });
const ctxOf = (hw: HardwareProfile, tp = 1): CostContext => ({ hw, dtype: 'bf16', tp, phase: 'prefill' });

test('a statistic gather: its start cost plus rows × values × 4 bytes over the network bandwidth; no rows, no time', () => {
  const c = ctxOf(roundMachine());
  // 1,000 rows × 2 values (LayerNorm's Σx and Σx²) × 4 B = 8,000 B at 100 B/ns = 80 ns, plus 700 ns to start.
  near(opDurationNs(work({ kind: 'collective', rows: 1000, values: 2, units: 64 }, 'collective'), c), 780, 'gather of 2 values');
  // One value (RMSNorm's Σx²): 4,000 B = 40 ns.
  near(opDurationNs(work({ kind: 'collective', rows: 1000, values: 1, units: 64 }, 'collective'), c), 740, 'gather of 1 value');
  assert.equal(opDurationNs(work({ kind: 'collective', rows: 0, values: 1, units: 64 }, 'collective'), c), 0);
  assert.equal(opLatencyNs(work({ kind: 'collective', rows: 0, values: 1, units: 64 }, 'collective'), c.hw, 1), 0);
});

test('the hops of a gather and broadcast: 2·⌈log2 P⌉ on a tree, 2·(P − 1) on a ring, P clamped to [1, computeUnits]', () => {
  const tree = roundMachine();
  const ring = roundMachine(['collective.topology=ring']);
  // Tree over 64 units: up 6 levels, down 6: 12 hops. Over 5 units: ⌈log2 5⌉ = 3 each way: 6.
  assert.equal(collectiveHops(tree, 64), 12);
  assert.equal(collectiveHops(tree, 5), 6);
  // A span wider than the machine is the machine (64 units); one unit (or none) needs no hop.
  assert.equal(collectiveHops(tree, 1000), 12);
  assert.equal(collectiveHops(tree, 1), 0);
  assert.equal(collectiveHops(tree, 0), 0);
  // Ring: 63 steps to gather, 63 to broadcast.
  assert.equal(collectiveHops(ring, 64), 126);
  assert.equal(collectiveHops(ring, 5), 8);
  assert.equal(collectiveHops(ring, 1000), 126);
  assert.equal(collectiveHops(ring, 1), 0);
  // The latency of a gather over 16 units on the tree: 2·4 hops × 50 ns = 400 ns.
  near(opLatencyNs(work({ kind: 'collective', rows: 10, values: 1, units: 16 }, 'collective'), tree, 1), 400, 'gather latency');
});

test('a ring all-reduce: each chip moves 2(tp − 1)/tp of the bytes and waits 2(tp − 1) hops; nothing at TP 1', () => {
  const hw = roundMachine();
  const ar = work({ kind: 'allreduce', bytes: 8e6 }, 'collective');
  // TP 4: 2·3/4 × 8 MB = 12 MB at 400 B/ns = 30,000 ns; 500 ns fixed + 6 hops × 1,000 ns = 6,500 ns in flight.
  near(opDurationNs(ar, ctxOf(hw, 4)), 30000, 'TP 4 all-reduce time');
  near(opLatencyNs(ar, hw, 4), 6500, 'TP 4 all-reduce hops');
  // TP 2: 2·1/2 × 8 MB = 8 MB = 20,000 ns; 500 + 2 hops = 2,500 ns.
  near(opDurationNs(ar, ctxOf(hw, 2)), 20000, 'TP 2 all-reduce time');
  near(opLatencyNs(ar, hw, 2), 2500, 'TP 2 all-reduce hops');
  assert.equal(opDurationNs(ar, ctxOf(hw, 1)), 0);
  assert.equal(opLatencyNs(ar, hw, 1), 0);
});

test('vector work: adds plus exps, rsqrts and divisions at their relative costs, over the vector rate', () => {
  const c = ctxOf(roundMachine());
  // 1,000 elements × 3 ops + 100 exps × 10 + 10 rsqrts × 20 + 5 divisions × 30 = 3,000 + 1,000 + 200 + 150
  // = 4,350 add-equivalents at 10^12/s = 4.35 ns, plus the 2,000 ns launch.
  const v: Work = { kind: 'vector', elements: 1000, ops: 3, exps: 100, rsqrts: 10, divs: 5, bytes: 0 };
  near(opDurationNs(work(v, 'vector'), c), 2004.35, 'vector op');
  // A later tile of the same kernel pays no launch.
  near(opDurationNs(work(v, 'vector', { continues: true }), c), 4.35, 'continuing tile');
});

test('a matmul: 2·m·k·n FLOPs at peak × efficiency, plus its launch; a later tile pays no launch', () => {
  const c = ctxOf(roundMachine());
  // 2 × 100 × 200 × 300 = 1.2·10^7 FLOPs at 5·10^13/s = 240 ns, plus 3,000 ns.
  const mm: Work = { kind: 'matmul', m: 100, k: 200, n: 300, bytes: 0, tier: 'weights', exps: 0 };
  near(opDurationNs(work(mm, 'matrix'), c), 3240, 'matmul');
  near(opDurationNs(work(mm, 'matrix', { continues: true }), c), 240, 'continuing tile');
  // No bytes: it never holds the memory system.
  assert.equal(opTimes([work(mm, 'matrix')], c).memory[0], 0);
});

test('a transfer takes its bytes over the bandwidth of its own tier at the memory efficiency', () => {
  // dimc keeps the KV cache in tier 0 (SRAM) and weights in tier 1 (LPDDR5X). Here: 1,000 and 400 GB/s
  // peak at 0.5 efficiency, 500 and 200 bytes per ns.
  const hw = applyOverrides(getPreset('dimc'), ['memory.tiers[0].bandwidthGBps=1000', 'memory.tiers[1].bandwidthGBps=400', 'memory.efficiency=0.5']);
  assert.equal(hw.memory.kvCacheTier, hw.memory.tiers[0]!.name);
  assert.equal(hw.memory.weightsTier, hw.memory.tiers[1]!.name);
  const c: CostContext = { hw, dtype: 'fp8', tp: 1, phase: 'decode' };
  const kv = work({ kind: 'memory', bytes: 1e6, tier: 'kv' }, 'memory');
  // 10^6 B at 500 B/ns = 2,000 ns; from the weights tier at 200 B/ns = 5,000 ns.
  near(opDurationNs(kv, c), 2000, 'KV read');
  near(opDurationNs(work({ kind: 'memory', bytes: 1e6, tier: 'weights' }, 'memory'), c), 5000, 'weight load');
  near(opMemoryNs(kv, c), 2000, 'a transfer holds memory for its whole time');
  // The op on the memory engine is not counted a second time as another engine's hold on memory.
  const t = opTimes([kv], c);
  assert.equal(t.busy[0], 2000);
  assert.equal(t.memory[0], 0);
});

// ---------------------------------------------------------------------------------------------
// simulate(): the decision rule for each site, on a tiny Llama-like model (hidden 32, 4 heads of 8,
// 2 KV heads, SwiGLU 48, vocabulary 100) so that a whole simulation takes milliseconds.
// ---------------------------------------------------------------------------------------------

const H = 32;
const lin = (name: string, role: LinearSpec['role'], inW: number, out: number): LinearSpec => ({ name, role, in: inW, out, bias: false });
const rms = (name: string, role: NormSpec['role'], feeds: string[]): NormSpec => ({ name, role, kind: 'rmsnorm', eps: 1e-5, placement: role === 'final' ? 'final' : 'pre', width: H, affine: 'weight', feeds });
const KIND: LayerKind = {
  id: 'decoder',
  label: 'tiny',
  layers: [0, 1, 2],
  block: 'pre-norm',
  attention: { kind: 'gqa', heads: 4, kvHeads: 2, headDim: 8, vHeadDim: 8, window: null, causal: true },
  mlp: { kind: 'gated', ffn: 48, activation: 'silu', activationKind: 'silu', gated: true, bias: false },
  norms: [rms('input_layernorm', 'attn', ['q_proj', 'k_proj', 'v_proj']), rms('post_attention_layernorm', 'mlp', ['gate_proj', 'up_proj'])],
  linears: [lin('q_proj', 'q', H, 32), lin('k_proj', 'k', H, 16), lin('v_proj', 'v', H, 16), lin('o_proj', 'o', 32, H), lin('gate_proj', 'gate', H, 48), lin('up_proj', 'up', H, 48), lin('down_proj', 'down', 48, H)],
  stack: 'decoder',
};
const TINY: ModelSpec = {
  name: 'tiny',
  family: 'llama',
  modelType: 'llama',
  architecture: null,
  readAs: 'family',
  source: { path: 'tiny/config.json', format: 'config.json' },
  hidden: H,
  layers: 3,
  vocab: 100,
  normKind: 'rmsnorm',
  normEps: 1e-5,
  tiedEmbeddings: false,
  positions: 'rope',
  maxPositions: null,
  topology: 'decoder',
  layerKinds: [KIND],
  finalNorm: rms('norm', 'final', ['lm_head']),
  lmHead: lin('lm_head', 'lm_head', H, 100),
  params: { total: 0, active: 0 },
  paramsFromWeights: null,
  dtype: null,
  vision: null,
  skippedLayers: [],
  notes: [],
};
const DIMC = () => applyOverrides(getPreset('dimc'), ['kernels.attention=eager', 'kernels.norm=fused']);
const DECODE: Workload = { ...DEFAULT_WORKLOAD, batch: 4, context: 64 };

test('simulate: every decision is a local optimum; the deferred layer is never slower than the baseline', () => {
  for (const hw of [DIMC(), applyOverrides(DIMC(), ['vector.gelemsPerSec=1']), applyOverrides(DIMC(), ['collective.hopLatencyNs=5000'])]) {
    const sim = simulate(TINY, hw, DECODE);
    assert.deepEqual(sim.kinds.map((k) => k.id), ['decoder', 'head']);
    assert.equal(sim.dtype, 'fp8', 'dimc computes in fp8 by default');
    assert.deepEqual(sim.kinds[1]!.layers, [3], 'the head comes after the 3 layers');
    for (const k of sim.kinds) {
      const chosen = k.deferred.timeline.makespanNs;
      assert.ok(chosen <= k.baseline.timeline.makespanNs, `${k.id}: deferred ${chosen} > baseline ${k.baseline.timeline.makespanNs}`);
      for (const d of k.sites) {
        if (d.decision === 'defer') {
          // The chosen layer is the one with this site deferred; keeping it instead is no faster.
          assert.equal(d.deferredNs, chosen, `${k.id}/${d.site.id}`);
          assert.ok(d.keptNs >= chosen, `${k.id}/${d.site.id}: kept ${d.keptNs} < chosen ${chosen}`);
          assert.notEqual(d.depth, null);
        } else if (d.decision === 'keep') {
          // Kept: the chosen layer keeps it, and deferring it at any depth is no faster.
          assert.equal(d.keptNs, chosen, `${k.id}/${d.site.id}`);
          assert.ok(d.deferredNs >= chosen, `${k.id}/${d.site.id}: deferring would give ${d.deferredNs} < ${chosen}`);
          assert.equal(d.depth, null);
        } else {
          assert.deepEqual([d.keptNs, d.deferredNs], [chosen, chosen]);
        }
        for (const { ns } of d.depthNs ?? []) assert.ok(ns >= (d.decision === 'defer' ? chosen : d.keptNs) - 1e-9, `${k.id}/${d.site.id}: a depth at ${ns}`);
      }
    }
  }
});

test('simulate: slow statistic gathers make deferral win; a crawling vector engine makes the scale epilogues lose', () => {
  // Gathers of 5 µs a hop on a 2,048-unit tree (22 hops): a kept norm waits 110 µs before its matmuls;
  // deferred, the matmuls run meanwhile and only the scale waits. Every norm site is deferred.
  const slowNet = simulate(TINY, applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']), DECODE);
  for (const k of slowNet.kinds) {
    for (const d of k.sites.filter((s) => s.site.kind !== 'softmax')) assert.equal(d.decision, 'defer', `${k.id}/${d.site.id}`);
    assert.ok(k.deferred.timeline.makespanNs < k.baseline.timeline.makespanNs, k.id);
  }
  // Free gathers and a vector engine of 1 G elements/s: a deferred scale costs a vector pass over the
  // linears' outputs (wider than the norm's input for the MLP and the head) and hides nothing.
  const slowVector = simulate(TINY, applyOverrides(DIMC(), ['vector.gelemsPerSec=1', 'collective.hopLatencyNs=0', 'collective.startLatencyNs=0']), DECODE);
  const head = slowVector.kinds.find((k) => k.id === 'head')!;
  assert.equal(head.sites[0]!.decision, 'keep');
  assert.ok(head.sites[0]!.deferredNs > head.sites[0]!.keptNs);
  assert.equal(head.deferred.timeline.makespanNs, head.baseline.timeline.makespanNs);
});

test('simulate: the collective-free makespans zero exactly the statistic gathers; engine busy time sums the ops', () => {
  const sim = simulate(TINY, DIMC(), DECODE);
  for (const k of sim.kinds) {
    for (const [run, free] of [[k.baseline, k.baselineFreeNs], [k.deferred, k.deferredFreeNs]] as const) {
      const busy = run.times.busy.slice();
      const latency = run.times.latency.slice();
      run.graph.ops.forEach((op, i) => {
        if (op.category === 'stat-collective') busy[i] = latency[i] = 0;
      });
      assert.equal(free, schedule(run.graph.ops, { busy, latency, memory: run.times.memory }).makespanNs, k.id);
      assert.ok(free <= run.timeline.makespanNs);
      const byEngine = engineBusyNs(run);
      for (const e of ['matrix', 'vector', 'collective', 'memory'] as const) {
        near(byEngine[e], run.graph.ops.reduce((s, op, i) => s + (op.engine === e ? run.times.busy[i]! : 0), 0), `${k.id} ${e}`);
      }
    }
  }
  // The times of a run are the cost model's for its ops, at the machine's dtype.
  const k = sim.kinds[0]!;
  const again = opTimes(k.baseline.graph.ops, { hw: DIMC(), dtype: 'fp8', tp: 1, phase: 'decode' });
  assert.deepEqual([...k.baseline.times.busy], [...again.busy]);
});

test('simulate: graphs kept in a cache give the same figures; an encoder has no decode step; a dtype needs a matrix rate', () => {
  const graphs = new Map();
  const a = simulate(TINY, DIMC(), DECODE, { graphs });
  const b = simulate(TINY, DIMC(), DECODE, { graphs });
  const plain = simulate(TINY, DIMC(), DECODE);
  assert.equal(graphs.size, 1, 'one graph context');
  assert.ok([...graphs.values()][0]!.size >= 2, 'graphs of the layer and the head');
  for (const s of [a, b]) assert.deepEqual(s.kinds.map((k) => k.deferred.timeline.makespanNs), plain.kinds.map((k) => k.deferred.timeline.makespanNs));
  assert.equal(b.kinds[0]!.baseline.graph, a.kinds[0]!.baseline.graph, 'the second run reuses the graph');
  // Another context (another batch) gets its own entry.
  simulate(TINY, DIMC(), { ...DECODE, batch: 5 }, { graphs });
  assert.equal(graphs.size, 2);
  assert.throws(() => simulate({ ...TINY, topology: 'encoder' }, DIMC(), DECODE), /phase: expected prefill/);
  // dimc publishes no bf16 rate.
  assert.throws(() => simulate(TINY, DIMC(), { ...DECODE, dtype: 'bf16' }), /dtype/);
});

// ---------------------------------------------------------------------------------------------
// Round two: the memory system while it is held, priorities, times kept across machines, and the
// parts of simulate() the first round left open.
// ---------------------------------------------------------------------------------------------

test('scheduler: while a transfer holds memory, an op that streams nothing still starts; one that streams waits for it', () => {
  // A transfer (memory engine, 40 ns) from t = 0; a matmul (10 ns, no bytes) then a vector op after it,
  // ready at t = 10. If the vector op streams nothing it runs at 10–15; if it streams (memory 5) it waits
  // for the transfer: 40–45.
  const ops = [node(0, 'memory'), node(1, 'matrix'), node(2, 'vector', [1])];
  const free = schedule(ops, times([40, 10, 5]));
  assert.equal(free.start[2], 10);
  const streaming = schedule(ops, times([40, 10, 5], [], [0, 0, 5]));
  assert.equal(streaming.start[2], 40);
  // A streaming op holds memory for its memory time only, not its whole run: a vector op of 50 ns that
  // streams for 10 ns, then a transfer of 60 ns ready at once: the transfer starts at 10 and ends at 70.
  const hold = schedule([node(0, 'vector'), node(1, 'memory')], times([50, 60], [], [10, 0]));
  assert.deepEqual([hold.start[0], hold.start[1], hold.makespanNs], [0, 10, 70]);
});

test('scheduler: the longest path first, whatever order the ready list holds; ops of no duration; a cycle is an error', () => {
  // Three vector ops ready at once. Op 0 leads to a 100 ns matmul, op 2 to a 50 ns one, op 1 to nothing.
  // Longest path first: op 0 at 0, op 2 at 10, op 1 at 20 (not by id: op 1 before op 2 would put op 2 at 20).
  const ops = [node(0, 'vector'), node(1, 'vector'), node(2, 'vector'), node(3, 'matrix', [0]), node(4, 'matrix', [2])];
  const t = schedule(ops, times([10, 10, 10, 100, 50]));
  assert.deepEqual([t.start[0], t.start[2], t.start[1]], [0, 10, 20]);
  assert.equal(t.makespanNs, 160);
  // Ops that take no time still run, in dependency order.
  const zero = schedule([node(0, 'vector'), node(1, 'matrix', [0])], times([0, 0]));
  assert.deepEqual([zero.makespanNs, zero.start[1]], [0, 0]);
  // Two ops that wait for each other can never start.
  assert.throws(() => schedule([node(0, 'vector', [1]), node(1, 'vector', [0])], times([1, 1])), /dependency cycle/);
});

test('only gathers and all-reduces have a network latency; an op on a machine without an activations tier moves nothing through memory', () => {
  const hw = roundMachine();
  const mm = work({ kind: 'matmul', m: 10, k: 10, n: 10, bytes: 100, tier: 'weights', exps: 0 }, 'matrix');
  const v = work({ kind: 'vector', elements: 10, ops: 1, exps: 0, rsqrts: 0, divs: 0, bytes: 1000 }, 'vector');
  for (const op of [mm, v, work({ kind: 'memory', bytes: 100, tier: 'kv' }, 'memory')]) assert.equal(opLatencyNs(op, hw, 4), 0, op.work.kind);
  // dimc keeps activations beside the compute units (no activations tier): an elementwise op's bytes cost nothing.
  const d = applyOverrides(getPreset('dimc'), []);
  assert.equal(d.memory.activationsTier, undefined);
  const c: CostContext = { hw: d, dtype: 'fp8', tp: 1, phase: 'decode' };
  assert.equal(opMemoryNs(v, c), 0);
  near(opDurationNs(v, c), d.vector.startLatencyNs + 10 / d.vector.gelemsPerSec, 'arithmetic only');
  // An eager score matrix in the activations tier where there is none: no memory time either.
  assert.equal(opMemoryNs(work({ kind: 'matmul', m: 1, k: 1, n: 1, bytes: 1e6, tier: 'activations', exps: 0 }, 'matrix'), c), 0);
  // On the GPU (activations in HBM at 1,000 GB/s × 0.5 here): 1,000 B = 2 ns of memory, under the 2,000 ns launch.
  const g: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
  assert.equal(hw.memory.activationsTier, hw.memory.tiers[0]!.name);
  near(opMemoryNs(v, g), 2, 'vector bytes on the GPU');
  // A fused epilogue's operands are in registers.
  assert.equal(opMemoryNs({ ...v, fused: true }, g), 0);
  // A fused attention kernel's exps run beside its FLOPs: 10^6 exps × 10 at 10^12/s = 10,000 ns beat 2·10·10·10 FLOPs.
  near(opDurationNs(work({ kind: 'matmul', m: 10, k: 10, n: 10, bytes: 0, tier: 'kv', exps: 1e6 }, 'matrix'), g), 3000 + 10000, 'exp-bound fused kernel');
});

test('times kept with a graph across machines are the times of each machine', () => {
  const graph = buildLayerGraph(TINY, KIND, graphContext(DIMC(), DECODE, 'fp8'), ((id: string) => (id === 'softmax' ? 'linear' : null)) as never);
  const base = DIMC();
  const machines = [
    base,
    base, // the same machine again: nothing to recompute
    applyOverrides(base, ['collective.hopLatencyNs=500']), // only latencies change
    applyOverrides(base, ['vector.gelemsPerSec=100']), // only busy times change
    applyOverrides(base, ['collective.hopLatencyNs=500', 'vector.gelemsPerSec=100', 'collective.topology=ring']),
    base, // back to the first
  ];
  const kept = new GraphTimes(graph.ops);
  const timer = timerOf(graph);
  for (const [i, hw] of machines.entries()) {
    const c: CostContext = { hw, dtype: 'fp8', tp: 1, phase: 'decode' };
    const fresh = opTimes(graph.ops, c);
    const changed = kept.update(c);
    assert.equal(changed, i === 0 || i >= 2, `machine ${i}: changed`);
    assert.deepEqual([...kept.busy], [...fresh.busy], `machine ${i}: busy`);
    assert.deepEqual([...kept.latency], [...fresh.latency], `machine ${i}: latency`);
    assert.deepEqual([...kept.memory], [...fresh.memory], `machine ${i}: memory`);
    // The timer's makespans are the plain schedule's, with and without the statistic gathers.
    assert.equal(timer.makespan(c), schedule(graph.ops, fresh).makespanNs, `machine ${i}: makespan`);
    const busy = fresh.busy.slice();
    const latency = fresh.latency.slice();
    graph.ops.forEach((op, j) => {
      if (op.category === 'stat-collective') busy[j] = latency[j] = 0;
    });
    assert.equal(timer.freeMakespan(c), schedule(graph.ops, { busy, latency, memory: fresh.memory }).makespanNs, `machine ${i}: free makespan`);
    assert.equal(makespanOf(graph.ops, fresh), schedule(graph.ops, fresh).makespanNs);
  }
  // A full run: the plain schedule with its own arrays.
  const run = runOf(graph, { hw: base, dtype: 'fp8', tp: 1, phase: 'decode' });
  assert.equal(run.timeline.makespanNs, timer.makespan({ hw: base, dtype: 'fp8', tp: 1, phase: 'decode' }));
});

test('simulate: the figures of each kind are its schedules; kept sites report their best depth; fused attention leaves no Softmax candidate', () => {
  const sim = simulate(TINY, applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']), DECODE);
  for (const k of sim.kinds) {
    assert.equal(k.baselineNs, k.baseline.timeline.makespanNs, k.id);
    assert.equal(k.deferredNs, k.deferred.timeline.makespanNs, k.id);
  }
  const decoder = sim.kinds[0]!;
  const attn = decoder.sites.find((d) => d.site.id === 'attn-norm')!;
  // Rotary model: the attention norm may go to linear, rope or attention; each is timed.
  assert.deepEqual(attn.depthNs.map((d) => d.depth), ['linear', 'rope', 'attention']);
  assert.equal(attn.deferredNs, attn.depthNs.find((d) => d.depth === attn.depth)!.ns);
  for (const k of simulate(TINY, applyOverrides(DIMC(), ['vector.gelemsPerSec=1', 'collective.hopLatencyNs=0']), DECODE).kinds) {
    for (const d of k.sites.filter((s) => s.decision === 'keep')) assert.equal(d.deferredNs, Math.min(...d.depthNs.map((x) => x.ns)), `${k.id}/${d.site.id}`);
  }
  // The papers' rewrite: every scale at its linear layer.
  const linearOnly = simulate(TINY, applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']), { ...DECODE, deferDepth: 'linear' });
  for (const d of linearOnly.kinds[0]!.sites) assert.ok(d.depth === null || d.depth === 'linear', `${d.site.id} at ${d.depth}`);
  const flash = simulate(TINY, applyOverrides(DIMC(), ['kernels.attention=flash']), DECODE);
  const softmax = flash.kinds[0]!.sites.find((d) => d.site.id === 'softmax')!;
  assert.equal(softmax.decision, 'ineligible');
  assert.deepEqual([softmax.keptNs, softmax.deferredNs], [flash.kinds[0]!.deferredNs, flash.kinds[0]!.deferredNs]);
});

test('simulate: an encoder runs its prefill; a model without an output head has no head kind; one site alone', () => {
  const encoderKind: LayerKind = { ...KIND, attention: { ...KIND.attention, causal: false }, stack: 'encoder' };
  const encoder = simulate({ ...TINY, topology: 'encoder', layerKinds: [encoderKind], finalNorm: null, lmHead: null }, DIMC(), { ...DECODE, phase: 'prefill', seq: 16, batch: 1 });
  assert.deepEqual(encoder.kinds.map((k) => k.id), ['decoder']);
  assert.ok(encoder.kinds[0]!.baselineNs > 0);
  const noHead = simulate({ ...TINY, lmHead: null }, DIMC(), DECODE);
  assert.deepEqual(noHead.kinds.map((k) => k.id), ['decoder']);
  // The attention norm and q, k, v alone, on slow gathers: deferring lets the projections start at once.
  const hw = applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']);
  const alone = simulateSite(TINY, hw, DECODE, 'attn-norm');
  assert.equal(alone.site.id, 'attn-norm');
  assert.ok(alone.deferredNs < alone.keptNs, `${alone.deferredNs} < ${alone.keptNs}`);
  // A site the first kind lacks is looked up in the next one; an ineligible one is timed kept both ways.
  const second: LayerKind = { ...KIND, id: 'second', norms: [...KIND.norms, { ...rms('post_feedforward_layernorm', 'mlp-post', []), placement: 'sandwich' }], block: 'sandwich' };
  const two = simulateSite({ ...TINY, layerKinds: [KIND, second] }, hw, DECODE, 'mlp-post-norm');
  assert.equal(two.site.norm!.name, 'post_feedforward_layernorm');
  assert.equal(two.deferredNs, two.keptNs);
  assert.throws(() => simulateSite(TINY, hw, DECODE, 'softmax'), /site/);
  assert.throws(() => simulateSite(TINY, hw, DECODE, 'no-such-site'), /no-such-site/);
});

// ---------------------------------------------------------------------------------------------
// Round three: what the second run of `npm run mutate` still found unpinned.
// ---------------------------------------------------------------------------------------------

test('scheduler: equal priorities go to the lowest id, even after the ready list has been reshuffled', () => {
  // Three equal ops on one engine: 0, then 1, then 2 (the ready list holds [2, 1] after 0 leaves it).
  const t = schedule([node(0, 'vector'), node(1, 'vector'), node(2, 'vector')], times([10, 10, 10]));
  assert.deepEqual([...t.start], [0, 10, 20]);
});

test('op times: a gather and an all-reduce carry their hops as latency, every other op none', () => {
  const hw = roundMachine();
  const ops = [
    work({ kind: 'collective', rows: 10, values: 1, units: 16 }, 'collective'),
    work({ kind: 'allreduce', bytes: 4000 }, 'collective'),
    work({ kind: 'vector', elements: 10, ops: 1, exps: 0, rsqrts: 0, divs: 0, bytes: 0 }, 'vector'),
    work({ kind: 'memory', bytes: 1000, tier: 'kv' }, 'memory'),
  ];
  // Tree over 16 units: 8 hops × 50 ns; ring all-reduce over 4 chips: 500 ns fixed + 6 hops × 1,000 ns.
  assert.deepEqual([...opTimes(ops, ctxOf(hw, 4)).latency], [400, 6500, 0, 0]);
  const kept = new GraphTimes(ops);
  kept.update(ctxOf(hw, 4));
  assert.deepEqual([...kept.latency], [400, 6500, 0, 0]);
});

test('simulate: kinds carry their labels; an ineligible site has no depths; the linear-only rewrite still defers', () => {
  const hw = applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']);
  const sim = simulate(TINY, hw, DECODE);
  assert.deepEqual(sim.kinds.map((k) => [k.id, k.label, k.layers]), [['decoder', 'tiny', [0, 1, 2]], ['head', 'norm → lm_head', [3]]]);
  const flash = simulate(TINY, applyOverrides(hw, ['kernels.attention=flash']), DECODE);
  assert.deepEqual(flash.kinds[0]!.sites.find((d) => d.site.id === 'softmax')!.depthNs, []);
  // The papers' rewrite on slow gathers: both norm sites deferred, at the linear layer.
  const linear = simulate(TINY, hw, { ...DECODE, deferDepth: 'linear' });
  const norms = linear.kinds[0]!.sites.filter((d) => d.site.norm);
  assert.deepEqual(norms.map((d) => [d.site.id, d.decision, d.depth, d.depthNs.map((x) => x.depth)]), [
    ['attn-norm', 'defer', 'linear', ['linear']],
    ['mlp-norm', 'defer', 'linear', ['linear']],
  ]);
});

test('simulate: the errors say what was expected', () => {
  // dimc has matrix rates for fp8, int8 and int4 only.
  assert.throws(() => simulate(TINY, DIMC(), { ...DECODE, dtype: 'bf16' }), (e: Error) => /"dimc"/.test(e.message) && /fp8, int8, int4/.test(e.message));
  assert.throws(() => simulateSite(TINY, DIMC(), DECODE, 'nope'), (e: Error) => /the id of a norm site of this model \(e\.g\. attn-norm, mlp-norm\)/.test(e.message));
});

test('simulateSite: the norm and its linears alone, kept and with the scale right after the linears', () => {
  const hw = applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']);
  const ctx = graphContext(hw, DECODE, 'fp8');
  const site = layerSites(KIND, 'eager', 'rope').find((s) => s.id === 'attn-norm')!;
  const alone = (choice: string | null) => {
    const g = buildSiteGraph(TINY, KIND, site, ctx, (() => choice) as never);
    return schedule(g.ops, opTimes(g.ops, { hw, dtype: 'fp8', tp: 1, phase: 'decode' })).makespanNs;
  };
  const r = simulateSite(TINY, hw, DECODE, 'attn-norm');
  assert.equal(r.keptNs, alone(null));
  assert.equal(r.deferredNs, alone('linear'));
  // At the linear layer every consumer's output is scaled: q, k and v.
  const g = buildSiteGraph(TINY, KIND, site, ctx, (() => 'linear') as never);
  assert.deepEqual([...new Set(g.ops.filter((op) => op.role === 'norm-scale').map((op) => op.name.split('.')[0]))], ['q_proj', 'k_proj', 'v_proj']);
});

// ---------------------------------------------------------------------------------------------
// Round three: what a sweep keeps from one machine to the next (`npm run mutate` found that a
// stale cache left every test in this suite green; sim-speed-equivalence.test.ts checks it too,
// but is too slow to run against every mutant).
// ---------------------------------------------------------------------------------------------

/** Every figure simulate states of a kind: makespans, collective-free references, decisions. */
const figuresOf = (s: ReturnType<typeof simulate>) =>
  s.kinds.map((k) => ({
    id: k.id,
    baselineNs: k.baselineNs,
    deferredNs: k.deferredNs,
    baselineFreeNs: k.baselineFreeNs,
    deferredFreeNs: k.deferredFreeNs,
    sites: k.sites.map((d) => ({ id: d.site.id, decision: d.decision, depth: d.depth, keptNs: d.keptNs, deferredNs: d.deferredNs, depthNs: d.depthNs })),
  }));

test('a sweep that keeps graphs across machines gives, at every machine, the figures of a simulation from scratch', async () => {
  const llama = await loadFixture('Llama-3.1-8B');
  // One number changed at a time (busy times only, network latencies only, memory holds only), several
  // together, and back to machines seen before, so that a figure kept from the wrong machine shows.
  for (const [preset, changes] of [
    // A ring, or fewer units, changes the hops a gather counts (2·⌈log2 P⌉ on a tree, 2·(P − 1) on a ring).
    ['dimc', ['collective.hopLatencyNs=400', 'vector.gelemsPerSec=64', 'matrix.efficiency=0.05', 'collective.topology=ring', 'computeUnits=64', 'collective.bandwidthGBps=1']],
    // 0.7 of the bandwidth leaves a compute-bound prefill matmul's time as it was and changes only its
    // hold on the memory system; the inter-chip latency reaches only TP's all-reduces.
    ['gpu-h100', ['memory.efficiency=0.1', 'memory.efficiency=0.7', 'collective.hopLatencyNs=5000', 'collective.interChip.hopLatencyNs=20000', 'vector.gelemsPerSec=10', 'matrix.efficiency=0.9']],
  ] as const) {
    const base = applyOverrides(getPreset(preset), ['kernels.attention=eager']);
    const one = changes.map((c) => applyOverrides(base, [c]));
    const machines = [base, ...one.flatMap((m) => [m, base]), applyOverrides(base, [...changes]), ...one.slice().reverse(), base];
    for (const [spec, w] of [
      [TINY, DECODE],
      [llama, { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 16, context: 4096 }],
      [llama, { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 4, seq: 2048 }],
      [llama, { ...DEFAULT_WORKLOAD, phase: 'decode', batch: 8, context: 1024, tp: 2 }],
    ] as const) {
      const graphs = new Map();
      const seen = new Set<string>();
      for (const [i, hw] of machines.entries()) {
        const kept = figuresOf(simulate(spec, hw, w, { graphs }));
        const fresh = figuresOf(simulate(spec, hw, w));
        assert.deepEqual(kept, fresh, `${preset} ${spec.name} ${w.phase}, machine ${i}`);
        seen.add(JSON.stringify(fresh.map((k) => k.deferredNs)));
      }
      assert.ok(seen.size >= changes.length - 2, `${preset} ${spec.name}: the machines differ in their figures (${seen.size} distinct)`);
    }
  }
});

test('simulate: a post-norm site is ineligible, never searched; simulateSite gives it the kept time both ways', async () => {
  // BERT's two LayerNorms follow the residual adds (post-norm): the normalized vector is the residual
  // stream itself, so nothing can be deferred; its Softmax still can.
  const bert = await loadFixture('bert-base-uncased');
  const w: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 128 };
  const hw = applyOverrides(DIMC(), ['collective.hopLatencyNs=5000']);
  const sim = simulate(bert, hw, w);
  const sites = sim.kinds[0]!.sites;
  for (const id of ['attn-post-norm', 'mlp-post-norm']) {
    const d = sites.find((s) => s.site.id === id)!;
    assert.deepEqual([d.decision, d.depth, d.depthNs], ['ineligible', null, []], id);
    // Its figures are the layer as decided, with and without it alike.
    assert.equal(d.keptNs, sim.kinds[0]!.deferredNs, id);
    assert.equal(d.deferredNs, d.keptNs, id);
    const alone = simulateSite(bert, hw, w, id);
    assert.equal(alone.deferredNs, alone.keptNs, `${id} alone`);
  }
  assert.equal(sites.find((s) => s.site.id === 'softmax')!.decision, 'defer');
});
