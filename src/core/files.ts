/**
 * The file edge: every file the core reads goes through here (model configs, GGUF and safetensors
 * headers, index files, hardware profiles, for the CLI and the extension alike). Model files come from
 * the internet, so each read
 *  - opens the path without blocking (a FIFO would otherwise wait for a writer forever) and refuses
 *    anything but a regular file: folders, devices (/dev/zero), pipes and sockets, named in the error;
 *  - caps the bytes it reads *while reading*, never trusting a reported size (devices and pipes report
 *    0, and a file may grow), and names the file and the cap when it refuses.
 * The caps per kind of file are the table below; one read loop serves them all.
 *
 * This module and model/load.ts are the only core files that use Node; tsconfig.core.json leaves both
 * out of the pure-core check.
 */
import { constants } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { InputError } from './errors';
import { parseHardwareProfile } from './hardware/profile-file';
import type { HardwareProfile } from './hardware/profile';
import { parseLenientJson } from './json';
import type { ByteSource } from './model/bytes';

const MiB = 1024 * 1024;

/**
 * What each kind of file is, and the most bytes read from one. Whole-file kinds (JSON) are read
 * entirely; header kinds (GGUF, safetensors) are read in pieces and the cap is on their sum, whatever
 * the file's size (a 100 GB GGUF costs a few KB).
 */
export const FILE_CAPS = {
  /** A Hugging Face config.json: real ones are 1–100 KB. */
  config: { bytes: 16 * MiB, what: 'a model config (JSON)' },
  /** model.safetensors.index.json: a weight map of a few thousand names, well under 1 MB. */
  index: { bytes: 16 * MiB, what: 'a safetensors index (JSON)' },
  /** A *.hardware.json profile: a few KB. */
  hardware: { bytes: 1 * MiB, what: 'a hardware profile (JSON)' },
  /** A harness's measurements (deferred-norm measure): a few hundred entries, tens of KB. */
  measurements: { bytes: 16 * MiB, what: 'a measurements file (JSON)' },
  /** GGUF metadata and tensor list (the vocabulary is walked, never tensor data): a few MB. */
  gguf: { bytes: 64 * MiB, what: 'GGUF metadata' },
  /**
   * A safetensors JSON header: well under 1 MB per shard, but the format allows 100 MB (its reference
   * reader's cap) and the streaming parse reads that in linear time: 100 MB and the 8-byte length.
   */
  safetensors: { bytes: 100_000_008, what: 'a safetensors header' },
} as const satisfies Record<string, { bytes: number; what: string }>;

export type FileKind = keyof typeof FILE_CAPS;

/** Caps may be lowered (never raised) by callers and tests; the default is the table's. */
export interface ReadLimits {
  maxBytes?: number;
}

function capOf(kind: FileKind, limits?: ReadLimits): number {
  const cap = FILE_CAPS[kind].bytes;
  return limits?.maxBytes === undefined ? cap : Math.min(cap, limits.maxBytes);
}

