/**
 * The op graph of one layer: ops that each run on one engine, with the work they
 * do described in hardware-neutral units. The simulator turns work into time.
 * An op says what it is in typed fields set where it is built (role, the linear
 * layer, tile, attention and norm step it belongs to, its site); its name is for
 * people only and nothing reads meaning back from it.
 */
import type { LinearSpec } from '../model/spec';

export type Engine = 'matrix' | 'vector' | 'collective' | 'memory';
export const ENGINES: readonly Engine[] = ['matrix', 'vector', 'collective', 'memory'];

export type Work =
  /**
   * M×K by K×N multiply. `bytes` stream through memory during it: the weight matrix, the KV cache a
   * fused attention kernel reads, or an eager attention's score matrix; `exps` are a fused softmax's.
   */
  | {
      kind: 'matmul';
      m: number;
      k: number;
      n: number;
      bytes: number;
      tier: 'weights' | 'kv' | 'activations';
      exps: number;
      /** The whole GEMM this op is a share of (M × N on this chip), whose tile grid fills the machine in waves. */
      gemm?: { m: number; n: number };
    }
  /**
   * Elementwise work: `elements` values, `ops` add/mul-equivalents each, plus exp/rsqrt/div counts in
   * total; `bytes` read and written where operands live in memory (memory.activationsTier).
   */
  | { kind: 'vector'; elements: number; ops: number; exps: number; rsqrts: number; divs: number; bytes: number }
  /** Gather and broadcast of `values` scalars per row for `rows` rows across the `units` compute units a row spans. */
  | { kind: 'collective'; rows: number; values: number; units: number }
  /** Ring all-reduce of `bytes` between tensor-parallel chips. */
  | { kind: 'allreduce'; bytes: number }
  /** A transfer from a memory tier: weights (streamed) or the KV cache. */
  | { kind: 'memory'; bytes: number; tier: 'weights' | 'kv' };

/** What an op is part of, for the timeline's colours and the collective statistics. */
export type OpCategory =
  | 'linear'
  | 'attention'
  | 'norm-stat'
  | 'norm-apply'
  | 'softmax'
  | 'stat-collective'
  | 'epilogue'
  | 'elementwise'
  | 'allreduce'
  | 'memory';

/** What an op is, for the pseudo-code and the tests: names are for people, roles for code. */
export type OpRole =
  | 'linear'
  | 'weight-load'
  | 'kv-read'
  | 'scores'
  | 'pv'
  /** FlashAttention-style kernel: scores, online softmax and ·V in one pass; the division after ·V. */
  | 'attention-fused'
  | 'softmax-max'
  | 'softmax-exp-sum'
  | 'softmax-gather'
  | 'softmax-divide'
  /** The deferred Softmax's division (and online rescale) after ·V. */
  | 'softmax-divide-after-v'
  | 'norm-stat'
  | 'norm-gather'
  | 'norm-apply'
  /** A deferred norm's per-row scale on a linear's output. */
  | 'norm-scale'
  | 'rope'
  | 'activation'
  | 'residual'
  | 'router-top-k'
  | 'router-softmax'
  | 'moe-combine'
  | 'all-reduce';

/** Tile `index` (0-based) of a kernel split into `count` tiles: a matmul's rows or columns, an attention's head groups, a norm's chunks. */
export interface Tile {
  index: number;
  count: number;
}

/**
 * The kernel a norm op is: its statistic in one kernel (`fused`) or PyTorch's eager RMSNorm chain
 * (up-cast, square, mean, + ε, rsqrt); a kept norm's apply in streamed chunks (`chunk`) or the eager
 * chain (`r down-cast` when r is multiplied in the activation dtype, `x * r`, `down-cast`, `γ *`).
 */
export type NormStep = 'fused' | 'up-cast' | 'square' | 'mean' | '+ eps' | 'rsqrt' | 'chunk' | 'r down-cast' | 'x * r' | 'down-cast' | 'γ *';

export interface Op {
  id: number;
  /** Readable name, e.g. `q_proj[2/4]`, `input_layernorm.Σx²`: for display only. */
  name: string;
  role: OpRole;
  /** The linear layer a matmul tile computes, a weight load streams, or a deferred scale applies to (on its output). */
  linear?: LinearSpec;
  /** Which tile of its kernel this op is; absent for an op that is not split. */
  tile?: Tile;
  /** The attention an attention op (scores, Softmax, p·V, fused kernel, cache read) belongs to. */
  attention?: 'self' | 'cross';
  /** The step of a norm's statistic or apply this op is. */
  normStep?: NormStep;
  engine: Engine;
  category: OpCategory;
  work: Work;
  /** Ids of ops that must finish first; always smaller than `id`. Like `work` and `tile`, possibly shared with other ops: never changed once built. */
  deps: number[];
  /** The rewrite site this op belongs to, if any. */
  site?: string;
  /**
   * When true the work runs inside the preceding matrix op (a GEMM epilogue on a
   * GPU): it is timed on the matrix engine with no start latency.
   */
  fused?: boolean;
  /** A later tile of the same kernel: it pays no start latency of its own. */
  continues?: boolean;
  /** The first op after a deferred statistic on a second stream: it pays the host's fork and join (kernels.streamJoinNs). */
  joinsStream?: boolean;
}

export interface LayerGraph {
  ops: Op[];
}

/** Appends ops in dependency order; ids are indices into `ops`. */
export class GraphBuilder {
  readonly ops: Op[] = [];

  add(op: Omit<Op, 'id'>): number {
    const id = this.ops.length;
    // Every op gets every field, in one order: the simulator's loops over ops then meet one object shape, not
    // one per place an op is built (an absent field stays undefined).
    this.ops.push({
      id,
      name: op.name,
      role: op.role,
      linear: op.linear,
      tile: op.tile,
      attention: op.attention,
      normStep: op.normStep,
      engine: op.engine,
      category: op.category,
      work: op.work,
      deps: op.deps,
      site: op.site,
      fused: op.fused,
      continues: op.continues,
      joinsStream: op.joinsStream,
    });
    return id;
  }

  build(): LayerGraph {
    return { ops: this.ops };
  }
}
