/**
 * Paths into a HardwareProfile, walked along its spec (spec.ts): provenance keys, `--set` and error
 * messages name fields by dotted names, array elements by index in brackets, e.g.
 * `matrix.peakTflops.bf16`, `collective.interChip.hopLatencyNs`, `memory.tiers[0].bandwidthGBps`.
 */
import { DTYPES } from './profile';
import { PROFILE_SPEC, type LeafSpec, type NodeSpec } from './spec';

export type PathSegment = string | number;

const FIRST = /^[A-Za-z_$][\w$]*/;
const NEXT = /\.([A-Za-z_$][\w$]*)|\.(\d+)|\[(\d+)\]/y;

/**
 * Parses `a.b[0].c` (also `a.b.0.c`) into segments; undefined when malformed.
 */
export function parsePath(path: string): PathSegment[] | undefined {
  const first = FIRST.exec(path);
  if (!first) return undefined;
  const out: PathSegment[] = [first[0]];
  let i = first[0].length;
  while (i < path.length) {
    NEXT.lastIndex = i;
    const m = NEXT.exec(path);
    if (!m) return undefined;
    out.push(m[1] ?? Number(m[2] ?? m[3]));
    i = NEXT.lastIndex;
  }
  return out;
}

/** The canonical text of a path: `memory.tiers[0].bandwidthGBps`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

export interface Leaf {
  path: string;
  segments: PathSegment[];
  spec: LeafSpec;
  value: number | string | boolean;
}

/**
 * Every leaf of a (valid) profile in display order. `matrix.peakTflops` lists
 * the dtypes present in DTYPES order; tiers by index.
 */
export function leaves(profile: object): Leaf[] {
  const out: Leaf[] = [];
  walk(PROFILE_SPEC, profile, [], out);
  return out;
}

function walk(spec: NodeSpec, value: unknown, at: PathSegment[], out: Leaf[]): void {
  switch (spec.kind) {
    case 'object': {
      const obj = value as Record<string, unknown>;
      for (const [key, child] of Object.entries(spec.fields)) {
        if (obj[key] !== undefined) walk(child, obj[key], [...at, key], out);
      }
      return;
    }
    case 'dtypeRecord': {
      const rec = value as Record<string, unknown>;
      for (const d of DTYPES) if (rec[d] !== undefined) walk(spec.value, rec[d], [...at, d], out);
      return;
    }
    case 'array':
      (value as unknown[]).forEach((item, i) => walk(spec.item, item, [...at, i], out));
      return;
    default:
      out.push({ path: formatPath(at), segments: at, spec, value: value as number | string | boolean });
  }
}

/**
 * Leaves that are modelling parameters (numbers, switches, choices) as opposed
 * to labels (name, title, description, tier names). Each preset gives every one
 * of them a provenance entry; user files get "user-supplied" for any left out.
 */
export function isParameter(leaf: Leaf): boolean {
  return leaf.spec.kind !== 'string';
}

export interface ResolvedPath {
  segments: PathSegment[];
  /** Canonical path text. */
  path: string;
  spec: LeafSpec;
}

/**
 * Resolves a path against the spec and a profile (for array bounds). Returns
 * the leaf spec, or a reason the path is not a leaf: the text of what was
 * expected at the first segment that does not fit.
 */
export function resolvePath(profile: object, path: string): ResolvedPath | { error: string; at: string } {
  const segments = parsePath(path);
  if (!segments) return { error: 'a field path such as collective.hopLatencyNs or memory.tiers[0].bandwidthGBps', at: path };
  let spec: NodeSpec = PROFILE_SPEC;
  let value: unknown = profile;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const here = formatPath(segments.slice(0, i));
    const where = here === '' ? 'the profile' : here;
    switch (spec.kind) {
      case 'object': {
        const child: NodeSpec | undefined = typeof seg === 'string' && Object.hasOwn(spec.fields, seg) ? spec.fields[seg] : undefined;
        if (!child) return { error: `a field of ${where}: ${Object.keys(spec.fields).join(', ')}${suggest(String(seg), Object.keys(spec.fields))}`, at: formatPath(segments.slice(0, i + 1)) };
        spec = child;
        value = (value as Record<string, unknown> | undefined)?.[seg as string];
        break;
      }
      case 'dtypeRecord':
        if (typeof seg !== 'string' || !(DTYPES as readonly string[]).includes(seg)) {
          return { error: `a dtype of ${where}: ${DTYPES.join(', ')}${suggest(String(seg), DTYPES)}`, at: formatPath(segments.slice(0, i + 1)) };
        }
        spec = spec.value;
        value = (value as Record<string, unknown> | undefined)?.[seg];
        break;
      case 'array': {
        const arr = Array.isArray(value) ? value : [];
        if (typeof seg !== 'number' || seg >= arr.length) {
          return { error: `an index of ${where} from 0 to ${arr.length - 1}`, at: formatPath(segments.slice(0, i + 1)) };
        }
        spec = spec.item;
        value = arr[seg];
        break;
      }
      default:
        return { error: `${formatPath(segments.slice(0, i))} to be the end of the path (it is a single value)`, at: formatPath(segments) };
    }
  }
  if (spec.kind === 'object' || spec.kind === 'dtypeRecord' || spec.kind === 'array') {
    const inner =
      spec.kind === 'object' ? Object.keys(spec.fields).join(', ') : spec.kind === 'dtypeRecord' ? DTYPES.join(', ') : 'an index [0], [1], …';
    return { error: `a single value, not the group ${formatPath(segments)} (one of: ${inner})`, at: formatPath(segments) };
  }
  return { segments, path: formatPath(segments), spec };
}

/** ` (did you mean "x"?)` when a known name is close (edit distance ≤ 2, or a prefix), else ''. */
export function suggest(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = lower.length >= 3 && kl.startsWith(lower) ? 1 : editDistance(lower, kl);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
