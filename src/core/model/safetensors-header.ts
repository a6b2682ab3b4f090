/**
 * safetensors headers: an 8-byte little-endian length, then that many bytes of
 * JSON naming every tensor's dtype, shape and byte range. Only the header is
 * read. Used for the weights' dtype and element count (a cross-check of the
 * parameter count), and, for a lone .safetensors file, to infer a spec from
 * tensor shapes (safetensors-config.ts).
 */
import { InputError } from '../errors';
import { ownValue } from '../own';
import { boundedCount, type ByteSource } from './bytes';

/** Headers beyond this are not plausible (the format's reference implementation uses the same cap). */
export const SAFETENSORS_HEADER_CAP = 100_000_000;

/** Bounds on what one header may hold, checked while parsing, before anything past them is built. */
export const SAFETENSORS_LIMITS = {
  /**
   * Tensors in one header, and in all shards of a folder together: the largest real checkpoints hold
   * about 150,000; half a million cost about 370 MB to read, a 100 MB header of minimal entries could
   * name two million.
   */
  tensors: 500_000,
  /** Dimensions of one shape. */
  dims: 8,
  /** `__metadata__` entries. */
  metadata: 10_000,
} as const;

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  elements: number;
}

export interface SafetensorsHeader {
  tensors: SafetensorsTensor[];
  /** `__metadata__`, string to string, in file order. */
  metadata: Map<string, string>;
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
  return new HeaderParser(await readText(src, length, file), file, src.size - 8 - length, length).parse();
}

/** The header's bytes as text; the bytes themselves are not kept (a 100 MB header costs its text, not twice). */
async function readText(src: ByteSource, length: number, file: string): Promise<string> {
  const bytes = await src.read(8, length);
  if (bytes.length < length) throw new InputError(file, 'header', `${length} bytes of JSON header`, `a short read of ${bytes.length}`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(file, 'header', 'UTF-8 JSON', 'bytes that are not UTF-8');
  }
}

// JSON characters the parser looks at.
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, MINUS = 0x2d;
const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
const DIGIT_0 = 0x30, DIGIT_9 = 0x39;

/**
 * A validating parser of the header's JSON text: the top level must be an object
 * whose values are tensor records {dtype, shape, data_offsets} (or `__metadata__`, strings to
 * strings). Anything else is refused at the first entry that is not one, before the rest is read, so
 * no nesting beyond a record's own is ever followed and nothing is built that would be refused.
 * One pass, linear in the header, no recursion.
 */
class HeaderParser {
  private i = 0;
  private readonly tensors: SafetensorsTensor[] = [];
  private readonly names = new Set<string>();
  private readonly metadata = new Map<string, string>();

  constructor(
    private readonly t: string,
    private readonly file: string,
    private readonly dataBytes: number,
    private readonly headerBytes: number,
  ) {}

  /** The character code at `i`, or NaN past the end. */
  private at(i: number): number {
    return this.t.charCodeAt(i);
  }

  parse(): SafetensorsHeader {
    this.ws();
    if (this.at(this.i) !== OPEN_BRACE) throw new InputError(this.file, 'header', 'a JSON object', this.found());
    this.i++;
    this.ws();
    if (this.at(this.i) === CLOSE_BRACE) this.i++;
    else {
      for (;;) {
        this.ws();
        const name = this.string('header', 'a tensor name (a JSON string)');
        this.ws();
        this.expect(COLON, 'header', () => `":" after the name ${JSON.stringify(clip(name))}`);
        this.ws();
        if (name === '__metadata__') this.metadataEntries();
        else this.tensor(name);
        this.ws();
        // The separator is looked at before it is passed, so that an error names its own position.
        const c = this.at(this.i);
        if (c !== COMMA && c !== CLOSE_BRACE) this.fail('header', `"," or "}" after the entry ${JSON.stringify(clip(name))}`);
        this.i++;
        if (c === CLOSE_BRACE) break;
      }
    }
    this.ws(); // the format pads the header with spaces
    if (this.i < this.t.length) this.fail('header', 'nothing after the JSON object');
    return { tensors: this.tensors, metadata: this.metadata, headerBytes: this.headerBytes };
  }

