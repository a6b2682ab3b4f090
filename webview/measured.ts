/**
 * Measured beside simulated: the newest measurements file beside the model (deferred-norm measure, or
 * Measure on This Machine), its standard and deferred norm → projection blocks against the simulator's
 * estimate of the same blocks, with the measurement's provenance. Computed in the core
 * (common/panel-view.ts measuredView); this only lays it out, every string as text.
 */
import type { MeasuredView } from '../src/common/protocol';
import { h, replaceChildren, section } from './dom';
import { pct, us } from './format';

/** The section, placed by main.ts after the sites table; hidden while there is no measurement. */
export const measuredSection = section('measured', 'Measured beside simulated');

const signed = (v: number) => `${v >= 0 ? '+' : '−'}${pct(Math.abs(v))}`;
const error = (simulated: number, measured: number) => signed((100 * (simulated - measured)) / measured);

export function renderMeasured(view: MeasuredView | undefined): void {
  const { root, body } = measuredSection;
  root.hidden = view === undefined;
  if (view === undefined) return replaceChildren(body);
  if ('error' in view) return replaceChildren(body, h('p', { className: 'measured-error', text: `The measurements file ${view.file} could not be used: ${view.error}` }));
  const time = view.statistic === 'p10' ? '10th percentile of the samples' : 'median of the samples';
  const head = ['Site', 'M', 'Standard, measured', 'simulated', 'error', 'Deferred, measured', 'simulated', 'error', 'Saving, measured', 'simulated'];
  const rows = view.blocks.map((b) =>
    h(
      'tr',
      {},
      h('th', { attrs: { scope: 'row' }, text: `${b.site} → ${b.consumers.join(', ')}` }),
      h('td', { text: String(b.rows) }),
      h('td', { text: us(b.measuredStandardUs) }),
      h('td', { text: us(b.simulatedStandardUs) }),
      h('td', { text: error(b.simulatedStandardUs, b.measuredStandardUs) }),
      h('td', { text: us(b.measuredDeferredUs) }),
      h('td', { text: us(b.simulatedDeferredUs) }),
      h('td', { text: error(b.simulatedDeferredUs, b.measuredDeferredUs) }),
      h('td', { text: b.resolved ? signed(b.measuredSavingPct) : `${signed(b.measuredSavingPct)} (within noise)` }),
      h('td', { text: signed(b.simulatedSavingPct) }),
    ),
  );
  replaceChildren(
    body,
    h('p', { className: 'measured-provenance', text: `Measured on ${view.device} (torch ${view.torch}, ${view.dtype}, ${view.threads} thread${view.threads === 1 ? '' : 's'}), ${view.date}, from ${view.file}; each time is the ${time}. Simulated on the "${view.hardware}" profile with the stack the harness runs (eager norm, one kernel per op, no epilogue fusion).` }),
    view.blocks.length > 0 &&
      h(
        'table',
        { className: 'data-table measured-table' },
        h('caption', { text: 'Norm → projection blocks: measured beside simulated' }),
        h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { attrs: { scope: 'col' }, text: t })))),
        h('tbody', {}, ...rows),
      ),
    view.notes.length > 0 && h('ul', { className: 'measured-notes' }, ...view.notes.map((n) => h('li', { text: n }))),
  );
}
