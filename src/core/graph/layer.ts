import type { AttentionKernel, DeferredStatistic, EagerNormMultiply, NormKernel } from '../hardware/profile';
import type { AttentionSpec, LayerKind, LinearSpec, ModelSpec, NormSpec } from '../model/spec';
import type { DeferDepth, SoftmaxOffset } from '../terms';
import type { Phase } from '../workload';
import { GraphBuilder, type LayerGraph, type OpCategory, type OpRole, type Work } from './ops';
import { headsOf, shardOf } from './shard';
import { headSites, layerSites, type Site } from './sites';

/** Everything about the pass and the machine that changes the shape of a layer's graph. */
export interface GraphContext {
  phase: Phase;
  batch: number;
  /** Prompt length (prefill) or encoder length (cross-attention). */
  seq: number;
  /** Tokens already cached (decode). */
  context: number;
  tp: number;
  weightBytes: number;
  activationBytes: number;
  tiles: number;
  softmaxOffset: SoftmaxOffset;
  /** In-memory compute: weights never move. */
  weightsResident: boolean;
  /** Weights stream from memory ahead of the matmul, on the memory engine. */
  prefetch: boolean;
  /** Epilogues run inside the matmul that produces their input. */
  fusedEpilogue: boolean;
  /** P: compute units one activation vector is spread over. */
  computeUnits: number;
  /** The attention and norm kernels the serving software runs (hardware profile's `kernels`). */
  attention: AttentionKernel;
  norm: NormKernel;
  eagerNormMultiply: EagerNormMultiply;
  /** How a deferred norm's statistic runs beside the matmul (hardware profile's `kernels.deferredStatistic`). */
  deferredStatistic: DeferredStatistic;
}

/** FlashNorm's adaptive dispatch overlaps the statistic only from this many token rows (`second-stream-from-512`). */
export const SECOND_STREAM_MIN_ROWS = 512;

/** How deep each eligible site is deferred, or null where it is kept; ineligible sites are always kept. */
export type DeferChoice = (siteId: string) => DeferDepth | null;

/** A deferred scale not yet applied: it travels past the consumers' outputs to a later op. */
export interface PendingScale {
  site: Site;
  depth: DeferDepth;
  /** The op after which the gathered statistic is there. */
  gathered: number;
}

/** Per-element op counts of the vector work (add/mul-equivalents), see DESIGN.md §1. */
const OPS = {
  rmsStat: 2, // x², running sum
  lnStat: 3, // x, x², two running sums
  rmsApply: 2, // ·r, ·γ
  lnApply: 4, // −μ, ·r, ·γ, +β
  scale: 1, // r·y
  scaleBias: 2, // r·y + c
  residual: 1,
  rope: 3,
  gatedMul: 1,
} as const;

/** Activation cost per element: add/mul-equivalents plus exps and divisions. */
function activationCost(name: string): { ops: number; exps: number; divs: number } {
  const a = name.toLowerCase();
  if (a.includes('relu')) return { ops: 1, exps: 0, divs: 0 };
  if (a.includes('gelu')) return { ops: 7, exps: 1, divs: 1 }; // tanh form: tanh via one exp and one division
  return { ops: 2, exps: 1, divs: 1 }; // silu/swish: x / (1 + e^−x)
}

type VectorExtra = Partial<Pick<Extract<Work, { kind: 'vector' }>, 'exps' | 'rsqrts' | 'divs'>>;

/** Elementwise work over `elements` values, `ops` each, reading and writing `bytes` where operands live in memory. */
const vec = (elements: number, ops: number, bytes: number, extra: VectorExtra = {}): Work => ({
  kind: 'vector',
  elements,
  ops,
  exps: extra.exps ?? 0,
  rsqrts: extra.rsqrts ?? 0,
  divs: extra.divs ?? 0,
  bytes,
});

/** Bytes of one fp32 statistic per row. */
const STAT_BYTES = 4;

/** Average number of keys each query attends to. */
export function keysPerQuery(attn: AttentionSpec, ctx: GraphContext, cross: boolean): number {
  if (cross) return ctx.seq;
  const w = attn.window ?? Infinity;
  if (ctx.phase === 'decode') return Math.min(ctx.context + 1, w);
  const t = ctx.seq;
  if (!attn.causal) return Math.min(t, w);
  if (w >= t) return (t + 1) / 2;
  return ((w * (w + 1)) / 2 + (t - w) * w) / t;
}

class LayerBuilder {
  private readonly g = new GraphBuilder();

  /** The MoE routing decision, once the router has been built: routed experts wait for it. */
  private routing: number | null = null;

  /** Scales deferred deeper than the linear layer, by site id: later stages of the block apply them. */
  readonly pending = new Map<string, PendingScale>();

