/**
 * The whole decoder block as one listing, generated from the simulated graph:
 * one line (or a short group) per op, in the order the timeline starts them,
 * each with its engine and start time; the load-time folds at the top. What a
 * line says follows from what its op is (role, work, site, the ops it reads),
 * never from the op's name, which is only printed. Module names and sizes come
 * from the spec.
 */
import type { Op } from '../graph/ops';
import type { DeferDepth } from '../terms';
import type { LinearSpec, MlpSpec, ModelSpec } from '../model/spec';
import type { KindSimulation, Run } from '../sim/simulate';
import { AttentionLines } from './block-attention';
import { matmulShape, NONE, tagOf, type KindInfo, type OpCode } from './block-state';
import { foldLines, linearSize } from './site';
import { blank, bytes, eps, ident, layerRange, render, type Line } from './text';

export type Schedule = 'baseline' | 'deferred';

/** One line of a block listing; `opId` names the op it renders (null: a header or fold line). */
export interface BlockLine extends Line {
  opId: number | null;
}

export interface BlockListing {
  layerKind: string;
  schedule: Schedule;
  lines: BlockLine[];
  text: string;
}

function kindInfo(spec: ModelSpec, sim: KindSimulation): KindInfo {
  const kind = spec.layerKinds.find((k) => k.id === sim.id);
  const linears = kind ? kind.linears : spec.lmHead ? [spec.lmHead] : [];
  const norms = kind ? kind.norms : spec.finalNorm ? [spec.finalNorm] : [];
  return {
    id: sim.id,
    label: sim.label,
    layers: sim.layers,
    linears: new Map(linears.map((l) => [l.name, l])),
    norms: new Map(norms.map((n) => [n.name, n])),
    sites: new Map(sim.sites.map((d) => [d.site.id, d.site])),
    mlp: kind ? kind.mlp : null,
    attention: kind ? kind.attention : null,
    positions: spec.positions,
  };
}

class BlockWriter extends AttentionLines {
  lineFor(op: Op): OpCode {
    const tag = tagOf(op);
    switch (op.role) {
      case 'linear':
        return this.linear(op, tag);
      case 'weight-load':
        return this.weightLoad(op, tag);
      case 'kv-read':
        return this.kvRead(op, tag);
      case 'attention-fused':
        return this.fusedAttention(op, tag);
      case 'scores':
      case 'softmax-max':
      case 'softmax-gather':
      case 'softmax-exp-sum':
      case 'softmax-divide':
      case 'pv':
      case 'softmax-divide-after-v':
        return this.attention(op, tag);
      case 'norm-stat':
        return this.normStat(op);
      case 'norm-gather':
        return this.normGather(op);
      case 'norm-apply':
        return this.normApply(op, tag);
      case 'norm-scale':
        return this.normScale(op, tag);
      case 'rope':
        return this.rope(op);
      case 'activation':
        return this.info.mlp ? this.activation(op, this.info.mlp) : this.generic(op);
      case 'residual':
        return this.residual(op);
      case 'router-top-k':
      case 'router-softmax':
      case 'moe-combine':
        return this.router(op);
      case 'all-reduce':
        return this.allReduce(op);
    }
  }


  private linear(op: Op, tag: string): OpCode {
    const lin = op.linear;
    if (!lin) return this.generic(op);
    // A deferred norm's consumer carries its site: it runs on the raw rows with γ folded into W.
    const folded = op.site !== undefined;
    const raw = this.scaledLater(op.id);
    const inputs = this.uses(op, (dep) => dep.role !== 'weight-load' && dep.role !== 'router-top-k');
    const x = inputs.length === 0 ? 'x' : inputs.length === 1 ? inputs[0]! : `cat(${inputs.join(', ')})`;
    const v = `${ident(lin.name)}_${raw || folded ? 'raw' : 'out'}`;
    const weight = `${lin.name}.weight${folded ? '′' : ''}${lin.copies ? '[topk_idx]' : ''}`;
    const bias = !folded && lin.bias ? ` + ${lin.name}.bias` : '';
    const what = folded ? '; raw rows, folded weights' : raw ? '; scaled later' : '';
    return {
      code: `${v}${tag} = ${x} @ ${weight}.T${bias}`,
      note: `${linearSize(lin)}; ${matmulShape(op)}${what}`,
      value: { v, tag, linear: lin, raw: raw || folded },
    };
  }

