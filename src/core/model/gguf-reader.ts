/**
 * A bounded GGUF reader (versions 2 and 3, little-endian). It reads the header,
 * the metadata key/values and, on request, the tensor infos; never tensor data.
 * Every count and length is checked against the bytes left in the file and a
 * sane cap before anything is allocated, so a hostile header costs an
 * InputError, not a hang. Large arrays (token lists) are never materialised:
 * fixed-width ones are skipped by seeking, string ones are walked in chunks, or,
 * in the cheap mode, reading stops there once the architecture keys are known.
 *
 * Layout (all little-endian): magic "GGUF", u32 version, u64 tensor_count,
 * u64 metadata_kv_count, then kv pairs (u64-length string key, u32 type, value);
 * a string is a u64 length + UTF-8 bytes; an array is u32 element type + u64
 * count + elements. Tensor infos follow: name, u32 n_dims, u64 dims[n_dims],
 * u32 ggml type, u64 offset.
 */
import { InputError } from '../errors';
import { ownValue } from '../own';
import { Cursor, boundedCount, type ByteSource } from './bytes';

export const GGUF_LIMITS = {
  kvCount: 100_000,
  /** Real files hold a few thousand (experts are stacked per layer); each costs memory to list. */
  tensorCount: 500_000,
  keyLength: 65_535,
  stringLength: 16 * 1024 * 1024,
  arrayCount: 50_000_000,
  /** Arrays of numbers up to this many elements are kept (per-layer values); longer ones are only counted. */
  keptArray: 4096,
  /** Arrays of strings up to this many are kept (the viewer shows 8 inline); longer ones are only counted. */
  keptStrings: 64,
  /** Strings up to this many bytes are kept whole; longer ones as their first bytes and their length. */
  keptString: 4096,
  dims: 8,
  nesting: 4,
} as const;

const TYPE_NAMES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'] as const;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

export type GgufScalar = number | boolean | string;
/** An array too long to keep (or of arrays): its element type, count and size only. */
export interface GgufLongArray {
  longArray: true;
  elementType: string;
  count: number;
  /** Bytes the array takes in the file, when it was walked (not when the cheap mode stopped at it). */
  bytes?: number;
}
/** A string longer than GGUF_LIMITS.keptString bytes (a chat template): its first characters and its size. */
export interface GgufLongString {
  longString: true;
  head: string;
  bytes: number;
}
export type GgufValue = GgufScalar | GgufScalar[] | GgufLongArray | GgufLongString;

export interface GgufTensorInfo {
  name: string;
  shape: number[];
  type: number;
}

export interface GgufHeader {
  version: number;
  tensorCount: number;
  kvCount: number;
  metadata: Map<string, GgufValue>;
  /** False when the cheap mode stopped at a long string array after the architecture keys. */
  complete: boolean;
  /** Tensor infos (names and shapes), when asked for and reached. */
  tensors: GgufTensorInfo[] | null;
}

export interface GgufReadOptions {
  /**
   * Walk the whole metadata (string arrays included) to read the tensor infos:
   * needed to tell tied embeddings and to count the weights. Costs about the
   * metadata's size in reads (a few MB with a vocabulary), never tensor data.
   * Without it, reading stops at the first long string array once
   * general.architecture and {arch}.block_count are known: a few KB.
   */
  tensors?: boolean;
}

export function isLongArray(v: GgufValue | undefined): v is GgufLongArray {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'longArray' in v;
}

export function isLongString(v: GgufValue | undefined): v is GgufLongString {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'longString' in v;
}

