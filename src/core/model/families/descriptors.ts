/**
 * One entry per model family: everything the readers know about it. The config reader picks the
 * adapter by model_type (or architectures[0]); the GGUF reader maps general.architecture and the
 * `{arch}.` keys into the family's own config field names; the safetensors reader recognises the
 * family by its tensor names. Adding a family is adding an entry here.
 *
 * GGUF key names follow llama.cpp (gguf-py/gguf/constants.py, Keys.LLM / Keys.Attention / Keys.Rope)
 * and what convert_hf_to_gguf.py writes per family; docs/development.md lists what each GGUF form
 * carries that the config does not, and the reverse.
 */
import type { JsonObject } from '../../json';
import { LIMITS } from '../fields';
import type { NormKind } from '../spec';
import { bloom, falcon, gpt2, gptNeox, gptj, opt, phi } from './classic';
import type { Adapter } from './common';
import { LLAMA_TRAITS, decoderAdapter, type Traits } from './decoders';
import { bart, bert, t5 } from './encoders';

/** What the GGUF reader knows while filling a config, for a family's own rules. */
export interface GgufFacts {
  /** A number stored under `{arch}.` + suffix, if any. */
  num(suffix: string): number | undefined;
  /** Tensor names, when the tensor list was read. */
  tensors: ReadonlySet<string> | null;
  /** Config field → the GGUF key it came from (named in errors). */
  fields: Map<string, string>;
  notes: string[];
  arch: string;
}

export interface GgufForm {
  /** general.architecture, as llama.cpp names it. */
  arch: string;
  /** Keys beyond the common ones (gguf-config.ts): `{arch}.`-relative, or whole when they start with "tokenizer.", → config field. */
  keys?: Record<string, string>;
  /** rope.dimension_count → a config field: as a count of dimensions, or as a fraction of the head width. */
  rope?: { field: string; as: 'dims' | 'fraction' };
  /** Config values that only the tensor list tells: set when the named tensor is present. */
  tensorFlags?: { tensor: string; field: string; value: string | boolean }[];
  /** Values the config has and the GGUF form never writes. */
  defaults?: JsonObject;
  /** What no key says directly, rebuilt from what the keys say. */
  derive?: (c: JsonObject, g: GgufFacts) => void;
}

/**
 * A family recognised from a lone .safetensors file by its tensor names (Llama-style names). The first
 * family, in FAMILIES order, whose tensors are all as listed is taken: the lists are written so that
 * at most one dense and one MoE family fits, Mixtral's expert names coming before Qwen's.
 */
export interface SafetensorsForm {
  /** Tensors (after `model.layers.0.`) that must be present (true) or absent (false). */
  layer0?: Record<string, boolean>;
  /** A mixture of experts: how its experts are named and what the config calls their sizes. */
  experts?: {
    /** Where the experts are, after `model.layers.N.`: their tensors are `{path}.{expert}.…`. */
    path: string;
    /** Expert 0's gate projection after `{path}.0.`, in the first layer with experts; its rows are the experts' width. */
    gate: string;
    /** The gate must be there: it tells this family from the others (Mixtral's w1). */
    gateMarks?: boolean;
    /** Experts per token: not in the weights, so assumed (and said). */
    topK: number;
    countField: string;
    ffnField: string;
    /** Layers without experts are listed in mlp_only_layers (Qwen). */
    listDenseLayers?: boolean;
  };
}

export interface FamilyDescriptor {
  /** HF model_type values read as this family. */
  modelTypes: string[];
  /** architectures[0] of configs that leave model_type out. */
  architecture?: RegExp;
  /** The family's norm (its final and block norms); null: told by the epsilon key (unknown types). */
  norm: NormKind | null;
  adapter: Adapter;
  /**
   * The family's config field names where they differ from Llama's (num_hidden_layers, hidden_size,
   * num_attention_heads, num_key_value_heads, intermediate_size, head_dim, rms_norm_eps,
   * layer_norm_epsilon, max_position_embeddings): Llama's name → the family's.
   */
  fields?: Record<string, string>;
  /** Transformers' config-class defaults, used only to fill sparse nested `text_config`s. */
  textDefaults?: JsonObject;
  gguf?: GgufForm;
  safetensors?: SafetensorsForm;
}

function decoder(modelType: string, traits: Partial<Traits>, rest: Omit<FamilyDescriptor, 'modelTypes' | 'norm' | 'adapter'> = {}): FamilyDescriptor {
  return { modelTypes: [modelType], norm: 'rmsnorm', adapter: decoderAdapter({ ...LLAMA_TRAITS, family: modelType, ...traits }), ...rest };
}

