import type { AttentionSpec, LayerKind, LinearSpec, ModelSpec, NormSpec } from '../model/spec';
import type { SoftmaxOffset } from '../numerics/types';
import type { Phase } from '../workload';
import { GraphBuilder, type LayerGraph, type Work } from './ops';
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
}

/** Which eligible sites are deferred; ineligible sites are always kept. */
export type DeferChoice = (siteId: string) => boolean;

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

const vec = (elements: number, ops: number, extra: Partial<Omit<Extract<Work, { kind: 'vector' }>, 'kind'>> = {}): Work => ({
  kind: 'vector',
  elements,
  ops,
  exps: extra.exps ?? 0,
  rsqrts: extra.rsqrts ?? 0,
  divs: extra.divs ?? 0,
});

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

/** Column-parallel layers split their outputs over TP chips, row-parallel ones their inputs. */
const ROW_PARALLEL = new Set(['o', 'down', 'cross_o', 'shared_down']);
const UNSHARDED = new Set(['router', 'q_a', 'kv_a']);

class LayerBuilder {
  private readonly g = new GraphBuilder();

  /** The MoE routing decision, once the router has been built: routed experts wait for it. */
  private routing: number | null = null;

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
    const { tp } = this.ctx;
    const rowParallel = ROW_PARALLEL.has(lin.role);
    const sharded = tp > 1 && !UNSHARDED.has(lin.role);
    const k = sharded && rowParallel ? Math.ceil(lin.in / tp) : lin.in;
    const n = sharded && !rowParallel ? Math.ceil(lin.out / tp) : lin.out;
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
        all.push(this.g.add({ name: `${lin.name}.load[${t + 1}/${tiles}]`, engine: 'memory', category: 'memory', work: { kind: 'memory', bytes, tier: 'weights' }, deps: [] }));
      }
      ids.push(
        this.g.add({
          name: tiles > 1 ? `${lin.name}[${t + 1}/${tiles}]` : lin.name,
          engine: 'matrix',
          category: 'linear',
          work: { kind: 'matmul', m: byRows ? m / tiles : m, k, n: byRows ? n : n / tiles, weightBytes: this.ctx.prefetch ? 0 : bytes },
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

  vector(name: string, work: Work, deps: number[], category: 'norm-stat' | 'norm-apply' | 'softmax' | 'epilogue' | 'elementwise', site?: string, continues = false): number {
    return this.g.add({ name, engine: 'vector', category, work, deps, site, continues });
  }

  /** A gather and broadcast of per-row statistics over the `units` a row spans (all P by default). */
  collective(name: string, rows: number, values: number, deps: number[], site?: string, units = this.ctx.computeUnits): number {
    return this.g.add({
      name,
      engine: 'collective',
      category: 'stat-collective',
      work: { kind: 'collective', rows, values, units },
      deps,
      site,
    });
  }

  allReduce(name: string, deps: number[], width: number): number[] {
    if (this.ctx.tp <= 1) return deps;
    return [this.g.add({ name, engine: 'collective', category: 'allreduce', work: { kind: 'allreduce', bytes: this.rows * width * this.ctx.activationBytes }, deps })];
  }

  /** An epilogue on one matmul tile: on the vector engine, or inside the matmul where epilogues fuse. */
  epilogue(name: string, elements: number, ops: number, deps: number[], site: string, extra: { rsqrts?: number; divs?: number; exps?: number } = {}, continues = false): number {
    return this.g.add({
      name,
      engine: this.ctx.fusedEpilogue ? 'matrix' : 'vector',
      category: 'epilogue',
      work: vec(elements, ops, extra),
      deps,
      site,
      fused: this.ctx.fusedEpilogue,
      continues,
    });
  }

  /**
   * A norm and the linears it feeds. Kept: statistic → collective → apply → matmuls.
   * Deferred: the matmuls start on the raw input (γ and centering folded into the
   * weights) while the statistic is gathered; each output tile is then scaled.
   * Returns, per consumer name, the ids its normalized output is ready after.
   */
  normSite(site: Site, inputDeps: number[]): Map<string, number[]> {
    const rows = this.rows;
    const norm = site.norm!;
    const width = norm.width;
    const ln = norm.kind === 'layernorm';
    const outputs = new Map<string, number[]>();
    // The router goes first so that routed experts can depend on its decision.
    const consumers = [...site.consumers].sort((a, b) => Number(b.role === 'router') - Number(a.role === 'router'));
    const stat = this.vector(`${norm.name}.${ln ? 'Σx,Σx²' : 'Σx²'}`, vec(rows * width, ln ? OPS.lnStat : OPS.rmsStat), inputDeps, 'norm-stat', site.id);
    // A per-head QK norm runs over head_dim values held by one unit: its statistic needs no gather.
    const gathered = norm.placement === 'qk' ? stat : this.collective(`${norm.name}.gather`, rows, ln ? 2 : 1, [stat], site.id);
    const deferred = site.ineligible === null && site.consumers.length > 0 && this.defer(site.id);
    if (!deferred) {
      // The normalized rows stream into the matmuls: tile t waits for its own chunk only.
      const { count, byRows } = this.tiling();
      const chunks = Array.from({ length: count }, (_, t) =>
        this.vector(`${norm.name}.apply[${t + 1}/${count}]`, vec((rows * width) / count, ln ? OPS.lnApply : OPS.rmsApply, { rsqrts: t === 0 ? rows : 0 }), [gathered], 'norm-apply', site.id, t > 0),
      );
      const chunkDeps = (t: number) => (byRows ? [chunks[t]!] : chunks);
      for (const lin of consumers) outputs.set(lin.name, this.consumer(lin, [], chunkDeps));
      outputs.set('', chunks);
      return outputs;
    }
    for (const lin of consumers) {
      const tiles = this.consumer(lin, inputDeps, undefined, site.id);
      const n = lin.out * (lin.copies?.active ?? 1);
      const perTile = (rows * n) / Math.max(1, tiles.length) / (ROW_PARALLEL.has(lin.role) ? 1 : this.ctx.tp);
      const ops = ln || lin.bias ? OPS.scaleBias : OPS.scale;
      outputs.set(
        lin.name,
        tiles.map((tile, t) => this.epilogue(`${lin.name}.scale[${t + 1}/${tiles.length}]`, perTile, ops, [tile, gathered], site.id, { rsqrts: t === 0 ? rows : 0 }, t > 0)),
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
      this.routing = this.vector('router.top-k', vec(this.rows * lin.out, 1), tiles, 'elementwise');
    }
    return tiles;
  }

  /**
   * Scores, Softmax and p·V for one attention, split into head groups (tiles).
   * Kept: max → gather → exp → sum → gather → divide over every key → p·V.
   * Deferred: p·V runs on the unnormalized exponentials while the sum (and, for
   * `online`, the max) is gathered; the division then acts on v_head values.
   */
  attention(attn: AttentionSpec, qDeps: number[], kvDeps: number[], cross: boolean, site: Site): number[] {
    const ctx = this.ctx;
    const heads = Math.ceil(attn.heads / ctx.tp);
    const kvHeads = Math.max(1, Math.ceil(attn.kvHeads / ctx.tp));
    const queries = this.rows; // one query row per token, per head
    const keys = keysPerQuery(attn, ctx, cross);
    const mla = attn.mla && ctx.phase === 'decode';
    // MLA decode attends in the latent space (kv_b absorbed into q and o), reading the latent cache.
    const qkDim = mla ? attn.mla!.kvLoraRank + attn.mla!.ropeHeadDim : attn.headDim;
    const vDim = mla ? attn.mla!.kvLoraRank : attn.vHeadDim;
    const cachedKeys = ctx.phase === 'decode' || cross ? (cross ? ctx.seq : ctx.context) : 0;
    const cacheBytesPerToken = mla ? qkDim * ctx.activationBytes : kvHeads * (attn.headDim + attn.vHeadDim) * ctx.activationBytes;
    const tiles = Math.max(1, Math.min(ctx.tiles, heads));
    const rowsPerTile = (queries * heads) / tiles;
    const offset = ctx.softmaxOffset;
    const deferred = this.defer(site.id);
    // A score row spans the units that hold its sequence's cache for its KV head.
    const span = Math.max(1, Math.floor(ctx.computeUnits / (ctx.batch * kvHeads)));
    const outs: number[] = [];
    for (let t = 0; t < tiles; t++) {
      const tag = tiles > 1 ? `[${t + 1}/${tiles}]` : '';
      const deps = [...qDeps, ...kvDeps];
      if (cachedKeys > 0) {
        const bytes = (ctx.batch * cachedKeys * cacheBytesPerToken) / tiles;
        deps.push(this.g.add({ name: `${cross ? 'cross_' : ''}kv_cache.read${tag}`, engine: 'memory', category: 'memory', work: { kind: 'memory', bytes, tier: 'kv' }, deps: [] }));
      }
      const scores = this.g.add({ name: `${cross ? 'cross_' : ''}q·Kᵀ${tag}`, engine: 'matrix', category: 'attention', work: { kind: 'matmul', m: rowsPerTile, k: qkDim, n: keys, weightBytes: 0 }, deps });
      const elems = rowsPerTile * keys;
      const pv = (d: number[]) =>
        this.g.add({ name: `${cross ? 'cross_' : ''}p·V${tag}`, engine: 'matrix', category: 'attention', work: { kind: 'matmul', m: rowsPerTile, k: keys, n: vDim, weightBytes: 0 }, deps: d, site: site.id });
      // A row held by one unit has its max and sum locally: no gather, and nothing for online to rescale.
      const gather = (what: string, values: number, deps: number[]) => (span > 1 ? this.collective(`softmax.gather-${what}${tag}`, rowsPerTile, values, deps, site.id, span) : deps[0]!);
      if (!deferred) {
        const max = this.vector(`softmax.max${tag}`, vec(elems, 1), [scores], 'softmax', site.id);
        const exp = this.vector(`softmax.exp-sum${tag}`, vec(elems, 2, { exps: elems }), [gather('max', 1, [max])], 'softmax', site.id);
        const div = this.vector(`softmax.divide${tag}`, vec(elems, 1, { divs: rowsPerTile }), [gather('sum', 1, [exp])], 'softmax', site.id);
        outs.push(pv([div]));
        continue;
      }
      const online = offset === 'online' && span > 1;
      let expDeps = [scores];
      if (offset !== 'bound') {
        const max = this.vector(`softmax.${online ? 'local-max' : 'max'}${tag}`, vec(elems, 1), [scores], 'softmax', site.id);
        expDeps = [online ? max : gather('max', 1, [max])];
      }
      const exp = this.vector(`softmax.exp-sum${tag}`, vec(elems, 2, { exps: elems }), expDeps, 'softmax', site.id);
      // Online: one gather carries each unit's max and sum; the epilogue rescales by exp(m_unit − m).
      const gathered = gather(online ? 'max-sum' : 'sum', online ? 2 : 1, [exp]);
      const out = pv([exp]);
      const rescale = online ? { ops: 2, exps: rowsPerTile } : { ops: 1, exps: 0 };
      outs.push(this.epilogue(`softmax.divide-after-V${tag}`, rowsPerTile * vDim, rescale.ops, [out, gathered], site.id, { divs: rowsPerTile, exps: rescale.exps }));
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
  ) {
    this.sites = layerSites(kind);
  }

  /** Builds a norm site (if the norm exists) and returns what its output is ready after. */
  norm(norm: NormSpec | undefined, deps: number[]): number[] {
    const site = norm && this.sites.find((s) => s.norm === norm);
    if (!site) return deps;
    const outs = this.b.normSite(site, deps);
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
      const sum = b.vector('residual(x + attn + mlp)', vec(b.rows * b.hidden, 2), [...attnOut, ...mlpOut], 'elementwise');
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
    const add = b.vector(`residual(${sublayer})`, vec(b.rows * b.hidden, OPS.residual), [...normed, ...residual], 'elementwise');
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
    // Per-head QK norms: local statistics, applied before the rotary embedding; V is not normalized.
    q = this.norm(findNorm(kind, 'q'), q);
    if (kv.length > 0) kv = this.norm(findNorm(kind, 'k'), kv);
    let qk = [...q, ...kv];
    if (this.rope) {
      const heads = Math.ceil(attn.heads / b.ctx.tp);
      const kvHeads = Math.max(1, Math.ceil(attn.kvHeads / b.ctx.tp));
      qk = [b.vector('rope(q, k)', vec(b.rows * (heads + kvHeads) * attn.headDim, OPS.rope), qk, 'elementwise')];
    }
    const pv = b.attention(attn, qk, v, false, this.site('softmax'));
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
      const width = Math.ceil(path.width / b.ctx.tp) * active;
      const actOp = b.vector(
        `${m.activation}${m.gated ? ' ⊙ up' : ''}`,
        vec(b.rows * width, act.ops + (m.gated ? OPS.gatedMul : 0), { exps: b.rows * width * act.exps, divs: b.rows * width * act.divs }),
        upOuts,
        'elementwise',
      );
      if (path.down) outs.push(...b.linear(path.down, [actOp]));
    }
    if (!router) return outs;
    // Gate weights need the normalized logits: the softmax over experts waits for the router's scaled output.
    const weights = b.vector('router.softmax', vec(b.rows * router.out, 2, { exps: b.rows * router.out }), this.ready.get(router.name) ?? [], 'elementwise');
    const topK = m.topK ?? 1;
    return [b.vector('moe.combine', vec(b.rows * b.hidden * topK, 2), [...outs, weights], 'elementwise')];
  }
}

/** The graph of one layer of `kind` for one pass. */
export function buildLayerGraph(spec: ModelSpec, kind: LayerKind, ctx: GraphContext, defer: DeferChoice): LayerGraph {
  const b = new LayerBuilder(ctx, defer, rowsFor(kind, ctx, spec.topology), spec.hidden);
  new BlockAssembler(b, kind, spec.positions === 'rope').build();
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
