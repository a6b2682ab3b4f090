/**
 * Before/after pseudo-code of one rewrite site (DESIGN.md §1's table), in
 * PyTorch-flavoured text with the model's own module names and sizes. Every
 * name, size and number comes from the site, the spec and the report.
 */
import { MLP_IN_ROLES, depthRefusal } from '../graph/depth';
import type { Site } from '../graph/sites';
import type { LayerKind, LinearSpec, ModelSpec, NormSpec } from '../model/spec';
import type { DeferDepth } from '../terms';
import type { PseudocodeSite } from '../report/types';
import { afterPreamble, epilogueEngine, header, MATRIX, VECTOR, type SiteCodeInput } from './site-input';
import { softmaxAfter, softmaxBefore } from './site-softmax';
import { blank, code, comment, eps, ident, render, type Line } from './text';

export { decision, type EpilogueEngine, type SiteCodeInput, type SoftmaxShape } from './site-input';

/** γ as it multiplies the normalized row: `input_layernorm.weight`, `(1 + norm.weight)`, or nothing. */
export function gammaOf(norm: NormSpec): string | null {
  switch (norm.affine) {
    case 'weight':
    case 'weight+bias':
      return `${norm.name}.weight`;
    case 'one-plus-weight':
      return `(1 + ${norm.name}.weight)`;
    case 'none':
      return null;
  }
}

const betaOf = (norm: NormSpec): string | null => (norm.affine === 'weight+bias' ? `${norm.name}.bias` : null);

/** `4096 → 11008`, with the experts a token uses where the weight has copies. */
export function linearSize(lin: LinearSpec): string {
  const experts = lin.copies ? `, top-${lin.copies.active} of ${lin.copies.total} experts per token` : '';
  return `${lin.in} → ${lin.out}${experts}${lin.role === 'router' ? ' (router logits)' : ''}`;
}

/** `q_proj.weight′[topk_idx]` for routed experts, `q_proj.weight′` otherwise. */
function weightRef(lin: LinearSpec, folded: boolean): string {
  return `${lin.name}.weight${folded ? '′' : ''}${lin.copies ? '[topk_idx]' : ''}`;
}

const raw = (lin: LinearSpec): string => `${ident(lin.name)}_raw`;
const out = (lin: LinearSpec): string => `${ident(lin.name)}_out`;

/** Router first: routed experts wait for its decision (as the graph builds them). */
function ordered(consumers: readonly LinearSpec[]): LinearSpec[] {
  return [...consumers].sort((a, b) => Number(b.role === 'router') - Number(a.role === 'router'));
}

const isLayerNorm = (norm: NormSpec): boolean => norm.kind === 'layernorm';

/** What the deferred epilogue adds after the scale: c = β·W + b folded at load time, or the bias b. */
export function epilogueBias(norm: NormSpec, lin: LinearSpec): string | null {
  if (betaOf(norm) !== null) return `${lin.name}.bias′`;
  return lin.bias ? `${lin.name}.bias` : null;
}

/**
 * The load-time folds of a deferred norm site: W′ = diag(γ)·W for RMSNorm;
 * W̃ = (I − 11ᵀ/n)·diag(γ)·W and c = β·W + b for LayerNorm.
 */
export function foldLines(site: Site): Line[] {
  const norm = site.norm;
  if (!norm) return [];
  const gamma = gammaOf(norm);
  const beta = betaOf(norm);
  const lines: Line[] = [];
  if (gamma !== null) {
    const params = beta !== null ? `γ, β = ${gamma}, ${beta}` : `γ = ${gamma}`;
    lines.push(code(params, `[${norm.width}]${norm.affine === 'one-plus-weight' ? ', scaled as (1 + weight)' : ''}`));
  } else if (beta !== null) {
    lines.push(code(`β = ${beta}`, `[${norm.width}]`));
  }
  for (const lin of site.consumers) {
    const w = `${lin.name}.weight`;
    const shape = lin.copies ? `[${lin.copies.total}, ${lin.out}, ${lin.in}]` : `[${lin.out}, ${lin.in}]`;
    // γ is defined above as the factor itself ((1 + weight) for Gemma): the fold is diag(γ) either way.
    const gammaTag = 'diag(γ)';
    if (isLayerNorm(norm)) {
      lines.push(code(`${w}′ = ${gamma !== null ? `${w} * γ` : w}`, gamma !== null ? `${gammaTag}·W, γ along the ${lin.in} inputs` : `no γ: W`));
      lines.push(code(`${w}′ = ${w}′ - ${w}′.mean(dim=-1, keepdim=True)`, `W̃ = (I − 11ᵀ/n)·${gamma !== null ? `${gammaTag}·` : ''}W: centering folded, n = ${norm.width}, ${shape}`));
    } else {
      lines.push(code(`${w}′ = ${gamma !== null ? `${w} * γ` : w}`, gamma !== null ? `W′ = ${gammaTag}·W, ${shape}` : `no γ to fold: W′ = W`));
    }
    if (beta !== null) {
      lines.push(code(`${lin.name}.bias′ = ${w} @ β${lin.bias ? ` + ${lin.name}.bias` : ''}`, `c = β·W${lin.bias ? ' + b' : ''}: ${lin.out} values`));
    }
  }
  return lines;
}

