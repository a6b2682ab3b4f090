import type { DeferDepth } from '../terms';
import { isOverride, type HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { engineBusyNs, simulate, type KindSimulation, type SiteDecision, type Simulation } from '../sim/simulate';
import type { Workload } from '../workload';
import { MAX_SHOWN_CHARS, shortened, shownName, terminalSafe } from '../text';
import { endToEndOf } from './end-to-end';
import { calibrationNotes } from '../measure/extrapolation';
import { memoryOf } from './memory';
import { savingPartsOf } from './saving';
import { statedWorkload, tpRequested } from './tensor-parallel';
import { pct, totalsOf } from './totals';
import type { LayerKindResult, LayerResult, Report, SiteResult } from './types';

// Here since the sweep, the comparison and validate read the totals with the report.
export { totalsOfSimulation } from './totals';

const us = (ns: number): number => ns / 1000;
const fmt = (ns: number): string => `${us(ns).toFixed(3)} µs`;

/** The one entry point: model × machine × workload → Report (figures only; see fullReport for the rest). */
export function profile(spec: ModelSpec, hw: HardwareProfile, workload: Workload): Report {
  return reportOf(spec, hw, workload, simulate(spec, hw, workload));
}

export function reportOf(spec: ModelSpec, hw: HardwareProfile, resolved: Workload, simulation: Simulation): Report {
  const memory = memoryOf(spec, hw, resolved, simulation.dtype);
  const workload = statedWorkload(resolved, memory.minimumTp);
  const layerKinds = simulation.kinds.map(kindResult);
  const { layers, note: layersNote } = layerRuns(layerKinds);
  const notes = [...spec.notes, ...shownNotes(spec, workload), ...calibrationNotes(hw, workload), ...(layersNote ? [layersNote] : [])];
  const totals = totalsOf(layerKinds);
  return {
    schema: 'deferred-norm-report/1',
    estimate: `Simulated estimate on the "${shownName(hw.title)}" profile (${shownName(hw.name)}); not a measurement. Every number of the profile has its source listed under hardware.provenance.`,
    model: {
      name: shownName(spec.name),
      family: spec.family,
      modelType: shownName(spec.modelType),
      architecture: spec.architecture === null ? null : shownName(spec.architecture),
      source: spec.source.path,
      layers: spec.layers,
      hidden: spec.hidden,
      vocab: spec.vocab,
      params: spec.params,
      notes,
    },
    hardware: { name: shownName(hw.name), title: shownName(hw.title), description: shortened(terminalSafe(hw.description), MAX_DESCRIPTION_CHARS), provenance: hw.provenance, sources: hw.sources },
    workload: { ...workload, dtype: simulation.dtype, tpRequested: tpRequested(workload) },
    assumptions: assumptions(spec, hw, workload),
    layerKinds,
    layers,
    totals,
    numerics: null,
    pseudocode: null,
    pseudocodeBlocks: null,
    memory,
    endToEnd: endToEndOf(spec, hw, workload, totals),
    savingParts: savingPartsOf(hw, workload, simulation),
  };
}

/** The most entries `layers[]` holds; a model with more runs of identical layers is summed up by its layer kinds. */
export const MAX_LAYER_ENTRIES = 1000;
/** A hardware description is a paragraph; more than this is not shown. */
const MAX_DESCRIPTION_CHARS = 2000;

/**
 * `layers[]`: consecutive layers of one kind have the same figures, so each run of them is one entry
 * (`index` its first layer, `count` how many), at most MAX_LAYER_ENTRIES of them: the report's size
 * follows what differs, not the number of layers.
 */
function layerRuns(kinds: LayerKindResult[]): { layers: LayerResult[]; note: string | null } {
  const kindOf: { index: number; kind: LayerKindResult }[] = kinds.flatMap((k) => k.layers.map((index) => ({ index, kind: k }))).sort((a, b) => a.index - b.index);
  const layers: LayerResult[] = [];
  let runs = 0;
  for (let i = 0; i < kindOf.length; ) {
    const { index, kind: k } = kindOf[i]!;
    let j = i + 1;
    while (j < kindOf.length && kindOf[j]!.kind === k && kindOf[j]!.index === kindOf[j - 1]!.index + 1) j++;
    runs++;
    if (layers.length < MAX_LAYER_ENTRIES) {
      layers.push({
        index,
        count: j - i,
        kind: k.id,
        baselineUs: k.baselineUs,
        deferredUs: k.deferredUs,
        savedUs: k.savedUs,
        sites: k.sites.map((s) => ({ name: s.name, kind: s.kind, decision: s.decision, reason: s.reason, savedUs: s.savedUs })),
      });
    }
    i = j;
  }
  const shown = layers.reduce((n, l) => n + l.count, 0);
  const note =
    runs > MAX_LAYER_ENTRIES
      ? `The per-layer list shows the first ${MAX_LAYER_ENTRIES.toLocaleString('en-US')} of ${runs.toLocaleString('en-US')} runs of identical layers (${shown.toLocaleString('en-US')} of ${kindOf.length.toLocaleString('en-US')} layers); the layer kinds and the totals cover them all.`
      : null;
  return { layers, note };
}

/** The spec as views may quote it (the rewritten code's comments name the model and its layer kinds): names shortened. */
export function shownSpec(spec: ModelSpec): ModelSpec {
  const name = shownName(spec.name);
  const layerKinds = spec.layerKinds.map((k) => {
    const label = shownName(k.label);
    return label === k.label ? k : { ...k, label };
  });
  return name === spec.name && layerKinds.every((k, i) => k === spec.layerKinds[i]) ? spec : { ...spec, name, layerKinds };
}

/** What the views must say about the model that they cannot show as it is. */
function shownNotes(spec: ModelSpec, w: Workload): string[] {
  const notes: string[] = [];
  if (shortened(spec.name) !== spec.name) {
    notes.push(`The model's name is ${spec.name.length.toLocaleString('en-US')} characters long; reports show its first ${MAX_SHOWN_CHARS}.`);
  }
  const positions = w.phase === 'prefill' ? w.seq : w.context;
  if (spec.maxPositions !== null && positions > spec.maxPositions) {
    const what = w.phase === 'prefill' ? `A prefill of ${w.seq.toLocaleString('en-US')} tokens` : `A context of ${w.context.toLocaleString('en-US')} tokens`;
    notes.push(`${what} is beyond the ${spec.maxPositions.toLocaleString('en-US')} positions the model was trained for (max_position_embeddings); it is simulated as asked, but the model would need position scaling or would not run.`);
  }
  return notes;
}

function kindResult(k: KindSimulation): LayerKindResult {
  const base = k.baseline.timeline.makespanNs;
  const def = k.deferred.timeline.makespanNs;
  const busy = (run: KindSimulation['baseline']) =>
    Object.fromEntries(Object.entries(engineBusyNs(run)).map(([e, ns]) => [e, us(ns)])) as LayerKindResult['busyUs']['baseline'];
  return {
    id: k.id,
    label: shownName(k.label),
    layers: k.layers,
    baselineUs: us(base),
    deferredUs: us(def),
    savedUs: us(base - def),
    savedPct: pct(base - def, base),
    exposedCollectiveBaselineUs: us(Math.max(0, base - k.baselineFreeNs)),
    exposedCollectiveDeferredUs: us(Math.max(0, def - k.deferredFreeNs)),
    busyUs: { baseline: busy(k.baseline), deferred: busy(k.deferred) },
    sites: k.sites.map(siteResult),
  };
}

/** Where a deferred norm's scale is applied, in words (a Softmax's division always goes after ·V). */
const DEPTH_TEXT: Record<DeferDepth, string> = {
  linear: 'after the linear layer',
  rope: 'after RoPE',
  attention: 'on the attention logits, before the exp',
  down: 'after the down projection',
};

function siteResult(d: SiteDecision): SiteResult {
  const common = {
    id: d.site.id,
    name: d.site.name,
    kind: d.site.kind,
    keptUs: us(d.keptNs),
    deferredUs: us(d.deferredNs),
    norm: d.site.norm?.name ?? null,
    consumers: d.site.consumers.map((c) => c.name),
    depth: d.depth,
    depthUs: d.depthNs.map(({ depth, ns }) => ({ depth, us: us(ns) })),
    depthLimit: d.site.depthLimit,
  };
  const depths = d.depthNs.length > 1 ? `; by depth: ${d.depthNs.map(({ depth, ns }) => `${depth} ${fmt(ns)}`).join(', ')}` : '';
  switch (d.decision) {
    case 'ineligible':
      return { ...common, decision: 'ineligible', reason: d.site.ineligible ?? '', savedUs: 0 };
    case 'defer':
      return {
        ...common,
        decision: 'defer',
        reason: `deferred ${d.site.kind === 'softmax' ? 'after ·V' : DEPTH_TEXT[d.depth ?? 'linear']}: the layer takes ${fmt(d.deferredNs)} instead of ${fmt(d.keptNs)}${depths}`,
        savedUs: us(d.keptNs - d.deferredNs),
      };
    case 'keep':
      return {
        ...common,
        decision: 'keep',
        reason: `kept: deferring would take ${fmt(d.deferredNs)} instead of ${fmt(d.keptNs)}; the epilogue costs more than the collective it hides${depths}`,
        savedUs: 0,
      };
  }
}

/** Where the kernels come from: the profile's stated choices, and any of them changed over it. */
function kernelSource(hw: HardwareProfile): string {
  const changed = (['attention', 'norm', 'launch'] as const).filter((k) => isOverride(hw.provenance[`kernels.${k}`])).map((k) => `${k} ${hw.provenance[`kernels.${k}`]}`);
  const own = `stated choices of the "${hw.name}" profile`;
  return changed.length === 0 ? own : `${own}, except: ${changed.join('; ')}`;
}

function assumptions(spec: ModelSpec, hw: HardwareProfile, w: Workload): string[] {
  const list = [
    `A simulation of one ${w.phase === 'prefill' ? `prefill of ${w.seq} tokens` : `decode step with ${w.context} tokens of context`} at batch ${w.batch}${w.tp > 1 ? `, tensor-parallel over ${w.tp} chips` : ''}${w.tpChosen === 'smallest-that-fits' ? ' (tp auto: the smallest degree the heads allow at which weights, KV cache and activations fit each device)' : w.tpChosen === 'fits-at-none' ? ' (tp auto: no degree the heads allow fits, so one chip is simulated)' : ''}, on the "${hw.name}" hardware profile.`,
    'Each layer is scheduled on its own; layers run back to back, so whole-model figures are sums over layers.',
    `Engines (matrix, vector, collective, memory) each run one op at a time; a list scheduler starts the ready op with the longest remaining path. Matmuls and attention are split into ${w.tiles} tiles so that engines pipeline.`,
    'Collective share = latency the statistic gathers (norm sums, Softmax max and sum) add to the critical path: the same schedule with those gathers made free is the reference.',
    `Softmax offset for deferred sites: ${w.softmaxOffset}.`,
    w.deferDepth === 'linear'
      ? 'Deferred norm scales are applied right after the linear layer, as in the papers (--defer-depth linear).'
      : 'Deferred norm scales may travel past the linear layer where the algebra allows (after RoPE, onto the attention logits, through a ReLU MLP); each site takes the depth that makes its layer fastest.',
    `Kernels (${kernelSource(hw)}): attention ${hw.kernels.attention === 'flash' ? 'fused (FlashAttention-style: the Softmax is already deferred by the baseline)' : 'eager (scores, softmax and ·V as separate ops)'}; norms ${hw.kernels.norm === 'eager' ? "eager (PyTorch's unfused RMSNorm, a kernel per step)" : 'one fused kernel'}; ${hw.kernels.launch === 'graph-in-decode' ? `decode as a captured graph (${hw.kernels.graphKernelNs} ns per kernel)` : 'every kernel launched on its own'}.`,
    `One memory system: weight streams${hw.memory.activationsTier ? `, KV-cache reads and elementwise passes over activations in "${hw.memory.activationsTier}"` : ' and KV-cache reads'} share its bandwidth (at ${Math.round(hw.memory.efficiency * 100)}% of peak).`,
    'Embedding lookup and sampling are not modelled; prefill computes logits for the last token of each sequence only.',
    'Memory per device: weights with the column- and row-parallel linears split over the tensor-parallel chips and everything else (norms, embeddings, routers, MLA down-projections) whole; the KV cache of every decoder layer for the cached tokens (a sliding window keeps its window; KV heads replicated when fewer than chips); activations estimated as one layer\'s residual stream in and out, its widest linear output, and with eager attention its score matrix. Set against each memory tier\'s capacity; a workload that does not fit is still simulated, with a warning.',
    `Time to first token is one prefill pass of the ${w.seq}-token prompt at batch ${w.batch}; time per output token one decode step at context ${w.context}; tokens/s = batch / time per output token.`,
  ];
  if (hw.matrix.weightsResident) list.push('Weights are resident in the matrix engine (in-memory compute): they never move. They are counted against the fastest memory tier (the one the compute sits in); where they do not fit, the figures are those of enough devices to hold them, and the memory check says so.');
  else list.push(`Weights stream from "${hw.memory.weightsTier}"${hw.memory.prefetch ? ', fetched ahead by the memory engine' : ' inside each matmul (roofline)'}.`);
  if (spec.skippedLayers.length > 0) {
    for (const s of spec.skippedLayers) list.push(`Layers ${s.indices.join(', ')} are left out: ${s.reason}.`);
  }
  return list;
}
