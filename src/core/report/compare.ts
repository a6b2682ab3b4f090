import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { simulate } from '../sim/simulate';
import type { Workload } from '../workload';
import { totalsOfSimulation } from './profile';
import { markdownInline, shortened, shownName } from '../text';
import { markdownTable, num, percent } from './text';
import type { Totals } from './types';

/** One machine's whole-model figures for the same model and workload. */
export interface ComparisonRow extends Totals {
  hardware: string;
  title: string;
  /** The dtype the machine ran (the workload's, or the profile's default). */
  dtype: string;
}

/** The same model and workload on several machines; a machine that cannot run it says why instead. */
export function compareHardware(spec: ModelSpec, machines: readonly HardwareProfile[], workload: Workload): { rows: ComparisonRow[]; skipped: { hardware: string; reason: string }[] } {
  const rows: ComparisonRow[] = [];
  const skipped: { hardware: string; reason: string }[] = [];
  for (const hw of machines) {
    try {
      const simulation = simulate(spec, hw, workload);
      rows.push({ hardware: shownName(hw.name), title: shownName(hw.title), dtype: simulation.dtype, ...totalsOfSimulation(simulation) });
    } catch (err) {
      skipped.push({ hardware: shownName(hw.name), reason: shortened(err instanceof Error ? err.message : String(err), 1000) });
    }
  }
  return { rows, skipped };
}

/** The comparison as Markdown: a table a person reads side by side, with what it assumes. */
export function formatComparisonMarkdown(modelName: string, workloadLine: string, result: ReturnType<typeof compareHardware>): string {
  const header = ['Hardware', 'Dtype', 'Baseline µs', 'Deferred µs', 'Saved µs', 'Saved', 'Collective share', 'Hidden'];
  // Cells are escaped by markdownTable; the heading and the list by markdownInline.
  const rows = result.rows.map((r) => [`${r.title} (${r.hardware})`, r.dtype, num(r.baselineUs), num(r.deferredUs), num(r.savedUs), percent(r.savedPct), percent(r.collectiveShareBaselinePct), percent(r.hiddenCollectivePct)]);
  const out = [
    `# ${markdownInline(modelName)} on every hardware profile`,
    '',
    `> Simulated estimates, not measurements. Workload: ${workloadLine}. Each profile's numbers and their sources: \`deferred-norm hardware show NAME\`.`,
    '',
    markdownTable(header, rows, ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']),
  ];
  if (result.skipped.length > 0) out.push('', 'Not compared:', '', ...result.skipped.map((s) => `- ${markdownInline(s.hardware)}: ${markdownInline(s.reason)}`));
  return out.join('\n') + '\n';
}
