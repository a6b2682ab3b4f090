/**
 * Shape-dependent GEMM efficiency (issue 19): a GEMM's output tiles fill the SMs in waves, and a grid
 * under one wave may be split along K at the price of its partial sums and a reduction kernel (CUTLASS's
 * parallel split-K). Expected values come from DeepGEMM's README and vLLM PR 49363's H100 measurements,
 * or by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Op } from '../../src/core/graph/ops';
import { getPreset } from '../../src/core/hardware/presets';
import { gridFill, maxSplits, opDurationNs, type CostContext } from '../../src/core/sim/costs';

test("DeepGEMM's example: M = 256, N = 7168 in 128 × 128 tiles keeps 112 of 132 SMs busy", () => {
  // (256 / 128) · (7168 / 128) = 112 tiles, one wave of 132 SMs, every tile full.
  assert.equal(gridFill(256, 7168, 128, 128, 132), 112 / 132);
});

test('a last partial wave and a tile sticking out past M cost as much as full ones', () => {
  // M = 2048, N = 4096 on 108 SMs: 16 · 32 = 512 tiles, ⌈512 / 108⌉ = 5 waves of 108: 512 / 540 busy.
  assert.equal(gridFill(2048, 4096, 128, 128, 108), 512 / 540);
  // M = 200 needs 2 row tiles of 128 (the second 72 of 128 rows used): 2 · 56 = 112 tiles, one wave.
  assert.equal(gridFill(200, 7168, 128, 128, 132), (200 * 7168) / (132 * 128 * 128));
});

test('few rows run in a 16-, 32- or 64-row tile; a grid under one wave has room for K slices', () => {
  // M = 64, N = 12288 on 132 SMs: 64-row tiles, 96 tiles, no room for a second K slice: 96 / 132 busy.
  assert.equal(gridFill(64, 12288, 128, 128, 132), 96 / 132);
  assert.equal(maxSplits(64, 12288, 128, 128, 132), 1);
  // M = 1, N = 4096 on 108 SMs: a 16-row tile with 1 row used, 32 tiles; ⌊108 / 32⌋ = 3 K slices fit in one wave.
  assert.equal(maxSplits(1, 4096, 128, 128, 108), 3);
  assert.equal(gridFill(1, 4096, 128, 128, 108, 3), (1 * 4096 * 3) / (108 * 16 * 128));
  // One slice more than fits takes a second wave: 128 slots of 216 hold work.
  assert.equal(gridFill(1, 4096, 128, 128, 108, 4), (1 * 4096 * 4) / (2 * 108 * 16 * 128));
});

/** A linear's GEMM as one op (or the share `part` of it, a tile of the graph split by columns). */
function linear(m: number, k: number, n: number, bytesPerWeight: number, part = 1, continues = false): Op {
  return {
    id: 0,
    name: 'x',
    role: 'linear',
    engine: 'matrix',
    category: 'linear',
    work: { kind: 'matmul', m, k, n: n * part, bytes: k * n * bytesPerWeight * part, tier: 'weights', exps: 0, gemm: { m, n } },
    deps: [],
    continues,
  };
}

test('split-K: a small grid that is compute-bound splits K, and pays its fp32 partial sums and a reduction kernel', () => {
  // Llama-2-70B's q_proj at TP 4 in FP8 on an H100, 128 prompt tokens: M = 128, K = 8192, N = 2048.
  const hw = getPreset('gpu-h100');
  const c: CostContext = { hw, dtype: 'fp8', tp: 1, phase: 'prefill' };
  const launch = hw.matrix.startLatencyNs;
  // By hand: 16 tiles of 128 × 128 on 132 SMs, so up to ⌊132 / 16⌋ = 8 slices fit in one wave.
  // Unsplit: 2 · 128 · 8192 · 2048 FLOPs at efficiency × 1,978.9 TFLOP/s on 16/132 of the SMs.
  const flops = 2 * 128 * 8192 * 2048;
  const rate = hw.matrix.efficiency * 1978.9e12;
  const computeNs = (slices: number) => ((flops / rate) * 1e9 * 132) / (16 * slices);
  // The weights stream once: 8192 · 2048 bytes of FP8 at memory.efficiency × 3,350 GB/s.
  const bandwidth = hw.memory.efficiency * 3350;
  const streamNs = (8192 * 2048) / bandwidth;
  // Each slice writes 128 · 2048 fp32 partial sums (1 MiB) and the reduction kernel reads them back.
  const sliceNs = (128 * 2048 * 4) / bandwidth;
  const split = (s: number) => Math.max(computeNs(s), streamNs + s * sliceNs) + s * sliceNs + hw.vector.startLatencyNs;
  const unsplit = Math.max(computeNs(1), streamNs);
  // The unsplit kernel is compute-bound (about 34 µs against a 6.6 µs stream); 4 slices bring it near the stream.
  assert.ok(computeNs(1) > 5 * streamNs);
  assert.ok(split(4) < split(3) && split(4) < split(5) && split(4) < unsplit, `${split(3)} ${split(4)} ${split(5)} ${unsplit}`);
  assert.ok(Math.abs(opDurationNs(linear(128, 8192, 2048, 1), c) - (launch + split(4))) < 1e-6 * split(4));
  // A free split (the model before its cost was counted) took all 8 slices: the costed one is slower by at least
  // the reduction kernel's launch.
  assert.ok(split(4) - Math.max(computeNs(8), streamNs) >= hw.vector.startLatencyNs);
});

