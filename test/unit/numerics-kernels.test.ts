import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FP64,
  NormParams,
  foldLayerNorm,
  foldNorm,
  kernelConfig,
  matmulAccumulate,
  normLinearBaseline,
  normLinearDeferred,
  normScales,
  normalizeRows,
  linear,
  scaledLinear,
  storeFolded,
} from '../../src/core/numerics/kernels';
import { softmaxVBaseline, softmaxVDeferred } from '../../src/core/numerics/softmax-kernels';
import { activations, attention, attentionUnit, betaVector, biasVector, gammaVector, weight } from '../../src/core/numerics/inputs';
import { WeightPool } from '../../src/core/numerics/norm-sites';
import { relErrorStats } from '../../src/core/numerics/metrics';
import { roundArray, roundBf16 } from '../../src/core/numerics/floats';
import { createRng, deriveSeed } from '../../src/core/numerics/rng';
import { checkLayerNormFold } from '../../src/core/numerics/check';

const n = 256;
const m = 48;
const rows = 5; // not a multiple of 4: exercises both matmul paths

function norm(kind: 'rmsnorm' | 'layernorm', seed = 3): NormParams {
  return {
    kind,
    gamma: gammaVector(seed, 't', n),
    beta: kind === 'layernorm' ? betaVector(seed, 't', n) : null,
    eps: 1e-5,
  };
}

test('rng: same seed repeats, different seeds differ, normals are standard', () => {
  const a = createRng(42).normals(1000);
  const b = createRng(42).normals(1000);
  const c = createRng(43).normals(1000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notEqual(deriveSeed(1, 'x'), deriveSeed(1, 'y'));
  assert.notEqual(deriveSeed(1, 'x'), deriveSeed(2, 'x'));
  const big = createRng(7).normals(200000);
  let s = 0;
  let s2 = 0;
  for (const v of big) {
    s += v;
    s2 += v * v;
  }
  const mean = s / big.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(s2 / big.length - mean * mean - 1) < 0.02);
  const u = createRng(9);
  for (let i = 0; i < 1000; i++) {
    const v = u.uniform();
    assert.ok(v >= 0 && v < 1);
  }
});

test('matmulAccumulate: fp32 and bf16 accumulation round after every add, in index order', () => {
  const rng = createRng(5);
  const x = roundArray('bf16', rng.normals(rows * n));
  const W = roundArray('bf16', rng.normals(n * m, 0, 0.1));
  for (const [acc, round] of [
    ['fp32', Math.fround],
    ['bf16', roundBf16],
    ['fp64', (v: number) => v],
  ] as const) {
    const y = matmulAccumulate(x, rows, W, m, acc);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < m; j++) {
        let a = 0;
        for (let i = 0; i < n; i++) a = round(a + x[r * n + i]! * W[i * m + j]!);
        assert.equal(y[r * m + j], a, `${acc} [${r},${j}]`);
      }
  }
});

test('matmulAccumulate with `into`: every sum continues from the accumulator already there, in index order', () => {
  const rng = createRng(6);
  const x = roundArray('bf16', rng.normals(rows * n));
  const W = roundArray('bf16', rng.normals(n * m, 0, 0.1));
  const start = roundArray('fp32', rng.normals(rows * m));
  for (const [acc, round] of [
    ['fp32', Math.fround],
    ['fp64', (v: number) => v],
  ] as const) {
    const y = matmulAccumulate(x, rows, W, m, acc, Float64Array.from(start));
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < m; j++) {
        let a = start[r * m + j]!;
        for (let i = 0; i < n; i++) a = round(a + x[r * n + i]! * W[i * m + j]!);
        assert.equal(y[r * m + j], a, `${acc} [${r},${j}]`);
      }
  }
});

test('attention inputs: the logits are q·k/√d summed in index order, from q, k, V drawn in that order', () => {
  const [seed, rowsQ, L, d] = [4, 3, 40, 24]; // √24 is not a power of two: s·(1/√d) and s/√d differ in the last bit for some s
  const unit = attentionUnit(seed, 'x', rowsQ, L, d);
  const rng = createRng(deriveSeed(seed, 'attn:x'));
  const q = rng.normals(rowsQ * d);
  const k = rng.normals(L * d);
  assert.deepEqual(unit.V, rng.normals(L * d));
  for (let r = 0; r < rowsQ; r++) {
    let max = -Infinity;
    for (let j = 0; j < L; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += q[r * d + t]! * k[j * d + t]!;
      // Scaled by 1/√d as one factor (as the inputs define the logits).
      const logit = s * (1 / Math.sqrt(d));
      assert.equal(unit.logits[r * L + j], logit, `[${r},${j}]`);
      max = Math.max(max, logit);
    }
    assert.equal(unit.rowMax[r], max);
  }
});

test('weight pool: a block of columns is those columns of the pool, wrapping around past its width, stored in the precision', () => {
  const [np, width] = [8, 10];
  const pool = new WeightPool(3, 'p', np, width);
  const all = weight(3, 'p', np, width);
  for (const [c0, mc] of [
    [0, 4],
    [6, 4],
    [7, 6],
  ] as const) {
    const block = pool.columns(c0, mc, 'bf16');
    for (let i = 0; i < np; i++)
      for (let j = 0; j < mc; j++) assert.equal(block[i * mc + j], roundBf16(all[i * width + ((c0 + j) % width)]!), `[${c0}+${j}] row ${i}`);
  }
});

