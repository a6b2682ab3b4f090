import { blockListings, pseudocodeFor } from '../codegen';
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { simulate, type Simulation } from '../sim/simulate';
import type { Workload } from '../workload';
import { numericsFor } from './numerics';
import { reportOf, shownSpec } from './profile';
import type { Report } from './types';

/**
 * The whole report: the simulated figures, the numerics check and the rewritten
 * code. The quick views (table, CSV, sweeps) use profile() and skip the last two.
 */
export function fullReport(spec: ModelSpec, hw: HardwareProfile, workload: Workload, seed = 1): { report: Report; simulation: Simulation } {
  // Names as shown, in the simulation's layer kinds and the code's comments; the report notes their length.
  const shown = shownSpec(spec);
  const simulation = simulate(shown, hw, workload);
  const report = reportOf(spec, hw, workload, simulation);
  report.numerics = numericsFor(spec, seed);
  report.pseudocode = pseudocodeFor(shown, simulation, report);
  report.pseudocodeBlocks = blockListings(shown, simulation);
  return { report, simulation };
}
