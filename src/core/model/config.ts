/**
 * A Hugging Face style config object → ModelSpec. Pure: no I/O. GGUF and
 * safetensors readers turn what they read into such an object and come here, so
 * there is one place that knows how each family is laid out.
 */
import { InputError, describeValue } from '../errors';
import { isObject, type JsonObject } from '../json';
import { ownValue } from '../own';
import { ConfigReader } from './fields';
import { groupLayers } from './layers';
import { countParams } from './params';
import type { ModelSpec, SourceFormat } from './spec';
import type { Adapter } from './families/common';
import { decoderAdapter, genericTraits } from './families/decoders';
import { familyOf, modelTypeOfArchitecture, supportedModelTypes } from './families/descriptors';

/** Multimodal wrappers whose language model sits in `text_config` (or at the top level). */
const MULTIMODAL_TEXT_TYPES: Record<string, string> = {
  llava: 'llama',
  llava_next: 'llama',
  vipllava: 'llama',
  gemma3: 'gemma3_text',
  paligemma: 'gemma',
  mistral3: 'mistral',
  qwen2_vl: 'qwen2',
  qwen2_5_vl: 'qwen2',
  idefics3: 'llama',
};

const PURE_SSM_TYPES = new Set(['mamba', 'mamba2', 'falcon_mamba']);
/** architectures[0] of a pure state-space model (MambaForCausalLM, FalconMambaForCausalLM): checked after every family's. */
const STATE_SPACE_ARCHITECTURE = /Mamba/;

/**
 * Hybrids whose layout is not modelled (shared attention blocks, Mamba-2 mixers in
 * parallel with attention, …). Refused rather than misread as Llama-style decoders.
 * Jamba, and any config whose layer_types marks its non-attention layers, are profiled.
 */
const UNMODELLED_HYBRIDS = new Set(['zamba', 'zamba2', 'bamba', 'nemotron_h', 'falcon_h1', 'granitemoehybrid', 'plamo2', 'lfm2']);

export function specFromConfig(config: unknown, source: { path: string; format: SourceFormat }): ModelSpec {
  return specFromConfigWithFields(config, source);
}

/**
 * As specFromConfig, with `fieldName` mapping config keys to the names the user
 * knows (GGUF keys), and extra notes from the reader that produced the config.
 */
