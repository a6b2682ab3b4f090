/**
 * A small safetensors writer for tests, following the published format
 * (huggingface/safetensors): a u64 little-endian header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then
 * the tensor data (zeros here).
 */
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1, F8_E4M3: 1 };

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype?: string;
}

export function writeSafetensors(
  tensors: TensorSpec[],
  o: { headerLength?: bigint; rawHeader?: string; metadata?: Record<string, string> } = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (o.metadata) header['__metadata__'] = o.metadata;
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'BF16';
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype]!;
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(o.rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, o.headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** Tensors of a small Llama-style checkpoint (HF names, [out, in] shapes). */
export function llamaTensors(s: {
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  tied?: boolean;
  qkNorm?: boolean;
  invFreq?: boolean;
  dtype?: string;
}): TensorSpec[] {
  const d = s.dtype ?? 'BF16';
  const t: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden], dtype: d }];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    t.push(
      { name: `${p}.input_layernorm.weight`, shape: [s.hidden], dtype: d },
      { name: `${p}.self_attn.q_proj.weight`, shape: [s.heads * s.headDim, s.hidden], dtype: d },
      { name: `${p}.self_attn.k_proj.weight`, shape: [s.kvHeads * s.headDim, s.hidden], dtype: d },
      { name: `${p}.self_attn.v_proj.weight`, shape: [s.kvHeads * s.headDim, s.hidden], dtype: d },
      { name: `${p}.self_attn.o_proj.weight`, shape: [s.hidden, s.heads * s.headDim], dtype: d },
      { name: `${p}.post_attention_layernorm.weight`, shape: [s.hidden], dtype: d },
      { name: `${p}.mlp.gate_proj.weight`, shape: [s.ffn, s.hidden], dtype: d },
      { name: `${p}.mlp.up_proj.weight`, shape: [s.ffn, s.hidden], dtype: d },
      { name: `${p}.mlp.down_proj.weight`, shape: [s.hidden, s.ffn], dtype: d },
    );
    if (s.qkNorm) {
      t.push({ name: `${p}.self_attn.q_norm.weight`, shape: [s.headDim], dtype: d }, { name: `${p}.self_attn.k_norm.weight`, shape: [s.headDim], dtype: d });
    }
    if (s.invFreq) t.push({ name: `${p}.self_attn.rotary_emb.inv_freq`, shape: [s.headDim / 2], dtype: 'F32' });
  }
  t.push({ name: 'model.norm.weight', shape: [s.hidden], dtype: d });
  if (!s.tied) t.push({ name: 'lm_head.weight', shape: [s.vocab, s.hidden], dtype: d });
  return t;
}