  constructor(
    readonly ctx: GraphContext,
    private readonly defer: DeferChoice,
    /** Tokens this layer processes in this pass. */
    readonly rows: number,
    /** The model's hidden size. */
    readonly hidden: number,
  ) {}

  build(): LayerGraph {
    return this.g.build();
  }

  /** How a linear's work is split: by rows when there are enough rows, else by output columns. */
  tiling(): { count: number; byRows: boolean } {
    const count = Math.max(1, this.ctx.tiles);
    return { count, byRows: this.rows >= count };
  }

  /**
   * A linear layer split into tiles, each 1/T of its work and weight traffic;
   * returns the tile ids. `tileDeps(t)` adds per-tile inputs (a streamed prologue).
   */
  linear(lin: LinearSpec, deps: number[], site?: string, tileDeps?: (t: number) => number[]): number[] {
    const { k, n } = shardOf(lin, this.ctx.tp);
    const active = lin.copies?.active ?? 1;
    const total = lin.copies?.total ?? 1;
    // Distinct experts a batch touches: each expert's weights are read once.
    const touched = lin.copies ? total * (1 - Math.pow(1 - active / total, this.rows)) : 1;
    const m = this.rows * active;
    const { count: tiles, byRows } = this.tiling();
    const bytes = this.ctx.weightsResident ? 0 : (k * n * touched * this.ctx.weightBytes) / tiles;
    const ids: number[] = [];
    for (let t = 0; t < tiles; t++) {
      const all = [...deps, ...(tileDeps ? tileDeps(t) : [])];
      if (bytes > 0 && this.ctx.prefetch) {
        all.push(this.g.add({ name: `${lin.name}.load[${t + 1}/${tiles}]`, role: 'weight-load', engine: 'memory', category: 'memory', work: { kind: 'memory', bytes, tier: 'weights' }, deps: [] }));
      }
      ids.push(
        this.g.add({
          name: tiles > 1 ? `${lin.name}[${t + 1}/${tiles}]` : lin.name,
          role: 'linear',
          engine: 'matrix',
          category: 'linear',
          work: { kind: 'matmul', m: byRows ? m / tiles : m, k, n: byRows ? n : n / tiles, bytes: this.ctx.prefetch ? 0 : bytes, tier: 'weights', exps: 0, gemm: { m, n } },
          deps: all,
          site,
          continues: t > 0,
        }),
      );
    }
    return ids;
  }

  /** The routing decision (built with the router), if this layer has one. */
  routingDecision(): number | null {
    return this.routing;
  }

  vector(name: string, role: OpRole, work: Work, deps: number[], category: Extract<OpCategory, 'norm-stat' | 'norm-apply' | 'softmax' | 'epilogue' | 'elementwise'>, site?: string, continues = false): number {
    return this.g.add({ name, role, engine: 'vector', category, work, deps, site, continues });
  }

  /** Bytes of `values` activations. */
  act(values: number): number {
    return values * this.ctx.activationBytes;
  }

  /** A gather and broadcast of per-row statistics over the `units` a row spans (all P by default). */
  collective(name: string, role: 'norm-gather' | 'softmax-gather', rows: number, values: number, deps: number[], site?: string, units = this.ctx.computeUnits): number {
    return this.g.add({
      name,
      role,
      engine: 'collective',
      category: 'stat-collective',
      work: { kind: 'collective', rows, values, units },
      deps,
      site,
    });
  }

  allReduce(name: string, deps: number[], width: number): number[] {
    if (this.ctx.tp <= 1) return deps;
    return [this.g.add({ name, role: 'all-reduce', engine: 'collective', category: 'allreduce', work: { kind: 'allreduce', bytes: this.act(this.rows * width) }, deps })];
  }

  /**
   * An epilogue on one matmul tile: inside the matmul where epilogues fuse (a few ALU ops per output
   * on values in registers, no memory pass), else an elementwise pass over the output that reads it,
   * reads one statistic per row and writes it back. PyTorch's eager kernels fuse nothing.
   */
  epilogue(name: string, role: 'norm-scale' | 'softmax-divide-after-v', elements: number, ops: number, rows: number, deps: number[], site: string, extra: VectorExtra = {}, continues = false, joinsStream = false): number {
    const fused = this.ctx.fusedEpilogue && this.ctx.norm !== 'eager';
    return this.g.add({
      ...(joinsStream ? { joinsStream } : {}),
      name,
      role,
      engine: fused ? 'matrix' : 'vector',
      category: 'epilogue',
      work: vec(elements, ops, fused ? 0 : 2 * this.act(elements) + rows * STAT_BYTES, extra),
      deps,
      site,
      fused,
      continues,
    });
  }

