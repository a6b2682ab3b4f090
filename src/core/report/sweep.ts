import { InputError } from '../errors';
import { applyOverrides } from '../hardware/overrides';
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import type { LayerGraph } from '../graph/ops';
import { simulate } from '../sim/simulate';
import { validateWorkload, type Workload } from '../workload';
import { totalsOfSimulation } from './profile';
import { num, percent, table } from './text';
import type { Totals } from './types';

export interface SweepGrid {
  seq: number[];
  batch: number[];
  context: number[];
  tp: number[];
  /** `path=v1,v2,…` hardware ranges, each a dimension of the grid. */
  ranges: string[];
}

/** One point of the grid: its workload and hardware values, and the whole-model totals there. */
export interface SweepPoint extends Totals {
  phase: Workload['phase'];
  seq: number;
  batch: number;
  context: number;
  tp: number;
  /** Hardware values set for this point, by path. */
  set: Record<string, string>;
}

const MAX_POINTS = 1_000_000;

function parseRange(text: string): { path: string; values: string[] } {
  const eq = text.indexOf('=');
  const values = eq > 0 ? text.slice(eq + 1).split(',').filter((v) => v.trim() !== '') : [];
  if (eq <= 0 || values.length === 0) throw new InputError('--set-range', text, 'path=v1,v2,… with at least one value');
  return { path: text.slice(0, eq).trim(), values: values.map((v) => v.trim()) };
}

/** Evaluates every point of the grid (the cartesian product of all lists). */
export function runSweep(spec: ModelSpec, hw: HardwareProfile, base: Workload, grid: SweepGrid): SweepPoint[] {
  const ranges = grid.ranges.map(parseRange);
  // Each hardware combination is validated once, not once per workload point.
  let machines: { hw: HardwareProfile; set: Record<string, string> }[] = [{ hw, set: {} }];
  for (const range of ranges) {
    machines = machines.flatMap((m) => range.values.map((v) => ({ hw: applyOverrides(m.hw, [`${range.path}=${v}`]), set: { ...m.set, [range.path]: v } })));
  }
  const size = machines.length * grid.seq.length * grid.batch.length * grid.context.length * grid.tp.length;
  if (size > MAX_POINTS) throw new InputError('sweep', 'grid', `at most ${MAX_POINTS.toLocaleString('en')} points`, size.toLocaleString('en'));
  const points: SweepPoint[] = [];
  // Machines innermost: the graphs of one workload point serve every machine.
  for (const tp of grid.tp) {
    for (const batch of grid.batch) {
      for (const seq of grid.seq) {
        for (const context of grid.context) {
          const w = validateWorkload({ ...base, tp, batch, seq, context }, 'sweep');
          const graphs = new Map<string, Map<string, LayerGraph>>();
          for (const m of machines) {
            const t = totalsOfSimulation(simulate(spec, m.hw, w, { graphs }));
            points.push({ phase: w.phase, seq, batch, context, tp, set: m.set, ...t });
          }
        }
      }
    }
  }
  return points;
}

export function formatSweep(points: SweepPoint[], hw: HardwareProfile, base: Workload): string {
  const paths = Object.keys(points[0]?.set ?? {});
  const header = ['seq', 'batch', 'context', 'tp', ...paths, 'Baseline µs', 'Deferred µs', 'Saved', 'Collectives', 'Hidden'];
  const rows = points.map((p) => [`${p.seq}`, `${p.batch}`, `${p.context}`, `${p.tp}`, ...paths.map((k) => p.set[k]!), num(p.baselineUs), num(p.deferredUs), percent(p.savedPct), percent(p.collectiveShareBaselinePct), percent(p.hiddenCollectivePct)]);
  const align = header.map(() => 'right' as const);
  return [
    `Sweep of ${points.length} points, ${base.phase}, on "${hw.name}": simulated estimates, not measurements.`,
    `(${base.phase === 'prefill' ? 'seq is the prompt length; context is unused' : 'context is the cached length; seq is unused'})`,
    '',
    table(header, rows, align),
  ].join('\n') + '\n';
}
