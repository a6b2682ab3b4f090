import { ENGINES } from '../graph/ops';
import type { Simulation } from '../sim/simulate';
import { markdownInline as md } from '../text';
import { endToEndLine, memoryLine, savingLine } from './figures';
import { count, csvField, markdownTable, num, percent, ranges, table, type Align } from './text';
import type { LayerKindResult, Report, SiteResult } from './types';
import type { Workload, WorkloadRequest } from '../workload';
import { tpLine } from './tensor-parallel';

/** Exports of a Report (DESIGN.md §5): table, JSON, CSV, Markdown, Chrome trace. */
export type ReportFormat = 'table' | 'json' | 'csv' | 'md' | 'trace' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'csv', 'md', 'trace', 'html'];

/** The workload in one line, as every export states it (a null dtype is each hardware profile's own). */
export function workloadLine(w: Workload | WorkloadRequest): string {
  const pass = w.phase === 'prefill' ? `prefill of ${w.seq} tokens` : `decode, context ${w.context}`;
  return `${pass}, batch ${w.batch}, ${tpLine(w)}, ${w.dtype ?? 'default dtype'}, softmax offset ${w.softmaxOffset}, ${w.deferDepth === 'linear' ? 'scales at the linear layer' : 'scales as deep as they go'}, ${w.tiles} tiles`;
}

function kindRows(r: Report): string[][] {
  const rows = r.layerKinds.map((k) => [
    k.id === 'head' ? `head (${k.label})` : `${k.id} (${k.label})`,
    ranges(k.layers),
    num(k.baselineUs),
    num(k.deferredUs),
    num(k.savedUs),
    percent(k.savedPct),
  ]);
  const t = r.totals;
  const layerCount = r.layerKinds.reduce((n, k) => n + k.layers.length, 0);
  rows.push(['whole model', `${layerCount}`, num(t.baselineUs), num(t.deferredUs), num(t.savedUs), percent(t.savedPct)]);
  return rows;
}

const KIND_HEADER = ['Layer kind', 'Layers', 'Baseline µs', 'Deferred µs', 'Saved µs', 'Saved'];
const KIND_ALIGN: Align[] = ['left', 'left', 'right', 'right', 'right', 'right'];

/** Where a deferred site applies its normalization, in a few words. */
export function appliedAt(s: SiteResult): string {
  if (s.depth === null) return '';
  if (s.kind === 'softmax') return 'after ·V';
  return { linear: 'after linear', rope: 'after RoPE', attention: 'on logits', down: 'after down proj' }[s.depth];
}

export function siteRows(k: LayerKindResult): string[][] {
  return k.sites.map((s) => [
    s.decision,
    appliedAt(s),
    s.name,
    s.decision === 'ineligible' ? '' : num(s.keptUs),
    s.decision === 'ineligible' ? '' : num(s.deferredUs),
    num(s.savedUs),
    s.decision === 'ineligible' ? s.reason : '',
  ]);
}

export const SITE_HEADER = ['Decision', 'Applied', 'Site', 'Kept µs', 'Deferred µs', 'Saved µs', 'Why not'];
export const SITE_ALIGN: Align[] = ['left', 'left', 'left', 'right', 'right', 'right', 'left'];

function collectiveLine(r: Report): string {
  const t = r.totals;
  return `Statistic collectives take ${percent(t.collectiveShareBaselinePct)} of the baseline latency; deferral hides ${percent(t.hiddenCollectivePct)} of that time.`;
}

/** The saving's parts, the end-to-end figures, memory per device and any warning, a line each. */
function headlineLines(r: Report): string[] {
  const lines = ['', savingLine(r), '', endToEndLine(r), '', memoryLine(r)];
  for (const w of r.memory.warnings) lines.push('', `Warning: ${w}`);
  return lines;
}

/** What a person reads first: per layer kind, the sites, the whole model. */
export function formatTable(r: Report): string {
  const out = [
    `Deferred Norm Profiler: ${r.estimate}`,
    '',
    `Model     ${r.model.name} (${r.model.family}, ${r.model.layers} layers, hidden ${r.model.hidden}, ${count(r.model.params.total)} params${r.model.params.active !== r.model.params.total ? `, ${count(r.model.params.active)} active` : ''})`,
    `Hardware  ${r.hardware.name}: ${r.hardware.title}`,
    `Workload  ${workloadLine(r.workload)}`,
    '',
    table(KIND_HEADER, kindRows(r), KIND_ALIGN),
    '',
    collectiveLine(r),
    ...headlineLines(r),
  ];
  for (const k of r.layerKinds) {
    out.push('', `Sites in ${k.id === 'head' ? 'the head' : `each ${k.id} layer`} (µs per layer):`, table(SITE_HEADER, siteRows(k), SITE_ALIGN));
  }
  if (r.model.notes.length > 0) out.push('', 'Notes:', ...r.model.notes.map((n) => `  - ${n}`));
  out.push('', `Where the numbers come from: deferred-norm hardware show ${r.hardware.name}`, `Does the rewrite keep the numbers: deferred-norm verify ${r.model.source}`);
  return out.join('\n') + '\n';
}

