/**
 * GGUF metadata → an HF-style config, so that specFromConfig does the rest. The keys common to
 * every architecture are mapped here; what is particular to a family (its architecture name, its
 * config field names, the keys only it has, what only its tensor list tells) comes from its entry in
 * families/descriptors.ts. Key names: llama.cpp's gguf-py/gguf/constants.py (Keys.LLM, Keys.Attention).
 */
import { InputError } from '../errors';
import type { JsonObject } from '../json';
import { ownValue } from '../own';
import type { ByteSource } from './bytes';
import { specFromConfigWithFields } from './config';
import { familyOfGgufArch, fieldOf, type FamilyDescriptor, type GgufFacts } from './families/descriptors';
import { isLongArray, isLongString, product, readGgufHeader, type GgufHeader, type GgufReadOptions, type GgufValue } from './gguf-reader';
import type { ModelSpec, SourceFormat } from './spec';

/** llama.cpp's general.file_type (llama_ftype) names. */
export const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

/** Llama's config field ← `{arch}.` + the GGUF key llama.cpp writes for it, for every architecture. */
const COMMON_KEYS: [string, string][] = [
  ['num_hidden_layers', 'block_count'],
  ['hidden_size', 'embedding_length'],
  ['num_attention_heads', 'attention.head_count'],
  ['num_key_value_heads', 'attention.head_count_kv'],
  ['intermediate_size', 'feed_forward_length'],
  ['rms_norm_eps', 'attention.layer_norm_rms_epsilon'],
  ['layer_norm_epsilon', 'attention.layer_norm_epsilon'],
  ['num_local_experts', 'expert_count'],
  ['num_experts_per_tok', 'expert_used_count'],
  ['n_shared_experts', 'expert_shared_count'],
  ['first_k_dense_replace', 'leading_dense_block_count'],
  ['moe_intermediate_size', 'expert_feed_forward_length'],
  ['shared_expert_intermediate_size', 'expert_shared_feed_forward_length'],
  ['q_lora_rank', 'attention.q_lora_rank'],
  ['kv_lora_rank', 'attention.kv_lora_rank'],
  ['head_dim', 'attention.key_length'],
  ['max_position_embeddings', 'context_length'],
  ['vocab_size', 'vocab_size'],
  ['sliding_window', 'attention.sliding_window'],
  ['attn_logit_softcapping', 'attn_logit_softcapping'],
];

export interface GgufConfig {
  config: JsonObject;
  /** HF key → the GGUF key it came from, for error messages. */
  fieldNames: Map<string, string>;
  notes: string[];
}

export function configFromGguf(h: GgufHeader, file: string): GgufConfig {
  const notes: string[] = [];
  const fieldNames = new Map<string, string>();
  const arch = h.metadata.get('general.architecture');
  if (typeof arch !== 'string') {
    const found = arch === undefined ? 'nothing' : isLongString(arch) ? `a ${arch.bytes.toLocaleString('en')}-byte string` : isLongArray(arch) || Array.isArray(arch) ? 'an array' : typeof arch;
    throw new InputError(file, 'general.architecture', 'a string naming the architecture (e.g. "llama")', found);
  }
  const family = familyOfGgufArch(arch);
  // An architecture no family claims keeps its name: unknown types are read as Llama-style decoders, Mamba's are refused.
  const config: JsonObject = { model_type: family?.modelTypes[0] ?? arch };
  fieldNames.set('model_type', 'general.architecture');
  const name = h.metadata.get('general.name');
  if (typeof name === 'string' && name.trim()) config['_name_or_path'] = name;

  const filled = new Set<string>();
  const read = (key: string, field: string) => {
    // Named even when absent, so that "missing" errors point at the GGUF key.
    if (!fieldNames.has(field)) fieldNames.set(field, key);
    // Two keys for one field (T5's two epsilons): the first present wins.
    if (!h.metadata.has(key) || filled.has(field)) return;
    filled.add(field);
    fieldNames.set(field, key);
    config[field] = perLayerScalar(h.metadata.get(key)!, key, notes);
  };
  for (const [llamaField, suffix] of COMMON_KEYS) read(`${arch}.${suffix}`, fieldOf(family, llamaField));
  for (const [key, field] of Object.entries(family?.gguf?.keys ?? {})) read(key.startsWith('tokenizer.') ? key : `${arch}.${key}`, field);

  if (config['vocab_size'] === undefined) {
    const tokens = h.metadata.get('tokenizer.ggml.tokens');
    const count = isLongArray(tokens) ? tokens.count : Array.isArray(tokens) ? tokens.length : undefined;
    if (count !== undefined) {
      config['vocab_size'] = count;
      fieldNames.set('vocab_size', 'tokenizer.ggml.tokens (length)');
    }
  }
  const fileType = h.metadata.get('general.file_type');
  if (typeof fileType === 'number') config['torch_dtype'] = ownValue(FILE_TYPES, fileType) ?? `file_type ${fileType}`;

  const tensors = h.tensors ? new Set(h.tensors.map((t) => t.name)) : null;
  if (tensors?.has('token_embd.weight')) {
    // llama.cpp writes no output.weight when the output layer reuses the embeddings.
    config['tie_word_embeddings'] = !tensors.has('output.weight');
  } else {
    notes.push('Tensor list not read: whether the output layer is tied to the embeddings follows the family default.');
  }
  if (family?.gguf) {
    const num = (suffix: string) => {
      const v = h.metadata.get(`${arch}.${suffix}`);
      return typeof v === 'number' ? v : undefined;
    };
    familyRules(family, config, { num, tensors, fields: fieldNames, notes, arch });
  }
  return { config, fieldNames, notes };
}

