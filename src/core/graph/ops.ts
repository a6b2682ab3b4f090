/**
 * The op graph of one layer: ops that each run on one engine, with the work they
 * do described in hardware-neutral units. The simulator turns work into time.
 */

export type Engine = 'matrix' | 'vector' | 'collective' | 'memory';
export const ENGINES: readonly Engine[] = ['matrix', 'vector', 'collective', 'memory'];

export type Work =
  /** M×K by K×N multiply; `weightBytes` > 0 when the right operand is a weight matrix. */
  | { kind: 'matmul'; m: number; k: number; n: number; weightBytes: number }
  /** Elementwise work: `elements` values, `ops` add/mul-equivalents each, plus `special` exp/rsqrt/div counts in total. */
  | { kind: 'vector'; elements: number; ops: number; exps: number; rsqrts: number; divs: number }
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

export interface Op {
  id: number;
  /** Readable name, e.g. `q_proj[2/4]`, `input_layernorm.Σx²`. */
  name: string;
  engine: Engine;
  category: OpCategory;
  work: Work;
  /** Ids of ops that must finish first; always smaller than `id`. */
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
}

export interface LayerGraph {
  ops: Op[];
}

/** Appends ops in dependency order; ids are indices into `ops`. */
export class GraphBuilder {
  readonly ops: Op[] = [];

  add(op: Omit<Op, 'id'>): number {
    const id = this.ops.length;
    // Mutating the literal instead of spreading it: graphs are built thousands of times in a sweep.
    (op as Op).id = id;
    this.ops.push(op as Op);
    return id;
  }

  build(): LayerGraph {
    return { ops: this.ops };
  }
}
