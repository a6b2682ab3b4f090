/**
 * A lone .safetensors file (no config.json beside it): an HF-style config inferred from its
 * Llama-style tensor names and shapes. Which family it is, and how that family names its experts,
 * comes from the families' descriptors (families/descriptors.ts).
 */
import { InputError } from '../errors';
import type { JsonObject } from '../json';
import { specFromConfig } from './config';
import { FAMILIES, familyOfTensors } from './families/descriptors';
import { LIMITS } from './fields';
import { countElements, dominantDtype, torchDtypeName, type SafetensorsHeader, type SafetensorsTensor } from './safetensors-header';
import type { ModelSpec, SourceFormat } from './spec';

/** Where any family keeps its experts (block_sparse_moe.experts, mlp.experts). */
const EXPERT_PATHS = [...new Set(FAMILIES.flatMap((f) => (f.safetensors?.experts ? [f.safetensors.experts.path] : [])))];
/** An expert's tensor, model.layers.N.{path}.E.…: E is the expert. */
const EXPERT_NAME = new RegExp(`^model\\.layers\\.\\d+\\.(?:${EXPERT_PATHS.map((p) => p.replaceAll('.', '\\.')).join('|')})\\.(\\d+)\\.`);

/**
 * An HF-style config inferred from Llama-style tensor names and shapes. The head
 * width comes from q_norm or the rotary inv_freq buffer when present; otherwise
 * 128 is assumed (and said).
 */
export function configFromTensors(h: SafetensorsHeader, file: string, name: string): { config: JsonObject; notes: string[] } {
  const notes: string[] = ['No config.json: sizes inferred from tensor shapes (Llama-style names); norm eps assumed 1e-5.'];
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const shapeOf = (n: string) => byName.get(n)?.shape;
  const embed = shapeOf('model.embed_tokens.weight');
  const q = shapeOf('model.layers.0.self_attn.q_proj.weight');
  const k = shapeOf('model.layers.0.self_attn.k_proj.weight');
  if (!embed || embed.length !== 2 || !q || q.length !== 2 || !k || k.length !== 2) {
    throw new InputError(
      file,
      'tensors',
      'Llama-style tensor names (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, …); for other layouts put the config.json beside the weights',
      `${h.tensors.length} tensors such as ${h.tensors.slice(0, 2).map((t) => JSON.stringify(t.name)).join(', ') || 'none'}`,
    );
  }
  const [vocab, hidden] = embed as [number, number];
  let layers = 0;
  const expertsPerLayer = new Map<number, Set<number>>();
  // Indices come from names: each is checked against its limit before it sizes anything (a list of layers).
  const index = (digits: string, t: SafetensorsTensor, what: string, max: number): number => {
    const n = Number(digits);
    if (!Number.isSafeInteger(n) || n >= max) throw new InputError(file, `tensors["${t.name.slice(0, 120)}"]`, `${what} index no larger than ${max - 1}`, digits.length > 20 ? `${digits.slice(0, 20)}…` : digits);
    return n;
  };
  for (const t of h.tensors) {
    const m = /^model\.layers\.(\d+)\./.exec(t.name);
    if (!m) continue;
    const layer = index(m[1]!, t, 'a layer', LIMITS.layers);
    layers = Math.max(layers, layer + 1);
    const e = EXPERT_NAME.exec(t.name);
    if (e) {
      const set = expertsPerLayer.get(layer) ?? new Set<number>();
      set.add(index(e[1]!, t, 'an expert', LIMITS.experts));
      expertsPerLayer.set(layer, set);
    }
  }
  let headDim: number;
  const qNorm = shapeOf('model.layers.0.self_attn.q_norm.weight');
  const invFreq = shapeOf('model.layers.0.self_attn.rotary_emb.inv_freq');
  if (qNorm && qNorm.length === 1) headDim = qNorm[0]!;
  else if (invFreq && invFreq.length === 1) headDim = 2 * invFreq[0]!;
  else {
    headDim = 128;
    notes.push('Head width is not stored in the weights: 128 assumed (heads = q_proj rows / 128).');
  }
  const [qOut, kOut] = [q[0]!, k[0]!];
  if (qOut % headDim !== 0 || kOut % headDim !== 0) {
    throw new InputError(file, 'model.layers.0.self_attn.q_proj.weight shape', `rows that are a multiple of the head width ${headDim}`, `${qOut} and ${kOut}`);
  }
  const firstExpertLayer = expertsPerLayer.size > 0 ? [...expertsPerLayer.keys()][0]! : null;
  const family = familyOfTensors((suffix, layer) => byName.has(`model.layers.${layer}.${suffix}`), firstExpertLayer);
  if (!family) throw new InputError(file, 'tensors', 'the tensor names of a Llama-style family', 'a combination no family has');
  const config: JsonObject = {
    _name_or_path: name,
    model_type: family.modelTypes[0]!,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: qOut / headDim,
    num_key_value_heads: kOut / headDim,
    head_dim: headDim,
    vocab_size: vocab,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: !byName.has('lm_head.weight'),
    torch_dtype: torchDtypeName(dominantDtype(h) ?? 'BF16'),
  };
  const gate = shapeOf('model.layers.0.mlp.gate_proj.weight');
  if (gate) config['intermediate_size'] = gate[0];
  const experts = family.safetensors?.experts;
  if (experts && firstExpertLayer !== null) {
    const expertWidth = shapeOf(`model.layers.${firstExpertLayer}.${experts.path}.0.${experts.gate}`)?.[0];
    notes.push(`Experts per token are not stored in the weights: top-${experts.topK} assumed.`);
    config[experts.countField] = expertsPerLayer.get(firstExpertLayer)!.size;
    config['num_experts_per_tok'] = experts.topK;
    // Mixtral's experts are its only feed-forward; Qwen keeps a dense width for the layers without experts.
    if (experts.ffnField === 'intermediate_size') config['intermediate_size'] = expertWidth;
    else {
      config[experts.ffnField] = expertWidth;
      config['intermediate_size'] ??= expertWidth;
    }
    if (experts.listDenseLayers) config['mlp_only_layers'] = Array.from({ length: layers }, (_, i) => i).filter((i) => !expertsPerLayer.has(i));
  }
  return { config, notes };
}

/** A spec for a lone .safetensors file (no config.json beside it). */
export function specFromSafetensors(h: SafetensorsHeader, source: { path: string; format: SourceFormat }, name: string): ModelSpec {
  const { config, notes } = configFromTensors(h, source.path, name);
  const spec = specFromConfig(config, source);
  spec.notes.unshift(...notes);
  spec.paramsFromWeights = countElements(h);
  return spec;
}
