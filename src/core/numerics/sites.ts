/**
 * The check's vocabulary: the site kinds, dtypes and Softmax offsets it runs, their labels, the
 * constants every site shares, and the entry every site reports.
 */

import type { ErrorStats } from './metrics';
import type { NumericsDtype, NumericsEntry, NumericsSiteKind, SoftmaxOffset } from './types';

/**
 * How much worse than the baseline's own max error the deferred form may be. A max over a few hundred
 * outputs is noisy: over 40 seeds × the 35 profiled fixtures the deferred/baseline ratio reached 3.79
 * (fp16 Softmax with the 'bound' offset; 3.60 with the former, larger caps). Real defects (LayerNorm
 * cancellation, overflow) are orders of magnitude off.
 */
export const DEFAULT_TOLERANCE = 4;
export const RMSNORM_EPS = 1e-6;
export const LAYERNORM_EPS = 1e-5;
/** Logit scale of the Softmax entries (logit std ≈ 2). */
export const LOGIT_SCALE = 2;
/** The 'bound' offset of the Softmax entries: the tensor's largest logit plus this slack. */
export const BOUND_SLACK = 2;
/** Key block of the 'online' offset. */
export const ONLINE_BLOCK = 64;
/** Row max of the overflow demonstration's logits: exp(24) ≈ 2.6e10 > 65504. */
export const OVERFLOW_MAX_LOGIT = 24;
/** ln(65504): the largest exponent whose exp is finite in float16. */
export const FP16_LN_MAX = Math.log(65504);

export const SITE_LABEL: Record<NumericsSiteKind, string> = {
  'rmsnorm-linear': 'RMSNorm → Linear',
  'layernorm-linear': 'LayerNorm → Linear',
  'softmax-v': 'Softmax → ·V',
  'norm-multi-linear': 'Norm → several Linears',
  'rmsnorm-rope': 'RMSNorm → q, k → RoPE, r after RoPE',
  'rmsnorm-attention': 'RMSNorm → attention, r on the logits and after Σ',
  'rmsnorm-relu-down': 'RMSNorm → ReLU MLP, r after down',
};

export const SITE_KINDS: readonly NumericsSiteKind[] = [
  'rmsnorm-linear',
  'layernorm-linear',
  'softmax-v',
  'norm-multi-linear',
  'rmsnorm-rope',
  'rmsnorm-attention',
  'rmsnorm-relu-down',
];
/** The site kinds of deeper deferral (issue 10): the scale travels past RoPE, into the attention, or to the down projection. */
export const DEEP_KINDS: readonly NumericsSiteKind[] = ['rmsnorm-rope', 'rmsnorm-attention', 'rmsnorm-relu-down'];
export const DTYPES: readonly NumericsDtype[] = ['fp32', 'bf16', 'fp16'];
export const OFFSETS: readonly SoftmaxOffset[] = ['exact', 'bound', 'online'];

export function makeEntry(
  siteKind: NumericsSiteKind,
  site: string,
  dtype: NumericsDtype,
  base: ErrorStats,
  def: ErrorStats,
  tolerance: number,
  extra: Partial<NumericsEntry> = {},
): NumericsEntry {
  return {
    site,
    siteKind,
    dtype,
    ...extra,
    baselineMaxRelErr: base.max,
    baselineMeanRelErr: base.mean,
    deferredMaxRelErr: def.max,
    deferredMeanRelErr: def.mean,
    withinBaseline: def.max <= base.max * tolerance,
  };
}