  /**
   * A deferred scale applied after RoPE: its own elementwise pass over q and k (r·RoPE(q) = RoPE(r·q)),
   * reading them and one statistic per row and writing them back.
   */
  scaleAfterRope(pending: PendingScale, elements: number, deps: number[]): number {
    const rows = this.rows;
    return this.vector(`${pending.site.norm!.name}.scale(q, k)`, 'norm-scale', vec(elements, OPS.scale, 2 * this.act(elements) + rows * STAT_BYTES, { rsqrts: rows }), [...deps, pending.gathered], 'epilogue', pending.site.id);
  }

  /**
   * The statistic of a norm over `vectors` vectors of `width` values per row (a per-head QK norm has
   * one per head), gathered over the units a vector spans: one kernel, or PyTorch's eager RMSNorm
   * (up-cast to fp32, square, mean, a kernel each, every one a memory pass; the partial sums gathered;
   * then add ε and rsqrt). LayerNorm is one native kernel in PyTorch either way. Returns the op after
   * which the statistic is known on every unit.
   */
  normStatistic(norm: NormSpec, deps: number[], site: string, vectors: number, kernel: NormKernel = this.ctx.norm): number {
    const rows = this.rows * vectors;
    const x = rows * norm.width;
    const ln = norm.kind === 'layernorm';
    // A per-head QK norm runs over head_dim values held by one unit: its statistic needs no gather.
    const gather = (after: number) => (norm.placement === 'qk' ? after : this.collective(`${norm.name}.gather`, 'norm-gather', rows, ln ? 2 : 1, [after], site));
    if (ln || kernel === 'fused') {
      const stats = ln ? 2 : 1;
      return gather(this.vector(`${norm.name}.${ln ? 'Σx,Σx²' : 'Σx²'}`, 'norm-stat', vec(x, ln ? OPS.lnStat : OPS.rmsStat, this.act(x) + rows * stats * STAT_BYTES), deps, 'norm-stat', site));
    }
    const f32 = 4;
    const chain = (kernels: [string, Work][], from: number[]): number => {
      let last = from;
      for (const [what, work] of kernels) last = [this.vector(`${norm.name}.${what}`, 'norm-stat', work, last, 'norm-stat', site)];
      return last[0]!;
    };
    const sum: [string, Work][] = [];
    if (this.ctx.activationBytes < f32) sum.push(['to(float32)', vec(x, 1, this.act(x) + x * f32)]);
    sum.push(['pow(2)', vec(x, 1, 2 * x * f32)], ['mean(-1)', vec(x, 1, x * f32 + rows * STAT_BYTES)]);
    const gathered = gather(chain(sum, deps));
    return chain(
      [
        ['+ eps', vec(rows, 1, 2 * rows * STAT_BYTES)],
        ['rsqrt', vec(rows, 0, 2 * rows * STAT_BYTES, { rsqrts: rows })],
      ],
      [gathered],
    );
  }

  /**
   * Applying a kept norm, in `count` chunks that stream into the matmul tiles: one kernel, or the
   * rest of PyTorch's eager RMSNorm (x·r in fp32, down-cast, ·γ), which runs whole before any tile.
   */
  normApply(norm: NormSpec, gathered: number, count: number, site: string, vectors: number): number[] {
    const rows = this.rows * vectors;
    const x = rows * norm.width;
    const ln = norm.kind === 'layernorm';
    const params = this.act(norm.width * (norm.affine === 'weight+bias' ? 2 : 1));
    if (ln || this.ctx.norm === 'fused') {
      return Array.from({ length: count }, (_, t) =>
        this.vector(
          `${norm.name}.apply[${t + 1}/${count}]`,
          'norm-apply',
          vec(x / count, ln ? OPS.lnApply : OPS.rmsApply, (2 * this.act(x) + rows * (ln ? 2 : 1) * STAT_BYTES) / count + params, { rsqrts: t === 0 ? rows : 0 }),
          [gathered],
          'norm-apply',
          site,
          t > 0,
        ),
      );
    }
    const f32 = 4;
    const kernels: [string, Work][] = [];
    if (this.ctx.eagerNormMultiply === 'activation') {
      // r down-cast, then x·r and ·γ each a pass in the activation dtype (FlashNorm's notebook).
      kernels.push(['r.to(dtype)', vec(rows, 1, rows * STAT_BYTES + this.act(rows))], ['x * r', vec(x, 1, 2 * this.act(x) + this.act(rows))]);
    } else {
      kernels.push(['x * r', vec(x, 1, 2 * x * f32 + rows * STAT_BYTES)]);
      if (this.ctx.activationBytes < f32) kernels.push(['to(dtype)', vec(x, 1, x * f32 + this.act(x))]);
    }
    kernels.push(['γ *', vec(x, 1, 2 * this.act(x) + params)]);
    let last = gathered;
    for (const [what, work] of kernels) last = this.vector(`${norm.name}.${what}`, 'norm-apply', work, [last], 'norm-apply', site);
    return [last];
  }

