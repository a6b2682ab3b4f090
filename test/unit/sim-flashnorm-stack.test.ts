/**
 * FlashNorm's measured stack as kernel choices (issue 19): its hand-written eager RMSNorm, its
 * inv_rms on a second stream from 512 rows, and the host's per-op dispatch and stream join. Every
 * expected value is worked out here from the notebook's code (OpenMachine-ai/transformer-tricks,
 * notebooks/flashNorm_gpu_benchmark.ipynb, bench_norm_proj), not read back from the simulator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSiteGraph } from '../../src/core/graph/layer';
import { layerSites } from '../../src/core/graph/sites';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import type { ModelSpec } from '../../src/core/model/spec';
import { graphContext, simulateSite } from '../../src/core/sim/simulate';
import { opDurationNs } from '../../src/core/sim/costs';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const STACK = ['kernels.norm=eager', 'kernels.launch=per-kernel', 'matrix.fusedEpilogue=false'];
const t4 = (extra: string[] = []): HardwareProfile => applyOverrides(getPreset('gpu-t4'), [...STACK, ...extra]);
const prefill = (seq: number): Workload => ({ ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq, tp: 1, dtype: 'fp16' });

function siteGraph(spec: ModelSpec, hw: HardwareProfile, seq: number, deferred: boolean) {
  const kind = spec.layerKinds[0]!;
  const site = layerSites(kind, hw.kernels.attention, spec.positions).find((s) => s.id === 'attn-norm')!;
  return buildSiteGraph(spec, kind, site, graphContext(hw, prefill(seq), 'fp16'), () => (deferred ? 'linear' : null));
}

test("FlashNorm's hand-written RMSNorm moves 26 bytes per element at fp16, Hugging Face's 36", async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const bytesPerElement = (extra: string[]) => {
    const ops = siteGraph(spec, t4(extra), 4096, false).ops.filter((o) => o.category === 'norm-stat' || o.category === 'norm-apply');
    const x = 4096 * 576;
    // Per-row traffic (statistics, γ) is small beside x: count whole bytes per element.
    return Math.round(ops.reduce((sum, o) => sum + (o.work.kind === 'vector' ? o.work.bytes : 0), 0) / x);
  };
  // Notebook: x.float() 2 + 4, .pow(2) 4 + 4, .mean(-1) 4; x * irms 2 + 2, * norm_w 2 + 2 = 26.
  assert.equal(bytesPerElement(['kernels.eagerNormMultiply=activation']), 26);
  // Hugging Face: the same 18 for the statistic, then x·r in fp32 4 + 4, .to(fp16) 4 + 2, γ· 2 + 2 = 36.
  assert.equal(bytesPerElement([]), 36);
});

test('on a second stream the deferred statistic is one kernel, and the scale one kernel after the whole GEMM', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const ops = siteGraph(spec, t4(['kernels.deferredStatistic=second-stream']), 4096, true).ops;
  const stats = ops.filter((o) => o.category === 'norm-stat');
  assert.equal(stats.length, 1, stats.map((o) => o.name).join(', '));
  // The notebook's out * irms waits for current_stream().wait_stream(s_gemm): one kernel per output.
  const scales = ops.filter((o) => o.role === 'norm-scale');
  const linears = ops.filter((o) => o.role === 'linear');
  assert.equal(scales.length, new Set(linears.map((o) => o.name.replace(/\[.*\]$/, ''))).size);
  for (const s of scales) {
    const mine = linears.filter((l) => l.name.startsWith(s.name.replace('.scale', '')));
    assert.ok(mine.length > 0 && mine.every((l) => s.deps.includes(l.id)), s.name);
  }
  // Under norm-kernels the eager chain runs beside the matmul, as before: five kernels.
  assert.equal(siteGraph(spec, t4(), 4096, true).ops.filter((o) => o.category === 'norm-stat').length, 5);
});

test('second-stream-from-512: below 512 token rows deferral is the sequential norm, so decode-sized batches save nothing', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const hw = t4(['kernels.deferredStatistic=second-stream-from-512', 'kernels.eagerNormMultiply=activation']);
  for (const seq of [1, 64, 256, 511]) {
    const s = simulateSite(spec, hw, prefill(seq), 'attn-norm');
    assert.equal(s.deferredNs, s.keptNs, `${seq} rows`);
  }
  const s = simulateSite(spec, hw, prefill(512), 'attn-norm');
  assert.ok(s.deferredNs < s.keptNs, `512 rows: ${s.deferredNs} vs ${s.keptNs}`);
  // second-stream (no threshold) defers at 64 rows too.
  const small = simulateSite(spec, t4(['kernels.deferredStatistic=second-stream']), prefill(64), 'attn-norm');
  assert.notEqual(small.deferredNs, small.keptNs);
});

test('a kernel outside a graph pays the host dispatch on top of its launch; the join of a second stream is paid once', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const base = t4(['kernels.deferredStatistic=second-stream']);
  const hw = applyOverrides(base, ['kernels.dispatchNs=10000', 'kernels.streamJoinNs=100000']);
  const ops = siteGraph(spec, hw, 4096, true).ops;
  const c = (h: HardwareProfile) => ({ hw: h, dtype: 'fp16' as const, tp: 1, phase: 'prefill' as const });
  const stat = ops.find((o) => o.category === 'norm-stat')!;
  // 3 µs launch (vector.startLatencyNs) + 10 µs dispatch: 10,000 ns more than without dispatch.
  assert.equal(opDurationNs(stat, c(hw)) - opDurationNs(stat, c(base)), 10000);
  const scales = ops.filter((o) => o.role === 'norm-scale');
  const extra = scales.map((o) => Math.round(opDurationNs(o, c(hw)) - opDurationNs(o, c(base))));
  // One scale joins the stream (10 µs dispatch + 100 µs join); the others pay their dispatch only.
  assert.deepEqual([...extra].sort((a, b) => b - a), [110000, ...Array(scales.length - 1).fill(10000)]);
  // In decode under a captured graph neither host cost exists.
  const graph = applyOverrides(hw, ['kernels.launch=graph-in-decode']);
  const decode = { hw: graph, dtype: 'fp16' as const, tp: 1, phase: 'decode' as const };
  assert.equal(opDurationNs(scales[0]!, decode), opDurationNs(scales[0]!, { ...decode, hw: applyOverrides(graph, ['kernels.dispatchNs=0', 'kernels.streamJoinNs=0']) }));
});
