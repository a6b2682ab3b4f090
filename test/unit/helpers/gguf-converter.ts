/**
 * What llama.cpp's convert_hf_to_gguf.py writes for a Hugging Face config: the metadata keys of each
 * family's set_gguf_parameters (ggml-org/llama.cpp, convert_hf_to_gguf.py; key names from
 * gguf-py/gguf/constants.py, Keys.LLM / Keys.Attention / Keys.Rope / Keys.Tokenizer), and the tensor
 * names (blk.N.…, as gguf-py's TensorNameMap writes them) that tell what the metadata does not: tied
 * embeddings (no output.weight), Falcon's second layer norm, T5's gated feed-forward.
 *
 * Written from the converter's rules, not from src/core/model/gguf.ts, so that a round trip
 * config → GGUF → spec checks the reader against the converter. Only the keys a profile needs are
 * written (no rope base, tokenizer merges or chat templates).
 */
import { gv, writeGguf, type GgufEntry, type GgufFile, type GgufTensorSpec } from './gguf-writer';

type Config = Record<string, unknown>;

function first(c: Config, keys: string[]): unknown {
  for (const k of keys) if (c[k] !== undefined && c[k] !== null) return c[k];
  return undefined;
}

function num(c: Config, keys: string[]): number | undefined {
  const v = first(c, keys);
  return typeof v === 'number' ? v : undefined;
}

/** A GGUF architecture name (general.architecture) per HF model_type, as the converter registers its classes. */
export const CONVERTER_ARCH: Record<string, string> = {
  llama: 'llama',
  // MistralForCausalLM and MixtralForCausalLM are converted by LlamaModel.
  mistral: 'llama',
  mixtral: 'llama',
  qwen2: 'qwen2',
  qwen2_moe: 'qwen2moe',
  qwen3: 'qwen3',
  qwen3_moe: 'qwen3moe',
  gemma: 'gemma',
  gemma2: 'gemma2',
  phi: 'phi2',
  phi3: 'phi3',
  gemma3_text: 'gemma3',
  // DeepseekV2Model converts V2 and V3 alike.
  deepseek_v2: 'deepseek2',
  deepseek_v3: 'deepseek2',
  gpt2: 'gpt2',
  gptj: 'gptj',
  gpt_neox: 'gptneox',
  falcon: 'falcon',
  bloom: 'bloom',
  gpt_oss: 'gpt-oss',
  t5: 't5',
  bert: 'bert',
};

/**
 * The metadata of a converted config. `kv` maps `{arch}.`-relative and absolute keys to values; the
 * generic part follows TextModel.set_gguf_parameters, the families' overrides follow their classes.
 */
