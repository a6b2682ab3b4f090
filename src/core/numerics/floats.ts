/**
 * Rounding of float64 values to the storage formats the numerics check simulates: float32, bfloat16
 * and float16, all with IEEE 754 round-to-nearest, ties-to-even, gradual underflow (subnormals),
 * overflow to ±Infinity and NaN passed through. Bit-exact: the unit tests compare every result
 * with a brute-force search over all 65536 bit patterns of each 16-bit format.
 *
 * Double rounding. Rounding float64 → float32 → bfloat16 (or float16) naively is wrong for
 * arbitrary float64 inputs: x = 1 + 2^-8 + 2^-30 must round to bfloat16 1 + 2^-7 (it is above the
 * midpoint 1 + 2^-8 between 1 and 1 + 2^-7), but float32 drops the 2^-30, lands exactly on the
 * midpoint, and the tie then goes to the even neighbour 1. (The classical "p' ≥ 2p + 2" theorem
 * that makes float32 an innocuous intermediate holds only for the result of one +, −, ×, ÷ or √ on
 * operands already in the narrow format; the kernels here round sums of products and folded
 * weights, which are not such results.) The same happens for float16 with 2^-11.
 *
 * That is also the *only* way it can go wrong: every midpoint of the narrow format is a float32
 * number, so rounding x to the nearest float32 f never carries it across a midpoint; f can at worst
 * land on one. So we round to float32 first (fast: Math.fround and the float32 bits), and when f is
 * exactly a midpoint of the narrow format but f ≠ x, we nudge f's bits by one float32 ulp toward x
 * before the integer round-to-nearest-even of the dropped bits. The result is the correctly
 * rounded value of x itself: a single rounding. (Tested with both counterexamples above.)
 *
 * float16's subnormal range (|x| < 2^-14) is not a bit truncation of float32, so there we round the
 * float64 value directly to a multiple of 2^-24 with the float64 adder: (|x| + C) − C with
 * C = 1.5·2^28 (|x| + C stays in C's binade, whose ulp is 2^-24, and C/2^-24 is even, so the
 * adder's own ties-to-even decides). Overflow: a result above the format's largest finite value is
 * ±Infinity, which is exactly |x| ≥ max + ulp/2 (max has an odd significand, so the tie goes up).
 */

export type Precision = 'fp64' | 'fp32' | 'bf16' | 'fp16';

/** Largest finite float16 value, 65504 = (2 − 2^-10)·2^15. */
export const FP16_MAX = 65504;
/** Smallest positive float16 subnormal, 2^-24. */
export const FP16_MIN_SUBNORMAL = 2 ** -24;
/** Largest finite bfloat16 value, (2 − 2^-7)·2^127 ≈ 3.39e38. */
export const BF16_MAX = (2 - 2 ** -7) * 2 ** 127;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** 1.5·2^28: (|x| + C) − C rounds |x| < 2^-14 to a multiple of 2^-24 (float16 subnormals). */
const FP16_SUBNORMAL_MAGIC = 1.5 * 2 ** 28;
/** float32 bits of 2^-14, the smallest normal float16. */
const FP16_MIN_NORMAL_BITS = 0x38800000;

// The two functions below are the same algorithm with the format's constants written in (drop
// 13 or 16 low bits of the float32 pattern); kept separate so that V8 compiles each with constants.

/** Round a float64 to the nearest float16 value (ties to even), returned as a float64. */
export function roundFp16(x: number): number {
  const f = Math.fround(x);
  f32Scratch[0] = f;
  let bits = u32Scratch[0]!;
  if ((bits & 0x7fffffff) < FP16_MIN_NORMAL_BITS) {
    const r = Math.abs(x) + FP16_SUBNORMAL_MAGIC - FP16_SUBNORMAL_MAGIC;
    return bits >>> 31 === 1 ? -r : r;
  }
  // f on a float16 midpoint but x is not: move one float32 ulp toward x (see the header).
  if ((bits & 0x1fff) === 0x1000 && f !== x) bits += Math.abs(x) > Math.abs(f) ? 1 : -1;
  u32Scratch[0] = (bits + 0xfff + ((bits >>> 13) & 1)) & 0xffffe000;
  const r = f32Scratch[0]!;
  return Math.abs(r) > 65504 ? r * Infinity : r;
}

/** Round a float64 to the nearest bfloat16 value (ties to even), returned as a float64. */
export function roundBf16(x: number): number {
  const f = Math.fround(x);
  f32Scratch[0] = f;
  let bits = u32Scratch[0]!;
  if ((bits & 0xffff) === 0x8000 && f !== x) bits += Math.abs(x) > Math.abs(f) ? 1 : -1;
  u32Scratch[0] = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  return f32Scratch[0]!;
}

/** Round a float64 to the nearest float32 value (Math.fround is exactly IEEE RNE). */
export function roundFp32(x: number): number {
  return Math.fround(x);
}

const identity = (x: number): number => x;

/** The rounding function of a precision; 'fp64' is the identity. */
export function rounder(p: Precision): (x: number) => number {
  switch (p) {
    case 'fp64':
      return identity;
    case 'fp32':
      return Math.fround;
    case 'bf16':
      return roundBf16;
    case 'fp16':
      return roundFp16;
  }
}

/** Round one value to a precision. */
export function roundTo(p: Precision, x: number): number {
  return rounder(p)(x);
}