function sizeText(bytes: number): string {
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes.toLocaleString('en')} bytes`;
}

function tooLarge(path: string, kind: FileKind, cap: number): InputError {
  return new InputError(path, '', `${FILE_CAPS[kind].what} of at most ${sizeText(cap)}`, `more: reading stopped at ${sizeText(cap)}`, 'limit');
}

export type PathKind = 'file' | 'folder' | 'missing' | 'device' | 'pipe' | 'socket' | 'other';

function kindOfStats(s: { isFile(): boolean; isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): PathKind {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'folder';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'device';
  if (s.isFIFO()) return 'pipe';
  if (s.isSocket()) return 'socket';
  return 'other';
}

const FOUND: Record<PathKind, string> = {
  file: 'a file',
  folder: 'a folder',
  missing: 'nothing (no such file)',
  device: 'a device',
  pipe: 'a pipe',
  socket: 'a socket',
  other: 'something that is not a regular file',
};

/** What is at a path (symbolic links followed), without opening it. */
export async function pathKind(path: string): Promise<PathKind> {
  const s = await stat(path).catch(() => null);
  return s ? kindOfStats(s) : 'missing';
}

/** The names in a folder. */
export async function listFolder(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    throw systemError(path, 'a readable folder', err);
  }
}

function systemError(path: string, expected: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const found =
    code === 'ENOENT' ? 'nothing (no such file)'
    : code === 'EACCES' || code === 'EPERM' ? 'no permission to read it'
    : code === 'EISDIR' ? 'a folder'
    : code === 'ENOTDIR' ? 'a path through something that is not a folder'
    : code === 'ELOOP' ? 'a loop of symbolic links'
    : `an error reading it (${code ?? (err instanceof Error ? err.message : String(err))})`;
  return new InputError(path, '', expected, found);
}

/** Opens a path for reading without blocking, and refuses anything but a regular file. */
async function openRegular(path: string, kind: FileKind): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting (no effect on files).
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw systemError(path, `a regular file (${FILE_CAPS[kind].what})`, err);
  }
  try {
    const s = await handle.stat();
    const k = kindOfStats(s);
    if (k !== 'file') throw new InputError(path, '', `a regular file (${FILE_CAPS[kind].what})`, FOUND[k]);
    return { handle, size: s.size };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err instanceof InputError ? err : systemError(path, `a readable file (${FILE_CAPS[kind].what})`, err);
  }
}

/**
 * The whole of a small file, at most the cap of its kind: the loop stops one byte past the cap
 * (so a device or a growing file cannot make it read more), whatever size the file reports.
 */
export async function readFileBytes(path: string, kind: FileKind, limits?: ReadLimits): Promise<Uint8Array> {
  const cap = capOf(kind, limits);
  const { handle, size } = await openRegular(path, kind);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let chunk = Math.max(4096, Math.min(size + 1, cap + 1));
    for (;;) {
      const want = Math.min(chunk, cap + 1 - total);
      if (want <= 0) break;
      const buf = new Uint8Array(want);
      const { bytesRead } = await handle.read(buf, 0, want, total);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
      chunk = Math.min(chunk * 2, 16 * MiB);
    }
    if (total > cap) throw tooLarge(path, kind, cap);
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } catch (err) {
    throw err instanceof InputError ? err : systemError(path, `a readable file (${FILE_CAPS[kind].what})`, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Text by its byte-order mark: UTF-8 (the default, BOM or not), UTF-16 LE or BE. */
export function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return new TextDecoder('utf-8').decode(bytes);
}

export async function readTextFile(path: string, kind: FileKind, limits?: ReadLimits): Promise<string> {
  return decodeText(await readFileBytes(path, kind, limits));
}

/** A JSON file (comments, trailing commas and NaN tolerated; depth bounded), read within its cap. */
export async function readJsonFile(path: string, kind: FileKind, limits?: ReadLimits): Promise<unknown> {
  return parseLenientJson(await readTextFile(path, kind, limits), path);
}

/**
 * A user's hardware profile (*.hardware.json), read within the hardware cap and validated: the
 * function the CLI's --hardware FILE and the extension both use.
 */
export async function readHardwareProfileFile(path: string, limits?: ReadLimits): Promise<HardwareProfile> {
  return parseHardwareProfile(await readTextFile(path, 'hardware', limits), path);
}

/**
 * Opens a regular file as a ByteSource for the duration of `use`. Reads are clipped to the file's size
 * at open, and their sum is capped by the kind's limit (checked before each read allocates).
 */
export async function withByteSource<T>(path: string, kind: FileKind, use: (src: ByteSource) => Promise<T>, limits?: ReadLimits): Promise<T> {
  const cap = capOf(kind, limits);
  const { handle, size } = await openRegular(path, kind);
  let total = 0;
  const src: ByteSource = {
    size,
    read: async (offset, length) => {
      const want = Math.max(0, Math.min(length, size - offset));
      if (total + want > cap) throw tooLarge(path, kind, cap);
      total += want;
      const buf = new Uint8Array(want);
      try {
        const { bytesRead } = await handle.read(buf, 0, want, offset);
        return buf.subarray(0, bytesRead);
      } catch (err) {
        throw systemError(path, `a readable file (${FILE_CAPS[kind].what})`, err);
      }
    },
  };
  try {
    return await use(src);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