  /**
   * A norm and the linears it feeds. Kept: statistic → collective → apply → matmuls.
   * Deferred: the matmuls start on the raw input (γ and centering folded into the
   * weights) while the statistic is gathered; each output tile is then scaled.
   * Returns, per consumer name, the ids its normalized output is ready after.
   */
  normSite(site: Site, inputDeps: number[], vectors = 1): Map<string, number[]> {
    const rows = this.rows;
    const norm = site.norm!;
    const ln = norm.kind === 'layernorm';
    const outputs = new Map<string, number[]>();
    // The router goes first so that routed experts can depend on its decision.
    const consumers = [...site.consumers].sort((a, b) => Number(b.role === 'router') - Number(a.role === 'router'));
    const statistic = this.ctx.deferredStatistic;
    // Below its threshold FlashNorm's adaptive dispatch runs the sequential norm: deferral changes nothing.
    const overlaps = statistic !== 'second-stream-from-512' || rows * vectors >= SECOND_STREAM_MIN_ROWS;
    const depth = site.ineligible === null && site.consumers.length > 0 && overlaps ? this.defer(site.id) : null;
    // On a second stream the deferred statistic is one kernel (an inv_rms), whatever the norm's own kernels are.
    const gathered = this.normStatistic(norm, inputDeps, site.id, vectors, depth !== null && statistic !== 'norm-kernels' ? 'fused' : this.ctx.norm);
    if (depth === null) {
      // The normalized rows stream into the matmuls: tile t waits for its own chunk only.
      const { count, byRows } = this.tiling();
      const chunks = this.normApply(norm, gathered, count, site.id, vectors);
      const chunkDeps = (t: number) => (byRows && chunks.length === count ? [chunks[t]!] : chunks);
      for (const lin of consumers) outputs.set(lin.name, this.consumer(lin, [], chunkDeps));
      outputs.set('', chunks);
      return outputs;
    }
    if (depth !== 'linear') this.pending.set(site.id, { site, depth, gathered });
    const secondStream = statistic !== 'norm-kernels';
    let joined = 0;
    for (const lin of consumers) {
      const tiles = this.consumer(lin, inputDeps, undefined, site.id);
      // Deeper than the linear layer: q and k (or the MLP's inputs) leave raw; a later op applies r.
      if (depth !== 'linear' && lin.role !== 'v') {
        outputs.set(lin.name, tiles);
        continue;
      }
      // The scale acts on this chip's share of the output: split only if the linear's columns are.
      const perTile = (rows * shardOf(lin, this.ctx.tp).n * (lin.copies?.active ?? 1)) / Math.max(1, tiles.length);
      const ops = ln || lin.bias ? OPS.scaleBias : OPS.scale;
      if (secondStream) {
        // Joined back from the second stream: one scale kernel over the whole output, after every tile.
        const elements = perTile * tiles.length;
        outputs.set(lin.name, [this.epilogue(`${lin.name}.scale`, 'norm-scale', elements, ops, rows, [...tiles, gathered], site.id, { rsqrts: rows }, false, !joined++)]);
        continue;
      }
      outputs.set(
        lin.name,
        tiles.map((tile, t) => this.epilogue(`${lin.name}.scale[${t + 1}/${tiles.length}]`, 'norm-scale', perTile, ops, rows / tiles.length, [tile, gathered], site.id, { rsqrts: t === 0 ? rows : 0 }, t > 0)),
      );
    }
    outputs.set('', [gathered]);
    return outputs;
  }

  /**
   * A consumer of a norm. The MoE router's top-k is unchanged by a positive scale,
   * so the routing decision is taken on raw logits and does not wait for the
   * statistic; routed experts wait for the routing decision.
   */
  private consumer(lin: LinearSpec, deps: number[], tileDeps?: (t: number) => number[], site?: string): number[] {
    const routed = lin.copies !== undefined && this.routing !== null ? [this.routing] : [];
    const tiles = this.linear(lin, [...deps, ...routed], site, tileDeps);
    if (lin.role === 'router') {
      this.routing = this.vector('router.top-k', 'router-top-k', vec(this.rows * lin.out, 1, this.act(this.rows * lin.out)), tiles, 'elementwise');
    }
    return tiles;
  }

