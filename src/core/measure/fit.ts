/**
 * `deferred-norm calibrate`: fits the numbers a hardware profile states (matrix rate, memory
 * bandwidth, vector rate, launch costs) to a harness's measurements, and tests the fit on the
 * points it never saw: the standard and deferred norm → projection blocks.
 *
 * The points and the rates are fit-points.ts's, the least squares least-squares.ts's, the profile
 * written calibrated-profile.ts's, the blocks held back held-back.ts's. A number the measurements do
 * not constrain (no point's prediction moves by 1% when it doubles) keeps the base profile's value,
 * and says so. Pure: the caller loads the model specs and the base profile.
 */
import { InputError } from '../errors';
import { applyOverrides } from '../hardware/overrides';
import type { CalibrationRecord, Dtype, HardwareProfile } from '../hardware/profile';
import { writeProfile, type ShapePoint } from './calibrated-profile';
import { extrapolationNote } from './extrapolation';
import { DEFAULT_STATISTIC, FIT_KEYS, HARNESS_STACK, fitPoints, harnessProfile, paramsOf, predictNs, withParams, type FitParams, type FitPoint, type MeasuredSet, type Statistic } from './fit-points';
import { heldBackBlocks, type HeldBackBlock } from './held-back';
import { cost, directEstimate, errorOf, fitParams, unconstrained, type FitError } from './least-squares';
import type { Measurements } from './types';

export interface Calibration {
  profile: HardwareProfile;
  device: string;
  deviceKind: Measurements['provenance']['device'];
  date: string;
  dtype: Dtype;
  params: FitParams;
  /** Numbers kept from the base because no measurement constrains them. */
  kept: (keyof FitParams)[];
  fitted: { label: string; measuredUs: number; simulatedUs: number; ratio: number }[];
  fitError: FitError;
  /** Which time of each entry was fitted and compared. */
  statistic: Statistic;
  /** Each GEMM's own rate: the profile's matrix.efficiencyByShape. */
  byShape: ShapePoint[];
  heldBack: HeldBackBlock[];
  heldBackError: FitError;
  /** The shapes measured, for the extrapolation check (also in the profile's `calibration`). */
  shapes: CalibrationRecord['shapes'] & { workloadM: number };
  /** What the harness skipped, and the attention timings (shown, not fitted). */
  notes: string[];
}

/**
 * Fits `base` to the measurements of one device and returns the calibrated profile (validated, named
 * `name`) with the fit's error on its own points and on the held-back blocks.
 */
