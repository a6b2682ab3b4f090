/**
 * `--set path=value`: change one number (or switch, or choice) of a profile.
 * Paths use the provenance syntax: `collective.hopLatencyNs`,
 * `matrix.peakTflops.fp8`, `memory.tiers[0].bandwidthGBps`.
 *
 * Sweeps call this thousands of times, so it does not clone or re-validate the
 * whole profile: it copies only the objects on the path (the rest is shared
 * with the input, which is never mutated), checks the one new value and the
 * cross-field rules, and records the change in `provenance`.
 */
import { InputError } from '../errors';
import { ownValue } from '../own';
import type { HardwareProfile } from './profile';
import { resolvePath, type PathSegment, type ResolvedPath } from './paths';
import { expectedText, leafAccepts, type LeafSpec } from './spec';
import { checkCrossFieldRules } from './validate';

/** The pseudo-file named in errors about `--set`. */
const FILE = '--set';

export type LeafValue = number | string | boolean;

/** Splits `path=value` (the value may itself contain `=`). */
export function parseSet(text: string): { path: string; value: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InputError(FILE, '', 'path=value (e.g. collective.hopLatencyNs=0)', JSON.stringify(text));
  return { path: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim() };
}

/** Applies each `path=value` in order; returns a new profile (the input is untouched). */
export function applyOverrides(profile: HardwareProfile, sets: readonly string[]): HardwareProfile {
  let out = profile;
  for (const s of sets) {
    const { path, value } = parseSet(s);
    out = applyOverride(out, path, value);
  }
  return out;
}

/**
 * Sets one leaf. `value` is text from the command line, or an already typed
 * value (a sweep passing numbers skips the parsing).
 */
export function applyOverride(profile: HardwareProfile, path: string, value: LeafValue): HardwareProfile {
  const r = resolve(profile, path);
  const parsed = typeof value === 'string' ? parseValue(r.spec, value, r.path) : value;
  if (!leafAccepts(r.spec, parsed)) throw new InputError(FILE, r.path, expectedText(r.spec), JSON.stringify(String(value)));
  const old = getIn(profile, r.segments);
  const next = setIn(profile, r.segments, 0, parsed) as HardwareProfile;
  next.provenance = { ...profile.provenance, [r.path]: `set on the command line (was ${old === undefined ? 'not set' : String(old)})` };
  checkCrossFieldRules(next, FILE);
  return next;
}

/** The value at a path (undefined for a dtype without a peak rate); unknown paths throw. */
export function getPath(profile: HardwareProfile, path: string): LeafValue | undefined {
  return getIn(profile, resolve(profile, path).segments) as LeafValue | undefined;
}

/** Parses command-line text by the type of the field it goes to. */
export function parseValue(spec: LeafSpec, raw: string, path: string): LeafValue {
  const text = raw.trim();
  switch (spec.kind) {
    case 'number':
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
        throw new InputError(FILE, path, expectedText(spec), JSON.stringify(raw));
      }
      return Number(text);
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 'true') return true;
      if (t === 'false') return false;
      throw new InputError(FILE, path, expectedText(spec), JSON.stringify(raw));
    }
    case 'enum': {
      const t = text.toLowerCase();
      if (!spec.values.includes(t)) throw new InputError(FILE, path, expectedText(spec), JSON.stringify(raw));
      return t;
    }
    default:
      return text;
  }
}

// Resolved paths are cached by their text: a sweep sets the same path many times.
const cache = new Map<string, ResolvedPath>();

function resolve(profile: HardwareProfile, path: string): ResolvedPath {
  const hit = cache.get(path);
  if (hit && indicesInRange(profile, hit.segments)) return hit;
  const r = resolvePath(profile, path);
  if ('error' in r) throw new InputError(FILE, r.at, r.error);
  if (cache.size > 500) cache.clear();
  cache.set(path, r);
  return r;
}

function indicesInRange(root: unknown, segments: readonly PathSegment[]): boolean {
  let node = root;
  for (const seg of segments) {
    if (typeof seg === 'number' && !(Array.isArray(node) && seg < node.length)) return false;
    node = child(node, seg);
  }
  return true;
}

function getIn(root: unknown, segments: readonly PathSegment[]): unknown {
  let node = root;
  for (const seg of segments) node = child(node, seg);
  return node;
}

/** One step down a path: an array element or an own field (the path is text from the command line). */
function child(node: unknown, seg: PathSegment): unknown {
  if (Array.isArray(node)) return typeof seg === 'number' ? (node[seg] as unknown) : undefined;
  if (typeof node !== 'object' || node === null) return undefined;
  return ownValue(node as Record<string, unknown>, String(seg));
}

function setIn(node: unknown, segments: readonly PathSegment[], i: number, value: unknown): unknown {
  if (i === segments.length) return value;
  const seg = segments[i]!;
  if (Array.isArray(node)) {
    const copy = node.slice();
    copy[seg as number] = setIn(child(node, seg), segments, i + 1, value);
    return copy;
  }
  const obj = (node ?? {}) as Record<string, unknown>;
  return { ...obj, [seg]: setIn(child(obj, seg), segments, i + 1, value) };
}
