import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bf16Bits,
  bf16FromBits,
  fp16Bits,
  fp16FromBits,
  roundArray,
  roundBf16,
  roundFp16,
  roundTo,
} from '../../src/core/numerics/floats';

// ---- Brute force over bit patterns: the reference for "nearest representable, ties to even" ----

/** All finite non-negative values of a 16-bit format, ascending, with their bit patterns. */
function finitePositives(decode: (bits: number) => number): { v: number[]; bits: number[] } {
  const pairs: [number, number][] = [];
  for (let b = 0; b < 0x8000; b++) {
    const v = decode(b);
    if (Number.isFinite(v)) pairs.push([v, b]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { v: pairs.map((p) => p[0]), bits: pairs.map((p) => p[1]) };
}

const FP16_TABLE = finitePositives(fp16FromBits);
const BF16_TABLE = finitePositives(bf16FromBits);

/** Nearest representable to x by search over the table; ties to the even bit pattern; ±Infinity past max + ulp/2. */
function bruteForce(table: { v: number[]; bits: number[] }, x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const { v, bits } = table;
  const last = v.length - 1;
  const max = v[last]!;
  const ulpAtMax = max - v[last - 1]!;
  if (a >= max + ulpAtMax / 2) return x < 0 ? -Infinity : Infinity;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v[mid]! <= a) lo = mid;
    else hi = mid;
  }
  let r: number;
  if (a >= max) r = max;
  else {
    const dl = a - v[lo]!;
    const dh = v[hi]! - a;
    r = dl < dh ? v[lo]! : dh < dl ? v[hi]! : (bits[lo]! & 1) === 0 ? v[lo]! : v[hi]!;
  }
  return x < 0 || Object.is(x, -0) ? -r : r;
}

const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

// ---- Known bit patterns ----

test('fp16: known values and bit patterns', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1 + 2^-10: tie to even (1)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even)
    [1 + 2 ** -11 + 2 ** -30, 0x3c01], // just above the tie
    [65504, 0x7bff],
    [65519, 0x7bff], // below the midpoint 65520
    [65520, 0x7c00], // the midpoint rounds to even = 65536 = overflow
    [-65520, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: tie to even (0)
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal quanta: tie to even (2)
    [2 ** -25 + 2 ** -40, 0x0001],
    [2 ** -14 - 2 ** -25, 0x0400], // top subnormal tie goes to the (even) smallest normal
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e-10, 0x0000],
  ];
  for (const [x, bits] of cases) {
    assert.equal(fp16Bits(x), bits, `fp16Bits(${x})`);
    assert.ok(same(roundFp16(x), fp16FromBits(bits)), `roundFp16(${x}) = ${roundFp16(x)}`);
  }
  assert.ok(Number.isNaN(roundFp16(NaN)));
  assert.equal(fp16Bits(NaN), 0x7e00);
  assert.equal(roundFp16(65519), 65504);
  assert.equal(roundFp16(65520), Infinity);
});

test('bf16: known values and bit patterns', () => {
  const f32max = (2 - 2 ** -23) * 2 ** 127;
  const cases: [number, number][] = [
    [1, 0x3f80],
    [1 + 2 ** -8, 0x3f80], // 1.00390625: tie between 1 (even) and 1 + 2^-7
    [1 + 3 * 2 ** -8, 0x3f82], // tie between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
    [(2 - 2 ** -7) * 2 ** 127, 0x7f7f], // largest finite
    [(2 - 2 ** -8) * 2 ** 127, 0x7f80], // its midpoint to 2^128: overflow
    [f32max, 0x7f80],
    [3.4e38, 0x7f80],
    [2 ** -133, 0x0001], // smallest subnormal
    [2 ** -134, 0x0000], // tie to even
    [3 * 2 ** -134, 0x0002],
    [-2, 0xc000],
    [-0, 0x8000],
    [-Infinity, 0xff80],
  ];
  for (const [x, bits] of cases) {
    assert.equal(bf16Bits(x), bits, `bf16Bits(${x})`);
    assert.ok(same(roundBf16(x), bf16FromBits(bits)), `roundBf16(${x})`);
  }
  assert.equal(roundBf16(1.00390625), 1);
  assert.equal(roundBf16(1 + 3 * 2 ** -8), 1 + 2 ** -6);
  assert.ok(Number.isNaN(roundBf16(NaN)));
});

