/**
 * What the panel and the HTML export show, built from the core: the report, one
 * layer's schedules per kind, and the sweep. Pure: the extension and the CLI both
 * call it, so the panel and the export can never disagree.
 */
import type { ValidationHeadline } from '../core/validate/validate';
import { blockListings, pseudocodeFor } from '../core/codegen';
import { patchFamily, patchStatus, type PatchFamily } from '../core/codegen/pytorch';
import { InputError } from '../core/errors';
import { applyOverrides } from '../core/hardware/overrides';
import type { HardwareProfile } from '../core/hardware/profile';
import type { ModelSpec } from '../core/model/spec';
import type { Report } from '../core/report/types';
import type { NumericsResult } from '../core/numerics/types';
import { reportOf, shownSpec } from '../core/report/profile';
import { runSweep, type SweepGrid } from '../core/report/sweep';
import { timelinesOf } from '../core/report/timeline';
import { simulate } from '../core/sim/simulate';
import { checkWorkloadForModel, DEFAULT_WORKLOAD, validateWorkload, type Workload, type WorkloadRequest } from '../core/workload';
import { resolveWorkload, tpRequested } from '../core/report/tensor-parallel';
import { KEYS } from '../core/model/families/common';
import { DEFAULT_STATISTIC, HARNESS_STACK } from '../core/measure/fit-points';
import { heldBackBlocks } from '../core/measure/held-back';
import { workloadRows } from '../core/measure/extrapolation';
import type { Measurements } from '../core/measure/types';
import { NO_KERNEL_OVERRIDES, type HardwareChoice, type KernelOverrides, type MeasuredView, type PanelView, type PatchView, type SiteSource, type SweepAxis, type SweepView, type WorkloadInput } from './protocol';

/** The newest measurements file beside a model, read and checked, or the one-line reason it could not be. */
export type LatestMeasurements = { file: string; measurements: Measurements } | { file: string; error: string };

/** The controls' workload as the core's request, checked (its tensor-parallel degree may still be 'auto'). */
export function workloadOf(input: WorkloadInput, source = 'workload'): WorkloadRequest {
  return validateWorkload({ ...input, tiles: DEFAULT_WORKLOAD.tiles }, source);
}

/** The controls' workload for this model on this machine: checked, with a tensor-parallel degree 'auto' resolved. */
export function workloadFor(spec: ModelSpec, hw: HardwareProfile, input: WorkloadInput, source = 'workload'): Workload {
  return resolveWorkload(spec, hw, workloadOf(input, source));
}

/** A simulated workload as the controls show it: an 'auto' degree stays 'auto'. */
export function inputOf(w: Workload): WorkloadInput {
  return { phase: w.phase, batch: w.batch, seq: w.seq, context: w.context, tp: tpRequested(w), dtype: w.dtype, softmaxOffset: w.softmaxOffset, deferDepth: w.deferDepth };
}

/** The overrides that change something on this profile (one equal to the profile's own choice is none). */
export function effectiveKernels(hw: HardwareProfile, kernels: KernelOverrides): KernelOverrides {
  return {
    attention: kernels.attention !== null && kernels.attention !== hw.kernels.attention ? kernels.attention : null,
    norm: kernels.norm !== null && kernels.norm !== hw.kernels.norm ? kernels.norm : null,
  };
}

/**
 * The profile with the panel's kernel choices applied through the core's `--set` path
 * (applyOverrides: the same checks, a new profile, the input untouched); the provenance of
 * each changed field says where the choice was made and what the profile said.
 */
export function withKernelOverrides(hw: HardwareProfile, kernels: KernelOverrides, where = "the report panel's controls"): HardwareProfile {
  const k = effectiveKernels(hw, kernels);
  const sets = (['attention', 'norm'] as const).filter((f) => k[f] !== null).map((f) => `kernels.${f}=${k[f]}`);
  if (sets.length === 0) return hw;
  const out = applyOverrides(hw, sets);
  const provenance = { ...out.provenance };
  for (const f of ['attention', 'norm'] as const) {
    if (k[f] !== null) provenance[`kernels.${f}`] = `set in ${where} (the "${hw.name}" profile says ${hw.kernels[f]})`;
  }
  return { ...out, provenance };
}

