/** The public shape of the numerics check; see check.ts for how it is computed. */

export type NumericsDtype = 'fp32' | 'bf16' | 'fp16';
export type SoftmaxOffset = 'exact' | 'bound' | 'online';

/** The kinds of rewrite site the check exercises (DESIGN.md §1's table). */
export type NumericsSiteKind = 'rmsnorm-linear' | 'layernorm-linear' | 'softmax-v' | 'norm-multi-linear';

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
}

export interface NumericsResult {
  entries: NumericsEntry[];
  /** Softmax in float16 with large logits and no safe offset: what overflows, per offset choice. */
  overflow: { dtype: NumericsDtype; maxLogit: number; offset: SoftmaxOffset | 'none'; overflowed: boolean; note: string }[];
  /** LayerNorm folding checked against the unfolded layer in float64. */
  layerNormFold: { maxAbsErr: number; maxRelErr: number; ok: boolean } | null;
  tolerance: number;
  seed: number;
  shape: NumericsShape;
  accumulate: 'fp32' | 'storage';
}
