/**
 * Small text helpers shared by the pseudo-code generators: lines with trailing
 * comments aligned in one column, identifiers from module names, numbers.
 * Everything produced here is plain text.
 */

/** One line of pseudo-code: code, a trailing comment, or both (neither: a blank line). */
export interface Line {
  code: string;
  comment?: string;
}

/** Trailing comments start in one column, unless the code is longer than this. */
const MAX_COMMENT_COLUMN = 64;

/** Renders lines; a line with only a comment is a full-line comment. */
export function render(lines: readonly Line[]): string {
  const widths = lines.filter((l) => l.code !== '' && l.comment !== undefined).map((l) => l.code.length);
  const column = Math.min(MAX_COMMENT_COLUMN, widths.length > 0 ? Math.max(...widths) : 0);
  return lines
    .map((l) => {
      if (l.code === '') return l.comment === undefined ? '' : `# ${l.comment}`;
      if (l.comment === undefined) return l.code;
      return `${l.code.padEnd(column)}  # ${l.comment}`;
    })
    .join('\n');
}

export const comment = (text: string): Line => ({ code: '', comment: text });
export const blank: Line = { code: '' };
export const code = (text: string, note?: string): Line => (note === undefined ? { code: text } : { code: text, comment: note });

/** A module name as a variable name: `attn.c_proj` → `attn_c_proj`. */
export function ident(name: string): string {
  const s = name.replace(/[^\p{L}\p{N}_]+/gu, '_').replace(/^_+|_+$/g, '');
  if (s === '') return 'v';
  return /^\p{N}/u.test(s) ? `_${s}` : s;
}

/** Microseconds with two decimals. */
export const us = (value: number): string => `${value.toFixed(2)} µs`;

/** A count: whole numbers as they are, averages (keys per query in a causal prefill) with one decimal. */
export function count(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return `≈${n.toFixed(1)}`;
}

/** ε as Python writes it: 1e-05, 1e-06, 1e-12. */
export function eps(value: number): string {
  if (value === 0) return '0';
  if (value >= 1e-3) return String(value);
  const [mantissa, exponent] = value.toExponential().split('e');
  const e = Number(exponent);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** Bytes in MB or kB. */
export function bytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

/** Layer indices as ranges: `0–31`, `0–2`, `1, 3, 5, …`. */
export function layerRange(layers: readonly number[]): string {
  if (layers.length === 0) return 'none';
  const sorted = [...layers].sort((a, b) => a - b);
  const ranges: string[] = [];
  let start = sorted[0]!;
  let prev = start;
  for (const i of [...sorted.slice(1), NaN]) {
    if (i === prev + 1) {
      prev = i;
      continue;
    }
    ranges.push(start === prev ? String(start) : `${start}–${prev}`);
    start = i;
    prev = i;
  }
  const shown = ranges.length > 6 ? [...ranges.slice(0, 4), '…', ranges[ranges.length - 1]!] : ranges;
  return `${layers.length === 1 ? 'layer' : `${layers.length} layers:`} ${shown.join(', ')}`;
}
