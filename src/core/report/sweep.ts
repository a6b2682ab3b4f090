import { InputError } from '../errors';
import { applyOverrides } from '../hardware/overrides';
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import type { LayerGraph } from '../graph/ops';
import { simulate } from '../sim/simulate';
import { checkWorkloadForModel, validateWorkload, type Workload } from '../workload';
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

/**
 * The most points one sweep evaluates: a point costs 0.1 ms (a 7–8B model) to 1.5 ms (DeepSeek-V3),
 * so this keeps a sweep to seconds. Counted from the list lengths before anything is built.
 */
export const MAX_SWEEP_POINTS = 100_000;

function parseRange(text: string): { path: string; values: string[] } {
  const eq = text.indexOf('=');
  // No path before an '=' (or no '='): no values, refused below.
  const values = eq > 0 ? text.slice(eq + 1).split(',').filter((v) => v.trim() !== '') : [];
  if (values.length === 0) throw new InputError('--set-range', text, 'path=v1,v2,… with at least one value');
  return { path: text.slice(0, eq).trim(), values: values.map((v) => v.trim()) };
}

/** The number of points of a grid: the product of its list lengths (hardware ranges included). */
export function sweepSize(grid: SweepGrid): number {
  const ranges = grid.ranges.map(parseRange);
  return ranges.reduce((n, r) => n * r.values.length, grid.seq.length * grid.batch.length * grid.context.length * grid.tp.length);
}

/**
 * A grid ready to evaluate, in the order of the output: point i is workload ⌊i / machines.length⌋ on
 * machine i mod machines.length (machines innermost, so that the graphs of one workload serve every
 * machine). Plain data: a worker thread can evaluate a share of it (src/cli/sweep-parallel.ts).
 */
export interface SweepPlan {
  /** In the nested order tp, batch, seq, context; each is checked when its first point is evaluated. */
  workloads: Workload[];
  /** Each hardware combination, validated once, with the values set on it by path. */
  machines: { hw: HardwareProfile; set: Record<string, string> }[];
  size: number;
}

/** Checks the grid (its size first, before anything is built) and lists its workloads and machines. */
export function planSweep(spec: ModelSpec, hw: HardwareProfile, base: Workload, grid: SweepGrid): SweepPlan {
  // Counted before anything is built: each dimension's values are checked once, then the product.
  const ranges = grid.ranges.map(parseRange);
  const size = sweepSize(grid);
  if (size > MAX_SWEEP_POINTS) {
    const dims = [
      ...(['seq', 'batch', 'context', 'tp'] as const).map((k) => grid[k].length).filter((n) => n > 1),
      ...ranges.map((r) => r.values.length),
    ];
    throw new InputError('sweep', 'grid', `at most ${MAX_SWEEP_POINTS.toLocaleString('en')} points`, `${size.toLocaleString('en')} (${dims.join(' × ')})`, 'limit');
  }
  for (const range of ranges) for (const v of range.values) applyOverrides(hw, [`${range.path}=${v}`]);
  for (const tp of grid.tp) checkWorkloadForModel(spec, { ...base, tp }, 'sweep');
  // Each hardware combination is validated once, not once per workload point.
  let machines: SweepPlan['machines'] = [{ hw, set: {} }];
  for (const range of ranges) {
    machines = machines.flatMap((m) => range.values.map((v) => ({ hw: applyOverrides(m.hw, [`${range.path}=${v}`]), set: { ...m.set, [range.path]: v } })));
  }
  const workloads: Workload[] = [];
  for (const tp of grid.tp) for (const batch of grid.batch) for (const seq of grid.seq) for (const context of grid.context) workloads.push({ ...base, tp, batch, seq, context });
  return { workloads, machines, size };
}

/** The fields of Totals in their order: a point's totals are stored as these numbers, one after another. */
export const TOTALS_FIELDS = [
  'baselineUs',
  'deferredUs',
  'savedUs',
  'savedPct',
  'collectiveShareBaselinePct',
  'hiddenCollectivePct',
  'exposedCollectiveBaselineUs',
  'exposedCollectiveDeferredUs',
] as const satisfies readonly (keyof Totals)[];

