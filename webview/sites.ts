/**
 * Every rewrite site per layer kind: the decision, where the deferred scale is applied
 * (the CLI's Applied column), both latencies, and under the row, across the table's
 * width: why, the layer's latency at each depth the site allows, and why the scale goes
 * no deeper. Report strings go in as text only.
 */
import { appliedAt } from '../src/core/report/formats';
import type { PatchView, SiteSource } from '../src/common/protocol';
import type { Decision, Report, SiteResult } from '../src/core/report/types';
import { h, replaceChildren } from './dom';
import { usFine } from './format';

const DECISION_TEXT: Record<Decision, string> = { defer: 'deferred', keep: 'kept', ineligible: 'ineligible' };
const COLUMNS: { text: string; className: string }[] = [
  { text: 'Decision', className: 'col-decision' },
  { text: 'Applied', className: 'col-applied' },
  { text: 'PyTorch patch', className: 'col-patch' },
  { text: 'Site', className: 'col-site' },
  { text: 'Kept', className: 'num' },
  { text: 'Deferred', className: 'num' },
  { text: 'Saved', className: 'num' },
];

export function decisionBadge(decision: Decision): HTMLElement {
  return h('span', { className: `badge badge-${decision}`, text: DECISION_TEXT[decision] ?? decision });
}

/** The reason without its "; by depth: …" tail, which the row's depth line shows better. */
function reasonText(site: SiteResult): string {
  return site.depthUs.length > 1 ? site.reason.replace(/; by depth: [^;]*$/, '') : site.reason;
}

/** A sentence from the report, ended once. */
const sentence = (text: string): string => (/[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`);

/** What goes under a site's row: the reason, then (for an eligible site) the depth line and the limit line. */
function siteDetails(site: SiteResult, report: Report): HTMLElement {
  const parts: HTMLElement[] = [h('div', { className: 'reason', text: reasonText(site) })];
  if (site.decision === 'ineligible') return h('div', { className: 'site-depths' }, ...parts);
  if (site.depthUs.length > 1) {
    const items = site.depthUs.flatMap(({ depth, us }, i) => [
      i > 0 ? h('span', { className: 'depth-sep', text: ' · ', attrs: { 'aria-hidden': 'true' } }) : null,
      h('span', { className: `depth-us${depth === site.depth ? ' depth-chosen' : ''}`, attrs: { 'data-depth': depth } }, `${appliedAt({ ...site, depth })} ${usFine(us)}`),
    ]);
    parts.push(h('div', { className: 'depth-line' }, h('span', { className: 'depth-label', text: 'Layer by depth: ' }), ...items.filter((x): x is HTMLElement => x !== null)));
  }
  const held = report.workload.deferDepth === 'linear' && site.kind !== 'softmax';
  if (site.depthLimit !== null || held) {
    const limit = held
      ? `Deferral depth is set to linear (the papers' rewrite).${site.depthLimit !== null ? ` The algebra's own limit: ${sentence(site.depthLimit)}` : ''}`
      : sentence(site.depthLimit ?? '');
    parts.push(h('div', { className: 'depth-limit' }, h('span', { className: 'depth-label', text: 'Not deeper: ' }), h('span', { className: 'depth-limit-text', text: limit })));
  }
  return h('div', { className: 'site-depths' }, ...parts);
}

/** The site's name; a link to where it comes from when the host can open it (the panel, not an export). */
function siteName(kind: string, site: SiteResult, sources: readonly SiteSource[], open: SiteLink | null): HTMLElement {
  const source = open ? sources.find((x) => x.layerKind === kind && x.site === site.id) : undefined;
  if (!open || !source) return h('th', { className: 'site-name', text: site.name, attrs: { scope: 'row' } });
  const link = h('a', { className: 'site-source', text: site.name, attrs: { href: '#', title: source.title, 'data-layer-kind': kind, 'data-site': site.id } });
  link.addEventListener('click', (event) => {
    event.preventDefault();
    open(kind, site.id);
  });
  return h('th', { className: 'site-name', attrs: { scope: 'row' } }, link);
}

/** Asks the host to open the modeling line or config key a site comes from. */
export type SiteLink = (layerKind: string, site: string) => void;

export function renderSites(body: HTMLElement, report: Report, patch: PatchView | undefined, sources: readonly SiteSource[] = [], open: SiteLink | null = null): void {
  const tables = report.layerKinds.map((kind) => {
    const layers = kind.layers.length === 1 ? `layer ${kind.layers[0]}` : `${kind.layers.length} layers`;
    const rows = kind.sites.map((site) => {
      const applied = appliedAt(site);
      // What the host computed; a view from before the column has none.
      const patched = patch?.sites.find((p) => p.layerKind === kind.id && p.site === site.id);
      const main = h(
        'tr',
        { className: 'site-row', attrs: { 'data-site': site.id, 'data-depth': site.depth ?? undefined } },
        h('td', {}, decisionBadge(site.decision)),
        h('td', { className: `applied${applied === '' ? ' applied-none' : ''}`, text: applied === '' ? '—' : applied }),
        h('td', { className: `patch ${patched?.applied ? 'patch-applied' : 'patch-skipped'}`, text: patched?.label ?? '—', attrs: { title: patched?.detail } }),
        siteName(kind.id, site, sources, open),
        h('td', { className: 'num', text: usFine(site.keptUs) }),
        h('td', { className: 'num', text: usFine(site.deferredUs) }),
        h('td', { className: 'num', text: usFine(site.savedUs) }),
      );
      // One tbody per site: the row and the lines under it highlight and read as one.
      const details = h('tr', { className: 'site-details' }, h('td', { attrs: { colspan: 2 } }), h('td', { attrs: { colspan: COLUMNS.length - 2 } }, siteDetails(site, report)));
      return h('tbody', { className: 'site', attrs: { 'data-site': site.id } }, main, details);
    });
    // In a narrow panel the table keeps its columns and scrolls sideways, as the charts do.
    return h('div', { className: 'table-scroll' }, h(
      'table',
      { className: 'data-table sites-table' },
      h('caption', {}, h('span', { className: 'kind-label', text: kind.label }), h('span', { className: 'kind-meta', text: ` (${kind.id}, ${layers})` })),
      h('thead', {}, h('tr', {}, ...COLUMNS.map((c) => h('th', { text: c.text, className: c.className, attrs: { scope: 'col' } })))),
      ...rows,
    ));
  });
  replaceChildren(
    body,
    h('p', { className: 'hint', text: `Latencies are of one layer of the kind, with the other sites as decided. Applied: where the deferred scale is multiplied in. PyTorch patch: what Export PyTorch Patch… does with the site.${open && sources.length > 0 ? ' A site’s name opens where it comes from: its call in the modeling code beside the config, or the config key that sets it.' : ''}` }),
    ...tables,
  );
}