  /**
   * Scores, Softmax and p·V for one attention, split into head groups (tiles).
   * Eager kernels, kept: max → gather → exp → sum → gather → divide over every key → p·V,
   * the score matrix written to and read from memory between them.
   * Eager, deferred: p·V runs on the unnormalized exponentials while the sum (and, for
   * `online`, the max) is gathered; the division then acts on v_head values.
   * Fused (FlashAttention-style): one kernel per head group; scores never reach memory and
   * the division already happens after ·V, so the baseline is the deferred form.
   */
  attention(attn: AttentionSpec, qkDeps: number[], vDeps: number[], cross: boolean, site: Site, logitScale: PendingScale | null = null): number[] {
    const ctx = this.ctx;
    const { heads, kvHeads } = headsOf(attn, ctx.tp);
    const queries = this.rows; // one query row per token, per head
    const keys = keysPerQuery(attn, ctx, cross);
    const mla = attn.mla && ctx.phase === 'decode';
    // MLA decode attends in the latent space (kv_b absorbed into q and o), reading the latent cache.
    const qkDim = mla ? attn.mla!.kvLoraRank + attn.mla!.ropeHeadDim : attn.headDim;
    const vDim = mla ? attn.mla!.kvLoraRank : attn.vHeadDim;
    // Decode reads the cached keys it attends to (a sliding window reads only its window); the new token's come from this step.
    const cachedKeys = cross ? ctx.seq : ctx.phase === 'decode' ? keys - 1 : 0;
    const cacheBytesPerToken = mla ? this.act(qkDim) : this.act(kvHeads * (attn.headDim + attn.vHeadDim));
    const tiles = Math.max(1, Math.min(ctx.tiles, heads));
    const rowsPerTile = (queries * heads) / tiles;
    const kvBytes = (ctx.batch * cachedKeys * cacheBytesPerToken) / tiles;
    const prefix = cross ? 'cross_' : '';
    const outs: number[] = [];
    if (ctx.attention === 'flash') {
      for (let t = 0; t < tiles; t++) {
        const tag = tiles > 1 ? `[${t + 1}/${tiles}]` : '';
        outs.push(
          this.g.add({
            name: `${prefix}flash_attention${tag}`,
            role: 'attention-fused',
            engine: 'matrix',
            category: 'attention',
            // q·Kᵀ and p·V: 2·rows·keys·(qk + v) FLOPs; the cache streams through the kernel.
            work: { kind: 'matmul', m: rowsPerTile, k: keys, n: qkDim + vDim, bytes: kvBytes, tier: 'kv', exps: rowsPerTile * keys },
            // With the norm's scales deferred into the attention, the kernel scales each logit by r_q·r_k before its exp.
            deps: [...qkDeps, ...vDeps, ...(logitScale ? [logitScale.gathered] : [])],
            site: logitScale?.site.id,
            continues: t > 0,
          }),
        );
      }
      return outs;
    }
    const offset = ctx.softmaxOffset;
    const deferred = this.defer(site.id) !== null;
    // A score row spans the units that hold its sequence's cache for its KV head.
    const span = Math.max(1, Math.floor(ctx.computeUnits / (ctx.batch * kvHeads)));
    for (let t = 0; t < tiles; t++) {
      const tag = tiles > 1 ? `[${t + 1}/${tiles}]` : '';
      // q·Kᵀ needs q and k only; V is needed by p·V.
      const deps = [...qkDeps];
      if (cachedKeys > 0) {
        deps.push(this.g.add({ name: `${prefix}kv_cache.read${tag}`, role: 'kv-read', engine: 'memory', category: 'memory', work: { kind: 'memory', bytes: kvBytes, tier: 'kv' }, deps: [] }));
      }
      const elems = rowsPerTile * keys;
      // The score matrix is written by q·Kᵀ and read back by p·V (where activations live in memory).
      const scoresBytes = this.act(elems);
      const scores = this.g.add({ name: `${prefix}q·Kᵀ${tag}`, role: 'scores', engine: 'matrix', category: 'attention', work: { kind: 'matmul', m: rowsPerTile, k: qkDim, n: keys, bytes: scoresBytes, tier: 'activations', exps: 0 }, deps });
      const pv = (d: number[]) =>
        this.g.add({ name: `${prefix}p·V${tag}`, role: 'pv', engine: 'matrix', category: 'attention', work: { kind: 'matmul', m: rowsPerTile, k: keys, n: vDim, bytes: scoresBytes, tier: 'activations', exps: 0 }, deps: [...d, ...vDeps], site: site.id });
      // A row held by one unit has its max and sum locally: no gather, and nothing for online to rescale.
      const gather = (what: string, values: number, deps: number[]) => (span > 1 ? this.collective(`softmax.gather-${what}${tag}`, 'softmax-gather', rowsPerTile, values, deps, site.id, span) : deps[0]!);
      // Passes over the scores: the max reads them; exp-and-sum and the division read and write them.
      const read = scoresBytes;
      const readWrite = 2 * scoresBytes;
      // A norm's scales deferred into the attention: each pass that reads raw logits multiplies them by r_q·r_k (two ops).
      const scaled = logitScale ? { deps: [logitScale.gathered], ops: 2 } : { deps: [], ops: 0 };
      if (!deferred) {
        const max = this.vector(`softmax.max${tag}`, 'softmax-max', vec(elems, 1 + scaled.ops, read), [scores, ...scaled.deps], 'softmax', site.id);
        const exp = this.vector(`softmax.exp-sum${tag}`, 'softmax-exp-sum', vec(elems, 2 + scaled.ops, readWrite, { exps: elems }), [gather('max', 1, [max])], 'softmax', site.id);
        const div = this.vector(`softmax.divide${tag}`, 'softmax-divide', vec(elems, 1, readWrite, { divs: rowsPerTile }), [gather('sum', 1, [exp])], 'softmax', site.id);
        outs.push(pv([div]));
        continue;
      }
      const online = offset === 'online' && span > 1;
      let expDeps = [scores, ...scaled.deps];
      if (offset !== 'bound') {
        const max = this.vector(`softmax.${online ? 'local-max' : 'max'}${tag}`, 'softmax-max', vec(elems, 1 + scaled.ops, read), [scores, ...scaled.deps], 'softmax', site.id);
        expDeps = [online ? max : gather('max', 1, [max])];
      }
      const exp = this.vector(`softmax.exp-sum${tag}`, 'softmax-exp-sum', vec(elems, 2 + scaled.ops, readWrite, { exps: elems }), expDeps, 'softmax', site.id);
      // Online: one gather carries each unit's max and sum; the epilogue rescales by exp(m_unit − m).
      const gathered = gather(online ? 'max-sum' : 'sum', online ? 2 : 1, [exp]);
      const out = pv([exp]);
      const rescale = online ? { ops: 2, exps: rowsPerTile } : { ops: 1, exps: 0 };
      outs.push(this.epilogue(`softmax.divide-after-V${tag}`, 'softmax-divide-after-v', rowsPerTile * vDim, rescale.ops, rowsPerTile, [out, gathered], site.id, { divs: rowsPerTile, exps: rescale.exps }));
    }
    return outs;
  }
}

