import { buildHeadGraph, buildLayerGraph, buildSiteGraph, type DeferChoice, type GraphContext } from '../graph/layer';
import { ENGINES, type Engine, type LayerGraph } from '../graph/ops';
import { headSites, sitesOfKind, type Site } from '../graph/sites';
import type { Decision, DeferDepth } from '../terms';
import { DTYPE_BYTES, type Dtype, type HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { InputError } from '../errors';
import type { Workload } from '../workload';
import { opTimes, type CostContext, type OpTimes } from './costs';
import { engineIndexOf, schedule, type Timeline } from './scheduler';
import { freeMakespanAt, freeMakespanOf, makespanAt, runOf, timerOf, type GraphTimer } from './timing';

/** One schedule of one layer graph. */
export interface Run {
  graph: LayerGraph;
  timeline: Timeline;
  times: OpTimes;
}

export interface SiteDecision {
  site: Site;
  decision: Decision;
  /** Where the deferred scale is applied, when deferred. */
  depth: DeferDepth | null;
  /** Layer makespan with the site kept / deferred at its best depth, the other sites as decided (ns). */
  keptNs: number;
  deferredNs: number;
  /** Layer makespan with the site deferred at each depth it allows, the other sites as decided (ns). */
  depthNs: { depth: DeferDepth; ns: number }[];
}

export interface KindSimulation {
  id: string;
  label: string;
  layers: number[];
  /** The full schedules (in a sweep, computed when first read: a sweep reads only the makespans below). */
  baseline: Run;
  deferred: Run;
  /** Makespans of baseline and deferred (ns). */
  baselineNs: number;
  deferredNs: number;
  /** Makespans with statistic collectives made free, to measure how much of them is exposed. */
  baselineFreeNs: number;
  deferredFreeNs: number;
  sites: SiteDecision[];
}

export interface Simulation {
  dtype: Dtype;
  kinds: KindSimulation[];
}

/** Resolves the dtype and checks the machine can run it. */
export function resolveDtype(hw: HardwareProfile, workload: Workload): Dtype {
  const dtype = workload.dtype ?? hw.defaultDtype;
  if (!(hw.matrix.peakTflops[dtype] ?? 0)) {
    const known = Object.keys(hw.matrix.peakTflops).join(', ');
    throw new InputError('--dtype', 'dtype', `a dtype the hardware profile "${hw.name}" has a matrix rate for (${known})`, dtype);
  }
  return dtype;
}

export function graphContext(hw: HardwareProfile, workload: Workload, dtype: Dtype): GraphContext {
  const weightBytes = DTYPE_BYTES[dtype];
  return {
    phase: workload.phase,
    batch: workload.batch,
    seq: workload.seq,
    context: workload.context,
    tp: workload.tp,
    weightBytes,
    // Activations and the KV cache stay in 16 bits when weights are narrower.
    activationBytes: Math.max(2, weightBytes),
    tiles: workload.tiles,
    softmaxOffset: workload.softmaxOffset,
    weightsResident: hw.matrix.weightsResident,
    prefetch: hw.memory.prefetch,
    fusedEpilogue: hw.matrix.fusedEpilogue,
    computeUnits: hw.computeUnits,
    attention: hw.kernels.attention,
    norm: hw.kernels.norm,
    eagerNormMultiply: hw.kernels.eagerNormMultiply,
    deferredStatistic: hw.kernels.deferredStatistic,
  };
}

/**
 * Simulates every layer kind (and the head) baseline and deferred, deciding each
 * eligible site by cost: start from all deferred, keep any site whose deferral
 * makes the layer slower, and fall back to the baseline if the result is worse.
 */
export interface SimulateOptions {
  /**
   * Graphs already built for this model and workload, reused across machines: a graph
   * depends on the hardware only through the structural fields of GraphContext. With them go
   * their op times and makespans (timing.ts): a machine that changes none of a graph's times
   * does not schedule it again.
   */
  graphs?: Map<string, Map<string, LayerGraph>>;
  /**
   * Only the makespans (the totals) will be read, not the runs or the sites' figures: the trials that
   * the search rejects may then stop their schedules early. The rest can still be read, at the cost of
   * scheduling those trials again. (A sweep, with graphs, always stops early.)
   */
  totalsOnly?: boolean;
}

export function simulate(spec: ModelSpec, hw: HardwareProfile, workload: Workload, options: SimulateOptions = {}): Simulation {
  if (spec.topology === 'encoder' && workload.phase === 'decode') {
    throw new InputError(spec.source.path, 'phase', 'prefill: an encoder-only model has no decode step');
  }
  const dtype = resolveDtype(hw, workload);
  const ctx = graphContext(hw, workload, dtype);
  const cache = options.graphs ? graphsFor(options.graphs, ctx) : undefined;
  // A kind's graph for each choice of its sites: from the cache where there is one (built on a miss only).
  const graphsOf = (key: string, build: Builder): GraphOf => {
    if (!cache) return (space, choice) => build(ctx, (siteId) => space.depthOf(choice, siteId));
    const graphs = cache;
    let byChoice = choiceIndex(graphs).get(key);
    if (!byChoice) choiceIndex(graphs).set(key, (byChoice = new Map()));
    const index = byChoice;
    return (space, choice) => {
      let g = index.get(choice);
      if (g) return g;
      const k = `${key}|${choice}`;
      g = graphs.get(k);
      if (!g) graphs.set(k, (g = build(ctx, (siteId) => space.depthOf(choice, siteId))));
      index.set(choice, g);
      return g;
    };
  };
  // One cost context for every kind: the machine's rates are then worked out once (costs.ts).
  const cost: CostContext = { hw, dtype, tp: ctx.tp, phase: ctx.phase };
  const timing: Timing = cache ? 'timers' : options.totalsOnly ? 'stop-early' : 'full';
  const kinds: KindSimulation[] = spec.layerKinds.map((kind, i) =>
    simulateKind(kind.id, kind.label, kind.layers, sitesOfKind(kind, hw.kernels.attention, spec.positions, workload.deferDepth), graphsOf(`kind${i}`, (c, d) => buildLayerGraph(spec, kind, c, d)), cost, timing),
  );
  const head = headOf(spec);
  if (head.sites.length > 0) {
    kinds.push(simulateKind('head', head.label, head.layers, head.sites, graphsOf('head', (c, d) => buildHeadGraph(spec, c, d)!), cost, timing));
  }
  return { dtype, kinds };
}

/**
 * The graphs of one graph context in a cache (SimulateOptions.graphs): one inner map per context, by
 * the context written out. The context last looked up in a cache is kept with its map, so that the
 * next machine of a sweep, whose context has the same value in every field, finds it without writing
 * the context out again.
 */
const lastLookup = new WeakMap<Map<string, Map<string, LayerGraph>>, { ctx: GraphContext; graphs: Map<string, LayerGraph> }>();

function graphsFor(all: Map<string, Map<string, LayerGraph>>, ctx: GraphContext): Map<string, LayerGraph> {
  const last = lastLookup.get(all);
  if (last && sameContext(last.ctx, ctx)) return last.graphs;
  const key = JSON.stringify(ctx);
  let graphs = all.get(key);
  if (!graphs) all.set(key, (graphs = new Map()));
  lastLookup.set(all, { ctx, graphs });
  return graphs;
}

/** Same value in every field (a NaN never matches, so its context is written out). Both are made by graphContext, with the same fields. */
function sameContext(a: GraphContext, b: GraphContext): boolean {
  for (const k in a) if (a[k as keyof GraphContext] !== b[k as keyof GraphContext]) return false;
  return true;
}

// The graphs of an inner map by kind and choice number: the same graphs as under its `kind|choice`
// keys, found without making the key.
const choiceIndexes = new WeakMap<Map<string, LayerGraph>, Map<string, Map<number, LayerGraph>>>();

function choiceIndex(graphs: Map<string, LayerGraph>): Map<string, Map<number, LayerGraph>> {
  let index = choiceIndexes.get(graphs);
  if (!index) choiceIndexes.set(graphs, (index = new Map()));
  return index;
}

// The head's sites, label and index depend on the model only: worked out once per model, shared (never changed).
const headMemo = new WeakMap<ModelSpec, { sites: Site[]; label: string; layers: number[] }>();

function headOf(spec: ModelSpec): { sites: Site[]; label: string; layers: number[] } {
  let head = headMemo.get(spec);
  if (!head) {
    const sites = headSites(spec);
    head = { sites, label: sites.length > 0 ? `${spec.finalNorm!.name} → ${spec.lmHead!.name}` : '', layers: sites.length > 0 ? [headIndex(spec)] : [] };
    headMemo.set(spec, head);
  }
  return head;
}

/** Builds one graph, deferring each site as `defer` says. */
type Builder = (ctx: GraphContext, defer: DeferChoice) => LayerGraph;

/** The graph of one choice of a kind's sites (ChoiceSpace). */
type GraphOf = (space: ChoiceSpace, choice: number) => LayerGraph;

/**
 * The choices of one layer kind's sites. A choice gives each eligible site an option: 0 keeps it,
 * d + 1 defers it at depths[d]. It is held as a number whose base-8 digits are the options (a site
 * has at most five; exact up to 17 sites), so that the search makes no arrays; the same choice has
 * the same number whichever depths the sites allow. Worked out once per list of sites.
 */
class ChoiceSpace {
  readonly eligible: Site[];
  readonly index: Map<string, number>;
  private readonly place: number[];
  /** Every eligible site deferred at the linear layer, and as deep as it goes. */
  readonly allLinear: number;
  readonly allDeepest: number;
  /** The choices the search starts from after none: all at the linear layer, then all as deep as they go. */
  readonly starts: readonly number[];

  constructor(sites: Site[]) {
    this.eligible = sites.filter((s) => s.ineligible === null && s.depths.length > 0);
    this.index = new Map(this.eligible.map((s, b) => [s.id, b]));
    this.place = this.eligible.map((_, b) => 8 ** b);
    this.allLinear = this.eligible.reduce((choice, _, b) => this.withOption(choice, b, 1), 0);
    this.allDeepest = this.eligible.reduce((choice, s, b) => this.withOption(choice, b, s.depths.length), 0);
    this.starts = [this.allLinear, this.allDeepest];
  }

  optionOf(choice: number, b: number): number {
    return Math.floor(choice / this.place[b]!) % 8;
  }

  withOption(choice: number, b: number, option: number): number {
    return choice + (option - this.optionOf(choice, b)) * this.place[b]!;
  }

  /** Where a choice applies the scale of each site (null: kept or not eligible). */
  depthOf(choice: number, siteId: string): DeferDepth | null {
    const b = this.index.get(siteId);
    const option = b === undefined ? 0 : this.optionOf(choice, b);
    return option === 0 ? null : this.eligible[b!]!.depths[option - 1]!;
  }
}

const spaces = new WeakMap<Site[], ChoiceSpace>();

function choiceSpace(sites: Site[]): ChoiceSpace {
  let space = spaces.get(sites);
  if (!space) spaces.set(sites, (space = new ChoiceSpace(sites)));
  return space;
}

/**
 * How a simulation times its trials. 'full': each trial's whole schedule, kept (a profile reads the
 * makespans of the trials next to the one chosen, and the runs of the baseline and the choice).
 * 'stop-early': a trial the search rejects stops its schedule as soon as it is sure to be slower, in
 * buffers reused from trial to trial (only the totals are read). 'timers': as 'stop-early', through the graphs' timers (timing.ts), which keep each graph's op
 * times and makespans from one machine of a sweep to the next.
 */
type Timing = 'full' | 'stop-early' | 'timers';

interface Trial {
  graph: LayerGraph;
  ns: number | null;
  timer: GraphTimer | null;
  /** Its full run, where kept (keepRun). */
  run: Run | null;
}

/**
 * Each choice's graph and makespan on one machine, found once per simulation. Timed in full, each
 * keeps its run; otherwise only makespans are kept, and the two runs a report reads are scheduled in
 * full if ever read. Methods rather than closures
 * made per call: the search runs once per kind and point of a sweep.
 */
class Trials {
  /** Each choice's graph, its makespan once known (null: not yet) and, with timers, its timer. */
  private readonly memo = new Map<number, Trial>();

  constructor(
    private readonly space: ChoiceSpace,
    private readonly graphOf: GraphOf,
    private readonly cost: CostContext,
    private readonly timing: Timing,
  ) {}

  private entry(choice: number): Trial {
    let r = this.memo.get(choice);
    if (r === undefined) {
      const graph = this.graphOf(this.space, choice);
      this.memo.set(choice, (r = { graph, ns: null, timer: this.timing === 'timers' ? timerOf(graph) : null, run: null }));
    }
    return r;
  }

  makespan(choice: number): number {
    const r = this.entry(choice);
    // In full, each trial keeps its run: the report reads the chosen one's, which is then not scheduled again.
    if (this.timing === 'full') this.keepRun(choice);
    return (r.ns ??= r.timer ? r.timer.makespan(this.cost) : makespanAt(r.graph, this.cost));
  }

  /**
   * The makespan of a choice if it is below `limit`, else +∞: all the search needs to know of a trial
   * (it moves only to a faster choice). Unless timed in full, the schedule stops as soon as it is sure
   * to be slower (timing.ts), so that trials that lose cost less.
   */
  makespanBelow(choice: number, limit: number): number {
    const r = this.entry(choice);
    if (r.ns === null) {
      if (this.timing === 'full') return this.makespan(choice) < limit ? r.ns! : Infinity;
      const ns = r.timer ? r.timer.makespanBelow(this.cost, limit) : makespanAt(r.graph, this.cost, limit);
      if (ns === Infinity) return ns;
      r.ns = ns;
    }
    return r.ns < limit ? r.ns : Infinity;
  }

  /** The makespan with every statistic gather made free. */
  freeMakespan(choice: number): number {
    const { graph, timer, run } = this.entry(choice);
    if (timer) return timer.freeMakespan(this.cost);
    // A kept run has the op times already.
    return run ? freeMakespanOf(graph, run.times) : freeMakespanAt(graph, this.cost);
  }

  /** Schedules a choice in full and keeps its run (once). */
  keepRun(choice: number): void {
    const r = this.entry(choice);
    r.run ??= runOf(r.graph, this.cost);
    r.ns ??= r.run.timeline.makespanNs;
  }

  /** The full run of a choice, kept or computed on first call (holding only its graph, not the trials). */
  runOf(choice: number): () => Run {
    const { graph, run } = this.entry(choice);
    if (run) return () => run;
    const cost = this.cost;
    return once(() => runOf(graph, cost));
  }
}

function simulateKind(
  id: string,
  label: string,
  layers: number[],
  sites: Site[],
  graphOf: GraphOf,
  cost: CostContext,
  timing: Timing,
): KindSimulation {
  const space = choiceSpace(sites);
  const { eligible, index } = space;
  const trials = new Trials(space, graphOf, cost, timing);

  // Local search: start from the best of "none", "all at the linear layer" and "all as deep as they
  // go", then move any one site to any other option that makes the layer faster, until none does.
  // Every decision is then right given the others, and the result is never slower than the baseline.
  const none = 0;
  let chosen = none;
  let current = trials.makespan(none);
  for (let s = 0; s < space.starts.length; s++) {
    const t = trials.makespanBelow(space.starts[s]!, current);
    if (t < current) {
      chosen = space.starts[s]!;
      current = t;
    }
  }
  for (let improved = true, rounds = 0; improved && rounds < 4 * eligible.length + 4; rounds++) {
    improved = false;
    for (let b = 0; b < eligible.length; b++) {
      for (let option = 0; option <= eligible[b]!.depths.length; option++) {
        if (option === space.optionOf(chosen, b)) continue;
        const trial = space.withOption(chosen, b, option);
        const t = trials.makespanBelow(trial, current);
        if (t < current) {
          chosen = trial;
          current = t;
          improved = true;
        }
      }
    }
  }

  // Worked out when first read (a sweep never reads them): unless timed in full, the search may have
  // stopped the schedules of the trials that lost, whose makespans these state.
  const decisions = once((): SiteDecision[] =>
    sites.map((site) => {
      const b = index.get(site.id);
      if (b === undefined) return { site, decision: 'ineligible', depth: null, keptNs: current, deferredNs: current, depthNs: [] };
      const depthNs = site.depths.map((depth, d) => ({ depth, ns: trials.makespan(space.withOption(chosen, b, d + 1)) }));
      const option = space.optionOf(chosen, b);
      const best = option > 0 ? depthNs[option - 1]! : depthNs.reduce((x, y) => (y.ns < x.ns ? y : x));
      return { site, decision: option > 0 ? 'defer' : 'keep', depth: option > 0 ? site.depths[option - 1]! : null, keptNs: trials.makespan(space.withOption(chosen, b, 0)), deferredNs: best.ns, depthNs };
    }),
  );

  // The same schedules with every statistic gather made free: the reference for the exposed collective time.
  const baselineFreeNs = trials.freeMakespan(none);
  const same = chosen === none;
  const baseline = trials.runOf(none);
  const deferred = same ? baseline : trials.runOf(chosen);
  return {
    id,
    label,
    layers,
    get baseline() {
      return baseline();
    },
    get deferred() {
      return deferred();
    },
    baselineNs: trials.makespan(none),
    deferredNs: trials.makespan(chosen),
    baselineFreeNs,
    deferredFreeNs: same ? baselineFreeNs : trials.freeMakespan(chosen),
    get sites() {
      return decisions();
    },
  };
}

/**
 * The head's index: one past the model's last layer. Layers are numbered across the whole model, so
 * that is the profiled count, unless layers were left out (a hybrid's Mamba layers) after the last one.
 */
function headIndex(spec: ModelSpec): number {
  let last = spec.layers - 1;
  for (const kind of spec.layerKinds) for (const i of kind.layers) last = Math.max(last, i);
  for (const skipped of spec.skippedLayers) for (const i of skipped.indices) last = Math.max(last, i);
  return last + 1;
}

/** A value computed on first use, then kept. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * One norm site of the first layer kind that has it, simulated alone (the norm and the linears it
 * feeds, nothing else): what a micro-benchmark of "norm then project" measures.
 */
export function simulateSite(spec: ModelSpec, hw: HardwareProfile, workload: Workload, siteId: string): { keptNs: number; deferredNs: number; site: Site } {
  const dtype = resolveDtype(hw, workload);
  const ctx = graphContext(hw, workload, dtype);
  for (const kind of spec.layerKinds) {
    const site = sitesOfKind(kind, hw.kernels.attention, spec.positions).find((s) => s.id === siteId);
    if (!site || !site.norm) continue;
    // The site alone ends at its linear layers: its scale is applied right after them.
    const makespan = (deferred: boolean): number => {
      const graph = buildSiteGraph(spec, kind, site, ctx, () => (deferred ? 'linear' : null));
      return schedule(graph.ops, opTimes(graph.ops, { hw, dtype, tp: ctx.tp, phase: ctx.phase })).makespanNs;
    };
    return { keptNs: makespan(false), deferredNs: site.ineligible === null ? makespan(true) : makespan(false), site };
  }
  throw new InputError(spec.source.path, 'site', `the id of a norm site of this model (e.g. attn-norm, mlp-norm)`, JSON.stringify(siteId));
}

/** Busy time per engine over one run (ns). */
export function engineBusyNs(run: Run): Record<Engine, number> {
  const engineOf = engineIndexOf(run.graph.ops);
  const sums = ENGINES.map(() => 0);
  for (let i = 0; i < engineOf.length; i++) sums[engineOf[i]!]! += run.times.busy[i]!;
  return Object.fromEntries(ENGINES.map((e, k) => [e, sums[k]!])) as Record<Engine, number>;
}