/** One row per run of identical layers (`count` of them from `index`; the head is the last row). */
export function formatCsv(r: Report): string {
  const header = ['index', 'kind', 'baselineUs', 'deferredUs', 'savedUs', 'savedPct', 'deferredSites', 'keptSites', 'ineligibleSites', 'count'];
  const rows = r.layers.map((l) => {
    const names = (d: string) => l.sites.filter((s) => s.decision === d).map((s) => s.name).join('; ');
    return [l.index, l.kind, l.baselineUs.toFixed(4), l.deferredUs.toFixed(4), l.savedUs.toFixed(4), l.baselineUs > 0 ? ((100 * l.savedUs) / l.baselineUs).toFixed(3) : '0', names('defer'), names('keep'), names('ineligible'), l.count];
  });
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}

export function formatMarkdown(r: Report): string {
  const out = [
    `# Deferred normalization: ${md(r.model.name)} on ${md(r.hardware.name)}`,
    '',
    `> ${md(r.estimate)}`,
    '',
    `- **Model:** ${md(r.model.name)} (${md(r.model.family)}, ${r.model.layers} layers, hidden ${r.model.hidden}, ${count(r.model.params.total)} parameters)`,
    `- **Hardware:** ${md(r.hardware.title)} (${md(r.hardware.name)})`,
    `- **Workload:** ${md(workloadLine(r.workload))}`,
    '',
    markdownTable(KIND_HEADER, kindRows(r), KIND_ALIGN),
    '',
    collectiveLine(r),
    ...headlineLines(r).map((line) => (line.startsWith('Warning: ') ? `> **Warning:** ${line.slice('Warning: '.length)}` : line)),
  ];
  for (const k of r.layerKinds) {
    out.push('', `## Sites in ${k.id === 'head' ? 'the head' : `each ${md(k.id)} layer`}`, '', markdownTable(SITE_HEADER, siteRows(k), SITE_ALIGN));
  }
  if (r.model.notes.length > 0) out.push('', '## Notes', '', ...r.model.notes.map((n) => `- ${md(n)}`));
  if (r.numerics) {
    const n = r.numerics;
    const sci = (x: number) => x.toExponential(2);
    out.push(
      '',
      '## Numerics',
      '',
      `Baseline and deferred forms against a float64 reference on seeded tensors shaped like the model's (seed ${n.seed}, accumulation ${n.accumulate}); "within" means the deferred max error is at most ${n.tolerance}× the baseline's.`,
      '',
      markdownTable(
        ['Site', 'Dtype', 'Offset', 'Baseline max', 'Deferred max', 'Deferred mean', 'Within'],
        n.entries.map((e) => [e.site, e.dtype, e.offset ?? '', sci(e.baselineMaxRelErr), sci(e.deferredMaxRelErr), sci(e.deferredMeanRelErr), e.withinBaseline ? 'yes' : 'no']),
        ['left', 'left', 'left', 'right', 'right', 'right', 'left'],
      ),
    );
  }
  if (r.pseudocode) {
    out.push('', '## Rewritten code', '');
    for (const p of r.pseudocode) {
      out.push(`### ${md(p.layerKind)}: ${md(p.name)} (${p.decision})`, '', 'Before:', '', fenced(p.before), '', 'After:', '', fenced(p.after), '');
    }
  }
  out.push('', '## Assumptions', '', ...r.assumptions.map((a) => `- ${md(a)}`));
  out.push('', '## Where the hardware numbers come from', '', markdownTable(['Number', 'Source'], Object.entries(r.hardware.provenance), ['left', 'left']));
  if (r.hardware.sources.length > 0) out.push('', ...r.hardware.sources.map((s) => `- \\[${md(s.id)}\\] ${md(s.citation)}`));
  return out.join('\n') + '\n';
}

/** A code block whose fence is longer than any backtick run inside it, so no text can close it early. */
function fenced(code: string): string {
  const longest = Math.max(0, ...(code.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}python\n${code}\n${fence}`;
}

interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

/**
 * Chrome Trace Event JSON (opens in Perfetto and chrome://tracing): baseline and
 * deferred as two processes, one track per engine, one layer of each kind laid
 * out one after the other.
 */
export function toChromeTrace(r: Report, sim: Simulation): string {
  const events: TraceEvent[] = [];
  const runs = [
    { pid: 1, label: 'baseline', pick: (k: Simulation['kinds'][number]) => k.baseline },
    { pid: 2, label: 'deferred', pick: (k: Simulation['kinds'][number]) => k.deferred },
  ];
  for (const { pid, label, pick } of runs) {
    events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: `${label} (simulated, ${r.hardware.name})` } });
    ENGINES.forEach((engine, tid) => events.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: engine } }));
    let offsetUs = 0;
    for (const kind of sim.kinds) {
      const run = pick(kind);
      run.graph.ops.forEach((op, i) => {
        events.push({
          name: op.name,
          cat: op.category,
          ph: 'X',
          pid,
          tid: ENGINES.indexOf(op.engine),
          ts: offsetUs + run.timeline.start[i]! / 1000,
          dur: (run.timeline.end[i]! - run.timeline.start[i]!) / 1000,
          args: { layerKind: kind.id, layers: ranges(kind.layers), ...(op.site ? { site: op.site } : {}) },
        });
      });
      offsetUs += run.timeline.makespanNs / 1000 + 1;
    }
  }
  return JSON.stringify({ traceEvents: events, displayTimeUnit: 'ns', otherData: { estimate: r.estimate, model: r.model.name, workload: r.workload } });
}
