/**
 * `deferred-norm validate --measurements FILE…` (issue 18): the user's own measured points beside the
 * published ones. Each file's standard and deferred norm → projection blocks are compared with the
 * simulator as calibrate's held-back comparison does (heldBackBlocks, under the harness's stack, on the
 * profile given), and kept in a section of their own: they never enter the published held-back figure.
 * Pure: the caller reads the files, loads the model and picks the profile.
 */
import { applyOverrides } from '../hardware/overrides';
import type { HardwareProfile } from '../hardware/profile';
import { DEFAULT_STATISTIC, HARNESS_STACK, type MeasuredSet, type Statistic } from '../measure/fit-points';
import { heldBackBlocks } from '../measure/held-back';
import { percent, table } from '../report/text';
import { formatMs, summarize, type ErrorSummary } from './validate';

/** One measured block: as in the file, simulated, and the ratio. */
export interface MeasuredRow {
  site: string;
  variant: 'standard' | 'deferred';
  consumers: string[];
  /** Rows of the block's input (M). */
  rows: number;
  measuredMs: number;
  simulatedMs: number;
  /** simulated ÷ measured. */
  ratio: number;
}

/** One measurements file: where it comes from, its rows, and their own error. */
export interface MeasuredSource {
  file: string;
  /** "your measurements: FILE on DEVICE, DATE". */
  title: string;
  device: string;
  date: string;
  torch: string;
  dtype: string;
  threads: number;
  /** Which of each entry's times is compared (calibrate's and the panel's default). */
  statistic: Statistic;
  /** The profile simulated on, and whether it was calibrated on this file's device. */
  hardware: string;
  calibratedHere: boolean;
  rows: MeasuredRow[];
  summary: ErrorSummary;
  notes: string[];
}

export function measuredSource(set: MeasuredSet, hw: HardwareProfile, statistic: Statistic = DEFAULT_STATISTIC): MeasuredSource {
  const p = set.measurements.provenance;
  const blocks = heldBackBlocks(set, applyOverrides(hw, [...HARNESS_STACK]), statistic);
  const rows = blocks.flatMap((b): MeasuredRow[] => [
    { site: b.site, variant: 'standard', consumers: b.consumers, rows: b.rows, measuredMs: b.measuredStandardUs / 1000, simulatedMs: b.simulatedStandardUs / 1000, ratio: b.standardRatio },
    { site: b.site, variant: 'deferred', consumers: b.consumers, rows: b.rows, measuredMs: b.measuredDeferredUs / 1000, simulatedMs: b.simulatedDeferredUs / 1000, ratio: b.deferredRatio },
  ]);
  const calibratedHere = hw.calibration?.device === p.deviceName;
  const notes: string[] = [];
  if (!calibratedHere) notes.push(`The "${hw.name}" profile was not calibrated on ${p.deviceName}: calibrate on this file (deferred-norm calibrate FILE --out NAME.hardware.json) and pass --hardware NAME.hardware.json to compare like with like.`);
  if (rows.length === 0) notes.push('The file has no standard and deferred norm → projection blocks to compare.');
  return {
    file: set.file,
    title: `your measurements: ${set.file} on ${p.deviceName}, ${p.date}`,
    device: p.deviceName,
    date: p.date,
    torch: p.torch,
    dtype: p.dtype,
    threads: p.threads,
    statistic,
    hardware: hw.name,
    calibratedHere,
    rows,
    summary: summarize(rows),
    notes,
  };
}

const pct = (fraction: number) => percent(100 * fraction);

/** The user's sections, after the published ones; empty text when there are none. */
export function formatMeasuredSources(sources: readonly MeasuredSource[]): string {
  const out: string[] = [];
  for (const s of sources) {
    const header = ['block', 'variant', 'rows', 'measured', 'simulated', 'ratio'];
    const rows = s.rows.map((r) => [`${r.site} → ${r.consumers.join(',')}`, r.variant, `${r.rows}`, `${formatMs(r.measuredMs)} ms`, `${formatMs(r.simulatedMs)} ms`, r.ratio.toFixed(3)]);
    out.push(
      '',
      `Your measurements: ${s.file} on ${s.device}, ${s.date} (torch ${s.torch}, ${s.dtype}, ${s.threads} thread${s.threads === 1 ? '' : 's'}; the ${s.statistic} of each entry), simulated on "${s.hardware}" under the harness's stack. Not part of the published figures above.`,
      // No blocks (a LayerNorm model: the harness times RMSNorm blocks only): no table and no mean of nothing.
      ...(s.rows.length === 0
        ? []
        : [
            table(header, rows, ['left', 'left', 'right', 'right', 'right', 'right']),
            `Your measurements (${s.file}): mean |ratio−1| ${pct(s.summary.meanAbsError)} over ${s.summary.n} blocks (max ${pct(s.summary.maxAbsError)}, geometric-mean ratio ${s.summary.geoMeanRatio.toFixed(3)}).`,
          ]),
      ...s.notes,
    );
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
