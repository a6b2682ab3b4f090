/**
 * The messages between the extension host and the report's webview: a discriminated
 * union each way. Both sides validate what arrives, since a webview's messages are
 * only as trustworthy as the page (and a report's strings come from model files).
 * Pure: no vscode, no DOM.
 */
import type { HeldBackBlock } from '../core/measure/held-back';
import type { AttentionKernel, Dtype, NormKernel } from '../core/hardware/profile';
import { DTYPES } from '../core/hardware/profile';
import type { NumericsResult } from '../core/numerics/types';
import { WORKLOAD_LIMITS, type SoftmaxOffset } from '../core/terms';
import type { SweepPoint } from '../core/report/sweep';
import type { KindTimeline } from '../core/report/timeline';
import type { Report } from '../core/report/types';
import type { ValidationHeadline } from '../core/validate/validate';
import { DEFER_DEPTH_LIMITS, SOFTMAX_OFFSETS, TP_AUTO, type DeferDepthLimit, type WorkloadRequest } from '../core/workload';

/** A hardware profile the user can pick: a preset or a `*.hardware.json` in the workspace. */
export interface HardwareChoice {
  /** A preset name, or the file's URI for a workspace profile. */
  id: string;
  label: string;
  description: string;
  source: 'preset' | 'workspace';
}

/** The workload as the controls edit it: the core's request (tp may be 'auto'), with tiles left at its default. */
export type WorkloadInput = Omit<WorkloadRequest, 'tiles'>;

/**
 * The panel's kernel choices over the hardware profile's own (`kernels.attention`, `kernels.norm`):
 * null keeps what the profile says. Applied on the host with the core's applyOverrides, as `--set` does.
 */
export interface KernelOverrides {
  attention: AttentionKernel | null;
  norm: NormKernel | null;
}
export const ATTENTION_KERNELS: readonly AttentionKernel[] = ['flash', 'eager'];
export const NORM_KERNELS: readonly NormKernel[] = ['fused', 'eager'];
export const NO_KERNEL_OVERRIDES: KernelOverrides = Object.freeze({ attention: null, norm: null });

export type SweepAxis = 'seq' | 'context' | 'batch' | 'tp';
export const SWEEP_AXES: readonly SweepAxis[] = ['seq', 'context', 'batch', 'tp'];

/** Savings along one axis of the workload, the rest held at the panel's workload. */
export interface SweepView {
  axis: SweepAxis;
  hardware: string;
  points: SweepPoint[];
}

/** What the PyTorch patch would do with each site (the sites table's column), computed on the host. */
export interface PatchView {
  /** Null when the patch can be generated for this model; otherwise why not (its family is not supported). */
  refused: string | null;
  sites: { layerKind: string; site: string; applied: boolean; label: string; detail: string }[];
}

/**
 * Where a site comes from, for the sites table's link (computed from the model, not in the webview): the
 * host opens the modeling code's call of the site when a modeling_*.py beside the config has one, otherwise
 * the config's line for the first of `keys` the file holds.
 */
export interface SiteSource {
  layerKind: string;
  site: string;
  /** The config.json the model was read from (a model read from weights alone has no sources). */
  configPath: string;
  /** The config keys that set the site, in the order the core reads them: the norm's epsilon, or the attention heads for a Softmax. */
  keys: string[];
  /** The link's tooltip: what it opens. */
  title: string;
}

/** Everything the panel (or the stand-alone HTML export) renders. */
export interface PanelView {
  report: Report;
  timelines: KindTimeline[];
  hardwareChoices: HardwareChoice[];
  /** The id of the chosen hardware among hardwareChoices. */
  hardware: string;
  /** The workload the controls show (the report's, before the hardware resolved the dtype). */
  workload: WorkloadInput;
  /** The kernel choices the panel overrides (null: the profile's own), as applied to this report. */
  kernels: KernelOverrides;
  /** What the chosen hardware profile itself says, for the controls' "(profile)" option. */
  profileKernels: { attention: AttentionKernel; norm: NormKernel };
  sweep: SweepView | null;
  patch: PatchView;
  /** False in the HTML export: there is no extension to re-profile, so the controls are read-only. */
  interactive: boolean;
  /** Per site, where it comes from (absent in views from before the links; empty for a model read from weights). */
  siteSources?: SiteSource[];
  /** The latest measurements beside the model (.deferred-norm/measurements), beside the simulated blocks; absent: none. */
  measured?: MeasuredView;
  /** `deferred-norm validate`'s headline, where the extension could compute it (a checkout with the fixtures). */
  validation?: ValidationHeadline | null;
}

