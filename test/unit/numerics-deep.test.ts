/**
 * Deeper deferral of an RMSNorm's scale (issue 10): past RoPE, onto the attention logits and
 * after the softmax's row sum, past a ReLU MLP to the down projection. The float64 identities
 * are checked against plain reference code written here from the algebra (normalize, multiply,
 * rotate, softmax), not against the kernels' own baseline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEEP_SIZES, DEFAULT_TOLERANCE, capShape, checkNumerics, deepEntries } from '../../src/core/numerics/check';
import { DeepMutation, applyRope, attentionDecode, attentionDeep, attentionUsual, mlpHidden, ropeTables, scaleRows } from '../../src/core/numerics/deep';
import { FP64, foldRmsNorm, linear, normScales, scaledLinear } from '../../src/core/numerics/kernels';
import { createRng } from '../../src/core/numerics/rng';
import type { NumericsDtype, NumericsEntry, NumericsOptions, NumericsSiteKind } from '../../src/core/numerics/types';

const DEEP: NumericsSiteKind[] = ['rmsnorm-rope', 'rmsnorm-attention', 'rmsnorm-relu-down'];
const DTYPES: NumericsDtype[] = ['fp32', 'bf16', 'fp16'];
const SHAPE = { hidden: 4096, outFeatures: 256, multiOut: [256, 64, 64], headDim: 128, context: 512, rows: 4 };

function options(over: Partial<NumericsOptions> = {}): NumericsOptions {
  return { sites: DEEP, normKind: 'rmsnorm', linearBias: false, shape: SHAPE, dtypes: DTYPES, accumulate: 'fp32', seed: 1, tolerance: DEFAULT_TOLERANCE, ...over };
}

// ---------------------------------------------------------------------------------------------
// Plain float64 reference code, from the definitions

type Mat = number[][];
const rowsOf = (a: Float64Array, width: number): Mat => Array.from({ length: a.length / width }, (_, i) => Array.from(a.subarray(i * width, (i + 1) * width)));
const flat = (m: Mat): Float64Array => Float64Array.from(m.flat());
const matmul = (a: Mat, W: Float64Array, m: number): Mat => a.map((row) => Array.from({ length: m }, (_, j) => row.reduce((s, v, i) => s + v * W[i * m + j]!, 0)));
const rmsScale = (row: number[], eps: number): number => 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / row.length + eps);
const rmsnorm = (x: Mat, gamma: Float64Array, eps: number): Mat => x.map((row) => row.map((v, i) => v * rmsScale(row, eps) * gamma[i]!));
/** RoPE as a rotation of each pair (t, t + d/2) of every head by the angle pos·θ^(−2t/d). */
const rope = (x: Mat, positions: number[], d: number): Mat =>
  x.map((row, i) => {
    const out = row.slice();
    for (let h = 0; h < row.length; h += d)
      for (let t = 0; t < d / 2; t++) {
        const angle = positions[i]! * 10000 ** (-2 * t / d);
        const [a, b] = [row[h + t]!, row[h + t + d / 2]!];
        out[h + t] = a * Math.cos(angle) - b * Math.sin(angle);
        out[h + t + d / 2] = a * Math.sin(angle) + b * Math.cos(angle);
      }
    return out;
  });
/** softmax(q·kᵀ/√d)·V per head, causal (query token i sees keys 0..i), H query heads sharing one KV head. */
function attention(q: Mat, k: Mat, v: Mat, H: number, d: number): Mat {
  return q.map((row, i) =>
    Array.from({ length: H }, (_, h) => {
      const qh = row.slice(h * d, (h + 1) * d);
      const s = k.slice(0, i + 1).map((kj) => qh.reduce((acc, x, t) => acc + x * kj[t]!, 0) / Math.sqrt(d));
      const mx = Math.max(...s);
      const e = s.map((x) => Math.exp(x - mx));
      const sum = e.reduce((a, b) => a + b, 0);
      return Array.from({ length: d }, (_, t) => e.reduce((acc, p, j) => acc + (p / sum) * v[j]![t]!, 0));
    }).flat(),
  );
}
const relu = (x: number): number => Math.max(0, x);
const silu = (x: number): number => x / (1 + Math.exp(-x));

/** Largest |a − b| over the largest |b|: a relative distance between two tensors. */
function relDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

