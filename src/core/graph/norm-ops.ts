/**
 * A norm and the linears it feeds, kept or deferred (DESIGN.md §1): the statistic (one kernel or
 * PyTorch's eager chain), its gather, the apply in chunks that stream into the matmul tiles, or the
 * deferred form's matmuls on raw rows and per-row scales on their outputs.
 */
import type { NormKernel } from '../hardware/profile';
import type { LinearSpec, NormSpec } from '../model/spec';
import { OPS, SECOND_STREAM_MIN_ROWS, STAT_BYTES, tileOf, tileTag, vec, type PendingScale } from './context';
import { OpBuilder } from './op-builder';
import type { NormStep, Work } from './ops';
import { shardOf } from './shard';
import type { Site } from './sites';

export class NormOpBuilder extends OpBuilder {
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
      return gather(this.vector(`${norm.name}.${ln ? 'Σx,Σx²' : 'Σx²'}`, 'norm-stat', vec(x, ln ? OPS.lnStat : OPS.rmsStat, this.act(x) + rows * stats * STAT_BYTES), deps, 'norm-stat', site, false, { normStep: 'fused' }));
    }
    const f32 = 4;
    const chain = (kernels: [string, NormStep, Work][], from: number[]): number => {
      let last = from;
      for (const [what, normStep, work] of kernels) last = [this.vector(`${norm.name}.${what}`, 'norm-stat', work, last, 'norm-stat', site, false, { normStep })];
      return last[0]!;
    };
    const sum: [string, NormStep, Work][] = [];
    if (this.ctx.activationBytes < f32) sum.push(['to(float32)', 'up-cast', vec(x, 1, this.act(x) + x * f32)]);
    sum.push(['pow(2)', 'square', vec(x, 1, 2 * x * f32)], ['mean(-1)', 'mean', vec(x, 1, x * f32 + rows * STAT_BYTES)]);
    const gathered = gather(chain(sum, deps));
    return chain(
      [
        ['+ eps', '+ eps', vec(rows, 1, 2 * rows * STAT_BYTES)],
        ['rsqrt', 'rsqrt', vec(rows, 0, 2 * rows * STAT_BYTES, { rsqrts: rows })],
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
      // The first chunk also computes r from the statistic (its rsqrts); the others share one work object.
      const chunk = (rsqrts: number) => vec(x / count, ln ? OPS.lnApply : OPS.rmsApply, (2 * this.act(x) + rows * (ln ? 2 : 1) * STAT_BYTES) / count + params, { rsqrts });
      const first = chunk(rows);
      const rest = count > 1 ? chunk(0) : first;
      const deps = [gathered];
      return Array.from({ length: count }, (_, t) => this.vector(`${norm.name}.apply${tileTag(t, count)}`, 'norm-apply', t === 0 ? first : rest, deps, 'norm-apply', site, t > 0, { normStep: 'chunk', tile: tileOf(t, count) }));
    }
    const f32 = 4;
    const kernels: [string, NormStep, Work][] = [];
    if (this.ctx.eagerNormMultiply === 'activation') {
      // r down-cast, then x·r and ·γ each a pass in the activation dtype (FlashNorm's notebook).
      kernels.push(['r.to(dtype)', 'r down-cast', vec(rows, 1, rows * STAT_BYTES + this.act(rows))], ['x * r', 'x * r', vec(x, 1, 2 * this.act(x) + this.act(rows))]);
    } else {
      kernels.push(['x * r', 'x * r', vec(x, 1, 2 * x * f32 + rows * STAT_BYTES)]);
      if (this.ctx.activationBytes < f32) kernels.push(['to(dtype)', 'down-cast', vec(x, 1, x * f32 + this.act(x))]);
    }
    kernels.push(['γ *', 'γ *', vec(x, 1, 2 * this.act(x) + params)]);
    let last = gathered;
    for (const [what, normStep, work] of kernels) last = this.vector(`${norm.name}.${what}`, 'norm-apply', work, [last], 'norm-apply', site, false, { normStep });
    return [last];
  }

  /**
   * A norm and the linears it feeds. Kept: statistic → collective → apply → matmuls.
   * Deferred: the matmuls start on the raw input (γ and centering folded into the
   * weights) while the statistic is gathered; each output tile is then scaled.
   * Returns the ids the normalized value is ready after, and per consumer the ids its output is ready after.
   */
  normSite(site: Site, inputDeps: number[], vectors = 1): { normalized: number[]; outputs: Map<LinearSpec, number[]> } {
    const rows = this.rows;
    const norm = site.norm!;
    const ln = norm.kind === 'layernorm';
    const outputs = new Map<LinearSpec, number[]>();
    // The router goes first so that routed experts can depend on its decision.
    const consumers = site.consumers.some((l) => l.role === 'router') ? [...site.consumers].sort((a, b) => Number(b.role === 'router') - Number(a.role === 'router')) : site.consumers;
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
      const ownChunk = byRows && chunks.length === count ? chunks.map((chunk) => [chunk]) : null;
      const chunkDeps = (t: number) => (ownChunk ? ownChunk[t]! : chunks);
      for (const lin of consumers) outputs.set(lin, this.consumer(lin, [], chunkDeps));
      return { normalized: chunks, outputs };
    }
    if (depth !== 'linear') this.pending.set(site.id, { site, depth, gathered });
    const secondStream = statistic !== 'norm-kernels';
    let joined = 0;
    for (const lin of consumers) {
      const tiles = this.consumer(lin, inputDeps, undefined, site.id);
      // Deeper than the linear layer: q and k (or the MLP's inputs) leave raw; a later op applies r.
      if (depth !== 'linear' && lin.role !== 'v') {
        outputs.set(lin, tiles);
        continue;
      }
      // The scale acts on this chip's share of the output: split only if the linear's columns are.
      const perTile = (rows * shardOf(lin, this.ctx.tp).n * (lin.copies?.active ?? 1)) / Math.max(1, tiles.length);
      const ops = ln || lin.bias ? OPS.scaleBias : OPS.scale;
      if (secondStream) {
        // Joined back from the second stream: one scale kernel over the whole output, after every tile.
        const elements = perTile * tiles.length;
        outputs.set(lin, [this.epilogue(`${lin.name}.scale`, 'norm-scale', this.epilogueWork(elements, ops, rows, { rsqrts: rows }), [...tiles, gathered], site.id, { linear: lin }, false, !joined++)]);
        continue;
      }
      outputs.set(lin, this.scaleEachTile(lin, tiles, perTile, ops, gathered, site.id));
    }
    return { normalized: [gathered], outputs };
  }

  /**
   * A consumer of a norm. The MoE router's top-k is unchanged by a positive scale,
   * so the routing decision is taken on raw logits and does not wait for the
   * statistic; routed experts wait for the routing decision.
   */
  private consumer(lin: LinearSpec, deps: number[], tileDeps?: (t: number) => number[], site?: string): number[] {
    const tiles = this.linear(lin, lin.copies !== undefined && this.routing !== null ? deps.concat(this.routing) : deps, site, tileDeps);
    if (lin.role === 'router') {
      this.routing = this.vector('router.top-k', 'router-top-k', vec(this.rows * lin.out, 1, this.act(this.rows * lin.out)), tiles, 'elementwise');
    }
    return tiles;
  }
}
