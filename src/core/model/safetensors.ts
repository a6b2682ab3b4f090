/**
 * safetensors headers: an 8-byte little-endian length, then that many bytes of
 * JSON naming every tensor's dtype, shape and byte range. Only the header is
 * read. Used for the weights' dtype and element count (a cross-check of the
 * parameter count), and, for a lone .safetensors file, to infer a Llama-style
 * spec from tensor shapes.
 */
import { InputError, describeValue } from '../errors';
import { isObject, type JsonObject } from '../json';
import { boundedCount, type ByteSource } from './bytes';
import { specFromConfig } from './config';
import type { ModelSpec, SourceFormat } from './spec';

/** Headers beyond this are not plausible (the format's reference implementation uses the same cap). */
export const SAFETENSORS_HEADER_CAP = 100_000_000;

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  elements: number;
}

export interface SafetensorsHeader {
  tensors: SafetensorsTensor[];
  metadata: Record<string, string>;
  /** Bytes of JSON after the 8-byte length. */
  headerBytes: number;
}

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_BYTES: Record<string, number> = {
  F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2,
  F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, I8: 1, U8: 1, BOOL: 1, F4: 0.5, F6_E2M3: 0.75, F6_E3M2: 0.75,
};

export async function readSafetensorsHeader(src: ByteSource, file: string): Promise<SafetensorsHeader> {
  // Two exact reads: the length, then the JSON. Tensor data is never touched.
  if (src.size < 8) throw new InputError(file, 'header length', 'an 8-byte little-endian header length', `a ${src.size}-byte file`);
  const head = await src.read(0, 8);
  if (head.length < 8) throw new InputError(file, 'header length', 'an 8-byte little-endian header length', 'a short read');
  const raw = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  const length = boundedCount(file, 'header length', raw, SAFETENSORS_HEADER_CAP, 'a header length in bytes');
  if (length > src.size - 8) {
    throw new InputError(file, 'header length', `at most ${src.size - 8} bytes (the file is ${src.size} bytes)`, length.toLocaleString('en'));
  }
  const bytes = await src.read(8, length);
  if (bytes.length < length) throw new InputError(file, 'header', `${length} bytes of JSON header`, `a short read of ${bytes.length}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(file, 'header', 'UTF-8 JSON', 'bytes that are not UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, 'header', 'a JSON object', `invalid JSON (${(err as Error).message})`);
  }
  return parseHeader(json, file, src.size - 8 - length, length);
}

function parseHeader(json: unknown, file: string, dataBytes: number, headerBytes: number): SafetensorsHeader {
  if (!isObject(json)) throw new InputError(file, 'header', 'a JSON object', describeValue(json));
  const tensors: SafetensorsTensor[] = [];
  const metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (isObject(entry)) for (const [k, v] of Object.entries(entry)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    if (!isObject(entry)) throw new InputError(file, `header["${name}"]`, 'a tensor entry {dtype, shape, data_offsets}', describeValue(entry));
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') throw new InputError(file, `header["${name}"].dtype`, 'a dtype name such as "BF16"', describeValue(dtype));
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
      throw new InputError(file, `header["${name}"].shape`, 'a list of non-negative integers', describeValue(shape));
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) ||
      (offsets[0] as number) > (offsets[1] as number) ||
      (offsets[1] as number) > dataBytes
    ) {
      throw new InputError(file, `header["${name}"].data_offsets`, `[begin, end] within the ${dataBytes} data bytes`, describeValue(offsets));
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    tensors.push({ name, dtype, shape: shape as number[], elements });
  }
  return { tensors, metadata, headerBytes };
}

export function countElements(h: SafetensorsHeader): number {
  return h.tensors.reduce((n, t) => n + t.elements, 0);
}

/** The dtype holding most elements (norms are often kept wider than the weights). */
export function dominantDtype(h: SafetensorsHeader): string | null {
  const by = new Map<string, number>();
  for (const t of h.tensors) by.set(t.dtype, (by.get(t.dtype) ?? 0) + t.elements);
  let best: string | null = null;
  for (const [dtype, n] of by) if (best === null || n > by.get(best)!) best = dtype;
  return best;
}

const DTYPE_NAMES: Record<string, string> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32', F64: 'float64', F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2' };

export function torchDtypeName(dtype: string): string {
  return DTYPE_NAMES[dtype] ?? dtype.toLowerCase();
}

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
  for (const t of h.tensors) {
    const m = /^model\.layers\.(\d+)\./.exec(t.name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
    const e = /^model\.layers\.(\d+)\.(?:mlp|block_sparse_moe)\.experts\.(\d+)\./.exec(t.name);
    if (e) {
      const set = expertsPerLayer.get(Number(e[1])) ?? new Set<number>();
      set.add(Number(e[2]));
      expertsPerLayer.set(Number(e[1]), set);
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
  const config: JsonObject = {
    _name_or_path: name,
    model_type: qNorm ? 'qwen3' : byName.has('model.layers.0.self_attn.q_proj.bias') ? 'qwen2' : 'llama',
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
  if (expertsPerLayer.size > 0) {
    const [firstLayer, ids] = [...expertsPerLayer.entries()][0]!;
    const experts = ids.size;
    const mixtral = byName.has(`model.layers.${firstLayer}.block_sparse_moe.experts.0.w1.weight`);
    const expertGate = shapeOf(
      mixtral ? `model.layers.${firstLayer}.block_sparse_moe.experts.0.w1.weight` : `model.layers.${firstLayer}.mlp.experts.0.gate_proj.weight`,
    );
    const topK = mixtral ? 2 : 8;
    notes.push(`Experts per token are not stored in the weights: top-${topK} assumed.`);
    if (mixtral) {
      Object.assign(config, { model_type: 'mixtral', num_local_experts: experts, num_experts_per_tok: topK, intermediate_size: expertGate?.[0] });
    } else {
      Object.assign(config, {
        model_type: qNorm ? 'qwen3_moe' : 'qwen2_moe',
        num_experts: experts,
        num_experts_per_tok: topK,
        moe_intermediate_size: expertGate?.[0],
        intermediate_size: config['intermediate_size'] ?? expertGate?.[0],
        mlp_only_layers: Array.from({ length: layers }, (_, i) => i).filter((i) => !expertsPerLayer.has(i)),
      });
    }
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