/** Small random problem: T tokens of width n with an outlier channel, γ, weights. */
function problem(seed: number, T = 5, n = 24, H = 2, d = 8) {
  const rng = createRng(seed);
  const x = rng.normals(T * n);
  for (let i = 0; i < T; i++) x[i * n + 3] = 15 + rng.normal();
  const gamma = rng.normals(n, 1, 0.1);
  const w = (m: number, fanIn = n) => rng.normals(fanIn * m, 0, 1 / Math.sqrt(fanIn));
  const positions = Array.from({ length: T }, (_, i) => 1000 + 7 * i);
  return { x, gamma, T, n, H, d, Wq: w(H * d), Wk: w(d), Wv: w(d), positions, eps: 1e-6, rng };
}

// ---------------------------------------------------------------------------------------------
// Identities in float64

test('float64: RoPE(r·q) = r·RoPE(q): q and k rotated raw and scaled after RoPE equal RoPE of the normalized projections', () => {
  for (const seed of [1, 2, 3]) {
    const p = problem(seed);
    const norm = { kind: 'rmsnorm' as const, gamma: p.gamma, beta: null, eps: p.eps };
    const r = normScales(FP64, norm, p.x, p.T);
    const { cos, sin } = ropeTables(p.positions, p.d);
    const xhat = rmsnorm(rowsOf(p.x, p.n), p.gamma, p.eps);
    for (const [W, m] of [[p.Wq, p.H * p.d], [p.Wk, p.d]] as const) {
      const expected = flat(rope(matmul(xhat, W, m), p.positions, p.d));
      const raw = linear(FP64, p.x, p.T, foldRmsNorm(p.gamma, W).W, m, null);
      const deferred = scaleRows(FP64, applyRope(FP64, raw, p.T, p.d, cos, sin), p.T, r);
      assert.ok(relDistance(deferred, expected) < 1e-12, `seed ${seed}: ${relDistance(deferred, expected)}`);
      // The cache write's one-kernel form r·RoPE(k_raw) is the same value.
      assert.ok(relDistance(applyRope(FP64, raw, p.T, p.d, cos, sin, r), expected) < 1e-12);
    }
  }
});

test('float64: r_i·r_j on the logits before exp and v\'s r_j outside the row sum equal attention on the normalized q, k, v (prefill and decode)', () => {
  for (const seed of [1, 2, 3]) {
    const p = problem(seed);
    const norm = { kind: 'rmsnorm' as const, gamma: p.gamma, beta: null, eps: p.eps };
    const r = normScales(FP64, norm, p.x, p.T);
    const { cos, sin } = ropeTables(p.positions, p.d);
    const xhat = rmsnorm(rowsOf(p.x, p.n), p.gamma, p.eps);
    const q = rope(matmul(xhat, p.Wq, p.H * p.d), p.positions, p.d);
    const k = rope(matmul(xhat, p.Wk, p.d), p.positions, p.d);
    const v = matmul(xhat, p.Wv, p.d);
    const expected = flat(attention(q, k, v, p.H, p.d));
    const raw = (W: Float64Array, m: number) => linear(FP64, p.x, p.T, foldRmsNorm(p.gamma, W).W, m, null);
    const qRot = applyRope(FP64, raw(p.Wq, p.H * p.d), p.T, p.d, cos, sin);
    const kRot = applyRope(FP64, raw(p.Wk, p.d), p.T, p.d, cos, sin);
    const vRaw = raw(p.Wv, p.d);
    const prefill = attentionDeep(FP64, qRot, p.T, p.H, kRot, vRaw, p.d, r);
    assert.ok(relDistance(prefill, expected) < 1e-12, `prefill seed ${seed}: ${relDistance(prefill, expected)}`);
    // Decode: step i against tokens 0…i−1 whose k and v were stored scaled; its own column takes r.
    const cache = { k: applyRope(FP64, raw(p.Wk, p.d), p.T, p.d, cos, sin, r), v: scaleRows(FP64, vRaw, p.T, r) };
    const decode = attentionDecode(FP64, qRot, p.T, p.H, cache, { k: kRot, v: vRaw }, p.d, r);
    assert.ok(relDistance(decode, expected) < 1e-12, `decode seed ${seed}: ${relDistance(decode, expected)}`);
    // The usual schedule's kernel on the normalized tensors agrees too.
    assert.ok(relDistance(attentionUsual(FP64, flat(q), p.T, p.H, flat(k), flat(v), p.d), expected) < 1e-12);
    // The wrong forms are wrong in real arithmetic, not only in rounding.
    for (const mutation of ['k-scale-after-exp', 'v-scale-in-row-sum'] as const) {
      const wrong = attentionDeep(FP64, qRot, p.T, p.H, kRot, vRaw, p.d, r, mutation);
      assert.ok(relDistance(wrong, expected) > 1e-2, `${mutation}: ${relDistance(wrong, expected)}`);
      const wrongDecode = attentionDecode(FP64, qRot, p.T, p.H, cache, { k: kRot, v: vRaw }, p.d, r, mutation);
      assert.ok(relDistance(wrongDecode, expected) > 1e-2, `${mutation} decode: ${relDistance(wrongDecode, expected)}`);
    }
  }
});

