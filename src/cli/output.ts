/**
 * Where the CLI's output goes: stdout, or `--out FILE`, written through a temporary file in the same
 * folder and renamed into place, so a failed run never leaves half a report and a reader never sees one.
 * --out must be a regular file (or a new one), and never one of the files the command read.
 */
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../core/errors';

/** What a path is, in the words of the error (only regular files may be written). */
function describeKind(s: Stats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'something that is not a regular file';
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** A failed write as one line: the file, what it is, and the system's reason. */
export function writeError(flag: string, path: string | null, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const found =
    code === 'EISDIR' ? 'a folder'
    : code === 'ENOENT' ? 'a path whose folder does not exist'
    : code === 'ENOTDIR' ? 'a path through something that is not a folder'
    : code === 'EACCES' || code === 'EPERM' ? 'no permission to write there'
    : code === 'ENOSPC' ? 'no space left on the device'
    : code === 'EROFS' ? 'a read-only file system'
    : `a write error (${code ?? (err instanceof Error ? err.message : String(err))})`;
  return new InputError(flag, '', path === null ? 'an output that can be written' : `a file that can be written (${JSON.stringify(path)})`, found);
}

/**
 * Checks --out before anything is written: a regular file or a new path, and not one of `inputs` (the
 * files the command read, compared by device and inode, so links and other spellings of a path count).
 * Returns the path to replace: a symbolic link's target, so the link keeps pointing at the report.
 */
export function checkOutPath(out: string, inputs: readonly string[]): string {
  const target = statOrNull(out);
  if (target === null) return out;
  if (!target.isFile()) throw new InputError('--out', '', 'a regular file to write, or a new path', `${describeKind(target)} (${JSON.stringify(out)})`);
  for (const input of inputs) {
    const s = statOrNull(input);
    if (s !== null && s.dev === target.dev && s.ino === target.ino) {
      throw new InputError('--out', '', 'a file other than the input it would overwrite', JSON.stringify(input));
    }
  }
  return realpathSync(out);
}

/** Writes `text` to `path` atomically: a temporary file beside it, flushed, then renamed over it. */
export function writeFileAtomic(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | null = null;
  try {
    // wx: never follows or reuses something already at the temporary name.
    fd = openSync(temp, 'wx', 0o666);
    writeFileSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already renamed.
    }
    throw writeError('--out', path, err);
  }
}

/**
 * JSON indented by two spaces, with arrays of numbers on one line (a layer kind's indices: a
 * 100,000-layer model's would otherwise take 100,000 lines). Only the indenter's newlines are
 * matched, and a JSON string never holds a raw newline, so no value changes.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\n\s*(-?[\d.eE+-]+(?:,\n\s*-?[\d.eE+-]+)*)\n\s*\]/g, (_, items: string) => `[${items.replace(/,\n\s*/g, ', ')}]`);
}
