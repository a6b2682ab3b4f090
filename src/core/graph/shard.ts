import type { AttentionSpec, LinearSpec } from '../model/spec';

/**
 * Tensor parallelism as a step of its own (Megatron-LM's split): column-parallel
 * linears split their outputs over the TP chips, row-parallel ones their inputs,
 * and a few small linears are replicated. Every cost that depends on a linear's
 * shape on one chip reads it from here.
 */
const ROW_PARALLEL: ReadonlySet<LinearSpec['role']> = new Set(['o', 'down', 'cross_o', 'shared_down']);
/** Replicated on every chip: the MoE router and MLA's low-rank down projections are too small to split. */
const REPLICATED: ReadonlySet<LinearSpec['role']> = new Set(['router', 'q_a', 'kv_a']);

export interface ShardShape {
  /** Input and output width of the linear on one chip. */
  k: number;
  n: number;
  /** How the linear is split: by output columns, by input rows, or not at all. */
  split: 'columns' | 'rows' | 'none';
}

export function shardOf(lin: LinearSpec, tp: number): ShardShape {
  if (tp <= 1 || REPLICATED.has(lin.role)) return { k: lin.in, n: lin.out, split: 'none' };
  if (ROW_PARALLEL.has(lin.role)) return { k: Math.ceil(lin.in / tp), n: lin.out, split: 'rows' };
  return { k: lin.in, n: Math.ceil(lin.out / tp), split: 'columns' };
}

/** Attention heads and KV heads on one chip (KV heads are replicated when there are fewer than chips). */
export function headsOf(attn: AttentionSpec, tp: number): { heads: number; kvHeads: number } {
  return { heads: Math.ceil(attn.heads / tp), kvHeads: Math.max(1, Math.ceil(attn.kvHeads / tp)) };
}
