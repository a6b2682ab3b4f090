/**
 * The whole decoder block as one listing, generated from the simulated graph:
 * one line (or a short group) per op, in the order the timeline starts them,
 * each with its engine and start time; the load-time folds at the top. Names
 * and sizes come from the spec and the ops.
 */
import type { Op } from '../graph/ops';
import type { Site } from '../graph/sites';
import type { AttentionSpec, LinearSpec, MlpSpec, ModelSpec, NormSpec } from '../model/spec';
import type { KindSimulation, Run } from '../sim/simulate';
import { epilogueBias, foldLines, gammaOf, linearSize } from './site';
import { blank, bytes, count, eps, ident, layerRange, render, type Line } from './text';

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

/** What the listing needs to know about a layer kind (the head is a kind of its own). */
interface KindInfo {
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

const TILE = /\[(\d+)\/(\d+)\]$/;

/** `q_proj[2/4]` → { base: `q_proj`, tag: `[2/4]` }. */
function splitTile(name: string): { base: string; tag: string } {
  const m = TILE.exec(name);
  if (!m) return { base: name, tag: '' };
  return { base: name.slice(0, m.index), tag: m[2] === '1' ? '' : m[0] };
}

/** `input_layernorm.apply` → the norm `input_layernorm` (module names may contain dots). */
function stripSuffix(base: string, suffix: string): string | null {
  return base.endsWith(suffix) ? base.slice(0, -suffix.length) : null;
}

/** The value an op produces: a variable, per tile; '' for ops that produce no value (loads). */
interface Value {
  v: string;
  tag: string;
  /** The linear whose output this is, if any. */
  linear?: LinearSpec;
  /** Part of the residual stream (a residual sum or a post-norm output). */
  stream?: boolean;
}

const NONE: Value = { v: '', tag: '' };

/** The code of one op: its line, a note for the trailing comment, the value it defines, and a line before it. */
interface OpCode {
  code: string;
  note: string;
  value: Value;
  /** A statement the op runs first (the per-row scale r, written once per norm). */
  pre?: string;
}

const matmulShape = (op: Op): string => (op.work.kind === 'matmul' ? `${count(op.work.m)}×${count(op.work.k)} @ ${count(op.work.k)}×${count(op.work.n)}` : '');

class BlockWriter {
  private readonly values = new Map<number, Value>();
  private readonly normInput = new Map<string, string>();
  private readonly scaled = new Set<string>();
  private readonly cached = new Set<string>();

  constructor(
    private readonly info: KindInfo,
    private readonly run: Run,
  ) {}

  private op(id: number): Op {
    return this.run.graph.ops[id]!;
  }

  /** The variables an op reads, one per producer; a single tile of a tiled producer is shown as `v[t/T]`. */
  private uses(op: Op, keep: (dep: Op, value: Value) => boolean = () => true): string[] {
    const groups = new Map<string, Value[]>();
    for (const d of op.deps) {
      const value = this.values.get(d) ?? NONE;
      if (value.v === '' || !keep(this.op(d), value)) continue;
      const g = groups.get(value.v) ?? [];
      g.push(value);
      groups.set(value.v, g);
    }
    return [...groups.entries()].map(([v, g]) => (g.length === 1 ? `${v}${g[0]!.tag}` : v));
  }

  private valuesOf(op: Op): Value[] {
    return op.deps.map((d) => this.values.get(d) ?? NONE).filter((v) => v.v !== '');
  }

  lineFor(op: Op): OpCode {
    const { base, tag } = splitTile(op.name);
    const site = op.site !== undefined ? this.info.sites.get(op.site) : undefined;
    if (site?.kind === 'softmax' || (op.category === 'attention' && site === undefined)) return this.attention(op, base, tag, site);
    switch (op.category) {
      case 'linear':
        return this.linear(op, base, tag);
      case 'memory':
        return this.memory(op, base, tag);
      case 'norm-stat':
        return this.normStat(op, base);
      case 'stat-collective':
        return this.normGather(op, base);
      case 'norm-apply':
        return this.normApply(op, base, tag);
      case 'epilogue':
        return this.epilogue(op, base, tag, site);
      case 'elementwise':
        return this.elementwise(op, base);
      case 'allreduce':
        return this.allReduce(op);
      default:
        return this.generic(op);
    }
  }

  private generic(op: Op): OpCode {
    const v = ident(op.name);
    return { code: `${v} = ${op.name}(${this.uses(op).join(', ')})`, note: '', value: { v, tag: '' } };
  }