test('float64: ReLU(r·a) = r·ReLU(a) carries r to the down projection (ReGLU: r²); SiLU does not', () => {
  for (const seed of [1, 2, 3]) {
    const p = problem(seed, 4, 24);
    const f = 16;
    const m = 12;
    const up = p.rng.normals(p.n * f, 0, 1 / Math.sqrt(p.n));
    const gate = p.rng.normals(p.n * f, 0, 1 / Math.sqrt(p.n));
    const down = p.rng.normals(f * m, 0, 1 / Math.sqrt(f));
    const norm = { kind: 'rmsnorm' as const, gamma: p.gamma, beta: null, eps: p.eps };
    const r = normScales(FP64, norm, p.x, p.T);
    const xhat = rmsnorm(rowsOf(p.x, p.n), p.gamma, p.eps);
    for (const gated of [false, true]) {
      for (const act of ['relu', 'silu'] as const) {
        const fn = act === 'relu' ? relu : silu;
        const a = matmul(xhat, gated ? gate : up, f);
        const u = matmul(xhat, up, f);
        const h = a.map((row, i) => row.map((v, j) => (gated ? fn(v) * u[i]![j]! : fn(v))));
        const expected = flat(matmul(h, down, m));
        const w = { up: foldRmsNorm(p.gamma, up).W, gate: gated ? foldRmsNorm(p.gamma, gate).W : null, down, f, m };
        const hRaw = mlpHidden(FP64, p.x, p.T, w, act);
        const scales = gated ? r.map((v) => v * v) : r;
        const deferred = scaledLinear(FP64, hRaw, p.T, { W: down, bias: null }, m, scales);
        const dist = relDistance(deferred, expected);
        if (act === 'relu') assert.ok(dist < 1e-12, `seed ${seed} gated ${gated}: ${dist}`);
        else assert.ok(dist > 1e-2, `SiLU is not positively homogeneous, yet seed ${seed} gated ${gated} matched: ${dist}`);
      }
      if (gated) {
        // ReGLU with r instead of r² is wrong by the factor r.
        const w = { up: foldRmsNorm(p.gamma, up).W, gate: foldRmsNorm(p.gamma, gate).W, down, f, m };
        const a = matmul(xhat, gate, f);
        const u = matmul(xhat, up, f);
        const expected = flat(matmul(a.map((row, i) => row.map((v, j) => relu(v) * u[i]![j]!)), down, m));
        const wrong = scaledLinear(FP64, mlpHidden(FP64, p.x, p.T, w, 'relu'), p.T, { W: down, bias: null }, m, r);
        assert.ok(relDistance(wrong, expected) > 1e-2);
      }
    }
  }
});

test('float64: a bias breaks the RoPE identity: r·RoPE(x·W′ + b) ≠ RoPE(r·(x·W′) + b)', () => {
  const p = problem(4);
  const norm = { kind: 'rmsnorm' as const, gamma: p.gamma, beta: null, eps: p.eps };
  const r = normScales(FP64, norm, p.x, p.T);
  const { cos, sin } = ropeTables(p.positions, p.d);
  const b = p.rng.normals(p.d, 0, 0.1);
  const xhat = rmsnorm(rowsOf(p.x, p.n), p.gamma, p.eps);
  const expected = flat(rope(matmul(xhat, p.Wk, p.d).map((row) => row.map((v, j) => v + b[j]!)), p.positions, p.d));
  const wrong = scaleRows(FP64, applyRope(FP64, linear(FP64, p.x, p.T, foldRmsNorm(p.gamma, p.Wk).W, p.d, b), p.T, p.d, cos, sin), p.T, r);
  assert.ok(relDistance(wrong, expected) > 1e-2);
});