export function specFromConfigWithFields(
  config: unknown,
  source: { path: string; format: SourceFormat },
  fieldName: (key: string) => string = (k) => k,
): ModelSpec {
  const file = source.path;
  if (!isObject(config)) throw new InputError(file, '', 'a JSON object (a model config)', describeValue(config));
  const top = config;
  const architecture = firstArchitecture(top, file);
  // Before model_type: original Mamba configs have none, only ssm_cfg.
  const rawType = ownValue(top, 'model_type');
  refuseStateSpace(top, typeof rawType === 'string' ? rawType : '', file, fieldName);
  const topType = modelTypeOf(top, architecture, file, fieldName);
  refuseStateSpace(top, topType, file, fieldName);

  // The language model: a nested text_config for multimodal wrappers, else the config itself.
  let cfg: JsonObject = top;
  let prefix = '';
  let textType = ownValue(MULTIMODAL_TEXT_TYPES, topType) ?? topType;
  let defaults: JsonObject = {};
  const fallbacks: JsonObject[] = [];
  const textConfig = ownValue(top, 'text_config');
  if (isObject(textConfig)) {
    cfg = textConfig;
    prefix = 'text_config.';
    const nestedType = ownValue(textConfig, 'model_type');
    textType = typeof nestedType === 'string' ? nestedType : (ownValue(MULTIMODAL_TEXT_TYPES, topType) ?? topType);
    defaults = familyOf(textType)?.textDefaults ?? {};
    fallbacks.push(pick(top, ['torch_dtype', 'dtype', 'tie_word_embeddings', 'vocab_size']));
    refuseStateSpace(textConfig, textType, file, (k) => prefix + fieldName(k));
  }
  if (UNMODELLED_HYBRIDS.has(textType)) {
    throw new InputError(
      file,
      prefix + fieldName('model_type'),
      'a model whose layer layout this tool models (Jamba-style hybrids and configs with layer_types are)',
      `"${textType}": a hybrid of attention and state-space layers whose layout is not modelled yet`,
      'unsupported',
    );
  }
  const reader = new ConfigReader(cfg, file, prefix, defaults, fieldName, fallbacks);
  const family = familyOf(textType);
  const adapter = family?.adapter ?? genericAdapter(reader, textType, file, fieldName);
  const result = adapter({ r: reader, modelType: textType, architecture, norm: family?.norm ?? null });

  const layerKinds = groupLayers(result.layers);
  const notes = [...result.notes];
  if (reader.defaulted.length) {
    notes.push(`${prefix ? prefix.replace(/\.$/, '') : 'config'} leaves ${reader.defaulted.join(', ')} unset: the ${textType} config defaults were used.`);
  }
  const vision = visionOf(top);
  if (vision) notes.push(`Vision tower (${vision.modelType}) named but not profiled or counted; only the language model is.`);
  const quantization = ownValue(top, 'quantization_config');
  const quant = isObject(quantization) ? ownValue(quantization, 'quant_method') : undefined;
  // The simulation has no quantized formats: say that the figures are for unquantized weights, not the checkpoint's.
  if (typeof quant === 'string') {
    notes.push(
      `Weights are quantized (${quant}) in the checkpoint, but simulated unquantized: weight reads, matmuls and memory use the workload's dtype (the hardware profile's default unless set), not ${quant}'s bits; parameter counts are element counts.`,
    );
  }

  const partial = {
    layerKinds,
    finalNorm: result.finalNorm,
    lmHead: result.lmHead,
    tiedEmbeddings: result.tied,
    vocab: result.vocab,
    hidden: result.hidden,
    extraParams: result.extraParams,
  };
  return {
    name: nameOf(top, file, architecture, topType),
    family: result.family,
    modelType: topType,
    architecture,
    readAs: result.readAs ?? 'family',
    source: { path: file, format: source.format },
    hidden: result.hidden,
    layers: result.layers.length,
    vocab: result.vocab,
    normKind: result.normStyle.kind,
    normEps: result.normStyle.eps,
    tiedEmbeddings: result.tied,
    positions: result.positions,
    maxPositions: result.maxPositions,
    topology: result.topology,
    layerKinds,
    finalNorm: result.finalNorm,
    lmHead: result.lmHead,
    params: countParams(partial),
    paramsFromWeights: null,
    dtype: dtypeOf(cfg, top),
    vision,
    skippedLayers: result.skippedLayers,
    notes,
    extraParams: result.extraParams,
  };
}

function firstArchitecture(top: JsonObject, file: string): string | null {
  const archs = ownValue(top, 'architectures');
  if (archs === undefined || archs === null) return null;
  if (!Array.isArray(archs) || (archs.length > 0 && typeof archs[0] !== 'string')) {
    throw new InputError(file, 'architectures', 'a list of class names', describeValue(archs));
  }
  return (archs[0] as string | undefined) ?? null;
}

function modelTypeOf(top: JsonObject, architecture: string | null, file: string, fieldName: (k: string) => string): string {
  const type = ownValue(top, 'model_type');
  if (typeof type === 'string' && type.length > 0) return type;
  if (type !== undefined && type !== null) throw new InputError(file, fieldName('model_type'), 'a string', describeValue(type));
  if (architecture) {
    const t = modelTypeOfArchitecture(architecture) ?? (STATE_SPACE_ARCHITECTURE.test(architecture) ? 'mamba' : undefined);
    if (t) return t;
  }
  throw new InputError(file, fieldName('model_type'), 'a model_type or a known architectures[0] (e.g. "llama", "LlamaForCausalLM")', 'nothing');
}

