/**
 * Building blocks for LayerKinds: norms, linears, attention and MLP parts, and
 * the grouping of per-layer descriptions into kinds. Family adapters compose
 * these; nothing here knows about a particular config format.
 */
import type {
  AttentionSpec,
  LayerKind,
  LinearRole,
  LinearSpec,
  MlpSpec,
  NormKind,
  NormPlacement,
  NormRole,
  NormSpec,
} from './spec';
import { parseActivation } from './families/activation';

/** What every norm of a model shares: kind, epsilon, learned parameters. */
export interface NormStyle {
  kind: NormKind;
  eps: number;
  affine: NormSpec['affine'];
}

export function norm(
  style: NormStyle,
  name: string,
  role: NormRole,
  placement: NormPlacement,
  width: number,
  feeds: string[],
): NormSpec {
  return { name, role, kind: style.kind, eps: style.eps, placement, width, affine: style.affine, feeds };
}

export function linear(
  name: string,
  role: LinearRole,
  inFeatures: number,
  outFeatures: number,
  bias: boolean,
  copies?: { total: number; active: number },
): LinearSpec {
  const spec: LinearSpec = { name, role, in: inFeatures, out: outFeatures, bias };
  if (copies) spec.copies = copies;
  return spec;
}

export function attentionSpec(
  heads: number,
  kvHeads: number,
  headDim: number,
  window: number | null,
  causal: boolean,
  vHeadDim: number = headDim,
): AttentionSpec {
  const kind = kvHeads === heads ? 'mha' : kvHeads === 1 ? 'mqa' : 'gqa';
  return { kind, heads, kvHeads, headDim, vHeadDim, window, causal };
}

/** One sublayer's contribution: its linears, norms inside it (QK, latent), and the linears that read its input. */
export interface Part {
  linears: LinearSpec[];
  inner: NormSpec[];
  /** Names of the linears that read the sublayer's input (what the norm before it feeds). */
  reads: string[];
}

/** An MLP's linear layers together with the MlpSpec that describes them: one statement of its sizes. */
export interface MlpPart extends Part {
  spec: MlpSpec;
}

export interface AttentionNames {
  q: string;
  k: string;
  v: string;
  o: string;
}

/** Standard attention with separate or fused QKV projections and optional per-head QK-norms. */
export function attentionPart(o: {
  hidden: number;
  attn: AttentionSpec;
  names: AttentionNames | { qkv: string; o: string };
  qkvBias: boolean;
  oBias: boolean;
  qkNorm?: { style: NormStyle; q: string; k: string } | null;
  /** Cross-attention: keys and values read the encoder output, not this sublayer's input. */
  cross?: boolean;
}): Part {
  const { hidden, attn } = o;
  const qOut = attn.heads * attn.headDim;
  const kOut = attn.kvHeads * attn.headDim;
  const vOut = attn.kvHeads * attn.vHeadDim;
  const oIn = attn.heads * attn.vHeadDim;
  const linears: LinearSpec[] = [];
  let reads: string[];
  if ('qkv' in o.names) {
    linears.push(linear(o.names.qkv, 'qkv', hidden, qOut + kOut + vOut, o.qkvBias));
    reads = [o.names.qkv];
  } else {
    const n = o.names;
    const c = o.cross === true;
    linears.push(
      linear(n.q, c ? 'cross_q' : 'q', hidden, qOut, o.qkvBias),
      linear(n.k, c ? 'cross_k' : 'k', hidden, kOut, o.qkvBias),
      linear(n.v, c ? 'cross_v' : 'v', hidden, vOut, o.qkvBias),
    );
    reads = c ? [n.q] : [n.q, n.k, n.v];
  }
  const inner: NormSpec[] = [];
  if (o.qkNorm) {
    // QK-norms normalize each head's query/key before RoPE; they feed the score matmul, not a linear.
    inner.push(norm(o.qkNorm.style, o.qkNorm.q, 'q', 'qk', attn.headDim, []));
    inner.push(norm(o.qkNorm.style, o.qkNorm.k, 'k', 'qk', attn.headDim, []));
  }
  linears.push(linear(o.names.o, o.cross ? 'cross_o' : 'o', oIn, hidden, o.oBias));
  return { linears, inner, reads };
}

