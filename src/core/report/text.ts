/** Small text-layout helpers shared by the plain-text and Markdown views. */
import { markdownInline, terminalSafe } from '../text';

/** Fixed decimals, thousands separated for the integer part. */
export function num(value: number, decimals = 2): string {
  if (!Number.isFinite(value)) return String(value);
  const [int, frac] = Math.abs(value).toFixed(decimals).split('.');
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${value < 0 ? '−' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

/**
 * A duration given in µs, in the unit that keeps it readable: "424.3 µs", "11.87 ms", "2.18 s" (never
 * "12,227,636.5 µs"). The one duration format of every view: tables, Markdown, the panel, the export.
 */
export function duration(us: number): string {
  const a = Math.abs(us);
  // Thresholds where the smaller unit would round up to 1,000 of itself.
  if (a >= 999_995) return `${num(us / 1e6, 2)} s`;
  if (a >= 999.95) return `${num(us / 1e3, 2)} ms`;
  return `${num(us, 1)} µs`;
}

/** Tokens per second: whole tokens from 100 up, one decimal below. */
export function tokenRate(perSecond: number): string {
  return `${num(perSecond, perSecond >= 100 ? 0 : 1)} tokens/s`;
}

export function percent(value: number, decimals = 1): string {
  return `${num(value, decimals)}%`;
}

/**
 * A byte count with its unit: binary (KiB, MiB: memory, the KV cache) or decimal (KB, MB: file sizes, as
 * file managers show them). 131,072 → "128 KiB"; 1,500 → "1.5 KB"; below one unit, the exact count.
 */
export function byteCount(bytes: number, base: 1024 | 1000): string {
  const units = base === 1024 ? ['B', 'KiB', 'MiB', 'GiB', 'TiB'] : ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  return unit === 0 ? `${num(bytes, 0)} B` : `${num(value, value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** 8,030,261,248 → "8.03 B". */
export function count(value: number): string {
  if (value >= 1e12) return `${(value / 1e12).toFixed(2)} T`;
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)} M`;
  return num(value, 0);
}

/** Layer indices as compact ranges: [0,1,2,5] → "0–2, 5". */
export function ranges(indices: readonly number[]): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

export type Align = 'left' | 'right';

/** A plain-text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][], align: Align[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A Markdown table; cell text is escaped (markdownInline) so model-supplied names cannot break it. */
export function markdownTable(header: string[], rows: string[][], align: Align[]): string {
  const sep = align.map((a) => (a === 'right' ? '---:' : ':---'));
  return [header, sep, ...rows].map((r, i) => `| ${(i === 1 ? r : r.map(markdownInline)).join(' | ')} |`).join('\n');
}

/** One CSV field, quoted when needed (RFC 4180). */
export function csvField(value: string | number): string {
  // One line per row: a name's line breaks and controls never reach the file.
  const s = terminalSafe(String(value));
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
