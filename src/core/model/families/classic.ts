/**
 * The LayerNorm decoders that predate the Llama layout, each with its own
 * module names and norm arrangement: GPT-2, GPT-J, GPT-NeoX/Pythia, Falcon,
 * BLOOM, OPT and Phi-1/1.5/2.
 */
import { LIMITS } from '../fields';
import { attentionPart, attentionSpec, denseMlpPart, layerKind, linear, norm, type NormStyle } from '../layers';
import type { LayerKind, NormSpec } from '../spec';
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

function layerNormStyle(eps: number): NormStyle {
  return { kind: 'layernorm', eps, affine: 'weight+bias' };
}

function repeat(layers: number, build: (i: number) => LayerKind): LayerKind[] {
  return Array.from({ length: layers }, (_, i) => build(i));
}

/** GPT-2 (and GPT-BigCode/StarCoder's multi-query variant): Conv1D c_attn, learned positions, tied. */
export function gpt2({ r, modelType }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const mqa = modelType === 'gpt_bigcode' && r.bool(['multi_query'], true);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  const kvHeads = mqa ? 1 : heads;
  const ffn = r.size(KEYS.ffn, { default: 4 * hidden });
  const style = layerNormStyle(r.eps(KEYS.eps, 1e-5));
  const act = activation(r, 'gelu_new');
  const positions = r.size(['n_positions', 'max_position_embeddings'], { max: LIMITS.positions });
  const attention = attentionSpec(heads, kvHeads, headDim, null, true);
  const attn = attentionPart({ hidden, attn: attention, names: { qkv: 'c_attn', o: 'attn.c_proj' }, qkvBias: true, oBias: true });
  const mlp = denseMlpPart({ hidden, ffn, bias: true, activation: act, fc1: 'c_fc', fc2: 'mlp.c_proj' });
  return {
    family: modelType === 'gpt_bigcode' ? 'gpt_bigcode' : 'gpt2',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, true),
    positions: 'learned',
    maxPositions: positions,
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block: 'pre-norm',
        attention,
        mlp: mlp.spec,
        norms: [norm(style, 'ln_1', 'attn', 'pre', hidden, attn.reads), norm(style, 'ln_2', 'mlp', 'pre', hidden, mlp.reads)],
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm: norm(style, 'ln_f', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, false),
    extraParams: [embedParams('wte', vocab, hidden), embedParams('wpe', positions, hidden)],
    skippedLayers: [],
    notes: ['GPT-2 stores its projections as Conv1D (transposed weights); c_attn holds q, k and v.'],
  };
}

/** GPT-J: one ln_1 feeds attention and MLP in parallel; rotary on part of each head. */
export function gptj({ r }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  const ffn = r.size(KEYS.ffn, { default: 4 * hidden });
  const style = layerNormStyle(r.eps(KEYS.eps, 1e-5));
  const act = activation(r, 'gelu_new');
  const attention = attentionSpec(heads, heads, headDim, null, true);
  const attn = attentionPart({ hidden, attn: attention, names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'out_proj' }, qkvBias: false, oBias: false });
  const mlp = denseMlpPart({ hidden, ffn, bias: true, activation: act, fc1: 'fc_in', fc2: 'fc_out' });
  const rotary = r.optSize(['rotary_dim']);
  return {
    family: 'gptj',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, false),
    positions: 'rope',
    maxPositions: maxPositions(r),
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block: 'parallel',
        attention,
        mlp: mlp.spec,
        norms: [norm(style, 'ln_1', 'attn', 'pre', hidden, [...attn.reads, ...mlp.reads])],
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm: norm(style, 'ln_f', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, true),
    extraParams: [embedParams('wte', vocab, hidden)],
    skippedLayers: [],
    notes: [
      'Parallel block: ln_1 feeds q, k, v and fc_in at once (one statistic, four consumers).',
      ...(rotary ? [`Rotary embedding on the first ${rotary} of ${headDim} dimensions of each head.`] : []),
    ],
  };
}

