/**
 * Does the workload fit the machine? Bytes each device holds under tensor parallelism (weights, KV
 * cache, activations), placed in the hardware profile's memory tiers and set against their capacity.
 * A warning, not a refusal: the simulated times stay meaningful as "what this pass would take if the
 * memory held it", and the report says at what tensor-parallel degree it would (minimumTp).
 */
import { headsOf, shardOf } from '../graph/shard';
import { DTYPE_BYTES, type Dtype, type HardwareProfile } from '../hardware/profile';
import { linearParams } from '../model/params';
import type { AttentionSpec, LinearSpec, ModelSpec } from '../model/spec';
import { checkWorkloadForModel, WORKLOAD_LIMITS, type Workload } from '../workload';
import { byteCount } from './text';
import type { MemoryReport, MemoryTierUse } from './types';

/** Capacities are datasheet gigabytes (10⁹ bytes). */
const GB = 1e9;
const HOLDS_TEXT: Record<MemoryTierUse['holds'][number], string> = { weights: 'weights', kv: 'KV cache', activations: 'activations' };

/**
 * Parameters one device holds: the linear layers' (column- and row-parallel ones split over TP, the
 * small replicated ones whole) and everything else whole (embeddings, norms). The linears are what an
 * in-memory-compute engine keeps resident; an embedding table is looked up, not multiplied.
 */
export function paramsPerDevice(spec: ModelSpec, tp: number): { linears: number; other: number } {
  let whole = 0;
  let shard = 0;
  const add = (l: LinearSpec, times: number): void => {
    const s = shardOf(l, tp);
    const copies = l.copies?.total ?? 1;
    // A column split divides the bias with the outputs; a row split keeps the whole bias on every chip.
    const bias = l.bias ? (s.split === 'columns' ? s.n : l.out) : 0;
    whole += times * linearParams(l);
    shard += times * (s.split === 'none' ? linearParams(l) : (s.k * s.n + bias) * copies);
  };
  for (const kind of spec.layerKinds) for (const l of kind.linears) add(l, kind.layers.length);
  // A tied lm_head is the embedding table, counted (whole) with the embeddings.
  if (spec.lmHead && !spec.tiedEmbeddings) add(spec.lmHead, 1);
  return { linears: shard, other: spec.params.total - whole };
}

/** Bytes one cached token takes in one attention on one device: K and V of its KV heads, or MLA's latent. */
export function kvBytesPerToken(attn: AttentionSpec, tp: number, bytes: number): number {
  // MLA caches one latent (plus the shared RoPE key) per token, replicated on every chip, as kv_a is.
  if (attn.mla) return (attn.mla.kvLoraRank + attn.mla.ropeHeadDim) * bytes;
  return headsOf(attn, tp).kvHeads * (attn.headDim + attn.vHeadDim) * bytes;
}

/** KV-cache bytes per device: every decoder layer's cache of the tokens it keeps (a sliding window keeps its window). */
export function kvCacheBytes(spec: ModelSpec, w: Pick<Workload, 'phase' | 'batch' | 'seq' | 'context' | 'tp'>, bytes: number): number {
  const tokens = w.phase === 'decode' ? w.context : w.seq;
  let total = 0;
  for (const kind of spec.layerKinds) {
    if (kind.stack === 'encoder') continue;
    const self = Math.min(tokens, kind.attention.window ?? Infinity) * kvBytesPerToken(kind.attention, w.tp, bytes);
    // Cross-attention caches the encoder's output: the prompt's tokens.
    const cross = kind.crossAttention ? w.seq * kvBytesPerToken(kind.crossAttention, w.tp, bytes) : 0;
    total += kind.layers.length * w.batch * (self + cross);
  }
  return total;
}

/**
 * Activations live at once on one device, an estimate: the residual stream in and out of the widest
 * layer, its widest linear output on the device, and with eager attention the score matrix of one
 * layer (the model runs layer by layer, so one layer's activations are live at a time).
 */
export function activationBytes(spec: ModelSpec, hw: HardwareProfile, w: Pick<Workload, 'phase' | 'batch' | 'seq' | 'context' | 'tp'>, bytes: number): number {
  const rows = w.batch * (w.phase === 'prefill' ? w.seq : 1);
  let widest = 0;
  let scores = 0;
  for (const kind of spec.layerKinds) {
    for (const l of kind.linears) widest = Math.max(widest, shardOf(l, w.tp).n * (l.copies?.active ?? 1));
    if (hw.kernels.attention === 'eager') {
      const keys = Math.min(w.phase === 'prefill' ? w.seq : w.context + 1, kind.attention.window ?? Infinity);
      scores = Math.max(scores, rows * headsOf(kind.attention, w.tp).heads * keys);
    }
  }
  // Prefill computes logits for the last token of each sequence only.
  const logits = spec.lmHead ? w.batch * shardOf(spec.lmHead, w.tp).n : 0;
  return bytes * Math.max(rows * (2 * spec.hidden + widest) + scores, logits);
}