  private tensor(name: string): void {
    // Built only for a message: most headers hold no error and many tensors.
    const at = (): string => `header[${JSON.stringify(clip(name))}]`;
    if (this.tensors.length >= SAFETENSORS_LIMITS.tensors) {
      throw new InputError(this.file, at(), `at most ${SAFETENSORS_LIMITS.tensors.toLocaleString('en')} tensors in one header`, 'more', 'limit');
    }
    if (this.names.has(name)) this.fail(at(), 'each tensor named once', 'a second entry of that name');
    if (this.at(this.i) !== OPEN_BRACE) throw new InputError(this.file, at(), 'a tensor entry {dtype, shape, data_offsets}', this.found());
    this.i++;
    let dtype: string | undefined;
    let shape: number[] | undefined;
    let offsets: number[] | undefined;
    this.ws();
    if (this.at(this.i) === CLOSE_BRACE) this.i++;
    else {
      for (;;) {
        this.ws();
        const key = this.string(at, 'a field name of the tensor entry');
        this.ws();
        this.expect(COLON, at, () => `":" after ${JSON.stringify(clip(key))}`);
        this.ws();
        if (key === 'dtype') {
          if (this.at(this.i) !== QUOTE) throw new InputError(this.file, `${at()}.dtype`, 'a dtype name such as "BF16"', this.found());
          dtype = this.string(() => `${at()}.dtype`, 'a dtype name such as "BF16"');
        } else if (key === 'shape') shape = this.integers(() => `${at()}.shape`, 'a list of non-negative integers', SAFETENSORS_LIMITS.dims);
        else if (key === 'data_offsets') offsets = this.integers(() => `${at()}.data_offsets`, `[begin, end] within the ${this.dataBytes} data bytes`, 2);
        else this.scalar(() => `${at()}.${clip(key)}`);
        this.ws();
        const c = this.at(this.i);
        if (c !== COMMA && c !== CLOSE_BRACE) this.fail(at(), '"," or "}" inside the tensor entry');
        this.i++;
        if (c === CLOSE_BRACE) break;
      }
    }
    if (dtype === undefined) throw new InputError(this.file, `${at()}.dtype`, 'a dtype name such as "BF16"', 'nothing');
    if (shape === undefined) throw new InputError(this.file, `${at()}.shape`, 'a list of non-negative integers', 'nothing');
    if (offsets === undefined || offsets.length !== 2 || offsets[0]! > offsets[1]! || offsets[1]! > this.dataBytes) {
      throw new InputError(this.file, `${at()}.data_offsets`, `[begin, end] within the ${this.dataBytes} data bytes`, offsets ? `[${offsets.join(', ')}]` : 'nothing');
    }
    // An empty tensor (a 0 anywhere) has 0 elements, however large the other dimensions.
    let elements = shape.includes(0) ? 0 : 1;
    for (const d of elements === 0 ? [] : shape) {
      elements *= d;
      if (!Number.isSafeInteger(elements)) {
        throw new InputError(this.file, `${at()}.shape`, `dimensions whose product (the element count) is at most ${Number.MAX_SAFE_INTEGER}`, `[${shape.join(', ')}]`);
      }
    }
    this.names.add(name);
    this.tensors.push({ name, dtype, shape, elements });
  }

  private metadataEntries(): void {
    const at = 'header["__metadata__"]';
    if (this.at(this.i) !== OPEN_BRACE) throw new InputError(this.file, at, 'an object of strings', this.found());
    this.i++;
    this.ws();
    if (this.at(this.i) === CLOSE_BRACE) {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string(at, 'a metadata key (a JSON string)');
      this.ws();
      this.expect(COLON, at, `":" after ${JSON.stringify(clip(key))}`);
      this.ws();
      const field = `${at}[${JSON.stringify(clip(key))}]`;
      if (this.at(this.i) !== QUOTE) throw new InputError(this.file, field, 'a string', this.found());
      const value = this.string(field, 'a string');
      if (!this.metadata.has(key) && this.metadata.size >= SAFETENSORS_LIMITS.metadata) {
        throw new InputError(this.file, at, `at most ${SAFETENSORS_LIMITS.metadata.toLocaleString('en')} entries`, 'more', 'limit');
      }
      this.metadata.set(key, value);
      this.ws();
      const c = this.at(this.i);
      if (c !== COMMA && c !== CLOSE_BRACE) this.fail(at, '"," or "}" inside __metadata__');
      this.i++;
      if (c === CLOSE_BRACE) return;
    }
  }

