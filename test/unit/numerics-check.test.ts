import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NUMERICS_CAPS, checkNumerics, numericsShapeFor } from '../../src/core/numerics/check';
import type { NumericsDtype, NumericsOptions, NumericsResult } from '../../src/core/numerics/types';
import { InputError } from '../../src/core/errors';

const SHAPE = { hidden: 4096, outFeatures: 256, multiOut: [256, 64, 64], headDim: 128, context: 512, rows: 4 };

function options(over: Partial<NumericsOptions> = {}): NumericsOptions {
  return {
    sites: ['rmsnorm-linear', 'layernorm-linear', 'softmax-v', 'norm-multi-linear'],
    normKind: 'rmsnorm',
    linearBias: false,
    shape: SHAPE,
    dtypes: ['fp32', 'bf16', 'fp16'],
    accumulate: 'fp32',
    seed: 1,
    tolerance: 2,
    ...over,
  };
}

// One run per configuration, shared by the tests below.
const cache = new Map<string, NumericsResult>();
function run(over: Partial<NumericsOptions> = {}): NumericsResult {
  const key = JSON.stringify(over);
  let r = cache.get(key);
  if (r === undefined) {
    r = checkNumerics(options(over));
    cache.set(key, r);
  }
  return r;
}

/** Expected bands of the floored max and mean relative errors (unit roundoff: fp32 6e-8, bf16 3.9e-3, fp16 4.9e-4). */
const BANDS: Record<NumericsDtype, { max: [number, number]; mean: [number, number] }> = {
  fp32: { max: [1e-7, 1e-4], mean: [1e-8, 1e-5] },
  bf16: { max: [1e-3, 2e-1], mean: [5e-4, 2e-2] },
  fp16: { max: [1e-4, 3e-2], mean: [5e-5, 3e-3] },
};

test('entries: one per site kind and dtype, three offsets for Softmax', () => {
  const r = run();
  assert.equal(r.entries.length, 3 * 3 + 3 * 3);
  const softmax = r.entries.filter((e) => e.siteKind === 'softmax-v');
  assert.equal(softmax.length, 9);
  for (const dtype of ['fp32', 'bf16', 'fp16'] as const)
    assert.deepEqual(softmax.filter((e) => e.dtype === dtype).map((e) => e.offset), ['exact', 'bound', 'online']);
  for (const e of r.entries) assert.ok(e.site.length > 0);
  assert.equal(r.tolerance, 2);
  assert.equal(r.seed, 1);
  assert.equal(r.accumulate, 'fp32');
  const multi = r.entries.find((e) => e.siteKind === 'norm-multi-linear');
  assert.ok(multi !== undefined && multi.worstConsumer !== undefined && multi.worstConsumer < 3);
});

for (const normKind of ['rmsnorm', 'layernorm'] as const)
  for (const linearBias of [false, true])
    test(`errors have the magnitude of each dtype and the deferred form stays within the baseline's (${normKind}, bias ${linearBias})`, () => {
      const r = run({ normKind, linearBias });
      for (const e of r.entries) {
        const band = BANDS[e.dtype];
        const label = `${e.site} ${e.dtype} ${e.offset ?? ''}`;
        for (const [what, v] of [
          ['baseline max', e.baselineMaxRelErr],
          ['deferred max', e.deferredMaxRelErr],
        ] as const)
          assert.ok(v >= band.max[0] && v <= band.max[1], `${label} ${what} ${v}`);
        for (const [what, v] of [
          ['baseline mean', e.baselineMeanRelErr],
          ['deferred mean', e.deferredMeanRelErr],
        ] as const)
          assert.ok(v >= band.mean[0] && v <= band.mean[1], `${label} ${what} ${v}`);
        assert.ok(e.withinBaseline, `${label}: deferred ${e.deferredMaxRelErr} vs baseline ${e.baselineMaxRelErr}`);
        assert.equal(e.withinBaseline, e.deferredMaxRelErr <= e.baselineMaxRelErr * r.tolerance);
      }
    });

test('Softmax offsets exact, bound and online are equally accurate where nothing overflows', () => {
  const r = run();
  for (const dtype of ['fp32', 'bf16', 'fp16'] as const) {
    const es = r.entries.filter((e) => e.siteKind === 'softmax-v' && e.dtype === dtype);
    // Each within the usual schedule's own error…
    for (const e of es) assert.ok(e.withinBaseline, `${dtype} ${e.offset}`);
    // …and the typical (mean) errors agree closely; maxima are single-element statistics.
    const means = es.map((e) => e.deferredMeanRelErr);
    assert.ok(Math.max(...means) <= 2 * Math.min(...means), `${dtype}: ${means.join(', ')}`);
  }
  const bound = r.entries.find((e) => e.offset === 'bound');
  assert.match(bound?.note ?? '', /largest logit/);
});

test('same seed gives identical results, a different seed different ones', () => {
  const a = run();
  const b = checkNumerics(options());
  assert.deepEqual(b, a);
  const c = run({ seed: 2 });
  assert.notDeepEqual(
    c.entries.map((e) => e.deferredMaxRelErr),
    a.entries.map((e) => e.deferredMaxRelErr),
  );
});

