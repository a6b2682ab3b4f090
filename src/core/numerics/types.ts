/** The public shape of the numerics check; see check.ts for how it is computed. */
import type { DeferDepth, SoftmaxOffset } from '../terms';

/** How far a deferred norm's scale travels, and how the Softmax picks its offset: the core's shared terms. */
export type { DeferDepth, SoftmaxOffset };

export type NumericsDtype = 'fp32' | 'bf16' | 'fp16';

/**
 * The kinds of rewrite site the check exercises: DESIGN.md §1's table, and the deeper deferral of
 * an RMSNorm's scale (issue 10): past RoPE (`rmsnorm-rope`), onto the attention logits and after
 * the softmax's row sum (`rmsnorm-attention`), past a ReLU MLP to the down projection
 * (`rmsnorm-relu-down`).
 */
export type NumericsSiteKind =
  | 'rmsnorm-linear'
  | 'layernorm-linear'
  | 'softmax-v'
  | 'norm-multi-linear'
  | 'rmsnorm-rope'
  | 'rmsnorm-attention'
  | 'rmsnorm-relu-down';

/** Sizes taken from the model so the tensors are shaped like its own. */
export interface NumericsShape {
  /** Width the norm runs over (the model's hidden size, capped for speed). */
  hidden: number;
  /** Output width of the linear after the norm (a slice of FFN or vocabulary width). */
  outFeatures: number;
  /** Widths of the several consumers of one norm (e.g. q, k, v or gate, up). */
  multiOut: number[];
  headDim: number;
  /** Keys per Softmax row (a slice of the context). */
  context: number;
  /** Rows (tokens) per tensor. */
  rows: number;
}

export interface NumericsOptions {
  /** Which site kinds the model has. */
  sites: NumericsSiteKind[];
  normKind: 'rmsnorm' | 'layernorm';
  /** Whether the linear after the norm has a bias (RMSNorm→Linear with bias b). */
  linearBias: boolean;
  shape: NumericsShape;
  dtypes: NumericsDtype[];
  /** Accumulator precision of dot products and sums: fp32 as real kernels do, or the storage dtype. */
  accumulate: 'fp32' | 'storage';
  seed: number;
  /** Deferred may exceed baseline's max relative error by this factor before `withinBaseline` is false. */
  tolerance: number;
}

export interface NumericsEntry {
  /** Human label of the site kind, e.g. "RMSNorm → Linear". */
  site: string;
  siteKind: NumericsSiteKind;
  dtype: NumericsDtype;
  /** Softmax entries: which offset the deferred form used. */
  offset?: SoftmaxOffset;
  baselineMaxRelErr: number;
  baselineMeanRelErr: number;
  deferredMaxRelErr: number;
  deferredMeanRelErr: number;
  withinBaseline: boolean;
  /** Added by numerics: how the deferred form was set up (e.g. which bound a 'bound' offset used). */
  note?: string;
  /** Added by numerics: norm-multi-linear entries, index of the consumer with the worst deferred max error. */
  worstConsumer?: number;
  /** Added by numerics: the deeper-deferral entries, how far the scale travelled ('rope', 'attention' or 'down'). */
  depth?: DeferDepth;
}

export interface NumericsResult {
  entries: NumericsEntry[];
  /** Softmax in float16 with large logits and no safe offset: what overflows, per offset choice. */
  overflow: {
    dtype: NumericsDtype;
    maxLogit: number;
    offset: SoftmaxOffset | 'none';
    overflowed: boolean;
    note: string;
    /** Added by numerics: max relative error of the output against float64 (Infinity when it overflowed). */
    maxRelErr?: number;
  }[];
  /** LayerNorm folding checked against the unfolded layer in float64. */
  layerNormFold: { maxAbsErr: number; maxRelErr: number; ok: boolean } | null;
  tolerance: number;
  seed: number;
  shape: NumericsShape;
  accumulate: 'fp32' | 'storage';
  /** Added by numerics: the shape asked for, present only when the caps in shape.ts shrank it (`shape` is the one used). */
  requestedShape?: NumericsShape;
  /** Added by numerics: the error floor as a fraction of the output's RMS (see metrics.ts). */
  floorFraction?: number;
  /**
   * Added by numerics: the deferred LayerNorm's one-pass variance E[x²] − μ² as the activations'
   * mean grows relative to their spread (present when a LayerNorm site is checked).
   */
  layerNormCancellation?: {
    dtype: NumericsDtype;
    meanOverStd: number;
    /** Relative error of the one-pass variance (from r) against float64. */
    varianceRelErr: number;
    baselineMaxRelErr: number;
    deferredMaxRelErr: number;
    withinBaseline: boolean;
  }[];
}
