/**
 * The Softmax → ·V site: the usual safe softmax against the deferred division by ℓ with each
 * offset choice (the accuracy entries), and what each offset does where exp could leave float16's
 * range (the overflow cases).
 */

import { roundArray } from './floats';
import { FP64, kernelConfig } from './kernels';
import { SoftmaxOffsetSpec, softmaxVBaseline, softmaxVDeferred } from './softmax-kernels';
import { AttentionInputs, attentionUnit, scaleLogits } from './inputs';
import { relErrorStats } from './metrics';
import { BOUND_SLACK, FP16_LN_MAX, LOGIT_SCALE, OFFSETS, ONLINE_BLOCK, OVERFLOW_MAX_LOGIT, SITE_LABEL, makeEntry } from './sites';
import type { NumericsDtype, NumericsEntry, NumericsOptions, NumericsResult, NumericsShape, SoftmaxOffset } from './types';

function rowMaxes(logits: Float64Array, rows: number): Float64Array {
  const L = logits.length / rows;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < L; j++) m = Math.max(m, logits[r * L + j]!);
    out[r] = m;
  }
  return out;
}

function offsetSpec(offset: SoftmaxOffset | 'none', c: Float64Array): SoftmaxOffsetSpec {
  switch (offset) {
    case 'none':
      return { kind: 'none' };
    case 'exact':
      return { kind: 'exact' };
    case 'online':
      return { kind: 'online', block: ONLINE_BLOCK };
    case 'bound':
      return { kind: 'bound', c };
  }
}

/** The attention inputs of one check: one draw of q, k, V, used at ordinary and at large scale. */
export function attentionFor(seed: number, shape: NumericsShape): AttentionInputs {
  return attentionUnit(seed, 'attention', shape.rows, shape.context, shape.headDim);
}

/** Logits (and V) as stored in a dtype, with the float64 reference of the usual schedule on them. */
interface StoredAttention {
  s: Float64Array;
  V: Float64Array;
  ref: Float64Array;
  rowMax: Float64Array;
  maxLogit: number;
  /** Cauchy–Schwarz bound per row, in logit units. */
  csBound: Float64Array;
}

/**
 * The attention tensors of one check at ordinary scale (the accuracy entries) and at large scale
 * (the overflow cases), each stored once per dtype with its reference: the accuracy entries and the
 * overflow cases share them instead of rounding and computing the same reference twice.
 */
export class AttentionStore {
  private readonly sets: Record<'large' | 'ordinary', AttentionInputs>;
  private readonly stored = new Map<string, StoredAttention>();
  private readonly storedV = new Map<NumericsDtype, Float64Array>();
  constructor(
    unit: AttentionInputs,
    private readonly rows: number,
    private readonly d: number,
  ) {
    // V is shared by both sets (scaleLogits does not copy it).
    this.sets = { large: scaleLogits(unit, LOGIT_SCALE, OVERFLOW_MAX_LOGIT), ordinary: scaleLogits(unit, LOGIT_SCALE) };
  }
  get(set: 'large' | 'ordinary', dtype: NumericsDtype): StoredAttention {
    const key = `${set}:${dtype}`;
    let e = this.stored.get(key);
    if (e === undefined) {
      const s = roundArray(dtype, this.sets[set].logits);
      let V = this.storedV.get(dtype);
      if (V === undefined) {
        V = roundArray(dtype, this.sets[set].V);
        this.storedV.set(dtype, V);
      }
      const rowMax = rowMaxes(s, this.rows);
      let maxLogit = -Infinity;
      for (const m of rowMax) maxLogit = Math.max(maxLogit, m);
      e = { s, V, ref: softmaxVBaseline(FP64, s, this.rows, V, this.d).out, rowMax, maxLogit, csBound: this.sets[set].csBound };
      this.stored.set(key, e);
    }
    return e;
  }
}

export function softmaxEntries(options: NumericsOptions, shape: NumericsShape, dtype: NumericsDtype, store: AttentionStore): NumericsEntry[] {
  const { rows, context: L, headDim: d } = shape;
  const cfg = kernelConfig(dtype, options.accumulate);
  const { s, V, ref, maxLogit } = store.get('ordinary', dtype);
  const base = relErrorStats(softmaxVBaseline(cfg, s, rows, V, d).out, ref);
  const bound = new Float64Array(rows).fill(maxLogit + BOUND_SLACK);
  return OFFSETS.map((offset) => {
    const res = softmaxVDeferred(cfg, s, rows, V, d, offsetSpec(offset, bound));
    const note =
      offset === 'exact'
        ? 'c = row max (gathered before the exponentials: a collective left on the critical path)'
        : offset === 'online'
          ? `running max over blocks of ${ONLINE_BLOCK} keys, ℓ and O rescaled by exp(m_old − m_new)`
          : `c = largest logit of the tensor + ${BOUND_SLACK} (a fixed bound ≥ every row max, e.g. calibrated offline); ` +
            `${res.underflowedCount} of ${rows * L} stored exp values flushed to zero`;
    return makeEntry('softmax-v', SITE_LABEL['softmax-v'], dtype, base, relErrorStats(res.out, ref), options.tolerance, {
      offset,
      note,
    });
  });
}

