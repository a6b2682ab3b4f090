/**
 * Scores, Softmax and p·V of one attention, eager or fused, kept or deferred: the last concern of
 * the layer builder (op-builder.ts, norm-ops.ts), and the class the block assembler (layer.ts) uses.
 */
import type { AttentionSpec } from '../model/spec';
import { keysPerQuery, tileOf, tileTag, vec, type OpAbout, type PendingScale } from './context';
import type { Work } from './ops';
import { NormOpBuilder } from './norm-ops';
import { headsOf } from './shard';
import type { Site } from './sites';

export class LayerBuilder extends NormOpBuilder {
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
    const attention = cross ? 'cross' : 'self';
    const outs: number[] = [];
    // Every head group does the same work: each kind of op's work (and inputs, where they are the same) is made once and shared by the tiles.
    if (ctx.attention === 'flash') {
      // q·Kᵀ and p·V: 2·rows·keys·(qk + v) FLOPs; the cache streams through the kernel.
      const work: Work = { kind: 'matmul', m: rowsPerTile, k: keys, n: qkDim + vDim, bytes: kvBytes, tier: 'kv', exps: rowsPerTile * keys };
      // With the norm's scales deferred into the attention, the kernel scales each logit by r_q·r_k before its exp.
      const deps = logitScale ? [...qkDeps, ...vDeps, logitScale.gathered] : [...qkDeps, ...vDeps];
      for (let t = 0; t < tiles; t++) {
        const tag = tiles > 1 ? tileTag(t, tiles) : '';
        outs.push(this.g.add({ name: `${prefix}flash_attention${tag}`, role: 'attention-fused', tile: tileOf(t, tiles), attention, engine: 'matrix', category: 'attention', work, deps, site: logitScale?.site.id, continues: t > 0 }));
      }
      return outs;
    }
    const offset = ctx.softmaxOffset;
    const deferred = this.defer(site.id) !== null;
    // A score row spans the units that hold its sequence's cache for its KV head.
    const span = Math.max(1, Math.floor(ctx.computeUnits / (ctx.batch * kvHeads)));
    const online = deferred && offset === 'online' && span > 1;
    const elems = rowsPerTile * keys;
    // The score matrix is written by q·Kᵀ and read back by p·V (where activations live in memory).
    const scoresBytes = this.act(elems);
    // Passes over the scores: the max reads them; exp-and-sum and the division read and write them.
    const read = scoresBytes;
    const readWrite = 2 * scoresBytes;
    // A norm's scales deferred into the attention: each pass that reads raw logits multiplies them by r_q·r_k (two ops).
    const scaledDeps = logitScale ? [logitScale.gathered] : [];
    const scaledOps = logitScale ? 2 : 0;
    const work = {
      kvRead: { kind: 'memory', bytes: kvBytes, tier: 'kv' },
      scores: { kind: 'matmul', m: rowsPerTile, k: qkDim, n: keys, bytes: scoresBytes, tier: 'activations', exps: 0 },
      pv: { kind: 'matmul', m: rowsPerTile, k: keys, n: vDim, bytes: scoresBytes, tier: 'activations', exps: 0 },
      max: vec(elems, 1 + scaledOps, read),
      expSum: vec(elems, 2 + scaledOps, readWrite, { exps: elems }),
      divide: vec(elems, 1, readWrite, { divs: rowsPerTile }),
      // Online: the division also rescales by exp(m_unit − m).
      divideAfterV: this.epilogueWork(rowsPerTile * vDim, online ? 2 : 1, rowsPerTile, { divs: rowsPerTile, exps: online ? rowsPerTile : 0 }),
    } satisfies Record<string, Work>;
    for (let t = 0; t < tiles; t++) {
      const tag = tiles > 1 ? tileTag(t, tiles) : '';
      const about: OpAbout = { tile: tileOf(t, tiles), attention };
      // q·Kᵀ needs q and k only; V is needed by p·V.
      let deps = qkDeps;
      if (cachedKeys > 0) {
        deps = qkDeps.concat(this.g.add({ name: `${prefix}kv_cache.read${tag}`, role: 'kv-read', tile: about.tile, attention, engine: 'memory', category: 'memory', work: work.kvRead, deps: [] }));
      }
      const scores = this.g.add({ name: `${prefix}q·Kᵀ${tag}`, role: 'scores', tile: about.tile, attention, engine: 'matrix', category: 'attention', work: work.scores, deps });
      const pv = (d: number) => this.g.add({ name: `${prefix}p·V${tag}`, role: 'pv', tile: about.tile, attention, engine: 'matrix', category: 'attention', work: work.pv, deps: [d, ...vDeps], site: site.id });
      // A row held by one unit has its max and sum locally: no gather, and nothing for online to rescale.
      const gather = (what: string, values: number, after: number) => (span > 1 ? this.collective(`softmax.gather-${what}${tag}`, 'softmax-gather', rowsPerTile, values, [after], site.id, span, about) : after);
      if (!deferred) {
        const max = this.vector(`softmax.max${tag}`, 'softmax-max', work.max, [scores, ...scaledDeps], 'softmax', site.id, false, about);
        const exp = this.vector(`softmax.exp-sum${tag}`, 'softmax-exp-sum', work.expSum, [gather('max', 1, max)], 'softmax', site.id, false, about);
        const div = this.vector(`softmax.divide${tag}`, 'softmax-divide', work.divide, [gather('sum', 1, exp)], 'softmax', site.id, false, about);
        outs.push(pv(div));
        continue;
      }
      let expDeps = [scores, ...scaledDeps];
      if (offset !== 'bound') {
        const max = this.vector(`softmax.${online ? 'local-max' : 'max'}${tag}`, 'softmax-max', work.max, [scores, ...scaledDeps], 'softmax', site.id, false, about);
        expDeps = [online ? max : gather('max', 1, max)];
      }
      const exp = this.vector(`softmax.exp-sum${tag}`, 'softmax-exp-sum', work.expSum, expDeps, 'softmax', site.id, false, about);
      // Online: one gather carries each unit's max and sum.
      const gathered = gather(online ? 'max-sum' : 'sum', online ? 2 : 1, exp);
      const out = pv(exp);
      outs.push(this.epilogue(`softmax.divide-after-V${tag}`, 'softmax-divide-after-v', work.divideAfterV, [out, gathered], site.id, about));
    }
    return outs;
  }
}