/**
 * Simulates points [from, to) of a plan and writes their totals into `out` (TOTALS_FIELDS.length
 * numbers per point, at the point's index). A workload's graphs are built once and serve every machine.
 */
export function evaluateSweep(spec: ModelSpec, plan: SweepPlan, from: number, to: number, out: Float64Array): void {
  const machines = plan.machines.length;
  const width = TOTALS_FIELDS.length;
  let index = -1;
  let w: Workload | undefined;
  let graphs = new Map<string, Map<string, LayerGraph>>();
  for (let i = from; i < to; i++) {
    const j = Math.floor(i / machines);
    if (j !== index) {
      index = j;
      w = validateWorkload(plan.workloads[j]!, 'sweep');
      graphs = new Map();
    }
    const t = totalsOfSimulation(simulate(spec, plan.machines[i % machines]!.hw, w!, { graphs }));
    for (let f = 0; f < width; f++) out[i * width + f] = t[TOTALS_FIELDS[f]!];
  }
}

/** The points of an evaluated plan, from the totals evaluateSweep wrote. */
export function sweepPoints(plan: SweepPlan, totals: Float64Array): SweepPoint[] {
  const machines = plan.machines.length;
  const width = TOTALS_FIELDS.length;
  const points: SweepPoint[] = [];
  for (let i = 0; i < plan.size; i++) {
    const w = plan.workloads[Math.floor(i / machines)]!;
    const t = {} as Totals;
    for (let f = 0; f < width; f++) t[TOTALS_FIELDS[f]!] = totals[i * width + f]!;
    points.push({ phase: w.phase, seq: w.seq, batch: w.batch, context: w.context, tp: w.tp, set: plan.machines[i % machines]!.set, ...t });
  }
  return points;
}

/** Evaluates every point of the grid (the cartesian product of all lists). */
export function runSweep(spec: ModelSpec, hw: HardwareProfile, base: Workload, grid: SweepGrid): SweepPoint[] {
  const plan = planSweep(spec, hw, base, grid);
  const totals = new Float64Array(plan.size * TOTALS_FIELDS.length);
  evaluateSweep(spec, plan, 0, plan.size, totals);
  return sweepPoints(plan, totals);
}

export function formatSweep(points: SweepPoint[], hw: HardwareProfile, base: Workload): string {
  const paths = Object.keys(points[0]?.set ?? {});
  const header = ['seq', 'batch', 'context', 'tp', ...paths, 'Baseline µs', 'Deferred µs', 'Saved', 'Collectives', 'Hidden'];
  const rows = points.map((p) => [`${p.seq}`, `${p.batch}`, `${p.context}`, `${p.tp}`, ...paths.map((k) => p.set[k]!), num(p.baselineUs), num(p.deferredUs), percent(p.savedPct), percent(p.collectiveShareBaselinePct), percent(p.hiddenCollectivePct)]);
  const align = header.map(() => 'right' as const);
  return [
    `Sweep of ${points.length} points, ${base.phase}, on "${hw.name}": simulated estimates, not measurements.`,
    `(${base.phase === 'prefill' ? 'seq is the prompt length; context is unused' : 'context is the cached length; seq is unused'})`,
    ...(base.tpChosen ? [tpAutoLine(base)] : []),
    '',
    table(header, rows, align),
  ].join('\n') + '\n';
}

/** A sweep holds the degree 'auto' chose at the base point (one deployment across the grid); say so. */
function tpAutoLine(base: Workload): string {
  const at = `batch ${base.batch}, ${base.phase === 'prefill' ? `seq ${base.seq}` : `context ${base.context}`}`;
  return base.tpChosen === 'fits-at-none'
    ? `(tp auto: no degree the heads allow fits at the base point, ${at}, so tp 1 is held for every point; --tp sets it)`
    : `(tp auto: ${base.tp}, the smallest that fits at the base point, ${at}, held for every point; --tp sets it)`;
}
