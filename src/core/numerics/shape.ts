/**
 * The sizes the numerics check runs at: the caps (NUMERICS_CAPS), the shape picked from a model's
 * dimensions (numericsShapeFor) and the capping of a shape asked for (capShape).
 */

import { InputError, describeValue } from '../errors';
import type { NumericsShape } from './types';

/**
 * Caps on the tensors the check builds, applied inside checkNumerics (and by numericsShapeFor), so
 * no caller can make it slow. The full report runs the check on every `profile --format json`, where
 * a cold process pays for V8's warm-up of every kernel: with these caps the largest fixture's check
 * costs ≈ 90 ms on a cold first call on the 2-core dev VM (≈ 180 ms with the former caps of hidden
 * 1024, outputs 128, context 512). The hidden cap shortens the dot products (fp32 accumulation error
 * grows like √n at most), so errors at a model's full width may be a little larger than measured,
 * for both schedules alike; the output caps only reduce the number of samples the max is taken over
 * (4 rows × 64 per consumer); the context cap keeps 4 key blocks of the online offset (ONLINE_BLOCK).
 * Consumers of one norm are scaled down together so their ratio (e.g. q : kv = 4 : 1) is kept.
 * The tolerance below was re-measured at these caps (see DEFAULT_TOLERANCE).
 */
export const NUMERICS_CAPS = {
  hidden: 512,
  outFeatures: 64,
  multiOut: 64,
  multiCount: 4,
  headDim: 256,
  context: 256,
  rows: 8,
} as const;

/** The capped slice sizes for a model's dimensions. */
export function numericsShapeFor(dims: {
  hidden: number;
  headDim: number;
  ffn: number;
  vocab: number;
  kvHeads: number;
  heads: number;
}): NumericsShape {
  const c = NUMERICS_CAPS;
  const pos = (v: number, fallback: number): number => (Number.isFinite(v) && v >= 1 ? Math.floor(v) : fallback);
  const headDim = Math.min(pos(dims.headDim, 64), c.headDim);
  const heads = pos(dims.heads, 1);
  const kvHeads = Math.min(pos(dims.kvHeads, heads), heads);
  const hidden = Math.min(pos(dims.hidden, heads * headDim), c.hidden);
  const outWidth = dims.ffn >= 1 ? dims.ffn : pos(dims.vocab, hidden);
  // K and V keep their ratio to Q (grouped-query attention).
  const [q, kv] = capWidths([heads * headDim, kvHeads * headDim], c.multiOut) as [number, number];
  return {
    hidden,
    outFeatures: Math.min(Math.floor(outWidth), c.outFeatures),
    multiOut: [q, kv, kv],
    headDim,
    context: c.context,
    rows: 4,
  };
}

/** Scale consumer widths down together so the widest is at most `cap` (keeps e.g. q : kv = 4 : 1), at least 16 each. */
function capWidths(widths: number[], cap: number): number[] {
  const widest = Math.max(...widths);
  if (widest <= cap) return widths.slice();
  return widths.map((w) => Math.min(w, Math.max(16, Math.round((w * cap) / widest))));
}

/** Apply NUMERICS_CAPS to a shape (validated first). */
export function capShape(shape: NumericsShape): NumericsShape {
  const c = NUMERICS_CAPS;
  const sizes: [keyof NumericsShape, number][] = [
    ['hidden', shape.hidden],
    ['outFeatures', shape.outFeatures],
    ['headDim', shape.headDim],
    ['context', shape.context],
    ['rows', shape.rows],
  ];
  for (const [field, v] of sizes)
    if (!Number.isInteger(v) || v < 1) throw new InputError('numerics options', `shape.${field}`, 'a positive integer', describeValue(v));
  if (!Array.isArray(shape.multiOut) || shape.multiOut.length === 0)
    throw new InputError('numerics options', 'shape.multiOut', 'a non-empty array of positive integers', describeValue(shape.multiOut));
  shape.multiOut.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 1)
      throw new InputError('numerics options', `shape.multiOut[${i}]`, 'a positive integer', describeValue(v));
  });
  return {
    hidden: Math.min(shape.hidden, c.hidden),
    outFeatures: Math.min(shape.outFeatures, c.outFeatures),
    multiOut: capWidths(shape.multiOut.slice(0, c.multiCount), c.multiOut),
    headDim: Math.min(shape.headDim, c.headDim),
    context: Math.min(shape.context, c.context),
    rows: Math.min(shape.rows, c.rows),
  };
}
