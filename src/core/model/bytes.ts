/**
 * Random-access reads of a (possibly huge) model file. Readers see only this
 * interface, so tests can count the bytes read and the extension can read from
 * any backing store. `read` may return fewer bytes than asked only at the end
 * of the file; readers treat a short read as truncation.
 */
import { InputError } from '../errors';

export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** An in-memory source (tests, small files, the webview). */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}

const MAX_CHUNK = 1 << 20;

/**
 * A forward cursor over a ByteSource that reads in growing chunks (4 KiB up to
 * 1 MiB) so that a header costs a few KB and a long metadata walk costs few
 * calls. Every read and skip is checked against the file size first.
 */
export class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  /** A view of `buf` for u32At/u64At, made on first use after each refill. */
  private view: DataView | null = null;
  private chunk = 4096;

  constructor(
    private readonly src: ByteSource,
    readonly file: string,
  ) {}

  get size(): number {
    return this.src.size;
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Throws unless `n` more bytes exist; `field` and `what` name them in the error. */
  check(n: number, field: string, what: string): void {
    if (n > this.remaining) {
      throw new InputError(this.file, field, `${what} (${n} bytes) within the file`, `only ${Math.max(0, this.remaining)} bytes left at offset ${this.pos}: truncated or corrupt`);
    }
  }

  /** The next `n` bytes (a view into the chunk buffer), advancing the cursor. */
  async bytes(n: number, field: string, what: string): Promise<Uint8Array> {
    this.check(n, field, what);
    const end = this.pos + n;
    if (this.pos < this.bufStart || end > this.bufStart + this.buf.length) {
      const length = Math.min(Math.max(n, this.chunk), this.src.size - this.pos);
      const data = await this.src.read(this.pos, length);
      if (data.length < n) {
        throw new InputError(this.file, field, `${what} (${n} bytes)`, `a short read at offset ${this.pos}: the file ended early`);
      }
      this.buf = data;
      this.bufStart = this.pos;
      this.view = null;
      this.chunk = Math.min(this.chunk * 2, MAX_CHUNK);
    }
    const out = this.buf.subarray(this.pos - this.bufStart, end - this.bufStart);
    this.pos = end;
    return out;
  }

  /** Moves past `n` bytes without reading them (beyond what is already buffered). */
  skip(n: number, field: string, what: string): void {
    this.check(n, field, what);
    this.pos += n;
  }

  /**
   * Refills the buffer from the cursor with at least `min` bytes (fewer only at the end of the file), so
   * that a walk over many small values runs on buffered bytes (u32At, u64At) instead of one read each.
   */
  async fill(min: number, field: string, what: string): Promise<void> {
    const length = Math.min(Math.max(min, this.chunk), this.src.size - this.pos);
    const data = await this.src.read(this.pos, length);
    if (data.length < length) throw new InputError(this.file, field, `${what} (${length} bytes)`, `a short read at offset ${this.pos}: the file ended early`);
    this.buf = data;
    this.bufStart = this.pos;
    this.view = null;
    this.chunk = Math.min(this.chunk * 2, MAX_CHUNK);
  }

  /** The buffered bytes end here (an absolute offset). */
  get bufferEnd(): number {
    return this.bufStart + this.buf.length;
  }

  /** The u32 at absolute offset `at` when it is buffered, else null (the caller fills and retries). */
  u32At(at: number): number | null {
    if (at < this.bufStart || at + 4 > this.bufferEnd) return null;
    return this.dataView().getUint32(at - this.bufStart, true);
  }

  /** The u64 at absolute offset `at` when it is buffered, else null. */
  u64At(at: number): bigint | null {
    if (at < this.bufStart || at + 8 > this.bufferEnd) return null;
    return this.dataView().getBigUint64(at - this.bufStart, true);
  }

  /** The `n` bytes at absolute offset `at` when they are buffered, else null. */
  bytesAt(at: number, n: number): Uint8Array | null {
    if (at < this.bufStart || at + n > this.bufferEnd) return null;
    return this.buf.subarray(at - this.bufStart, at - this.bufStart + n);
  }

  /** Moves the cursor to absolute offset `to`, within the file. */
  seek(to: number, field: string, what: string): void {
    this.skip(to - this.pos, field, what);
  }

  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length));
  }

  async u32(field: string): Promise<number> {
    const b = await this.bytes(4, field, 'a 32-bit integer');
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  async u64(field: string): Promise<bigint> {
    const b = await this.bytes(8, field, 'a 64-bit integer');
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }
}

/** A 64-bit length or count checked against a cap before it becomes a number. */
export function boundedCount(file: string, field: string, value: bigint, max: number, what: string): number {
  if (value > BigInt(max)) {
    throw new InputError(file, field, `${what} no larger than ${max.toLocaleString('en')}`, value.toLocaleString('en'));
  }
  return Number(value);
}