/** One measured norm → projection block beside the simulator's estimate of the same block (calibrate's held-back block). */
export type MeasuredBlockView = Pick<
  HeldBackBlock,
  'site' | 'consumers' | 'rows' | 'measuredStandardUs' | 'measuredDeferredUs' | 'simulatedStandardUs' | 'simulatedDeferredUs' | 'measuredSavingPct' | 'simulatedSavingPct' | 'resolved'
>;

/** Measured beside simulated, computed in the core from a measurements file: text only, never markup. */
export type MeasuredView =
  | {
      /** The file's name (not its folder). */
      file: string;
      device: string;
      date: string;
      torch: string;
      dtype: string;
      threads: number;
      /** Which time of each measured entry is shown: the median or the 10th percentile. */
      statistic: 'median' | 'p10';
      /** The profile the simulated column uses, with the harness's stack (eager norm, a kernel per op, no epilogue fusion). */
      hardware: string;
      blocks: MeasuredBlockView[];
      /** What the reader should know: a different M than the report's, a profile not calibrated on this device. */
      notes: string[];
    }
  | { file: string; error: string };

/** Extension → webview. */
export type HostMessage =
  | { type: 'view'; view: PanelView }
  | { type: 'numerics'; numerics: NumericsResult }
  /** The validation's headline, computed a moment after the first view: only the headline is drawn again. */
  | { type: 'validation'; validation: ValidationHeadline }
  | { type: 'sweep'; sweep: SweepView }
  | { type: 'busy'; label: string | null }
  | { type: 'error'; message: string }
  /** Scrolls the panel to a section, e.g. after Verify Numerics. */
  | { type: 'reveal'; section: PanelSection };

export type PanelSection = 'headline' | 'layers' | 'timeline' | 'sites' | 'numerics' | 'pseudocode' | 'controls' | 'sweep';
export const PANEL_SECTIONS: readonly PanelSection[] = ['headline', 'layers', 'timeline', 'sites', 'numerics', 'pseudocode', 'controls', 'sweep'];

/** Webview → extension. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'profile'; hardware: string; workload: WorkloadInput; kernels: KernelOverrides }
  | { type: 'sweep'; axis: SweepAxis }
  | { type: 'verify' }
  | { type: 'openDiff'; layerKind: string; site: string | null }
  | { type: 'export' }
  /** Export PyTorch Patch… for the panel's model, hardware, kernels and workload. */
  | { type: 'exportPytorchPatch' }
  /** The headline's validation link: open `deferred-norm validate`'s table (deferredNorm.showValidation). */
  | { type: 'showValidation' }
  /** A site row's link: open the modeling line or config key the site comes from. */
  | { type: 'openSiteSource'; layerKind: string; site: string }
  /** After each render: the headline's text as shown, so the host (and its tests) know what the user sees. */
  | { type: 'rendered'; headline: string };

/** What a panel keeps across window reloads (webview state), enough to profile again. */
export interface PanelState {
  modelPath: string;
  hardware: string;
  workload: WorkloadInput;
  kernels: KernelOverrides;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
const isShortString = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length <= max;

/** The limits match the core's validateWorkload; the core checks again before it simulates. */
export function parseWorkloadInput(v: unknown): WorkloadInput | null {
  if (!isRecord(v)) return null;
  const { phase, batch, seq, context, tp, dtype, softmaxOffset, deferDepth } = v;
  if (phase !== 'prefill' && phase !== 'decode') return null;
  if (!isCount(batch, WORKLOAD_LIMITS.batch) || !isCount(seq, WORKLOAD_LIMITS.seq) || !isCount(context, WORKLOAD_LIMITS.context) || !(tp === TP_AUTO || isCount(tp, WORKLOAD_LIMITS.tp))) return null;
  if (dtype !== null && !(typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype))) return null;
  if (typeof softmaxOffset !== 'string' || !(SOFTMAX_OFFSETS as readonly string[]).includes(softmaxOffset)) return null;
  // Panels saved before the depth existed restore with the default.
  const depth = deferDepth ?? 'deepest';
  if (typeof depth !== 'string' || !(DEFER_DEPTH_LIMITS as readonly string[]).includes(depth)) return null;
  return { phase, batch, seq, context, tp, dtype: dtype as Dtype | null, softmaxOffset: softmaxOffset as SoftmaxOffset, deferDepth: depth as DeferDepthLimit };
}

/**
 * Kernel overrides as sent: an object whose `attention` and `norm` are each a kernel the core
 * knows or null. Absent (undefined) means none; anything else is not kernel overrides (null).
 */
