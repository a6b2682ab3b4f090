/**
 * The lines of a norm in a block listing: its statistic (one kernel or PyTorch's eager chain, step by
 * step), the gather, a kept norm's apply, and a deferred norm's per-row scale where the graph applies it.
 */
import type { Op } from '../graph/ops';
import type { LinearSpec, NormSpec } from '../model/spec';
import { epilogueBias, gammaOf } from './site';
import { epilogueCost, ListingState, NONE, type OpCode } from './block-state';
import { eps, ident } from './text';

export class NormLines extends ListingState {
  /** The rows a norm reads: for a per-head norm of keys, the key projection only. */
  protected normInputOf(norm: NormSpec, op: Op): string {
    const values = this.valuesOf(op);
    if (values.length === 0) return 'x';
    const roles: Partial<Record<NormSpec['role'], LinearSpec['role'][]>> = { q: ['q', 'qkv', 'q_b'], k: ['k', 'qkv', 'kv_b', 'kv_a'] };
    const wanted = roles[norm.role];
    const picked = wanted ? values.filter((v) => v.linear && wanted.includes(v.linear.role)) : values;
    const names = [...new Set((picked.length > 0 ? picked : values).map((v) => v.v))];
    return names.length === 1 ? names[0]! : `cat(${names.join(', ')})`;
  }

  protected normStat(op: Op): OpCode {
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

  protected normGather(op: Op): OpCode {
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


  protected normApply(op: Op, tag: string): OpCode {
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
  protected normScale(op: Op, tag: string): OpCode {
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
}