test('rounding goes from float64 directly: the double-rounding counterexamples', () => {
  // Through float32 these land exactly on a midpoint and tie to even (down); the true value is above it.
  const xb = 1 + 2 ** -8 + 2 ** -30;
  assert.equal(Math.fround(xb), 1 + 2 ** -8);
  assert.equal(roundBf16(xb), 1 + 2 ** -7);
  assert.equal(roundBf16(-xb), -(1 + 2 ** -7));
  const xh = 1 + 2 ** -11 + 2 ** -30;
  assert.equal(Math.fround(xh), 1 + 2 ** -11);
  assert.equal(roundFp16(xh), 1 + 2 ** -10);
  // And just below a midpoint with an odd lower neighbour: must not go up.
  const yb = 1 + 3 * 2 ** -8 - 2 ** -30;
  assert.equal(Math.fround(yb), 1 + 3 * 2 ** -8);
  assert.equal(roundBf16(yb), 1 + 2 ** -7);
  const yh = 1 + 3 * 2 ** -11 - 2 ** -35;
  assert.equal(roundFp16(yh), 1 + 2 ** -10);
});

test('every 16-bit pattern round-trips', () => {
  for (let b = 0; b < 0x10000; b++) {
    const h = fp16FromBits(b);
    if (!Number.isNaN(h)) {
      assert.ok(same(roundFp16(h), h));
      assert.equal(fp16Bits(h), b);
    }
    const g = bf16FromBits(b);
    if (!Number.isNaN(g)) {
      assert.ok(same(roundBf16(g), g));
      assert.equal(bf16Bits(g), b);
    }
  }
});

// Values that stress rounding: anywhere, near the format's midpoints (± tiny offsets), near its limits.
function stressing(table: { v: number[] }, ulpShift: number): fc.Arbitrary<number> {
  const n = table.v.length;
  const nearMidpoint = fc
    .tuple(fc.integer({ min: 0, max: n - 2 }), fc.integer({ min: -4, max: 4 }), fc.boolean(), fc.boolean())
    .map(([i, k, neg, tiny]) => {
      const mid = (table.v[i]! + table.v[i + 1]!) / 2;
      const step = tiny ? mid * 2 ** -50 : mid * 2 ** -ulpShift;
      const x = mid + k * step;
      return neg ? -x : x;
    });
  return fc.oneof(
    fc.double({ noNaN: true }),
    fc.double({ min: -70000, max: 70000, noNaN: true }),
    fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
    nearMidpoint,
  );
}

test('property: fp16 rounding is the nearest value (ties to even), by brute force over bit patterns', () => {
  fc.assert(
    fc.property(stressing(FP16_TABLE, 30), (x) => same(roundFp16(x), bruteForce(FP16_TABLE, x))),
    { numRuns: 20000 },
  );
});

test('property: bf16 rounding is the nearest value (ties to even), by brute force over bit patterns', () => {
  fc.assert(
    fc.property(stressing(BF16_TABLE, 30), (x) => same(roundBf16(x), bruteForce(BF16_TABLE, x))),
    { numRuns: 20000 },
  );
});

test('property: rounding is idempotent and monotone in every dtype', () => {
  for (const dtype of ['fp32', 'bf16', 'fp16'] as const) {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.double({ noNaN: true }), (a, b) => {
        const ra = roundTo(dtype, a);
        if (!same(roundTo(dtype, ra), ra)) return false;
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return roundTo(dtype, lo) <= roundTo(dtype, hi);
      }),
      { numRuns: 5000 },
    );
  }
});

test('roundArray agrees with roundTo element by element; fp64 is the identity', () => {
  const xs = Float64Array.from({ length: 2000 }, (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 14) - 7));
  for (const dtype of ['fp64', 'fp32', 'bf16', 'fp16'] as const) {
    const r = roundArray(dtype, xs);
    for (let i = 0; i < xs.length; i++) assert.ok(same(r[i]!, roundTo(dtype, xs[i]!)));
  }
  assert.deepEqual(roundArray('fp64', xs), xs);
  const inPlace = Float64Array.from(xs);
  roundArray('bf16', inPlace, inPlace);
  assert.deepEqual(inPlace, roundArray('bf16', xs));
});
