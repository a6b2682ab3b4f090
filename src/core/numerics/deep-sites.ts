/**
 * The deeper-deferral sites (issue 10): an RMSNorm's scale r applied after RoPE, inside the
 * attention (prefill and decode) or after a ReLU/gated MLP's down projection, each against the
 * usual schedule on the same stored inputs.
 */

import { roundArray, rounder } from './floats';
import { FP64, KernelConfig, foldRmsNorm, kernelConfig, linear, normScales, normalizeRows, scaledLinear, storeFolded } from './kernels';
import { OUTLIER_MAGNITUDE, activations, biasVector, gammaVector, outlierChannelCount, weight } from './inputs';
import { DeepMutation, MlpActivation, applyRope, attentionDecode, attentionDeep, attentionUsual, mlpActivation, ropeTables, scaleRows } from './deep';
import { ErrorStats, relErrorStats } from './metrics';
import { storeNorm } from './norm-sites';
import { DEEP_KINDS, RMSNORM_EPS, SITE_LABEL, makeEntry } from './sites';
import type { DeferDepth, NumericsDtype, NumericsEntry, NumericsOptions, NumericsShape, NumericsSiteKind, SoftmaxOffset } from './types';

/**
 * Sizes of the deeper-deferral entries (issue 10). Small on purpose: these kernels run cold in
 * every full report (see docs/speed.md). One set of 8 tokens at positions 1000–1007 feeds every
 * form. The norm width is the shape's hidden capped at 128 (still two outlier channels, which
 * dominate Σx² and so r; the dot-product length is what the 'linear' entries already cover at up
 * to 512). Attention: two query heads sharing one KV head of width min(head_dim, 64), so the RoPE
 * frequencies θ^(−2t/d) are those of a model with that head width; causal prefill of the 8
 * tokens, and 8 decode steps (token i against tokens 0…i−1 as the cache: 1024 outputs, as many as
 * the prefill; with one step the max over 64 outputs was too noisy to compare). MLP: its input
 * projections are the attention's (see measureDeep), down projection to 64 outputs.
 */
export const DEEP_SIZES = {
  hidden: 64,
  tokens: 8,
  queryHeads: 2,
  headDim: 32,
  out: 32,
  firstPosition: 1000,
} as const;

interface DeepSizes {
  n: number;
  /** Outlier magnitude that gives the outlier channels the share of Σx² they have at the shape's hidden width. */
  outlier: number;
  tokens: number;
  heads: number;
  d: number;
  m: number;
  positions: number[];
}

function deepSizes(shape: NumericsShape): DeepSizes {
  const D = DEEP_SIZES;
  const d0 = Math.min(shape.headDim, D.headDim);
  const d = Math.max(2, d0 - (d0 % 2));
  const n = Math.min(shape.hidden, D.hidden);
  // At the narrower width the same outliers would carry far more of Σx² (93% at 64 values against
  // 61% at 512), which makes r, and the re-rounded folded weights' effect, unlike the 'linear'
  // entries'; their magnitude is set so that their share stays what it is at shape.hidden.
  const share = (width: number, m: number): number => {
    const k = outlierChannelCount(width);
    return (k * m * m) / (k * m * m + width - k);
  };
  const s = share(shape.hidden, OUTLIER_MAGNITUDE);
  const k = outlierChannelCount(n);
  return {
    n,
    outlier: Math.sqrt((s * (n - k)) / (k * (1 - s))),
    tokens: D.tokens,
    heads: D.queryHeads,
    d,
    m: Math.min(shape.hidden, D.out),
    positions: Array.from({ length: D.tokens }, (_, i) => D.firstPosition + i),
  };
}

/** Max of the maxima and of the means of several outputs' errors (as for several consumers of one norm). */
function worstOf(stats: ErrorStats[]): ErrorStats {
  return { max: Math.max(...stats.map((s) => s.max)), mean: Math.max(...stats.map((s) => s.mean)) };
}

interface DeepMeasure {
  kind: NumericsSiteKind;
  depth: DeferDepth;
  label: string;
  base: ErrorStats;
  def: ErrorStats;
  note: string;
  offset?: SoftmaxOffset;
}

/**
 * The deeper-deferral forms in one dtype, from one set of tokens: x (T tokens) → RMSNorm → the q, k,
 * v projections, in the usual schedule (in float64 for the reference, and in the dtype) and
 * deferred (γ folded, raw projections, r later). Then, as asked: RoPE on q and k ('rope'), causal
 * attention in prefill and decode ('attention'), and a ReLU MLP ('down'). The MLP takes its input
 * projections from the same matmuls (plain: up = the q projection; gated: gate = the k projection,
 * up = the v projection): a norm followed by a linear layer is the same arithmetic whatever the
 * layer is called, so only the activation and the down projection are extra work.
 */
/** The deep forms' weights in float64, drawn once per check (each dtype rounds its own copy). */
interface DeepWeights {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  /** Down projections: from the q width (plain MLP) and from the k width (gated). */
  downPlain: Float64Array;
  downGated: Float64Array;
}

