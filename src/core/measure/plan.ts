/**
 * What the harness times for one model and workload (`deferred-norm harness`): every distinct GEMM of
 * the model's layer kinds at the workload's M and its off-by-one neighbours around tile sizes, the
 * norms as the baseline runs them, one attention, copies at the model's sizes, and each deferrable
 * RMSNorm site's norm → projection block, standard and deferred. Pure: shapes come from the spec.
 */
import { shardOf, headsOf } from '../graph/shard';
import { keysPerQuery, rowsFor } from '../graph/layer';
import { layerSites } from '../graph/sites';
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { graphContext } from '../sim/simulate';
import type { Workload } from '../workload';
import { InputError } from '../errors';
import type { MeasureDevice, MeasureDtype, MeasuredWorkload } from './types';

export interface HarnessPlan {
  model: { name: string; path: string };
  workload: MeasuredWorkload;
  device: MeasureDevice;
  /** Compute dtype on a GPU; a CPU run times fp32 (the harness says so in its provenance). */
  dtype: MeasureDtype;
  quick: boolean;
  gemms: { name: string; k: number; n: number; ms: number[] }[];
  norms: { name: string; kind: 'rmsnorm' | 'layernorm'; width: number; eps: number; rows: number }[];
  blocks: { site: string; layerKind: string; norm: string; width: number; eps: number; rows: number; consumers: { name: string; n: number }[] }[];
  attention: { batch: number; heads: number; kvHeads: number; headDim: number; queries: number; keys: number } | null;
  /** Elements of each copy that measures streaming bandwidth. */
  streams: number[];
  /** Shapes left out, and why (quick mode's shorter attention, LayerNorm blocks). */
  notes: string[];
}

/** Tile sizes GEMM libraries pick among: M just below and above one changes the kernel (AIConfigurator's gemm.yaml times such pairs). */
const TILE_SIZES = [16, 32, 64, 128, 256, 512];
/** Quick mode caps the keys of the timed attention, so that a CPU run stays under a minute. */
const QUICK_MAX_KEYS = 512;

/** The M values timed for a GEMM: M and M ± 1, and (full mode) the next tile size and its neighbours. */
export function gemmMs(m: number, quick: boolean): number[] {
  const out = new Set([m - 1, m, m + 1]);
  const tile = TILE_SIZES.find((t) => t > m + 1);
  if (!quick && tile !== undefined) for (const v of [tile - 1, tile, tile + 1]) out.add(v);
  return [...out].filter((v) => v >= 1).sort((a, b) => a - b);
}

/** Sites whose block the harness times: the norm before attention and the one before the MLP. */
export const BLOCK_SITES: readonly string[] = ['attn-norm', 'mlp-norm'];

export function harnessPlan(spec: ModelSpec, hw: HardwareProfile, workload: Workload, device: MeasureDevice, dtype: MeasureDtype, quick: boolean): HarnessPlan {
  const kinds = spec.layerKinds;
  const first = kinds[0];
  if (!first) throw new InputError(spec.source.path, 'layers', 'a model with at least one layer to measure', 'none');
  const ctx = graphContext(hw, workload, dtype);
  const m = rowsFor(first, ctx, spec.topology);
  const notes: string[] = [];

  const gemms = new Map<string, HarnessPlan['gemms'][number]>();
  const namesOf = new Map<string, Set<string>>();
  const head = spec.lmHead;
  // The output projection is the largest GEMM by far (vocabulary × hidden): quick mode leaves it out.
  if (quick && head) notes.push(`gemm: quick mode leaves out ${head.name} (${head.in}×${head.out})`);
  const linears = [...kinds.flatMap((k) => k.linears), ...(head && !quick ? [head] : [])];
  for (const lin of linears) {
    const { k, n } = shardOf(lin, workload.tp);
    const key = `${k}x${n}`;
    const had = gemms.get(key);
    const names = namesOf.get(key) ?? new Set<string>();
    // A linear of the same name in a second layer kind (dense and MoE layers' q_proj) is named once.
    if (!had) gemms.set(key, { name: lin.name, k, n, ms: gemmMs(m, quick) });
    else if (!names.has(lin.name)) had.name += `, ${lin.name}`;
    namesOf.set(key, names.add(lin.name));
  }

  const norms = new Map<string, HarnessPlan['norms'][number]>();
  const blocks: HarnessPlan['blocks'] = [];
  for (const kind of kinds) {
    for (const site of layerSites(kind, 'eager', spec.positions)) {
      const norm = site.norm;
      if (!norm || site.consumers.length === 0) continue;
      const key = `${norm.kind}:${norm.width}:${norm.eps}`;
      if (!norms.has(key)) norms.set(key, { name: norm.name, kind: norm.kind, width: norm.width, eps: norm.eps, rows: m });
      if (site.ineligible !== null || !BLOCK_SITES.includes(site.id)) continue;
      if (norm.kind !== 'rmsnorm') {
        notes.push(`block ${kind.id}/${site.id}: a LayerNorm site; the harness times RMSNorm blocks only`);
        continue;
      }
      if (blocks.some((b) => b.site === site.id)) continue;
      blocks.push({
        site: site.id,
        layerKind: kind.id,
        norm: norm.name,
        width: norm.width,
        eps: norm.eps,
        rows: m,
        consumers: site.consumers.map((c) => ({ name: c.name, n: shardOf(c, workload.tp).n })),
      });
    }
  }

  const attn = first.attention;
  let attention: HarnessPlan['attention'] = null;
  // MLA is not timed, so quick mode's cap on its keys is not noted either.
  if (attn.mla) notes.push('attention: MLA is not timed by the harness');
  else {
    const { heads, kvHeads } = headsOf(attn, workload.tp);
    let keys = Math.round(keysPerQuery(attn, ctx, false));
    if (quick && keys > QUICK_MAX_KEYS) {
      notes.push(`attention: quick mode times ${QUICK_MAX_KEYS} keys per query, not the workload's ${keys}`);
      keys = QUICK_MAX_KEYS;
    }
    attention = { batch: workload.batch, heads, kvHeads, headDim: attn.headDim, queries: workload.phase === 'decode' ? 1 : workload.seq, keys };
  }

  const largestWeight = Math.max(...[...gemms.values()].map((g) => g.k * g.n));
  const streams = [...new Set([m * spec.hidden, largestWeight])].sort((a, b) => a - b);

  return {
    model: { name: spec.name, path: spec.source.path },
    workload: { phase: workload.phase, batch: workload.batch, seq: workload.seq, context: workload.context, tp: workload.tp, m },
    device,
    dtype,
    quick,
    gemms: [...gemms.values()],
    norms: [...norms.values()],
    blocks,
    attention,
    streams,
    notes,
  };
}