/** The statistic of a norm site: local sums and, where the row is spread over units, the gather. */
function statisticLines(norm: NormSpec, units: number | null, note: string): Line[] {
  const ln = isLayerNorm(norm);
  const what = ln ? 'Σx and Σx²' : 'Σx²';
  const local = units === null ? `over the ${norm.width} values, all held by one unit` : `over this unit's part of the ${norm.width} values`;
  const lines = [code(ln ? 's1, ss = x.sum(dim=-1), (x * x).sum(dim=-1)' : 'ss = (x * x).sum(dim=-1)', `${VECTOR}: ${what} ${local}`)];
  if (units !== null) {
    lines.push(code(ln ? 's1, ss = all_gather_sum(s1, ss)' : 'ss = all_gather_sum(ss)', `collective: gather ${what} over ${units} units${note}`));
  } else {
    lines.push(comment('no collective: the statistic is local to one unit'));
  }
  return lines;
}

function scaleLine(norm: NormSpec, engine = VECTOR): Line {
  return isLayerNorm(norm)
    ? code(`mu = s1 / ${norm.width}; r = rsqrt(ss / ${norm.width} - mu * mu + ${eps(norm.eps)})`, `${engine}: one rsqrt per row`)
    : code(`r = rsqrt(ss / ${norm.width} + ${eps(norm.eps)})`, `${engine}: one rsqrt per row`);
}

/** How a normalized row (h) leaves the site when it does not (only) go into linears. */
function residualLines(norm: NormSpec): Line[] {
  if (norm.placement === 'post') return [code('x = h', 'post-norm: the normalized rows are the residual stream itself')];
  if (norm.placement === 'qk') return [code(`${norm.role === 'k' ? 'k' : 'q'} = h`, 'per-head rows go on to the rotary embedding and q·Kᵀ')];
  if (norm.feeds.length === 0) return [code('residual = residual + h', `${VECTOR}: the normalized rows feed the residual sum`)];
  return [];
}

// ---------------------------------------------------------------------------------------------
// Deeper deferral: how far the scale travels (issue 10)

/** The depth a listing shows: the one asked for, or 'linear' with the reason when the algebra refuses it. */
function depthOf(input: SiteCodeInput): { depth: DeferDepth; refused: string | null } {
  const asked = input.depth ?? 'linear';
  const refused = input.site.norm ? depthRefusal(input.site, asked, input.layer, input.positions) : null;
  return { depth: refused === null ? asked : 'linear', refused };
}

/** Names of q, k and v at one stage ('raw' in the deferred listing, 'out' in the usual one): split first when the projection is fused. */
interface QkvVars {
  split: Line[];
  q: string;
  k: string;
  v: string | null;
  /** q and k after the rotary embedding. */
  qRot: string;
  kRot: string;
  /** The consumers q, k, v come from. */
  qk: LinearSpec[];
  vLin: LinearSpec | null;
}

function qkvVars(consumers: readonly LinearSpec[], stage: 'raw' | 'out', layer: LayerKind): QkvVars {
  const of = (lin: LinearSpec): string => (stage === 'raw' ? raw(lin) : out(lin));
  const fused = consumers.find((l) => l.role === 'qkv');
  if (fused) {
    const a = layer.attention;
    const sizes = `[${a.heads * a.headDim}, ${a.kvHeads * a.headDim}, ${a.kvHeads * a.vHeadDim}]`;
    return {
      split: [code(`q_${stage}, k_${stage}, v_${stage} = ${of(fused)}.split(${sizes}, dim=-1)`, `${fused.name} holds q, k and v side by side`)],
      q: `q_${stage}`,
      k: `k_${stage}`,
      v: `v_${stage}`,
      qRot: 'q_rot',
      kRot: 'k_rot',
      qk: [fused],
      vLin: fused,
    };
  }
  const q = consumers.find((l) => l.role === 'q')!;
  const k = consumers.find((l) => l.role === 'k')!;
  const v = consumers.find((l) => l.role === 'v') ?? null;
  return { split: [], q: of(q), k: of(k), v: v === null ? null : of(v), qRot: `${ident(q.name)}_rot`, kRot: `${ident(k.name)}_rot`, qk: [q, k], vLin: v };
}

