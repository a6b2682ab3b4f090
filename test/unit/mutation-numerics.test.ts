/**
 * Tests that catch wrong answers in the numerics check's bookkeeping (issue 21): which consumer of a
 * norm is the worst, the variance error of the cancellation sweep, `withinBaseline` at its boundary,
 * the caps and the options' validation. Each expected value is computed here by a second method: the
 * per-consumer errors by the unfused kernels (normLinearDeferred against normLinearBaseline in
 * float64) and this file's own floored error; the one-pass variance by Math.fround arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/core/errors';
import {
  DEFAULT_TOLERANCE,
  FP64,
  NUMERICS_CAPS,
  capShape,
  checkNumerics,
  foldNorm,
  kernelConfig,
  layerNormCancellation,
  normLinearBaseline,
  normLinearDeferred,
  numericsShapeFor,
  roundArray,
  type NormParams,
  type NumericsDtype,
  type NumericsOptions,
  type NumericsShape,
} from '../../src/core/numerics';
import { activations, betaVector, biasVector, gammaVector, weight } from '../../src/core/numerics/inputs';

const SHAPE: NumericsShape = { hidden: 128, outFeatures: 32, multiOut: [32, 16, 16], headDim: 32, context: 64, rows: 4 };

function options(over: Partial<NumericsOptions> = {}): NumericsOptions {
  return {
    sites: ['norm-multi-linear'],
    normKind: 'rmsnorm',
    linearBias: false,
    shape: SHAPE,
    dtypes: ['fp32', 'bf16', 'fp16'],
    accumulate: 'fp32',
    seed: 1,
    tolerance: DEFAULT_TOLERANCE,
    ...over,
  };
}

/** Max of |y − ref| / max(|ref|, rms(ref)/8): the floored relative error, written out again. */
function maxFlooredError(y: Float64Array, ref: Float64Array): number {
  let ss = 0;
  for (const v of ref) ss += v * v;
  const floor = Math.sqrt(ss / ref.length) / 8;
  let max = 0;
  for (let i = 0; i < y.length; i++) max = Math.max(max, Math.abs(y[i]! - ref[i]!) / Math.max(Math.abs(ref[i]!), floor));
  return max;
}

/**
 * Each consumer's baseline and deferred max error, by the unfused kernels, on the inputs the check
 * draws for 'norm-multi-linear' (x, γ, β by the site's label; consumer c takes the next m columns of
 * one n × max(outFeatures, Σ widths) weight pool; its bias by `label:c`).
 */
function perConsumer(o: NumericsOptions, dtype: NumericsDtype): { base: number; def: number }[] {
  const { hidden: n, rows, multiOut, outFeatures } = o.shape;
  const label = 'norm-multi-linear';
  const width = Math.max(outFeatures, multiOut.reduce((a, b) => a + b, 0));
  const pool = weight(o.seed, 'weights', n, width);
  const layer = o.normKind === 'layernorm';
  const norm: NormParams = {
    kind: o.normKind,
    gamma: roundArray(dtype, gammaVector(o.seed, label, n)),
    beta: layer ? roundArray(dtype, betaVector(o.seed, label, n)) : null,
    eps: layer ? 1e-5 : 1e-6,
  };
  const x = roundArray(dtype, activations(o.seed, label, rows, n));
  const cfg = kernelConfig(dtype, o.accumulate);
  let c0 = 0;
  return multiOut.map((m, c) => {
    const W = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) W[i * m + j] = pool[i * width + c0 + j]!;
    c0 += m;
    const Ws = roundArray(dtype, W);
    const b = o.linearBias ? roundArray(dtype, biasVector(o.seed, `${label}:${c}`, m)) : null;
    const ref = normLinearBaseline(FP64, norm, x, rows, Ws, m, b);
    const folded = foldNorm(norm, Ws, b);
    const stored = { W: roundArray(dtype, folded.W), bias: folded.bias === null ? null : roundArray(dtype, folded.bias) };
    return {
      base: maxFlooredError(normLinearBaseline(cfg, norm, x, rows, Ws, m, b), ref),
      def: maxFlooredError(normLinearDeferred(cfg, norm, x, rows, stored, m), ref),
    };
  });
}

