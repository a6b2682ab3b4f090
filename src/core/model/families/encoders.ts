/**
 * Encoder-only (BERT, RoBERTa) and encoder-decoder (T5, BART/mBART) models.
 * Layer indices run encoder first, then decoder: the order one pass runs them.
 */
import { LIMITS } from '../fields';
import { attentionPart, attentionSpec, denseMlpPart, gatedMlpPart, layerKind, linear, norm, type MlpPart, type NormStyle } from '../layers';
import type { AttentionSpec, LayerKind } from '../spec';
import {
  KEYS,
  activation,
  embedParams,
  hiddenSize,
  layerCount,
  normParams,
  resolveHeads,
  vocabSize,
  type FamilyInput,
  type FamilyResult,
} from './common';

/**
 * BERT-style encoders: post-norm, learned positions and token types. Profiled as
 * the encoder pass only (lmHead null); the pooler is counted as in BertModel.
 */
export function bert({ r, modelType, architecture }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const layers = layerCount(r);
  const vocab = vocabSize(r);
  const { heads, headDim } = resolveHeads(r, hidden, { kvKeys: [] });
  const ffn = r.size(KEYS.ffn, { default: 4 * hidden });
  const style: NormStyle = { kind: 'layernorm', eps: r.eps(KEYS.eps, 1e-12), affine: 'weight+bias' };
  const positions = r.size(KEYS.positions, { max: LIMITS.positions });
  const typeRows = r.size(['type_vocab_size'], { default: 2, allowZero: true, max: LIMITS.vocab });
  const attention = attentionSpec(heads, heads, headDim, null, false);
  const attn = attentionPart({
    hidden,
    attn: attention,
    names: { q: 'query', k: 'key', v: 'value', o: 'attention.output.dense' },
    qkvBias: true,
    oBias: true,
  });
  const mlp = denseMlpPart({ hidden, ffn, bias: true, activation: activation(r, 'gelu'), fc1: 'intermediate.dense', fc2: 'output.dense' });
  const posType = r.str(['position_embedding_type'], 'absolute');
  const hasPooler = !/ForMaskedLM|ForPreTraining|ForCausalLM|ForTokenClassification|ForQuestionAnswering/.test(architecture ?? '');
  const extraParams: FamilyResult['extraParams'] = [
    embedParams('embeddings.word_embeddings', vocab, hidden),
    embedParams('embeddings.position_embeddings', positions, hidden),
    embedParams('embeddings.token_type_embeddings', typeRows, hidden),
    normParams('embeddings.LayerNorm', style, hidden),
  ];
  if (hasPooler) extraParams.push({ name: 'pooler.dense', count: hidden * hidden + hidden });
  return {
    family: modelType === 'bert' ? 'bert' : modelType,
    hidden,
    vocab,
    normStyle: style,
    tied: false,
    positions: posType === 'absolute' ? 'learned' : 'relative',
    maxPositions: positions,
    topology: 'encoder',
    layers: Array.from({ length: layers }, (_, i) =>
      layerKind({
        index: i,
        block: 'post-norm',
        attention,
        mlp: mlp.spec,
        norms: [
          // Post-norm: each LayerNorm normalizes the residual sum; its output is the residual stream.
          norm(style, 'attention.output.LayerNorm', 'attn-post', 'post', hidden, mlp.reads),
          norm(style, 'output.LayerNorm', 'mlp-post', 'post', hidden, []),
        ],
        linears: [...attn.linears, ...mlp.linears],
        stack: 'encoder',
      }),
    ),
    finalNorm: null,
    lmHead: null,
    extraParams,
    skippedLayers: [],
    notes: [
      'Encoder-only: profiled as one bidirectional encoder pass without a head (lmHead null); ' +
        (hasPooler ? 'embeddings and the pooler are counted as in BertModel.' : 'embeddings are counted; the task head is not.'),
      'Post-norm: every LayerNorm follows the residual sum, so none is a deferral site; the Softmaxes still are.',
    ],
  };
}

/**
 * T5: RMS-style LayerNorm (no mean subtraction, no bias), relative position
 * buckets, encoder stack then decoder stack with cross-attention.
 */