function findNorm(kind: LayerKind, role: NormSpec['role']): NormSpec | undefined {
  return kind.norms.find((n) => n.role === role);
}

function linearsOf(kind: LayerKind, roles: LinearSpec['role'][]): LinearSpec[] {
  return kind.linears.filter((l) => roles.includes(l.role));
}

/** Tokens one layer of this stack processes in one pass. */
export function rowsFor(kind: LayerKind, ctx: GraphContext, topology: ModelSpec['topology']): number {
  if (ctx.phase === 'decode') return ctx.batch;
  // Prefill of an encoder-decoder: the encoder reads the prompt, the decoder makes its first token.
  if (topology === 'encoder-decoder' && kind.stack === 'decoder') return ctx.batch;
  return ctx.batch * ctx.seq;
}

/**
 * Wires one layer: norms to the linears they feed, attention, MLP, residuals.
 * `ready` maps a linear's name to the ops after which its (normalized) output
 * exists; norms fill it, later stages read it.
 */
class BlockAssembler {
  private readonly sites: Site[];
  private readonly ready = new Map<string, number[]>();

  constructor(
    private readonly b: LayerBuilder,
    private readonly kind: LayerKind,
    /** Rotary position embeddings are applied to q and k (other position schemes cost nothing here). */
    private readonly rope: boolean,
    attention: GraphContext['attention'],
    positions: ModelSpec['positions'],
  ) {
    this.sites = layerSites(kind, attention, positions);
  }

  /** Builds a norm site (if the norm exists) and returns what its output is ready after; `vectors` per token (heads of a QK norm). */
  norm(norm: NormSpec | undefined, deps: number[], vectors = 1): number[] {
    const site = norm && this.sites.find((s) => s.norm === norm);
    if (!site) return deps;
    const outs = this.b.normSite(site, deps, vectors);
    for (const [name, ids] of outs) if (name) this.ready.set(name, ids);
    return outs.get('') ?? deps;
  }

  /** A linear's output: built by its norm already, or built now on `deps`. */
  output(lin: LinearSpec, deps: number[]): number[] {
    return this.ready.get(lin.name) ?? this.b.linear(lin, deps);
  }

  outputs(roles: LinearSpec['role'][], deps: number[]): number[] {
    return linearsOf(this.kind, roles).flatMap((l) => this.output(l, deps));
  }

  site(id: string): Site {
    return this.sites.find((s) => s.id === id)!;
  }

