/** Every rewrite site per layer kind: the decision, why, and both latencies. */
import type { Decision, Report } from '../src/core/report/types';
import { h, replaceChildren } from './dom';
import { usFine } from './format';

const DECISION_TEXT: Record<Decision, string> = { defer: 'deferred', keep: 'kept', ineligible: 'ineligible' };

export function decisionBadge(decision: Decision): HTMLElement {
  return h('span', { className: `badge badge-${decision}`, text: DECISION_TEXT[decision] ?? decision });
}

export function renderSites(body: HTMLElement, report: Report): void {
  const tables = report.layerKinds.map((kind) => {
    const layers = kind.layers.length === 1 ? `layer ${kind.layers[0]}` : `${kind.layers.length} layers`;
    return h(
      'table',
      { className: 'data-table sites-table' },
      h('caption', {}, h('span', { className: 'kind-label', text: kind.label }), h('span', { className: 'kind-meta', text: ` (${kind.id}, ${layers})` })),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Decision', 'Site', 'Reason', 'Kept', 'Deferred', 'Saved'].map((t, i) => h('th', { text: t, className: i >= 3 ? 'num' : i === 0 ? 'col-decision' : i === 1 ? 'col-site' : '', attrs: { scope: 'col' } })),
        ),
      ),
      h(
        'tbody',
        {},
        ...kind.sites.map((site) =>
          h(
            'tr',
            { attrs: { 'data-site': site.id } },
            h('td', {}, decisionBadge(site.decision)),
            h('th', { className: 'site-name', text: site.name, attrs: { scope: 'row' } }),
            h('td', { className: 'reason', text: site.reason }),
            h('td', { className: 'num', text: usFine(site.keptUs) }),
            h('td', { className: 'num', text: usFine(site.deferredUs) }),
            h('td', { className: 'num', text: usFine(site.savedUs) }),
          ),
        ),
      ),
    );
  });
  replaceChildren(body, h('p', { className: 'hint', text: 'Latencies are of one layer of the kind, with the other sites as decided.' }), ...tables);
}