test('split-K: a memory-bound GEMM (a decode step) is not split, so it costs its launch and its weight stream', () => {
  // Llama-2-7B's q_proj at batch 1 on an A100, outside a graph: M = 1, K = N = 4096, BF16 weights.
  const hw = getPreset('gpu-a100');
  const c: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
  // By hand: 32 tiles of 16 rows (1 used) · 128 columns; unsplit they keep 32 · 1 · 128 of 108 · 16 · 128 slots
  // busy: 2 · 4096 · 4096 FLOPs at efficiency · 312 TFLOP/s ÷ (32 / (108 · 16)) (7.7 µs at 0.755), under the
  // stream at efficiency · 2,039 GB/s (21.6 µs at 0.76).
  const stream = (4096 * 4096 * 2) / (hw.memory.efficiency * 2039);
  const compute = ((2 * 4096 * 4096) / (hw.matrix.efficiency * 312e12)) * 1e9 * ((108 * 16) / 32);
  assert.ok(compute < stream);
  assert.ok(Math.abs(opDurationNs(linear(1, 4096, 4096, 2), c) - (hw.matrix.startLatencyNs + stream)) < 1e-6 * stream);
});

test('split-K: a GEMM cut into the graph\'s tiles costs, summed over them, what it costs whole', () => {
  const hw = getPreset('gpu-h100');
  const c: CostContext = { hw, dtype: 'fp8', tp: 1, phase: 'prefill' };
  const whole = opDurationNs(linear(128, 8192, 2048, 1), c);
  // Four column tiles: the first pays the GEMM's launch and the reduction kernel's, each a quarter of the rest.
  const tiles = [0, 1, 2, 3].map((t) => opDurationNs(linear(128, 8192, 2048, 1, 1 / 4, t > 0), c));
  assert.ok(Math.abs(tiles.reduce((a, b) => a + b, 0) - whole) < 1e-6 * whole, `${tiles} vs ${whole}`);
  assert.ok(tiles[0]! > tiles[1]! && tiles[1] === tiles[3]);
});

test("vLLM PR 49363: H100 BF16 at N = 12288, K = 5376 takes the same time from M = 16 to 128, so TFLOP/s grow with M", () => {
  // Published (torch-bf16): 46.54, 182.6, 352.6 TFLOP/s at M = 16, 64, 128: 45.4, 46.3 and 48.0 µs, flat within 6%.
  const hw = getPreset('gpu-h100');
  const c: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
  const bytes = 12288 * 5376 * 2;
  const t = (m: number) => opDurationNs(linear(m, 5376, 12288, 2), c) - hw.matrix.startLatencyNs;
  // By hand: at M = 128, one wave of 96 full tiles: 2 · 128 · 5376 · 12288 FLOPs at efficiency · 989.4 TFLOP/s × 96/132
  // (44.3 µs at 0.53), under the 132.1 MB weight stream at efficiency · 3,350 GB/s (51.9 µs at 0.76): the stream sets the time.
  const stream = bytes / (hw.memory.efficiency * 3350);
  const compute128 = ((2 * 128 * 5376 * 12288) / (hw.matrix.efficiency * 989.4e12 * (96 / 132))) * 1e9;
  assert.ok(compute128 < stream);
  for (const m of [16, 64, 128]) assert.ok(Math.abs(t(m) - stream) < 1e-6 * stream, `M = ${m}: ${t(m)} ns vs ${stream}`);
  // Hence TFLOP/s ∝ M, as published: 46.54 / 352.6 = 0.132 and 182.6 / 352.6 = 0.518 against 16/128 and 64/128.
  const tflops = (m: number) => (2 * m * 5376 * 12288) / t(m);
  assert.ok(Math.abs(tflops(16) / tflops(128) / (46.54 / 352.6) - 1) < 0.1);
  assert.ok(Math.abs(tflops(64) / tflops(128) / (182.6 / 352.6) - 1) < 0.1);
});

test('a profile without tiles (in-memory compute) reaches its efficiency at every shape', () => {
  const hw = getPreset('dimc');
  assert.equal(hw.matrix.tileM, undefined);
  const c: CostContext = { hw, dtype: hw.defaultDtype, tp: 1, phase: 'prefill' };
  const op = (gemm?: { m: number; n: number }): Op => ({ id: 0, name: 'x', role: 'linear', engine: 'matrix', category: 'linear', work: { kind: 'matmul', m: 1, k: 4096, n: 4096, bytes: 0, tier: 'weights', exps: 0, ...(gemm ? { gemm } : {}) }, deps: [] });
  assert.equal(opDurationNs(op({ m: 1, n: 4096 }), c), opDurationNs(op(), c));
});