  private weightLoad(op: Op, tag: string): OpCode {
    const size = op.work.kind === 'memory' ? bytes(op.work.bytes) : '';
    const lin = op.linear;
    return { code: `prefetch(${lin ? `${lin.name}.weight` : 'weights'}${tag})`, note: `weights, ${size}`, value: NONE };
  }
  /** q and k split into heads and rotated; with the scale deferred past RoPE they are rotated raw. */
  private rope(op: Op): OpCode {
    const values = this.valuesOf(op);
    const names = (roles: LinearSpec['role'][]): string[] => [...new Set(values.filter((v) => v.linear && roles.includes(v.linear.role)).map((v) => v.v))];
    const join = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `cat(${xs.join(', ')})`);
    const fused = names(['qkv']);
    const q = names(['q', 'q_b', 'q_a']);
    const k = names(['k', 'kv_a', 'kv_b']);
    const raw = values.some((v) => v.raw) ? '; raw q and k: RoPE(r·q) = r·RoPE(q)' : '';
    let c: string;
    if (fused.length > 0) c = `q, k, v = split_heads(${join(fused)}); q, k = rope(q, k)`;
    else if (q.length > 0 && k.length > 0) c = `q, k = rope(split_heads(${join(q)}), split_heads(${join(k)}))`;
    else c = `q, k = rope(split_heads(${this.uses(op).join(', ') || 'x'}))`;
    return { code: c, note: `rotary embedding${raw}`, value: { v: 'q', tag: '' } };
  }

  private activation(op: Op, mlp: MlpSpec): OpCode {
    const values = this.valuesOf(op);
    const byRole = (roles: LinearSpec['role'][]): string[] => [...new Set(values.filter((v) => v.linear && roles.includes(v.linear.role)).map((v) => v.v))];
    const gate = byRole(['gate', 'shared_gate']);
    const up = byRole(['up', 'shared_up']);
    const fused = byRole(['gate_up']);
    const first = values[0]?.linear?.name ?? 'mlp';
    const v = `a_${ident(first)}`;
    const act = mlp.activation;
    let c: string;
    if (mlp.gated && gate.length > 0 && up.length > 0) c = `${v} = ${act}(${gate.join(', ')}) * ${up.join(', ')}`;
    else if (mlp.gated && fused.length > 0) c = `g, u = ${fused[0]}.chunk(2, dim=-1); ${v} = ${act}(g) * u`;
    else c = `${v} = ${act}(${this.uses(op).join(', ')})`;
    const raw = values.some((v) => v.raw) ? `; on raw rows: ${act}(r·a) = r·${act}(a)` : '';
    return { code: c, note: `${mlp.gated ? 'gated activation' : 'activation'}${raw}`, value: { v, tag: '' } };
  }

  private residual(op: Op): OpCode {
    const values = this.valuesOf(op);
    const stream = [...new Set(values.filter((v) => v.stream).map((v) => v.v))];
    const other = [...new Set(values.filter((v) => !v.stream).map((v) => v.v))];
    const terms = [...(stream.length > 0 ? stream : ['x']), ...other];
    return { code: `x = ${terms.join(' + ')}`, note: 'residual sum', value: { v: 'x', tag: '', stream: true } };
  }

  private router(op: Op): OpCode {
    const mlp = this.info.mlp;
    const uses = this.uses(op);
    if (op.role === 'router-top-k') {
      const raw = this.valuesOf(op).some((v) => v.raw);
      return { code: `topk_idx = topk(${uses.join(', ')}, k=${mlp?.topK ?? '?'})`, note: raw ? 'routing on raw logits: r > 0 keeps the order' : 'routing decision', value: { v: 'topk_idx', tag: '' } };
    }
    if (op.role === 'router-softmax') {
      return { code: `gate_w = softmax(${uses.join(', ')}, dim=-1)`, note: `gate weights over ${mlp?.experts ?? '?'} experts, read at topk_idx`, value: { v: 'gate_w', tag: '' } };
    }
    const values = this.valuesOf(op);
    const routed = [...new Set(values.filter((v) => v.linear?.copies).map((v) => v.v))];
    const other = [...new Set(values.filter((v) => v.v !== 'gate_w' && !v.linear?.copies).map((v) => v.v))];
    const sum = [`combine(${[...routed, 'gate_w'].join(', ')})`, ...other].join(' + ');
    return { code: `moe_out = ${sum}`, note: `weighted sum over the top-${mlp?.topK ?? '?'} experts`, value: { v: 'moe_out', tag: '' } };
  }

  private allReduce(op: Op): OpCode {
    const values = this.valuesOf(op);
    const names = [...new Set(values.map((v) => v.v))];
    const v = names.length === 1 ? names[0]! : 'y';
    const size = op.work.kind === 'allreduce' ? `, ${bytes(op.work.bytes)}` : '';
    return {
      code: `${v} = all_reduce(${names.join(' + ') || 'y'})`,
      note: `tensor-parallel all-reduce${size}`,
      value: { v, tag: '', stream: values.some((x) => x.stream) },
    };
  }

  write(): BlockLine[] {
    const { ops } = this.run.graph;
    const { start } = this.run.timeline;
    const order = ops.map((o) => o.id).sort((a, b) => start[a]! - start[b]! || a - b);
    return order.flatMap((id) => {
      const op = ops[id]!;
      const { code, note, value, pre } = this.lineFor(op);
      this.values.set(id, value);
      const engine = op.fused === true ? 'matrix*' : op.engine;
      const t = `${(start[id]! / 1000).toFixed(3).padStart(8)} µs`;
      const line: BlockLine = { opId: id, code, comment: `${engine.padEnd(10)} ${t}  ${op.name}${note ? `  (${note})` : ''}` };
      return pre === undefined ? [line] : [{ opId: id, code: pre, comment: `${engine.padEnd(10)} ${t}  ${op.name}  (per-row scale, once)` }, line];
    });
  }
}

