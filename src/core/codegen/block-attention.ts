/**
 * The lines of an attention in a block listing: the KV cache read, a fused kernel, or an eager
 * attention op by op (scores, the Softmax's passes and gathers, p·V, the division after ·V).
 */
import type { Op, OpRole } from '../graph/ops';
import type { NormSpec } from '../model/spec';
import { epilogueCost, matmulShape, NONE, type OpCode } from './block-state';
import { NormLines } from './block-norm';
import { bytes, count, ident } from './text';

export class AttentionLines extends NormLines {
  protected kvRead(op: Op, tag: string): OpCode {
    const size = op.work.kind === 'memory' ? bytes(op.work.bytes) : '';
    const cross = op.attention === 'cross';
    const x = cross ? '_x' : '';
    this.cached.add(`${x}${tag}`);
    return { code: `k_cache${x}${tag}, v_cache${x}${tag} = load(${cross ? 'cross_' : ''}kv_cache${tag})`, note: `KV cache, ${size}`, value: NONE };
  }

  /** Names of an attention tile's values: `_x` for cross-attention, the tile's tag. */
  protected attentionNames(op: Op, tag: string) {
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
  protected logitScale(op: Op): NormSpec | undefined {
    const deps = op.deps.map((d) => this.op(d));
    const gathered = deps.find((d) => d.role === 'norm-gather' || d.role === 'norm-stat');
    if (gathered) return this.siteOf(gathered)?.norm;
    if (op.role !== 'softmax-exp-sum') return undefined;
    const max = deps.find((d) => d.role === 'softmax-max') ?? deps.filter((d) => d.role === 'softmax-gather').flatMap((g) => g.deps.map((x) => this.op(x))).find((d) => d.role === 'softmax-max');
    return max ? this.logitScale(max) : undefined;
  }

  /** FlashAttention-style: scores, online softmax and ·V in one kernel; the division is after ·V. */
  protected fusedAttention(op: Op, tag: string): OpCode {
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
  protected attention(op: Op, tag: string): OpCode {
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
}
