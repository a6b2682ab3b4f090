/**
 * Rewritten pseudo-code: what a kernel engineer changes to get the simulated
 * saving. Per site, before/after listings (DESIGN.md §1's table); per layer
 * kind, the whole block generated from the simulated graph, baseline and
 * deferred. Plain text only.
 */
import type { Op } from '../graph/ops';
import type { Site } from '../graph/sites';
import type { ModelSpec } from '../model/spec';
import { InputError } from '../errors';
import type { PseudocodeBlock, PseudocodeSite, Report, SiteResult } from '../report/types';
import type { KindSimulation, SiteDecision, Simulation } from '../sim/simulate';
import { blockPseudocode } from './block';
import { sitePseudocode, type EpilogueEngine, type SiteCodeInput, type SoftmaxShape } from './site';

export { blockPseudocode, type BlockLine, type BlockListing, type Schedule } from './block';
export { foldLines, sitePseudocode, type EpilogueEngine, type SiteCodeInput, type SoftmaxShape } from './site';

/** A layer kind's block, baseline and deferred, as text. */
export type BlockText = PseudocodeBlock;

/** The units a site's statistic is gathered over, from its collective in the usual schedule; null if local. */
function unitsOf(sim: KindSimulation, site: Site): number | null {
  const gather = sim.baseline.graph.ops.find((op) => op.site === site.id && (op.role === 'norm-gather' || op.role === 'softmax-gather'));
  return gather && gather.work.kind === 'collective' ? gather.work.units : null;
}

/** Where deferred epilogues run on this hardware, as the simulated graphs show it. */
function epilogueOf(simulation: Simulation): EpilogueEngine {
  for (const k of simulation.kinds) {
    const op = k.deferred.graph.ops.find((o) => o.role === 'norm-scale' || o.role === 'softmax-divide-after-v');
    if (op) return op.fused === true ? 'fused' : 'vector';
  }
  return 'unknown';
}

/**
 * Heads, keys and widths of a Softmax site, read from the ops of the usual schedule: p·V and the
 * scores it reads (eager kernels), or the fused attention kernel, whose n is d_qk + d_v.
 */
function softmaxShape(spec: ModelSpec, sim: KindSimulation, site: Site, offset: SoftmaxShape['offset']): SoftmaxShape | null {
  const ops = sim.baseline.graph.ops;
  const kind = spec.layerKinds.find((k) => k.id === sim.id);
  const attention = site.attention === 'cross' ? kind?.crossAttention : kind?.attention;
  if (!kind || !attention) return null;
  const mine = ops.filter((op) => op.site === site.id);
  const pv = mine.find((op) => op.role === 'pv');
  const scores = mine.flatMap((op) => op.deps.map((d) => ops[d]!)).find((op: Op) => op.role === 'scores');
  if (pv && pv.work.kind === 'matmul' && scores && scores.work.kind === 'matmul') {
    return { offset, heads: attention.heads, kvHeads: attention.kvHeads, keys: pv.work.k, qkDim: scores.work.k, vDim: pv.work.n };
  }
  const fused = ops.find((op) => op.role === 'attention-fused' && op.attention === site.attention);
  if (!fused || fused.work.kind !== 'matmul') return null;
  const { k: keys, n } = fused.work;
  // The kernel multiplies q·Kᵀ (d_qk) and p·V (d_v): per head, or in MLA's latent space when it absorbs kv_b.
  const mla = attention.mla;
  const widths = [
    { qkDim: attention.headDim, vDim: attention.vHeadDim },
    ...(mla ? [{ qkDim: mla.kvLoraRank + mla.ropeHeadDim, vDim: mla.kvLoraRank }] : []),
  ].find((w) => w.qkDim + w.vDim === n);
  // A fused kernel's softmax is online whatever the workload asks: it keeps a running max and sum.
  return widths ? { offset: 'online', heads: attention.heads, kvHeads: attention.kvHeads, keys, ...widths } : null;
}

/** The report's figures for a site, or the simulation's own when the report lacks them. */
function resultOf(report: Report, kindId: string, d: SiteDecision): SiteCodeInput['result'] {
  const found: SiteResult | undefined = report.layerKinds.find((k) => k.id === kindId)?.sites.find((s) => s.id === d.site.id);
  return found ?? { decision: d.decision, keptUs: d.keptNs / 1000, deferredUs: d.deferredNs / 1000, reason: d.site.ineligible ?? '' };
}

/** The inputs of every site's pseudo-code, in simulation order. */
export function siteInputs(spec: ModelSpec, simulation: Simulation, report: Report): SiteCodeInput[] {
  const epilogue = epilogueOf(simulation);
  const offset = report.workload.softmaxOffset;
  return simulation.kinds.flatMap((sim) => {
    const kind = spec.layerKinds.find((k) => k.id === sim.id);
    return sim.sites.map((d) => ({
      site: d.site,
      layerKind: { id: sim.id, label: sim.label, layers: sim.layers },
      result: resultOf(report, sim.id, d),
      units: unitsOf(sim, d.site),
      epilogue,
      topK: d.site.consumers.some((l) => l.role === 'router') ? (kind?.mlp.topK ?? null) : null,
      softmax: d.site.kind === 'softmax' ? softmaxShape(spec, sim, d.site, offset) : null,
      // The listing shows the rewrite at the depth the simulation chose.
      ...(d.depth !== null ? { depth: d.depth } : {}),
      layer: kind,
      positions: spec.positions,
    }));
  });
}

/** Before/after pseudo-code of every site of every layer kind (and the head): fills `report.pseudocode`. */
export function pseudocodeFor(spec: ModelSpec, simulation: Simulation, report: Report): PseudocodeSite[] {
  return siteInputs(spec, simulation, report).map(sitePseudocode);
}

/** The whole block of every layer kind (and the head), baseline and deferred. */
export function blockListings(spec: ModelSpec, simulation: Simulation): BlockText[] {
  return simulation.kinds.map((sim) => ({
    layerKind: sim.id,
    baseline: blockPseudocode(spec, sim, 'baseline').text,
    deferred: blockPseudocode(spec, sim, 'deferred').text,
  }));
}


function banner(title: string): string {
  return `═══ ${title} ${'═'.repeat(Math.max(3, 76 - title.length))}`;
}

/**
 * Terminal text: every site's before/after, then every block. With `siteFilter`
 * (a site id, `kind/id`, or a substring of a site's name), only the matching sites.
 */
export function formatPseudocode(sites: readonly PseudocodeSite[], blocks: readonly BlockText[], siteFilter?: string): string {
  let shown = sites;
  if (siteFilter !== undefined) {
    const f = siteFilter.trim();
    const needle = f.toLowerCase();
    shown = sites.filter((p) => p.site === f || `${p.layerKind}/${p.site}` === f || (needle !== '' && p.name.toLowerCase().includes(needle)));
    if (shown.length === 0) {
      const ids = [...new Set(sites.map((p) => p.site))];
      throw new InputError('--site', '', `one of: ${ids.join(', ')}`);
    }
  }
  const parts: string[] = [];
  for (const p of shown) {
    parts.push(banner(`${p.layerKind} · ${p.site}`), '── before ──', p.before, '', '── after ──', p.after, '');
  }
  if (siteFilter === undefined) {
    for (const b of blocks) {
      parts.push(banner(`block ${b.layerKind} · baseline`), b.baseline, '', banner(`block ${b.layerKind} · deferred`), b.deferred, '');
    }
  }
  return parts.join('\n').replace(/\n+$/, '\n');
}
