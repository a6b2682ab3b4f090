import type { AttentionKernel } from '../hardware/profile';
import { deferDepths } from './depth';
import type { LayerKind, LinearSpec, ModelSpec, NormSpec } from '../model/spec';
import type { DeferDepth, DeferDepthLimit, SiteKind } from '../terms';

/**
 * A rewrite site: a normalization whose statistic needs a collective, followed by
 * linear layers (DESIGN.md §1). Sites are found from the spec alone; whether one
 * is deferred is decided later, by cost.
 */
export interface Site {
  /** Stable id within its layer kind: `attn-norm`, `mlp-norm`, `softmax`, `q-latent`, `final-norm`, … */
  id: string;
  /** Readable name with the model's own module names, e.g. `input_layernorm → q_proj, k_proj, v_proj`. */
  name: string;
  kind: SiteKind;
  /** The norm (absent for Softmax). */
  norm?: NormSpec;
  /** The linear layers that read the normalized value, by their real names. */
  consumers: LinearSpec[];
  /** Null when the site can be deferred; otherwise why it cannot. */
  ineligible: string | null;
  /** Where a deferred scale may be applied, shallowest first (`linear` always, when eligible). */
  depths: DeferDepth[];
  /** Why the scale cannot travel further than the deepest of `depths` (null for Softmax sites). */
  depthLimit: string | null;
  /** Softmax sites: self- or cross-attention. */
  attention?: 'self' | 'cross';
}

const INELIGIBLE_REASON: Partial<Record<NormSpec['placement'], string>> = {
  post: 'post-norm: its output is the residual stream itself, so the normalized vector must be materialized',
  sandwich: 'feeds the residual sum, not a linear layer',
  qk: 'per-head statistic over head_dim values held by one compute unit: no collective to hide',
};

/** The linears a norm feeds, by the names the spec gives. */
export function normConsumers(kind: LayerKind, norm: NormSpec): LinearSpec[] {
  return kind.linears.filter((l) => norm.feeds.includes(l.name));
}

function siteIdOf(norm: NormSpec): string {
  switch (norm.role) {
    case 'attn':
      return 'attn-norm';
    case 'mlp':
      return 'mlp-norm';
    case 'cross':
      return 'cross-norm';
    case 'final':
      return 'final-norm';
    default:
      return `${norm.role}-norm`;
  }
}

function normSite(kind: LayerKind | null, norm: NormSpec, consumers: LinearSpec[], positions: ModelSpec['positions']): Site {
  const reason =
    INELIGIBLE_REASON[norm.placement] ??
    (consumers.length === 0 ? 'its output does not go straight into a linear layer' : null);
  // A QK norm's output is q (or k) of one head, read by the scores q·kᵀ, not by a linear nor the residual.
  const target = consumers.length > 0 ? consumers.map((l) => l.name).join(', ') : norm.placement === 'qk' ? 'q·kᵀ (per head)' : 'residual';
  const id = siteIdOf(norm);
  const site: Site = {
    id: kind && kind.norms.filter((n) => siteIdOf(n) === id).length > 1 ? `${id}:${norm.name}` : id,
    name: `${norm.name} → ${target}`,
    kind: norm.kind,
    norm,
    consumers,
    ineligible: reason,
    depths: [],
    depthLimit: null,
  };
  if (reason === null) {
    const reach = deferDepths(site, kind ?? undefined, positions);
    site.depths = reach.depths;
    site.depthLimit = reach.limit;
  }
  return site;
}

/** Why a Softmax site is not a candidate when the attention kernel is fused. */
export const FUSED_ATTENTION_REASON =
  'already deferred by the baseline kernel: a fused (FlashAttention-style) attention keeps a running max and sum and divides after ·V, so there is no gather left to hide';

/** Every site of one layer kind, in execution order, for the attention kernel the machine runs. */
export function layerSites(kind: LayerKind, attention: AttentionKernel = 'eager', positions: ModelSpec['positions'] = 'none'): Site[] {
  const sites: Site[] = [];
  for (const norm of kind.norms) {
    sites.push(normSite(kind, norm, normConsumers(kind, norm), positions));
  }
  const pv = (cross: boolean): LinearSpec => ({
    name: cross ? 'cross_attn(p·V)' : 'attn(p·V)',
    role: cross ? 'cross_o' : 'o',
    in: 0,
    out: 0,
    bias: false,
  });
  const softmaxReason = attention === 'flash' ? FUSED_ATTENTION_REASON : null;
  const softmaxDepths: DeferDepth[] = softmaxReason === null ? ['linear'] : [];
  sites.push({ id: 'softmax', name: 'softmax → ·V', kind: 'softmax', consumers: [pv(false)], ineligible: softmaxReason, attention: 'self', depths: softmaxDepths, depthLimit: null });
  if (kind.crossAttention) {
    sites.push({ id: 'cross-softmax', name: 'cross-attention softmax → ·V', kind: 'softmax', consumers: [pv(true)], ineligible: softmaxReason, attention: 'cross', depths: softmaxDepths, depthLimit: null });
  }
  return sites;
}

// A kind's sites depend on the kind, the attention kernel, the position scheme and the depth limit only,
// yet every graph build and every simulation of a sweep asks for them: found once per kind and shared.
const kindSiteMemo = new WeakMap<LayerKind, Map<string, Site[]>>();

/**
 * layerSites, found once per kind and choice of inputs; the caller gets the shared list and must not
 * change it. `deferDepth` 'linear' (the papers' rewrite) keeps every scale at the linear layer: a site
 * that allows more then says so in its depth limit.
 */
export function sitesOfKind(kind: LayerKind, attention: AttentionKernel, positions: ModelSpec['positions'], deferDepth: DeferDepthLimit = 'deepest'): Site[] {
  let byKey = kindSiteMemo.get(kind);
  if (!byKey) kindSiteMemo.set(kind, (byKey = new Map()));
  const key = `${attention}|${positions}|${deferDepth}`;
  let sites = byKey.get(key);
  if (!sites) {
    sites = deferDepth === 'linear' ? sitesOfKind(kind, attention, positions).map(atLinearLayer) : layerSites(kind, attention, positions);
    byKey.set(key, sites);
  }
  return sites;
}

function atLinearLayer(site: Site): Site {
  if (site.depths.length <= 1) return site;
  return { ...site, depths: site.depths.slice(0, 1), depthLimit: `the workload keeps scales at the linear layer (deferDepth linear); the algebra allows '${site.depths.at(-1)!}'` };
}

/** The final norm and the output projection, profiled as a layer of its own. */
export function headSites(spec: ModelSpec): Site[] {
  if (!spec.finalNorm || !spec.lmHead) return [];
  return [normSite(null, spec.finalNorm, [spec.lmHead], spec.positions)];
}
