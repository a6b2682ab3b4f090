/**
 * The whole decoder block as one listing, generated from the simulated graph:
 * one line (or a short group) per op, in the order the timeline starts them,
 * each with its engine and start time; the load-time folds at the top. What a
 * line says follows from what its op is (role, work, site, the ops it reads),
 * never from the op's name, which is only printed. Module names and sizes come
 * from the spec.
 */
import type { Op, OpRole } from '../graph/ops';
import type { Site } from '../graph/sites';
import type { DeferDepth } from '../terms';
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

/** `[t/T]` for tile t of T (1-based), '' for an op that is not split. */
const tagOf = (op: Op): string => (op.tile && op.tile.count > 1 ? `[${op.tile.index + 1}/${op.tile.count}]` : '');

/** The value an op produces: a variable, per tile; '' for ops that produce no value (loads). */
interface Value {
  v: string;
  tag: string;
  /** The linear whose output this is, if any. */
  linear?: LinearSpec;
  /** A linear's output before a deferred norm's scale. */
  raw?: boolean;
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

/** What an unfused epilogue costs: its own pass over what it scales. */
const epilogueCost = (op: Op, over = 'the output'): string =>
  op.fused === true ? '; fused into the matmul' : op.work.kind === 'vector' && op.work.bytes > 0 ? `; its own pass over ${over}, ${bytes(op.work.bytes)}` : '';

class BlockWriter {
  private readonly values = new Map<number, Value>();
  /** The rows each norm reads, and (eager) the same rows up-cast to fp32. */
  private readonly normInput = new Map<string, string>();
  private readonly upcast = new Map<string, string>();
  private readonly scaled = new Set<string>();
  private readonly cached = new Set<string>();
  /** Ids of the ops that read each op. */
  private readonly users: number[][];

  constructor(
    private readonly info: KindInfo,
    private readonly run: Run,
  ) {
    const { ops } = run.graph;
    this.users = ops.map(() => []);
    for (const op of ops) for (const d of op.deps) this.users[d]!.push(op.id);
  }

  private siteOf(op: Op): Site | undefined {
    return op.site === undefined ? undefined : this.info.sites.get(op.site);
  }

  /** Whether an op's output is scaled later by a deferred norm's scale (a raw output). */
  private scaledLater(id: number): boolean {
    return this.users[id]!.some((u) => this.op(u).role === 'norm-scale');
  }

  private op(id: number): Op {
    return this.run.graph.ops[id]!;
  }

