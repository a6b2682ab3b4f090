/**
 * The one error type for bad input. Every reader and validator throws it so that
 * the CLI and the extension can show one clear line: the file, the field, and
 * what was expected.
 */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
    /** What was found instead, when that helps the user. */
    readonly found?: string,
    /** A different exit code for "valid file, nothing to profile" (e.g. Mamba). */
    readonly kind: 'invalid' | 'unsupported' = 'invalid',
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