  private linear(op: Op, base: string, tag: string): OpCode {
    const lin = this.info.linears.get(base);
    if (!lin) return this.generic(op);
    const folded = op.site !== undefined;
    const inputs = this.uses(op, (dep) => dep.category !== 'memory' && !(dep.category === 'elementwise' && this.values.get(dep.id)?.v === 'topk_idx'));
    const x = inputs.length === 0 ? 'x' : inputs.length === 1 ? inputs[0]! : `cat(${inputs.join(', ')})`;
    const v = `${ident(lin.name)}_${folded ? 'raw' : 'out'}`;
    const weight = `${lin.name}.weight${folded ? '′' : ''}${lin.copies ? '[topk_idx]' : ''}`;
    const bias = !folded && lin.bias ? ` + ${lin.name}.bias` : '';
    return {
      code: `${v}${tag} = ${x} @ ${weight}.T${bias}`,
      note: `${linearSize(lin)}; ${matmulShape(op)}${folded ? '; raw rows, folded weights' : ''}`,
      value: { v, tag, linear: lin },
    };
  }

  private memory(op: Op, base: string, tag: string): OpCode {
    const size = op.work.kind === 'memory' ? bytes(op.work.bytes) : '';
    const lin = stripSuffix(base, '.load');
    if (lin !== null && this.info.linears.has(lin)) {
      return { code: `prefetch(${lin}.weight${tag})`, note: `weights, ${size}`, value: NONE };
    }
    const cache = stripSuffix(base, 'kv_cache.read');
    if (cache !== null) {
      const x = cache === '' ? '' : '_x';
      this.cached.add(`${x}${tag}`);
      return { code: `k_cache${x}${tag}, v_cache${x}${tag} = load(${base.slice(0, -'.read'.length)}${tag})`, note: `KV cache, ${size}`, value: NONE };
    }
    return { code: `load(${op.name})`, note: size, value: NONE };
  }

  private normOf(base: string, suffixes: string[]): NormSpec | undefined {
    for (const s of suffixes) {
      const name = stripSuffix(base, s);
      if (name !== null && this.info.norms.has(name)) return this.info.norms.get(name);
    }
    return undefined;
  }

  /** The rows a norm reads: for a per-head norm of keys, the key projection only. */
  private normInputOf(norm: NormSpec, op: Op): string {
    const values = this.valuesOf(op);
    if (values.length === 0) return 'x';
    const roles: Partial<Record<NormSpec['role'], LinearSpec['role'][]>> = { q: ['q', 'qkv', 'q_b'], k: ['k', 'qkv', 'kv_b', 'kv_a'] };
    const wanted = roles[norm.role];
    const picked = wanted ? values.filter((v) => v.linear && wanted.includes(v.linear.role)) : values;
    const names = [...new Set((picked.length > 0 ? picked : values).map((v) => v.v))];
    return names.length === 1 ? names[0]! : `cat(${names.join(', ')})`;
  }

  private normStat(op: Op, base: string): OpCode {
    const norm = this.normOf(base, ['.Σx,Σx²', '.Σx²']);
    if (!norm) return this.generic(op);
    const x = this.normInputOf(norm, op);
    this.normInput.set(norm.name, x);
    const n = ident(norm.name);
    const ln = norm.kind === 'layernorm';
    return {
      code: ln ? `s1_${n}, ss_${n} = ${x}.sum(dim=-1), (${x} * ${x}).sum(dim=-1)` : `ss_${n} = (${x} * ${x}).sum(dim=-1)`,
      note: `${ln ? 'Σx, Σx²' : 'Σx²'} over ${norm.width} values per row`,
      value: { v: `ss_${n}`, tag: '' },
    };
  }

  private normGather(op: Op, base: string): OpCode {
    const norm = this.normOf(base, ['.gather']);
    if (!norm) return this.generic(op);
    const n = ident(norm.name);
    const units = op.work.kind === 'collective' ? ` over ${op.work.units} units` : '';
    const ln = norm.kind === 'layernorm';
    return {
      code: ln ? `s1_${n}, ss_${n} = all_gather_sum(s1_${n}, ss_${n})` : `ss_${n} = all_gather_sum(ss_${n})`,
      note: `gather ${ln ? 'Σx, Σx²' : 'Σx²'}${units}`,
      value: { v: `ss_${n}`, tag: '' },
    };
  }