  /** The variables an op reads, one per producer; a single tile of a tiled producer is shown as `v[t/T]`. */
  private uses(op: Op, keep: (dep: Op) => boolean = () => true): string[] {
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

  private valuesOf(op: Op): Value[] {
    return op.deps.map((d) => this.values.get(d) ?? NONE).filter((v) => v.v !== '');
  }

  private normOf(op: Op): NormSpec | undefined {
    return this.siteOf(op)?.norm;
  }

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

  /** An op the listing has no code for: its role, what it reads. */
  private generic(op: Op): OpCode {
    const v = `${ident(op.role)}_${op.id}`;
    return { code: `${v} = ${ident(op.role)}(${this.uses(op).join(', ')})`, note: '', value: { v, tag: '' } };
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

  private kvRead(op: Op, tag: string): OpCode {
    const size = op.work.kind === 'memory' ? bytes(op.work.bytes) : '';
    const cross = op.attention === 'cross';
    const x = cross ? '_x' : '';
    this.cached.add(`${x}${tag}`);
    return { code: `k_cache${x}${tag}, v_cache${x}${tag} = load(${cross ? 'cross_' : ''}kv_cache${tag})`, note: `KV cache, ${size}`, value: NONE };
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

  private normStat(op: Op): OpCode {
    const norm = this.normOf(op);
    const step = op.normStep;
    if (!norm || !step) return this.generic(op);
    const n = ident(norm.name);
    const prev = this.valuesOf(op)[0]?.v ?? 'x';
    const line = (c: string, note: string, v: string): OpCode => ({ code: c, note, value: { v, tag: '' } });
    switch (step) {
      case 'fused': {
        const x = this.normInputOf(norm, op);
        this.normInput.set(norm.name, x);
        const ln = norm.kind === 'layernorm';
        return line(
          ln ? `s1_${n}, ss_${n} = ${x}.sum(dim=-1), (${x} * ${x}).sum(dim=-1)` : `ss_${n} = (${x} * ${x}).sum(dim=-1)`,
          `${ln ? 'Σx, Σx²' : 'Σx²'} over ${norm.width} values per row`,
          `ss_${n}`,
        );
      }
      // PyTorch's eager RMSNorm: each step its own kernel, a pass over memory.
      case 'up-cast': {
        const x = this.normInputOf(norm, op);
        this.normInput.set(norm.name, x);
        this.upcast.set(norm.name, `xf_${n}`);
        return line(`xf_${n} = ${x}.to(torch.float32)`, 'eager RMSNorm kernel: up-cast to fp32', `xf_${n}`);
      }
      case 'square': {
        const x = this.upcast.get(norm.name) ?? this.normInputOf(norm, op);
        if (!this.normInput.has(norm.name)) this.normInput.set(norm.name, x);
        return line(`sq_${n} = ${x}.pow(2)`, 'eager RMSNorm kernel: square', `sq_${n}`);
      }
      case 'mean':
        return line(`var_${n} = ${prev}.mean(-1, keepdim=True)`, `eager RMSNorm kernel: mean over ${norm.width} values per row`, `var_${n}`);
      case '+ eps':
        return line(`var_${n} = ${prev} + ${eps(norm.eps)}`, 'eager RMSNorm kernel: + ε, one value per row', `var_${n}`);
      case 'rsqrt':
        this.scaled.add(norm.name);
        return line(`r_${n} = torch.rsqrt(${prev})`, 'eager RMSNorm kernel: the per-row scale', `r_${n}`);
      default:
        return this.generic(op);
    }
  }

  private normGather(op: Op): OpCode {
    const norm = this.normOf(op);
    if (!norm) return this.generic(op);
    const n = ident(norm.name);
    const units = op.work.kind === 'collective' ? ` over ${op.work.units} units` : '';
    const from = op.deps.find((d) => this.op(d).role === 'norm-stat');
    if (from !== undefined && this.op(from).normStep !== 'fused') {
      // The eager chain gathers each unit's share of the mean of squares; + ε and rsqrt follow.
      return { code: `var_${n} = all_gather_sum(var_${n})`, note: `gather the partial means of x²${units}`, value: { v: `var_${n}`, tag: '' } };
    }
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

  private normApply(op: Op, tag: string): OpCode {
    const norm = this.normOf(op);
    const step = op.normStep;
    if (!norm || !step) return this.generic(op);
    const n = ident(norm.name);
    const gamma = gammaOf(norm);
    const post = norm.placement === 'post';
    const prev = this.valuesOf(op)[0]?.v ?? `h_${n}`;
    switch (step) {
      case 'chunk': {
        const x = `${this.normInput.get(norm.name) ?? 'x'}${tag}`;
        const centred = norm.kind === 'layernorm' ? `(${x} - mu_${n})` : x;
        const beta = norm.affine === 'weight+bias' ? ` + ${norm.name}.bias` : '';
        return {
          ...this.scale(norm),
          code: `h_${n}${tag} = ${centred} * r_${n}${gamma !== null ? ` * ${gamma}` : ''}${beta}`,
          note: `normalize${post ? ' (post-norm: also the residual stream)' : ''}`,
          value: { v: `h_${n}`, tag, stream: post },
        };
      }
      case 'r down-cast':
        return { ...this.scale(norm), code: `r_${n} = r_${n}.to(input_dtype)`, note: 'eager RMSNorm kernel: r down-cast to the activation dtype', value: { v: `r_${n}`, tag: '' } };
      case 'x * r': {
        // After r's down-cast the multiply runs in the activation dtype, on the rows as they came.
        if (op.deps.some((d) => this.op(d).normStep === 'r down-cast')) {
          return { code: `h_${n} = ${this.normInput.get(norm.name) ?? 'x'} * r_${n}`, note: 'eager RMSNorm kernel: normalize in the activation dtype', value: { v: `h_${n}`, tag: '' } };
        }
        const x = this.upcast.get(norm.name) ?? this.normInput.get(norm.name) ?? 'x';
        return { ...this.scale(norm), code: `hf_${n} = ${x} * r_${n}`, note: 'eager RMSNorm kernel: normalize in fp32', value: { v: `hf_${n}`, tag: '' } };
      }
      case 'down-cast':
        return { code: `h_${n} = ${prev}.to(input_dtype)`, note: 'eager RMSNorm kernel: down-cast', value: { v: `h_${n}`, tag: '' } };
      case 'γ *':
        return {
          code: `h_${n} = ${gamma !== null ? `${gamma} * ` : ''}${prev}`,
          note: `eager RMSNorm kernel: ${gamma !== null ? '·γ' : 'no γ'}${post ? ' (post-norm: also the residual stream)' : ''}`,
          value: { v: `h_${n}`, tag: '', stream: post },
        };
      default:
        return this.generic(op);
    }
  }

  /**
   * A deferred norm's per-row scale where the graph applies it: on a linear's output (`linear`, and
   * `down`: on the down projection's, after a ReLU MLP ran on raw rows), or on q and k after RoPE.
   */
  private normScale(op: Op, tag: string): OpCode {
    const site = this.siteOf(op);
    const norm = site?.norm;
    if (!norm) return this.generic(op);
    const r = `r_${ident(norm.name)}`;
    const deps = op.deps.map((d) => this.op(d));
    const lin = op.linear;
    if (lin) {
      // One tile of the linear's output, or (joined from a second stream) all of them at once.
      const raw = this.uses(op, (dep) => dep.role === 'linear')[0] ?? `${ident(lin.name)}_raw${tag}`;
      const v = `${ident(lin.name)}_out`;
      const consumer = site.consumers.includes(lin);
      // Past a gated ReLU MLP both branches carry r: relu(r·g) ⊙ (r·u) = r²·(relu(g) ⊙ u).
      const factor = !consumer && this.info.mlp?.gated ? `${r} * ${r}` : r;
      const bias = consumer ? epilogueBias(norm, lin) : null;
      const act = this.info.mlp?.activation ?? 'relu';
      const depth = consumer ? '' : `, depth down: ${act}(r·a) = r·${act}(a) carries ${factor === r ? 'r' : 'r² (r from each branch)'} through the MLP to the ${lin.name} output`;
      return {
        ...this.scale(norm),
        code: `${v}${tag} = ${factor} * ${raw}${bias !== null ? ` + ${bias}` : ''}`,
        note: `deferred ${norm.name} scale${depth}, ${lin.out} values per row${lin.copies ? ' per routed expert' : ''}${epilogueCost(op)}`,
        value: { v, tag, linear: lin },
      };
    }
    // After RoPE (or on q and k themselves where nothing rotates them): one pass over both.
    if (deps.some((d) => d.role === 'rope' || d.role === 'linear')) {
      return {
        ...this.scale(norm),
        code: `q, k = ${r} * q, ${r} * k`,
        note: `deferred ${norm.name} scale, depth rope: RoPE(r·q) = r·RoPE(q), the same for k${epilogueCost(op, 'q and k')}`,
        value: { v: 'q', tag: '' },
      };
    }
    return { ...this.scale(norm), code: `${this.uses(op).join(', ')} *= ${r}`, note: `deferred ${norm.name} scale${epilogueCost(op)}`, value: NONE };
  }

  /** Names of an attention tile's values: `_x` for cross-attention, the tile's tag. */
  private attentionNames(op: Op, tag: string) {
    const cross = op.attention === 'cross';
    const x = cross ? '_x' : '';
    const t = `${x}${tag}`;
    const cached = this.cached.has(t);
    const keys = (which: 'k' | 'v', streamed = false): string =>
      cross ? `${which}_cache${t}` : cached || streamed ? `cat(${which}_cache${t}, ${which}${tag})` : `${which}${tag}`;
    const q = cross ? (this.uses(op, (dep) => dep.role !== 'kv-read' && dep.role !== 'norm-gather')[0] ?? 'q') : `q${tag}`;
    const line = (c: string, note: string, v: string): OpCode => ({ code: c, note, value: { v: `${v}${x}`, tag } });
    return { cross, x, t, q, keys, line };
  }

  /**
   * The norm whose scales an attention op applies to the raw logits (depth: attention), if any: the
   * op waits for the norm's statistic, or (an exp pass) follows a max pass that does. Each pass over
   * the logits scales them again: they are not stored scaled.
   */
  private logitScale(op: Op): NormSpec | undefined {
    const deps = op.deps.map((d) => this.op(d));
    const gathered = deps.find((d) => d.role === 'norm-gather' || d.role === 'norm-stat');
    if (gathered) return this.siteOf(gathered)?.norm;
    if (op.role !== 'softmax-exp-sum') return undefined;
    const max = deps.find((d) => d.role === 'softmax-max') ?? deps.filter((d) => d.role === 'softmax-gather').flatMap((g) => g.deps.map((x) => this.op(x))).find((d) => d.role === 'softmax-max');
    return max ? this.logitScale(max) : undefined;
  }

  /** FlashAttention-style: scores, online softmax and ·V in one kernel; the division is after ·V. */
  private fusedAttention(op: Op, tag: string): OpCode {
    const { t, q, keys, line } = this.attentionNames(op, tag);
    if (op.work.kind !== 'matmul') return this.generic(op);
    const w = op.work;
    const streamed = w.tier === 'kv' && w.bytes > 0;
    const norm = this.logitScale(op);
    const r = norm ? `r_${ident(norm.name)}` : '';
    const shape = `${count(w.m)} query rows × ${count(w.k)} keys, d_qk + d_v = ${count(w.n)}${streamed ? `; KV cache ${bytes(w.bytes)} streamed through` : ''}`;
    const scaled = norm ? `, logit_scale=outer(${r}, ${r})` : '';
    const depth = norm ? `; deferred ${norm.name} scale, depth attention: logits times r_q·r_k before the exp` : '';
    return {
      ...(norm ? this.scale(norm) : {}),
      ...line(`o${t} = flash_attention(${q}, ${keys('k', streamed)}, ${keys('v', streamed)}${scaled})`, `fused kernel: online softmax, the division after ·V${depth}; ${shape}`, 'o'),
    };
  }

  /** An eager attention, op by op: scores, the Softmax's passes and gathers, p·V. */
  private attention(op: Op, tag: string): OpCode {
    const { t, q, keys, line } = this.attentionNames(op, tag);
    const units = op.work.kind === 'collective' ? ` over ${op.work.units} units` : '';
    const deps = op.deps.map((d) => this.op(d));
    const has = (role: OpRole): boolean => deps.some((d) => d.role === role);
    /** Online offset: one gather carries each unit's max and sum. */
    const onlineGather = (d: Op): boolean => d.role === 'softmax-gather' && d.work.kind === 'collective' && d.work.values === 2;
    const expOf = (id: number): Op | undefined => this.users[id]!.map((u) => this.op(u)).find((u) => u.role === 'softmax-exp-sum');
    const online = (exp: Op | undefined): boolean => exp !== undefined && this.users[exp.id]!.some((u) => onlineGather(this.op(u)));
    // Depth 'attention': each pass over raw logits multiplies them by r_q·r_k first.
    const norm = this.logitScale(op);
    const r = norm ? `r_${ident(norm.name)}` : '';
    const logits = norm ? `(s${t} * outer(${r}, ${r}))` : `s${t}`;
    const depth = norm ? `; deferred ${norm.name} scale, depth attention: logits times r_q·r_k` : '';
    const pre = norm ? this.scale(norm) : {};
    switch (op.role) {
      case 'scores':
        return line(`s${t} = (${q} @ ${keys('k')}.transpose(-2, -1)) * scale`, `scores; ${matmulShape(op)}`, 's');
      case 'softmax-max': {
        const gathered = this.users[op.id]!.some((u) => this.op(u).role === 'softmax-gather');
        if (online(expOf(op.id))) return { ...pre, ...line(`m_unit${t} = ${logits}.amax(dim=-1, keepdim=True)`, `online: running max over this unit's keys${depth}`, 'm_unit') };
        return { ...pre, ...line(`c${t} = ${logits}.amax(dim=-1, keepdim=True)`, `the max over ${gathered ? "this unit's" : 'the row of'} keys${depth}`, 'c') };
      }
      case 'softmax-gather': {
        if (onlineGather(op)) return line(`m${t}, l${t} = all_gather_max_sum(m_unit${t}, l${t})`, `one gather of each unit's max and Σ${units}; l = Σ l_unit·exp(m_unit − m)`, 'l');
        if (has('softmax-max')) return line(`c${t} = all_gather_max(c${t})`, `gather the max${units}`, 'c');
        return line(`l${t} = all_gather_sum(l${t})`, `gather Σ exp(s − c)${units}`, 'l');
      }
      case 'softmax-exp-sum': {
        const max = deps.find((d) => d.role === 'softmax-max');
        const offset = max && online(op) ? `m_unit${t}` : max || has('softmax-gather') ? `c${t}` : 'score_bound';
        const what = offset === 'score_bound' ? 'bound offset: a known upper bound of s, no max' : `exp(s − ${offset.startsWith('m') ? 'm_unit' : 'c'})`;
        return { ...pre, ...line(`e${t} = exp(${logits} - ${offset}); l${t} = e${t}.sum(dim=-1, keepdim=True)`, `${what}${depth}; ${count(op.work.kind === 'vector' ? op.work.exps : 0)} exps`, 'e') };
      }
      case 'softmax-divide':
        return line(`p${t} = e${t} / l${t}`, 'p = exp(s − c) / sum(exp(s − c)) over every key', 'p');
      case 'pv':
        return has('softmax-exp-sum')
          ? line(`o_raw${t} = e${t} @ ${keys('v')}`, `on the unnormalized exponentials; ${matmulShape(op)}`, 'o_raw')
          : line(`o${t} = p${t} @ ${keys('v')}`, matmulShape(op), 'o');
      case 'softmax-divide-after-v': {
        const values = op.work.kind === 'vector' && op.work.divs > 0 ? `${count(op.work.elements / op.work.divs)} values per row` : '';
        const cost = epilogueCost(op);
        return deps.some(onlineGather)
          ? line(`o${t} = o_raw${t} * exp(m_unit${t} - m${t}) / l${t}`, `rescale by exp(m_unit − m), divide ${values}${cost}`, 'o')
          : line(`o${t} = o_raw${t} / l${t}`, `o = (exp(s − c) @ V) / Σ, ${values}${cost}`, 'o');
      }
      default:
        return this.generic(op);
    }
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