function ropeLines(vars: QkvVars, positions: ModelSpec['positions'] | undefined, note: string): { lines: Line[]; q: string; k: string } {
  if (positions !== 'rope') return { lines: [], q: vars.q, k: vars.k };
  const q = vars.qRot;
  const k = vars.kRot;
  return { lines: [code(`${q} = rope(${vars.q}, pos)`, `${VECTOR}: ${note}`), code(`${k} = rope(${vars.k}, pos)`)], q, k };
}

/** The MLP's input projections (gate and up, fused gate_up, or fc1) as the activation reads them. */
function mlpHidden(consumers: readonly LinearSpec[], layer: LayerKind, stage: 'raw' | 'out'): { lines: Line[]; gated: boolean } {
  const of = (lin: LinearSpec): string => (stage === 'raw' ? raw(lin) : out(lin));
  const act = layer.mlp.activation;
  const fused = consumers.find((l) => l.role === 'gate_up');
  const gate = consumers.find((l) => l.role === 'gate');
  const up = consumers.find((l) => l.role === 'up');
  const fc1 = consumers.find((l) => l.role === 'fc1');
  const note = stage === 'raw' ? ': on the raw rows, ' : '';
  if (fused) {
    return {
      gated: true,
      lines: [
        code(`g_${stage}, u_${stage} = ${of(fused)}.chunk(2, dim=-1)`, `${fused.name} holds the gate and up halves`),
        code(`h = ${act}(g_${stage}) * u_${stage}`, `${VECTOR}${note}${stage === 'raw' ? `${act}(r·g)⊙(r·u) = r²·(${act}(g)⊙u)` : 'gated activation'}`),
      ],
    };
  }
  if (gate && up) {
    return { gated: true, lines: [code(`h = ${act}(${of(gate)}) * ${of(up)}`, `${VECTOR}${note}${stage === 'raw' ? `${act}(r·g)⊙(r·u) = r²·(${act}(g)⊙u)` : 'gated activation'}`)] };
  }
  const first = fc1 ?? up ?? gate!;
  return { gated: false, lines: [code(`h = ${act}(${of(first)})`, `${VECTOR}${note}${stage === 'raw' ? `${act}(r·a) = r·${act}(a) for r > 0` : 'activation'}`)] };
}

/** What the usual schedule does after the consumers, up to the point the deeper depth carries r to. */
function usualContinuation(input: SiteCodeInput, depth: DeferDepth): Line[] {
  const layer = input.layer;
  if (depth === 'linear' || !layer) return [];
  const consumers = input.site.consumers;
  if (depth === 'down') {
    const down = layer.linears.find((l) => l.role === 'down')!;
    const { lines } = mlpHidden(consumers, layer, 'out');
    return [...lines, code(`${out(down)} = h @ ${weightRef(down, false)}.T${down.bias ? ` + ${down.name}.bias` : ''}`, `${MATRIX}: ${linearSize(down)}`)];
  }
  const vars = qkvVars(consumers, 'out', layer);
  const rope = ropeLines(vars, input.positions, 'rotary embedding');
  const lines = [...vars.split, ...rope.lines];
  if (depth === 'attention') {
    lines.push(
      code(`s = (${rope.q} @ ${rope.k}.transpose(-2, -1)) * scale`, `${MATRIX}: logits q·k/√d`),
      code('p = softmax(s, dim=-1)', `${VECTOR}: as the Softmax site does it`),
      code(`o = p @ ${vars.v ?? 'v'}`, MATRIX),
    );
  }
  return lines;
}

