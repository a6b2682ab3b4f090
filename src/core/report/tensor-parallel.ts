/**
 * The tensor-parallel degree 'auto' (issue 20): the smallest degree, among those the model's heads split
 * into, at which weights, KV cache and activations fit each device's memory (memory.ts's minimumTp).
 * Where no degree does, TP 1 is simulated and the memory check's "does not fit" warning says so.
 * A number is kept as given.
 */
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { TP_AUTO, type TpChosen, type TpRequest, type Workload, type WorkloadRequest } from '../workload';
import { minimumTpOf } from './memory';

/** The workload with its tensor-parallel degree resolved; an 'auto' one records how (tpChosen). */
export function resolveWorkload(spec: ModelSpec, hw: HardwareProfile, request: WorkloadRequest): Workload {
  const { tp, ...rest } = request;
  if (tp !== TP_AUTO) return { ...rest, tp };
  const smallest = minimumTpOf(spec, hw, rest, request.dtype ?? hw.defaultDtype);
  return smallest === null ? { ...rest, tp: 1, tpChosen: 'fits-at-none' } : { ...rest, tp: smallest, tpChosen: 'smallest-that-fits' };
}

/** What was asked for: 'auto' when the degree was chosen, else the degree itself. */
export function tpRequested(w: Pick<Workload, 'tp' | 'tpChosen'>): TpRequest {
  return w.tpChosen ? TP_AUTO : w.tp;
}

const CHOSEN_TEXT: Record<TpChosen, string> = {
  'smallest-that-fits': 'the smallest that fits',
  'fits-at-none': 'fits at no TP',
};

/** "TP 16, the smallest that fits", "TP 1, fits at no TP" (both asked for as auto), "TP 8" (as given). */
export function tpText(w: Pick<Workload, 'tp' | 'tpChosen'>): string {
  return w.tpChosen ? `TP ${w.tp}, ${CHOSEN_TEXT[w.tpChosen]}` : `TP ${w.tp}`;
}

/** "tp 16 (auto: the smallest that fits)", "tp 8", "tp auto" (not resolved yet): the degree as a workload line states it. */
export function tpLine(w: { tp: TpRequest; tpChosen?: TpChosen | undefined }): string {
  return w.tpChosen ? `tp ${w.tp} (auto: ${CHOSEN_TEXT[w.tpChosen]})` : `tp ${w.tp}`;
}

/**
 * The workload as the report states it: tpChosen kept only where it still holds for this memory check
 * (a caller that changed tp after resolving, e.g. a "TP × 2" variant, gets a plain degree).
 */
export function statedWorkload<W extends Workload>(w: W, minimumTp: number | null): W {
  const holds = w.tpChosen === 'smallest-that-fits' ? minimumTp === w.tp : w.tpChosen === 'fits-at-none' ? minimumTp === null && w.tp === 1 : true;
  if (holds) return w;
  const { tpChosen: _dropped, ...rest } = w;
  return rest as W;
}