type OverflowItem = NumericsResult['overflow'][number];

/**
 * What each offset choice does to the deferred Softmax when exp could leave float16's range.
 * Two logit sets: large logits (each row's max = OVERFLOW_MAX_LOGIT = 24, e^24 ≈ 2.6e10 ≫ 65504)
 * to show overflow, and the ordinary logits of the accuracy entries to show the other side of a
 * bound, underflow: a bound far above the max pushes exp(s − c) into float16 subnormals
 * (below e^-9.7) or to zero. In float16 a usable bound lies in [max − 11.09, max + ≈3].
 */
export function overflowCases(
  options: Pick<NumericsOptions, 'seed' | 'accumulate'>,
  shape: NumericsShape,
  unit: AttentionInputs | AttentionStore = attentionFor(options.seed, shape),
): OverflowItem[] {
  const { rows, context: L, headDim: d } = shape;
  const store = unit instanceof AttentionStore ? unit : new AttentionStore(unit, rows, d);
  type SetName = 'large' | 'ordinary';
  type Stored = StoredAttention;
  const storedFor = (set: SetName, dtype: NumericsDtype): Stored => store.get(set, dtype);
  const out: OverflowItem[] = [];
  const lnMax = FP16_LN_MAX.toFixed(2);
  const ofl = (o: boolean): string => (o ? 'overflowed: Infinity reached the output (NaN)' : 'no overflow');
  const run = (
    set: SetName,
    dtype: NumericsDtype,
    offset: SoftmaxOffset | 'none',
    c: (rowMax: Float64Array) => Float64Array,
    describe: (o: boolean, flushed: number, st: Stored) => string,
  ): void => {
    const st = storedFor(set, dtype);
    const res = softmaxVDeferred(kernelConfig(dtype, options.accumulate), st.s, rows, st.V, d, offsetSpec(offset, c(st.rowMax)));
    out.push({
      dtype,
      maxLogit: st.maxLogit,
      offset,
      overflowed: res.overflowed,
      note: describe(res.overflowed, res.underflowedCount, st),
      maxRelErr: relErrorStats(res.out, st.ref).max,
    });
  };
  const none = (m: Float64Array): Float64Array => new Float64Array(m.length);
  const shifted = (by: number) => (m: Float64Array) => m.map((v) => v + by);
  const flushed = (u: number): string => `${u} of ${rows * L} stored exp values flushed to zero`;
  const csGap = (_set: SetName, st: Stored): number => {
    let gap = 0;
    for (let r = 0; r < rows; r++) gap = Math.max(gap, st.csBound[r]! - st.rowMax[r]!);
    return gap;
  };
  const big = OVERFLOW_MAX_LOGIT;
  run('large', 'fp16', 'none', none, (o) => `c = 0: exp(${big}) ≈ ${Math.exp(big).toExponential(1)} > 65504 (float16 overflows once s − c > ln 65504 ≈ ${lnMax}); ${ofl(o)}`);
  run('large', 'fp16', 'exact', none, (o) => `c = row max: every exp(s − c) ≤ 1; ${ofl(o)}`);
  run('large', 'fp16', 'online', none, (o) => `running max per ${ONLINE_BLOCK}-key block: every exp(s − m) ≤ 1; ${ofl(o)}`);
  run('large', 'fp16', 'bound', shifted(-12), (o) => `stale bound 12 below the row max (more than ln 65504 ≈ ${lnMax}): the largest terms exceed 65504; ${ofl(o)}`);
  run('large', 'fp16', 'bound', shifted(-8), (o) => `stale bound 8 below the row max (less than ${lnMax}): terms up to e^8 ≈ 2981 still fit; ${ofl(o)}`);
  run('large', 'fp16', 'bound', () => Float64Array.from(storedFor('large', 'fp16').csBound), (o, u, st) =>
    `Cauchy–Schwarz bound c = |q|·max|k|/√d: never below the max so never overflows, but up to ${csGap('large', st).toFixed(1)} above it; ${flushed(u)} (underflow); ${ofl(o)}`);
  run('large', 'bf16', 'none', none, (o) => `bfloat16 for contrast: c = 0 and exp(${big}) fits (bfloat16 overflows past s ≈ 88.7); ${ofl(o)}`);
  run('ordinary', 'fp16', 'bound', shifted(8), (o, u) => `ordinary logits, bound 8 above the row max: exp(s − c) ≤ e^-8, most terms in float16 subnormals (below e^-9.7); ${flushed(u)}; precision lost, ${ofl(o)}`);
  run('ordinary', 'fp16', 'bound', () => Float64Array.from(storedFor('ordinary', 'fp16').csBound), (o, u, st) =>
    `ordinary logits, Cauchy–Schwarz bound up to ${csGap('ordinary', st).toFixed(1)} above the row max; ${flushed(u)}; ${ofl(o)}`);
  run('ordinary', 'bf16', 'bound', () => Float64Array.from(storedFor('ordinary', 'bf16').csBound), (o, u, st) =>
    `bfloat16 for contrast: the same Cauchy–Schwarz bound (up to ${csGap('ordinary', st).toFixed(1)} above the max) is harmless in bfloat16's exponent range; ${flushed(u)}; ${ofl(o)}`);
  return out;
}