const QWEN_EXPERTS = { path: 'mlp.experts', gate: 'gate_proj.weight', topK: 8, countField: 'num_experts', ffnField: 'moe_intermediate_size', listDenseLayers: true };
const GEMMA = { tieDefault: true, act: 'gelu_pytorch_tanh' } as const;

/** In the order the supported model types are listed to the user. */
export const FAMILIES: FamilyDescriptor[] = [
  decoder('llama', {}, {
    architecture: /^(Llama|LLaMA)/,
    textDefaults: {
      vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
      hidden_act: 'silu', max_position_embeddings: 2048, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    },
    // llama.cpp converts Mixtral as "llama" too: experts tell it apart.
    gguf: { arch: 'llama', derive: (c) => { if (typeof c['num_local_experts'] === 'number' && c['num_local_experts'] > 0) c['model_type'] = 'mixtral'; } },
    safetensors: { layer0: { 'self_attn.q_norm.weight': false, 'self_attn.q_proj.bias': false } },
  }),
  decoder('mistral', { slidingWindow: 'all' }, {
    architecture: /^Mistral/,
    textDefaults: {
      vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
      num_key_value_heads: 8, hidden_act: 'silu', max_position_embeddings: 131072, rms_norm_eps: 1e-6,
      tie_word_embeddings: false, sliding_window: 4096,
    },
    gguf: { arch: 'mistral' },
  }),
  decoder('mixtral', { slidingWindow: 'all', moe: 'mixtral' }, {
    architecture: /^Mixtral/,
    safetensors: {
      experts: { path: 'block_sparse_moe.experts', gate: 'w1.weight', gateMarks: true, topK: 2, countField: 'num_local_experts', ffnField: 'intermediate_size' },
    },
  }),
  decoder('qwen2', { qkvBias: true, slidingWindow: 'qwen' }, {
    architecture: /^Qwen2(?!Moe)/,
    textDefaults: {
      vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
      num_key_value_heads: 32, hidden_act: 'silu', max_position_embeddings: 32768, rms_norm_eps: 1e-6,
      tie_word_embeddings: false, use_sliding_window: false, max_window_layers: 28,
    },
    gguf: { arch: 'qwen2' },
    safetensors: { layer0: { 'self_attn.q_proj.bias': true, 'self_attn.q_norm.weight': false } },
  }),
  decoder('qwen2_moe', { qkvBias: true, slidingWindow: 'qwen', moe: 'qwen' }, {
    architecture: /^Qwen2Moe/,
    gguf: { arch: 'qwen2moe' },
    safetensors: { layer0: { 'self_attn.q_norm.weight': false }, experts: QWEN_EXPERTS },
  }),
  decoder('qwen3', { qkNorm: true, slidingWindow: 'qwen' }, {
    architecture: /^Qwen3(?!Moe)/,
    gguf: { arch: 'qwen3' },
    safetensors: { layer0: { 'self_attn.q_norm.weight': true } },
  }),
  decoder('qwen3_moe', { qkNorm: true, slidingWindow: 'qwen', moe: 'qwen' }, {
    architecture: /^Qwen3Moe/,
    gguf: { arch: 'qwen3moe' },
    safetensors: { layer0: { 'self_attn.q_norm.weight': true }, experts: QWEN_EXPERTS },
  }),
  decoder('gemma', { ...GEMMA, gemma: 1 }, {
    architecture: /^Gemma(?![23])/,
    textDefaults: {
      vocab_size: 256000, hidden_size: 3072, intermediate_size: 24576, num_hidden_layers: 28, num_attention_heads: 16,
      num_key_value_heads: 16, head_dim: 256, max_position_embeddings: 8192, rms_norm_eps: 1e-6, tie_word_embeddings: true,
    },
    gguf: { arch: 'gemma' },
  }),
  decoder('gemma2', { ...GEMMA, gemma: 2, slidingWindow: 'gemma2' }, {
    architecture: /^Gemma2/,
    textDefaults: {
      vocab_size: 256000, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8,
      num_key_value_heads: 4, head_dim: 256, max_position_embeddings: 8192, rms_norm_eps: 1e-6, tie_word_embeddings: true,
      sliding_window: 4096,
    },
    gguf: { arch: 'gemma2' },
  }),
  decoder('gemma3_text', { ...GEMMA, family: 'gemma3', gemma: 3, qkNorm: true, slidingWindow: 'gemma3' }, {
    architecture: /^Gemma3/,
    textDefaults: {
      vocab_size: 262208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8,
      num_key_value_heads: 4, head_dim: 256, max_position_embeddings: 131072, rms_norm_eps: 1e-6,
      tie_word_embeddings: true, sliding_window: 4096, sliding_window_pattern: 6,
    },
    gguf: { arch: 'gemma3' },
  }),
  decoder('phi3', { fused: true, slidingWindow: 'all' }, {
    architecture: /^Phi3/,
    // The converter writes sliding_window 0 for a config without one (Phi-4): read it as no sliding window at all.
    gguf: { arch: 'phi3', derive: (c) => { if (c['sliding_window'] === 0) delete c['sliding_window']; } },
  }),
  decoder('gpt_oss', { slidingWindow: 'all', moe: 'gpt-oss' }, {
    architecture: /^GptOss/,
    gguf: {
      arch: 'gpt-oss',
      derive: (c) => {
        // No layer types in the GGUF: llama.cpp alternates sliding and full layers, starting with sliding,
        // as the HF config does. Only for a count the spec will accept: the list is sized by it.
        const layers = c['num_hidden_layers'];
        if (typeof layers === 'number' && Number.isSafeInteger(layers) && layers > 0 && layers <= LIMITS.layers) {
          c['layer_types'] = Array.from({ length: layers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
        }
      },
    },
  }),
  decoder('deepseek', { moe: 'deepseek' }),
  decoder('deepseek_v2', { moe: 'deepseek' }, { architecture: /^DeepseekV2/, gguf: { arch: 'deepseek2', derive: deepseekMla } }),
  decoder('deepseek_v3', { moe: 'deepseek' }, { architecture: /^DeepseekV3/ }),
  decoder('jamba', { moe: 'jamba', slidingWindow: 'jamba' }, { architecture: /^Jamba/, gguf: { arch: 'jamba' } }),
  {
    modelTypes: ['gpt2'],
    architecture: /^GPT2/,
    norm: 'layernorm',
    adapter: gpt2,
    fields: { max_position_embeddings: 'n_positions' },
    gguf: { arch: 'gpt2' },
  },
  { modelTypes: ['gpt_bigcode'], norm: 'layernorm', adapter: gpt2, fields: { max_position_embeddings: 'n_positions' }, gguf: { arch: 'starcoder' } },
  { modelTypes: ['gptj'], architecture: /^GPTJ/, norm: 'layernorm', adapter: gptj, gguf: { arch: 'gptj', rope: { field: 'rotary_dim', as: 'dims' } } },
  {
    modelTypes: ['gpt_neox'],
    architecture: /^GPTNeoX/,
    norm: 'layernorm',
    adapter: gptNeox,
    gguf: { arch: 'gptneox', rope: { field: 'rotary_pct', as: 'fraction' }, keys: { use_parallel_residual: 'use_parallel_residual' } },
  },
  {
    modelTypes: ['falcon', 'RefinedWeb', 'RefinedWebModel'],
    architecture: /^Falcon(?!Mamba)/,
    norm: 'layernorm',
    adapter: falcon,
    fields: { num_key_value_heads: 'num_kv_heads' },
    gguf: { arch: 'falcon', derive: falconLayout },
  },
  { modelTypes: ['bloom'], architecture: /^Bloom/, norm: 'layernorm', adapter: bloom, gguf: { arch: 'bloom' } },
  { modelTypes: ['opt'], architecture: /^OPT/, norm: 'layernorm', adapter: opt },
  { modelTypes: ['phi'], architecture: /^Phi(?!3)/, norm: 'layernorm', adapter: phi, gguf: { arch: 'phi2', rope: { field: 'partial_rotary_factor', as: 'fraction' } } },
  {
    modelTypes: ['bert', 'roberta', 'xlm-roberta'],
    architecture: /^Bert/,
    norm: 'layernorm',
    adapter: bert,
    fields: { layer_norm_epsilon: 'layer_norm_eps' },
    gguf: { arch: 'bert', keys: { 'tokenizer.ggml.token_type_count': 'type_vocab_size' }, defaults: { max_position_embeddings: 512 } },
  },
  {
    modelTypes: ['t5', 'mt5'],
    architecture: /^T5/,
    norm: 'rmsnorm',
    adapter: t5,
    fields: {
      num_hidden_layers: 'num_layers', hidden_size: 'd_model', num_attention_heads: 'num_heads', head_dim: 'd_kv', intermediate_size: 'd_ff',
      rms_norm_eps: 'layer_norm_epsilon', max_position_embeddings: 'n_positions',
    },
    gguf: {
      arch: 't5',
      keys: { decoder_block_count: 'num_decoder_layers', 'attention.relative_buckets_count': 'relative_attention_num_buckets' },
      tensorFlags: [{ tensor: 'enc.blk.0.ffn_gate.weight', field: 'feed_forward_proj', value: 'gated-gelu' }],
    },
  },
  { modelTypes: ['bart', 'mbart'], architecture: /^Bart/, norm: 'layernorm', adapter: bart },
];

/** The family of a model_type, if known. */
export function familyOf(modelType: string): FamilyDescriptor | undefined {
  return FAMILIES.find((f) => f.modelTypes.includes(modelType));
}

/** The model_type of a config's architectures[0] (LlamaForCausalLM → llama), if a family claims it. */
export function modelTypeOfArchitecture(architecture: string): string | undefined {
  return FAMILIES.find((f) => f.architecture?.test(architecture))?.modelTypes[0];
}

/** The family a lone .safetensors file's tensor names point to; `has(suffix, layer)` tells whether `model.layers.{layer}.{suffix}` is there. */
export function familyOfTensors(has: (suffix: string, layer: number) => boolean, firstExpertLayer: number | null): FamilyDescriptor | undefined {
  return FAMILIES.find((f) => {
    const form = f.safetensors;
    if (!form || !!form.experts !== (firstExpertLayer !== null)) return false;
    if (form.experts?.gateMarks && !has(`${form.experts.path}.0.${form.experts.gate}`, firstExpertLayer!)) return false;
    return Object.entries(form.layer0 ?? {}).every(([suffix, present]) => has(suffix, 0) === present);
  });
}

/** The family whose GGUF form has this general.architecture. */
export function familyOfGgufArch(arch: string): FamilyDescriptor | undefined {
  return FAMILIES.find((f) => f.gguf?.arch === arch);
}

/** Every model_type a family reads, in the order the user is shown them. */
export function supportedModelTypes(): string[] {
  return FAMILIES.flatMap((f) => f.modelTypes);
}

/** The family's name for one of Llama's config fields. */
export function fieldOf(family: FamilyDescriptor | undefined, llamaName: string): string {
  return family?.fields?.[llamaName] ?? llamaName;
}

/**
 * DeepSeek's latent attention: key_length is nope + rope per head; llama.cpp's MLA conversions store
 * the un-absorbed sizes as *_mla. Every head has its own K and V (no KV head count of its own).
 */
function deepseekMla(c: JsonObject, g: GgufFacts): void {
  const rope = g.num('rope.dimension_count');
  const key = g.num('attention.key_length_mla') ?? g.num('attention.key_length');
  const value = g.num('attention.value_length_mla') ?? g.num('attention.value_length');
  delete c['head_dim'];
  if (rope !== undefined) c['qk_rope_head_dim'] = rope;
  if (key !== undefined && rope !== undefined) c['qk_nope_head_dim'] = key - rope;
  if (value !== undefined) c['v_head_dim'] = value;
  if (c['q_lora_rank'] === 0) delete c['q_lora_rank'];
  c['n_routed_experts'] = c['num_local_experts'];
  c['num_key_value_heads'] = c['num_attention_heads'];
  const mla = (suffix: string) => `${g.arch}.attention.${suffix}${g.num(`attention.${suffix}_mla`) !== undefined ? '_mla' : ''}`;
  g.fields.set('qk_rope_head_dim', `${g.arch}.rope.dimension_count`);
  g.fields.set('qk_nope_head_dim', mla('key_length'));
  g.fields.set('v_head_dim', mla('value_length'));
}

/**
 * Falcon's layout is in no key: the new decoder architecture (40B/180B) has a second layer norm per
 * block (attn_norm_2); without the tensor list, more than one KV head is the best guess.
 */
function falconLayout(c: JsonObject, g: GgufFacts): void {
  const kv = typeof c['num_kv_heads'] === 'number' ? c['num_kv_heads'] : 1;
  const newArch = g.tensors ? g.tensors.has('blk.0.attn_norm_2.weight') : kv > 1;
  if (!g.tensors) g.notes.push('Falcon layout guessed from the KV head count (tensor list not read).');
  c['new_decoder_architecture'] = newArch;
  c['multi_query'] = kv === 1;
  c['num_kv_heads'] = kv;
}
