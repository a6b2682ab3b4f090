/**
 * The one error type for bad input. Every reader and validator throws it so that
 * the CLI and the extension can show one clear line: the file, the field, and
 * what was expected.
 */
/**
 * - `invalid`: the input is wrong (a missing field, a bad value, a malformed file); the user should fix it.
 * - `unsupported`: the file is fine but this tool has nothing to profile in it (a pure state-space model):
 *   the extension shows it as information rather than as an error.
 * - `limit`: the input is beyond a stated bound (file size, JSON depth, sweep size, a workload bound);
 *   the message names the bound and what was asked for.
 * The CLI exits 2 for all three (bad input or nothing to profile); the message says which.
 */
export type InputErrorKind = 'invalid' | 'unsupported' | 'limit';

export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
    /** What was found instead, when that helps the user. */
    readonly found?: string,
    /** What the caller should make of it (see InputErrorKind). */
    readonly kind: InputErrorKind = 'invalid',
  ) {
    super(formatInputError(file, field, expected, found));
    this.name = 'InputError';
  }
}

export function formatInputError(file: string, field: string, expected: string, found?: string): string {
  const where = field ? `${file}: ${field}` : file;
  return found === undefined ? `${where}: expected ${expected}` : `${where}: expected ${expected}, found ${found}`;
}

/** A short, safe rendering of an unknown value for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return 'an object';
}
