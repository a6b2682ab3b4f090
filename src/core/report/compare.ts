import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { simulate } from '../sim/simulate';
import type { TpRequest, WorkloadRequest } from '../workload';
import { totalsOfSimulation } from './profile';
import { resolveWorkload, tpText } from './tensor-parallel';
import { markdownInline, shortened, shownName } from '../text';
import { workloadLine } from './formats';
import { count, markdownTable, num, percent } from './text';
import type { Totals } from './types';

/** One run's whole-model figures: a model at a workload on a machine. */
export interface ComparisonRow extends Totals {
  /** The model's name as shown. */
  model: string;
  /** Its parameters (total, per the spec). */
  params: number;
  /** workloadLine() of the run's workload. */
  workload: string;
  hardware: string;
  title: string;
  /** The dtype the machine ran (the workload's, or the profile's default). */
  dtype: string;
  /** The tensor-parallel degree simulated, and how it was chosen ("TP 16, the smallest that fits"). */
  tp: string;
}

/** What one column (or row) of a comparison simulates. */
export interface ComparedRun {
  spec: ModelSpec;
  hardware: HardwareProfile;
  /** A tensor-parallel degree 'auto' is resolved for this run's model and machine. */
  workload: WorkloadRequest;
}

/** A run that could not be simulated, with its label and the core's reason. */
export interface SkippedRun {
  hardware: string;
  /** The model and workload of the run, for a comparison of models or workloads. */
  run?: string;
  reason: string;
}

export interface Comparison {
  rows: ComparisonRow[];
  skipped: SkippedRun[];
}

/** Each run simulated on its own; a run that cannot be simulated says why instead (the others still are). */
export function compareRuns(runs: readonly ComparedRun[]): Comparison {
  const rows: ComparisonRow[] = [];
  const skipped: SkippedRun[] = [];
  for (const { spec, hardware: hw, workload: request } of runs) {
    let workload: WorkloadRequest = request;
    try {
      const resolved = resolveWorkload(spec, hw, request);
      workload = resolved;
      const simulation = simulate(spec, hw, resolved);
      rows.push({ model: shownName(spec.name), params: spec.params.total, workload: workloadLine(workload), hardware: shownName(hw.name), title: shownName(hw.title), dtype: simulation.dtype, tp: tpText(resolved), ...totalsOfSimulation(simulation) });
    } catch (err) {
      skipped.push({ hardware: shownName(hw.name), run: `${shownName(spec.name)}, ${workloadLine(workload)}`, reason: shortened(err instanceof Error ? err.message : String(err), 1000) });
    }
  }
  return { rows, skipped };
}

/** The same model and workload on several machines; a machine that cannot run it says why instead. */
export function compareHardware(spec: ModelSpec, machines: readonly HardwareProfile[], workload: WorkloadRequest): Comparison {
  const result = compareRuns(machines.map((hardware) => ({ spec, hardware, workload })));
  return { rows: result.rows, skipped: result.skipped.map(({ hardware, reason }) => ({ hardware, reason })) };
}