function normBefore(input: SiteCodeInput, norm: NormSpec): Line[] {
  const gamma = gammaOf(norm);
  const beta = betaOf(norm);
  const ln = isLayerNorm(norm);
  const { depth } = depthOf(input);
  const lines = [
    ...header(input),
    comment(`before: the usual schedule; ${input.site.consumers.length > 0 ? 'the matmuls wait for the gathered statistic' : 'the normalized rows are materialized'}`),
    comment(`x: rows of ${norm.width} values entering ${norm.name}`),
    ...statisticLines(norm, input.units, input.units !== null ? ', on the critical path' : ''),
    scaleLine(norm),
    code(`h = ${ln ? '(x - mu)' : 'x'} * r${gamma !== null ? ` * ${gamma}` : ''}${beta !== null ? ` + ${beta}` : ''}`, `${VECTOR}: normalize ${norm.width} values per row`),
  ];
  const consumers = ordered(input.site.consumers);
  const router = consumers.find((l) => l.role === 'router');
  for (const lin of consumers) {
    lines.push(code(`${out(lin)} = h @ ${weightRef(lin, false)}.T${lin.bias ? ` + ${lin.name}.bias` : ''}`, `${MATRIX}: ${linearSize(lin)}`));
    if (lin === router) lines.push(code(`topk_idx = topk(${out(lin)}, k=${input.topK ?? '?'})`, `${VECTOR}: routing decision`));
  }
  if (router) lines.push(code(`gate_w = softmax(${out(router)}, dim=-1)`, `${VECTOR}: gate weights, read at topk_idx`));
  lines.push(...usualContinuation(input, depth));
  lines.push(...residualLines(norm));
  return lines;
}

/** Where the deferred scale lands, for the listing's opening comment. */
function depthSummary(depth: DeferDepth, ln: boolean): string {
  switch (depth) {
    case 'linear':
      return ln
        ? 'centering and γ folded into the weights, β into the bias; the matmuls start at once while Σx and Σx² are gathered'
        : 'γ folded into the weights; the matmuls start at once while Σx² is gathered';
    case 'rope':
      return 'γ folded into the weights; q and k are rotated raw and scaled after RoPE (rope(r·q) = r·rope(q): RoPE mixes pairs within a row), so Σx² is gathered behind the matmuls and RoPE';
    case 'attention':
      return "γ folded into the weights; r reaches the attention: q's and k's scales multiply the logits' rows and columns before exp, v's multiplies e's columns after the row sum, so Σx² is gathered behind the matmuls, RoPE and q·kᵀ";
    case 'down':
      return 'γ folded into the input projections; the activation and the down projection run on the raw rows and r scales the down projection\'s output, so Σx² is gathered behind the whole MLP';
  }
}

