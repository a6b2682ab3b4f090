/**
 * What is wrong with a model config's own values, all of it at once (the reader, config.ts, stops at
 * the first problem): sizes that are not positive, head counts that do not divide, layer lists of the
 * wrong length, each with the nearest values that would fix it. The editor shows them as diagnostics
 * with quick fixes (extension/editor/analysis.ts). The file is untrusted: keys are probed with
 * Object.hasOwn, and every walk over its sizes is bounded and counted on a WorkMeter.
 */
import { isObject, type JsonObject } from '../json';
import { ownValue } from '../own';
import { num } from '../report/text';
import { KEYS } from './families/common';

/**
 * Counts the steps the analysis takes over sizes and keys read from the file (divisor candidates,
 * keys probed), so that tests can check the work stays bounded whatever the file holds.
 */
export interface WorkMeter {
  steps: number;
}

/** A JSON path inside the config: object keys and array indices. */
export type JsonPath = (string | number)[];

export type ProblemSeverity = 'error' | 'warning' | 'information';

export interface ConfigProblem {
  path: JsonPath;
  severity: ProblemSeverity;
  message: string;
  /** Values that would fix it, nearest first (offered as quick fixes). */
  fixes: number[];
}

/** The language model's object and the first key of an alias chain that it holds. */
function firstKey(obj: JsonObject, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    const value = ownValue(obj, key);
    if (value !== undefined && value !== null) return { key, value };
  }
  return undefined;
}

/**
 * Checks on the file's own values, all of them at once (the core stops at the first): sizes that are
 * zero or negative, heads that do not divide the hidden size, KV heads that do not divide the heads,
 * a layer pattern whose length is not the layer count.
 */
export function configProblems(config: JsonObject, prefix: JsonPath, meter: WorkMeter = { steps: 0 }): ConfigProblem[] {
  const inner = prefix.length ? ownValue(config, prefix[0] as string) : config;
  const cfg = isObject(inner) ? inner : config;
  const at = (key: string): JsonPath => [...prefix, key];
  const problems: ConfigProblem[] = [];
  const sizes: [keyof typeof KEYS, string][] = [
    ['hidden', 'hidden size'],
    ['layers', 'layer count'],
    ['heads', 'number of attention heads'],
    ['kvHeads', 'number of KV heads'],
    ['ffn', 'MLP width'],
    ['experts', 'number of experts'],
    ['topK', 'number of experts per token'],
    ['vocab', 'vocabulary size'],
  ];
  const positive = new Map<string, number>();
  for (const [group, what] of sizes) {
    const found = firstKey(cfg, KEYS[group]);
    if (!found || typeof found.value !== 'number') continue;
    if (found.value <= 0) problems.push({ path: at(found.key), severity: 'error', message: `${found.key}: the ${what} must be a positive integer, found ${found.value}.`, fixes: [] });
    else if (Number.isInteger(found.value)) positive.set(group, found.value);
  }
  const headDim = ownValue(cfg, 'head_dim');
  if (typeof headDim === 'number' && headDim <= 0) problems.push({ path: at('head_dim'), severity: 'error', message: `head_dim: the head width must be a positive integer, found ${headDim}.`, fixes: [] });

  const hidden = positive.get('hidden');
  const heads = positive.get('heads');
  const kvHeads = positive.get('kvHeads');
  const headsKey = firstKey(cfg, KEYS.heads)?.key;
  const kvKey = firstKey(cfg, KEYS.kvHeads)?.key;
  const headsProblem = headCountProblem(hidden, heads, kvHeads, typeof headDim === 'number' && headDim > 0 ? headDim : undefined, meter);
  if (headsProblem && headsKey) problems.push({ path: at(headsKey), severity: 'error', message: `${headsKey}: ${headsProblem.message}`, fixes: headsProblem.fixes });
  // A head count already flagged is the likelier typo: the KV heads are not blamed for it too.
  else if (heads !== undefined && kvHeads !== undefined && kvKey && heads % kvHeads !== 0) {
    problems.push({
      path: at(kvKey),
      severity: 'error',
      message: `${kvKey}: ${kvHeads} KV heads do not divide the ${heads} attention heads (each KV head serves a whole group of query heads).`,
      fixes: nearestDivisors(heads, kvHeads, 3, meter),
    });
  }
  const layers = positive.get('layers');
  if (layers !== undefined) {
    for (const key of ['layer_types', 'layers_block_type']) {
      const list = ownValue(cfg, key);
      if (Array.isArray(list) && list.length !== layers) {
        problems.push({ path: at(key), severity: 'error', message: `${key}: ${list.length} entries for ${layers} layers (${firstKey(cfg, KEYS.layers)?.key}); one per layer is expected.`, fixes: [] });
      }
    }
    for (const key of ['sliding_window_pattern', '_sliding_window_pattern']) {
      const pattern = ownValue(cfg, key);
      if (typeof pattern === 'number' && Number.isInteger(pattern) && pattern > layers) {
        problems.push({
          path: at(key),
          severity: 'warning',
          message: `${key}: every ${pattern}th layer is global, but there are only ${layers} layers: none is.`,
          fixes: [],
        });
      }
    }
  }
  return problems;
}

