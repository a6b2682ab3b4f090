import type { Dtype } from './hardware/profile';
import { DTYPES } from './hardware/profile';
import type { SoftmaxOffset } from './numerics/types';
import { InputError, describeValue } from './errors';

export type Phase = 'prefill' | 'decode';
export const SOFTMAX_OFFSETS: readonly SoftmaxOffset[] = ['exact', 'bound', 'online'];

/** One inference pass: what is being run, independent of the model and the machine. */
export interface Workload {
  /** Prefill of `seq` tokens, or one decode step with `context` tokens already cached. */
  phase: Phase;
  batch: number;
  seq: number;
  context: number;
  /** Tensor-parallel degree: heads, FFN width and vocabulary are split over this many chips. */
  tp: number;
  /** Weight and compute dtype; null means the hardware profile's default. */
  dtype: Dtype | null;
  /** How the deferred Softmax picks its offset c (DESIGN.md §1). */
  softmaxOffset: SoftmaxOffset;
  /** Large matmuls are split into this many tiles so that engines pipeline. */
  tiles: number;
}

/**
 * Decode at batch 32 with 2,048 tokens of context: a latency-bound serving point
 * of the kind in-memory-compute accelerators are built for (d-Matrix quotes
 * batches of 48–64 for Corsair; EE Times, January 2025).
 */
export const DEFAULT_WORKLOAD: Workload = {
  phase: 'decode',
  batch: 32,
  seq: 2048,
  context: 2048,
  tp: 1,
  dtype: null,
  softmaxOffset: 'online',
  tiles: 4,
};

const LIMITS = { batch: 1 << 16, seq: 1 << 24, context: 1 << 24, tp: 1024, tiles: 64 } as const;

/** Checks a workload assembled from user input; `source` names where it came from (e.g. `--batch`). */
export function validateWorkload(w: Workload, source = 'workload'): Workload {
  for (const key of ['batch', 'seq', 'context', 'tp', 'tiles'] as const) {
    const v = w[key];
    if (!Number.isInteger(v) || v < 1 || v > LIMITS[key]) {
      throw new InputError(source, key, `a whole number from 1 to ${LIMITS[key]}`, describeValue(v));
    }
  }
  if (w.phase !== 'prefill' && w.phase !== 'decode') {
    throw new InputError(source, 'phase', 'prefill or decode', describeValue(w.phase));
  }
  if (w.dtype !== null && !DTYPES.includes(w.dtype)) {
    throw new InputError(source, 'dtype', `one of ${DTYPES.join(', ')}`, describeValue(w.dtype));
  }
  if (!SOFTMAX_OFFSETS.includes(w.softmaxOffset)) {
    throw new InputError(source, 'softmaxOffset', `one of ${SOFTMAX_OFFSETS.join(', ')}`, describeValue(w.softmaxOffset));
  }
  return w;
}
