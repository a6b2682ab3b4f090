/** The text `deferred-norm calibrate` prints: the fitted numbers, the fit's error, and the held-back blocks. */
import { table } from '../report/text';
import type { Calibration } from './fit';
import type { FitError } from './least-squares';

const pct = (fraction: number) => `${(100 * fraction).toFixed(1)}%`;
const us = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
const errorLine = (e: FitError) => `n ${e.n}, mean |simulated ÷ measured − 1| ${pct(e.meanAbsError)}, max ${pct(e.maxAbsError)}`;

export function formatCalibration(c: Calibration): string {
  const p = c.params;
  const hw = c.profile;
  const out = [
    `Calibrated "${hw.name}" on ${c.device} (${c.deviceKind}, ${c.dtype}), measured ${c.date}; fitted on each entry's ${c.statistic === 'p10' ? '10th percentile' : 'median'}.`,
    'Fitted numbers (rates reached at the measured shapes):',
    `  matrix  ${p.matrixTflops.toPrecision(4)} TFLOP/s (matrix.efficiency ${hw.matrix.efficiency} of ${hw.matrix.peakTflops[c.dtype]} TFLOP/s), start ${p.matrixStartNs.toFixed(0)} ns`,
    `  vector  ${p.vectorGelems.toPrecision(4)} G elem/s, start ${p.vectorStartNs.toFixed(0)} ns`,
    `  memory  ${p.bandwidthGBps.toPrecision(4)} GB/s (memory.efficiency ${hw.memory.efficiency} of ${hw.memory.tiers.find((t) => t.name === hw.memory.weightsTier)!.bandwidthGBps} GB/s)`,
  ];
  if (c.kept.length > 0) out.push(`  kept from the base (no measurement constrains them): ${c.kept.join(', ')}`);
  out.push(
    '',
    `Fit error on the points used: ${errorLine(c.fitError)}`,
    table(
      ['point', 'measured µs', 'simulated µs', 'ratio'],
      c.fitted.map((f) => [f.label, us(f.measuredUs), us(f.simulatedUs), f.ratio.toFixed(3)]),
      ['left', 'right', 'right', 'right'],
    ),
    '',
    `Matrix efficiency by shape (each GEMM's rate fitted alone; written as matrix.efficiencyByShape, read by the nearest weight shape, interpolated over M):`,
    table(
      ['K × N', 'M', 'TFLOP/s', 'efficiency'],
      [...c.byShape].sort((a, b) => a.k * a.n - b.k * b.n || a.k - b.k || a.m - b.m).map((k) => [`${k.k} × ${k.n}`, `${k.m}`, k.tflops.toPrecision(3), k.efficiency.toFixed(4)]),
      ['left', 'right', 'right', 'right'],
    ),
    '',
  );
  if (c.heldBack.length === 0) out.push('Held-back blocks: none measured (the model has no deferrable RMSNorm site).');
  else {
    out.push(
      `Held back (never fitted): the standard and the deferred norm → projection blocks: ${errorLine(c.heldBackError)}`,
      table(
        ['site', 'M', 'std measured', 'std simulated', 'error', 'deferred measured', 'deferred simulated', 'error', 'saving measured', 'saving simulated', 'sign'],
        c.heldBack.map((b) => [
          `${b.site} → ${b.consumers.join(', ')}`,
          `${b.rows}`,
          `${us(b.measuredStandardUs)} µs`,
          `${us(b.simulatedStandardUs)} µs`,
          signed(100 * (b.standardRatio - 1)),
          `${us(b.measuredDeferredUs)} µs`,
          `${us(b.simulatedDeferredUs)} µs`,
          signed(100 * (b.deferredRatio - 1)),
          signed(b.measuredSavingPct),
          signed(b.simulatedSavingPct),
          !b.resolved ? 'within noise' : b.signRight ? 'right' : 'WRONG',
        ]),
        ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
      ),
    );
  }
  if (c.heldBack.some((b) => !b.resolved)) {
    out.push("'within noise': the measured standard and deferred times differ by less than half the spread (10th–90th percentile) of their samples: the sign of the saving cannot be told on this machine.");
  }
  const s = c.shapes;
  out.push('', `Measured shapes: GEMM M ${s.mMin}–${s.mMax}, K ≤ ${s.kMax}, N ≤ ${s.nMax}; a workload outside them is an extrapolation of this profile.`);
  if (c.notes.length > 0) out.push(...c.notes.map((n) => `Note: ${n}`));
  return out.join('\n') + '\n';
}
