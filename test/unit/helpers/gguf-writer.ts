/**
 * A small GGUF writer for tests, following the published format (ggml docs/gguf.md):
 * little-endian; magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count,
 * then kv pairs (string key, u32 value type, value), then tensor infos (string name,
 * u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset), padding to the alignment
 * (32), then tensor data. A string is a u64 length and UTF-8 bytes; an array is a u32
 * element type, a u64 count and the elements.
 */
import type { ByteSource } from '../../../src/core/model/bytes';

export const GGUF_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type ScalarType = Exclude<keyof typeof GGUF_TYPE, 'array'>;

export type GgufEntry =
  | { type: ScalarType; value: number | boolean | string | bigint }
  | { type: 'array'; elementType: ScalarType; values: (number | boolean | string)[] }
  /** A long string array generated on the fly (token lists). */
  | { type: 'stringArray'; count: number; item: (i: number) => string };

export const gv = {
  u32: (value: number): GgufEntry => ({ type: 'u32', value }),
  u64: (value: number | bigint): GgufEntry => ({ type: 'u64', value }),
  i32: (value: number): GgufEntry => ({ type: 'i32', value }),
  f32: (value: number): GgufEntry => ({ type: 'f32', value }),
  f64: (value: number): GgufEntry => ({ type: 'f64', value }),
  bool: (value: boolean): GgufEntry => ({ type: 'bool', value }),
  str: (value: string): GgufEntry => ({ type: 'string', value }),
  arr: (elementType: ScalarType, values: (number | boolean | string)[]): GgufEntry => ({ type: 'array', elementType, values }),
  tokens: (count: number, item: (i: number) => string = (i) => `tok${i}`): GgufEntry => ({ type: 'stringArray', count, item }),
};