export function calibrate(sets: readonly MeasuredSet[], base: HardwareProfile, name: string, baseName: string, statistic: Statistic = DEFAULT_STATISTIC): Calibration {
  const first = sets[0];
  if (!first) throw new InputError('command line', '', 'at least one measurements file');
  const prov = first.measurements.provenance;
  for (const s of sets) {
    const p = s.measurements.provenance;
    if (p.deviceName !== prov.deviceName || p.dtype !== prov.dtype || p.device !== prov.device) {
      throw new InputError(s.file, 'provenance', `measurements of one device and dtype (${prov.deviceName}, ${prov.dtype}, as in ${first.file})`, `${p.deviceName}, ${p.dtype}`);
    }
  }
  const dtype = prov.dtype;
  // On a CPU the statistic's gather spans the threads torch ran (the written profile says so too).
  const hw = harnessProfile(prov.device === 'cpu' ? { ...base, computeUnits: prov.threads } : base, dtype, baseName);
  const points = sets.flatMap((s) => fitPoints(s, hw, statistic));
  if (points.length === 0) throw new InputError(first.file, 'entries', 'launch, stream, gemm or norm measurements to fit', 'none');
  const workloadMs = new Set(sets.flatMap((s) => [s.measurements.workload.m - 1, s.measurements.workload.m, s.measurements.workload.m + 1]));
  // One matrix efficiency (for matmuls without a measured shape: attention's) is fitted on the GEMMs at
  // the workload's M ± 1; then each GEMM's own rate goes into the shape table.
  const profilePoints = points.filter((p) => p.m === null || workloadMs.has(p.m));
  // Least squares from two starts, the base's rates and the direct reading, keeping the better: first
  // everything but the matrix rate on the points that are not GEMMs (GEMMs of shape-dependent rates
  // would otherwise pull the bandwidth down to explain the spread), then the one matrix rate on the GEMMs.
  const others = profilePoints.filter((p) => p.kind !== 'gemm');
  const gemmAtM = profilePoints.filter((p) => p.kind === 'gemm');
  const restKeys = FIT_KEYS.filter((k) => k !== 'matrixTflops');
  const fits = [paramsOf(hw, dtype), directEstimate(profilePoints, paramsOf(hw, dtype))].map((start) => {
    const rest = others.length > 0 ? fitParams(others, hw, dtype, start, restKeys) : start;
    return gemmAtM.length > 0 ? fitParams(gemmAtM, hw, dtype, rest, ['matrixTflops']) : rest;
  });
  let params = fits.reduce((a, b) => (cost(profilePoints, hw, dtype, b) < cost(profilePoints, hw, dtype, a) ? b : a));
  const kept = unconstrained(profilePoints, hw, dtype, params);
  const startParams = paramsOf(hw, dtype);
  for (const key of kept) params = { ...params, [key]: startParams[key] };

  // Each measured shape's rate, fitted on its own GEMMs (one per file that measured it).
  const byKey = new Map<string, { m: number; k: number; n: number; points: FitPoint[] }>();
  for (const p of points) {
    const w = p.ops[0]!.work;
    if (p.kind !== 'gemm' || w.kind !== 'matmul') continue;
    const key = `${w.m}x${w.k}x${w.n}`;
    const had = byKey.get(key);
    if (had) had.points.push(p);
    else byKey.set(key, { m: w.m, k: w.k, n: w.n, points: [p] });
  }
  const rates = [...byKey.values()].map(({ points: mine, ...shape }) => ({ ...shape, tflops: fitParams(mine, hw, dtype, params, ['matrixTflops']).matrixTflops }));

  const trial = withParams(hw, dtype, params);
  const fitted = profilePoints.map((p) => {
    const simulatedUs = predictNs(p, trial, dtype, 1) / 1000;
    return { label: p.label, measuredUs: p.measuredNs / 1000, simulatedUs, ratio: (simulatedUs * 1000) / p.measuredNs };
  });
  const gemms = sets.flatMap((s) => s.measurements.entries.flatMap((e) => (e.kind === 'gemm' ? [e] : [])));
  const shapes = {
    mMin: Math.min(...gemms.map((g) => g.m)),
    mMax: Math.max(...gemms.map((g) => g.m)),
    kMax: Math.max(...gemms.map((g) => g.k)),
    nMax: Math.max(...gemms.map((g) => g.n)),
  };
  const record: CalibrationRecord | undefined = gemms.length > 0 ? { device: prov.deviceName, date: prov.date, measurements: points.length, shapes } : undefined;
  const profile = writeProfile(base, hw, dtype, params, kept, rates, record, { name, prov, n: profilePoints.length, residual: errorOf(fitted.map((f) => f.ratio)) });
  const peak = profile.matrix.peakTflops[dtype]!;
  const heldBack = sets.flatMap((s) => heldBackBlocks(s, applyOverrides(profile, [...HARNESS_STACK]), statistic));
  const notes = sets.flatMap((s) => [
    ...s.measurements.skipped.map((k) => `${s.file}: not measured: ${k.what}: ${k.why}`),
    ...s.measurements.entries.flatMap((e) => (e.kind === 'attention' ? [`${s.file}: attention ${e.impl} (${e.batch}×${e.heads} heads, ${e.queries} queries × ${e.keys} keys): ${e.medianUs.toFixed(1)} µs (shown, not fitted)`] : [])),
  ]);
  return {
    profile,
    device: prov.deviceName,
    deviceKind: prov.device,
    date: prov.date,
    dtype,
    params,
    kept,
    fitted,
    fitError: errorOf(fitted.map((f) => f.ratio)),
    statistic,
    byShape: rates.map((r) => ({ ...r, efficiency: r.tflops / peak })),
    heldBack,
    heldBackError: errorOf(heldBack.flatMap((b) => [b.standardRatio, b.deferredRatio])),
    shapes: { ...shapes, workloadM: first.measurements.workload.m },
    notes,
  };
}

/** Whether a workload's M lies outside the GEMM rows measured: a calibrated efficiency is then extrapolated. */
export function extrapolation(c: Pick<Calibration, 'shapes'>, m: number): string | null {
  return extrapolationNote(c.shapes, m);
}
