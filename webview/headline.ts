/** The headline: what was profiled, on what, and the whole-model figures. */
import { workloadLine } from '../src/core/report/formats';
import { isOverride } from '../src/core/hardware/profile';
import type { Report } from '../src/core/report/types';
import type { PanelView } from '../src/common/protocol';
import { h, replaceChildren } from './dom';
import { paramCount, pct, us } from './format';

function figure(label: string, value: string, detail: string | null, className = ''): HTMLElement {
  return h(
    'div',
    { className: `figure ${className}`.trim() },
    h('div', { className: 'figure-label', text: label }),
    h('div', { className: 'figure-value', text: value }),
    detail === null ? null : h('div', { className: 'figure-detail', text: detail }),
  );
}

/**
 * The kernels simulated, each said to be the profile's, the panel's choice, or set before the view
 * was made (`--set` on a CLI export: its provenance says so); null for a view without them.
 */
function kernelsLine(view: Pick<PanelView, 'kernels' | 'profileKernels'>, provenance: Record<string, string>): HTMLElement | null {
  if (!view.profileKernels) return null;
  const item = (what: 'attention' | 'norm', label: string) => {
    const override = view.kernels?.[what] ?? null;
    const own = view.profileKernels[what];
    const given = provenance[`kernels.${what}`];
    const source = override !== null ? ` (chosen in the panel; the profile says ${own})` : isOverride(given) ? ` (${given})` : ' (profile)';
    return h('span', { className: `kernel kernel-${what}${override !== null || isOverride(given) ? ' kernel-override' : ''}` }, `${label} ${override ?? own}`, h('span', { className: 'kernel-source', text: source }));
  };
  return h('p', { className: 'kernels-line' }, h('span', { className: 'fact-label', text: 'Kernels ' }), item('attention', 'attention'), ' · ', item('norm', 'norm'));
}

export function renderHeadline(body: HTMLElement, report: Report, view?: Pick<PanelView, 'kernels' | 'profileKernels'>): void {
  const { model, hardware, totals } = report;
  const params = model.params.active !== model.params.total ? `${paramCount(model.params.total)} params, ${paramCount(model.params.active)} active` : `${paramCount(model.params.total)} params`;
  const title = h('h1', { className: 'model-name', text: model.name });
  const facts = h('p', { className: 'model-facts', text: `${model.family} · ${model.architecture ?? model.modelType} · ${model.layers} layers · hidden ${model.hidden} · ${params}` });
  const hw = h('p', { className: 'hardware-line' }, h('span', { className: 'fact-label', text: 'Hardware ' }), h('span', { className: 'hardware-title', text: hardware.title }), ' ', h('code', { className: 'hardware-name', text: hardware.name }));
  const src = h('p', { className: 'source-line' }, h('span', { className: 'fact-label', text: 'Source ' }), h('code', { className: 'model-source', text: model.source }));
  const wl = h('p', { className: 'workload-line' }, h('span', { className: 'fact-label', text: 'Workload ' }), h('span', { text: workloadLine(report.workload) }));
  const figures = h(
    'div',
    { className: 'figures', attrs: { role: 'group', 'aria-label': 'Whole-model figures' } },
    figure('Baseline', us(totals.baselineUs), 'per pass'),
    figure('Deferred', us(totals.deferredUs), 'per pass'),
    figure('Saved', pct(totals.savedPct), us(totals.savedUs), 'figure-saved'),
    figure('Collective share', pct(totals.collectiveShareBaselinePct), 'of baseline latency'),
    figure('Hidden', pct(totals.hiddenCollectivePct), 'of that collective time'),
  );
  const estimate = h(
    'p',
    { className: 'estimate' },
    h('span', { className: 'estimate-text', text: report.estimate }),
    ' ',
    h('a', { className: 'provenance-link', text: 'Sources and assumptions', attrs: { href: '#provenance' } }),
  );
  const notes = model.notes.length > 0 ? h('ul', { className: 'model-notes' }, ...model.notes.map((n) => h('li', { text: n }))) : null;
  replaceChildren(body, title, facts, src, hw, view ? kernelsLine(view, report.hardware.provenance) : null, wl, figures, estimate, notes);
}

/** The headline as plain text, for the host's `rendered` message. */
export function headlineText(body: HTMLElement): string {
  return Array.from(body.querySelectorAll<HTMLElement>('h1, p, .figure')).map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()).join('\n');
}
