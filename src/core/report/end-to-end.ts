/**
 * Time to first token, time per output token and tokens/s, as serving tools (LLM-Viewer, AIConfigurator)
 * lead with them. TTFT = one prefill pass of the workload's prompt (seq) at its batch; TPOT = one decode
 * step at its context; tokens/s = batch / TPOT. The pass the workload asked for is the report's own; the
 * other is simulated here with every other workload value the same.
 */
import { InputError } from '../errors';
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { simulate } from '../sim/simulate';
import { validateWorkload, type Phase, type Workload } from '../workload';
import { totalsOfSimulation } from './totals';
import type { EndToEnd, PassTime, Totals } from './types';

const passOf = (t: Pick<Totals, 'baselineUs' | 'deferredUs'>): PassTime => ({ baselineUs: t.baselineUs, deferredUs: t.deferredUs });

/** The other pass's whole-model times, or why there are none. */
function otherPass(spec: ModelSpec, hw: HardwareProfile, workload: Workload, phase: Phase): PassTime | string {
  if (phase === 'decode' && spec.topology === 'encoder') return 'An encoder-only model has no decode step: no time per output token or tokens/s.';
  try {
    const w = validateWorkload({ ...workload, phase }, 'workload');
    // Only its totals are read: the search's rejected trials may stop early.
    return passOf(totalsOfSimulation(simulate(spec, hw, w, { totalsOnly: true })));
  } catch (e) {
    if (e instanceof InputError) return `No ${phase === 'prefill' ? 'time to first token' : 'time per output token'}: ${e.message}`;
    throw e;
  }
}

export function endToEndOf(spec: ModelSpec, hw: HardwareProfile, workload: Workload, totals: Totals): EndToEnd {
  const own = passOf(totals);
  const other = otherPass(spec, hw, workload, workload.phase === 'prefill' ? 'decode' : 'prefill');
  const notes = typeof other === 'string' ? [other] : [];
  const otherTime = typeof other === 'string' ? null : other;
  const ttft = workload.phase === 'prefill' ? own : otherTime;
  const tpot = workload.phase === 'decode' ? own : otherTime;
  const perSecond = (us: number) => (us > 0 ? (workload.batch * 1e6) / us : 0);
  return {
    ttft,
    tpot,
    tokensPerSecond: tpot ? { baseline: perSecond(tpot.baselineUs), deferred: perSecond(tpot.deferredUs) } : null,
    notes,
  };
}