/** The comparison as Markdown: a table a person reads side by side, with what it assumes. */
export function formatComparisonMarkdown(modelName: string, workloadLine: string, result: Comparison): string {
  const header = ['Hardware', 'Dtype', 'TP', 'Baseline µs', 'Deferred µs', 'Saved µs', 'Saved', 'Collective share', 'Hidden'];
  // Cells are escaped by markdownTable; the heading and the list by markdownInline.
  const rows = result.rows.map((r) => [`${r.title} (${r.hardware})`, r.dtype, r.tp, num(r.baselineUs), num(r.deferredUs), num(r.savedUs), percent(r.savedPct), percent(r.collectiveShareBaselinePct), percent(r.hiddenCollectivePct)]);
  const out = [
    `# ${markdownInline(modelName)} on every hardware profile`,
    '',
    `> Simulated estimates, not measurements. Workload: ${workloadLine}. Each profile's numbers and their sources: \`deferred-norm hardware show NAME\`.`,
    '',
    markdownTable(header, rows, ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']),
  ];
  if (result.skipped.length > 0) out.push('', 'Not compared:', '', ...result.skipped.map((s) => `- ${markdownInline(s.hardware)}: ${markdownInline(s.reason)}`));
  return out.join('\n') + '\n';
}

/**
 * Two (or more) runs side by side, one column each, for Compare Models: the figures down the side so
 * that two models, or one model at two workloads, read across a row. The last column is the second's
 * change from the first, where there are exactly two.
 */
export function formatRunsMarkdown(result: Comparison): string {
  const cols = result.rows;
  // Each figure: its label, its cell, and how the second run differs from the first (a ratio of times, points of shares).
  type Figure = [string, (r: ComparisonRow) => string, ((a: ComparisonRow, b: ComparisonRow) => string)?];
  const ratio = (f: (r: ComparisonRow) => number) => (a: ComparisonRow, b: ComparisonRow) => (f(a) > 0 ? `×${(f(b) / f(a)).toFixed(2)}` : '');
  const points = (f: (r: ComparisonRow) => number) => (a: ComparisonRow, b: ComparisonRow) => {
    const d = f(b) - f(a);
    return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(1)} pp`;
  };
  const figures: Figure[] = [
    ['Model', (r) => r.model],
    ['Parameters', (r) => count(r.params), ratio((r) => r.params)],
    ['Workload', (r) => r.workload],
    ['Hardware', (r) => `${r.title} (${r.hardware})`],
    ['Dtype', (r) => r.dtype],
    ['Baseline µs', (r) => num(r.baselineUs), ratio((r) => r.baselineUs)],
    ['Deferred µs', (r) => num(r.deferredUs), ratio((r) => r.deferredUs)],
    ['Saved µs', (r) => num(r.savedUs), ratio((r) => r.savedUs)],
    ['Saved', (r) => percent(r.savedPct), points((r) => r.savedPct)],
    ['Collective share', (r) => percent(r.collectiveShareBaselinePct), points((r) => r.collectiveShareBaselinePct)],
    ['Hidden', (r) => percent(r.hiddenCollectivePct), points((r) => r.hiddenCollectivePct)],
  ];
  const pair = cols.length === 2 ? ([cols[0]!, cols[1]!] as const) : null;
  const header = ['Figure', ...cols.map((_, i) => `Run ${i + 1}`), ...(pair ? ['Run 2 vs 1'] : [])];
  const rows = figures.map(([label, cell, change]) => [label, ...cols.map(cell), ...(pair ? [change ? change(...pair) : ''] : [])]);
  const out = [
    '# Compared side by side',
    '',
    '> Simulated estimates, not measurements. Each column is one model at one workload on one hardware profile, simulated on its own; Baseline, Deferred and Saved are one pass of the column\'s phase, summed over every layer and the head.',
    '',
    markdownTable(header, rows, ['left', ...header.slice(1).map((): 'right' => 'right')]),
  ];
  if (result.skipped.length > 0) out.push('', 'Not compared:', '', ...result.skipped.map((s) => `- ${markdownInline(s.run ?? s.hardware)} on ${markdownInline(s.hardware)}: ${markdownInline(s.reason)}`));
  return out.join('\n') + '\n';
}

type WorkloadShape = Pick<WorkloadRequest, 'phase' | 'batch' | 'seq' | 'context'> & { tp: TpRequest };

/**
 * The other workloads Compare Models offers for the same model, each one change away from `w`: the other
 * phase, batch 1 or 4× the batch, 4× the context (decode) or the prompt (prefill), twice the TP degree.
 * Values stay within the core's limits (validateWorkload checks again).
 */
export function workloadVariants<W extends WorkloadShape>(w: W): { label: string; workload: W }[] {
  const out: { label: string; workload: W }[] = [];
  const add = (label: string, change: Partial<WorkloadShape>) => out.push({ label, workload: { ...w, ...change } });
  if (w.phase === 'decode') add(`prefill of ${w.seq} tokens`, { phase: 'prefill' });
  else add(`decode, context ${w.context}`, { phase: 'decode' });
  if (w.batch !== 1) add('batch 1', { batch: 1 });
  if (w.batch * 4 <= 1 << 16) add(`batch ${w.batch * 4}`, { batch: w.batch * 4 });
  if (w.phase === 'decode' && w.context * 4 <= 1 << 24) add(`context ${w.context * 4}`, { context: w.context * 4 });
  if (w.phase === 'prefill' && w.seq * 4 <= 1 << 24) add(`prompt of ${w.seq * 4} tokens`, { seq: w.seq * 4 });
  // 'auto' has no degree to double; it resolves per run anyway.
  if (typeof w.tp === 'number' && w.tp * 2 <= 1024) add(`tensor parallel ${w.tp * 2}`, { tp: w.tp * 2 });
  return out;
}