/** Multi-head latent attention (DeepSeek V2/V3). */
export function mlaPart(o: {
  hidden: number;
  heads: number;
  qLoraRank: number | null;
  kvLoraRank: number;
  ropeHeadDim: number;
  nopeHeadDim: number;
  vHeadDim: number;
  bias: boolean;
  latentNorm: NormStyle;
}): Part {
  const qHead = o.nopeHeadDim + o.ropeHeadDim;
  const linears: LinearSpec[] = [];
  const inner: NormSpec[] = [];
  const reads: string[] = [];
  if (o.qLoraRank !== null) {
    linears.push(linear('q_a_proj', 'q_a', o.hidden, o.qLoraRank, o.bias));
    inner.push(norm(o.latentNorm, 'q_a_layernorm', 'q-latent', 'latent', o.qLoraRank, ['q_b_proj']));
    linears.push(linear('q_b_proj', 'q_b', o.qLoraRank, o.heads * qHead, false));
    reads.push('q_a_proj');
  } else {
    linears.push(linear('q_proj', 'q', o.hidden, o.heads * qHead, false));
    reads.push('q_proj');
  }
  // kv_a_proj_with_mqa emits the compressed latent plus the shared RoPE key; only the latent is normalized.
  linears.push(linear('kv_a_proj_with_mqa', 'kv_a', o.hidden, o.kvLoraRank + o.ropeHeadDim, o.bias));
  inner.push(norm(o.latentNorm, 'kv_a_layernorm', 'kv-latent', 'latent', o.kvLoraRank, ['kv_b_proj']));
  linears.push(linear('kv_b_proj', 'kv_b', o.kvLoraRank, o.heads * (o.nopeHeadDim + o.vHeadDim), false));
  linears.push(linear('o_proj', 'o', o.heads * o.vHeadDim, o.hidden, o.bias));
  reads.push('kv_a_proj_with_mqa');
  return { linears, inner, reads };
}

/** A gated MLP (SwiGLU/GeGLU), with separate or fused gate/up projections. */
export function gatedMlpPart(o: {
  hidden: number;
  ffn: number;
  bias: boolean;
  activation: string;
  names?: { gate: string; up: string; down: string } | { gateUp: string; down: string };
}): MlpPart {
  const names = o.names ?? { gate: 'gate_proj', up: 'up_proj', down: 'down_proj' };
  const spec: MlpSpec = { kind: 'gated', ffn: o.ffn, activation: o.activation, activationKind: parseActivation(o.activation), gated: true, bias: o.bias };
  if ('gateUp' in names) {
    return {
      linears: [linear(names.gateUp, 'gate_up', o.hidden, 2 * o.ffn, o.bias), linear(names.down, 'down', o.ffn, o.hidden, o.bias)],
      inner: [],
      reads: [names.gateUp],
      spec,
    };
  }
  return {
    linears: [
      linear(names.gate, 'gate', o.hidden, o.ffn, o.bias),
      linear(names.up, 'up', o.hidden, o.ffn, o.bias),
      linear(names.down, 'down', o.ffn, o.hidden, o.bias),
    ],
    inner: [],
    reads: [names.gate, names.up],
    spec,
  };
}

/** A plain two-layer MLP (fc1 → activation → fc2). */
export function denseMlpPart(o: { hidden: number; ffn: number; bias: boolean; activation: string; fc1: string; fc2: string; outBias?: boolean }): MlpPart {
  return {
    linears: [linear(o.fc1, 'fc1', o.hidden, o.ffn, o.bias), linear(o.fc2, 'down', o.ffn, o.hidden, o.outBias ?? o.bias)],
    inner: [],
    reads: [o.fc1],
    spec: { kind: 'dense', ffn: o.ffn, activation: o.activation, activationKind: parseActivation(o.activation), gated: false, bias: o.bias },
  };
}

