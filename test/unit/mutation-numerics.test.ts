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

/** Where a norm site's inputs come from: its stream labels, norm kind, widths and mean offset. */
interface SiteDraw {
  label: string;
  poolLabel: string;
  poolWidth: number;
  kind: 'rmsnorm' | 'layernorm';
  widths: number[];
  offset: number;
}

/** The draw of a norm → linear site of checkNumerics: the site's own label, the 'weights' pool. */
function checkDraw(o: NumericsOptions, site: string, kind: 'rmsnorm' | 'layernorm', widths: number[]): SiteDraw {
  const poolWidth = Math.max(o.shape.outFeatures, o.shape.multiOut.reduce((a, b) => a + b, 0));
  return { label: site, poolLabel: 'weights', poolWidth, kind, widths, offset: 0 };
}

/**
 * Each consumer's baseline and deferred max error, by the unfused kernels, on the inputs the check
 * draws (x, γ, β by the site's label; consumer c takes the next m columns of one n × poolWidth weight
 * pool; its bias by `label:c`).
 */
function perConsumer(o: Pick<NumericsOptions, 'seed' | 'accumulate' | 'linearBias'>, n: number, rows: number, draw: SiteDraw, dtype: NumericsDtype): { base: number; def: number }[] {
  const { label, poolWidth: width, kind, widths } = draw;
  const pool = weight(o.seed, draw.poolLabel, n, width);
  const layer = kind === 'layernorm';
  const norm: NormParams = {
    kind,
    gamma: roundArray(dtype, gammaVector(o.seed, label, n)),
    beta: layer ? roundArray(dtype, betaVector(o.seed, label, n)) : null,
    eps: layer ? 1e-5 : 1e-6,
  };
  const x = roundArray(dtype, activations(o.seed, label, rows, n, draw.offset));
  const cfg = kernelConfig(dtype, o.accumulate);
  let c0 = 0;
  return widths.map((m, c) => {
    const W = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) W[i * m + j] = pool[i * width + ((c0 + j) % width)]!;
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
          const each = perConsumer(o, o.shape.hidden, o.shape.rows, checkDraw(o, 'norm-multi-linear', normKind, o.shape.multiOut), dtype);
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

test('RMSNorm → Linear and LayerNorm → Linear run their own norm whatever normKind says, one consumer each', () => {
  for (const [site, kind, other] of [['rmsnorm-linear', 'rmsnorm', 'layernorm'], ['layernorm-linear', 'layernorm', 'rmsnorm']] as const) {
    const o = options({ sites: [site], normKind: other, linearBias: true, dtypes: ['fp32', 'bf16'] });
    const r = checkNumerics(o);
    assert.equal(r.entries.length, 2);
    for (const e of r.entries) {
      const [each] = perConsumer(o, o.shape.hidden, o.shape.rows, checkDraw(o, site, kind, [o.shape.outFeatures]), e.dtype);
      const where = `${site} (normKind ${other}), ${e.dtype}`;
      assert.ok(Math.abs(e.deferredMaxRelErr - each!.def) <= 1e-9 * each!.def, `${where}: deferred ${e.deferredMaxRelErr} vs ${each!.def}`);
      assert.ok(Math.abs(e.baselineMaxRelErr - each!.base) <= 1e-9 * each!.base, `${where}: baseline ${e.baselineMaxRelErr} vs ${each!.base}`);
      assert.equal('worstConsumer' in e, false, `${where}: one consumer, no worst consumer`);
      assert.equal(e.site, `${kind === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm'} → Linear (+bias)`);
    }
    // The LayerNorm fold and the cancellation sweep come with a LayerNorm site, not with normKind.
    assert.equal(r.layerNormFold === null, kind === 'rmsnorm', `${site}: fold check`);
    assert.equal(r.layerNormCancellation === undefined, kind === 'rmsnorm', `${site}: cancellation sweep`);
  }
  const multi = (normKind: 'rmsnorm' | 'layernorm') => checkNumerics(options({ normKind, dtypes: ['fp32'] }));
  assert.equal(multi('rmsnorm').layerNormFold, null, 'several consumers of an RMSNorm: no LayerNorm checks');
  assert.ok(multi('layernorm').layerNormFold?.ok, 'several consumers of a LayerNorm: the fold is checked');
  assert.ok(multi('layernorm').layerNormCancellation !== undefined);
});

test('the deeper-deferral entries are labelled by their site kind', () => {
  const r = checkNumerics(options({ sites: ['rmsnorm-rope', 'rmsnorm-attention'], dtypes: ['fp32'] }));
  assert.deepEqual(
    r.entries.map((e) => e.site),
    ['RMSNorm → q, k → RoPE, r after RoPE', 'RMSNorm → attention, r on the logits and after Σ (prefill, causal)', 'RMSNorm → attention, r on the logits and after Σ (decode)'],
  );
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
  // Under the sweep's own caps (hidden 256, 4 rows, 32 outputs), so the sizes asked for are the ones used.
  const shape: NumericsShape = { ...SHAPE, hidden: 128, rows: 2, outFeatures: 16 };
  const o = options({ normKind: 'layernorm', tolerance: 4 });
  const sweep = layerNormCancellation(o, shape, ['fp32', 'bf16'], [10, 100]);
  assert.deepEqual(sweep.map((c) => [c.meanOverStd, c.dtype]), [[10, 'fp32'], [10, 'bf16'], [100, 'fp32'], [100, 'bf16']]);
  for (const c of sweep) {
    const where = `mean/std ${c.meanOverStd}, ${c.dtype}`;
    if (c.dtype === 'fp32') {
      const direct = onePassVarianceError(o.seed, c.meanOverStd, 2, 128);
      // The sweep derives it from r = 1/√(var + ε): var's relative error ≈ 2 × r's, to first order
      // (the second-order term is ¾ of the square of the error, well below 10% of it here).
      assert.ok(direct > 1e-6 && direct < 0.05, `${where}: the one-pass error ${direct} is in the first-order range`);
      assert.ok(Math.abs(c.varianceRelErr - direct) <= 0.1 * direct, `${where}: ${c.varianceRelErr} vs ${direct} computed directly`);
    }
    // The LayerNorm → Linear errors at that mean, one consumer of 16 columns of the sweep's own pool.
    const draw: SiteDraw = { label: `lncancel:${c.meanOverStd}`, poolLabel: 'lncancel', poolWidth: 16, kind: 'layernorm', widths: [16], offset: c.meanOverStd };
    const [each] = perConsumer(o, 128, 2, draw, c.dtype);
    assert.ok(Math.abs(c.deferredMaxRelErr - each!.def) <= 1e-9 * each!.def, `${where}: deferred ${c.deferredMaxRelErr} vs ${each!.def}`);
    assert.ok(Math.abs(c.baselineMaxRelErr - each!.base) <= 1e-9 * each!.base, `${where}: baseline ${c.baselineMaxRelErr} vs ${each!.base}`);
    assert.equal(c.withinBaseline, each!.def <= 4 * each!.base, `${where}: within at tolerance 4`);
  }
  assert.ok(sweep.some((c) => c.withinBaseline) && sweep.some((c) => !c.withinBaseline), 'both verdicts occur (deferred/baseline 1.3 and 2.0 at mean 10, 8.5 and 129 at mean 100), so the verdict is tested');
  assert.ok(sweep[2]!.varianceRelErr > 10 * sweep[0]!.varianceRelErr, 'ten times the mean: the cancellation grows about a hundredfold');
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
  // Exactly at the boundary (deferred max = tolerance × baseline max, in floating point): within.
  const t = [ratio, ratio * (1 + Number.EPSILON), ratio * (1 - Number.EPSILON)].find((x) => e.baselineMaxRelErr * x === e.deferredMaxRelErr);
  assert.ok(t !== undefined, 'a tolerance that lands exactly on the deferred max');
  assert.equal(checkNumerics({ ...o, tolerance: t }).entries[0]!.withinBaseline, true);
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
  // Sizes of 1 are sizes (not missing), and an FFN of 1 is the output width, not the vocabulary.
  assert.deepEqual(numericsShapeFor({ hidden: 1, headDim: 1, ffn: 1, vocab: 40, kvHeads: 1, heads: 1 }), {
    hidden: 1,
    outFeatures: 1,
    multiOut: [1, 1, 1],
    headDim: 1,
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
  // The limits themselves are accepted: a tolerance of 1, sizes of 1.
  assert.equal(checkNumerics(options({ tolerance: 1, dtypes: ['fp32'] })).tolerance, 1);
  const ones = { hidden: 1, outFeatures: 1, multiOut: [1], headDim: 1, context: 1, rows: 1 };
  assert.deepEqual(capShape(ones), ones);
  for (const field of ['outFeatures', 'headDim', 'context'] as const) bad.push([{ shape: { ...SHAPE, [field]: 0 } }, new RegExp(`shape\\.${field}.*a positive integer`)]);
  for (const [over, message] of bad)
    assert.throws(
      () => checkNumerics(options(over)),
      (err: unknown) => err instanceof InputError && message.test(err.message) && err.message.includes('numerics options'),
      JSON.stringify(over),
    );
});