export async function readGgufHeader(src: ByteSource, file: string, opts: GgufReadOptions = {}): Promise<GgufHeader> {
  const cur = new Cursor(src, file);
  if (src.size < 4) throw new InputError(file, 'header.magic', 'the GGUF magic "GGUF"', `a ${src.size}-byte file`);
  const magic = await cur.bytes(4, 'header.magic', 'the GGUF magic');
  if (String.fromCharCode(magic[0]!, magic[1]!, magic[2]!, magic[3]!) !== 'GGUF') {
    throw new InputError(file, 'header.magic', 'the GGUF magic "GGUF" (47 47 55 46)', hex(magic));
  }
  const version = await cur.u32('header.version');
  if (version !== 2 && version !== 3) {
    const bigEndian = version > 0xffff && [2, 3].includes(((version >>> 24) & 0xff) | ((version >>> 8) & 0xff00));
    throw new InputError(file, 'header.version', 'GGUF version 2 or 3, little-endian', bigEndian ? 'a big-endian GGUF file' : String(version));
  }
  // A tensor info takes at least 24 bytes and a kv pair at least 13: counts beyond that cannot fit.
  const tensorCount = boundedCount(file, 'header.tensor_count', await cur.u64('header.tensor_count'), Math.min(GGUF_LIMITS.tensorCount, Math.floor(cur.remaining / 24)), 'a tensor count that fits the file,');
  const kvCount = boundedCount(file, 'header.metadata_kv_count', await cur.u64('header.metadata_kv_count'), Math.min(GGUF_LIMITS.kvCount, Math.floor(cur.remaining / 13)), 'a key/value count that fits the file,');

  const metadata = new Map<string, GgufValue>();
  let complete = true;
  for (let i = 0; i < kvCount; i++) {
    const at = `metadata[${i}]`;
    const keyLength = boundedCount(file, `${at}.key length`, await cur.u64(`${at}.key length`), Math.min(GGUF_LIMITS.keyLength, cur.remaining), 'a key length');
    const key = decode(await cur.bytes(keyLength, `${at}.key`, 'the key'), file, `${at}.key`);
    const field = `${at} (${key})`;
    const type = await cur.u32(`${field}.value type`);
    if (!opts.tensors && type === ARRAY && readyToStop(metadata)) {
      // Cheap mode: a long string array after the architecture keys is the tokenizer; count it and stop.
      const peek = await peekArray(cur, field);
      if (peek.elementType === STRING && peek.count > GGUF_LIMITS.keptArray) {
        metadata.set(key, { longArray: true, elementType: 'string', count: peek.count });
        complete = false;
        break;
      }
      metadata.set(key, await readArrayBody(cur, field, peek.elementType, peek.count, 1));
      continue;
    }
    metadata.set(key, await readValue(cur, field, type));
  }

  const tensors = opts.tensors && complete ? await readTensorInfos(cur, tensorCount) : null;
  return { version, tensorCount, kvCount, metadata, complete, tensors };
}

/** The tensor infos, read from buffered bytes a megabyte at a time (no read or await per tensor). */
async function readTensorInfos(cur: Cursor, count: number): Promise<GgufTensorInfo[]> {
  const out: GgufTensorInfo[] = [];
  let want = 0;
  while (out.length < count) {
    const before = out.length;
    let p = cur.pos;
    while (out.length < count) {
      const read = tensorInfoAt(cur, p, out.length);
      if (read === null) break;
      out.push(read.info);
      p = read.end;
    }
    cur.seek(p, `tensor_info[${out.length}]`, 'the tensor infos');
    if (out.length === count) break;
    // As in skipElements: read on from the next info, twice as much when one info alone outgrew the buffer.
    want = out.length === before && cur.bufferEnd > cur.pos ? Math.max(want * 2, cur.bufferEnd - cur.pos + 1) : 0;
    await cur.fill(want, `tensor_info[${out.length}]`, 'a tensor info');
  }
  return out;
}

/** Tensor info `i` at `at` and where it ends, from buffered bytes alone; null when part of it is not buffered. */
function tensorInfoAt(cur: Cursor, at: number, i: number): { info: GgufTensorInfo; end: number } | null {
  const field = `tensor_info[${i}]`;
  within(cur, at, 8, `${field}.name length`);
  const nameLength = cur.u64At(at);
  if (nameLength === null) return null;
  const length = boundedCount(cur.file, `${field}.name length`, nameLength, Math.min(GGUF_LIMITS.keyLength, cur.size - at - 8), 'a name length');
  within(cur, at + 8, length + 4, `${field}.name`);
  const nameBytes = cur.bytesAt(at + 8, length);
  const nDims = cur.u32At(at + 8 + length);
  if (nameBytes === null || nDims === null) return null;
  const name = decode(nameBytes, cur.file, `${field}.name`);
  if (nDims > GGUF_LIMITS.dims) throw new InputError(cur.file, `${field} (${name}).n_dims`, `at most ${GGUF_LIMITS.dims} dimensions`, String(nDims));
  let p = at + 8 + length + 4;
  within(cur, p, 8 * nDims + 12, `${field} (${name}).dims`);
  const shape: number[] = [];
  for (let d = 0; d < nDims; d++, p += 8) {
    const dim = cur.u64At(p);
    if (dim === null) return null;
    shape.push(boundedCount(cur.file, `${field} (${name}).dims[${d}]`, dim, Number.MAX_SAFE_INTEGER, 'a dimension'));
  }
  if (!Number.isSafeInteger(product(shape))) {
    throw new InputError(cur.file, `${field} (${name}).dims`, `dimensions whose product (the element count) is at most ${Number.MAX_SAFE_INTEGER}`, `[${shape.join(', ')}]`);
  }
  const type = cur.u32At(p);
  if (type === null || cur.u64At(p + 4) === null) return null; // the offset, unused: tensor data is never read
  return { info: { name, shape, type }, end: p + 12 };
}

