/**
 * Lookups whose key comes from a file or the command line. `table[key]` on a plain object also finds
 * what the object inherits (`constructor`, `toString`, `__proto__`), so a model_type or dtype named
 * after one would reach a JavaScript function instead of "unknown". Every such lookup in the core goes
 * through these two helpers (or a Map).
 */

/** Whether `obj` holds `key` itself (not through its prototype). */
export function hasOwnKey(obj: object, key: PropertyKey): boolean {
  return Object.hasOwn(obj, key);
}

/** `obj[key]` when `obj` holds `key` itself; undefined for anything inherited. */
export function ownValue<T>(obj: Readonly<Record<string, T>>, key: string): T | undefined;
export function ownValue<T>(obj: Readonly<Record<number, T>>, key: number): T | undefined;
export function ownValue<T>(obj: Readonly<Record<string | number, T>>, key: string | number): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
