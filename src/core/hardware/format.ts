/**
 * Plain-text views of hardware profiles for the CLI (`hardware list`,
 * `hardware show`) and the extension's output channel. The JSON view is
 * `JSON.stringify(profile, null, 2)`, which validateHardwareProfile accepts back.
 */
import type { HardwareProfile } from './profile';
import type { PresetInfo } from './presets';
import { leaves, type Leaf } from './paths';
import { PROFILE_SPEC, type ObjectSpec } from './spec';

/** Text is wrapped to this many columns. */
const WIDTH = 120;

export function formatPresetList(list: readonly PresetInfo[]): string {
  const rows = [['NAME', 'TITLE'], ...list.map((p) => [p.name, p.title])];
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([name, title]) => `${name!.padEnd(width)}  ${title}`).join('\n') + '\n';
}

/** Every number with its unit and provenance, grouped by engine, then the sources. */
export function formatProfile(profile: HardwareProfile): string {
  const all = leaves(profile);
  const lines: string[] = [`${profile.name}: ${profile.title}`];
  if (profile.description) lines.push(...wrap(profile.description, WIDTH));
  lines.push('');

  const groups: { title: string; rows: Leaf[] }[] = [
    { title: 'General', rows: all.filter((l) => l.path === 'defaultDtype' || l.path === 'computeUnits') },
  ];
  for (const key of ['matrix', 'vector', 'collective', 'memory', 'kernels'] as const) {
    const spec = PROFILE_SPEC.fields[key] as ObjectSpec;
    groups.push({ title: spec.label, rows: all.filter((l) => l.segments[0] === key && !isTierName(l)) });
  }

  const shown = groups.flatMap((g) => g.rows);
  const labelWidth = Math.max(...shown.map((l) => label(l, profile).length));
  const valueWidth = Math.max(...shown.map((l) => value(l).length));
  const noteColumn = 2 + labelWidth + 2 + valueWidth + 2;
  const noteWidth = Math.max(40, WIDTH - noteColumn);
  for (const g of groups) {
    lines.push(g.title);
    for (const l of g.rows) {
      const [first = '', ...rest] = wrap(profile.provenance[l.path] ?? '', noteWidth);
      lines.push(`  ${label(l, profile).padEnd(labelWidth)}  ${value(l).padEnd(valueWidth)}  ${first}`.trimEnd());
      for (const more of rest) lines.push(' '.repeat(noteColumn) + more);
    }
    lines.push('');
  }
  if (profile.sources.length > 0) {
    lines.push('Sources');
    for (const s of profile.sources) {
      const [first = '', ...rest] = wrap(`[${s.id}] ${s.citation}`, WIDTH - 2);
      lines.push(`  ${first}`, ...rest.map((r) => `    ${r}`));
    }
    lines.push('');
  }
  return lines.join('\n');
}

function isTierName(l: Leaf): boolean {
  return l.segments[1] === 'tiers' && l.segments[3] === 'name';
}

function label(l: Leaf, profile: HardwareProfile): string {
  const [, second, index] = l.segments;
  if (second === 'peakTflops') return `peak ${String(l.segments[2])}`;
  if (second === 'tiers' && typeof index === 'number') return `${profile.memory.tiers[index]?.name ?? index} ${l.spec.label}`;
  return l.spec.label;
}

function value(l: Leaf): string {
  if (typeof l.value === 'boolean') return l.value ? 'yes' : 'no';
  if (typeof l.value === 'string') return l.value;
  if (l.spec.kind === 'number' && l.spec.unit === '') return `${l.value} (${round(l.value * 100)}% of peak)`;
  const unit = l.spec.kind === 'number' ? l.spec.unit : '';
  return `${group(l.value)}${unit ? ` ${unit}` : ''}`;
}

function round(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}

/** 150000 → "150,000"; decimals kept as written. */
function group(x: number): string {
  const [int, frac] = String(x).split('.');
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
