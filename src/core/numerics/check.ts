/**
 * checkNumerics: baseline vs deferred schedule of every rewrite site, per storage dtype, against a
 * float64 reference computed on the same stored inputs. Pure: no I/O, no clock, no global state.
 *
 * Sizes are capped inside (see NUMERICS_CAPS), so any caller gets a fast check; `result.shape` is
 * the shape actually used and `result.requestedShape` the one asked for when a cap applied.
 *
 * The sites live beside this file by concern: shape.ts (the sizes and caps), sites.ts (the
 * vocabulary and the entry), norm-sites.ts (norm → linear, the LayerNorm fold and cancellation),
 * softmax-sites.ts (Softmax → ·V and the overflow cases), deep-sites.ts (deeper deferral, issue 10).
 */

import { InputError, describeValue } from '../errors';
import { NormKind, kernelConfig } from './kernels';
import { FLOOR_FRACTION } from './metrics';
import { WeightPool, checkLayerNormFold, layerNormCancellation, measureNormSite, normSiteInputs } from './norm-sites';
import { AttentionStore, attentionFor, overflowCases, softmaxEntries } from './softmax-sites';
import { deepEntries } from './deep-sites';
import { capShape } from './shape';
import { DEEP_KINDS, DTYPES, SITE_KINDS, SITE_LABEL, makeEntry } from './sites';
import type { NumericsEntry, NumericsOptions, NumericsResult } from './types';

export { NUMERICS_CAPS, capShape, numericsShapeFor } from './shape';
export { BOUND_SLACK, DEFAULT_TOLERANCE, FP16_LN_MAX, LAYERNORM_EPS, LOGIT_SCALE, ONLINE_BLOCK, OVERFLOW_MAX_LOGIT, RMSNORM_EPS } from './sites';
export { checkLayerNormFold, layerNormCancellation } from './norm-sites';
export { overflowCases } from './softmax-sites';
export { DEEP_SIZES, deepEntries } from './deep-sites';

function validate(options: NumericsOptions): void {
  const t = options.tolerance;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 1)
    throw new InputError('numerics options', 'tolerance', 'a finite number ≥ 1', describeValue(t));
  if (!Number.isFinite(options.seed)) throw new InputError('numerics options', 'seed', 'a finite number', describeValue(options.seed));
  for (const s of options.sites)
    if (!SITE_KINDS.includes(s)) throw new InputError('numerics options', 'sites', `one of ${SITE_KINDS.join(', ')}`, describeValue(s));
  for (const d of options.dtypes)
    if (!DTYPES.includes(d)) throw new InputError('numerics options', 'dtypes', `one of ${DTYPES.join(', ')}`, describeValue(d));
  if (options.normKind !== 'rmsnorm' && options.normKind !== 'layernorm')
    throw new InputError('numerics options', 'normKind', "'rmsnorm' or 'layernorm'", describeValue(options.normKind));
  if (options.accumulate !== 'fp32' && options.accumulate !== 'storage')
    throw new InputError('numerics options', 'accumulate', "'fp32' or 'storage'", describeValue(options.accumulate));
}

/** The numerics check: see the file header and types.ts. */
export function checkNumerics(options: NumericsOptions): NumericsResult {
  validate(options);
  const shape = capShape(options.shape);
  const capped = JSON.stringify(shape) !== JSON.stringify(options.shape);
  const sites = SITE_KINDS.filter((s) => options.sites.includes(s));
  const dtypes = DTYPES.filter((d) => options.dtypes.includes(d));
  const entries: NumericsEntry[] = [];
  const { seed, tolerance } = options;
  const biasLabel = options.linearBias ? ' (+bias)' : '';
  const poolWidth = Math.max(shape.outFeatures, shape.multiOut.reduce((a, b) => a + b, 0));
  const pool = new WeightPool(seed, 'weights', shape.hidden, poolWidth);
  const attention = sites.includes('softmax-v') ? new AttentionStore(attentionFor(seed, shape), shape.rows, shape.headDim) : null;
  for (const site of sites) {
    if (DEEP_KINDS.includes(site)) continue;
    if (site === 'softmax-v' && attention !== null) {
      for (const dtype of dtypes) entries.push(...softmaxEntries(options, shape, dtype, attention));
      continue;
    }
    const kind: NormKind =
      site === 'rmsnorm-linear' ? 'rmsnorm' : site === 'layernorm-linear' ? 'layernorm' : options.normKind;
    const widths = site === 'norm-multi-linear' ? shape.multiOut : [shape.outFeatures];
    const inputs = normSiteInputs(seed, site, kind, shape, widths, options.linearBias, pool);
    const label =
      site === 'norm-multi-linear'
        ? `${kind === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm'} → ${widths.length} Linears [${widths.join(', ')}]${biasLabel}`
        : SITE_LABEL[site] + biasLabel;
    for (const dtype of dtypes) {
      const { base, def, worst } = measureNormSite(inputs, kernelConfig(dtype, options.accumulate));
      entries.push(
        makeEntry(site, label, dtype, base, def, tolerance, site === 'norm-multi-linear' ? { worstConsumer: worst } : {}),
      );
    }
  }
  entries.push(...deepEntries(options, shape, sites, dtypes));
  const hasLayerNorm = sites.includes('layernorm-linear') || (sites.includes('norm-multi-linear') && options.normKind === 'layernorm');
  const result: NumericsResult = {
    entries,
    overflow: attention !== null ? overflowCases(options, shape, attention) : [],
    layerNormFold: hasLayerNorm ? checkLayerNormFold(seed, shape) : null,
    tolerance,
    seed,
    shape,
    accumulate: options.accumulate,
    floorFraction: FLOOR_FRACTION,
  };
  if (hasLayerNorm) result.layerNormCancellation = layerNormCancellation(options, shape, dtypes);
  if (capped) result.requestedShape = options.shape;
  return result;
}