test('ropeTables: angles pos·θ^(−2t/d) at θ = 10000', () => {
  const { cos, sin } = ropeTables([0, 1000], 8);
  assert.deepEqual(Array.from(cos.subarray(0, 4)), [1, 1, 1, 1]);
  assert.ok(Math.abs(sin[4 + 1]! - Math.sin(1000 / 10)) < 1e-15);
  assert.ok(Math.abs(cos[4 + 3]! - Math.cos(1000 * 10000 ** (-6 / 8))) < 1e-15);
  assert.throws(() => ropeTables([1], 7), RangeError);
});

// ---------------------------------------------------------------------------------------------
// The check's entries

let cached: NumericsEntry[] | null = null;
const entries = (): NumericsEntry[] => (cached ??= checkNumerics(options()).entries);

/** Expected bands of the floored max relative error (unit roundoff: fp32 6e-8, bf16 3.9e-3, fp16 4.9e-4). */
const MAX_BAND: Record<NumericsDtype, [number, number]> = { fp32: [1e-7, 1e-4], bf16: [1e-3, 2e-1], fp16: [1e-4, 3e-2] };

test('entries: per dtype one RoPE form, the prefill and decode attention forms, the ReLU and ReGLU MLPs', () => {
  const es = entries();
  assert.equal(es.length, 5 * DTYPES.length);
  for (const dtype of DTYPES) {
    const mine = es.filter((e) => e.dtype === dtype);
    assert.deepEqual(mine.map((e) => e.siteKind), ['rmsnorm-rope', 'rmsnorm-attention', 'rmsnorm-attention', 'rmsnorm-relu-down', 'rmsnorm-relu-down']);
  }
  const labels = new Set(es.map((e) => e.site));
  assert.equal(labels.size, 5, [...labels].join(' | '));
  assert.ok([...labels].some((l) => /prefill, causal/.test(l)) && [...labels].some((l) => /decode/.test(l)));
  assert.ok([...labels].some((l) => /ReGLU MLP, r² after down/.test(l)) && [...labels].some((l) => /ReLU MLP, r after down/.test(l)));
  for (const e of es) {
    assert.equal(e.depth, e.siteKind === 'rmsnorm-rope' ? 'rope' : e.siteKind === 'rmsnorm-attention' ? 'attention' : 'down');
    assert.equal(e.offset, e.siteKind === 'rmsnorm-attention' ? 'exact' : undefined);
    assert.ok((e.note ?? '').length > 20);
  }
  const rope = es.find((e) => e.siteKind === 'rmsnorm-rope')!;
  assert.match(rope.note!, new RegExp(`positions ${DEEP_SIZES.firstPosition}–${DEEP_SIZES.firstPosition + DEEP_SIZES.tokens - 1}`));
  assert.match(rope.note!, /θ = 10000/);
});

test('every deep form is within the baseline for every dtype, with errors of the dtype\'s size', () => {
  for (const e of entries()) {
    const label = `${e.site} ${e.dtype}`;
    for (const v of [e.baselineMaxRelErr, e.deferredMaxRelErr]) assert.ok(v >= MAX_BAND[e.dtype][0] && v <= MAX_BAND[e.dtype][1], `${label}: ${v}`);
    assert.ok(e.withinBaseline, `${label}: deferred ${e.deferredMaxRelErr} vs baseline ${e.baselineMaxRelErr}`);
    assert.equal(e.withinBaseline, e.deferredMaxRelErr <= e.baselineMaxRelErr * DEFAULT_TOLERANCE);
  }
});

test('the verdict does not depend on the seed (seeds 1–12)', () => {
  const shape = capShape(SHAPE);
  for (let seed = 1; seed <= 12; seed++) {
    for (const e of deepEntries({ seed, accumulate: 'fp32', tolerance: DEFAULT_TOLERANCE }, shape, DEEP, DTYPES)) {
      assert.ok(e.withinBaseline, `seed ${seed} ${e.site} ${e.dtype}: ${(e.deferredMaxRelErr / e.baselineMaxRelErr).toFixed(2)}× the baseline`);
    }
  }
});