export interface PanelViewOptions {
  hardware: string;
  hardwareChoices: HardwareChoice[];
  interactive: boolean;
  /** The numerics check depends on the model only; the caller computes it once and may pass it later. */
  numerics: NumericsResult | null;
  sweep: SweepView | null;
  /** Kernel choices over the profile's own, applied here (none when absent). */
  kernels?: KernelOverrides;
  /** The latest measurements beside the model, as read by readLatestMeasurements (none when absent). */
  measurements?: LatestMeasurements | null;
  /** The validation's headline, computed once by the caller (validationHeadline). */
  validation?: ValidationHeadline | null;
}

/** Simulates and assembles the panel's data: figures, timelines and pseudo-code (numerics as given). */
export function buildPanelView(spec: ModelSpec, profileHw: HardwareProfile, input: WorkloadInput, options: PanelViewOptions): PanelView {
  const kernels = effectiveKernels(profileHw, options.kernels ?? NO_KERNEL_OVERRIDES);
  const hw = withKernelOverrides(profileHw, kernels);
  const workload = workloadFor(spec, hw, input);
  // Refuses a TP degree the model's heads cannot be split into; notes KV-head replication.
  const { notes } = checkWorkloadForModel(spec, workload);
  // Names as shown, in the simulation's layer kinds and the code's comments; the report notes their length.
  const shown = shownSpec(spec);
  const simulation = simulate(shown, hw, workload);
  const report = reportOf(spec, hw, workload, simulation);
  report.model.notes = [...report.model.notes, ...notes];
  report.numerics = options.numerics;
  report.pseudocode = pseudocodeFor(shown, simulation, report);
  report.pseudocodeBlocks = blockListings(shown, simulation);
  return {
    report,
    timelines: timelinesOf(simulation),
    hardwareChoices: options.hardwareChoices,
    hardware: options.hardware,
    workload: input,
    kernels,
    profileKernels: { attention: profileHw.kernels.attention, norm: profileHw.kernels.norm },
    sweep: options.sweep,
    patch: patchView(report),
    interactive: options.interactive,
    siteSources: siteSources(spec, report),
    ...(options.measurements ? { measured: measuredView(spec, profileHw, workload, options.measurements) } : {}),
    validation: options.validation ?? null,
  };
}

/**
 * The measured standard and deferred blocks beside the simulator's estimate of each on the chosen
 * profile, under the stack the harness ran (calibrate's held-back comparison, on the panel's profile).
 * A file that does not fit the model (another model's blocks) is said in one line, not thrown.
 */
export function measuredView(spec: ModelSpec, hw: HardwareProfile, workload: Workload, latest: LatestMeasurements): MeasuredView {
  const name = latest.file.split(/[\\/]/).pop() ?? latest.file;
  if ('error' in latest) return { file: name, error: latest.error };
  const m = latest.measurements;
  const p = m.provenance;
  let blocks;
  try {
    blocks = heldBackBlocks({ file: name, measurements: m, spec }, applyOverrides(hw, [...HARNESS_STACK]), DEFAULT_STATISTIC);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return { file: name, error: err.message };
  }
  const notes: string[] = [];
  const rows = workloadRows(workload);
  if (rows !== m.workload.m) notes.push(`Measured at M = ${m.workload.m} (${m.workload.phase}, batch ${m.workload.batch}); the report above is at M = ${rows}: the blocks here are simulated at the measured M.`);
  if (!hw.calibration || hw.calibration.device !== p.deviceName) notes.push(`The "${hw.name}" profile was not calibrated on ${p.deviceName}: run Calibrate a Hardware Profile on this measurement and choose that profile to compare like with like.`);
  if (blocks.length === 0) notes.push('The file has no norm → projection blocks (the model has no deferrable RMSNorm site).');
  return {
    file: name,
    device: p.deviceName,
    date: p.date,
    torch: p.torch,
    dtype: p.dtype,
    threads: p.threads,
    statistic: DEFAULT_STATISTIC,
    hardware: hw.name,
    // The file's path and the ratios stay here; the panel shows the rest.
    blocks: blocks.map(({ file: _file, standardRatio: _s, deferredRatio: _d, signRight: _r, ...shown }) => shown),
    notes,
  };
}

