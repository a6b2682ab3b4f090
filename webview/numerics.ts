/** The numerics check: baseline and deferred forms against a float64 reference (computed by the core). */
import type { NumericsResult } from '../src/core/numerics/types';
import { h, replaceChildren } from './dom';
import { sci } from './format';

export function renderNumerics(body: HTMLElement, numerics: NumericsResult | null): void {
  if (numerics === null) {
    replaceChildren(body, h('p', { className: 'running', attrs: { role: 'status' } }, h('vscode-progress-ring', { className: 'inline-ring', attrs: { 'aria-hidden': 'true' } }), 'running…'));
    return;
  }
  const { shape } = numerics;
  const intro = h('p', {
    className: 'hint',
    text: `Seed ${numerics.seed}; tensors of ${shape.rows} rows × hidden ${shape.hidden}, ${shape.outFeatures} outputs, head_dim ${shape.headDim}, context ${shape.context}; accumulation ${numerics.accumulate}. "Within" means the deferred form's max relative error is at most ${numerics.tolerance}× the baseline's own.`,
  });
  const table = h(
    'table',
    { className: 'data-table numerics-table' },
    h('thead', {}, h('tr', {}, ...['Site', 'Dtype', 'Offset', 'Baseline max', 'Deferred max', 'Deferred mean', 'Within'].map((t, i) => h('th', { text: t, className: i >= 3 && i < 6 ? 'num' : '', attrs: { scope: 'col' } })))),
    h(
      'tbody',
      {},
      ...numerics.entries.map((e) =>
        h(
          'tr',
          { className: e.withinBaseline ? '' : 'row-bad' },
          h('th', { text: e.site, attrs: { scope: 'row' } }),
          h('td', { text: e.dtype }),
          h('td', { text: e.offset ?? '' }),
          h('td', { className: 'num', text: sci(e.baselineMaxRelErr) }),
          h('td', { className: 'num', text: sci(e.deferredMaxRelErr) }),
          h('td', { className: 'num', text: sci(e.deferredMeanRelErr) }),
          h('td', {}, h('span', { className: `badge ${e.withinBaseline ? 'badge-defer' : 'badge-bad'}`, text: e.withinBaseline ? 'yes' : 'NO' })),
        ),
      ),
    ),
  );
  const overflow =
    numerics.overflow.length === 0
      ? null
      : h(
          'div',
          {},
          h('h3', { text: 'Softmax offset and overflow' }),
          h('ul', { className: 'overflow-list' }, ...numerics.overflow.map((o) => h('li', { text: `${o.dtype}, max logit ${o.maxLogit}, offset ${o.offset}: ${o.overflowed ? 'overflows' : 'finite'}. ${o.note}` }))),
        );
  const fold = numerics.layerNormFold
    ? h('p', { text: `LayerNorm fold W̃ = (I − 11ᵀ/n)·diag(γ)·W, c = β·W + b against the unfolded layer in float64: max relative error ${sci(numerics.layerNormFold.maxRelErr)} (${numerics.layerNormFold.ok ? 'ok' : 'WRONG'}).` })
    : null;
  const pass = numerics.entries.every((e) => e.withinBaseline) && (numerics.layerNormFold?.ok ?? true);
  const verdict = h('p', { className: `verdict ${pass ? 'verdict-ok' : 'verdict-bad'}`, text: pass ? 'Every deferred form is within its baseline.' : 'Some deferred form is worse than its baseline beyond the tolerance.' });
  replaceChildren(body, verdict, intro, table, overflow, fold);
}