  /** The scale of this block's `attn` or `mlp` norm, when it was deferred deeper than the linear layer. */
  private pendingFor(role: 'attn' | 'mlp'): PendingScale | undefined {
    const site = this.sites.find((s) => s.norm?.role === role);
    return site ? this.b.pending.get(site.id) : undefined;
  }

  build(): void {
    const { b, kind } = this;
    const post = kind.block === 'post-norm';
    const parallel = kind.block === 'parallel';
    const input: number[] = [];

    const attnIn = this.norm(post ? undefined : findNorm(kind, 'attn'), input);
    // NeoX-style parallel blocks normalize the same input twice; both norms start at once.
    if (parallel) this.norm(findNorm(kind, 'mlp'), input);

    const attnOut = this.selfAttention(attnIn);
    // A parallel block sums attention, MLP and input once, below.
    let residual = parallel ? input : this.closeSublayer(attnOut, 'attn', input);

    if (kind.crossAttention) {
      const crossIn = this.norm(post ? undefined : findNorm(kind, 'cross'), residual);
      const q = this.outputs(['cross_q'], crossIn);
      const pv = b.attention(kind.crossAttention, q, [], true, this.site('cross-softmax'));
      residual = this.closeSublayer(this.outputs(['cross_o'], pv), 'cross', residual);
    }

    const mlpIn = parallel ? attnIn : this.norm(post ? undefined : findNorm(kind, 'mlp'), residual);
    const mlpOut = this.mlp(mlpIn);
    if (parallel) {
      const sum = b.vector('residual(x + attn + mlp)', 'residual', vec(b.rows * b.hidden, 2, b.act(4 * b.rows * b.hidden)), [...attnOut, ...mlpOut], 'elementwise');
      b.allReduce('all-reduce(attn + mlp)', [sum], b.hidden);
    } else {
      this.closeSublayer(mlpOut, 'mlp', residual);
    }
  }

  /** Reduce over TP chips, apply a sandwich norm if any, add the residual, apply a post-norm if any. */
  private closeSublayer(outs: number[], sublayer: 'attn' | 'cross' | 'mlp', residual: number[]): number[] {
    const { b, kind } = this;
    const reduced = b.allReduce(`all-reduce(${sublayer})`, outs, b.hidden);
    const sandwich = kind.block === 'sandwich' ? findNorm(kind, `${sublayer}-post`) : undefined;
    const normed = this.norm(sandwich, reduced);
    const add = b.vector(`residual(${sublayer})`, 'residual', vec(b.rows * b.hidden, OPS.residual, b.act(3 * b.rows * b.hidden)), [...normed, ...residual], 'elementwise');
    if (kind.block !== 'post-norm') return [add];
    const postNorm = kind.norms.find((n) => n.placement === 'post' && (n.role === `${sublayer}-post` || n.role === sublayer));
    return this.norm(postNorm, [add]);
  }

  private selfAttention(attnIn: number[]): number[] {
    const { b, kind } = this;
    const attn = kind.attention;
    let q: number[];
    let kv: number[];
    if (attn.mla) {
      const qa = linearsOf(kind, ['q_a'])[0];
      const qb = linearsOf(kind, ['q_b', 'q'])[0]!;
      if (qa) {
        const qaOut = this.output(qa, attnIn);
        q = this.output(qb, this.norm(findNorm(kind, 'q-latent'), qaOut));
      } else {
        q = this.output(qb, attnIn);
      }
      const kvaOut = this.outputs(['kv_a'], attnIn);
      kv = this.outputs(['kv_b'], this.norm(findNorm(kind, 'kv-latent'), kvaOut));
    } else {
      q = this.outputs(['q', 'qkv'], attnIn);
      kv = this.outputs(['k'], attnIn);
    }
    const v = attn.mla ? [] : this.outputs(['v'], attnIn);
    const { heads, kvHeads } = headsOf(attn, b.ctx.tp);
    // Per-head QK norms: one statistic per head, local, applied before the rotary embedding; V is not normalized.
    q = this.norm(findNorm(kind, 'q'), q, heads);
    if (kv.length > 0) kv = this.norm(findNorm(kind, 'k'), kv, kvHeads);
    let qk = [...q, ...kv];
    // MLA rotates only the rope part of each query head and the one key part all heads share.
    const qkValues = attn.mla ? b.rows * (heads + 1) * attn.mla.ropeHeadDim : b.rows * (heads + kvHeads) * attn.headDim;
    if (this.rope) {
      // Reads q and k and the cos/sin of each position, writes the rotated q and k.
      qk = [b.vector('rope(q, k)', 'rope', vec(qkValues, OPS.rope, b.act(3 * qkValues)), qk, 'elementwise')];
    }
    const late = this.pendingFor('attn');
    if (late?.depth === 'rope') qk = [b.scaleAfterRope(late, qkValues, qk)];
    const pv = b.attention(attn, qk, v, false, this.site('softmax'), late?.depth === 'attention' ? late : null);
    return this.outputs(['o'], pv);
  }