export function t5({ r, modelType }: FamilyInput): FamilyResult {
  const hidden = hiddenSize(r);
  const encLayers = layerCount(r, ['num_layers']);
  const decLayers = r.size(['num_decoder_layers'], { default: encLayers, max: LIMITS.layers });
  const vocab = vocabSize(r);
  const heads = r.size(['num_heads'], { max: LIMITS.heads });
  const headDim = r.size(['d_kv'], { default: hidden % heads === 0 ? hidden / heads : undefined });
  const ffn = r.size(['d_ff']);
  const style: NormStyle = { kind: 'rmsnorm', eps: r.eps(['layer_norm_epsilon'], 1e-6), affine: 'weight' };
  const proj = r.str(['feed_forward_proj'], 'relu');
  const gated = proj.startsWith('gated-') || r.bool(['is_gated_act'], false);
  const act = r.str(['dense_act_fn'], gated ? proj.replace(/^gated-/, '') : proj);
  const buckets = r.size(['relative_attention_num_buckets'], { default: 32 });
  const tied = r.bool(KEYS.tie, true);

  const selfEnc = attentionSpec(heads, heads, headDim, null, false);
  const selfDec = attentionSpec(heads, heads, headDim, null, true);
  const cross = attentionSpec(heads, heads, headDim, null, false);
  const mlpPart = (): MlpPart =>
    gated
      ? gatedMlpPart({ hidden, ffn, bias: false, activation: act, names: { gate: 'DenseReluDense.wi_0', up: 'DenseReluDense.wi_1', down: 'DenseReluDense.wo' } })
      : denseMlpPart({ hidden, ffn, bias: false, activation: act, fc1: 'DenseReluDense.wi', fc2: 'DenseReluDense.wo' });
  const selfPart = (a: AttentionSpec) =>
    attentionPart({ hidden, attn: a, names: { q: 'SelfAttention.q', k: 'SelfAttention.k', v: 'SelfAttention.v', o: 'SelfAttention.o' }, qkvBias: false, oBias: false });
  const crossPart = attentionPart({
    hidden,
    attn: cross,
    names: { q: 'EncDecAttention.q', k: 'EncDecAttention.k', v: 'EncDecAttention.v', o: 'EncDecAttention.o' },
    qkvBias: false,
    oBias: false,
    cross: true,
  });

  const layers: LayerKind[] = [];
  for (let i = 0; i < encLayers; i++) {
    const a = selfPart(selfEnc);
    const m = mlpPart();
    layers.push(
      layerKind({
        index: i,
        block: 'pre-norm',
        attention: selfEnc,
        mlp: m.spec,
        norms: [norm(style, 'layer.0.layer_norm', 'attn', 'pre', hidden, a.reads), norm(style, 'layer.1.layer_norm', 'mlp', 'pre', hidden, m.reads)],
        linears: [...a.linears, ...m.linears],
        stack: 'encoder',
      }),
    );
  }
  for (let i = 0; i < decLayers; i++) {
    const a = selfPart(selfDec);
    const m = mlpPart();
    layers.push(
      layerKind({
        index: encLayers + i,
        block: 'pre-norm',
        attention: selfDec,
        crossAttention: cross,
        mlp: m.spec,
        norms: [
          norm(style, 'layer.0.layer_norm', 'attn', 'pre', hidden, a.reads),
          norm(style, 'layer.1.layer_norm', 'cross', 'pre', hidden, crossPart.reads),
          norm(style, 'layer.2.layer_norm', 'mlp', 'pre', hidden, m.reads),
        ],
        linears: [...a.linears, ...crossPart.linears, ...m.linears],
      }),
    );
  }
  return {
    family: modelType === 'mt5' ? 'mt5' : 't5',
    hidden,
    vocab,
    normStyle: style,
    tied,
    positions: 'relative',
    maxPositions: r.optSize(['n_positions'], { max: LIMITS.positions }),
    topology: 'encoder-decoder',
    layers,
    finalNorm: norm(style, 'decoder.final_layer_norm', 'final', 'final', hidden, ['lm_head']),
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, false),
    extraParams: [
      embedParams('shared', vocab, hidden),
      { name: 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias', count: buckets * heads },
      { name: 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias', count: buckets * heads },
      normParams('encoder.final_layer_norm', style, hidden),
    ],
    skippedLayers: [],
    notes: [
      `Encoder-decoder: layers 0–${encLayers - 1} are the encoder, ${encLayers}–${encLayers + decLayers - 1} the decoder (with cross-attention).`,
      "T5's LayerNorm is RMS-style (no mean subtraction, no bias): profiled as RMSNorm.",
      'encoder.final_layer_norm feeds every decoder layer’s EncDecAttention.k/v (counted; not modelled as a site).',
    ],
  };
}

/** BART (post-norm unless normalize_before) and mBART (pre-norm with final layer norms). */
export function bart({ r, modelType }: FamilyInput): FamilyResult {
  const notes: string[] = [];
  const hidden = hiddenSize(r);
  const encLayers = r.size(['encoder_layers', 'num_hidden_layers'], { max: LIMITS.layers });
  const decLayers = r.size(['decoder_layers'], { default: encLayers, max: LIMITS.layers });
  const vocab = vocabSize(r);
  const encHeads = r.size(['encoder_attention_heads', 'num_attention_heads'], { max: LIMITS.heads });
  const decHeads = r.size(['decoder_attention_heads'], { default: encHeads, max: LIMITS.heads });
  for (const [key, h] of [['encoder_attention_heads', encHeads], ['decoder_attention_heads', decHeads]] as const) {
    if (hidden % h !== 0) throw r.error(key, `a divisor of d_model ${hidden}`, h);
  }
  const encFfn = r.size(['encoder_ffn_dim', 'ffn_dim']);
  const decFfn = r.size(['decoder_ffn_dim'], { default: encFfn });
  const preNorm = modelType === 'mbart' || r.bool(['normalize_before'], false);
  const style: NormStyle = { kind: 'layernorm', eps: 1e-5, affine: 'weight+bias' };
  const act = activation(r, 'gelu');
  const positions = r.size(KEYS.positions, { max: LIMITS.positions });

  const names = (p: string) => ({ q: `${p}.q_proj`, k: `${p}.k_proj`, v: `${p}.v_proj`, o: `${p}.out_proj` });
  const layers: LayerKind[] = [];
  const build = (index: number, decoder: boolean) => {
    const heads = decoder ? decHeads : encHeads;
    const ffn = decoder ? decFfn : encFfn;
    const selfAttn = attentionSpec(heads, heads, hidden / heads, null, decoder);
    const cross = attentionSpec(heads, heads, hidden / heads, null, false);
    const a = attentionPart({ hidden, attn: selfAttn, names: names('self_attn'), qkvBias: true, oBias: true });
    const c = attentionPart({ hidden, attn: cross, names: names('encoder_attn'), qkvBias: true, oBias: true, cross: true });
    const m = denseMlpPart({ hidden, ffn, bias: true, activation: act, fc1: 'fc1', fc2: 'fc2' });
    const norms = preNorm
      ? [
          norm(style, 'self_attn_layer_norm', 'attn', 'pre', hidden, a.reads),
          ...(decoder ? [norm(style, 'encoder_attn_layer_norm', 'cross', 'pre', hidden, c.reads)] : []),
          norm(style, 'final_layer_norm', 'mlp', 'pre', hidden, m.reads),
        ]
      : [
          norm(style, 'self_attn_layer_norm', 'attn-post', 'post', hidden, decoder ? c.reads : m.reads),
          ...(decoder ? [norm(style, 'encoder_attn_layer_norm', 'cross-post', 'post', hidden, m.reads)] : []),
          norm(style, 'final_layer_norm', 'mlp-post', 'post', hidden, []),
        ];
    const kind = layerKind({
      index,
      block: preNorm ? 'pre-norm' : 'post-norm',
      attention: selfAttn,
      mlp: m.spec,
      norms,
      linears: decoder ? [...a.linears, ...c.linears, ...m.linears] : [...a.linears, ...m.linears],
      stack: decoder ? 'decoder' : 'encoder',
    });
    if (decoder) kind.crossAttention = cross;
    layers.push(kind);
  };
  for (let i = 0; i < encLayers; i++) build(i, false);
  for (let i = 0; i < decLayers; i++) build(encLayers + i, true);

  const extraParams: FamilyResult['extraParams'] = [
    embedParams('shared', vocab, hidden),
    // BART's learned positions keep two extra rows (offset 2), one table per stack.
    embedParams('encoder.embed_positions', positions + 2, hidden),
    embedParams('decoder.embed_positions', positions + 2, hidden),
    normParams('encoder.layernorm_embedding', style, hidden),
    normParams('decoder.layernorm_embedding', style, hidden),
  ];
  if (preNorm) extraParams.push(normParams('encoder.layer_norm', style, hidden));
  notes.push(
    `Encoder-decoder: layers 0–${encLayers - 1} are the encoder, ${encLayers}–${encLayers + decLayers - 1} the decoder (with cross-attention).`,
    preNorm
      ? 'Pre-norm (mBART / normalize_before): encoder.layer_norm and decoder.layer_norm close each stack.'
      : 'Post-norm (normalize_before false or absent): every LayerNorm follows the residual sum, none is a deferral site.',
  );
  return {
    family: modelType,
    hidden,
    vocab,
    normStyle: style,
    tied: r.bool(KEYS.tie, true),
    positions: 'learned',
    maxPositions: positions,
    topology: 'encoder-decoder',
    layers,
    finalNorm: preNorm ? norm(style, 'decoder.layer_norm', 'final', 'final', hidden, ['lm_head']) : null,
    lmHead: linear('lm_head', 'lm_head', hidden, vocab, false),
    extraParams,
    skippedLayers: [],
    notes,
  };
}