/** The family's own GGUF rules: partial rotary, flags from tensor names, defaults, derived values. */
function familyRules(family: FamilyDescriptor, c: JsonObject, g: GgufFacts): void {
  const form = family.gguf!;
  const rope = g.num('rope.dimension_count');
  if (form.rope && rope !== undefined) {
    const number = (llamaField: string) => {
      const v = c[fieldOf(family, llamaField)];
      return typeof v === 'number' ? v : undefined;
    };
    const heads = number('num_attention_heads');
    const hidden = number('hidden_size');
    const headDim = number('head_dim') ?? (hidden && heads ? hidden / heads : undefined);
    if (form.rope.as === 'dims') c[form.rope.field] = rope;
    else if (headDim) c[form.rope.field] = rope / headDim;
  }
  for (const flag of form.tensorFlags ?? []) if (g.tensors?.has(flag.tensor)) c[flag.field] = flag.value;
  for (const [field, value] of Object.entries(form.defaults ?? {})) c[field] ??= value;
  form.derive?.(c, g);
}

/** Per-layer arrays (some architectures vary heads or widths by layer): one value for the spec. */
function perLayerScalar(v: GgufValue, key: string, notes: string[]): unknown {
  if (isLongString(v)) return `${v.head.slice(0, 40)}… (${v.bytes.toLocaleString('en')} bytes)`;
  if (!Array.isArray(v)) return isLongArray(v) ? null : v;
  const nums = v.filter((x): x is number => typeof x === 'number' && x > 0);
  if (nums.length === 0) return null;
  const max = nums.reduce((a, b) => Math.max(a, b));
  if (nums.some((x) => x !== max)) notes.push(`${key} varies per layer; the largest value (${max}) was used for every layer.`);
  return max;
}

/** Reads a GGUF file's metadata (and tensor infos when asked) and builds its spec. */
export async function specFromGguf(src: ByteSource, source: { path: string; format: SourceFormat }, opts: GgufReadOptions = { tensors: true }): Promise<ModelSpec> {
  return specFromGgufHeader(await readGgufHeader(src, source.path, opts), source);
}

/**
 * The spec of a header already read. `useTensors: false` sets its tensor list aside, so that a header
 * read whole (the model viewer's) gives the spec the metadata-only reading gives (the report panel's).
 */
export function specFromGgufHeader(read: GgufHeader, source: { path: string; format: SourceFormat }, useTensors = true): ModelSpec {
  const header = useTensors ? read : { ...read, tensors: null };
  const { config, fieldNames, notes } = configFromGguf(header, source.path);
  const spec = specFromConfigWithFields(config, source, (k) => fieldNames.get(k) ?? k);
  spec.notes.unshift(`GGUF v${header.version}: ${header.kvCount} metadata keys, ${header.tensorCount} tensors.`, ...notes);
  if (header.tensors) spec.paramsFromWeights = header.tensors.reduce((n, t) => n + product(t.shape), 0);
  return spec;
}