/** The config file a spec was read from, or null when it came from weights (a GGUF or safetensors header). */
function configFileOf(spec: ModelSpec): string | null {
  const { path, format } = spec.source;
  if (format === 'config.json') return path;
  if (format === 'directory') return `${path.replace(/[\\/]+$/, '')}/config.json`;
  return null;
}

/** Per site of the report, the config keys it comes from (the links of the sites table). */
export function siteSources(spec: ModelSpec, report: Report): SiteSource[] {
  const configPath = configFileOf(spec);
  if (configPath === null) return [];
  const file = configPath.split(/[\\/]/).pop() ?? configPath;
  return report.layerKinds.flatMap((k) =>
    k.sites.map((s): SiteSource => {
      const keys = [...(s.kind === 'softmax' ? KEYS.heads : KEYS.eps)];
      const module = s.norm === null ? 'the softmax' : `${s.norm}(…)`;
      return { layerKind: k.id, site: s.id, configPath, keys, title: `Go to the modeling code's call of ${module} beside the config, or ${file}'s ${s.kind === 'softmax' ? 'attention heads' : 'norm epsilon'} (${keys.join(', ')})` };
    }),
  );
}

/** Per site, whether the PyTorch patch applies it; every site skipped, with the refusal, for a family it does not support. */
export function patchView(report: Report): PatchView {
  let refused: string | null = null;
  let family: PatchFamily | null = null;
  try {
    family = patchFamily(report);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    refused = err.message;
  }
  const unsupported = `skipped: the PyTorch patch does not support the ${JSON.stringify(report.model.family)} family`;
  return {
    refused,
    sites: report.layerKinds.flatMap((k) =>
      k.sites.map((s) => ({ layerKind: k.id, site: s.id, ...(family !== null ? patchStatus(s, family) : { applied: false, label: unsupported, detail: unsupported }) })),
    ),
  };
}

const POWERS = (from: number, to: number): number[] => {
  const out: number[] = [];
  for (let v = from; v <= to; v *= 2) out.push(v);
  return out;
};

/** The values a sweep visits along an axis: powers of two over the range people serve at. */
export function sweepValues(spec: ModelSpec, axis: SweepAxis): number[] {
  switch (axis) {
    case 'seq':
      return POWERS(128, 32768);
    case 'context':
      return POWERS(256, 131072);
    case 'batch':
      return POWERS(1, 256);
    case 'tp':
      // Only degrees the core accepts for this model's heads and KV heads.
      return POWERS(1, 64).filter((tp) => {
        try {
          checkWorkloadForModel(spec, { ...DEFAULT_WORKLOAD, tp });
          return true;
        } catch {
          return false;
        }
      });
  }
}

/** Savings along one axis, every other workload value (and kernel choice) as given. */
export function buildSweepView(spec: ModelSpec, profileHw: HardwareProfile, hardware: string, input: WorkloadInput, axis: SweepAxis, kernels: KernelOverrides = NO_KERNEL_OVERRIDES): SweepView {
  const hw = withKernelOverrides(profileHw, kernels);
  const base = workloadFor(spec, hw, input);
  const values = sweepValues(spec, axis);
  const grid: SweepGrid = { seq: [base.seq], batch: [base.batch], context: [base.context], tp: [base.tp], ranges: [] };
  grid[axis] = values;
  return { axis, hardware, points: runSweep(spec, hw, base, grid) };
}
