/**
 * The primitives a layer's graph is built from: a linear layer's tiles (and their weight loads),
 * vector ops, statistic gathers, all-reduces and epilogues. Each op is given what it is (role, the
 * linear, tile, site) where it is built. Norm sites (norm-ops.ts) and attention (attention-ops.ts)
 * extend this builder: one class split by concern, since they share the graph and the routing state.
 */
import type { LinearSpec } from '../model/spec';
import { STAT_BYTES, tileOf, tileTag, vec, type DeferChoice, type GraphContext, type OpAbout, type PendingScale, type VectorExtra } from './context';
import { GraphBuilder, type LayerGraph, type OpCategory, type OpRole, type Work } from './ops';
import { shardOf } from './shard';

export class OpBuilder {
  protected readonly g = new GraphBuilder();

  /** The MoE routing decision, once the router has been built: routed experts wait for it. */
  protected routing: number | null = null;

  /** Scales deferred deeper than the linear layer, by site id: later stages of the block apply them. */
  readonly pending = new Map<string, PendingScale>();

  constructor(
    readonly ctx: GraphContext,
    protected readonly defer: DeferChoice,
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
    const loads = bytes > 0 && this.ctx.prefetch;
    // Every tile does the same work (and loads the same bytes): one object each, shared by the tiles.
    const work: Work = { kind: 'matmul', m: byRows ? m / tiles : m, k, n: byRows ? n : n / tiles, bytes: this.ctx.prefetch ? 0 : bytes, tier: 'weights', exps: 0, gemm: { m, n } };
    const load: Work | null = loads ? { kind: 'memory', bytes, tier: 'weights' } : null;
    const ids: number[] = [];
    for (let t = 0; t < tiles; t++) {
      let inputs = tileDeps ? (deps.length === 0 ? tileDeps(t) : deps.concat(tileDeps(t))) : deps;
      const tile = tileOf(t, tiles);
      if (load) {
        inputs = inputs.concat(this.g.add({ name: `${lin.name}.load${tileTag(t, tiles)}`, role: 'weight-load', linear: lin, tile, engine: 'memory', category: 'memory', work: load, deps: [] }));
      }
      ids.push(
        this.g.add({
          name: tiles > 1 ? lin.name + tileTag(t, tiles) : lin.name,
          role: 'linear',
          linear: lin,
          tile,
          engine: 'matrix',
          category: 'linear',
          work,
          deps: inputs,
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

  vector(name: string, role: OpRole, work: Work, deps: number[], category: Extract<OpCategory, 'norm-stat' | 'norm-apply' | 'softmax' | 'epilogue' | 'elementwise'>, site?: string, continues = false, about?: OpAbout): number {
    return this.g.add({ name, role, linear: about?.linear, tile: about?.tile, attention: about?.attention, normStep: about?.normStep, engine: 'vector', category, work, deps, site, continues });
  }

  /** Bytes of `values` activations. */
  act(values: number): number {
    return values * this.ctx.activationBytes;
  }

  /** A gather and broadcast of per-row statistics over the `units` a row spans (all P by default). */
  collective(name: string, role: 'norm-gather' | 'softmax-gather', rows: number, values: number, deps: number[], site?: string, units = this.ctx.computeUnits, about?: OpAbout): number {
    return this.g.add({
      name,
      role,
      linear: about?.linear,
      tile: about?.tile,
      attention: about?.attention,
      normStep: about?.normStep,
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

  /** Whether epilogues run inside the matmul that produces their input (PyTorch's eager kernels fuse nothing). */
  private get epiloguesFuse(): boolean {
    return this.ctx.fusedEpilogue && this.ctx.norm !== 'eager';
  }

  /**
   * The work of an epilogue over `elements` outputs of `rows` rows: a few ALU ops per output inside the
   * matmul where epilogues fuse (values in registers, no memory pass), else an elementwise pass that
   * reads the output and one statistic per row and writes the output back.
   */
  epilogueWork(elements: number, ops: number, rows: number, extra: VectorExtra = {}): Work {
    return vec(elements, ops, this.epiloguesFuse ? 0 : 2 * this.act(elements) + rows * STAT_BYTES, extra);
  }

  /** An epilogue on one matmul tile, doing `work` (epilogueWork): on the matrix engine where epilogues fuse. */
  epilogue(name: string, role: 'norm-scale' | 'softmax-divide-after-v', work: Work, deps: number[], site: string, about: OpAbout, continues = false, joinsStream = false): number {
    const fused = this.epiloguesFuse;
    return this.g.add({
      name,
      role,
      linear: about?.linear,
      tile: about?.tile,
      attention: about?.attention,
      normStep: about?.normStep,
      engine: fused ? 'matrix' : 'vector',
      category: 'epilogue',
      work,
      deps,
      site,
      fused,
      continues,
      joinsStream: joinsStream || undefined,
    });
  }

  /**
   * A deferred scale r on each output tile of `lin`, `elements` values each, once r is `gathered`. The
   * first tile also computes r (one rsqrt per row); the other tiles share one work object.
   */
  scaleEachTile(lin: LinearSpec, tiles: number[], elements: number, ops: number, gathered: number, site: string): number[] {
    const count = tiles.length;
    const rows = this.rows / count;
    const first = this.epilogueWork(elements, ops, rows, { rsqrts: this.rows });
    const rest = count > 1 ? this.epilogueWork(elements, ops, rows) : first;
    return tiles.map((tile, t) => this.epilogue(`${lin.name}.scale${tileTag(t, count)}`, 'norm-scale', t === 0 ? first : rest, [tile, gathered], site, { linear: lin, tile: tileOf(t, count) }, t > 0));
  }
}