test('norm → several linears: the worst consumer, and the entry is the worst of each schedule', () => {
  const worst: number[] = [];
  for (const normKind of ['rmsnorm', 'layernorm'] as const)
    for (const linearBias of [false, true])
      for (const seed of [1, 2]) {
        const o = options({ normKind, linearBias, seed });
        const r = checkNumerics(o);
        for (const dtype of o.dtypes) {
          const where = `${normKind}, bias ${linearBias}, seed ${seed}, ${dtype}`;
          const e = r.entries.find((x) => x.dtype === dtype)!;
          const each = perConsumer(o, dtype);
          const defs = each.map((c) => c.def);
          const expected = defs.indexOf(Math.max(...defs));
          assert.equal(e.worstConsumer, expected, `${where}: deferred max per consumer ${defs.map((d) => d.toExponential(3)).join(', ')}`);
          worst.push(expected);
          const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * b, `${where}: ${what} ${a} vs ${b}`);
          close(e.deferredMaxRelErr, Math.max(...defs), 'deferred max');
          close(e.baselineMaxRelErr, Math.max(...each.map((c) => c.base)), 'baseline max');
          assert.equal(e.withinBaseline, e.deferredMaxRelErr <= DEFAULT_TOLERANCE * e.baselineMaxRelErr);
        }
      }
  // The cases above must tell "the worst" from "the first" and from "the last".
  assert.ok(worst.includes(0) && worst.some((w) => w > 0), `worst consumers seen: ${worst.join(', ')}`);
  assert.ok(worst.some((w) => w < 2), `worst consumers seen: ${worst.join(', ')}`);
});

test('the label of several consumers names the norm, their count and widths, and the bias', () => {
  const r = checkNumerics(options({ normKind: 'layernorm', linearBias: true, dtypes: ['fp32'] }));
  assert.equal(r.entries[0]!.site, 'LayerNorm → 3 Linears [32, 16, 16] (+bias)');
  const plain = checkNumerics(options({ dtypes: ['fp32'] }));
  assert.equal(plain.entries[0]!.site, 'RMSNorm → 3 Linears [32, 16, 16]');
});

/**
 * One-pass variance E[x²] − μ² in float32 (Math.fround after every operation), against the two-pass
 * variance in float64, on the fp32-stored inputs of the cancellation sweep: its relative error, the
 * quantity the sweep reports.
 */
function onePassVarianceError(seed: number, ratio: number, rows: number, n: number): number {
  const x = Float64Array.from(activations(seed, `lncancel:${ratio}`, rows, n, ratio), Math.fround);
  const f = Math.fround;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    let s = 0;
    let ss = 0;
    for (const v of row) {
      s = f(s + v);
      ss = f(ss + v * v);
    }
    const mu = f(s / n);
    const onePass = Math.max(0, f(f(ss / n) - f(mu * mu)));
    let mean = 0;
    for (const v of row) mean += v;
    mean /= n;
    let exact = 0;
    for (const v of row) exact += (v - mean) ** 2;
    exact /= n;
    worst = Math.max(worst, Math.abs(onePass + 1e-5 - (exact + 1e-5)) / (exact + 1e-5));
  }
  return worst;
}

test('LayerNorm cancellation: the variance error is the one-pass variance against the two-pass one', () => {
  const shape: NumericsShape = { ...SHAPE, hidden: 256, rows: 4 };
  const o = options({ normKind: 'layernorm' });
  const sweep = layerNormCancellation(o, shape, ['fp32'], [10, 100]);
  assert.deepEqual(sweep.map((c) => c.meanOverStd), [10, 100]);
  for (const c of sweep) {
    const direct = onePassVarianceError(o.seed, c.meanOverStd, 4, 256);
    // The sweep derives it from r = 1/√(var + ε): var's relative error ≈ 2 × r's, to first order
    // (the second-order term is ¾ of the square of the error, well below 10% of it here).
    assert.ok(direct > 1e-6 && direct < 0.05, `mean/std ${c.meanOverStd}: the one-pass error ${direct} is in the first-order range`);
    assert.ok(Math.abs(c.varianceRelErr - direct) <= 0.1 * direct, `mean/std ${c.meanOverStd}: ${c.varianceRelErr} vs ${direct} computed directly`);
  }
  assert.ok(sweep[1]!.varianceRelErr > 10 * sweep[0]!.varianceRelErr, 'ten times the mean: the cancellation grows about a hundredfold');
});

test('withinBaseline is deferred max ≤ tolerance × baseline max, at the boundary', () => {
  const o = options({ sites: ['rmsnorm-linear'], dtypes: ['bf16'] });
  const e = checkNumerics(o).entries[0]!;
  const ratio = e.deferredMaxRelErr / e.baselineMaxRelErr;
  // Needs a case whose ratio is above 1 (a tolerance is ≥ 1): bf16 RMSNorm → Linear at seed 1 is one (1.3).
  assert.ok(ratio > 1, `deferred / baseline max: ${ratio}`);
  // Just above the ratio: within; just below: not (the tolerance must be ≥ 1).
  assert.equal(checkNumerics({ ...o, tolerance: ratio * (1 + 1e-9) }).entries[0]!.withinBaseline, true);
  assert.equal(checkNumerics({ ...o, tolerance: Math.max(1, ratio * (1 - 1e-6)) }).entries[0]!.withinBaseline, false);
});

