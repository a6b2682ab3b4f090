/** Before/after pseudo-code per site, and each layer kind as one listing; "Open diff" asks the host for an editor diff. */
import type { PatchView } from '../src/common/protocol';
import type { Report } from '../src/core/report/types';
import { h, replaceChildren } from './dom';
import { button } from './elements';
import { decisionBadge } from './sites';

/** The Export PyTorch Patch… button above the listings (interactive panels only), disabled with the reason when the family is not supported. */
function patchActions(exportPatch: (() => void) | null, patch: PatchView | undefined): HTMLElement | null {
  if (!exportPatch) return null;
  const refused = patch?.refused ?? null;
  const action = button('Export PyTorch Patch…', 'export', exportPatch, true);
  action.disabled = refused !== null;
  const note = refused ?? 'deferred_norm_patch.py: applies the deferred sites below to a loaded PyTorch model, and checks the outputs.';
  return h('div', { className: 'code-actions' }, action, h('span', { className: 'hint', text: note }));
}

export function renderPseudocode(
  body: HTMLElement,
  report: Report,
  openDiff: ((layerKind: string, site: string | null) => void) | null,
  exportPatch: (() => void) | null = null,
  patch?: PatchView,
): void {
  const actions = patchActions(exportPatch, patch);
  const sites = report.pseudocode ?? [];
  if (sites.length === 0) {
    replaceChildren(body, ...(actions ? [actions] : []), h('p', { className: 'empty', text: 'No pseudo-code in this report.' }));
    return;
  }
  const articles = sites.map((site) =>
    h(
      'article',
      { className: 'code-site', attrs: { 'data-site': site.site, 'data-layer-kind': site.layerKind } },
      h(
        'header',
        { className: 'code-site-header' },
        h('h3', { className: 'site-title' }, decisionBadge(site.decision), ' ', h('span', { className: 'site-name', text: site.name }), h('span', { className: 'kind-meta', text: ` · ${site.layerKind}` })),
        openDiff ? button('Open diff', 'diff', () => openDiff(site.layerKind, site.site), true) : null,
      ),
      h(
        'div',
        { className: 'code-pair' },
        h('div', { className: 'code-col' }, h('div', { className: 'code-caption', text: 'Before' }), h('pre', { className: 'code', attrs: { tabindex: 0 } }, h('code', { text: site.before }))),
        h('div', { className: 'code-col' }, h('div', { className: 'code-caption', text: 'After' }), h('pre', { className: 'code', attrs: { tabindex: 0 } }, h('code', { text: site.after }))),
      ),
    ),
  );
  const blocks = (report.pseudocodeBlocks ?? []).map((b) =>
    h(
      'details',
      { className: 'code-block' },
      h('summary', { text: `Whole layer "${b.layerKind}", one line per simulated op` }),
      h(
        'div',
        { className: 'code-pair' },
        h('div', { className: 'code-col' }, h('div', { className: 'code-caption', text: 'Baseline' }), h('pre', { className: 'code', attrs: { tabindex: 0 } }, h('code', { text: b.baseline }))),
        h('div', { className: 'code-col' }, h('div', { className: 'code-caption', text: 'Deferred' }), h('pre', { className: 'code', attrs: { tabindex: 0 } }, h('code', { text: b.deferred }))),
      ),
    ),
  );
  replaceChildren(body, ...(actions ? [actions] : []), ...articles, ...blocks);
}