function moduleLines(info: KindInfo): BlockLine[] {
  const lines: BlockLine[] = [{ opId: null, code: '', comment: 'modules:' }];
  for (const norm of info.norms.values()) {
    const kind = norm.kind === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm';
    const feeds = norm.feeds.length > 0 ? `, feeds ${norm.feeds.join(', ')}` : ', feeds the residual';
    lines.push({ opId: null, code: '', comment: `  ${norm.name}: ${kind}(${norm.width}, eps=${eps(norm.eps)}, ${norm.affine}) ${norm.placement}-norm${feeds}` });
  }
  for (const lin of info.linears.values()) {
    const experts = lin.copies ? `, ${lin.copies.total} experts, ${lin.copies.active} per token` : '';
    lines.push({ opId: null, code: '', comment: `  ${lin.name}: Linear(${lin.in} → ${lin.out}, bias=${lin.bias ? 'True' : 'False'}${experts})` });
  }
  return lines;
}

/** Where a scale deferred deeper than the linear layer is applied, for the fold section. */
const DEPTH_WORDS: Record<Exclude<DeferDepth, 'linear'>, string> = {
  rope: "depth rope: q and k are rotated raw and scaled after RoPE, v after its matmul",
  attention: "depth attention: q's and k's scales multiply the logits before the exp, v's is applied after its matmul",
  down: "depth down: the MLP runs on raw rows and r scales the down projection's output",
};

function foldSection(sim: KindSimulation, schedule: Schedule): BlockLine[] {
  const note = (text: string): BlockLine => ({ opId: null, code: '', comment: text });
  const lines: BlockLine[] = [note('load time, once:')];
  if (schedule === 'baseline') return [...lines, note('  nothing to fold: the usual schedule uses the weights as stored')];
  for (const d of sim.sites) {
    if (d.decision !== 'defer') lines.push(note(`  ${d.site.name}: ${d.decision === 'keep' ? 'kept' : 'ineligible'}, usual schedule, nothing to fold`));
    else if (d.site.norm === undefined) lines.push(note(`  ${d.site.name}: deferred, nothing to fold (the division moves after ·V)`));
    else lines.push(note(`  ${d.site.name}: deferred${d.depth && d.depth !== 'linear' ? `, ${DEPTH_WORDS[d.depth]}` : ''}`), ...foldLines(d.site).map((l) => ({ ...l, opId: null })));
  }
  return lines;
}

/** One listing of one layer kind's block, baseline or deferred, from the Run's graph and timeline. */
export function blockPseudocode(spec: ModelSpec, sim: KindSimulation, schedule: Schedule): BlockListing {
  const info = kindInfo(spec, sim);
  const run = sim[schedule];
  const ms = (r: Run): string => `${(r.timeline.makespanNs / 1000).toFixed(2)} µs`;
  const other: Schedule = schedule === 'baseline' ? 'deferred' : 'baseline';
  const header: BlockLine[] = [
    { opId: null, code: '', comment: `${spec.name} · layer kind "${info.id}": ${info.label} (${layerRange(info.layers)})` },
    { opId: null, code: '', comment: `${schedule} schedule: ${ms(run)} ${info.id === 'head' ? 'for the head' : 'per layer'} (simulated; ${other} ${ms(sim[other])})` },
    ...moduleLines(info),
    ...foldSection(sim, schedule),
    { opId: null, ...blank },
    { opId: null, code: '', comment: 'one line per op, in the order the simulated timeline starts them; x: the rows entering the layer;' },
    { opId: null, code: '', comment: "v[t/T]: tile t of T (a matmul's rows or columns, an attention's head groups); W′: folded weight;" },
    { opId: null, code: '', comment: 'trailing comment: engine, start time, op (matrix* = fused epilogue)' },
  ];
  const lines = [...header, ...new BlockWriter(info, run).write()];
  return { layerKind: info.id, schedule, lines, text: render(lines) };
}