  /** Dense or gated MLP, or MoE: routed experts (after the routing decision) plus shared experts, then the combine. */
  private mlp(mlpIn: number[]): number[] {
    const { b, kind } = this;
    const m = kind.mlp;
    const act = activationCost(m.activation);
    const router = linearsOf(kind, ['router'])[0];
    if (router && !this.ready.has(router.name)) this.output(router, mlpIn);
    const paths = [
      { up: linearsOf(kind, ['gate', 'up', 'gate_up', 'fc1']), down: linearsOf(kind, ['down'])[0], width: m.ffn },
      { up: linearsOf(kind, ['shared_gate', 'shared_up']), down: linearsOf(kind, ['shared_down'])[0], width: m.sharedFfn ?? 0 },
    ].filter((p) => p.up.length > 0);
    const outs: number[] = [];
    for (const path of paths) {
      const routed = path.up.some((l) => l.copies !== undefined);
      const upOuts = path.up.flatMap((l) => this.ready.get(l.name) ?? b.linear(l, [...mlpIn, ...(routed && b.routingDecision() !== null ? [b.routingDecision()!] : [])]));
      const active = path.down?.copies?.active ?? 1;
      const width = (path.down ? shardOf(path.down, b.ctx.tp).k : Math.ceil(path.width / b.ctx.tp)) * active;
      const values = b.rows * width;
      const actOp = b.vector(
        `${m.activation}${m.gated ? ' ⊙ up' : ''}`,
        'activation',
        vec(values, act.ops + (m.gated ? OPS.gatedMul : 0), b.act((m.gated ? 3 : 2) * values), { exps: values * act.exps, divs: values * act.divs }),
        upOuts,
        'elementwise',
      );
      if (!path.down) continue;
      const downs = b.linear(path.down, [actOp]);
      const late = this.pendingFor('mlp');
      if (late?.depth !== 'down' || routed) {
        outs.push(...downs);
        continue;
      }
      // ReLU(r·a) = r·ReLU(a): the MLP ran on raw rows; r (r² when gated) scales the down projection's output.
      const perTile = (b.rows * shardOf(path.down, b.ctx.tp).n) / downs.length;
      outs.push(...downs.map((tile, t) => b.epilogue(`${path.down!.name}.scale[${t + 1}/${downs.length}]`, 'norm-scale', perTile, OPS.scale, b.rows / downs.length, [tile, late.gathered], late.site.id, { rsqrts: t === 0 ? b.rows : 0 }, t > 0)));
    }
    if (!router) return outs;
    // Gate weights need the normalized logits: the softmax over experts waits for the router's scaled output.
    const logits = b.rows * router.out;
    const weights = b.vector('router.softmax', 'router-softmax', vec(logits, 2, b.act(2 * logits), { exps: logits }), this.ready.get(router.name) ?? [], 'elementwise');
    const topK = m.topK ?? 1;
    // Reads each token's top-k expert outputs and writes their weighted sum.
    return [b.vector('moe.combine', 'moe-combine', vec(b.rows * b.hidden * topK, 2, b.act(b.rows * b.hidden * (topK + 1))), [...outs, weights], 'elementwise')];
  }
}

/** The graph of one layer of `kind` for one pass. */
export function buildLayerGraph(spec: ModelSpec, kind: LayerKind, ctx: GraphContext, defer: DeferChoice): LayerGraph {
  const b = new LayerBuilder(ctx, defer, rowsFor(kind, ctx, spec.topology), spec.hidden);
  new BlockAssembler(b, kind, spec.positions === 'rope', ctx.attention, spec.positions).build();
  return b.build();
}

/** The final norm and lm_head (logits of the last token of each sequence). */
export function buildHeadGraph(spec: ModelSpec, ctx: GraphContext, defer: DeferChoice): LayerGraph | null {
  const [site] = headSites(spec);
  if (!site) return null;
  const b = new LayerBuilder(ctx, defer, ctx.batch, spec.hidden);
  b.normSite(site, []);
  return b.build();
}

/** One norm site alone, the norm and the linears it feeds, as the FlashNorm benchmark times it. */
export function buildSiteGraph(spec: ModelSpec, kind: LayerKind, site: Site, ctx: GraphContext, defer: DeferChoice): LayerGraph {
  const b = new LayerBuilder(ctx, defer, rowsFor(kind, ctx, spec.topology), spec.hidden);
  b.normSite(site, []);
  return b.build();
}