/** Pure state-space models have no attention and no Softmax: nothing for this tool to profile. */
function refuseStateSpace(cfg: JsonObject, modelType: string, file: string, fieldName: (k: string) => string): void {
  const ssmKeys = ['ssm_cfg', 'state_size', 'ssm_state_size', 'd_state'].some((k) => ownValue(cfg, k) !== undefined);
  const attentionKeys = ['num_attention_heads', 'n_head', 'num_heads', 'layer_types', 'attn_layer_period', 'layers_block_type'].some(
    (k) => ownValue(cfg, k) !== undefined && ownValue(cfg, k) !== null,
  );
  if (PURE_SSM_TYPES.has(modelType) || (ssmKeys && !attentionKeys && !familyOf(modelType))) {
    throw new InputError(
      file,
      fieldName('model_type'),
      'a model with attention layers',
      `${modelType ? `"${modelType}"` : 'a state-space config (ssm_cfg/state_size)'}: this is a pure state-space model (Mamba) with no attention or Softmax to profile`,
      'unsupported',
    );
  }
}

/** Unknown model types that look like a Llama-style decoder are read as one (with a note); others are refused. */
function genericAdapter(r: ConfigReader, modelType: string, file: string, fieldName: (k: string) => string): Adapter {
  const looksLikeDecoder = r.has('hidden_size', 'n_embd', 'd_model') && r.has('num_attention_heads', 'n_head') && r.has('num_hidden_layers', 'n_layer');
  if (!looksLikeDecoder) {
    throw new InputError(
      file,
      r.prefix + fieldName('model_type'),
      `a supported model type (${supportedModelTypes().join(', ')}) or a Llama-style decoder config`,
      JSON.stringify(modelType),
      'unsupported',
    );
  }
  return decoderAdapter(genericTraits(modelType));
}

function visionOf(top: JsonObject): ModelSpec['vision'] {
  const v = ownValue(top, 'vision_config');
  if (isObject(v)) {
    const named = ownValue(v, 'model_type');
    const type = typeof named === 'string' ? named : 'vision tower';
    const facts: string[] = [];
    const num = (k: string) => {
      const n = ownValue(v, k);
      return typeof n === 'number' ? n : null;
    };
    if (num('num_hidden_layers') !== null) facts.push(`${num('num_hidden_layers')} layers`);
    if (num('hidden_size') !== null) facts.push(`hidden ${num('hidden_size')}`);
    if (num('num_attention_heads') !== null) facts.push(`${num('num_attention_heads')} heads`);
    if (num('image_size') !== null) facts.push(`${num('image_size')}px images`);
    if (num('patch_size') !== null) facts.push(`${num('patch_size')}px patches`);
    return { modelType: type, description: facts.length ? `${type}: ${facts.join(', ')}` : type };
  }
  const tower = ownValue(top, 'mm_vision_tower') ?? ownValue(top, 'vision_tower');
  if (typeof tower === 'string') return { modelType: tower, description: `vision tower ${tower}` };
  return null;
}

function nameOf(top: JsonObject, file: string, architecture: string | null, modelType: string): string {
  const n = ownValue(top, '_name_or_path');
  if (typeof n === 'string' && n.trim() !== '') return n;
  // The folder a config.json sits in usually names the model.
  const parts = file.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  const last = parts[parts.length - 1];
  if (last && /\.json$/i.test(last) && parts.length > 1) return parts[parts.length - 2]!;
  if (last) return last.replace(/\.(json|gguf|safetensors)$/i, '');
  return architecture ?? modelType;
}

function dtypeOf(cfg: JsonObject, top: JsonObject): string | null {
  for (const o of [cfg, top]) {
    for (const k of ['torch_dtype', 'dtype']) {
      const dtype = ownValue(o, k);
      if (typeof dtype === 'string') return dtype;
    }
  }
  return null;
}

function pick(o: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) {
    const v = ownValue(o, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