test('only the kinds asked for; the deep kinds beside the others leave those unchanged', () => {
  const rope = checkNumerics(options({ sites: ['rmsnorm-rope'] })).entries;
  assert.deepEqual([...new Set(rope.map((e) => e.siteKind))], ['rmsnorm-rope']);
  const attention = checkNumerics(options({ sites: ['rmsnorm-attention'], dtypes: ['bf16'] })).entries;
  assert.equal(attention.length, 2);
  // Same numbers whether the attention forms are computed alone or with the RoPE form.
  assert.deepEqual(attention, entries().filter((e) => e.siteKind === 'rmsnorm-attention' && e.dtype === 'bf16'));
  const plain = checkNumerics(options({ sites: ['rmsnorm-linear', 'softmax-v'] }));
  const mixed = checkNumerics(options({ sites: ['rmsnorm-linear', 'softmax-v', ...DEEP] }));
  assert.deepEqual(mixed.entries.slice(0, plain.entries.length), plain.entries);
  assert.deepEqual(mixed.entries.slice(plain.entries.length), entries());
  assert.deepEqual(mixed.overflow, plain.overflow);
});

// ---------------------------------------------------------------------------------------------
// Negative controls: wrong forms fail the check

const CONTROLS: { mutation: DeepMutation; kind: NumericsSiteKind; only?: RegExp; what: string }[] = [
  { mutation: 'rope-with-bias', kind: 'rmsnorm-rope', what: 'q and k with a bias, r still taken past RoPE' },
  { mutation: 'k-scale-after-exp', kind: 'rmsnorm-attention', what: "k's scale on the column after exp instead of on the logit" },
  { mutation: 'v-scale-in-row-sum', kind: 'rmsnorm-attention', what: "v's scale inside the row sum" },
  { mutation: 'silu-not-relu', kind: 'rmsnorm-relu-down', what: 'the scale taken through SiLU' },
  { mutation: 'reglu-r-not-r2', kind: 'rmsnorm-relu-down', only: /ReGLU/, what: 'ReGLU scaled by r instead of r²' },
];

for (const c of CONTROLS)
  test(`negative control fails the check in every dtype: ${c.what} (${c.mutation})`, () => {
    const es = deepEntries({ seed: 1, accumulate: 'fp32', tolerance: DEFAULT_TOLERANCE }, capShape(SHAPE), [c.kind], DTYPES, c.mutation).filter(
      (e) => c.only === undefined || c.only.test(e.site),
    );
    assert.ok(es.length >= DTYPES.length);
    for (const dtype of DTYPES) assert.ok(es.some((e) => e.dtype === dtype));
    for (const e of es) {
      assert.equal(e.withinBaseline, false, `${e.site} ${e.dtype} passed: ${e.deferredMaxRelErr} vs ${e.baselineMaxRelErr}`);
      // Not a near miss: an error of a fifth of the output or more, above any dtype's rounding.
      assert.ok(e.deferredMaxRelErr > 0.2 && e.deferredMaxRelErr > 5 * e.baselineMaxRelErr, `${e.site} ${e.dtype}: ${e.deferredMaxRelErr}`);
    }
  });

test('a mutation leaves the entries of the other forms as they are (the controls are confined to their form)', () => {
  const shape = capShape(SHAPE);
  const opts = { seed: 1, accumulate: 'fp32' as const, tolerance: DEFAULT_TOLERANCE };
  assert.deepEqual(deepEntries(opts, shape, ['rmsnorm-attention'], DTYPES, 'silu-not-relu'), entries().filter((e) => e.siteKind === 'rmsnorm-attention'));
  assert.deepEqual(deepEntries(opts, shape, ['rmsnorm-relu-down'], DTYPES, 'k-scale-after-exp'), entries().filter((e) => e.siteKind === 'rmsnorm-relu-down'));
  const reglu = deepEntries(opts, shape, ['rmsnorm-relu-down'], DTYPES, 'reglu-r-not-r2').filter((e) => !/ReGLU/.test(e.site));
  assert.deepEqual(reglu, entries().filter((e) => e.siteKind === 'rmsnorm-relu-down' && !/ReGLU/.test(e.site)));
});
