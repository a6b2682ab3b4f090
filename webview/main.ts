/**
 * The report page: in the VS Code panel it talks to the extension (ready → view,
 * numerics, sweep, busy, error, reveal); in the stand-alone export it renders the
 * PanelView the page carries inline. It formats and draws; the core computes.
 */
import './report.css';
import './elements';
import type { NumericsResult } from '../src/core/numerics/types';
import type { ValidationHeadline } from '../src/core/validate/validate';
import { parseHostMessage, type HostMessage, type PanelSection, type PanelView, type SweepView } from '../src/common/protocol';
import { ControlsView } from './controls';
import { h, replaceChildren, section } from './dom';
import { headlineText, renderHeadline } from './headline';
import { connectHost, inlineView } from './host';
import { renderLayersChart } from './layers-chart';
import { measuredSection, renderMeasured } from './measured';
import { renderNumerics } from './numerics';
import { renderProvenance } from './provenance';
import { renderPseudocode } from './pseudocode';
import { renderSites } from './sites';
import { renderSweep } from './sweep';
import { TimelineView } from './timeline';
import { hideTooltip } from './tooltip';

const host = connectHost();

const sections = {
  headline: section('headline', 'Summary'),
  controls: section('controls', 'Controls'),
  layers: section('layers', 'Latency per layer'),
  timeline: section('timeline', 'Engine timeline of one layer'),
  sites: section('sites', 'Rewrite sites'),
  numerics: section('numerics', 'Numerics check'),
  pseudocode: section('pseudocode', 'Pseudo-code, before and after'),
  sweep: section('sweep', 'Sweep'),
  provenance: section('provenance', 'Sources, provenance and assumptions'),
} satisfies Record<PanelSection | 'provenance', ReturnType<typeof section>>;
// The summary is the page's first heading; its section title would only repeat it.
sections.headline.heading.classList.add('visually-hidden');

const statusBar = h('div', { className: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
const errorBox = h('div', { className: 'error-box', attrs: { role: 'alert', hidden: true } });
const placeholder = h('p', { className: 'placeholder', text: 'Profiling…' });
const main = h('main', { className: 'report', attrs: { hidden: true } }, ...Object.values(sections).map((s) => s.root));
// Measured beside simulated follows the sites table (shown only when a measurement is beside the model).
sections.sites.root.after(measuredSection.root);
const controls = new ControlsView(sections.controls.body, (m) => host.post(m));
const timeline = new TimelineView(sections.timeline.body);

let current: PanelView | null = null;

function render(view: PanelView): void {
  current = view;
  hideTooltip();
  errorBox.hidden = true;
  placeholder.hidden = true;
  main.hidden = false;
  const { report } = view;
  document.title = `Deferred Norm: ${report.model.name}`;
  const live = view.interactive && host.connected;
  renderHeadlineOf(view);
  controls.update(view);
  renderLayersChart(sections.layers.body, report);
  timeline.render(report, view.timelines);
  renderSites(sections.sites.body, report, view.patch, view.siteSources, live ? (layerKind, site) => host.post({ type: 'openSiteSource', layerKind, site }) : null);
  renderMeasured(view.measured);
  renderNumerics(sections.numerics.body, report.numerics);
  renderPseudocode(
    sections.pseudocode.body,
    report,
    live ? (layerKind, site) => host.post({ type: 'openDiff', layerKind, site }) : null,
    live ? () => host.post({ type: 'exportPytorchPatch' }) : null,
    view.patch,
  );
  renderSweep(sections.sweep.body, view.sweep, view.interactive);
  renderProvenance(sections.provenance.body, report);
  host.saveState(view);
  host.post({ type: 'rendered', headline: headlineText(sections.headline.body) });
}

function showNumerics(numerics: NumericsResult): void {
  if (current) current.report.numerics = numerics;
  renderNumerics(sections.numerics.body, numerics);
}

/** The headline alone: drawn with the view, and again when the validation's line arrives. */
function renderHeadlineOf(view: PanelView): void {
  const live = view.interactive && host.connected;
  renderHeadline(sections.headline.body, view.report, view, live ? () => host.post({ type: 'showValidation' }) : null);
}

function showValidation(validation: ValidationHeadline): void {
  if (!current) return;
  current.validation = validation;
  renderHeadlineOf(current);
  host.saveState(current);
}

function showSweep(sweep: SweepView): void {
  if (current) current.sweep = sweep;
  renderSweep(sections.sweep.body, sweep, current?.interactive ?? true);
}

function showBusy(label: string | null): void {
  document.body.classList.toggle('busy', label !== null);
  replaceChildren(statusBar, label === null ? null : h('vscode-progress-ring', { className: 'inline-ring', attrs: { 'aria-hidden': 'true' } }), label === null ? null : h('span', { text: label }));
}

/** An error never leaves a blank page: the message shows above the last view (or alone). */
function showError(message: string): void {
  replaceChildren(errorBox, h('span', { className: 'error-title', text: 'Could not profile' }), h('pre', { className: 'error-message', text: message }));
  errorBox.hidden = false;
  placeholder.hidden = true;
  errorBox.scrollIntoView({ block: 'nearest' });
}

function reveal(name: PanelSection): void {
  const target = sections[name];
  target.root.scrollIntoView({ behavior: 'smooth', block: 'start' });
  target.heading.focus({ preventScroll: true });
}

function onMessage(message: HostMessage): void {
  switch (message.type) {
    case 'view':
      render(message.view);
      return;
    case 'numerics':
      showNumerics(message.numerics);
      return;
    case 'validation':
      showValidation(message.validation);
      return;
    case 'sweep':
      showSweep(message.sweep);
      return;
    case 'busy':
      showBusy(message.label);
      return;
    case 'error':
      showError(message.message);
      return;
    case 'reveal':
      reveal(message.section);
      return;
  }
}

/** Charts are drawn to the page's width: redraw when it changes (not on every pixel of a drag). */
function watchWidth(): void {
  let lastWidth = main.clientWidth;
  let frame = 0;
  new ResizeObserver(() => {
    if (frame !== 0 || main.clientWidth === lastWidth || !current) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      lastWidth = main.clientWidth;
      if (!current) return;
      renderLayersChart(sections.layers.body, current.report);
      timeline.redraw();
      renderSweep(sections.sweep.body, current.sweep, current.interactive);
    });
  }).observe(main);
}

function start(): void {
  document.body.append(statusBar, errorBox, placeholder, main);
  watchWidth();
  if (host.connected) {
    window.addEventListener('message', (event: MessageEvent<unknown>) => {
      const message = parseHostMessage(event.data);
      if (message) onMessage(message);
      else console.warn('Deferred Norm: ignored an unknown message from the extension', event.data);
    });
    host.post({ type: 'ready' });
    return;
  }
  const view = inlineView();
  if (view) render(view);
  else showError('This page carries no report data (the #dnp-data block is missing or not valid JSON).');
}

start();
