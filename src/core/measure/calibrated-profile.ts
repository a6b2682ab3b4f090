/**
 * The calibrated profile: the base profile with the fitted rates written into its own fields
 * (efficiencies of the stated peaks, or a measured peak where a rate is above it or far below),
 * each with a "calibrated:" provenance, validated as a user's file would be.
 */
import type { CalibrationRecord, Dtype, HardwareProfile } from '../hardware/profile';
import { validateHardwareProfile } from '../hardware/validate';
import { FIT_KEYS, type FitParams } from './fit-points';
import type { FitError } from './least-squares';
import type { Measurements } from './types';

/** Where each fitted number goes in the profile. */
const FIELD: Record<keyof FitParams, string> = {
  matrixTflops: 'matrix.efficiency',
  bandwidthGBps: 'memory.efficiency',
  vectorGelems: 'vector.gelemsPerSec',
  matrixStartNs: 'matrix.startLatencyNs',
  vectorStartNs: 'vector.startLatencyNs',
};

/** One GEMM measured, its rate fitted alone (the other numbers as fitted), as written into matrix.efficiencyByShape. */
export interface ShapePoint {
  m: number;
  k: number;
  n: number;
  tflops: number;
  /** Of the calibrated profile's peak. */
  efficiency: number;
}

const round = (v: number, digits = 4) => Number(v.toPrecision(digits));
/** The least matrix efficiency a profile may state (the schema's minimum). */
const MIN_EFFICIENCY = 1e-3;
/** The least peak rate a profile may state, TFLOP/s (the schema's minimum: 1 GFLOP/s). */
const MIN_PEAK_TFLOPS = 1e-3;