  /** `r = rsqrt(…)`, written once per norm, in front of the first op that needs it. */
  private scale(norm: NormSpec): { pre?: string } {
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

  private normApply(op: Op, base: string, tag: string): OpCode {
    const norm = this.normOf(base, ['.apply']);
    if (!norm) return this.generic(op);
    const n = ident(norm.name);
    const x = `${this.normInput.get(norm.name) ?? 'x'}${tag}`;
    const gamma = gammaOf(norm);
    const centred = norm.kind === 'layernorm' ? `(${x} - mu_${n})` : x;
    const beta = norm.affine === 'weight+bias' ? ` + ${norm.name}.bias` : '';
    return {
      ...this.scale(norm),
      code: `h_${n}${tag} = ${centred} * r_${n}${gamma !== null ? ` * ${gamma}` : ''}${beta}`,
      note: `normalize${norm.placement === 'post' ? ' (post-norm: also the residual stream)' : ''}`,
      value: { v: `h_${n}`, tag, stream: norm.placement === 'post' },
    };
  }

  private epilogue(op: Op, base: string, tag: string, site: Site | undefined): OpCode {
    const lin = this.info.linears.get(stripSuffix(base, '.scale') ?? '');
    const norm = site?.norm;
    if (!lin || !norm) return this.generic(op);
    const v = `${ident(lin.name)}_out`;
    const bias = epilogueBias(norm, lin);
    const fused = op.fused === true ? '; fused into the matmul' : '';
    return {
      ...this.scale(norm),
      code: `${v}${tag} = r_${ident(norm.name)} * ${ident(lin.name)}_raw${tag}${bias !== null ? ` + ${bias}` : ''}`,
      note: `deferred ${norm.name} scale, ${lin.out} values per row${lin.copies ? ' per routed expert' : ''}${fused}`,
      value: { v, tag, linear: lin },
    };
  }

  private attention(op: Op, base: string, tag: string, site: Site | undefined): OpCode {
    const cross = site ? site.attention === 'cross' : base.startsWith('cross_');
    const x = cross ? '_x' : '';
    const t = `${x}${tag}`;
    const cached = this.cached.has(t);
    const units = op.work.kind === 'collective' ? ` over ${op.work.units} units` : '';
    const keys = (which: 'k' | 'v'): string => (cross ? `${which}_cache${t}` : cached ? `cat(${which}_cache${t}, ${which}${tag})` : `${which}${tag}`);
    const depNames = op.deps.map((d) => splitTile(this.op(d).name).base);
    const line = (c: string, note: string, v: string): OpCode => ({ code: c, note, value: { v, tag } });
    if (op.category === 'attention') {
      if (op.site === undefined) {
        const q = cross ? this.uses(op, (dep) => dep.category !== 'memory')[0] ?? 'q' : `q${tag}`;
        return line(`s${t} = (${q} @ ${keys('k')}.transpose(-2, -1)) * scale`, `scores; ${matmulShape(op)}`, `s${x}`);
      }
      const deferred = depNames.some((n) => n.endsWith('exp-sum'));
      return deferred
        ? line(`o_raw${t} = e${t} @ ${keys('v')}`, `on the unnormalized exponentials; ${matmulShape(op)}`, `o_raw${x}`)
        : line(`o${t} = p${t} @ ${keys('v')}`, matmulShape(op), `o${x}`);
    }
    const kind = base.slice(base.lastIndexOf('.') + 1);
    switch (kind) {
      case 'max':
        return line(`c${t} = s${t}.amax(dim=-1, keepdim=True)`, "the max over this unit's keys", `c${x}`);
      case 'gather-max':
        return line(`c${t} = all_gather_max(c${t})`, `gather the max${units}`, `c${x}`);
      case 'local-max':
        return line(`m_unit${t} = s${t}.amax(dim=-1, keepdim=True)`, "online: running max over this unit's keys", `m_unit${x}`);
      case 'exp-sum': {
        const offset = depNames.some((n) => n.endsWith('local-max'))
          ? `m_unit${t}`
          : depNames.some((n) => n.endsWith('gather-max') || n.endsWith('.max'))
            ? `c${t}`
            : 'score_bound';
        const note = offset === 'score_bound' ? 'bound offset: a known upper bound of s, no max' : `exp(s − ${offset.startsWith('m') ? 'm_unit' : 'c'})`;
        return line(`e${t} = exp(s${t} - ${offset}); l${t} = e${t}.sum(dim=-1, keepdim=True)`, `${note}; ${count(op.work.kind === 'vector' ? op.work.exps : 0)} exps`, `e${x}`);
      }
      case 'gather-sum':
        return line(`l${t} = all_gather_sum(l${t})`, `gather Σ exp(s − c)${units}`, `l${x}`);
      case 'gather-max-sum':
        return line(`m${t}, l${t} = all_gather_max_sum(m_unit${t}, l${t})`, `one gather of each unit's max and Σ${units}; l = Σ l_unit·exp(m_unit − m)`, `l${x}`);
      case 'divide':
        return line(`p${t} = e${t} / l${t}`, 'p = exp(s − c) / sum(exp(s − c)) over every key', `p${x}`);
      case 'divide-after-V': {
        const online = op.deps.some((d) => this.op(d).name.includes('gather-max-sum'));
        const values = op.work.kind === 'vector' && op.work.divs > 0 ? `${count(op.work.elements / op.work.divs)} values per row` : '';
        const fused = op.fused === true ? '; fused into the matmul' : '';
        return online
          ? line(`o${t} = o_raw${t} * exp(m_unit${t} - m${t}) / l${t}`, `rescale by exp(m_unit − m), divide ${values}${fused}`, `o${x}`)
          : line(`o${t} = o_raw${t} / l${t}`, `o = (exp(s − c) @ V) / Σ, ${values}${fused}`, `o${x}`);
      }
      default:
        return this.generic(op);
    }
  }

  private elementwise(op: Op, base: string): OpCode {
    const mlp = this.info.mlp;
    const uses = this.uses(op);
    if (base === 'router.top-k') {
      const raw = this.valuesOf(op).some((v) => v.v.endsWith('_raw'));
      return { code: `topk_idx = topk(${uses.join(', ')}, k=${mlp?.topK ?? '?'})`, note: raw ? 'routing on raw logits: r > 0 keeps the order' : 'routing decision', value: { v: 'topk_idx', tag: '' } };
    }
    if (base === 'router.softmax') {
      return { code: `gate_w = softmax(${uses.join(', ')}, dim=-1)`, note: `gate weights over ${mlp?.experts ?? '?'} experts, read at topk_idx`, value: { v: 'gate_w', tag: '' } };
    }
    if (base === 'moe.combine') {
      const values = this.valuesOf(op);
      const routed = [...new Set(values.filter((v) => v.linear?.copies).map((v) => v.v))];
      const other = [...new Set(values.filter((v) => v.v !== 'gate_w' && !v.linear?.copies).map((v) => v.v))];
      const sum = [`combine(${[...routed, 'gate_w'].join(', ')})`, ...other].join(' + ');
      return { code: `moe_out = ${sum}`, note: `weighted sum over the top-${mlp?.topK ?? '?'} experts`, value: { v: 'moe_out', tag: '' } };
    }
    if (base.startsWith('residual(')) {
      const values = this.valuesOf(op);
      const stream = [...new Set(values.filter((v) => v.stream).map((v) => v.v))];
      const other = [...new Set(values.filter((v) => !v.stream).map((v) => v.v))];
      const terms = [...(stream.length > 0 ? stream : ['x']), ...other];
      return { code: `x = ${terms.join(' + ')}`, note: 'residual sum', value: { v: 'x', tag: '', stream: true } };
    }
    if (base.startsWith('rope(')) {
      const split = `q, k, v = split_heads(${uses.join(', ')})`;
      return this.info.positions === 'rope'
        ? { code: `${split}; q, k = rope(q, k)`, note: 'rotary embedding', value: { v: 'q', tag: '' } }
        : { code: split, note: `heads; positions are ${this.info.positions}, no rotation here (the simulated op is a small elementwise pass)`, value: { v: 'q', tag: '' } };
    }
    if (mlp && base.startsWith(mlp.activation)) return this.activation(op, mlp);
    return this.generic(op);
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
    return { code: c, note: mlp.gated ? 'gated activation' : 'activation', value: { v, tag: '' } };
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

function foldSection(sim: KindSimulation, schedule: Schedule): BlockLine[] {
  const note = (text: string): BlockLine => ({ opId: null, code: '', comment: text });
  const lines: BlockLine[] = [note('load time, once:')];
  if (schedule === 'baseline') return [...lines, note('  nothing to fold: the usual schedule uses the weights as stored')];
  for (const d of sim.sites) {
    if (d.decision !== 'defer') lines.push(note(`  ${d.site.name}: ${d.decision === 'keep' ? 'kept' : 'ineligible'}, usual schedule, nothing to fold`));
    else if (d.site.norm === undefined) lines.push(note(`  ${d.site.name}: deferred, nothing to fold (the division moves after ·V)`));
    else lines.push(note(`  ${d.site.name}: deferred`), ...foldLines(d.site).map((l) => ({ ...l, opId: null })));
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
    { opId: null, code: '', comment: 'v[t/T]: tile t of T; W′: folded weight; trailing comment: engine, start time, op (matrix* = fused epilogue)' },
  ];
  const lines = [...header, ...new BlockWriter(info, run).write()];
  return { layerKind: info.id, schedule, lines, text: render(lines) };
}