export function parseKernelOverrides(v: unknown): KernelOverrides | null {
  if (v === undefined) return { ...NO_KERNEL_OVERRIDES };
  if (!isRecord(v)) return null;
  const { attention, norm } = v;
  const pick = <T extends string>(x: unknown, allowed: readonly T[]): T | null | undefined => (x === null || x === undefined ? null : typeof x === 'string' && (allowed as readonly string[]).includes(x) ? (x as T) : undefined);
  const a = pick(attention, ATTENTION_KERNELS);
  const n = pick(norm, NORM_KERNELS);
  return a === undefined || n === undefined ? null : { attention: a, norm: n };
}

/** A message from the webview, or null when it is not one this protocol knows (the caller logs and drops it). */
export function parseWebviewMessage(v: unknown): WebviewMessage | null {
  if (!isRecord(v)) return null;
  switch (v['type']) {
    case 'ready':
    case 'verify':
    case 'export':
    case 'exportPytorchPatch':
    case 'showValidation':
      return { type: v['type'] };
    case 'profile': {
      const workload = parseWorkloadInput(v['workload']);
      const kernels = parseKernelOverrides(v['kernels']);
      const hardware = v['hardware'];
      return workload && kernels && isShortString(hardware) && hardware.length > 0 ? { type: 'profile', hardware, workload, kernels } : null;
    }
    case 'sweep': {
      const axis = v['axis'];
      return typeof axis === 'string' && (SWEEP_AXES as readonly string[]).includes(axis) ? { type: 'sweep', axis: axis as SweepAxis } : null;
    }
    case 'rendered':
      return isShortString(v['headline'], 65536) ? { type: 'rendered', headline: v['headline'] } : null;
    case 'openSiteSource': {
      const { layerKind, site } = v;
      return isShortString(layerKind, 256) && isShortString(site, 256) ? { type: 'openSiteSource', layerKind, site } : null;
    }
    case 'openDiff': {
      const { layerKind, site } = v;
      if (!isShortString(layerKind, 256) || !(site === null || isShortString(site, 256))) return null;
      return { type: 'openDiff', layerKind, site };
    }
    default:
      return null;
  }
}

/** A message from the extension, or null. The webview trusts its host, but checks the shape before it draws. */
export function parseHostMessage(v: unknown): HostMessage | null {
  if (!isRecord(v)) return null;
  switch (v['type']) {
    case 'view': {
      const view = v['view'];
      return isRecord(view) && isRecord(view['report']) && Array.isArray(view['timelines']) ? { type: 'view', view: view as unknown as PanelView } : null;
    }
    case 'numerics':
      return isRecord(v['numerics']) && Array.isArray(v['numerics']['entries']) ? { type: 'numerics', numerics: v['numerics'] as unknown as NumericsResult } : null;
    case 'validation': {
      const validation = v['validation'];
      return isRecord(validation) && typeof validation['points'] === 'number' && typeof validation['heldBack'] === 'number' && typeof validation['heldBackErrorPct'] === 'number'
        ? { type: 'validation', validation: validation as unknown as ValidationHeadline }
        : null;
    }
    case 'sweep': {
      const sweep = v['sweep'];
      return isRecord(sweep) && Array.isArray(sweep['points']) && typeof sweep['axis'] === 'string' ? { type: 'sweep', sweep: sweep as unknown as SweepView } : null;
    }
    case 'busy':
      return v['label'] === null || isShortString(v['label']) ? { type: 'busy', label: v['label'] as string | null } : null;
    case 'error':
      return isShortString(v['message'], 65536) ? { type: 'error', message: v['message'] } : null;
    case 'reveal': {
      const section = v['section'];
      return typeof section === 'string' && (PANEL_SECTIONS as readonly string[]).includes(section) ? { type: 'reveal', section: section as PanelSection } : null;
    }
    default:
      return null;
  }
}

/** The state a serialized panel was saved with, or null when it cannot be restored from it. */
export function parsePanelState(v: unknown): PanelState | null {
  if (!isRecord(v)) return null;
  const workload = parseWorkloadInput(v['workload']);
  const { modelPath, hardware } = v;
  if (!workload || !isShortString(modelPath) || modelPath.length === 0 || !isShortString(hardware) || hardware.length === 0) return null;
  // Saved before the panel had kernel controls, or by a version whose kernels this one does not know:
  // the panel comes back on the profile's own kernels rather than not at all.
  const kernels = parseKernelOverrides(v['kernels']) ?? { ...NO_KERNEL_OVERRIDES };
  return { modelPath, hardware, workload, kernels };
}
