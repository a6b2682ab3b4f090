/**
 * Where a calibrated profile's matrix numbers are measured and where they are extrapolated: calibrate
 * records the GEMM rows (M) it measured, and every report on that profile says when its workload's M
 * lies outside them (issue 18: no silent extrapolation).
 */
import type { CalibrationRecord, HardwareProfile } from '../hardware/profile';
import type { Workload } from '../workload';

/** GEMM rows of a workload's linears: the batch in decode, batch × prompt in prefill. */
export function workloadRows(w: Pick<Workload, 'phase' | 'batch' | 'seq'>): number {
  return w.phase === 'decode' ? w.batch : w.batch * w.seq;
}

/** The sentence for M outside the measured rows; null inside them. */
export function extrapolationNote(shapes: CalibrationRecord['shapes'], m: number): string | null {
  const { mMin, mMax } = shapes;
  return m < mMin || m > mMax ? `M = ${m} is outside the measured shapes (M ${mMin}–${mMax}): the calibrated matrix efficiency is extrapolated there; measure at this workload to calibrate it` : null;
}

/** The report's note on a calibrated profile whose measured rows do not include the workload's. */
export function calibrationNotes(hw: HardwareProfile, w: Workload): string[] {
  const c = hw.calibration;
  if (!c) return [];
  const note = extrapolationNote(c.shapes, workloadRows(w));
  return note ? [`The "${hw.name}" profile was calibrated on ${c.device} (${c.date}); ${note}.`] : [];
}
