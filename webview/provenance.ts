/** Where every number of the hardware profile comes from, its sources, and the simulation's assumptions. */
import type { Report } from '../src/core/report/types';
import { h, replaceChildren } from './dom';

export function renderProvenance(body: HTMLElement, report: Report): void {
  const rows = Object.entries(report.hardware.provenance).map(([path, source]) => h('tr', {}, h('th', { attrs: { scope: 'row' } }, h('code', { text: path })), h('td', { text: source })));
  const provenance = h(
    'table',
    { className: 'data-table provenance-table' },
    h('caption', { text: `Hardware profile "${report.hardware.name}": ${report.hardware.title}` }),
    h('thead', {}, h('tr', {}, h('th', { text: 'Number', attrs: { scope: 'col' } }), h('th', { text: 'Source', attrs: { scope: 'col' } }))),
    h('tbody', {}, ...rows),
  );
  const sources = h('dl', { className: 'sources' }, ...report.hardware.sources.flatMap((s) => [h('dt', {}, h('code', { text: `[${s.id}]` })), h('dd', { text: s.citation })]));
  replaceChildren(
    body,
    h('p', { className: 'hardware-description', text: report.hardware.description }),
    provenance,
    h('h3', { text: 'Sources' }),
    sources,
    h('h3', { text: 'Assumptions' }),
    h('ul', { className: 'assumptions' }, ...report.assumptions.map((a) => h('li', { text: a }))),
  );
}
