/**
 * Whole-model totals: per-layer figures times the layers of each kind. Its own module so that the
 * end-to-end figures (end-to-end.ts) and the report (profile.ts) both read it without importing each other.
 */
import type { Simulation } from '../sim/simulate';
import type { LayerKindResult, Totals } from './types';

const us = (ns: number): number => ns / 1000;
export const pct = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/** What the totals need of a layer kind. */
type KindFigures = Pick<LayerKindResult, 'layers' | 'baselineUs' | 'deferredUs' | 'exposedCollectiveBaselineUs' | 'exposedCollectiveDeferredUs'>;

/** Whole-model totals straight from a simulation (what a sweep needs, without the rest of the report). */
export function totalsOfSimulation(simulation: Simulation): Totals {
  return totalsOf(
    simulation.kinds.map((k) => {
      // The makespans, not the runs: a sweep never computes the full schedules.
      const base = k.baselineNs;
      const def = k.deferredNs;
      return {
        layers: k.layers,
        baselineUs: us(base),
        deferredUs: us(def),
        exposedCollectiveBaselineUs: us(Math.max(0, base - k.baselineFreeNs)),
        exposedCollectiveDeferredUs: us(Math.max(0, def - k.deferredFreeNs)),
      };
    }),
  );
}

export function totalsOf(kinds: KindFigures[]): Totals {
  let baselineUs = 0;
  let deferredUs = 0;
  let exposedB = 0;
  let exposedD = 0;
  for (const k of kinds) {
    const n = k.layers.length;
    baselineUs += n * k.baselineUs;
    deferredUs += n * k.deferredUs;
    exposedB += n * k.exposedCollectiveBaselineUs;
    exposedD += n * k.exposedCollectiveDeferredUs;
  }
  return {
    baselineUs,
    deferredUs,
    savedUs: baselineUs - deferredUs,
    savedPct: pct(baselineUs - deferredUs, baselineUs),
    collectiveShareBaselinePct: pct(exposedB, baselineUs),
    hiddenCollectivePct: exposedB > 0 ? Math.min(100, Math.max(0, pct(exposedB - exposedD, exposedB))) : 0,
    exposedCollectiveBaselineUs: exposedB,
    exposedCollectiveDeferredUs: exposedD,
  };
}
