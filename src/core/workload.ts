import type { Dtype } from './hardware/profile';
import { DTYPES } from './hardware/profile';
import { DEFER_DEPTH_LIMITS, PHASES, SOFTMAX_OFFSETS, WORKLOAD_LIMITS, type DeferDepthLimit, type Phase, type SoftmaxOffset } from './terms';
import { InputError, describeValue } from './errors';
import type { AttentionSpec, ModelSpec } from './model/spec';

// The workload's words live in terms.ts; re-exported for the many modules that read them with the workload.
export { DEFER_DEPTH_LIMITS, SOFTMAX_OFFSETS, WORKLOAD_LIMITS, type DeferDepthLimit, type Phase };

/** One inference pass: what is being run, independent of the model and the machine. */
export interface Workload {
  /** Prefill of `seq` tokens, or one decode step with `context` tokens already cached. */
  phase: Phase;
  batch: number;
  seq: number;
  context: number;
  /** Tensor-parallel degree: heads, FFN width and vocabulary are split over this many chips. */
  tp: number;
  /**
   * Set when `tp` was asked for as 'auto' and resolved (report/tensor-parallel.ts): the smallest degree
   * at which the workload fits, or, where none does, 1. Absent: `tp` is as given.
   */
  tpChosen?: TpChosen;
  /** Weight and compute dtype; null means the hardware profile's default. */
  dtype: Dtype | null;
  /** How the deferred Softmax picks its offset c (DESIGN.md §1). */
  softmaxOffset: SoftmaxOffset;
  /** How far deferred norm scales may travel before they are applied (DESIGN.md §1). */
  deferDepth: DeferDepthLimit;
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
  deferDepth: 'deepest',
  tiles: 4,
};

/** A tensor-parallel degree as asked for: a number, kept as given, or 'auto', the smallest that fits. */
export type TpRequest = number | 'auto';
export const TP_AUTO = 'auto';
/** How an 'auto' degree was resolved: the smallest that fits, or 1 because none fits. */
export type TpChosen = 'smallest-that-fits' | 'fits-at-none';

/** A workload as asked for, before the tensor-parallel degree is resolved against the model and machine. */
export type WorkloadRequest = Omit<Workload, 'tp' | 'tpChosen'> & { tp: TpRequest };

/** What the CLI and the extension ask for when told nothing: DEFAULT_WORKLOAD at the smallest TP that fits. */
export const DEFAULT_REQUEST: WorkloadRequest = { ...DEFAULT_WORKLOAD, tp: TP_AUTO };
const LIMITS = WORKLOAD_LIMITS;
/**
 * Tokens in one pass (batch × prompt length in prefill, batch × context in decode): 2^31, e.g. 1,024
 * sequences of two million tokens. Beyond it no deployment serves one pass, and the figures would only
 * be large numbers.
 */
export const MAX_TOKENS_PER_PASS = 2 ** 31;

/** Checks a workload assembled from user input; `source` names where it came from (e.g. `--batch`). */
export function validateWorkload<W extends WorkloadRequest>(w: W, source = 'workload'): W {
  for (const key of ['batch', 'seq', 'context', 'tp', 'tiles'] as const) {
    const v: unknown = w[key];
    if (key === 'tp' && v === TP_AUTO) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > LIMITS[key]) {
      throw new InputError(source, key, key === 'tp' ? `"auto" or a whole number from 1 to ${LIMITS.tp}` : `a whole number from 1 to ${LIMITS[key]}`, describeValue(v));
    }
  }
  if (!PHASES.includes(w.phase)) {
    throw new InputError(source, 'phase', 'prefill or decode', describeValue(w.phase));
  }
  const tokens = w.phase === 'prefill' ? w.seq : w.context;
  if (w.batch * tokens > MAX_TOKENS_PER_PASS) {
    const what = w.phase === 'prefill' ? 'seq' : 'context';
    throw new InputError(
      source,
      `batch × ${what}`,
      `at most ${MAX_TOKENS_PER_PASS.toLocaleString('en')} tokens in one pass`,
      `${w.batch.toLocaleString('en')} × ${tokens.toLocaleString('en')} = ${(w.batch * tokens).toLocaleString('en')}`,
      'limit',
    );
  }
  if (w.dtype !== null && !DTYPES.includes(w.dtype)) {
    throw new InputError(source, 'dtype', `one of ${DTYPES.join(', ')}`, describeValue(w.dtype));
  }
  if (!SOFTMAX_OFFSETS.includes(w.softmaxOffset)) {
    throw new InputError(source, 'softmaxOffset', `one of ${SOFTMAX_OFFSETS.join(', ')}`, describeValue(w.softmaxOffset));
  }
  if (!DEFER_DEPTH_LIMITS.includes(w.deferDepth)) {
    throw new InputError(source, 'deferDepth', `one of ${DEFER_DEPTH_LIMITS.join(', ')}`, describeValue(w.deferDepth));
  }
  return w;
}

/**
 * Checks a (valid) workload against the model it runs on, as tensor-parallel serving does: the degree
 * must divide the attention heads (each chip holds whole heads), and it must divide the KV heads or be
 * a multiple of them. With fewer KV heads than chips each KV head is replicated (vLLM and TensorRT-LLM
 * do the same for grouped-query attention): accepted, and the returned note says so. Anything else
 * would simulate heads the model does not have, so it is refused, naming the degrees that fit.
 */
export function checkWorkloadForModel(spec: ModelSpec, w: Workload, source = 'workload'): { notes: string[] } {
  const notes: string[] = [];
  const seen = new Set<string>();
  for (const kind of spec.layerKinds) {
    for (const attn of [kind.attention, kind.crossAttention]) {
      if (!attn) continue;
      const key = `${attn.heads}/${attn.kvHeads}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const note = checkTensorParallel(attn, w.tp, source);
      if (note && !notes.includes(note)) notes.push(note);
    }
  }
  return { notes };
}

function fits(attn: AttentionSpec, tp: number): boolean {
  return attn.heads % tp === 0 && (attn.kvHeads % tp === 0 || tp % attn.kvHeads === 0);
}

function checkTensorParallel(attn: AttentionSpec, tp: number, source: string): string | null {
  if (tp === 1) return null;
  const { heads, kvHeads } = attn;
  if (!fits(attn, tp)) {
    const fitting: number[] = [];
    for (let d = 1; d <= Math.min(heads, LIMITS.tp); d++) if (fits(attn, d)) fitting.push(d);
    const why =
      tp > heads ? `no more than the model's ${heads} attention heads`
      : heads % tp !== 0 ? `a divisor of the model's ${heads} attention heads`
      : `a divisor or a multiple of the model's ${kvHeads} KV heads`;
    throw new InputError(source, 'tp', `${why} (${fitting.join(', ')})`, String(tp), tp > heads ? 'limit' : 'invalid');
  }
  if (kvHeads < tp) {
    return `Tensor parallelism over ${tp} chips with ${kvHeads} KV head${kvHeads === 1 ? '' : 's'}: each KV head is replicated on ${tp / kvHeads} chips (its projection and cache computed on each), as serving engines do.`;
  }
  return null;
}
