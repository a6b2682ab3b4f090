/**
 * What every line of a block listing (block.ts) reads: the values earlier ops defined, who reads each
 * op, the kind's modules and sites, and the per-row scale r written once per norm. The lines of norms
 * (block-norm.ts) and attention (block-attention.ts) extend it: one writer split by concern, since they
 * share what was defined so far.
 */
import type { Op } from '../graph/ops';
import type { Site } from '../graph/sites';
import type { AttentionSpec, LinearSpec, MlpSpec, ModelSpec, NormSpec } from '../model/spec';
import type { Run } from '../sim/simulate';
import { bytes, count, eps, ident } from './text';

/** What the listing needs to know about a layer kind (the head is a kind of its own). */
export interface KindInfo {
  id: string;
  label: string;
  layers: readonly number[];
  linears: Map<string, LinearSpec>;
  norms: Map<string, NormSpec>;
  sites: Map<string, Site>;
  mlp: MlpSpec | null;
  attention: AttentionSpec | null;
  positions: ModelSpec['positions'];
}

/** `[t/T]` for tile t of T (1-based), '' for an op that is not split. */
export const tagOf = (op: Op): string => (op.tile && op.tile.count > 1 ? `[${op.tile.index + 1}/${op.tile.count}]` : '');

/** The value an op produces: a variable, per tile; '' for ops that produce no value (loads). */
export interface Value {
  v: string;
  tag: string;
  /** The linear whose output this is, if any. */
  linear?: LinearSpec;
  /** A linear's output before a deferred norm's scale. */
  raw?: boolean;
  /** Part of the residual stream (a residual sum or a post-norm output). */
  stream?: boolean;
}

export const NONE: Value = { v: '', tag: '' };

/** The code of one op: its line, a note for the trailing comment, the value it defines, and a line before it. */
export interface OpCode {
  code: string;
  note: string;
  value: Value;
  /** A statement the op runs first (the per-row scale r, written once per norm). */
  pre?: string;
}

export const matmulShape = (op: Op): string => (op.work.kind === 'matmul' ? `${count(op.work.m)}×${count(op.work.k)} @ ${count(op.work.k)}×${count(op.work.n)}` : '');

/** What an unfused epilogue costs: its own pass over what it scales. */
export const epilogueCost = (op: Op, over = 'the output'): string =>
  op.fused === true ? '; fused into the matmul' : op.work.kind === 'vector' && op.work.bytes > 0 ? `; its own pass over ${over}, ${bytes(op.work.bytes)}` : '';

export class ListingState {
  protected readonly values = new Map<number, Value>();
  /** The rows each norm reads, and (eager) the same rows up-cast to fp32. */
  protected readonly normInput = new Map<string, string>();
  protected readonly upcast = new Map<string, string>();
  protected readonly scaled = new Set<string>();
  protected readonly cached = new Set<string>();
  /** Ids of the ops that read each op. */
  protected readonly users: number[][];

  constructor(
    protected readonly info: KindInfo,
    protected readonly run: Run,
  ) {
    const { ops } = run.graph;
    this.users = ops.map(() => []);
    for (const op of ops) for (const d of op.deps) this.users[d]!.push(op.id);
  }

  protected siteOf(op: Op): Site | undefined {
    return op.site === undefined ? undefined : this.info.sites.get(op.site);
  }

  /** Whether an op's output is scaled later by a deferred norm's scale (a raw output). */
  protected scaledLater(id: number): boolean {
    return this.users[id]!.some((u) => this.op(u).role === 'norm-scale');
  }

  protected op(id: number): Op {
    return this.run.graph.ops[id]!;
  }

  /** The variables an op reads, one per producer; a single tile of a tiled producer is shown as `v[t/T]`. */
  protected uses(op: Op, keep: (dep: Op) => boolean = () => true): string[] {
    const groups = new Map<string, Value[]>();
    for (const d of op.deps) {
      const value = this.values.get(d) ?? NONE;
      if (value.v === '' || !keep(this.op(d))) continue;
      const g = groups.get(value.v) ?? [];
      g.push(value);
      groups.set(value.v, g);
    }
    return [...groups.entries()].map(([v, g]) => (g.length === 1 ? `${v}${g[0]!.tag}` : v));
  }

  protected valuesOf(op: Op): Value[] {
    return op.deps.map((d) => this.values.get(d) ?? NONE).filter((v) => v.v !== '');
  }

  protected normOf(op: Op): NormSpec | undefined {
    return this.siteOf(op)?.norm;
  }

  /** An op the listing has no code for: its role, what it reads. */
  protected generic(op: Op): OpCode {
    const v = `${ident(op.role)}_${op.id}`;
    return { code: `${v} = ${ident(op.role)}(${this.uses(op).join(', ')})`, note: '', value: { v, tag: '' } };
  }

  /** `r = rsqrt(…)`, written once per norm, in front of the first op that needs it. */
  protected scale(norm: NormSpec): { pre?: string } {
    if (this.scaled.has(norm.name)) return {};
    this.scaled.add(norm.name);
    const n = ident(norm.name);
    return {
      pre:
        norm.kind === 'layernorm'
          ? `mu_${n} = s1_${n} / ${norm.width}; r_${n} = rsqrt(ss_${n} / ${norm.width} - mu_${n} * mu_${n} + ${eps(norm.eps)})`
          : `r_${n} = rsqrt(ss_${n} / ${norm.width} + ${eps(norm.eps)})`,
    };
  }
}
