/**
 * The fast paths give the plain path's figures exactly (issue 10, Speed): a sweep that reuses graphs,
 * op times and makespans across machines (timing.ts), the makespans the site search takes without
 * keeping timelines, the collective-free references, and the CLI's sweep on two threads
 * (sweep-parallel.ts). Values are compared with strict equality, never within a tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildHeadGraph, buildLayerGraph } from '../../src/core/graph/layer';
import type { LayerGraph } from '../../src/core/graph/ops';
import type { DeferDepth } from '../../src/core/terms';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import type { ModelSpec } from '../../src/core/model/spec';
import { totalsOfSimulation } from '../../src/core/report/profile';
import { runSweep, type SweepGrid } from '../../src/core/report/sweep';
import { GraphTimes, opTimes, type CostContext } from '../../src/core/sim/costs';
import { makespanOf, schedule } from '../../src/core/sim/scheduler';
import { graphContext, simulate, type Simulation } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, validateWorkload, type Workload } from '../../src/core/workload';
import { fixturePath, loadFixture } from './helpers/fixtures';

/** Dense, GQA with RoPE, MoE with MLA, encoder-decoder, encoder-only, sliding window. */
const MODELS = ['Llama-3.1-8B', 'Qwen3-30B-A3B', 'DeepSeek-V3', 't5-small', 'bert-base-uncased', 'Gemma-2b', 'Mistral-7B-v0.1'];

const workloadFor = (spec: ModelSpec, w: Partial<Workload>): Workload => ({ ...DEFAULT_WORKLOAD, ...(spec.topology === 'encoder' ? { phase: 'prefill' as const, seq: 256 } : {}), ...w });

/** The makespan of a graph the plain way: op times, then a full schedule. */
const plainNs = (graph: LayerGraph, c: CostContext): number => schedule(graph.ops, opTimes(graph.ops, c)).makespanNs;

/** The same with every statistic gather free, as simulate defines its reference. */
function plainFreeNs(graph: LayerGraph, c: CostContext): number {
  const times = opTimes(graph.ops, c);
  const busy = times.busy.slice();
  const latency = times.latency.slice();
  graph.ops.forEach((op, i) => {
    if (op.category === 'stat-collective') busy[i] = latency[i] = 0;
  });
  return schedule(graph.ops, { busy, latency, memory: times.memory }).makespanNs;
}

/**
 * Every makespan a simulation states, recomputed the plain way from graphs built here: the runs it
 * keeps, the collective-free references, and each site's kept and per-depth figures.
 */
function checkAgainstPlain(spec: ModelSpec, hw: HardwareProfile, w: Workload, sim: Simulation, where: string): void {
  const ctx = graphContext(hw, w, sim.dtype);
  const c: CostContext = { hw, dtype: sim.dtype, tp: w.tp, phase: w.phase };
  for (const k of sim.kinds) {
    const at = `${where}, ${k.id}`;
    const kind = spec.layerKinds.find((l) => l.id === k.id);
    const graphAt = (depths: Record<string, DeferDepth | null>): LayerGraph => {
      const defer = (id: string) => depths[id] ?? null;
      return kind ? buildLayerGraph(spec, kind, ctx, defer) : buildHeadGraph(spec, ctx, defer)!;
    };
    const chosen: Record<string, DeferDepth | null> = Object.fromEntries(k.sites.map((d) => [d.site.id, d.depth]));
    const none = graphAt({});
    const deferred = graphAt(chosen);
    assert.equal(k.baselineNs, plainNs(none, c), `${at}: baseline`);
    assert.equal(k.deferredNs, plainNs(deferred, c), `${at}: deferred`);
    assert.equal(k.baseline.timeline.makespanNs, k.baselineNs, `${at}: baseline run`);
    assert.equal(k.deferred.timeline.makespanNs, k.deferredNs, `${at}: deferred run`);
    assert.equal(k.baselineFreeNs, plainFreeNs(none, c), `${at}: baseline, gathers free`);
    assert.equal(k.deferredFreeNs, plainFreeNs(deferred, c), `${at}: deferred, gathers free`);
    for (const d of k.sites) {
      if (d.decision === 'ineligible') continue;
      assert.equal(d.keptNs, plainNs(graphAt({ ...chosen, [d.site.id]: null }), c), `${at}: ${d.site.id} kept`);
      for (const { depth, ns } of d.depthNs) assert.equal(ns, plainNs(graphAt({ ...chosen, [d.site.id]: depth }), c), `${at}: ${d.site.id} at ${depth}`);
    }
  }
}

