/**
 * Shape-dependent GEMM efficiency (issue 19): a GEMM's output tiles fill the SMs in waves. Expected
 * values come from DeepGEMM's README and vLLM PR 49363's H100 measurements, or by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Op } from '../../src/core/graph/ops';
import { getPreset } from '../../src/core/hardware/presets';
import { opDurationNs, waveFill, type CostContext } from '../../src/core/sim/costs';

test("DeepGEMM's example: M = 256, N = 7168 in 128 × 128 tiles keeps 112 of 132 SMs busy", () => {
  // (256 / 128) · (7168 / 128) = 112 tiles, one wave of 132 SMs, every tile full.
  assert.equal(waveFill(256, 7168, 128, 128, 132), 112 / 132);
});

test('a last partial wave and a tile sticking out past M cost as much as full ones', () => {
  // M = 2048, N = 4096 on 108 SMs: 16 · 32 = 512 tiles, ⌈512 / 108⌉ = 5 waves of 108: 512 / 540 busy.
  assert.equal(waveFill(2048, 4096, 128, 128, 108), 512 / 540);
  // M = 200 needs 2 row tiles of 128 (the second 72 of 128 rows used): 2 · 56 = 112 tiles, one wave.
  assert.equal(waveFill(200, 7168, 128, 128, 132), (200 * 7168) / (132 * 128 * 128));
});

test('few rows run in a 16-, 32- or 64-row tile; a grid under one wave splits K to fill the SMs', () => {
  // M = 64, N = 12288 on 132 SMs: 64-row tiles, 96 tiles, no room for a second K slice: 96 / 132 busy.
  assert.equal(waveFill(64, 12288, 128, 128, 132), 96 / 132);
  // M = 1, N = 4096 on 108 SMs: a 16-row tile with 1 row used, 32 tiles split 3 ways along K: 96 of 108 slots, 1/16 of each.
  assert.equal(waveFill(1, 4096, 128, 128, 108), (1 * 4096 * 3) / (108 * 16 * 128));
});

test("vLLM PR 49363: H100 BF16 at N = 12288, K = 5376 takes the same time from M = 16 to 128, so TFLOP/s grow with M", () => {
  // Published (torch-bf16): 46.54, 182.6, 352.6 TFLOP/s at M = 16, 64, 128: 45.4, 46.3 and 48.0 µs, flat within 6%.
  const hw = getPreset('gpu-h100');
  const c: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
  const bytes = 12288 * 5376 * 2;
  const gemm = (m: number): Op => ({ id: 0, name: 'x', role: 'linear', engine: 'matrix', category: 'linear', work: { kind: 'matmul', m, k: 5376, n: 12288, bytes, tier: 'weights', exps: 0, gemm: { m, n: 12288 } }, deps: [] });
  const t = (m: number) => opDurationNs(gemm(m), c) - hw.matrix.startLatencyNs;
  // By hand: at M = 128, one wave of 96 full tiles: 2 · 128 · 5376 · 12288 FLOPs at 0.52 · 989.4 TFLOP/s × 96/132
  // = 45.20 µs of compute, under the 132.1 MB weight stream at 0.765 · 3,350 GB/s = 51.55 µs: the stream sets the time.
  const stream = bytes / (0.765 * 3350);
  const compute128 = ((2 * 128 * 5376 * 12288) / (0.52 * 989.4e12 * (96 / 132))) * 1e9;
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