/** GPT-NeoX / Pythia: with use_parallel_residual both norms read the block input x. */
export function gptNeox({ r }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  const ffn = r.size(KEYS.ffn, { default: 4 * hidden });
  const style = layerNormStyle(r.eps(KEYS.eps, 1e-5));
  const act = activation(r, 'gelu');
  const bias = r.bool(['attention_bias'], true);
  const parallel = r.bool(['use_parallel_residual'], true);
  const attention = attentionSpec(heads, heads, headDim, null, true);
  const attn = attentionPart({ hidden, attn: attention, names: { qkv: 'query_key_value', o: 'dense' }, qkvBias: bias, oBias: bias });
  const mlp = denseMlpPart({ hidden, ffn, bias: true, activation: act, fc1: 'dense_h_to_4h', fc2: 'dense_4h_to_h' });
  const rotaryPct = r.number(['rotary_pct', 'partial_rotary_factor'], 1);
  return {
    family: 'gpt_neox',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, false),
    positions: 'rope',
    maxPositions: maxPositions(r),
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block: parallel ? 'parallel' : 'pre-norm',
        attention,
        mlp: mlp.spec,
        norms: [
          norm(style, 'input_layernorm', 'attn', 'pre', hidden, attn.reads),
          norm(style, 'post_attention_layernorm', 'mlp', 'pre', hidden, mlp.reads),
        ],
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm: norm(style, 'final_layer_norm', 'final', 'final', hidden, ['embed_out']),
    lmHead: linear('embed_out', 'lm_head', hidden, vocab, false),
    extraParams: [embedParams('embed_in', vocab, hidden)],
    skippedLayers: [],
    notes: [
      parallel
        ? 'Parallel residual: input_layernorm and post_attention_layernorm both normalize the block input x (two statistics of the same vector).'
        : 'Sequential residual (use_parallel_residual false).',
      ...(rotaryPct < 1 ? [`Rotary embedding on ${Math.round(rotaryPct * 100)}% of each head.`] : []),
    ],
  };
}

/**
 * Falcon. Old layout (7B): parallel attention with one input_layernorm and
 * multi-query attention. New decoder architecture (40B/180B): ln_attn and ln_mlp,
 * grouped KV heads (num_kv_heads).
 */
export function falcon({ r, modelType }: FamilyInput): FamilyResult {
  const notes: string[] = [];
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const newArch = r.bool(['new_decoder_architecture'], modelType === 'RefinedWeb');
  const parallel = r.bool(['parallel_attn'], true);
  const multiQuery = r.bool(['multi_query'], true);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  let kvHeads: number;
  if (newArch) {
    // Transformers ignores multi_query in the new architecture: num_kv_heads decides.
    kvHeads = r.size(KEYS.kvHeads, { default: heads, max: LIMITS.heads });
  } else if (multiQuery) {
    kvHeads = 1;
    const said = r.optSize(KEYS.kvHeads, { max: LIMITS.heads });
    if (said !== null && said !== 1) notes.push(`multi_query is true: one KV head, whatever num_kv_heads (${said}) says.`);
  } else {
    kvHeads = r.size(KEYS.kvHeads, { default: heads, max: LIMITS.heads });
  }
  if (heads % kvHeads !== 0) throw r.error('num_kv_heads', `a divisor of the number of attention heads ${heads}`, kvHeads);
  const ffn = r.size(['ffn_hidden_size'], { default: 4 * hidden });
  const style = layerNormStyle(r.eps(KEYS.eps, 1e-5));
  const bias = r.bool(['bias'], false);
  const alibi = r.bool(['alibi'], false);
  const lnCount = newArch ? r.size(['num_ln_in_parallel_attn'], { default: 2, max: 2 }) : 1;
  const attention = attentionSpec(heads, kvHeads, headDim, null, true);
  const attn = attentionPart({ hidden, attn: attention, names: { qkv: 'query_key_value', o: 'dense' }, qkvBias: bias, oBias: bias });
  const mlp = denseMlpPart({ hidden, ffn, bias, activation: activation(r, 'gelu'), fc1: 'dense_h_to_4h', fc2: 'dense_4h_to_h' });
  let norms: NormSpec[];
  let block: LayerKind['block'] = 'parallel';
  if (parallel && lnCount === 2) {
    norms = [norm(style, 'ln_attn', 'attn', 'pre', hidden, attn.reads), norm(style, 'ln_mlp', 'mlp', 'pre', hidden, mlp.reads)];
  } else if (parallel) {
    norms = [norm(style, 'input_layernorm', 'attn', 'pre', hidden, [...attn.reads, ...mlp.reads])];
  } else {
    block = 'pre-norm';
    norms = [
      norm(style, 'input_layernorm', 'attn', 'pre', hidden, attn.reads),
      norm(style, 'post_attention_layernorm', 'mlp', 'pre', hidden, mlp.reads),
    ];
  }
  notes.push(
    // The note follows the norms built above: the new architecture with one norm is the classic parallel block.
    parallel && lnCount === 2 ? 'Falcon new decoder architecture: ln_attn and ln_mlp normalize the same input in parallel.' : parallel ? 'Falcon parallel block: one input_layernorm feeds query_key_value and dense_h_to_4h.' : 'Falcon sequential block.',
  );
  return {
    family: 'falcon',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, true),
    positions: alibi ? 'alibi' : 'rope',
    maxPositions: maxPositions(r),
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block,
        attention,
        mlp: mlp.spec,
        norms,
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm: norm(style, 'ln_f', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, false),
    extraParams: [embedParams('word_embeddings', vocab, hidden)],
    skippedLayers: [],
    notes,
  };
}