export function converterMetadata(config: Config): { arch: string; kv: [string, GgufEntry][]; vocab: number } {
  const type = String(config['model_type']);
  const arch = CONVERTER_ARCH[type];
  if (!arch) throw new Error(`no converter rule for model_type ${type}`);
  const kv: [string, GgufEntry][] = [['general.architecture', gv.str(arch)]];
  const put = (key: string, v: GgufEntry | undefined) => {
    if (v) kv.push([key.startsWith('tokenizer.') || key.startsWith('general.') ? key : `${arch}.${key}`, v]);
  };
  const u32 = (v: number | undefined) => (v === undefined ? undefined : gv.u32(v));
  const f32 = (v: number | undefined) => (v === undefined ? undefined : gv.f32(v));
  const hidden = num(config, ['hidden_size', 'n_embd', 'd_model', 'n_embed'])!;
  const heads = num(config, ['num_attention_heads', 'n_head', 'num_heads'])!;
  const layers = num(config, ['num_hidden_layers', 'n_layer', 'num_layers'])!;

  switch (type) {
    case 'gpt2':
      // GPT2Model: n_layer, n_ctx, n_embd, 4·n_embd, n_head, layer_norm_epsilon.
      put('block_count', u32(layers));
      put('context_length', u32(num(config, ['n_ctx'])));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(4 * hidden));
      put('attention.head_count', u32(heads));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_epsilon'])));
      break;
    case 'phi':
      // Phi2Model: feed_forward 4·n_embd, head_count_kv = n_head, rope dims int(rot_pct·n_embd) // n_head.
      put('context_length', u32(num(config, ['n_positions', 'max_position_embeddings'])));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(4 * hidden));
      put('block_count', u32(layers));
      put('attention.head_count', u32(heads));
      put('attention.head_count_kv', u32(heads));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_epsilon', 'layer_norm_eps'])));
      put('rope.dimension_count', u32(Math.floor(Math.trunc(num(config, ['partial_rotary_factor'])! * hidden) / heads)));
      break;
    case 'gpt_neox':
      // GPTNeoXModel: rope dims int(rotary_pct · head_dim), use_parallel_residual, layer_norm_eps.
      put('context_length', u32(num(config, ['max_position_embeddings'])));
      put('embedding_length', u32(hidden));
      put('block_count', u32(layers));
      put('feed_forward_length', u32(num(config, ['intermediate_size'])));
      put('rope.dimension_count', u32(Math.trunc(num(config, ['rotary_pct'])! * Math.floor(hidden / heads))));
      put('attention.head_count', u32(heads));
      put('use_parallel_residual', gv.bool(config['use_parallel_residual'] !== false));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_eps'])));
      break;
    case 'gptj': {
      // No GPTJ class in convert_hf_to_gguf.py (constants.py names the "gptj" architecture): the common
      // Keys.LLM / Keys.Attention / Keys.Rope names, as the other LayerNorm converters write them.
      put('context_length', u32(num(config, ['n_positions'])));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(num(config, ['n_inner']) ?? 4 * hidden));
      put('block_count', u32(layers));
      put('attention.head_count', u32(heads));
      put('rope.dimension_count', u32(num(config, ['rotary_dim'])));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_epsilon'])));
      break;
    }
    case 'falcon':
      // FalconModel: context 2048 ("not in config.json"), feed_forward 4·hidden, KV heads num_kv_heads,
      // else n_head_kv, else 1.
      put('context_length', u32(2048));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(4 * hidden));
      put('block_count', u32(layers));
      put('attention.head_count', u32(heads));
      put('attention.head_count_kv', u32(num(config, ['num_kv_heads', 'n_head_kv']) ?? 1));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_epsilon'])));
      break;
    case 't5':
      // T5Model: n_positions (512 when absent), d_model, d_ff, num_layers, num_decoder_layers, num_heads,
      // d_kv as key and value length, layer_norm_epsilon as both epsilons, relative buckets.
      put('context_length', u32(num(config, ['n_positions']) ?? 512));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(num(config, ['d_ff'])));
      put('block_count', u32(layers));
      put('decoder_block_count', u32(num(config, ['num_decoder_layers'])));
      put('attention.head_count', u32(heads));
      put('attention.key_length', u32(num(config, ['d_kv'])));
      put('attention.value_length', u32(num(config, ['d_kv'])));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_epsilon'])));
      put('attention.relative_buckets_count', u32(num(config, ['relative_attention_num_buckets'])));
      put('attention.layer_norm_rms_epsilon', f32(num(config, ['layer_norm_epsilon'])));
      break;
    case 'bloom':
      // BloomModel: context length seq_length, else n_embed; feed_forward 4·n_embed; n_layer; n_head as KV heads too.
      put('context_length', u32(num(config, ['seq_length']) ?? hidden));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(4 * hidden));
      put('block_count', u32(layers));
      put('attention.head_count', u32(heads));
      put('attention.head_count_kv', u32(heads));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_epsilon'])));
      break;
    case 'phi3':
      // Phi3MiniModel: rope dims int(partial_rotary_factor · n_embd) // n_head; sliding_window, 0 when the config has none (Phi-4).
      put('context_length', u32(num(config, ['n_positions', 'max_position_embeddings'])));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(num(config, ['intermediate_size'])));
      put('block_count', u32(layers));
      put('attention.head_count', u32(heads));
      put('attention.head_count_kv', u32(num(config, ['num_key_value_heads', 'n_head_kv'])));
      put('attention.layer_norm_rms_epsilon', f32(num(config, ['rms_norm_eps'])));
      put('rope.dimension_count', u32(Math.floor(Math.trunc((num(config, ['partial_rotary_factor']) ?? 1) * hidden) / heads)));
      put('attention.sliding_window', u32(num(config, ['sliding_window']) ?? 0));
      break;
    default: {
      // TextModel.set_gguf_parameters, then the family's additions.
      put('block_count', u32(layers));
      put('context_length', u32(num(config, ['max_position_embeddings', 'n_ctx', 'n_positions'])));
      put('embedding_length', u32(hidden));
      put('feed_forward_length', u32(num(config, ['intermediate_size', 'n_inner'])));
      put('attention.head_count', u32(heads));
      put('attention.head_count_kv', u32(num(config, ['num_key_value_heads', 'n_kv_heads'])));
      put('attention.layer_norm_rms_epsilon', f32(num(config, ['rms_norm_eps', 'norm_eps'])));
      put('attention.layer_norm_epsilon', f32(num(config, ['layer_norm_eps', 'layer_norm_epsilon', 'norm_epsilon'])));
      put('expert_count', u32(num(config, ['num_local_experts', 'num_experts'])));
      put('expert_used_count', u32(num(config, ['num_experts_per_tok', 'num_experts_per_token'])));
      const headDim = num(config, ['head_dim']);
      put('attention.key_length', u32(headDim));
      put('attention.value_length', u32(headDim));
      if (type === 'llama' || type === 'mistral' || type === 'mixtral') put('rope.dimension_count', u32(headDim ?? hidden / heads));
      if (type === 'qwen2_moe' || type === 'qwen3_moe') {
        put('expert_feed_forward_length', u32(num(config, ['moe_intermediate_size'])));
        put('expert_shared_feed_forward_length', u32(num(config, ['shared_expert_intermediate_size'])));
      }
      if (type === 'gemma2') {
        put('attention.sliding_window', u32(num(config, ['sliding_window'])));
        put('attn_logit_softcapping', f32(num(config, ['attn_logit_softcapping'])));
        put('final_logit_softcapping', f32(num(config, ['final_logit_softcapping'])));
      }
      if (type === 'gemma3_text') {
        // Gemma3Model: head_dim defaults to 256; the sliding window unless every layer is global (pattern 1).
        put('attention.key_length', u32(headDim ?? 256));
        if (num(config, ['sliding_window_pattern']) !== 1) put('attention.sliding_window', u32(num(config, ['sliding_window'])));
      }
      if (type === 'deepseek_v2' || type === 'deepseek_v3') {
        // DeepseekV2Model: MLA as MQA with larger heads (key/value_length), the un-absorbed sizes as *_mla.
        const kvRank = num(config, ['kv_lora_rank']) ?? 512;
        const rope = num(config, ['qk_rope_head_dim'])!;
        put('leading_dense_block_count', u32(num(config, ['first_k_dense_replace']) ?? 0));
        put('vocab_size', u32(num(config, ['vocab_size'])));
        put('attention.q_lora_rank', u32(num(config, ['q_lora_rank'])));
        put('attention.kv_lora_rank', u32(kvRank));
        put('attention.key_length', u32(kvRank + rope));
        put('attention.value_length', u32(kvRank));
        put('attention.key_length_mla', u32(num(config, ['qk_nope_head_dim'])! + rope));
        put('attention.value_length_mla', u32(num(config, ['v_head_dim'])));
        put('expert_feed_forward_length', u32(num(config, ['moe_intermediate_size'])));
        put('expert_count', u32(num(config, ['n_routed_experts'])));
        put('expert_shared_count', u32(num(config, ['n_shared_experts']) ?? 0));
        put('rope.dimension_count', u32(rope));
      }
      if (type === 'gpt_oss') {
        // GptOssModel: the sliding window, and intermediate_size as the experts' width.
        put('attention.sliding_window', u32(num(config, ['sliding_window'])));
        put('expert_feed_forward_length', u32(num(config, ['intermediate_size'])));
      }
      if (type === 'bert') {
        put('attention.causal', gv.bool(false));
        // BertModel.set_vocab: the token type embeddings' rows.
        put('tokenizer.ggml.token_type_count', u32(num(config, ['type_vocab_size']) ?? 2));
      }
    }
  }
  put('general.file_type', gv.u32(1));
  const vocab = num(config, ['vocab_size', 'padded_vocab_size'])!;
  // The vocabulary is the token list (the converters pad it to vocab_size).
  put('tokenizer.ggml.tokens', gv.tokens(vocab));
  return { arch, kv, vocab };
}

