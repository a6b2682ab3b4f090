/**
 * A small seeded PRNG (mulberry32: 32-bit state, full period 2^32, good enough for test tensors)
 * with normal samples by Box–Muller (polar form), so that every numerics result repeats for a seed.
 */

export interface Rng {
  /** Uniform in [0, 1), 2^-32 resolution. */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Fill a new Float64Array with N(mean, std²) samples. */
  normals(n: number, mean?: number, std?: number): Float64Array;
}

/** Mix a seed and a label into a 32-bit seed, so that each tensor of the check has its own stream. */
export function deriveSeed(seed: number, label: string): number {
  // FNV-1a over the label, then a murmur3 finalizer with the seed folded in.
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Math.floor(seed / 2 ** 32) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function createRng(seed: number): Rng {
  // State in a typed array: a closure variable holding a uint32 above 2^30 would be boxed (a heap
  // allocation per draw in V8).
  const state = new Uint32Array([seed >>> 0]);
  // The spare sample also lives in a typed array (a double in a closure would be boxed); NaN = none.
  const spare = new Float64Array([NaN]);
  const uniform = (): number => {
    const t0 = (state[0]! + 0x6d2b79f5) >>> 0;
    state[0] = t0;
    let t = t0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Box–Muller in Marsaglia's polar form: a uniform point in the unit disc instead of an angle, so
  // no sin/cos (about twice as fast; 21% of the points are rejected). Two samples per accepted point.
  const normal = (): number => {
    const held = spare[0]!;
    if (held === held) {
      spare[0] = NaN;
      return held;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * uniform() - 1;
      v = 2 * uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const k = Math.sqrt((-2 * Math.log(s)) / s);
    spare[0] = v * k;
    return u * k;
  };
  const normals = (n: number, mean = 0, std = 1): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * normal();
    return out;
  };
  return { uniform, normal, normals };
}
