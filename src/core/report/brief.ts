/**
 * The short forms of a report: the headline the binary-model viewer shows, and the text
 * the chat tool returns (headline, per-site tables, provenance). Pure; the figures are the
 * Report's own, formatted with the same helpers as the CLI's table and Markdown.
 */
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { checkWorkloadForModel, type WorkloadRequest } from '../workload';
import { SITE_ALIGN, SITE_HEADER, siteRows, workloadLine } from './formats';
import { profile } from './profile';
import { resolveWorkload } from './tensor-parallel';
import { count, markdownTable, num, percent } from './text';
import type { Report } from './types';

/**
 * profile() with a tensor-parallel degree 'auto' resolved and the model's tensor-parallel check first, as
 * the panel does (its notes join the model's).
 */
export function profileChecked(spec: ModelSpec, hw: HardwareProfile, request: WorkloadRequest): Report {
  const workload = resolveWorkload(spec, hw, request);
  const { notes } = checkWorkloadForModel(spec, workload);
  const report = profile(spec, hw, workload);
  report.model.notes = [...report.model.notes, ...notes];
  return report;
}

export interface HeadlineFigures {
  baseline: string;
  deferred: string;
  saved: string;
  /** "20.3%" */
  savedPct: string;
}

/** Whole-model figures as the headline shows them (µs per pass). */
export function headlineFigures(r: Report): HeadlineFigures {
  const t = r.totals;
  return { baseline: `${num(t.baselineUs)} µs`, deferred: `${num(t.deferredUs)} µs`, saved: `${num(t.savedUs)} µs`, savedPct: percent(t.savedPct) };
}

/** One sentence: what deferring saves, where, for which pass. */
export function headlineSentence(r: Report): string {
  const f = headlineFigures(r);
  return `Deferring the norms of ${r.model.name} saves ${f.saved} of ${f.baseline} (${f.savedPct}) per pass on ${r.hardware.name}: ${f.deferred} instead of ${f.baseline} (simulated estimate; ${workloadLine(r.workload)}).`;
}

/** "12 from datasheets, 14 stated assumptions, …": what kind of source each number of the profile has. */
export function provenanceCounts(provenance: Record<string, string>): string {
  const byKind = new Map<string, number>();
  for (const text of Object.values(provenance)) {
    const kind = /^([a-z]+)\b/i.exec(text)?.[1]?.toLowerCase() ?? 'other';
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  return [...byKind]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
}

/** The provenance line: the profile, where its numbers come from, and that every figure is simulated. */
export function provenanceLine(r: Report, hardwareSource: string): string {
  const sources = r.hardware.sources.map((s) => s.id).join(', ');
  return (
    `Hardware: ${r.hardware.name} ("${r.hardware.title}", ${hardwareSource}); its ${Object.keys(r.hardware.provenance).length} numbers by source: ` +
    `${provenanceCounts(r.hardware.provenance)}${sources ? ` (cited: ${sources})` : ''}. ${r.estimate}`
  );
}

/**
 * The chat tool's answer, one Markdown block per part: the headline with the model and the
 * workload, one site table per layer kind (decision, site, kept/deferred/saved µs), provenance.
 */
export function chatParts(r: Report, hardwareSource: string): string[] {
  const t = r.totals;
  const params = `${count(r.model.params.total)} params${r.model.params.active !== r.model.params.total ? `, ${count(r.model.params.active)} active` : ''}`;
  const headline = [
    `**${headlineSentence(r)}**`,
    '',
    `- Model: ${r.model.name} (${r.model.family}, ${r.model.layers} layers, hidden ${r.model.hidden}, ${params}; ${r.model.source})`,
    `- Whole model: baseline ${num(t.baselineUs)} µs, deferred ${num(t.deferredUs)} µs, saved ${num(t.savedUs)} µs (${percent(t.savedPct)})`,
    `- Statistic collectives take ${percent(t.collectiveShareBaselinePct)} of the baseline latency; deferral hides ${percent(t.hiddenCollectivePct)} of that time.`,
  ];
  if (r.model.notes.length > 0) headline.push(...r.model.notes.map((n) => `- Note: ${n}`));
  const sites = r.layerKinds.map((k) => {
    const where = k.id === 'head' ? 'the head' : `each ${k.id} layer (${k.label}, ${k.layers.length} of them)`;
    return `Sites in ${where}, µs per layer:\n\n${markdownTable(SITE_HEADER, siteRows(k), SITE_ALIGN)}`;
  });
  return [headline.join('\n'), ...sites, provenanceLine(r, hardwareSource)];
}