function measureDeep(
  seed: number,
  sz: DeepSizes,
  weights: DeepWeights,
  cfg: KernelConfig,
  want: (k: NumericsSiteKind) => boolean,
  mutation: DeepMutation | undefined,
): DeepMeasure[] {
  const { n, tokens: T, heads: H, d } = sz;
  const p = cfg.storage;
  const HD = H * d;
  const x = roundArray(p, activations(seed, 'deep', T, n, 0, sz.outlier));
  const norm = storeNorm(p, { kind: 'rmsnorm', gamma: gammaVector(seed, 'deep', n), beta: null, eps: RMSNORM_EPS });
  const Wq = roundArray(p, weights.q);
  const Wk = roundArray(p, weights.k);
  const Wv = roundArray(p, weights.v);
  const withBias = mutation === 'rope-with-bias';
  const bq = withBias ? roundArray(p, biasVector(seed, 'deep-q', HD)) : null;
  const bk = withBias ? roundArray(p, biasVector(seed, 'deep-k', d)) : null;
  // The usual schedule's projections of x̂ = norm(x), in `c` (float64 for the reference).
  const usual = (c: KernelConfig) => {
    const xhat = normalizeRows(c, norm, x, T);
    return { c, q: linear(c, xhat, T, Wq, HD, bq), k: linear(c, xhat, T, Wk, d, bk), v: linear(c, xhat, T, Wv, d, null) };
  };
  const ref = usual(FP64);
  const base = usual(cfg);
  // Deferred: γ folded into the weights, raw projections, r from the same rows.
  const r = normScales(cfg, norm, x, T);
  const raw = (W: Float64Array, m: number, b: Float64Array | null): Float64Array => {
    const f = storeFolded(cfg, foldRmsNorm(norm.gamma, W, b), true);
    return linear(cfg, x, T, f.W, m, f.bias);
  };
  const qRaw = raw(Wq, HD, bq);
  const kRaw = raw(Wk, d, bk);
  const vRaw = raw(Wv, d, null);
  const out: DeepMeasure[] = [];
  const last = T - 1;
  const shapeNote = `${T} tokens at positions ${sz.positions[0]}–${sz.positions[last]}, hidden ${n}`;
  if (want('rmsnorm-rope') || want('rmsnorm-attention')) {
    const tables = ropeTables(sz.positions, d);
    const cos = roundArray(p, tables.cos);
    const sin = roundArray(p, tables.sin);
    const attend = (u: typeof ref) => {
      const q = applyRope(u.c, u.q, T, d, cos, sin);
      const k = applyRope(u.c, u.k, T, d, cos, sin);
      return { q, k, o: want('rmsnorm-attention') ? attentionUsual(u.c, q, T, H, k, u.v, d) : null };
    };
    const aRef = attend(ref);
    const aBase = attend(base);
    const qRot = applyRope(cfg, qRaw, T, d, cos, sin);
    const kRot = applyRope(cfg, kRaw, T, d, cos, sin);
    const ropeNote = `${shapeNote}, ${H} query heads sharing 1 KV head of width ${d}, RoPE θ = 10000 (cos and sin stored in the dtype)`;
    if (want('rmsnorm-rope')) {
      // 'rope': r after RoPE (its own epilogue: r is not ready when RoPE runs).
      out.push({
        kind: 'rmsnorm-rope',
        depth: 'rope',
        label: SITE_LABEL['rmsnorm-rope'] + (withBias ? ' (+bias: not a valid rewrite)' : ''),
        base: worstOf([relErrorStats(aBase.q, aRef.q), relErrorStats(aBase.k, aRef.k)]),
        def: worstOf([relErrorStats(scaleRows(cfg, qRot, T, r), aRef.q), relErrorStats(scaleRows(cfg, kRot, T, r), aRef.k)]),
        note: `${ropeNote}; q and k rotated raw (stored after the matmul and after RoPE), then scaled by r: worst of q and k`,
      });
    }
    if (want('rmsnorm-attention')) {
      // Prefill: r_i on row i and r_j on column j of the logits, r_j on e's column after Σ.
      const oPrefill = attentionDeep(cfg, qRot, T, H, kRot, vRaw, d, r, mutation);
      // Decode: each token of the chunk as the new token of one step, against the tokens before
      // it as the cache; the new column takes r. The cache write is off the critical path, so it
      // waits for r and stores r·RoPE(k_raw) in one kernel (k rounded as often as the usual
      // schedule's); v is stored raw by its matmul and scaled when it is written (one rounding
      // more than the usual schedule's v, which its matmul's epilogue scales).
      const cache = { k: applyRope(cfg, kRaw, T, d, cos, sin, r), v: scaleRows(cfg, vRaw, T, r) };
      const oDecode = attentionDecode(cfg, qRot, T, H, cache, { k: kRot, v: vRaw }, d, r, mutation);
      const oRef = aRef.o!;
      // The usual schedule's decode step i computes what its prefill row i does.
      const oBase = relErrorStats(aBase.o!, oRef);
      out.push(
        {
          kind: 'rmsnorm-attention',
          depth: 'attention',
          label: `${SITE_LABEL['rmsnorm-attention']} (prefill, causal)`,
          offset: 'exact',
          base: oBase,
          def: relErrorStats(oPrefill, oRef),
          note: `${ropeNote}; logits (q̂·k̂/√d)·r_i·r_j before exp, c = row max of the scaled logits; ℓ = Σ_j e_ij, then v's r_j on column j of e (stored as P is), o = (ẽ·V̂)/ℓ`,
        },
        {
          kind: 'rmsnorm-attention',
          depth: 'attention',
          label: `${SITE_LABEL['rmsnorm-attention']} (decode)`,
          offset: 'exact',
          base: oBase,
          def: relErrorStats(oDecode, oRef),
          note: `${ropeNote}; ${T} decode steps, token i against tokens 0…i−1 as a cache whose k and v were stored scaled (r·RoPE(k) in one kernel, v scaled after its matmul): r on the logits row, the new token's r on its own column and, after ℓ, on its own e`,
        },
      );
    }
  }
  if (want('rmsnorm-relu-down')) {
    const act: MlpActivation = mutation === 'silu-not-relu' ? 'silu' : 'relu';
    const actName = act === 'silu' ? 'SiLU' : 'ReLU';
    const acc = rounder(cfg.accumulate);
    for (const gated of [false, true]) {
      const f = gated ? d : HD;
      const Wd = roundArray(p, gated ? weights.downGated : weights.downPlain);
      // Plain: a = the q projection; gated: g = the k projection, u = the v projection.
      const hidden = (c: KernelConfig, proj: { q: Float64Array; k: Float64Array; v: Float64Array }): Float64Array =>
        gated ? mlpActivation(c, act, proj.k, proj.v) : mlpActivation(c, act, proj.q, null);
      const yRef = linear(FP64, hidden(FP64, ref), T, Wd, sz.m, null);
      const yBase = linear(cfg, hidden(cfg, base), T, Wd, sz.m, null);
      const power = gated && mutation !== 'reglu-r-not-r2' ? 2 : 1;
      const scales = power === 2 ? r.map((v) => acc(v * v)) : r;
      const yDef = scaledLinear(cfg, hidden(cfg, { q: qRaw, k: kRaw, v: vRaw }), T, { W: Wd, bias: null }, sz.m, scales);
      const form = gated ? `${act === 'silu' ? 'SwiGLU' : 'ReGLU'} MLP, r${power === 2 ? '²' : ''} after down` : `${actName} MLP, r after down`;
      const wrong = mutation === 'silu-not-relu' || (gated && mutation === 'reglu-r-not-r2') ? ' (not a valid rewrite)' : '';
      out.push({
        kind: 'rmsnorm-relu-down',
        depth: 'down',
        label: `RMSNorm → ${form}${wrong}`,
        base: relErrorStats(yBase, yRef),
        def: relErrorStats(yDef, yRef),
        note:
          `${shapeNote} → ${gated ? `gate and up ${f}` : `up ${f}`} → down ${sz.m} outputs; ` +
          `${gated ? `${actName}(g)⊙u` : `${actName}(a)`} and the down projection on raw rows (γ folded into ${gated ? 'gate and up' : 'up'}), ` +
          `${power === 2 ? 'r²' : 'r'} on the down projection's output`,
      });
    }
  }
  return out;
}

