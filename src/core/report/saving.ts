/**
 * The saving in parts that add up to it. Each layer kind's baseline and deferred graphs are scheduled
 * three ways: as simulated (B, D); with the statistic gathers free (B₁, D₁: the collective-share
 * reference); and with kernel start costs zero as well (B₂, D₂). Then
 *   collective = (B − B₁) − (D − D₁)   exposed gather time the rewrite removes,
 *   starts     = (B₁ − D₁) − (B₂ − D₂) launch/start cost of the kernels it removes (negative: it adds some),
 *   work       = B₂ − D₂               vector passes and memory traffic it removes or hides,
 * and collective + starts + work = B − D, the saving, for every kind and so for the whole model.
 */
import type { HardwareProfile } from '../hardware/profile';
import type { CostContext } from '../sim/costs';
import type { Run, Simulation } from '../sim/simulate';
import { freeMakespanAt } from '../sim/timing';
import type { Workload } from '../workload';
import type { SavingParts } from './types';

/** The same machine with no kernel start cost: launches, a captured graph's per-kernel cost, an engine's start latency. */
function withoutStarts(hw: HardwareProfile): HardwareProfile {
  return {
    ...hw,
    matrix: { ...hw.matrix, startLatencyNs: 0 },
    vector: { ...hw.vector, startLatencyNs: 0 },
    kernels: { ...hw.kernels, graphKernelNs: 0 },
  };
}

export function savingPartsOf(hw: HardwareProfile, workload: Workload, simulation: Simulation): SavingParts {
  const free: CostContext = { hw: withoutStarts(hw), dtype: simulation.dtype, tp: workload.tp, phase: workload.phase };
  const startFreeNs = (run: Run): number => freeMakespanAt(run.graph, free);
  let collective = 0;
  let starts = 0;
  let work = 0;
  for (const k of simulation.kinds) {
    const n = k.layers.length;
    const b2 = startFreeNs(k.baseline);
    const d2 = startFreeNs(k.deferred);
    collective += n * (k.baselineNs - k.baselineFreeNs - (k.deferredNs - k.deferredFreeNs));
    starts += n * (k.baselineFreeNs - k.deferredFreeNs - (b2 - d2));
    work += n * (b2 - d2);
  }
  return { collectiveUs: collective / 1000, startsUs: starts / 1000, workUs: work / 1000 };
}
