/** The numerics check's public surface (see README.md beside this file). */
export * from './types';
export {
  checkNumerics,
  numericsShapeFor,
  capShape,
  checkLayerNormFold,
  overflowCases,
  layerNormCancellation,
  deepEntries,
  DEEP_SIZES,
  NUMERICS_CAPS,
  DEFAULT_TOLERANCE,
  BOUND_SLACK,
  OVERFLOW_MAX_LOGIT,
} from './check';
export {
  roundTo,
  roundArray,
  roundInPlace,
  roundFp16,
  roundBf16,
  roundFp32,
  rounder,
  fp16Bits,
  fp16FromBits,
  bf16Bits,
  bf16FromBits,
  fp32Bits,
  FP16_MAX,
  FP16_MIN_SUBNORMAL,
  BF16_MAX,
} from './floats';
export type { Precision } from './floats';
export {
  foldLayerNorm,
  foldRmsNorm,
  foldNorm,
  kernelConfig,
  normLinearBaseline,
  normLinearDeferred,
  FP64,
} from './kernels';
export type { KernelConfig, NormParams, FoldedLinear } from './kernels';
export { softmaxVBaseline, softmaxVDeferred } from './softmax-kernels';
export type { SoftmaxOffsetSpec, SoftmaxResult } from './softmax-kernels';
export { ROPE_THETA, applyRope, attentionDecode, attentionDeep, attentionUsual, mlpActivation, mlpHidden, ropeTables, scaleRows } from './deep';
export type { DeepMutation, MlpActivation, MlpWeights } from './deep';
export { createRng, deriveSeed } from './rng';
export type { Rng } from './rng';
export { relErrorStats, FLOOR_FRACTION } from './metrics';