/** The base profile with the fitted numbers written into its own fields, each with a "calibrated:" provenance. */
export function writeProfile(
  base: HardwareProfile,
  hw: HardwareProfile,
  dtype: Dtype,
  p: FitParams,
  kept: readonly (keyof FitParams)[],
  rates: readonly Omit<ShapePoint, 'efficiency'>[],
  record: CalibrationRecord | undefined,
  run: { name: string; prov: Measurements['provenance']; n: number; residual: FitError },
): HardwareProfile {
  const out = structuredClone(base);
  const prov = { ...base.provenance };
  const said = `calibrated: ${run.n} measurements on ${run.prov.deviceName}, ${run.prov.date}, residual ${(100 * run.residual.meanAbsError).toFixed(1)}% (mean |simulated ÷ measured − 1|; max ${(100 * run.residual.maxAbsError).toFixed(1)}%)`;
  const set = (field: string, note: string) => (prov[field] = `${said}: ${note}`);
  const tierIndex = out.memory.tiers.findIndex((t) => t.name === hw.memory.weightsTier);
  const tier = out.memory.tiers[tierIndex]!;
  for (const key of FIT_KEYS) {
    if (kept.includes(key)) {
      prov[FIELD[key]] = `${base.provenance[FIELD[key]] ?? 'from the base profile'} (kept by calibrate: no measurement constrains it)`;
      continue;
    }
    switch (key) {
      case 'matrixTflops': {
        const peak = out.matrix.peakTflops[dtype]!;
        const measured = [p.matrixTflops, ...rates.map((r) => r.tflops)];
        const fastest = Math.max(...measured);
        const slowest = Math.min(...measured);
        if (fastest <= peak && slowest >= MIN_EFFICIENCY * peak) {
          out.matrix.efficiency = round(p.matrixTflops / peak);
          set('matrix.efficiency', `${round(p.matrixTflops)} TFLOP/s reached at the workload's M, of the stated ${peak} TFLOP/s ${dtype} peak`);
        } else {
          // Every rate must be a fraction of the peak a profile may state (1/1000 to 1): a rate above the
          // stated peak, or one below a thousandth of it (a reference BLAS), makes the fastest rate measured the peak.
          // A profile states a peak of at least 1 GFLOP/s: a machine slower than that keeps that peak.
          const newPeak = Math.max(MIN_PEAK_TFLOPS, round(fastest));
          out.matrix.peakTflops[dtype] = newPeak;
          out.matrix.efficiency = Math.min(1, Math.max(MIN_EFFICIENCY, round(p.matrixTflops / newPeak)));
          const why = fastest > peak ? `above the base's stated peak of ${peak} TFLOP/s` : `the base's stated ${peak} TFLOP/s is more than 1,000× the slowest rate measured (${round(slowest)} TFLOP/s), below the least efficiency a profile states`;
          const what = newPeak > fastest ? `the least peak a profile states (${MIN_PEAK_TFLOPS} TFLOP/s), above the fastest measured ${dtype} GEMM rate (${round(fastest)} TFLOP/s)` : `the fastest measured ${dtype} GEMM rate`;
          set(`matrix.peakTflops.${dtype}`, `${what}; ${why}`);
          set('matrix.efficiency', `${round(p.matrixTflops)} TFLOP/s reached at the workload's M, of the measured peak above`);
        }
        const reached = out.matrix.peakTflops[dtype]!;
        if (rates.length > 0) {
          out.matrix.efficiencyByShape = rates.map((r) => ({ m: r.m, k: r.k, n: r.n, efficiency: Math.min(1, Math.max(MIN_EFFICIENCY, round(r.tflops / reached))) }));
          rates.forEach((r, i) => {
            const at = `matrix.efficiencyByShape[${i}]`;
            set(`${at}.efficiency`, `the rate of the ${r.m} × ${r.k} × ${r.n} GEMM fitted alone, ${round(r.tflops)} TFLOP/s, of the peak`);
            for (const f of ['m', 'k', 'n']) set(`${at}.${f}`, 'the GEMM shape measured');
          });
        }
        break;
      }
      case 'bandwidthGBps': {
        if (p.bandwidthGBps <= tier.bandwidthGBps) {
          out.memory.efficiency = Math.max(1e-3, round(p.bandwidthGBps / tier.bandwidthGBps));
          set('memory.efficiency', `${round(p.bandwidthGBps)} GB/s reached, of the stated ${tier.bandwidthGBps} GB/s`);
        } else {
          // Data this small stays in caches that beat the stated memory: the measured bandwidth replaces it.
          tier.bandwidthGBps = round(p.bandwidthGBps);
          out.memory.efficiency = 1;
          set(`memory.tiers[${tierIndex}].bandwidthGBps`, `the bandwidth copies and kernels at the model's sizes reached, above the base's stated ${base.memory.tiers[tierIndex]!.bandwidthGBps} GB/s (at these sizes the data stays in caches)`);
          set('memory.efficiency', 'the measured bandwidth is the tier\'s above');
        }
        break;
      }
      case 'vectorGelems':
        out.vector.gelemsPerSec = round(p.vectorGelems);
        set('vector.gelemsPerSec', 'elementwise rate of the norm kernels and copies');
        break;
      case 'matrixStartNs':
        out.matrix.startLatencyNs = round(p.matrixStartNs);
        set('matrix.startLatencyNs', 'the cost of starting one linear (a 1×1×1 one measured, with the GEMMs)');
        break;
      case 'vectorStartNs':
        out.vector.startLatencyNs = round(p.vectorStartNs);
        set('vector.startLatencyNs', 'the cost of starting one elementwise kernel (a 1-element one measured, with the norms and copies)');
        break;
    }
  }
  if (run.prov.device === 'cpu') {
    out.computeUnits = run.prov.threads;
    prov.computeUnits = `measured: torch ran ${run.prov.threads} thread(s) on ${run.prov.deviceName} (${run.prov.date})`;
  }
  if (record) out.calibration = record;
  out.name = run.name;
  out.title = `${base.title}, calibrated on ${run.prov.deviceName}`;
  out.description = `${base.name} calibrated by deferred-norm calibrate on ${run.prov.deviceName} (${run.prov.device}, torch ${run.prov.torch}, ${dtype}, ${run.prov.threads} thread(s)), ${run.prov.date}. The fitted numbers are measured rates at the measured shapes; elsewhere they are extrapolated.`;
  const { $schema: _schema, ...rest } = { ...out, provenance: prov };
  return validateHardwareProfile(rest, `${run.name}.hardware.json`);
}
