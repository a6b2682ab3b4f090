/**
 * The graph of one layer: norms wired to the linears they feed, attention, MLP and residuals, for
 * the block structure the spec names (pre-norm, post-norm, sandwich, parallel), on a LayerBuilder.
 */
import type { LayerKind, LinearSpec, ModelSpec, NormSpec } from '../model/spec';
import { LayerBuilder } from './attention-ops';
import { activationCost, OPS, rowsFor, vec, type DeferChoice, type GraphContext, type PendingScale } from './context';
import type { LayerGraph } from './ops';
import { headsOf, shardOf } from './shard';
import { headSites, sitesOfKind, type Site } from './sites';

export { keysPerQuery, rowsFor, SECOND_STREAM_MIN_ROWS, type DeferChoice, type GraphContext, type PendingScale } from './context';

function findNorm(kind: LayerKind, role: NormSpec['role']): NormSpec | undefined {
  return kind.norms.find((n) => n.role === role);
}

function linearsOf(kind: LayerKind, roles: LinearSpec['role'][]): LinearSpec[] {
  return kind.linears.filter((l) => roles.includes(l.role));
}

/**
 * Wires one layer: norms to the linears they feed, attention, MLP, residuals.
 * `ready` maps a linear to the ops after which its (normalized) output
 * exists; norms fill it, later stages read it.
 */
class BlockAssembler {
  private readonly sites: Site[];
  private readonly ready = new Map<LinearSpec, number[]>();

  constructor(
    private readonly b: LayerBuilder,
    private readonly kind: LayerKind,
    /** Rotary position embeddings are applied to q and k (other position schemes cost nothing here). */
    private readonly rope: boolean,
    attention: GraphContext['attention'],
    positions: ModelSpec['positions'],
  ) {
    this.sites = sitesOfKind(kind, attention, positions);
  }

  /** Builds a norm site (if the norm exists) and returns what its output is ready after; `vectors` per token (heads of a QK norm). */
  norm(norm: NormSpec | undefined, deps: number[], vectors = 1): number[] {
    const site = norm && this.sites.find((s) => s.norm === norm);
    if (!site) return deps;
    const { normalized, outputs } = this.b.normSite(site, deps, vectors);
    for (const [lin, ids] of outputs) this.ready.set(lin, ids);
    return normalized;
  }

  /** A linear's output: built by its norm already, or built now on `deps`. */
  output(lin: LinearSpec, deps: number[]): number[] {
    return this.ready.get(lin) ?? this.b.linear(lin, deps);
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
    const act = activationCost(m.activationKind);
    const router = linearsOf(kind, ['router'])[0];
    if (router && !this.ready.has(router)) this.output(router, mlpIn);
    const paths = [
      { up: linearsOf(kind, ['gate', 'up', 'gate_up', 'fc1']), down: linearsOf(kind, ['down'])[0], width: m.ffn },
      { up: linearsOf(kind, ['shared_gate', 'shared_up']), down: linearsOf(kind, ['shared_down'])[0], width: m.sharedFfn ?? 0 },
    ].filter((p) => p.up.length > 0);
    const outs: number[] = [];
    for (const path of paths) {
      const routed = path.up.some((l) => l.copies !== undefined);
      const upOuts = path.up.flatMap((l) => this.ready.get(l) ?? b.linear(l, [...mlpIn, ...(routed && b.routingDecision() !== null ? [b.routingDecision()!] : [])]));
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
      outs.push(...b.scaleEachTile(path.down, downs, perTile, OPS.scale, late.gathered, late.site.id));
    }
    if (!router) return outs;
    // Gate weights need the normalized logits: the softmax over experts waits for the router's scaled output.
    const logits = b.rows * router.out;
    const weights = b.vector('router.softmax', 'router-softmax', vec(logits, 2, b.act(2 * logits), { exps: logits }), this.ready.get(router) ?? [], 'elementwise');
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