  /** `[n, n, …]` of non-negative safe integers, at most `max` of them. */
  private integers(field: Field, expected: string, max: number): number[] {
    if (this.at(this.i) !== OPEN_BRACKET) throw new InputError(this.file, fieldText(field), expected, this.found());
    this.i++;
    const out: number[] = [];
    this.ws();
    if (this.at(this.i) === CLOSE_BRACKET) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (out.length >= max) throw new InputError(this.file, fieldText(field), `${expected}, at most ${max} of them`, 'more');
      out.push(this.integer(field, expected));
      this.ws();
      const c = this.at(this.i);
      if (c !== COMMA && c !== CLOSE_BRACKET) this.fail(field, expected);
      this.i++;
      if (c === CLOSE_BRACKET) return out;
    }
  }

  /** A JSON number that is a non-negative safe integer, written as one (no sign, fraction or exponent). */
  private integer(field: Field, expected: string): number {
    const start = this.i;
    while (this.i < this.t.length && this.at(this.i) >= DIGIT_0 && this.at(this.i) <= DIGIT_9) this.i++;
    const c = this.at(this.i);
    const digits = this.i - start;
    if (digits === 0 || digits > 16 || c === 0x2e || c === 0x65 || c === 0x45 || (digits > 1 && this.at(start) === DIGIT_0)) {
      this.i = start;
      throw new InputError(this.file, fieldText(field), expected, this.found());
    }
    const n = Number(this.t.slice(start, this.i));
    if (!Number.isSafeInteger(n)) throw new InputError(this.file, fieldText(field), expected, String(n));
    return n;
  }

  /** Skips one string, number, true, false or null (a tensor entry's unknown field); refuses arrays and objects. */
  private scalar(field: Field): void {
    const c = this.at(this.i);
    if (c === QUOTE) {
      this.string(field, 'a string');
      return;
    }
    const start = this.i;
    // 64 characters hold any number or literal; a longer run is refused without being copied.
    while (this.i < this.t.length && this.i - start <= 64 && /[-+.0-9a-zA-Z]/.test(String.fromCharCode(this.at(this.i)))) this.i++;
    const word = this.t.slice(start, this.i);
    if (word === '' || !(word === 'true' || word === 'false' || word === 'null' || /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(word))) {
      this.i = start;
      throw new InputError(this.file, fieldText(field), 'a string, number, true, false or null (an unknown field of a tensor entry)', this.found());
    }
  }

  /** A JSON string at the cursor, decoded (escapes included). */
  private string(field: Field, expected: string): string {
    if (this.at(this.i) !== QUOTE) throw new InputError(this.file, fieldText(field), expected, this.found());
    const start = ++this.i;
    let escaped = false;
    for (;;) {
      const c = this.at(this.i);
      if (Number.isNaN(c)) this.fail(field, 'a closing quote', 'the end of the header');
      if (c === QUOTE) break;
      if (c < 0x20) this.fail(field, 'a JSON string (no raw control characters)');
      if (c === BACKSLASH) {
        escaped = true;
        this.i += 2;
      } else this.i++;
    }
    const raw = this.t.slice(start, this.i);
    this.i++;
    if (!escaped) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return this.fail(field, 'a JSON string with valid escapes');
    }
  }

  private ws(): void {
    const t = this.t;
    while (this.i < t.length) {
      const c = t.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.i++;
    }
  }

  private expect(c: number, field: Field, expected: Field): void {
    if (this.at(this.i) !== c) this.fail(field, fieldText(expected));
    this.i++;
  }

  /** What is at the cursor, for an error: the kind of JSON value, never its (possibly huge) text. */
  private found(): string {
    const c = this.at(this.i);
    if (Number.isNaN(c)) return 'the end of the header';
    if (c === OPEN_BRACE) return 'an object';
    if (c === OPEN_BRACKET) return 'an array';
    if (c === QUOTE) return 'a string';
    if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      let end = this.i + 1;
      while (end < this.t.length && end - this.i < 24 && /[-+.0-9eE]/.test(String.fromCharCode(this.at(end)))) end++;
      return this.t.slice(this.i, end);
    }
    if (c === 0x74 || c === 0x66 || c === 0x6e) return 'true, false or null';
    return `${JSON.stringify(this.t[this.i])} at character ${this.i} of the header`;
  }

  private fail(field: Field, expected: string, found = `invalid JSON at character ${this.i} of the header`): never {
    throw new InputError(this.file, fieldText(field), expected, found);
  }
}

/** A field name, or a function that builds it: messages name fields, but only an error needs the text. */
type Field = string | (() => string);

function fieldText(field: Field): string {
  return typeof field === 'string' ? field : field();
}

/** Names in messages are cut short: a name may be megabytes long. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
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
  return ownValue(DTYPE_NAMES, dtype) ?? dtype.toLowerCase();
}