/**
 * Round every element of `src` to a precision, into `out` (a new Float64Array when omitted).
 * `out` may be `src` itself.
 */
export function roundArray(p: Precision, src: ArrayLike<number>, out?: Float64Array): Float64Array {
  const dst = out ?? new Float64Array(src.length);
  switch (p) {
    case 'fp64':
      if (dst !== src) copyArray(src, dst);
      return dst;
    case 'fp32':
      return roundArrayFp32(src, dst);
    case 'bf16':
      return roundArrayBf16(src, dst);
    case 'fp16':
      return roundArrayFp16(src, dst);
  }
}

// Arrays are rounded in bulk: TypedArray.prototype.set converts float64 → float32 natively (the
// same IEEE round-to-nearest-even as Math.fround), then one tight integer loop over the float32
// bits applies the same correction and truncation as roundBf16 / roundFp16 above, and set()
// converts back. Element for element the same results as the scalar functions (tested), at a
// fraction of the cost on a cold start, where the numerics check rounds ~10^6 values once.
let scratchF32 = new Float32Array(1024);
let scratchI32 = new Int32Array(scratchF32.buffer);

/** src as float32 in the scratch buffer (grown when needed); returns its length. */
function toFloat32Scratch(src: ArrayLike<number>): number {
  const n = src.length;
  if (scratchF32.length < n) {
    scratchF32 = new Float32Array(Math.max(n, 2 * scratchF32.length));
    scratchI32 = new Int32Array(scratchF32.buffer);
  }
  if (n === scratchF32.length) scratchF32.set(src);
  else scratchF32.subarray(0, n).set(src);
  return n;
}

function fromFloat32Scratch(n: number, dst: Float64Array): Float64Array {
  dst.set(n === scratchF32.length ? scratchF32 : scratchF32.subarray(0, n));
  return dst;
}

function copyArray(src: ArrayLike<number>, dst: Float64Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = src[i]!;
}
function roundArrayFp32(src: ArrayLike<number>, dst: Float64Array): Float64Array {
  return fromFloat32Scratch(toFloat32Scratch(src), dst);
}
function roundArrayBf16(src: ArrayLike<number>, dst: Float64Array): Float64Array {
  const n = toFloat32Scratch(src);
  const f = scratchF32;
  const b = scratchI32;
  for (let i = 0; i < n; i++) {
    let bits = b[i]!;
    // f on a bfloat16 midpoint but x is not: one float32 ulp toward x (see the header).
    if ((bits & 0xffff) === 0x8000) {
      const x = src[i]!;
      const fv = f[i]!;
      if (fv !== x) bits += Math.abs(x) > Math.abs(fv) ? 1 : -1;
    }
    b[i] = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  }
  return fromFloat32Scratch(n, dst);
}
function roundArrayFp16(src: ArrayLike<number>, dst: Float64Array): Float64Array {
  const n = toFloat32Scratch(src);
  const f = scratchF32;
  const b = scratchI32;
  for (let i = 0; i < n; i++) {
    let bits = b[i]!;
    if ((bits & 0x7fffffff) < FP16_MIN_NORMAL_BITS) {
      const r = Math.abs(src[i]!) + FP16_SUBNORMAL_MAGIC - FP16_SUBNORMAL_MAGIC;
      f[i] = bits < 0 ? -r : r;
      continue;
    }
    if ((bits & 0x1fff) === 0x1000) {
      const x = src[i]!;
      const fv = f[i]!;
      if (fv !== x) bits += Math.abs(x) > Math.abs(fv) ? 1 : -1;
    }
    b[i] = (bits + 0xfff + ((bits >>> 13) & 1)) & 0xffffe000;
    const r = f[i]!;
    if (Math.abs(r) > 65504) f[i] = r * Infinity;
  }
  return fromFloat32Scratch(n, dst);
}

/** Round an array in place. */
export function roundInPlace(p: Precision, a: Float64Array): Float64Array {
  return roundArray(p, a, a);
}

// ---- Bit patterns (for tests and for anyone who wants to see the stored bits) ----

/** The value of a float16 bit pattern (0..0xffff). */
export function fp16FromBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * frac * 2 ** -24;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The float16 bit pattern of a float64, after rounding to nearest even. NaN gives 0x7e00. */
export function fp16Bits(x: number): number {
  const r = roundFp16(x);
  if (Number.isNaN(r)) return 0x7e00;
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | (a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const frac = (a / 2 ** e - 1) * 1024;
  return sign | ((e + 15) << 10) | frac;
}

const bitsScratch = new Float32Array(1);
const bitsScratchU = new Uint32Array(bitsScratch.buffer);

/** The value of a bfloat16 bit pattern (0..0xffff): the top half of a float32. */
export function bf16FromBits(bits: number): number {
  bitsScratchU[0] = (bits & 0xffff) << 16;
  return bitsScratch[0]!;
}

/** The bfloat16 bit pattern of a float64, after rounding to nearest even. NaN gives 0x7fc0. */
export function bf16Bits(x: number): number {
  const r = roundBf16(x);
  if (Number.isNaN(r)) return 0x7fc0;
  bitsScratch[0] = r; // exact: every bfloat16 value is a float32 value
  return bitsScratchU[0]! >>> 16;
}

/** The float32 bit pattern of a float64, after rounding to nearest even. */
export function fp32Bits(x: number): number {
  bitsScratch[0] = x;
  return bitsScratchU[0]!;
}
