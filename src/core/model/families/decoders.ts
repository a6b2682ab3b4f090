/**
 * Llama-style decoders (their descriptors are in descriptors.ts): pre-norm RMSNorm blocks with q/k/v/o and a gated MLP,
 * and the families that differ from it only in traits (biases, QK-norms, Gemma's
 * (1+w) and sandwich norms, fused projections, sliding-window patterns, MoE
 * layouts, DeepSeek's latent attention, Jamba's interleaved Mamba layers).
 */
import { LIMITS, type ConfigReader } from '../fields';
import {
  attentionPart,
  attentionSpec,
  gatedMlpPart,
  linear,
  mlaPart,
  moePart,
  norm,
  preNormLayer,
  type MlpPart,
  type NormStyle,
  type Part,
} from '../layers';
import type { AttentionSpec, LayerKind, NormKind } from '../spec';
import {
  KEYS,
  activation,
  embedParams,
  hiddenSize,
  layerCount,
  maxPositions,
  normParams,
  resolveHeads,
  vocabSize,
  type FamilyInput,
  type FamilyResult,
} from './common';

type MoeStyle = 'mixtral' | 'qwen' | 'deepseek' | 'gpt-oss' | 'jamba' | 'generic';
type WindowRule = 'all' | 'qwen' | 'gemma2' | 'gemma3' | 'jamba' | 'none';

export interface Traits {
  family: string;
  /** Gemma generation: RMSNorm (1+w); 2 and 3 add sandwich norms. */
  gemma?: 1 | 2 | 3;
  /** q/k/v carry a bias by design (Qwen2), regardless of attention_bias. */
  qkvBias?: boolean;
  qkNorm?: boolean;
  /** Phi-3: fused qkv_proj and gate_up_proj. */
  fused?: boolean;
  tieDefault: boolean;
  act: string;
  /** Which layers slide, and from which config fields (a rule, not a width). */
  slidingWindow: WindowRule;
  moe?: MoeStyle;
  /** An unknown model type read as a Llama-style decoder (said in a note). */
  generic?: boolean;
}

export const LLAMA_TRAITS: Traits = { family: 'llama', tieDefault: false, act: 'silu', slidingWindow: 'none' };

/** Read as a Llama-style decoder when the model type is not known but the config has the usual fields. */
export function genericTraits(modelType: string): Traits {
  return { ...LLAMA_TRAITS, family: modelType || 'unknown', slidingWindow: 'all', moe: 'generic', generic: true };
}

/** A layer's attention type from `layer_types` or a family's pattern. Anything else is skipped. */
type LayerType = 'full_attention' | 'sliding_attention' | string;

