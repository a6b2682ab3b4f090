/**
 * The words of the modeling-code hover and CodeLens, from a report. Pure (no vscode) so
 * that unit tests read exactly what the editor shows.
 */
import type { Decision, Report } from '../../core/report/types';
import type { FunctionSummary, SiteInLayerKind, SiteMatch } from './match';

const DECISION_WORD: Record<Decision, string> = { defer: 'deferred', keep: 'kept', ineligible: 'ineligible' };

/** µs with the precision a per-layer figure needs: 1.57, 12.3, 154. */
export function formatUs(us: number): string {
  const abs = Math.abs(us);
  return abs >= 100 ? us.toFixed(0) : abs >= 10 ? us.toFixed(1) : us.toFixed(2);
}

/** The lines both sides share at the top (site name, layer kind, the figures) are said once, by the hover. */
function dropSharedHeader(before: string, after: string): { before: string; after: string } {
  const b = before.split('\n');
  const a = after.split('\n');
  let i = 0;
  while (i < b.length && i < a.length && b[i] === a[i] && b[i]!.startsWith('#')) i++;
  return { before: b.slice(i).join('\n'), after: a.slice(i).join('\n') };
}

const fence = (code: string): string => {
  // A fence longer than any backtick run inside, so the code cannot close it.
  const longest = Math.max(2, ...(code.match(/`+/g) ?? []).map((s) => s.length));
  const ticks = '`'.repeat(longest + 1);
  return `${ticks}python\n${code}\n${ticks}`;
};

export interface HoverContext {
  report: Report;
  /** e.g. `decode, context 2048, batch 32, …` (the core's workloadLine). */
  workloadLine: string;
  /** A `command:` link that opens the diff of one site's rewrite. */
  diffLink: (site: SiteInLayerKind) => string;
}

function siteSection(entry: SiteInLayerKind, ctx: HoverContext, several: boolean): string {
  const { site } = entry;
  const hw = ctx.report.hardware.name;
  const lines: string[] = [];
  const where = several ? ` (layer kind ${entry.layerKindLabel})` : '';
  lines.push(`**Deferred norm** · \`${site.name}\`${where} · **${DECISION_WORD[site.decision]}**`);
  if (site.decision === 'defer') {
    const perPass = site.savedUs * entry.layerCount;
    const layers = entry.layerCount === 1 ? '1 layer' : `${entry.layerCount} layers`;
    lines.push(`Saves **${formatUs(site.savedUs)} µs per layer** (${formatUs(site.keptUs)} → ${formatUs(site.deferredUs)} µs), **${formatUs(perPass)} µs per pass** over ${layers}, on \`${hw}\` — simulated estimate.`);
  } else {
    lines.push(`No saving on \`${hw}\` — simulated estimate.`);
  }
  lines.push(site.reason);
  lines.push(`*${ctx.workloadLine}*`);
  const code = ctx.report.pseudocode?.find((p) => p.layerKind === entry.layerKind && p.site === site.id);
  if (code) {
    const { before, after } = dropSharedHeader(code.before, code.after);
    lines.push(`Before:\n\n${fence(before)}`, `After:\n\n${fence(after)}`);
  }
  lines.push(`[Show the rewrite as a diff](${ctx.diffLink(entry)})`);
  return lines.join('\n\n');
}

/** Markdown for a hover on a site's call, definition or softmax. */
export function hoverMarkdown(match: SiteMatch, ctx: HoverContext): string {
  return match.sites.map((s) => siteSection(s, ctx, match.sites.length > 1)).join('\n\n---\n\n');
}

/** "Deferred norm: 2 sites deferred, −3.8 µs per layer on dimc" (and "1 kept" when some are). */
export function lensTitle(summary: FunctionSummary, hardwareName: string): string {
  const several = summary.layerKinds.length > 1;
  const parts = summary.layerKinds.map((k) => {
    const counts: string[] = [];
    if (k.deferred > 0) counts.push(`${k.deferred} ${k.deferred === 1 ? 'site' : 'sites'} deferred`);
    const other = k.sites.length - k.deferred;
    if (other > 0) counts.push(`${other} not deferred`);
    const saving = k.deferred > 0 ? `, −${formatUs(k.savedUsPerLayer)} µs per layer` : '';
    return `${counts.join(', ')}${saving}${several ? ` (${k.layerKind})` : ''}`;
  });
  return `Deferred norm: ${parts.join('; ')} on ${hardwareName}`;
}