/**
 * The deeper-deferral entries (issue 10) of the kinds asked for, per dtype: baseline and deferred
 * against the float64 baseline on the same stored inputs, as every other entry. `mutation` swaps
 * in a deliberately wrong form (tests only: it shows that the check fails it).
 */
export function deepEntries(
  options: Pick<NumericsOptions, 'seed' | 'accumulate' | 'tolerance'>,
  shape: NumericsShape,
  kinds: readonly NumericsSiteKind[],
  dtypes: readonly NumericsDtype[],
  mutation?: DeepMutation,
): NumericsEntry[] {
  const want = (k: NumericsSiteKind): boolean => kinds.includes(k);
  if (!DEEP_KINDS.some(want)) return [];
  const sz = deepSizes(shape);
  const { seed } = options;
  const mlp = want('rmsnorm-relu-down');
  const none = new Float64Array(0);
  const weights: DeepWeights = {
    q: weight(seed, 'deep-q', sz.n, sz.heads * sz.d),
    k: weight(seed, 'deep-k', sz.n, sz.d),
    v: weight(seed, 'deep-v', sz.n, sz.d),
    downPlain: mlp ? weight(seed, 'deep-down', sz.heads * sz.d, sz.m) : none,
    downGated: mlp ? weight(seed, 'deep-down-gated', sz.d, sz.m) : none,
  };
  const measured = dtypes.map((dtype) => ({ dtype, all: measureDeep(seed, sz, weights, kernelConfig(dtype, options.accumulate), want, mutation) }));
  const entries: NumericsEntry[] = [];
  for (const kind of DEEP_KINDS)
    for (const { dtype, all } of measured)
      for (const e of all.filter((m) => m.kind === kind))
        entries.push(
          makeEntry(kind, e.label, dtype, e.base, e.def, options.tolerance, {
            ...(e.offset !== undefined ? { offset: e.offset } : {}),
            depth: e.depth,
            note: e.note,
          }),
        );
  return entries;
}