/** The tier resident weights (in-memory compute) and activations without a tier of their own live in: the fastest. */
function nearestTier(hw: HardwareProfile): string {
  return hw.memory.tiers.reduce((best, t) => (t.bandwidthGBps > best.bandwidthGBps ? t : best)).name;
}

interface Demand {
  weightBytes: number;
  /** Of weightBytes, the linear layers' (resident in an in-memory-compute engine). */
  linearBytes: number;
  kvBytes: number;
  activationBytes: number;
}

function demandAt(spec: ModelSpec, hw: HardwareProfile, w: Workload, dtype: Dtype): Demand {
  const weightBytesPer = DTYPE_BYTES[dtype];
  // As the simulation: activations and the KV cache stay in 16 bits when weights are narrower.
  const actBytes = Math.max(2, weightBytesPer);
  const params = paramsPerDevice(spec, w.tp);
  return {
    weightBytes: (params.linears + params.other) * weightBytesPer,
    linearBytes: params.linears * weightBytesPer,
    kvBytes: kvCacheBytes(spec, w, actBytes),
    activationBytes: activationBytes(spec, hw, w, actBytes),
  };
}

function tiersOf(hw: HardwareProfile, d: Demand): MemoryTierUse[] {
  const nearest = nearestTier(hw);
  const activationsTier = hw.memory.activationsTier ?? nearest;
  // In-memory compute keeps the linears' weights in the memory it computes in; the rest stays in the weights tier.
  const parts: { tier: string; what: MemoryTierUse['holds'][number]; bytes: number }[] = [
    ...(hw.matrix.weightsResident
      ? [
          { tier: nearest, what: 'weights' as const, bytes: d.linearBytes },
          { tier: hw.memory.weightsTier, what: 'weights' as const, bytes: d.weightBytes - d.linearBytes },
        ]
      : [{ tier: hw.memory.weightsTier, what: 'weights' as const, bytes: d.weightBytes }]),
    { tier: hw.memory.kvCacheTier, what: 'kv', bytes: d.kvBytes },
    { tier: activationsTier, what: 'activations', bytes: d.activationBytes },
  ];
  return hw.memory.tiers
    .map((t) => {
      const mine = parts.filter((p) => p.tier === t.name && p.bytes > 0);
      const holds = [...new Set(mine.map((p) => p.what))];
      const usedBytes = mine.reduce((sum, p) => sum + p.bytes, 0);
      const capacityBytes = t.capacityGB * GB;
      return { tier: t.name, holds, usedBytes, capacityBytes, fits: usedBytes <= capacityBytes };
    })
    .filter((t) => t.holds.length > 0);
}

const fitsAll = (tiers: MemoryTierUse[]): boolean => tiers.every((t) => t.fits);

/** The smallest degree of tensor parallelism this model's heads split into at which everything fits, or null. */
export function minimumTpOf(spec: ModelSpec, hw: HardwareProfile, w: Omit<Workload, 'tp'>, dtype: Dtype): number | null {
  const heads = spec.layerKinds.flatMap((k) => [k.attention.heads, ...(k.crossAttention ? [k.crossAttention.heads] : [])]);
  const most = Math.min(WORKLOAD_LIMITS.tp, ...heads);
  for (let tp = 1; tp <= most; tp++) {
    // Each chip holds whole heads: only divisors of every head count are worth asking the core about.
    if (heads.some((n) => n % tp !== 0)) continue;
    try {
      checkWorkloadForModel(spec, { ...w, tp });
    } catch {
      continue; // not a degree the heads split into
    }
    if (fitsAll(tiersOf(hw, demandAt(spec, hw, { ...w, tp }, dtype)))) return tp;
  }
  return null;
}

export function memoryOf(spec: ModelSpec, hw: HardwareProfile, w: Workload, dtype: Dtype): MemoryReport {
  const demand = demandAt(spec, hw, w, dtype);
  const tiers = tiersOf(hw, demand);
  const fits = fitsAll(tiers);
  const minimumTp = minimumTpOf(spec, hw, w, dtype);
  const warnings: string[] = [];
  for (const t of tiers.filter((x) => !x.fits)) {
    warnings.push(`Does not fit: ${t.holds.map((x) => HOLDS_TEXT[x]).join(', ')} need ${byteCount(t.usedBytes, 1000)} of "${t.tier}" per device, which holds ${byteCount(t.capacityBytes, 1000)}.`);
  }
  if (!fits) {
    warnings.push(
      minimumTp === null
        ? "No tensor-parallel degree this model's heads split into makes it fit."
        : // Every part per device shrinks (or stays) as the degree grows, so every larger accepted degree fits too.
          `Fits at tensor-parallel degree ${minimumTp} or more.`,
    );
  }
  return {
    perDevice: { weightBytes: demand.weightBytes, kvBytes: demand.kvBytes, activationBytes: demand.activationBytes, totalBytes: demand.weightBytes + demand.kvBytes + demand.activationBytes },
    tiers,
    fits,
    minimumTp,
    warnings,
  };
}