/** A mixture-of-experts MLP: router, routed experts (with copies), optional shared expert path. */
export function moePart(o: {
  hidden: number;
  ffn: number;
  experts: number;
  topK: number;
  activation: string;
  router: string;
  routerBias: boolean;
  expertBias: boolean;
  /** Expert projection names; `gateUp` for fused (gpt-oss). */
  expertNames: { gate: string; up: string; down: string } | { gateUp: string; down: string };
  shared?: { count: number; ffn: number; prefix: string; gate?: string } | null;
}): MlpPart {
  const spec: MlpSpec = { kind: 'moe', ffn: o.ffn, activation: o.activation, activationKind: parseActivation(o.activation), gated: true, bias: o.expertBias, experts: o.experts, topK: o.topK };
  if (o.shared) {
    spec.sharedExperts = o.shared.count;
    spec.sharedFfn = o.shared.ffn;
  }
  const copies = { total: o.experts, active: o.topK };
  const linears: LinearSpec[] = [linear(o.router, 'router', o.hidden, o.experts, o.routerBias)];
  const reads = [o.router];
  const n = o.expertNames;
  if ('gateUp' in n) {
    linears.push(linear(n.gateUp, 'gate_up', o.hidden, 2 * o.ffn, o.expertBias, copies));
    linears.push(linear(n.down, 'down', o.ffn, o.hidden, o.expertBias, copies));
    reads.push(n.gateUp);
  } else {
    linears.push(linear(n.gate, 'gate', o.hidden, o.ffn, o.expertBias, copies));
    linears.push(linear(n.up, 'up', o.hidden, o.ffn, o.expertBias, copies));
    linears.push(linear(n.down, 'down', o.ffn, o.hidden, o.expertBias, copies));
    reads.push(n.gate, n.up);
  }
  if (o.shared) {
    const p = o.shared.prefix;
    linears.push(
      linear(`${p}.gate_proj`, 'shared_gate', o.hidden, o.shared.ffn, false),
      linear(`${p}.up_proj`, 'shared_up', o.hidden, o.shared.ffn, false),
      linear(`${p}.down_proj`, 'shared_down', o.shared.ffn, o.hidden, false),
    );
    reads.push(`${p}.gate_proj`, `${p}.up_proj`);
    if (o.shared.gate) {
      // Qwen2-MoE scales the shared expert by a sigmoid gate: a 1-wide linear of the same input
      // (role shared_gate so that it joins the shared path, not the routing decision).
      linears.push(linear(o.shared.gate, 'shared_gate', o.hidden, 1, false));
      reads.push(o.shared.gate);
    }
  }
  return { linears, inner: [], reads, spec };
}

/**
 * A pre-norm block (Llama and most decoders), optionally with Gemma 2/3's extra
 * norms on each sublayer's output ("sandwich").
 */
export function preNormLayer(o: {
  index: number;
  style: NormStyle;
  hidden: number;
  attention: AttentionSpec;
  attn: Part;
  mlp: MlpPart;
  names?: { attn: string; mlp: string };
  sandwich?: { attnPost: string; mlpPre: string; mlpPost: string } | null;
}): LayerKind {
  const { style, hidden } = o;
  const norms: NormSpec[] = [];
  if (o.sandwich) {
    norms.push(norm(style, o.names?.attn ?? 'input_layernorm', 'attn', 'pre', hidden, o.attn.reads));
    norms.push(...o.attn.inner);
    norms.push(norm(style, o.sandwich.attnPost, 'attn-post', 'sandwich', hidden, []));
    norms.push(norm(style, o.sandwich.mlpPre, 'mlp', 'pre', hidden, o.mlp.reads));
    norms.push(norm(style, o.sandwich.mlpPost, 'mlp-post', 'sandwich', hidden, []));
  } else {
    norms.push(norm(style, o.names?.attn ?? 'input_layernorm', 'attn', 'pre', hidden, o.attn.reads));
    norms.push(...o.attn.inner);
    norms.push(norm(style, o.names?.mlp ?? 'post_attention_layernorm', 'mlp', 'pre', hidden, o.mlp.reads));
  }
  return {
    id: '',
    label: '',
    layers: [o.index],
    block: o.sandwich ? 'sandwich' : 'pre-norm',
    attention: o.attention,
    mlp: o.mlp.spec,
    norms,
    linears: [...o.attn.linears, ...o.mlp.linears],
    stack: 'decoder',
  };
}

