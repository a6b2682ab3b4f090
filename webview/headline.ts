/** The headline: what was profiled, on what, and the whole-model figures. */
import { FIGURE_DEFINITIONS, savingPartsPct, type FigureKey } from '../src/core/report/figures';
import { workloadLine } from '../src/core/report/formats';
import { byteCount } from '../src/core/report/text';
import { tpText } from '../src/core/report/tensor-parallel';
import { isOverride } from '../src/core/hardware/profile';
import type { Report } from '../src/core/report/types';
import type { PanelView } from '../src/common/protocol';
import { h, replaceChildren } from './dom';
import { int, paramCount, pct, us } from './format';

/** One figure; its definition is its tooltip and, for screen readers, its description. */
function figure(label: string, value: string, detail: string | null, className = '', define: FigureKey | null = null): HTMLElement {
  return h(
    'div',
    { className: `figure ${className}`.trim(), attrs: define === null ? {} : { title: FIGURE_DEFINITIONS[define], 'aria-description': FIGURE_DEFINITIONS[define] } },
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

/** Opens the validation report (the panel); null in the stand-alone export, which has no host to ask. */
export type ValidationLink = () => void;

export function renderHeadline(body: HTMLElement, report: Report, view?: Pick<PanelView, 'kernels' | 'profileKernels' | 'validation'>, openValidation: ValidationLink | null = null): void {
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
    ...endToEndFigures(report),
    figure('Baseline', us(totals.baselineUs), `per ${report.workload.phase} pass`, '', 'baseline'),
    figure('Deferred', us(totals.deferredUs), `per ${report.workload.phase} pass`, '', 'deferred'),
    figure('Saved', pct(totals.savedPct), us(totals.savedUs), 'figure-saved', 'saved'),
    figure('Collective share', pct(totals.collectiveShareBaselinePct), 'of baseline latency', '', 'collectiveShare'),
    figure('Hidden', pct(totals.hiddenCollectivePct), 'of that collective time', '', 'hidden'),
  );
  const parts = report.savingParts
    ? h(
        'div',
        { className: 'figures saving-parts', attrs: { role: 'group', 'aria-label': 'Where the saving comes from (the parts add up to Saved)' } },
        h('div', { className: 'parts-lead', text: `Saved ${pct(totals.savedPct)} =` }),
        ...savingPartsPct(report).flatMap((p, i) => [i > 0 ? h('div', { className: 'parts-plus', text: '+', attrs: { 'aria-hidden': 'true' } }) : null, figure(p.label, pct(p.pct), us(p.us), `figure-part figure-${p.key}`, p.key)]),
      )
    : null;
  const estimate = h(
    'p',
    { className: 'estimate' },
    h('span', { className: 'estimate-text', text: report.estimate }),
    ' ',
    h('a', { className: 'provenance-link', text: 'Sources and assumptions', attrs: { href: '#provenance' } }),
  );
  const validation = view?.validation ? validationLine(view.validation, openValidation) : null;
  const notes = model.notes.length > 0 ? h('ul', { className: 'model-notes' }, ...model.notes.map((n) => h('li', { text: n }))) : null;
  replaceChildren(body, title, facts, src, hw, view ? kernelsLine(view, report.hardware.provenance) : null, wl, memoryWarning(report), figures, parts, estimate, validation, definitions(report), notes);
}

/**
 * How far the simulator is from published measurements, as `deferred-norm validate` prints it (issue 19);
 * in the panel a link opens that table, in an export the line names the command.
 */
function validationLine(v: NonNullable<PanelView['validation']>, open: ValidationLink | null): HTMLElement {
  const lead = `Validated against ${v.points} published measurements: held-back error ${pct(v.heldBackErrorPct)} (mean |simulated ÷ measured − 1| over the ${v.heldBack} points no preset was fitted to`;
  if (!open) return h('p', { className: 'validation-line' }, `${lead}; `, h('code', { text: 'deferred-norm validate' }), ' and docs/validation.md in the repository give each one).');
  const link = h('a', { className: 'validation-link', text: 'Show each point', attrs: { href: '#', title: "Open deferred-norm validate's table: every published measurement beside the simulated figure, with its source" } });
  link.addEventListener('click', (event) => {
    event.preventDefault();
    open();
  });
  return h('p', { className: 'validation-line' }, `${lead}). `, link);
}

/** TTFT, TPOT, tokens/s and memory per device, deferred first (what the rewrite gives), baseline beside it. */
function endToEndFigures(report: Report): HTMLElement[] {
  const e = report.endToEnd;
  if (!e) return []; // an export made before these figures existed
  const out: HTMLElement[] = [];
  if (e.ttft) out.push(figure('Time to first token', us(e.ttft.deferredUs), `deferred; baseline ${us(e.ttft.baselineUs)}`, 'figure-ttft', 'ttft'));
  if (e.tpot) out.push(figure('Time per output token', us(e.tpot.deferredUs), `deferred; baseline ${us(e.tpot.baselineUs)}`, 'figure-tpot', 'tpot'));
  if (e.tokensPerSecond) out.push(figure('Tokens/s', int(e.tokensPerSecond.deferred), `deferred; baseline ${int(e.tokensPerSecond.baseline)}`, 'figure-rate', 'tokensPerSecond'));
  const m = report.memory;
  if (m) {
    const tiers = m.tiers.map((t) => `${byteCount(t.usedBytes, 1000)} of ${byteCount(t.capacityBytes, 1000)} ${t.tier}`).join(', ');
    // The degree the memory is split over, and whether TP auto chose it ("TP 16, the smallest that fits").
    out.push(figure('Memory per device', byteCount(m.perDevice.totalBytes, 1000), `${tpText(report.workload)}: ${tiers}`, m.fits ? 'figure-memory' : 'figure-memory figure-over', 'memory'));
  }
  return out;
}

/** A workload that does not fit (or a context past the model's positions): a warning line above the figures. */
function memoryWarning(report: Report): HTMLElement | null {
  const m = report.memory;
  if (!m || m.warnings.length === 0) return null;
  const title = m.fits ? 'Warning' : 'Warning: does not fit as set';
  const d = m.perDevice;
  const split = `Per device: weights ${byteCount(d.weightBytes, 1000)}, KV cache ${byteCount(d.kvBytes, 1000)}, activations ${byteCount(d.activationBytes, 1000)}. The times are simulated as if it fit.`;
  return h(
    'div',
    { className: 'memory-warning', attrs: { role: 'note', 'aria-label': 'Memory warning' } },
    h('strong', { className: 'memory-warning-title', text: title }),
    h('div', {}, ...m.warnings.map((w) => h('p', { className: 'memory-warning-line', text: w })), m.fits ? null : h('p', { className: 'memory-warning-detail', text: split })),
  );
}

/** What each figure means, in words a keyboard or screen-reader user reaches too (the tooltips say the same). */
function definitions(report: Report): HTMLElement {
  const keys: FigureKey[] = ['ttft', 'tpot', 'tokensPerSecond', 'memory', 'baseline', 'deferred', 'saved', 'collectivePart', 'startsPart', 'workPart', 'collectiveShare', 'hidden'];
  const labels: Record<FigureKey, string> = {
    ttft: 'Time to first token',
    tpot: 'Time per output token',
    tokensPerSecond: 'Tokens/s',
    memory: 'Memory per device',
    baseline: 'Baseline',
    deferred: 'Deferred',
    saved: 'Saved',
    collectivePart: 'Collective hidden',
    startsPart: 'Kernel starts removed',
    workPart: 'Vector and memory work removed',
    collectiveShare: 'Collective share',
    hidden: 'Hidden',
  };
  return h(
    'details',
    { className: 'figure-definitions' },
    h('summary', { text: 'What these figures mean' }),
    h('dl', {}, ...keys.flatMap((k) => [h('dt', { text: labels[k] }), h('dd', { text: FIGURE_DEFINITIONS[k] })])),
    report.endToEnd && report.endToEnd.notes.length > 0 ? h('p', { className: 'end-to-end-notes', text: report.endToEnd.notes.join(' ') }) : null,
  );
}

/** The headline as plain text, for the host's `rendered` message. */
export function headlineText(body: HTMLElement): string {
  return Array.from(body.querySelectorAll<HTMLElement>('h1, p, .figure')).map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()).join('\n');
}
