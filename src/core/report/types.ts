import type { Engine } from '../graph/ops';
import type { DeferDepth, SiteKind } from '../graph/sites';
import type { Dtype } from '../hardware/profile';
import type { NumericsResult } from '../numerics/types';
import type { Workload } from '../workload';

/** The JSON report (DESIGN.md §5). Every figure in it is a simulated estimate. */
export type Decision = 'defer' | 'keep' | 'ineligible';

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
  workload: Workload & { dtype: Dtype };
  /** What the simulation assumes, in plain sentences. */
  assumptions: string[];
  layerKinds: LayerKindResult[];
  layers: LayerResult[];
  totals: Totals;
  numerics: NumericsResult | null;
  pseudocode: PseudocodeSite[] | null;
  pseudocodeBlocks: PseudocodeBlock[] | null;
}