test('float64: deferred RMSNorm → Linear equals the baseline (exact in reals), with and without bias', () => {
  const x = activations(1, 'k', rows, n);
  const W = weight(1, 'k', n, m);
  const nm = norm('rmsnorm');
  for (const b of [null, biasVector(1, 'k', m)]) {
    const ref = normLinearBaseline(FP64, nm, x, rows, W, m, b);
    const y = normLinearDeferred(FP64, nm, x, rows, foldNorm(nm, W, b), m);
    assert.ok(relErrorStats(y, ref).max < 1e-12, `max rel ${relErrorStats(y, ref).max}`);
  }
});

test('float64: deferred LayerNorm → Linear equals the baseline', () => {
  const x = activations(2, 'k', rows, n);
  const W = weight(2, 'k', n, m);
  const b = biasVector(2, 'k', m);
  const nm = norm('layernorm');
  const ref = normLinearBaseline(FP64, nm, x, rows, W, m, b);
  const { Wtilde, bias } = foldLayerNorm(nm.gamma, nm.beta!, W, b);
  const y = normLinearDeferred(FP64, nm, x, rows, { W: Wtilde, bias }, m);
  assert.ok(relErrorStats(y, ref).max < 1e-12);
  // The columns of W̃ sum to zero: x·W̃ = (x − μ)·diag(γ)·W.
  for (let j = 0; j < m; j++) {
    let s = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      s += Wtilde[i * m + j]!;
      a += Math.abs(Wtilde[i * m + j]!);
    }
    assert.ok(Math.abs(s) < 1e-13 * a);
  }
});

test('float64: one norm feeding several linears: one statistic, one epilogue per consumer', () => {
  const x = activations(3, 'k', rows, n);
  for (const kind of ['rmsnorm', 'layernorm'] as const) {
    const nm = norm(kind);
    const xhat = normalizeRows(FP64, nm, x, rows);
    const r = normScales(FP64, nm, x, rows);
    for (const [c, width] of [64, 16, 16].entries()) {
      const W = weight(3, `k${c}`, n, width);
      const ref = linear(FP64, xhat, rows, W, width, null);
      const y = scaledLinear(FP64, x, rows, foldNorm(nm, W, null), width, r);
      assert.ok(relErrorStats(y, ref).max < 1e-12, `${kind} consumer ${c}`);
    }
  }
});

test('float64: deferred Softmax → ·V equals the baseline for every offset', () => {
  const L = 300; // not a multiple of the online block
  const d = 32;
  const a = attention(4, 'k', rows, L, d);
  const ref = softmaxVBaseline(FP64, a.logits, rows, a.V, d).out;
  const offsets = [
    { kind: 'exact' },
    { kind: 'none' },
    { kind: 'online', block: 64 },
    { kind: 'online', block: 1 },
    { kind: 'bound', c: a.rowMax.map((v) => v + 3) },
    { kind: 'bound', c: a.csBound },
  ] as const;
  for (const off of offsets) {
    const res = softmaxVDeferred(FP64, a.logits, rows, a.V, d, off);
    assert.equal(res.overflowed, false);
    assert.ok(relErrorStats(res.out, ref).max < 1e-12, `${off.kind}: ${relErrorStats(res.out, ref).max}`);
  }
  for (let r = 0; r < rows; r++) {
    assert.ok(a.csBound[r]! >= a.rowMax[r]!, 'the Cauchy–Schwarz bound is an upper bound');
  }
});

test('fold check passes for the true fold and fails for wrong ones (so it can fail)', () => {
  const shape = { hidden: 512, outFeatures: 64, rows: 4 };
  const good = checkLayerNormFold(1, shape);
  assert.equal(good.ok, true);
  assert.ok(good.maxRelErr < 1e-12);
  // Dropping the centring: W̃ = diag(γ)·W.
  const noCentre = checkLayerNormFold(1, shape, (gamma, beta, W, b) => {
    const f = foldLayerNorm(gamma, beta, W, b);
    const k = W.length / gamma.length;
    const Wtilde = new Float64Array(W.length);
    for (let i = 0; i < gamma.length; i++) for (let j = 0; j < k; j++) Wtilde[i * k + j] = gamma[i]! * W[i * k + j]!;
    return { Wtilde, bias: f.bias };
  });
  assert.equal(noCentre.ok, false);
  assert.ok(noCentre.maxRelErr > 1e-6, `no-centring error ${noCentre.maxRelErr}`);
  // Forgetting β·W in the bias.
  const noBeta = checkLayerNormFold(1, shape, (gamma, beta, W, b) => foldLayerNorm(gamma, new Float64Array(beta.length), W, b));
  assert.equal(noBeta.ok, false);
});

test('storeFolded rounds the float64 fold once to storage', () => {
  const W = weight(6, 'k', n, m);
  const nm = norm('rmsnorm');
  const f = foldNorm(nm, W, null);
  const s = storeFolded(kernelConfig('bf16', 'fp32'), f);
  for (let i = 0; i < f.W.length; i++) assert.equal(s.W[i], roundBf16(f.W[i]!));
  assert.equal(s.bias, null);
});

test('fp16 Softmax with large logits: no offset overflows, the exact max does not', () => {
  const L = 128;
  const d = 16;
  const a = attention(8, 'k', 2, L, d, 2, 24);
  const cfg = kernelConfig('fp16', 'fp32');
  const s = roundArray('fp16', a.logits);
  const V = roundArray('fp16', a.V);
  assert.equal(softmaxVDeferred(cfg, s, 2, V, d, { kind: 'none' }).overflowed, true);
  assert.equal(softmaxVDeferred(cfg, s, 2, V, d, { kind: 'exact' }).overflowed, false);
  assert.equal(softmaxVDeferred(cfg, s, 2, V, d, { kind: 'online', block: 32 }).overflowed, false);
  assert.equal(softmaxVBaseline(cfg, s, 2, V, d).overflowed, false);
});