/**
 * A head count that cannot be right, said with the arithmetic that shows it (issue 20: a typed 23 in
 * Llama-3.2-3B's 24 heads must point at the heads and say 23 × 128 ≠ 3072, not at the KV heads):
 * - no head_dim: the heads must divide the hidden size;
 * - a head_dim: heads × head_dim may differ from the hidden size (Gemma's do), so the count is blamed
 *   only when it also breaks the KV grouping while hidden / head_dim would keep it.
 * Fixes: counts that satisfy both, nearest first.
 */
function headCountProblem(hidden: number | undefined, heads: number | undefined, kvHeads: number | undefined, headDim: number | undefined, meter: WorkMeter): { message: string; fixes: number[] } | undefined {
  if (hidden === undefined || heads === undefined) return undefined;
  const groupsOk = (n: number): boolean => kvHeads === undefined || n % kvHeads === 0;
  const kvNote = kvHeads !== undefined && !groupsOk(heads) ? `; nor is ${heads} a multiple of the ${kvHeads} KV heads` : '';
  if (headDim === undefined) {
    if (hidden % heads === 0) return undefined;
    const divisors = nearestDivisors(hidden, heads, 6, meter);
    const fitting = divisors.filter(groupsOk);
    return {
      message: `${heads} heads do not divide the hidden size ${hidden} (${hidden} / ${heads} = ${num(hidden / heads, 2)}), and no head_dim is given${kvNote}.`,
      fixes: [...fitting, ...divisors.filter((d) => !groupsOk(d))].slice(0, 3),
    };
  }
  const implied = hidden / headDim;
  if (heads * headDim === hidden || groupsOk(heads) || !Number.isInteger(implied) || !groupsOk(implied)) return undefined;
  return {
    message: `${heads} heads × head_dim ${headDim} = ${num(heads * headDim, 0)} ≠ hidden size ${num(hidden, 0)}${kvNote}; ${implied} heads fit both.`,
    fixes: [implied],
  };
}

/**
 * How far either side of the written count the divisor search looks. A fix is a count near the one
 * written; a full divisor search walks √n candidates, which for a typed 1e20 froze the extension host.
 */
export const DIVISOR_SEARCH_SPAN = 1024;

/**
 * Divisors of `n` closest to `near` (ties: the smaller first), at most `limit` of them, among those
 * within DIVISOR_SEARCH_SPAN of `near`: at most 2 × DIVISOR_SEARCH_SPAN candidates, whatever `n` is.
 */
export function nearestDivisors(n: number, near: number, limit = 3, meter: WorkMeter = { steps: 0 }): number[] {
  const divisors: number[] = [];
  const divides = (d: number): boolean => {
    meter.steps++;
    return d >= 1 && d <= n && n % d === 0;
  };
  for (let distance = 1; distance <= DIVISOR_SEARCH_SPAN && divisors.length < limit; distance++) {
    // Outward from `near`: the smaller of two at the same distance first.
    for (const d of [near - distance, near + distance]) if (divides(d) && divisors.length < limit) divisors.push(d);
  }
  return divisors;
}
