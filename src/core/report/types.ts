import type { Engine } from '../graph/ops';
import type { Decision, DeferDepth, SiteKind } from '../terms';
import type { Dtype } from '../hardware/profile';
import type { NumericsResult } from '../numerics/types';
import type { TpRequest, Workload } from '../workload';

/** The JSON report (DESIGN.md §5). Every figure in it is a simulated estimate. */
export type { Decision };

export interface SiteResult {
  id: string;
  name: string;
  kind: SiteKind;
  decision: Decision;
  /** Why the site was deferred, kept, or is ineligible, with the numbers. */
  reason: string;
  /** Layer latency with this site kept and with it deferred, other sites as decided (µs). */
  keptUs: number;
  deferredUs: number;
  /** keptUs − deferredUs when deferred; 0 otherwise. */
  savedUs: number;
  /** The norm module's own name in the checkpoint (`input_layernorm`, `ln_f`); null for a Softmax site. */
  norm: string | null;
  consumers: string[];
  /** Where the deferred scale is applied (null when not deferred). */
  depth: DeferDepth | null;
  /** Layer latency with the site deferred at each depth it allows, the other sites as decided (µs). */
  depthUs: { depth: DeferDepth; us: number }[];
  /** Why the scale cannot be deferred deeper than the deepest of depthUs (null for Softmax sites). */
  depthLimit: string | null;
}

export interface LayerKindResult {
  id: string;
  label: string;
  /** Indices of the layers of this kind (the head is index = number of layers). */
  layers: number[];
  baselineUs: number;
  deferredUs: number;
  savedUs: number;
  savedPct: number;
  /** Latency that statistic collectives add to the critical path, before and after deferral (µs). */
  exposedCollectiveBaselineUs: number;
  exposedCollectiveDeferredUs: number;
  /** Busy time per engine in one layer, baseline and deferred (µs). */
  busyUs: { baseline: Record<Engine, number>; deferred: Record<Engine, number> };
  sites: SiteResult[];
}

/**
 * A run of consecutive layers of one kind, which have the same figures: layers index … index + count − 1.
 * (Before `count`, each layer had its own entry; a reader that ignores it sees each run's first layer.)
 */
export interface LayerResult {
  index: number;
  count: number;
  kind: string;
  baselineUs: number;
  deferredUs: number;
  savedUs: number;
  sites: { name: string; kind: SiteKind; decision: Decision; reason: string; savedUs: number }[];
}

export interface Totals {
  baselineUs: number;
  deferredUs: number;
  savedUs: number;
  savedPct: number;
  /** Share of baseline latency spent waiting on statistic collectives (%). */
  collectiveShareBaselinePct: number;
  /** Share of that waiting which deferral removes from the critical path (%). */
  hiddenCollectivePct: number;
  exposedCollectiveBaselineUs: number;
  exposedCollectiveDeferredUs: number;
}

export interface PseudocodeSite {
  /** The site's id within its layer kind. */
  site: string;
  /** The site's readable name, as in `layerKinds[].sites[].name`. */
  name: string;
  decision: Decision;
  layerKind: string;
  before: string;
  after: string;
}

/** A whole layer as code, in the simulated order of its ops. */
export interface PseudocodeBlock {
  layerKind: string;
  baseline: string;
  deferred: string;
}

export interface Report {
  schema: 'deferred-norm-report/1';
  /** The one sentence every view shows beside the figures. */
  estimate: string;
  model: {
    name: string;
    family: string;
    modelType: string;
    architecture: string | null;
    source: string;
    layers: number;
    hidden: number;
    vocab: number;
    params: { total: number; active: number };
    notes: string[];
  };
  hardware: {
    name: string;
    title: string;
    description: string;
    /** Provenance of every number, by its path. */
    provenance: Record<string, string>;
    sources: { id: string; citation: string }[];
  };
  /**
   * The workload simulated: `tp` the degree used, `tpRequested` what was asked for ('auto' or that
   * degree), `tpChosen` how an 'auto' degree was resolved (docs/json-report.md).
   */
  workload: Workload & { dtype: Dtype; tpRequested: TpRequest };
  /** What the simulation assumes, in plain sentences. */
  assumptions: string[];
  layerKinds: LayerKindResult[];
  layers: LayerResult[];
  totals: Totals;
  numerics: NumericsResult | null;
  pseudocode: PseudocodeSite[] | null;
  pseudocodeBlocks: PseudocodeBlock[] | null;
  /** Memory per device against the machine's capacity: a warning when it does not fit. */
  memory: MemoryReport;
  /** TTFT, TPOT and tokens/s, baseline and deferred. */
  endToEnd: EndToEnd;
  /** totals.savedUs in parts that add up to it. */
  savingParts: SavingParts;
}

/** One memory tier of one device: what it holds of the workload, and whether that fits (bytes). */
export interface MemoryTierUse {
  tier: string;
  holds: ('weights' | 'kv' | 'activations')[];
  usedBytes: number;
  capacityBytes: number;
  fits: boolean;
}

/** What each device holds under tensor parallelism, against its memory tiers' capacity (report/memory.ts). */
export interface MemoryReport {
  perDevice: { weightBytes: number; kvBytes: number; activationBytes: number; totalBytes: number };
  tiers: MemoryTierUse[];
  /** Every tier holds what it must. */
  fits: boolean;
  /** The smallest tensor-parallel degree the model's heads allow at which everything fits (null: none up to the limit). */
  minimumTp: number | null;
  /** Plain sentences: what does not fit and what would; a context past the model's positions. */
  warnings: string[];
}

/** One whole-model pass, baseline and deferred (µs). */
export interface PassTime {
  baselineUs: number;
  deferredUs: number;
}

/**
 * What serving people read first (report/end-to-end.ts): time to first token = one prefill pass of the
 * prompt at the batch; time per output token = one decode step at the context; tokens/s = batch / TPOT.
 * Null where the model has no such pass (an encoder has no decode step) or the pass is over the limits.
 */
export interface EndToEnd {
  ttft: PassTime | null;
  tpot: PassTime | null;
  tokensPerSecond: { baseline: number; deferred: number } | null;
  /** Why a figure is null (empty when none is). */
  notes: string[];
}

/**
 * The whole-model saving split into parts that add up to it (report/saving.ts), each baseline − deferred of
 * a re-scheduled pass (µs): collective = exposed statistic-gather time removed (schedules with the gathers
 * free are the reference); starts = kernel launch/start cost removed (schedules with start costs zero as
 * well); work = the rest (vector passes and memory traffic the rewrite removes or moves off the critical path).
 */
export interface SavingParts {
  collectiveUs: number;
  startsUs: number;
  workUs: number;
}