/** BLOOM: ALiBi positions, a LayerNorm on the embeddings, biases everywhere, tied. */
export function bloom({ r }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  const ffn = 4 * hidden;
  const style = layerNormStyle(r.eps(KEYS.eps, 1e-5));
  const attention = attentionSpec(heads, heads, headDim, null, true);
  const attn = attentionPart({ hidden, attn: attention, names: { qkv: 'query_key_value', o: 'dense' }, qkvBias: true, oBias: true });
  const mlp = denseMlpPart({ hidden, ffn, bias: true, activation: 'gelu', fc1: 'dense_h_to_4h', fc2: 'dense_4h_to_h' });
  return {
    family: 'bloom',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, true),
    positions: 'alibi',
    maxPositions: maxPositions(r),
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block: 'pre-norm',
        attention,
        mlp: mlp.spec,
        norms: [
          norm(style, 'input_layernorm', 'attn', 'pre', hidden, attn.reads),
          norm(style, 'post_attention_layernorm', 'mlp', 'pre', hidden, mlp.reads),
        ],
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm: norm(style, 'ln_f', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, false),
    extraParams: [embedParams('word_embeddings', vocab, hidden), normParams('word_embeddings_layernorm', style, hidden)],
    skippedLayers: [],
    notes: ['word_embeddings_layernorm normalizes the embeddings into the residual stream: counted, not a deferral site.'],
  };
}

