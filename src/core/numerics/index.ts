/** The numerics check's public surface. */
export * from './types';
export { checkNumerics, numericsShapeFor, capShape, checkLayerNormFold, overflowCases, layerNormCancellation, NUMERICS_CAPS, DEFAULT_TOLERANCE } from './check';
export { roundTo, roundArray, roundInPlace, roundFp16, roundBf16, roundFp32, rounder, fp16Bits, fp16FromBits, bf16Bits, bf16FromBits, fp32Bits } from './floats';
export type { Precision } from './floats';
export { foldLayerNorm, foldRmsNorm } from './kernels';
export { createRng, deriveSeed } from './rng';
export { relErrorStats, FLOOR_FRACTION } from './metrics';
