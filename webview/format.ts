/** Number formatting only: every figure comes computed in the report. */
import { duration } from '../src/core/report/text';

const US_FINE = new Intl.NumberFormat('en-US', { minimumFractionDigits: 3, maximumFractionDigits: 3 });
const PCT = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A whole-model duration given in µs, in the unit that keeps it readable (the core's format): "424.3 µs", "11.87 ms", "2.18 s". */
export const us = duration;
/** Microseconds of a single layer or op, where tenths are too coarse: "0.424 µs". */
export const usFine = (v: number): string => `${US_FINE.format(v)} µs`;
/** A percentage with one decimal: "20.3%". */
export const pct = (v: number): string => `${PCT.format(v)}%`;
export const int = (v: number): string => INT.format(v);

/** Parameter counts as people say them: 8.03 B, 405 B, 124 M. */
export function paramCount(v: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, unit] of units) if (v >= size) return `${(v / size).toPrecision(3)} ${unit}`;
  return String(v);
}

/** Relative errors span many decades: scientific notation with three significant digits. */
export const sci = (v: number): string => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(2) : String(v));