test('caps: shapes are cut to the caps, consumers scaled together, and a capped shape says what was asked', () => {
  const c = NUMERICS_CAPS;
  assert.deepEqual(capShape({ hidden: 4096, outFeatures: 14336, multiOut: [4096, 1024, 1024, 2048, 512], headDim: 512, context: 8192, rows: 32 }), {
    hidden: c.hidden,
    outFeatures: c.outFeatures,
    // The first four consumers, the widest cut to 64 and the others by the same factor 64/4096: 16, 16, 32 (at least 16 each).
    multiOut: [64, 16, 16, 32],
    headDim: c.headDim,
    context: c.context,
    rows: c.rows,
  });
  // Under every cap: unchanged.
  assert.deepEqual(capShape(SHAPE), SHAPE);
  // 8 × 64/128 = 4, raised to the floor of 16 but never above its own width.
  assert.deepEqual(capShape({ ...SHAPE, multiOut: [128, 8] }).multiOut, [64, 8]);
  const r = checkNumerics(options({ shape: { ...SHAPE, hidden: 1024 }, dtypes: ['fp32'] }));
  assert.equal(r.shape.hidden, 512);
  assert.deepEqual(r.requestedShape, { ...SHAPE, hidden: 1024 });
  assert.equal(checkNumerics(options({ dtypes: ['fp32'] })).requestedShape, undefined);
});

test('numericsShapeFor: a model\'s sizes, capped, with grouped-query attention\'s q : kv ratio kept', () => {
  // Llama-3.1-8B: 32 heads × 128, 8 KV heads, FFN 14336: q 4096 and kv 1024 cut to 64 and 16.
  assert.deepEqual(numericsShapeFor({ hidden: 4096, headDim: 128, ffn: 14336, vocab: 128256, kvHeads: 8, heads: 32 }), {
    hidden: 512,
    outFeatures: 64,
    multiOut: [64, 16, 16],
    headDim: 128,
    context: 256,
    rows: 4,
  });
  // A small model under every cap: kept as it is.
  assert.deepEqual(numericsShapeFor({ hidden: 48, headDim: 8, ffn: 0, vocab: 40, kvHeads: 6, heads: 6 }), {
    hidden: 48,
    // No FFN: the vocabulary's width.
    outFeatures: 40,
    multiOut: [48, 48, 48],
    headDim: 8,
    context: 256,
    rows: 4,
  });
  // Missing sizes fall back: head_dim 64, hidden heads × head_dim, KV heads = heads (at most heads).
  assert.deepEqual(numericsShapeFor({ hidden: NaN, headDim: 0, ffn: 0, vocab: NaN, kvHeads: 99, heads: 2 }), {
    hidden: 128,
    // No FFN and no vocabulary: the hidden width, capped at 64.
    outFeatures: 64,
    // q = kv = 2 × 64 = 128, both cut to 64.
    multiOut: [64, 64, 64],
    headDim: 64,
    context: 256,
    rows: 4,
  });
});

test('bad options: one InputError naming the field and what was expected', () => {
  const bad: [Partial<NumericsOptions>, RegExp][] = [
    [{ tolerance: 0.5 }, /tolerance.*a finite number ≥ 1/],
    [{ tolerance: Infinity }, /tolerance/],
    [{ seed: NaN }, /seed.*a finite number/],
    [{ sites: ['rmsnorm-linear', 'x' as never] }, /sites.*one of rmsnorm-linear, layernorm-linear/],
    [{ dtypes: ['fp8' as never] }, /dtypes.*one of fp32, bf16, fp16/],
    [{ normKind: 'groupnorm' as never }, /normKind.*'rmsnorm' or 'layernorm'/],
    [{ accumulate: 'fp64' as never }, /accumulate.*'fp32' or 'storage'/],
    [{ shape: { ...SHAPE, hidden: 0 } }, /shape\.hidden.*a positive integer/],
    [{ shape: { ...SHAPE, rows: 1.5 } }, /shape\.rows.*a positive integer/],
    [{ shape: { ...SHAPE, multiOut: [] } }, /shape\.multiOut.*a non-empty array/],
    [{ shape: { ...SHAPE, multiOut: [8, -1] } }, /shape\.multiOut\[1\].*a positive integer/],
  ];
  for (const [over, message] of bad)
    assert.throws(
      () => checkNumerics(options(over)),
      (err: unknown) => err instanceof InputError && message.test(err.message) && err.message.includes('numerics options'),
      JSON.stringify(over),
    );
});