test('overflow: fp16 without an offset overflows; exact and online do not; a stale bound shows when it does', () => {
  const r = run();
  const fp16 = r.overflow.filter((o) => o.dtype === 'fp16' && o.maxLogit >= 20);
  const by = (offset: string) => fp16.filter((o) => o.offset === offset);
  assert.equal(by('none').length, 1);
  assert.equal(by('none')[0]!.overflowed, true);
  assert.equal(by('exact')[0]!.overflowed, false);
  assert.equal(by('online')[0]!.overflowed, false);
  const bounds = by('bound');
  assert.ok(bounds.some((o) => o.overflowed) && bounds.some((o) => !o.overflowed));
  for (const o of r.overflow) {
    assert.ok(o.note.length > 10);
    if (o.overflowed) assert.equal(o.maxRelErr, Infinity);
  }
  assert.ok(by('exact')[0]!.maxRelErr! < 3e-2);
  // bf16's exponent range absorbs the same logits.
  assert.equal(r.overflow.find((o) => o.dtype === 'bf16' && o.offset === 'none')?.overflowed, false);
  // A bound far above the max underflows in fp16: no overflow, but precision is lost.
  const loose = r.overflow.filter((o) => o.dtype === 'fp16' && o.offset === 'bound' && /underflow|flushed/.test(o.note));
  assert.ok(loose.some((o) => !o.overflowed && o.maxRelErr! > by('exact')[0]!.maxRelErr!));
});

test('no Softmax site, no overflow list; LayerNorm fold checked only when a LayerNorm is present', () => {
  const r = run({ sites: ['rmsnorm-linear'] });
  assert.deepEqual(r.overflow, []);
  assert.equal(r.layerNormFold, null);
  assert.equal(r.layerNormCancellation, undefined);
  const ln = run();
  assert.ok(ln.layerNormFold !== null && ln.layerNormFold.ok && ln.layerNormFold.maxRelErr < 1e-12);
  const viaMulti = run({ sites: ['norm-multi-linear'], normKind: 'layernorm', dtypes: ['fp32'] });
  assert.ok(viaMulti.layerNormFold?.ok);
});

test('LayerNorm one-pass variance: measured, and it degrades as the mean grows relative to the spread', () => {
  const c = run().layerNormCancellation!;
  const fp32 = c.filter((e) => e.dtype === 'fp32');
  assert.deepEqual(fp32.map((e) => e.meanOverStd), [0, 10, 100]);
  assert.ok(fp32[2]!.varianceRelErr > 100 * fp32[0]!.varianceRelErr);
  assert.ok(fp32[0]!.deferredMaxRelErr < 1e-4, 'no cancellation at zero mean');
  assert.ok(fp32[2]!.deferredMaxRelErr > fp32[0]!.deferredMaxRelErr);
});

test('caps: the shape used is capped and the requested one kept', () => {
  const r = run();
  assert.equal(r.shape.hidden, NUMERICS_CAPS.hidden);
  assert.deepEqual(r.requestedShape, SHAPE);
  const small = { ...SHAPE, hidden: 64, context: 32, outFeatures: 16, multiOut: [16, 8], headDim: 16 };
  const s = checkNumerics(options({ shape: small, dtypes: ['bf16'] }));
  assert.deepEqual(s.shape, small);
  assert.equal(s.requestedShape, undefined);
});

test('numericsShapeFor picks capped slices from a model', () => {
  // Llama-3-8B
  assert.deepEqual(numericsShapeFor({ hidden: 4096, headDim: 128, ffn: 14336, vocab: 128256, kvHeads: 8, heads: 32 }), {
    hidden: NUMERICS_CAPS.hidden,
    outFeatures: NUMERICS_CAPS.outFeatures,
    multiOut: [NUMERICS_CAPS.multiOut, NUMERICS_CAPS.multiOut / 4, NUMERICS_CAPS.multiOut / 4],
    headDim: 128,
    context: NUMERICS_CAPS.context,
    rows: 4,
  });
  // A tiny model is not inflated.
  const tiny = numericsShapeFor({ hidden: 64, headDim: 16, ffn: 128, vocab: 1000, kvHeads: 4, heads: 4 });
  assert.deepEqual(tiny, { hidden: 64, outFeatures: Math.min(128, NUMERICS_CAPS.outFeatures), multiOut: [64, 64, 64], headDim: 16, context: NUMERICS_CAPS.context, rows: 4 });
});

test('accumulating in the storage dtype is worse than fp32 accumulation for bf16', () => {
  const a = run({ sites: ['rmsnorm-linear'], dtypes: ['bf16'] });
  const s = run({ sites: ['rmsnorm-linear'], dtypes: ['bf16'], accumulate: 'storage' });
  assert.equal(s.accumulate, 'storage');
  assert.ok(s.entries[0]!.baselineMeanRelErr > a.entries[0]!.baselineMeanRelErr);
});

test('bad options fail with one clear line', () => {
  assert.throws(() => checkNumerics(options({ tolerance: 0.5 })), InputError);
  assert.throws(() => checkNumerics(options({ shape: { ...SHAPE, hidden: 0 } })), /shape\.hidden/);
  assert.throws(() => checkNumerics(options({ shape: { ...SHAPE, multiOut: [] } })), /multiOut/);
});

test('the largest shape runs quickly (bench: test/bench/numerics-bench.ts)', () => {
  const t0 = performance.now();
  checkNumerics(options({ seed: 5 }));
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `${ms} ms`);
});