class Bytes {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.push(b);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.push(b);
  }
  scalar(type: ScalarType, v: number | boolean | string | bigint): void {
    const size: Record<ScalarType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, string: 0, u64: 8, i64: 8, f64: 8 };
    if (type === 'string') return this.str(String(v));
    const b = new Uint8Array(size[type]);
    const d = new DataView(b.buffer);
    switch (type) {
      case 'u8': d.setUint8(0, Number(v)); break;
      case 'i8': d.setInt8(0, Number(v)); break;
      case 'u16': d.setUint16(0, Number(v), true); break;
      case 'i16': d.setInt16(0, Number(v), true); break;
      case 'u32': d.setUint32(0, Number(v), true); break;
      case 'i32': d.setInt32(0, Number(v), true); break;
      case 'f32': d.setFloat32(0, Number(v), true); break;
      case 'bool': d.setUint8(0, v ? 1 : 0); break;
      case 'u64': d.setBigUint64(0, BigInt(v), true); break;
      case 'i64': d.setBigInt64(0, BigInt(v), true); break;
      case 'f64': d.setFloat64(0, Number(v), true); break;
    }
    this.push(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export interface GgufTensorSpec {
  name: string;
  /** ggml order: ne[0] first (the input width of a weight). */
  shape: number[];
  /** ggml type (0 = F32, 1 = F16, 12 = Q4_K, …). */
  type?: number;
}

export interface GgufFile {
  bytes: Uint8Array;
  /** Offset where the tensor infos end (everything the reader may need). */
  headerEnd: number;
}

export function writeGguf(o: {
  version?: number;
  kv: [string, GgufEntry][];
  tensors?: GgufTensorSpec[];
  /** Override the counts written in the header (to make hostile files). */
  tensorCount?: bigint;
  kvCount?: bigint;
  /** Bytes of fake tensor data to append. */
  dataBytes?: number;
}): GgufFile {
  const w = new Bytes();
  w.push(new TextEncoder().encode('GGUF'));
  w.u32(o.version ?? 3);
  const tensors = o.tensors ?? [];
  w.u64(o.tensorCount ?? BigInt(tensors.length));
  w.u64(o.kvCount ?? BigInt(o.kv.length));
  for (const [key, entry] of o.kv) {
    w.str(key);
    if (entry.type === 'array') {
      w.u32(GGUF_TYPE.array);
      w.u32(GGUF_TYPE[entry.elementType]);
      w.u64(entry.values.length);
      for (const v of entry.values) w.scalar(entry.elementType, v);
    } else if (entry.type === 'stringArray') {
      w.u32(GGUF_TYPE.array);
      w.u32(GGUF_TYPE.string);
      w.u64(entry.count);
      for (let i = 0; i < entry.count; i++) w.str(entry.item(i));
    } else {
      w.u32(GGUF_TYPE[entry.type]);
      w.scalar(entry.type, entry.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(t.type ?? 0);
    w.u64(offset);
    offset += 32;
  }
  const headerEnd = w.length;
  const pad = (32 - (w.length % 32)) % 32;
  w.push(new Uint8Array(pad + (o.dataBytes ?? 64)));
  return { bytes: w.concat(), headerEnd };
}

/** A ByteSource over bytes that records every read, to check how much a reader touched. */
export function countingSource(bytes: Uint8Array, size = bytes.length): { source: ByteSource; stats: { calls: number; bytes: number; maxEnd: number; outOfRange: number } } {
  const stats = { calls: 0, bytes: 0, maxEnd: 0, outOfRange: 0 };
  const source: ByteSource = {
    size,
    read: async (offset, length) => {
      stats.calls++;
      if (offset < 0 || length < 0 || offset + length > size) stats.outOfRange++;
      const out = bytes.subarray(offset, Math.min(bytes.length, offset + length));
      stats.bytes += out.length;
      stats.maxEnd = Math.max(stats.maxEnd, offset + length);
      return out;
    },
  };
  return { source, stats };
}

/** The metadata of a Llama-style GGUF for given sizes (as llama.cpp's converter writes them, in its order). */
export function llamaGgufKv(s: {
  arch?: string;
  name: string;
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  context: number;
  vocab: number;
  eps: number;
  epsKey?: 'attention.layer_norm_rms_epsilon' | 'attention.layer_norm_epsilon';
  fileType?: number;
  tokens?: boolean;
}): [string, GgufEntry][] {
  const arch = s.arch ?? 'llama';
  const kv: [string, GgufEntry][] = [
    ['general.architecture', gv.str(arch)],
    ['general.name', gv.str(s.name)],
    [`${arch}.block_count`, gv.u32(s.layers)],
    [`${arch}.context_length`, gv.u32(s.context)],
    [`${arch}.embedding_length`, gv.u32(s.hidden)],
    [`${arch}.feed_forward_length`, gv.u32(s.ffn)],
    [`${arch}.attention.head_count`, gv.u32(s.heads)],
    [`${arch}.attention.head_count_kv`, gv.u32(s.kvHeads)],
    [`${arch}.rope.freq_base`, gv.f32(500000)],
    [`${arch}.${s.epsKey ?? 'attention.layer_norm_rms_epsilon'}`, gv.f32(s.eps)],
    ['general.file_type', gv.u32(s.fileType ?? 15)],
    [`${arch}.rope.dimension_count`, gv.u32(s.hidden / s.heads)],
    ['tokenizer.ggml.model', gv.str('gpt2')],
  ];
  if (s.tokens !== false) {
    kv.push(['tokenizer.ggml.tokens', gv.tokens(s.vocab)]);
    kv.push(['tokenizer.ggml.token_type', gv.arr('i32', Array.from({ length: Math.min(s.vocab, 4096) }, () => 1))]);
  } else {
    kv.push([`${arch}.vocab_size`, gv.u32(s.vocab)]);
  }
  kv.push(['tokenizer.ggml.bos_token_id', gv.u32(1)], ['general.quantization_version', gv.u32(2)]);
  return kv;
}

/** The tensor infos of a Llama-style GGUF (llama.cpp names, ggml dim order). */
export function llamaGgufTensors(s: { layers: number; hidden: number; ffn: number; heads: number; kvHeads: number; vocab: number; tied?: boolean }): GgufTensorSpec[] {
  const hd = s.hidden / s.heads;
  const t: GgufTensorSpec[] = [{ name: 'token_embd.weight', shape: [s.hidden, s.vocab] }];
  for (let i = 0; i < s.layers; i++) {
    t.push(
      { name: `blk.${i}.attn_norm.weight`, shape: [s.hidden] },
      { name: `blk.${i}.attn_q.weight`, shape: [s.hidden, s.heads * hd] },
      { name: `blk.${i}.attn_k.weight`, shape: [s.hidden, s.kvHeads * hd] },
      { name: `blk.${i}.attn_v.weight`, shape: [s.hidden, s.kvHeads * hd] },
      { name: `blk.${i}.attn_output.weight`, shape: [s.heads * hd, s.hidden] },
      { name: `blk.${i}.ffn_norm.weight`, shape: [s.hidden] },
      { name: `blk.${i}.ffn_gate.weight`, shape: [s.hidden, s.ffn] },
      { name: `blk.${i}.ffn_up.weight`, shape: [s.hidden, s.ffn] },
      { name: `blk.${i}.ffn_down.weight`, shape: [s.ffn, s.hidden] },
    );
  }
  t.push({ name: 'output_norm.weight', shape: [s.hidden] });
  if (!s.tied) t.push({ name: 'output.weight', shape: [s.hidden, s.vocab] });
  return t;
}