/**
 * Tensor infos of the converted model: embeddings, the output layer unless tied, and per layer the
 * norms and projections the reader looks for. Shapes in ggml order; zero-size data.
 */
export function converterTensors(config: Config, arch: string, vocab: number, tied: boolean): GgufTensorSpec[] {
  const hidden = num(config, ['hidden_size', 'n_embd', 'd_model', 'n_embed'])!;
  const t: GgufTensorSpec[] = [];
  if (arch === 't5') {
    const gated = String(config['feed_forward_proj'] ?? 'relu').startsWith('gated-') || config['is_gated_act'] === true;
    t.push({ name: 'token_embd.weight', shape: [hidden, vocab] });
    t.push({ name: 'enc.blk.0.attn_norm.weight', shape: [hidden] }, { name: 'enc.blk.0.ffn_up.weight', shape: [hidden, Number(config['d_ff'])] });
    if (gated) t.push({ name: 'enc.blk.0.ffn_gate.weight', shape: [hidden, Number(config['d_ff'])] });
    if (!tied) t.push({ name: 'output.weight', shape: [hidden, vocab] });
    return t;
  }
  t.push({ name: 'token_embd.weight', shape: [hidden, vocab] }, { name: 'blk.0.attn_norm.weight', shape: [hidden] });
  // Falcon's new decoder architecture has ln_attn and ln_mlp: attn_norm and attn_norm_2.
  if (arch === 'falcon' && config['new_decoder_architecture'] === true) t.push({ name: 'blk.0.attn_norm_2.weight', shape: [hidden] });
  t.push({ name: 'output_norm.weight', shape: [hidden] });
  if (!tied) t.push({ name: 'output.weight', shape: [hidden, vocab] });
  return t;
}

/** A GGUF file as the converter would write it for `config` (tied as the config's model says). */
export function ggufFromConfig(config: Config, tied: boolean): GgufFile {
  const { arch, kv, vocab } = converterMetadata(config);
  return writeGguf({ kv, tensors: converterTensors(config, arch, vocab, tied) });
}