test('a simulation states the makespans the plain schedule gives, for every site choice it reports (also when asked for the totals only)', async () => {
  for (const name of MODELS) {
    const spec = await loadFixture(name);
    for (const preset of ['dimc', 'gpu-h100', 'tpu-v5e', 'gpu-t4']) {
      const hw = getPreset(preset);
      for (const w of [{}, { batch: 1, context: 128, softmaxOffset: 'exact' as const, tiles: 1 }, { phase: 'prefill' as const, batch: 2, seq: 300 }, { tp: 2 }]) {
        const workload = workloadFor(spec, w);
        checkAgainstPlain(spec, hw, workload, simulate(spec, hw, workload), `${name} on ${preset}, ${JSON.stringify(w)}`);
        // Its rejected trials stopped early, then read in full: the sites' figures must come out the same.
        checkAgainstPlain(spec, hw, workload, simulate(spec, hw, workload, { totalsOnly: true }), `${name} on ${preset}, ${JSON.stringify(w)}, totals only`);
      }
    }
  }
});

test('graphs reused across machines, in any order, give what fresh graphs give', async () => {
  const base = getPreset('dimc');
  const machines: [string, HardwareProfile][] = [
    ['dimc', base],
    ['hop latency 0', applyOverrides(base, ['collective.hopLatencyNs=0'])],
    ['hop latency 500', applyOverrides(base, ['collective.hopLatencyNs=500'])],
    ['ring', applyOverrides(base, ['collective.topology=ring'])],
    ['vector start latency', applyOverrides(base, ['vector.startLatencyNs=2000'])],
    ['inter-chip latency (no effect at TP 1)', applyOverrides(base, ['collective.interChip.hopLatencyNs=7'])],
    ['dimc again', base],
    ['hop latency 0 again', applyOverrides(base, ['collective.hopLatencyNs=0'])],
    ['gpu-h100', getPreset('gpu-h100')],
    ['gpu-h100, memory efficiency', applyOverrides(getPreset('gpu-h100'), ['memory.efficiency=0.5'])],
    ['gpu-h100, hop latency', applyOverrides(getPreset('gpu-h100'), ['collective.hopLatencyNs=3000'])],
  ];
  for (const name of MODELS) {
    const spec = await loadFixture(name);
    for (const w of [{}, { tp: 2, batch: 4 }, { phase: 'prefill' as const, seq: 128 }]) {
      const workload = workloadFor(spec, w);
      const graphs = new Map<string, Map<string, LayerGraph>>();
      // Twice through, so that every machine follows every other with the same graphs.
      for (const round of [1, 2]) {
        for (const [label, hw] of round === 1 ? machines : [...machines].reverse()) {
          const where = `${name}, ${JSON.stringify(w)}, ${label} (round ${round})`;
          const cached = simulate(spec, hw, workload, { graphs });
          const fresh = simulate(spec, hw, workload);
          assert.deepEqual(totalsOfSimulation(cached), totalsOfSimulation(fresh), where);
          assert.deepEqual(
            cached.kinds.map((k) => k.sites.map((d) => [d.decision, d.depth, d.keptNs, d.deferredNs, d.depthNs])),
            fresh.kinds.map((k) => k.sites.map((d) => [d.decision, d.depth, d.keptNs, d.deferredNs, d.depthNs])),
            where,
          );
          if (round === 2) checkAgainstPlain(spec, hw, workload, cached, where);
        }
      }
    }
  }
});

test('a sweep gives, point for point, the totals of simulating each point alone', async () => {
  const cases: [string, string, Partial<Workload>, SweepGrid][] = [
    ['Llama-3.1-8B', 'dimc', {}, { seq: [2048], batch: [1, 8, 64], context: [128, 4096], tp: [1, 2], ranges: ['collective.hopLatencyNs=0,40,96,200'] }],
    ['DeepSeek-V3', 'dimc', {}, { seq: [2048], batch: [1, 32], context: [512], tp: [1], ranges: ['collective.hopLatencyNs=0,96', 'vector.gelemsPerSec=100,400'] }],
    ['Mistral-7B-v0.1', 'gpu-h100', { phase: 'prefill' }, { seq: [16, 1024, 8192], batch: [1, 4], context: [2048], tp: [1], ranges: ['memory.efficiency=0.5,0.9', 'kernels.launch=per-kernel,graph-in-decode'] }],
    ['t5-small', 'tpu-v5e', { phase: 'prefill', softmaxOffset: 'exact' }, { seq: [8, 512], batch: [1, 16], context: [2048], tp: [1], ranges: ['collective.topology=tree,ring'] }],
  ];
  for (const [name, preset, w, grid] of cases) {
    const spec = await loadFixture(name);
    const hw = getPreset(preset);
    const base = workloadFor(spec, w);
    const points = runSweep(spec, hw, base, grid);
    let i = 0;
    for (const tp of grid.tp) {
      for (const batch of grid.batch) {
        for (const seq of grid.seq) {
          for (const context of grid.context) {
            const workload = validateWorkload({ ...base, tp, batch, seq, context });
            const sets = grid.ranges.map((r) => r.split('=')).reduce<string[][]>((acc, [path, values]) => acc.flatMap((s) => values!.split(',').map((v) => [...s, `${path}=${v}`])), [[]]);
            for (const set of sets) {
              const alone = totalsOfSimulation(simulate(spec, applyOverrides(hw, set), workload));
              const { phase: _p, seq: _s, batch: _b, context: _c, tp: _t, set: _set, ...totals } = points[i++]!;
              assert.deepEqual(totals, alone, `${name}, point ${i - 1}: ${JSON.stringify({ tp, batch, seq, context, set })}`);
            }
          }
        }
      }
    }
    assert.equal(i, points.length, name);
  }
});