/** A bare LayerKind for families that lay out their norms by hand. */
export function layerKind(
  o: Pick<LayerKind, 'block' | 'attention' | 'crossAttention' | 'mlp' | 'norms' | 'linears'> & { index: number; stack?: LayerKind['stack'] },
): LayerKind {
  const kind: LayerKind = {
    id: '',
    label: '',
    layers: [o.index],
    block: o.block,
    attention: o.attention,
    mlp: o.mlp,
    norms: o.norms,
    linears: o.linears,
    stack: o.stack ?? 'decoder',
  };
  if (o.crossAttention) kind.crossAttention = o.crossAttention;
  return kind;
}

/** Merges identical per-layer descriptions into kinds, then names and labels them. */
export function groupLayers(perLayer: LayerKind[]): LayerKind[] {
  const groups = new Map<string, LayerKind>();
  for (const layer of perLayer) {
    const key = JSON.stringify({ ...layer, layers: [] });
    const existing = groups.get(key);
    if (existing) existing.layers.push(...layer.layers);
    else groups.set(key, { ...layer, layers: [...layer.layers] });
  }
  const kinds = [...groups.values()];
  nameKinds(kinds);
  for (const kind of kinds) kind.label = describeKind(kind);
  return kinds;
}

/** Ids come from the features that tell the kinds apart: stack, window, dense/MoE. */
function nameKinds(kinds: LayerKind[]): void {
  const stackOf = (k: LayerKind) => (k.stack === 'encoder' ? 'encoder' : k.crossAttention ? 'cross-decoder' : 'decoder');
  const windowOf = (k: LayerKind) => (k.attention.window !== null ? 'sliding' : 'full');
  const mlpOf = (k: LayerKind) => (k.mlp.kind === 'moe' ? 'moe' : 'dense');
  const varies = (f: (k: LayerKind) => string) => new Set(kinds.map(f)).size > 1;
  const features: ((k: LayerKind) => string)[] = [];
  if (varies(stackOf)) features.push(stackOf);
  if (varies(windowOf)) features.push(windowOf);
  if (varies(mlpOf)) features.push(mlpOf);
  const seen = new Map<string, number>();
  for (const kind of kinds) {
    let id = features.length ? features.map((f) => f(kind)).join('-') : stackOf(kind);
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    if (count > 1) id = `${id}-${count}`;
    kind.id = id;
  }
}

/** A one-line human description of a layer kind. */
export function describeKind(kind: LayerKind): string {
  const a = kind.attention;
  const parts: string[] = [];
  if (kind.stack === 'encoder') parts.push('encoder');
  if (a.kind === 'mla') {
    const m = a.mla!;
    parts.push(`MLA ${a.heads} heads (q rank ${m.qLoraRank ?? 'none'}, kv rank ${m.kvLoraRank})`);
  } else {
    const heads = a.kind === 'mha' ? `${a.heads} heads` : `${a.heads}q/${a.kvHeads}kv heads`;
    parts.push(`${a.kind.toUpperCase()} ${heads} × ${a.headDim}`);
  }
  parts.push(a.window !== null ? `sliding window ${a.window}` : a.causal ? 'full causal' : 'bidirectional');
  if (kind.crossAttention) parts.push('cross-attention');
  const m = kind.mlp;
  if (m.kind === 'moe') {
    let s = `MoE ${m.experts} experts top-${m.topK} × ${m.ffn}`;
    if (m.sharedExperts) s += ` + ${m.sharedExperts} shared (${m.sharedFfn})`;
    parts.push(s);
  } else {
    parts.push(`${m.gated ? 'gated ' : ''}MLP ${m.ffn} (${m.activation})`);
  }
  if (kind.block !== 'pre-norm') parts.push(kind.block === 'sandwich' ? 'sandwich norms' : kind.block);
  return parts.join(', ');
}