/** Elements of a shape (1 for a scalar; 0 for an empty tensor, however large its other dimensions). */
export function product(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function readyToStop(metadata: Map<string, GgufValue>): boolean {
  const arch = metadata.get('general.architecture');
  return typeof arch === 'string' && metadata.has(`${arch}.block_count`);
}

function isValueType(type: number): boolean {
  return Number.isInteger(type) && type >= 0 && type <= 12;
}

/** The fewest bytes one element of `type` takes: a count beyond remaining / this cannot fit. */
function minSize(type: number): number {
  return ownValue(FIXED_SIZE, type) ?? (type === STRING ? 8 : 12);
}

async function peekArray(cur: Cursor, field: string): Promise<{ elementType: number; count: number }> {
  const elementType = await cur.u32(`${field}.array element type`);
  if (!isValueType(elementType)) {
    throw new InputError(cur.file, `${field}.array element type`, 'a GGUF value type 0–12', String(elementType));
  }
  const count = boundedCount(cur.file, `${field}.array count`, await cur.u64(`${field}.array count`), Math.min(GGUF_LIMITS.arrayCount, Math.floor(cur.remaining / minSize(elementType))), `an element count that fits the file (${TYPE_NAMES[elementType]} elements),`);
  return { elementType, count };
}

async function readValue(cur: Cursor, field: string, type: number): Promise<GgufValue> {
  if (type === STRING) return readString(cur, field);
  if (type === ARRAY) {
    const { elementType, count } = await peekArray(cur, field);
    return readArrayBody(cur, field, elementType, count, 1);
  }
  const size = ownValue(FIXED_SIZE, type);
  if (size === undefined) throw new InputError(cur.file, `${field}.value type`, 'a GGUF value type 0–12', String(type));
  const b = await cur.bytes(size, `${field}.value`, `a ${TYPE_NAMES[type]}`);
  return fixedValue(new DataView(b.buffer, b.byteOffset, size), 0, type);
}

/** One fixed-size value of `type` at `at` in `v`. */
function fixedValue(v: DataView, at: number, type: number): number | boolean {
  switch (type) {
    case 0: return v.getUint8(at);
    case 1: return v.getInt8(at);
    case 2: return v.getUint16(at, true);
    case 3: return v.getInt16(at, true);
    case 4: return v.getUint32(at, true);
    case 5: return v.getInt32(at, true);
    case 6: return shortestFloat32(v.getFloat32(at, true));
    case 7: return v.getUint8(at) !== 0;
    case 10: return Number(v.getBigUint64(at, true));
    case 11: return Number(v.getBigInt64(at, true));
    default: return v.getFloat64(at, true);
  }
}

/** A string: whole up to keptString bytes, else its first bytes and its length (the rest skipped unread). */
async function readString(cur: Cursor, field: string): Promise<string | GgufLongString> {
  const length = boundedCount(cur.file, `${field} string length`, await cur.u64(`${field} string length`), Math.min(GGUF_LIMITS.stringLength, cur.remaining), 'a string length within the file,');
  if (length <= GGUF_LIMITS.keptString) return decode(await cur.bytes(length, `${field} string`, 'the string'), cur.file, field);
  const head = new TextDecoder('utf-8').decode(await cur.bytes(GGUF_LIMITS.keptString, `${field} string`, 'the string'));
  cur.skip(length - GGUF_LIMITS.keptString, `${field} string`, 'the string');
  // A cut through a multi-byte character decodes as U+FFFD: drop it.
  return { longString: true, head: head.replace(/\uFFFD+$/, ''), bytes: length };
}

/**
 * An array's elements. Kept: up to keptArray fixed-size values (read in one piece, decoded without a
 * read per element) or up to keptStrings strings. Anything longer, and arrays of arrays, is skipped
 * by length and summarised as its type, count and size.
 */
async function readArrayBody(cur: Cursor, field: string, elementType: number, count: number, depth: number): Promise<GgufValue> {
  const size = ownValue(FIXED_SIZE, elementType);
  if (size !== undefined && count <= GGUF_LIMITS.keptArray) {
    const b = await cur.bytes(size * count, `${field}.array data`, `${count} ${TYPE_NAMES[elementType]} elements`);
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    const out: GgufScalar[] = [];
    for (let j = 0; j < count; j++) out.push(fixedValue(v, j * size, elementType));
    return out;
  }
  if (elementType === STRING && count <= GGUF_LIMITS.keptStrings) {
    const out: GgufScalar[] = [];
    for (let j = 0; j < count; j++) {
      const s = await readString(cur, `${field}[${j}]`);
      out.push(typeof s === 'string' ? s : `${s.head}…`);
    }
    return out;
  }
  const start = cur.pos;
  await skipElements(cur, field, elementType, count, depth);
  return { longArray: true, elementType: TYPE_NAMES[elementType] ?? String(elementType), count, bytes: cur.pos - start };
}

/**
 * Skips `count` elements of `type` by their lengths. Fixed-size ones in one step (count × size);
 * strings and arrays by walking their lengths in the buffered bytes, a megabyte at a time, with no
 * read or await per element.
 */
async function skipElements(cur: Cursor, field: string, type: number, count: number, depth: number): Promise<void> {
  const size = ownValue(FIXED_SIZE, type);
  if (size !== undefined) {
    cur.skip(size * count, `${field}.array data`, `${count} ${TYPE_NAMES[type]} elements`);
    return;
  }
  let left = count;
  let want = 0;
  while (left > 0) {
    let p = cur.pos;
    let done = 0;
    for (; done < left; done++) {
      const end = endOfValue(cur, p, type, depth, field);
      if (end === null) break;
      p = end;
    }
    cur.seek(p, `${field}.array data`, 'the array elements');
    left -= done;
    if (left === 0) break;
    // The next element's lengths are not buffered: read on from it (twice as much when one element alone outgrew the buffer).
    want = done === 0 && cur.bufferEnd > cur.pos ? Math.max(want * 2, cur.bufferEnd - cur.pos + 1) : 0;
    await cur.fill(want, `${field}.array data`, 'the array elements');
  }
}

/** Throws unless `n` bytes at `at` lie within the file (else a walk over buffered bytes would wait for them forever). */
function within(cur: Cursor, at: number, n: number, field: string): void {
  if (at + n > cur.size) throw new InputError(cur.file, field, `${n} bytes at offset ${at} within the file`, `the file ends at ${cur.size}: truncated or corrupt`);
}

/** Where the value of `type` at `at` ends, from buffered bytes alone; null when a length it needs is not buffered. */
function endOfValue(cur: Cursor, at: number, type: number, depth: number, field: string): number | null {
  const size = ownValue(FIXED_SIZE, type);
  let end: number;
  if (size !== undefined) end = at + size;
  else if (type === STRING) {
    within(cur, at, 8, `${field} element at offset ${at}`);
    const length = cur.u64At(at);
    if (length === null) return null;
    if (length > BigInt(GGUF_LIMITS.stringLength)) {
      throw new InputError(cur.file, `${field} element at offset ${at}`, `a string length no larger than ${GGUF_LIMITS.stringLength.toLocaleString('en')}`, length.toLocaleString('en'));
    }
    end = at + 8 + Number(length);
  } else if (type === ARRAY) {
    if (depth >= GGUF_LIMITS.nesting) throw new InputError(cur.file, field, `arrays nested at most ${GGUF_LIMITS.nesting} deep`);
    within(cur, at, 12, `${field} element at offset ${at}`);
    const elementType = cur.u32At(at);
    const count = cur.u64At(at + 4);
    if (elementType === null || count === null) return null;
    if (!isValueType(elementType)) throw new InputError(cur.file, `${field} element at offset ${at}`, 'a GGUF value type 0–12', String(elementType));
    if (count > BigInt(Math.floor((cur.size - at - 12) / minSize(elementType)))) {
      throw new InputError(cur.file, `${field} element at offset ${at}`, 'an element count that fits the file', count.toLocaleString('en'));
    }
    end = at + 12;
    const inner = ownValue(FIXED_SIZE, elementType);
    if (inner !== undefined) end += inner * Number(count);
    else {
      for (let j = 0; j < Number(count); j++) {
        const next = endOfValue(cur, end, elementType, depth + 1, field);
        if (next === null) return null;
        end = next;
      }
    }
  } else throw new InputError(cur.file, `${field} element at offset ${at}`, 'a GGUF value type 0–12', String(type));
  if (end > cur.size) throw new InputError(cur.file, `${field} element at offset ${at}`, 'an element within the file', `one ending at ${end}, past the end (${cur.size} bytes): truncated or corrupt`);
  return end;
}

/** The shortest decimal that is the same float32 (1e-5, not 0.000009999999747378752). */
function shortestFloat32(f: number): number {
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}

function decode(bytes: Uint8Array, file: string, field: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(file, field, 'UTF-8 text', 'bytes that are not UTF-8');
  }
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}