function layerTypes(r: ConfigReader, t: Traits, layers: number, notes: string[]): LayerType[] {
  const listed = r.strList('layer_types');
  if (listed) {
    if (listed.length !== layers) throw r.error('layer_types', `a list of ${layers} layer types (one per layer)`, listed);
    return listed;
  }
  const fill = (f: (i: number) => LayerType) => Array.from({ length: layers }, (_, i) => f(i));
  const hasWindow = r.has('sliding_window');
  switch (t.slidingWindow) {
    case 'none':
      return fill(() => 'full_attention');
    case 'all':
      return fill(() => (hasWindow && r.bool(['use_sliding_window'], true) ? 'sliding_attention' : 'full_attention'));
    case 'qwen': {
      // Qwen2/3 slide only when use_sliding_window is set, and then only from layer max_window_layers on
      // (28 when the config leaves it out, as in transformers' Qwen2/Qwen3 config classes).
      if (!r.bool(['use_sliding_window'], false) || !hasWindow) return fill(() => 'full_attention');
      const from = r.size(['max_window_layers'], { default: 28, allowZero: true, max: LIMITS.layers });
      return fill((i) => (i >= from ? 'sliding_attention' : 'full_attention'));
    }
    case 'gemma2':
      // Gemma 2 alternates: even layers local (sliding), odd layers global.
      return fill((i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
    case 'jamba': {
      // Jamba interleaves: one attention layer every attn_layer_period layers, Mamba layers elsewhere.
      const period = r.size(['attn_layer_period'], { default: 8, max: LIMITS.layers });
      const offset = r.size(['attn_layer_offset'], { default: 4, allowZero: true, max: LIMITS.layers });
      const attn = hasWindow ? 'sliding_attention' : 'full_attention';
      return fill((i) => (i % period === offset ? attn : 'mamba'));
    }
    case 'gemma3': {
      const pattern = r.size(['sliding_window_pattern', '_sliding_window_pattern'], { default: 6, max: LIMITS.layers });
      notes.push(`Gemma 3 layout: every ${pattern}th layer is global, the others attend within a sliding window of recent tokens.`);
      return fill((i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention'));
    }
  }
}

interface MoeLayout {
  experts: number;
  topK: number;
  ffn: number;
  isMoe: (i: number) => boolean;
  shared: { count: number; ffn: number; prefix: string; gate?: string } | null;
}

function moeLayout(r: ConfigReader, style: MoeStyle, hidden: number, denseFfn: number, layers: number): MoeLayout | null {
  const experts = r.optSize(KEYS.experts, { max: LIMITS.experts, allowZero: true });
  if (!experts) {
    if (style === 'generic' || style === 'deepseek' || style === 'qwen') return null;
    throw r.error(KEYS.experts[0], 'a positive number of experts', undefined);
  }
  const topK = r.size(KEYS.topK, { max: experts, default: style === 'mixtral' ? 2 : undefined });
  switch (style) {
    case 'mixtral':
    case 'gpt-oss':
    case 'generic':
      return { experts, topK, ffn: r.size(['moe_intermediate_size', ...KEYS.ffn], { default: denseFfn }), isMoe: () => true, shared: null };
    case 'qwen': {
      const mlpOnly = new Set(r.intList('mlp_only_layers', layers - 1) ?? []);
      const step = r.size(['decoder_sparse_step'], { default: 1, max: LIMITS.layers });
      const sharedFfn = r.optSize(['shared_expert_intermediate_size'], { allowZero: true });
      return {
        experts,
        topK,
        ffn: r.size(['moe_intermediate_size']),
        isMoe: (i) => !mlpOnly.has(i) && (i + 1) % step === 0,
        shared: sharedFfn ? { count: 1, ffn: sharedFfn, prefix: 'shared_expert', gate: 'shared_expert_gate' } : null,
      };
    }
    case 'deepseek': {
      const firstDense = r.size(['first_k_dense_replace'], { default: 0, allowZero: true, max: LIMITS.layers });
      const freq = r.size(['moe_layer_freq'], { default: 1, max: LIMITS.layers });
      const ffn = r.size(['moe_intermediate_size']);
      const shared = r.size(['n_shared_experts'], { default: 0, allowZero: true, max: LIMITS.experts });
      return {
        experts,
        topK,
        ffn,
        isMoe: (i) => i >= firstDense && i % freq === 0,
        shared: shared ? { count: shared, ffn: shared * ffn, prefix: 'shared_experts' } : null,
      };
    }
    case 'jamba': {
      const period = r.size(['expert_layer_period'], { default: 2, max: LIMITS.layers });
      const offset = r.size(['expert_layer_offset'], { default: 1, allowZero: true, max: LIMITS.layers });
      return { experts, topK, ffn: denseFfn, isMoe: (i) => experts > 1 && i % period === offset, shared: null };
    }
  }
}

export function decoderAdapter(t: Traits) {
  return ({ r, norm }: FamilyInput): FamilyResult => buildDecoder(r, t, norm);
}

function buildDecoder(r: ConfigReader, t: Traits, familyNorm: NormKind | null): FamilyResult {
  const notes: string[] = [];
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const isMla = t.moe === 'deepseek' && r.has('kv_lora_rank');
  const { heads, kvHeads, headDim } = isMla
    ? { heads: r.size(KEYS.heads, { max: LIMITS.heads }), kvHeads: 0, headDim: 0 }
    : resolveHeads(r, hidden);
  const denseFfn = r.size(KEYS.ffn);
  const act = activation(r, t.act);
  const tied = r.bool(KEYS.tie, t.tieDefault);

  // Norm kind: the family's, except for unknown types where the eps key tells.
  let kind: NormKind = familyNorm ?? 'rmsnorm';
  if (familyNorm === null && !r.has('rms_norm_eps') && r.has('layer_norm_eps', 'layer_norm_epsilon')) kind = 'layernorm';
  const style: NormStyle = {
    kind,
    eps: r.eps(KEYS.eps, 1e-6),
    affine: t.gemma ? 'one-plus-weight' : kind === 'layernorm' ? 'weight+bias' : 'weight',
  };

  const attnBias = r.bool(['attention_bias'], t.family === 'gpt_oss');
  const qkvBias = t.qkvBias ?? attnBias;
  const oBias = t.qkvBias ? false : attnBias;
  const mlpBias = r.bool(['mlp_bias'], false);
  const window = r.optSize(['sliding_window', 'attention_chunk_size'], { max: LIMITS.positions });
  const types = layerTypes(r, t, layers, notes);
  const moe = t.moe ? moeLayout(r, t.moe, hidden, denseFfn, layers) : null;

  const perLayer: LayerKind[] = [];
  const skipped = new Map<string, number[]>();
  for (let i = 0; i < layers; i++) {
    const type = types[i]!;
    if (type !== 'full_attention' && type !== 'sliding_attention' && type !== 'chunked_attention' && type !== 'attention') {
      if (!skipped.has(type)) skipped.set(type, []);
      skipped.get(type)!.push(i);
      continue;
    }
    const layerWindow = type === 'full_attention' || type === 'attention' ? null : window;
    if (layerWindow === null && (type === 'sliding_attention' || type === 'chunked_attention')) {
      throw r.error('sliding_window', `a window length for the ${type} layers`, undefined);
    }

    // Attention part.
    let attention: AttentionSpec;
    let attn: Part;
    if (isMla) {
      const m = mla(r, hidden, heads, style, attnBias);
      attention = m.attention;
      attn = m.part;
    } else {
      attention = attentionSpec(heads, kvHeads, headDim, layerWindow, true);
      attn = attentionPart({
        hidden,
        attn: attention,
        names: t.fused ? { qkv: 'qkv_proj', o: 'o_proj' } : { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj' },
        qkvBias,
        oBias,
        qkNorm: t.qkNorm ? { style, q: 'q_norm', k: 'k_norm' } : null,
      });
    }

    // MLP part: dense (gated) or MoE.
    const mlpPart =
      moe && moe.isMoe(i)
        ? moeFor(t, hidden, moe, act)
        : gatedMlpPart({ hidden, ffn: denseFfn, bias: mlpBias, activation: act, names: t.fused ? { gateUp: 'gate_up_proj', down: 'down_proj' } : undefined });

    perLayer.push(
      preNormLayer({
        index: i,
        style,
        hidden,
        attention,
        attn,
        mlp: mlpPart,
        names: t.moe === 'jamba' ? { attn: 'input_layernorm', mlp: 'pre_ff_layernorm' } : undefined,
        sandwich:
          t.gemma && t.gemma >= 2
            ? { attnPost: 'post_attention_layernorm', mlpPre: 'pre_feedforward_layernorm', mlpPost: 'post_feedforward_layernorm' }
            : null,
      }),
    );
  }

  const extraParams: FamilyResult['extraParams'] = [embedParams('embed_tokens', vocab, hidden)];
  const skippedLayers: FamilyResult['skippedLayers'] = [];
  for (const [type, indices] of skipped) {
    skippedLayers.push({ indices, reason: `${type} layers have no Softmax attention to profile` });
    if (t.moe === 'jamba' && type === 'mamba') {
      const p = jambaMambaParams(r, hidden, style, denseFfn, moe, indices);
      extraParams.push({ name: `${indices.length} Mamba layers (skipped)`, count: p.total, active: p.active });
    }
  }
  if (skippedLayers.length) {
    const count = skippedLayers.reduce((n, s) => n + s.indices.length, 0);
    notes.push(
      `Hybrid model: ${count} of ${layers} layers are not attention layers and are left out of the profile` +
        (t.moe === 'jamba' ? ' (their parameters are still counted).' : ' (and out of the parameter count).'),
    );
  }
  if (perLayer.length === 0) {
    throw r.error('layer_types', 'at least one attention layer to profile', undefined);
  }
  if (t.family === 'gpt_oss') {
    extraParams.push({ name: 'self_attn.sinks', count: heads * perLayer.length });
    notes.push('Attention sinks: each head adds a learned logit to its Softmax denominator; the deferred division must include it.');
  }
  if (t.gemma && t.gemma >= 2) {
    const attnCap = r.optSize(['attn_logit_softcapping']) ?? null;
    if (attnCap !== null) notes.push(`Attention logits are soft-capped (tanh, cap ${attnCap}) before the Softmax.`);
    notes.push('Gemma 2/3 post-attention and post-feedforward norms feed the residual sum (sandwich): not deferral sites.');
  }
  if (t.gemma) notes.push('Gemma RMSNorm scales by (1 + weight).');
  if (t.moe === 'deepseek') {
    const mtp = r.optSize(['num_nextn_predict_layers'], { allowZero: true, max: LIMITS.layers });
    if (mtp) {
      notes.push(
        `${mtp} multi-token-prediction layer(s) (num_nextn_predict_layers) are in the checkpoint but not part of an inference pass: neither profiled nor counted.`,
      );
    }
  }
  if (t.family === 'phi3') notes.push('Phi-3 fuses q/k/v into qkv_proj and gate/up into gate_up_proj: one norm feeds one linear each.');
  if (t.generic) notes.push(`Unknown model_type "${t.family}": read as a Llama-style decoder (pre-norm, q/k/v/o, gated MLP).`);

  return {
    family: t.family,
    hidden,
    vocab,
    normStyle: style,
    tied,
    positions: 'rope',
    maxPositions: maxPositions(r),
    topology: 'decoder',
    layers: perLayer,
    finalNorm: norm(style, t.moe === 'jamba' ? 'final_layernorm' : 'norm', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, false),
    extraParams,
    skippedLayers,
    notes,
    readAs: t.generic ? 'fields' : 'family',
  };
}

function mla(r: ConfigReader, hidden: number, heads: number, style: NormStyle, bias: boolean): { attention: AttentionSpec; part: Part } {
  const qLoraRank = r.optSize(['q_lora_rank']);
  const kvLoraRank = r.size(['kv_lora_rank']);
  const ropeHeadDim = r.size(['qk_rope_head_dim']);
  const nopeHeadDim = r.size(['qk_nope_head_dim']);
  const vHeadDim = r.size(['v_head_dim']);
  const attention: AttentionSpec = {
    ...attentionSpec(heads, heads, nopeHeadDim + ropeHeadDim, null, true, vHeadDim),
    kind: 'mla',
    mla: { qLoraRank, kvLoraRank, ropeHeadDim, nopeHeadDim },
  };
  const part = mlaPart({ hidden, heads, qLoraRank, kvLoraRank, ropeHeadDim, nopeHeadDim, vHeadDim, bias, latentNorm: style });
  return { attention, part };
}

function moeFor(t: Traits, hidden: number, moe: MoeLayout, activation: string): MlpPart {
  const base = { hidden, ffn: moe.ffn, experts: moe.experts, topK: moe.topK, activation };
  switch (t.moe) {
    case 'mixtral':
      return moePart({ ...base, router: 'gate', routerBias: false, expertBias: false, expertNames: { gate: 'experts.w1', up: 'experts.w3', down: 'experts.w2' } });
    case 'gpt-oss':
      return moePart({ ...base, router: 'router', routerBias: true, expertBias: true, expertNames: { gateUp: 'experts.gate_up_proj', down: 'experts.down_proj' } });
    case 'jamba':
      return moePart({ ...base, router: 'router', routerBias: false, expertBias: false, expertNames: { gate: 'experts.gate_proj', up: 'experts.up_proj', down: 'experts.down_proj' } });
    default:
      return moePart({
        ...base,
        router: 'gate',
        routerBias: false,
        expertBias: false,
        expertNames: { gate: 'experts.gate_proj', up: 'experts.up_proj', down: 'experts.down_proj' },
        shared: moe.shared,
      });
  }
}

/** Parameters of Jamba's Mamba layers (mixer, two norms, and their dense or MoE feed-forward), which are skipped but counted. */
function jambaMambaParams(
  r: ConfigReader,
  hidden: number,
  style: NormStyle,
  ffn: number,
  moe: MoeLayout | null,
  indices: number[],
): { total: number; active: number } {
  const expand = r.size(['mamba_expand'], { default: 2 });
  const dState = r.size(['mamba_d_state'], { default: 16 });
  const dConv = r.size(['mamba_d_conv'], { default: 4 });
  const rawRank = r.lookup(['mamba_dt_rank'])?.value;
  const dtRank = rawRank === undefined || rawRank === 'auto' ? Math.ceil(hidden / 16) : r.size(['mamba_dt_rank']);
  const convBias = r.bool(['mamba_conv_bias'], true);
  const projBias = r.bool(['mamba_proj_bias'], false);
  const inner = expand * hidden;
  const mixer =
    hidden * 2 * inner + (projBias ? 2 * inner : 0) + // in_proj
    inner * dConv + (convBias ? inner : 0) + // conv1d
    inner * (dtRank + 2 * dState) + // x_proj
    dtRank * inner + inner + // dt_proj
    inner * dState + inner + // A_log, D
    inner * hidden + (projBias ? hidden : 0) + // out_proj
    dtRank + 2 * dState; // dt/b/c layernorms
  const norms = 2 * normParams('', style, hidden).count;
  let total = 0;
  let active = 0;
  for (const i of indices) {
    total += mixer + norms;
    active += mixer + norms;
    if (moe && moe.isMoe(i)) {
      const expert = 3 * hidden * moe.ffn;
      total += hidden * moe.experts + moe.experts * expert;
      active += hidden * moe.experts + moe.topK * expert;
    } else {
      total += 3 * hidden * ffn;
      active += 3 * hidden * ffn;
    }
  }
  return { total, active };
}
