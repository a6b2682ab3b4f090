/**
 * Fixed costs per kernel (issue 19): a launched kernel pays the launch that was measured (4-6 µs
 * per back-to-back submission, pegainfer), a kernel in a captured decode graph pays the graph's cost
 * instead, and an eager PyTorch stack adds its Python dispatch per op. Values by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Op } from '../../src/core/graph/ops';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { opDurationNs, type CostContext } from '../../src/core/sim/costs';

const tinyVector: Op = { id: 0, name: 'x', role: 'residual', engine: 'vector', category: 'elementwise', work: { kind: 'vector', elements: 1, ops: 1, exps: 0, rsqrts: 0, divs: 0, bytes: 0 }, deps: [] };
const tinyMatmul: Op = { id: 0, name: 'y', role: 'linear', engine: 'matrix', category: 'linear', work: { kind: 'matmul', m: 1, k: 1, n: 1, bytes: 0, tier: 'weights', exps: 0 }, deps: [] };

test('on the serving GPUs a launched kernel costs the measured 4-6 µs; one in a captured decode graph its graph cost', () => {
  for (const name of ['gpu-a100', 'gpu-h100']) {
    const hw = getPreset(name);
    const prefill: CostContext = { hw, dtype: 'bf16', tp: 1, phase: 'prefill' };
    for (const op of [tinyVector, tinyMatmul]) {
      // The work itself takes well under a nanosecond: what is left is the launch.
      const ns = opDurationNs(op, prefill);
      assert.ok(ns >= 4000 && ns <= 6001, `${name} ${op.engine}: ${ns} ns`);
      assert.equal(Math.round(opDurationNs(op, { ...prefill, phase: 'decode' })), hw.kernels.graphKernelNs, `${name} ${op.engine} in a graph`);
    }
  }
});

test('Python dispatch adds to every launched kernel, never to one in a captured graph', () => {
  const hw = applyOverrides(getPreset('gpu-h100'), ['kernels.dispatchNs=7000']);
  const base = getPreset('gpu-h100');
  const c = (h: typeof hw, phase: 'prefill' | 'decode'): CostContext => ({ hw: h, dtype: 'bf16', tp: 1, phase });
  assert.equal(Math.round(opDurationNs(tinyVector, c(hw, 'prefill')) - opDurationNs(tinyVector, c(base, 'prefill'))), 7000);
  assert.equal(opDurationNs(tinyMatmul, c(hw, 'decode')), opDurationNs(tinyMatmul, c(base, 'decode')));
});