test('op times kept across machines equal opTimes; makespanOf equals schedule', async () => {
  const spec = await loadFixture('Qwen3-30B-A3B');
  const w = workloadFor(spec, { tp: 2 });
  const base = getPreset('gpu-h100');
  const ctx = graphContext(base, w, 'bf16');
  const graph = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => null);
  const times = new GraphTimes(graph.ops);
  for (const set of [[], ['collective.hopLatencyNs=10'], ['collective.interChip.hopLatencyNs=9000'], [], ['matrix.efficiency=0.3'], ['memory.efficiency=0.2']]) {
    const c: CostContext = { hw: applyOverrides(base, set), dtype: 'bf16', tp: w.tp, phase: w.phase };
    times.update(c);
    const plain = opTimes(graph.ops, c);
    assert.deepEqual([...times.busy, ...times.latency, ...times.memory], [...plain.busy, ...plain.latency, ...plain.memory], set.join());
    assert.equal(makespanOf(graph.ops, times), schedule(graph.ops, plain).makespanNs, set.join());
  }
});

test('a schedule given a limit stops only when its makespan is above the limit', async () => {
  for (const name of ['Llama-3.1-8B', 'DeepSeek-V3', 't5-small']) {
    const spec = await loadFixture(name);
    for (const preset of ['dimc', 'gpu-h100']) {
      const hw = getPreset(preset);
      const w = workloadFor(spec, {});
      const ctx = graphContext(hw, w, hw.defaultDtype);
      const c: CostContext = { hw, dtype: hw.defaultDtype, tp: w.tp, phase: w.phase };
      for (const defer of [() => null, () => 'linear' as const]) {
        const graph = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, defer);
        const times = opTimes(graph.ops, c);
        const ns = schedule(graph.ops, times).makespanNs;
        const below = ns * (1 - 2 ** -40);
        // At or above its makespan the limit never stops a schedule; below it, the result is the makespan or +∞.
        for (const limit of [ns, ns + 1, 2 * ns, Infinity]) assert.equal(makespanOf(graph.ops, times, limit), ns, `${name} on ${preset}: limit ${limit}`);
        for (const limit of [below, ns / 2, 0]) assert.ok([ns, Infinity].includes(makespanOf(graph.ops, times, limit)), `${name} on ${preset}: limit ${limit}`);
      }
    }
  }
});

test('the site figures of a sweep, read after later machines, are the plain ones', async () => {
  // A sweep's search stops the schedules of losing trials; the figures reports read are then worked
  // out when read, on graphs whose times have since moved to other machines.
  const spec = await loadFixture('Llama-3.1-8B');
  const base = getPreset('dimc');
  const workload = workloadFor(spec, { batch: 8, context: 1024 });
  const graphs = new Map<string, Map<string, LayerGraph>>();
  const machines = [0, 40, 120, 400].map((ns) => applyOverrides(base, [`collective.hopLatencyNs=${ns}`]));
  const sims = machines.map((hw) => simulate(spec, hw, workload, { graphs }));
  machines.forEach((hw, i) => checkAgainstPlain(spec, hw, workload, sims[i]!, `hop latency machine ${i}, read afterwards`));
});

test('the CLI sweep on two threads prints what one thread computes', async () => {
  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  const name = 'Llama-3.2-1B-Instruct';
  const batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
  const contexts = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
  const hops = Array.from({ length: 32 }, (_, i) => i * 7);
  const args = ['sweep', fixturePath(name), '--tp', '1', '--batch', batches.join(','), '--context', contexts.join(','), '--set-range', `collective.hopLatencyNs=${hops.join(',')}`, '--format', 'json'];
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, DEFERRED_NORM_SWEEP_THREADS: '2' } });
  assert.equal(r.status, 0, r.stderr);
  const spec = await loadFixture(name);
  const grid = { seq: [DEFAULT_WORKLOAD.seq], batch: batches, context: contexts, tp: [1], ranges: [`collective.hopLatencyNs=${hops.join(',')}`] };
  const expected = runSweep(spec, getPreset('dimc'), DEFAULT_WORKLOAD, grid);
  assert.equal(expected.length, 3200);
  // JSON carries every double exactly (shortest round-trip form).
  assert.deepEqual(JSON.parse(r.stdout), JSON.parse(JSON.stringify(expected)));
});