/** OPT: pre-norm normally; do_layer_norm_before false (opt-350m) is post-norm with 512-wide embeddings projected in and out. */
export function opt({ r }: FamilyInput): FamilyResult {
  const notes: string[] = [];
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  const ffn = r.size(['ffn_dim', ...KEYS.ffn]);
  const before = r.bool(['do_layer_norm_before'], true);
  const bias = r.bool(['enable_bias'], true);
  const affine = r.bool(['layer_norm_elementwise_affine'], true);
  const style: NormStyle = { kind: 'layernorm', eps: 1e-5, affine: affine ? 'weight+bias' : 'none' };
  const embedDim = r.size(['word_embed_proj_dim'], { default: hidden });
  const positions = r.size(KEYS.positions, { max: LIMITS.positions });
  const act = activation(r, 'relu');
  const attention = attentionSpec(heads, heads, headDim, null, true);
  const attn = attentionPart({ hidden, attn: attention, names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'out_proj' }, qkvBias: bias, oBias: bias });
  const mlp = denseMlpPart({ hidden, ffn, bias, activation: act, fc1: 'fc1', fc2: 'fc2' });
  const norms = before
    ? [norm(style, 'self_attn_layer_norm', 'attn', 'pre', hidden, attn.reads), norm(style, 'final_layer_norm', 'mlp', 'pre', hidden, mlp.reads)]
    : [norm(style, 'self_attn_layer_norm', 'attn-post', 'post', hidden, mlp.reads), norm(style, 'final_layer_norm', 'mlp-post', 'post', hidden, [])];
  const finalNorm = before && !r.bool(['_remove_final_layer_norm'], false) ? norm(style, 'final_layer_norm', 'final', 'final', hidden, embedDim === hidden ? ['lm_head'] : ['project_out']) : null;
  // OPT's learned positions keep two extra rows (an offset of 2 for padding).
  const extraParams: FamilyResult['extraParams'] = [embedParams('embed_tokens', vocab, embedDim), embedParams('embed_positions', positions + 2, hidden)];
  if (embedDim !== hidden) {
    extraParams.push({ name: 'project_in', count: embedDim * hidden }, { name: 'project_out', count: hidden * embedDim });
    notes.push(`Embeddings are ${embedDim} wide: project_in and project_out map them to and from the ${hidden}-wide residual stream (counted, not simulated).`);
  }
  if (!before) notes.push('Post-norm (do_layer_norm_before false): every norm sits after the residual sum, none is a deferral site.');
  return {
    family: 'opt',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, true),
    positions: 'learned',
    maxPositions: positions,
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block: before ? 'pre-norm' : 'post-norm',
        attention,
        mlp: mlp.spec,
        norms,
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm,
    lmHead: linear('lm_head', 'lm_head', embedDim, vocab, false),
    extraParams,
    skippedLayers: [],
    notes,
  };
}

/** Phi-1/1.5/2: parallel block, one LayerNorm feeding q, k, v and fc1; partial rotary; lm_head with bias. */
export function phi({ r }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const { heads, kvHeads, headDim } = resolveHeads(r, hidden);
  const ffn = r.size(KEYS.ffn, { default: 4 * hidden });
  const style = layerNormStyle(r.eps(KEYS.eps, 1e-5));
  const qkLn = r.bool(['qk_layernorm'], false);
  const attention = attentionSpec(heads, kvHeads, headDim, null, true);
  const attn = attentionPart({
    hidden,
    attn: attention,
    names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'dense' },
    qkvBias: true,
    oBias: true,
    qkNorm: qkLn ? { style, q: 'q_layernorm', k: 'k_layernorm' } : null,
  });
  const mlp = denseMlpPart({ hidden, ffn, bias: true, activation: activation(r, 'gelu_new'), fc1: 'fc1', fc2: 'fc2' });
  const rotary = r.number(['partial_rotary_factor'], 0.5);
  return {
    family: 'phi',
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, false),
    positions: 'rope',
    maxPositions: maxPositions(r),
    topology: 'decoder',
    layers: repeat(layers, (i) =>
      layerKind({
        index: i,
        block: 'parallel',
        attention,
        mlp: mlp.spec,
        norms: [norm(style, 'input_layernorm', 'attn', 'pre', hidden, [...attn.reads, ...mlp.reads]), ...attn.inner],
        linears: [...attn.linears, ...mlp.linears],
      }),
    ),
    finalNorm: norm(style, 'final_layernorm', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, true),
    extraParams: [embedParams('embed_tokens', vocab, hidden)],
    skippedLayers: [],
    notes: [
      'Parallel block: input_layernorm feeds q_proj, k_proj, v_proj and fc1 (one statistic, four consumers).',
      `Partial rotary: RoPE on ${Math.round(rotary * headDim)} of ${headDim} dimensions per head.`,
    ],
  };
}
