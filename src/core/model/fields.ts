/**
 * Reading fields out of an untrusted model config: alias chains, defaults and
 * validation in one place, so every family adapter reports bad input the same
 * way (InputError naming the file, the field and what was expected).
 */
import { InputError, describeValue } from '../errors';
import { isObject, type JsonObject } from '../json';
import { ownValue } from '../own';

/** Upper bounds beyond which a size is certainly a mistake (or a hostile file). */
export const LIMITS = {
  width: 10_000_000, // hidden, ffn, head dims, ranks
  /** 100 times the deepest real model; each layer costs the simulator time and memory. */
  layers: 10_000,
  heads: 100_000,
  vocab: 100_000_000,
  experts: 100_000,
  positions: 1_000_000_000,
} as const;

export interface SizeOptions {
  /** Used when none of the keys is present (no error). */
  default?: number;
  max?: number;
  /** Allow 0 (e.g. "no shared experts"). */
  allowZero?: boolean;
}

export class ConfigReader {
  /** Keys whose value came from class defaults rather than the file (for a note). */
  readonly defaulted: string[] = [];

  constructor(
    readonly cfg: JsonObject,
    readonly file: string,
    /** Path of `cfg` inside the file, e.g. `text_config.`, for error messages. */
    readonly prefix: string = '',
    /** Values the file leaves out and the config class supplies (sparse nested configs). */
    readonly defaults: JsonObject = {},
    /** Maps a config key to the name the user knows it by (GGUF keys, for example). */
    readonly fieldName: (key: string) => string = (k) => k,
    /** Extra objects searched after `cfg`, before the defaults (e.g. the outer config). */
    readonly fallbacks: JsonObject[] = [],
  ) {}

  /** The name of a field as shown in errors. */
  field(key: string): string {
    const mapped = this.fieldName(key);
    return mapped === key ? this.prefix + key : mapped;
  }

  error(key: string, expected: string, found?: unknown): InputError {
    return new InputError(this.file, this.field(key), expected, found === undefined ? undefined : describeValue(found));
  }

  /** The first of `keys` that holds a non-null value, looking in the file, then fallbacks, then defaults. */
  lookup(keys: readonly string[]): { key: string; value: unknown } | undefined {
    for (const source of [this.cfg, ...this.fallbacks]) {
      for (const key of keys) {
        const value = ownValue(source, key);
        if (value !== undefined && value !== null) return { key, value };
      }
    }
    for (const key of keys) {
      const value = ownValue(this.defaults, key);
      if (value !== undefined && value !== null) {
        if (!this.defaulted.includes(key)) this.defaulted.push(key);
        return { key, value };
      }
    }
    return undefined;
  }

  has(...keys: string[]): boolean {
    return this.lookup(keys) !== undefined;
  }

  /** A positive integer size under an alias chain; required unless a default is given. */
  size(keys: readonly string[], opts: SizeOptions = {}): number {
    const found = this.lookup(keys);
    if (!found) {
      if (opts.default !== undefined) return opts.default;
      throw new InputError(this.file, this.field(keys[0]!), `a positive integer${aliasHint(keys, this)}`, 'nothing');
    }
    return this.checkSize(found.key, found.value, opts);
  }

  /** Like `size`, but null when absent. */
  optSize(keys: readonly string[], opts: SizeOptions = {}): number | null {
    const found = this.lookup(keys);
    return found ? this.checkSize(found.key, found.value, opts) : null;
  }

  checkSize(key: string, value: unknown, opts: SizeOptions = {}): number {
    const max = opts.max ?? LIMITS.width;
    const min = opts.allowZero ? 0 : 1;
    const what = `${opts.allowZero ? 'a non-negative' : 'a positive'} integer no larger than ${max}`;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw this.error(key, what, value);
    }
    return value;
  }

  /** A small positive epsilon (norm eps); absent → fallback. */
  eps(keys: readonly string[], fallback: number): number {
    const found = this.lookup(keys);
    if (!found) return fallback;
    const v = found.value;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 1) {
      throw this.error(found.key, 'a positive number below 1 (a norm epsilon)', v);
    }
    return v;
  }

  /** A positive finite number (factors); absent → fallback. */
  number(keys: readonly string[], fallback: number): number {
    const found = this.lookup(keys);
    if (!found) return fallback;
    const v = found.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.error(found.key, 'a finite number', v);
    return v;
  }

  bool(keys: readonly string[], fallback: boolean): boolean {
    const found = this.lookup(keys);
    if (!found) return fallback;
    if (typeof found.value !== 'boolean') throw this.error(found.key, 'true or false', found.value);
    return found.value;
  }

  str(keys: readonly string[], fallback: string): string {
    const found = this.lookup(keys);
    if (!found) return fallback;
    if (typeof found.value !== 'string') throw this.error(found.key, 'a string', found.value);
    return found.value;
  }

  /** An array of non-negative integers (layer index lists), or null when absent. */
  intList(key: string, maxValue: number): number[] | null {
    const found = this.lookup([key]);
    if (!found) return null;
    const v = found.value;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > maxValue)) {
      throw this.error(key, `a list of layer indices between 0 and ${maxValue}`, v);
    }
    return v as number[];
  }

  /** An array of strings (layer_types), or null when absent. */
  strList(key: string): string[] | null {
    const found = this.lookup([key]);
    if (!found) return null;
    const v = found.value;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw this.error(key, 'a list of strings', v);
    return v as string[];
  }

  object(key: string): JsonObject | null {
    const found = this.lookup([key]);
    return found && isObject(found.value) ? found.value : null;
  }
}

function aliasHint(keys: readonly string[], reader: ConfigReader): string {
  // Only for config.json keys: a renamed field (GGUF) has one name the user knows.
  if (keys.length < 2 || reader.fieldName(keys[0]!) !== keys[0]) return '';
  const names = keys.map((k) => reader.field(k));
  return ` (${names.slice(0, -1).join(', ')} or ${names[names.length - 1]})`;
}