function normAfter(input: SiteCodeInput, norm: NormSpec): Line[] {
  const ln = isLayerNorm(norm);
  const { depth, refused } = depthOf(input);
  const consumers = ordered(input.site.consumers);
  const router = consumers.find((l) => l.role === 'router');
  const lines: Line[] = [
    comment(`after${depth !== 'linear' ? ` (depth: ${depth})` : ''}: ${depthSummary(depth, ln)}`),
    ...(refused !== null ? [comment(`depth '${input.depth}' not taken: ${refused}; the scale is applied after the linear layer`)] : []),
    comment('load time, once:'),
    ...foldLines(input.site),
    blank,
    comment('per row, side by side on different engines:'),
  ];
  for (const lin of consumers) {
    lines.push(code(`${raw(lin)} = x @ ${weightRef(lin, true)}.T`, `${MATRIX}: ${linearSize(lin)}, on the raw rows`));
    if (lin === router) {
      lines.push(code(`topk_idx = topk(${raw(lin)}, k=${input.topK ?? '?'})`, `${VECTOR}: top-k on raw logits: a positive scale r does not change top-k`));
    }
  }
  const hidden = depth === 'linear' ? 'the matmuls' : depth === 'rope' ? 'the matmuls and RoPE' : depth === 'attention' ? 'the matmuls, RoPE and q·kᵀ' : 'the whole MLP';
  lines.push(...statisticLines(norm, input.units, `, hidden behind ${hidden}`));
  const engine = epilogueEngine(input.epilogue);
  // Consumers the depth carries r past; the others take it right after their matmul.
  const carried = new Set<LinearSpec>();
  const deep: Line[] = [];
  const layer = input.layer;
  if (layer && (depth === 'rope' || depth === 'attention')) {
    const vars = qkvVars(consumers, 'raw', layer);
    vars.qk.forEach((l) => carried.add(l));
    deep.push(...vars.split);
    const rope = ropeLines(vars, input.positions, 'RoPE on the raw rows: it rotates pairs within a row, so rope(r·q) = r·rope(q)');
    deep.push(...rope.lines);
    if (depth === 'rope') {
      deep.push(blank, comment('epilogue: r after RoPE for q and k'), scaleLine(norm, engine));
      const fusedQkv = vars.qk[0]!.role === 'qkv';
      const target = (stage: 'q' | 'k'): string => (fusedQkv ? stage : out(vars.qk[stage === 'q' ? 0 : 1]!));
      const width = (stage: 'q' | 'k'): string => {
        const a = layer.attention;
        return String(stage === 'q' ? a.heads * a.headDim : a.kvHeads * a.headDim);
      };
      deep.push(code(`${target('q')} = r * ${rope.q}`, `${engine}: q = r·rope(x @ W′), ${width('q')} values per row`));
      deep.push(code(`${target('k')} = r * ${rope.k}`, `${engine}: k = r·rope(x @ W′), ${width('k')} values per row`));
      if (fusedQkv && vars.v !== null) deep.push(code(`v = r * ${vars.v}`, `${engine}: v = r·(x @ W′)`));
    } else {
      if (vars.vLin) carried.add(vars.vLin);
      const v = vars.v ?? 'v';
      deep.push(
        code(`s = (${rope.q} @ ${rope.k}.transpose(-2, -1)) * scale`, `${MATRIX}: logits of the raw rows, q̂·k̂/√d`),
        blank,
        comment("epilogue: r on the logits before exp, v's r after the row sum"),
        scaleLine(norm, engine),
        code('s = s * (r[:, None] * r[None, :])', `${engine}: l_ij = r_i·r_j·(q̂_i·k̂_j)/√d, row i by q's scale, column j by k's`),
        comment("decode: the new token's r on its row, and on its own column only: cached keys and values were stored scaled"),
        code('c = s.amax(dim=-1, keepdim=True)', `${VECTOR}: the max of the scaled logits`),
        code('e = exp(s - c); l = e.sum(dim=-1, keepdim=True)', `${VECTOR}: the row sum, without v's scale`),
        code(`o = ((e * r[None, :]) @ ${v}) / l`, `${MATRIX}: v's scale r_j on column j of e after the row sum is taken`),
        code(`cache_k, cache_v = r[:, None] * ${rope.k}, r[:, None] * ${v}`, 'stored scaled for later decode steps, off the critical path'),
      );
    }
  } else if (layer && depth === 'down') {
    const down = layer.linears.find((l) => l.role === 'down')!;
    consumers.filter((l) => MLP_IN_ROLES.has(l.role)).forEach((l) => carried.add(l));
    const { lines: act, gated } = mlpHidden(consumers, layer, 'raw');
    deep.push(
      ...act,
      code(`${raw(down)} = h @ ${weightRef(down, false)}.T`, `${MATRIX}: ${linearSize(down)}, weights unchanged, on the raw activations`),
      blank,
      comment(`epilogue: ${gated ? 'r²' : 'r'} on the down projection's output`),
      scaleLine(norm, engine),
      code(
        `${out(down)} = ${gated ? 'r * r' : 'r'} * ${raw(down)}${down.bias ? ` + ${down.name}.bias` : ''}`,
        `${engine}: out = ${gated ? 'r²' : 'r'}·(h @ W_down)${down.bias ? ' + b' : ''}, ${down.out} values per row`,
      ),
    );
  }
  const rest = consumers.filter((l) => !carried.has(l));
  if (deep.length > 0) lines.push(...deep);
  if (rest.length > 0) {
    lines.push(
      blank,
      comment(
        deep.length > 0
          ? `epilogue of the other consumers: r right after the matmul`
          : rest.length > 1
            ? `epilogue: one statistic, one epilogue per consumer (${rest.length})`
            : 'epilogue:',
      ),
    );
    if (deep.length === 0) lines.push(scaleLine(norm, engine));
    for (const lin of rest) {
      const bias = epilogueBias(norm, lin);
      const formula = `y = r·(x @ ${ln ? 'W̃' : 'W′'})${bias === null ? '' : betaOf(norm) !== null ? ' + c' : ' + b'}`;
      lines.push(code(`${out(lin)} = r * ${raw(lin)}${bias !== null ? ` + ${bias}` : ''}`, `${engine}: ${formula}, ${lin.out} values per row${lin.copies ? ' per routed expert' : ''}`));
    }
  }
  if (router) {
    lines.push(code(`gate_w = softmax(${out(router)}, dim=-1)`, `${VECTOR}: the gate softmax after the scale: r changes the weights, not the choice`));
  }
  return lines;
}

/** The before/after pseudo-code of one site. */
export function sitePseudocode(input: SiteCodeInput): PseudocodeSite {
  const { site } = input;
  const before = site.norm ? normBefore(input, site.norm) : softmaxBefore(input);
  let after = afterPreamble(input);
  if (input.result.decision !== 'ineligible') {
    after = [...after, ...(site.norm ? normAfter(input, site.norm) : softmaxAfter(input))];
  }
  return { site: site.id, name: site.name, decision: input.result.decision, layerKind: input.layerKind.id, before: render(before), after: render(after) };
}
