/** Savings along one workload axis: saved % (left axis) and saved µs (right axis) on a log2 x axis. */
import { axisBottom, axisLeft, axisRight } from 'd3-axis';
import { scaleLinear, scaleLog } from 'd3-scale';
import type { SweepView } from '../src/common/protocol';
import { axisGroup, axisLabel, keyboardMarks, svgOf } from './chart';
import { h, replaceChildren, s, widthOf } from './dom';
import { int, pct, us } from './format';
import { attachTooltip } from './tooltip';

const HEIGHT = 260;
const MARGIN = { top: 14, right: 72, bottom: 42, left: 60 };

const AXIS_TEXT: Record<SweepView['axis'], string> = { seq: 'prompt tokens (seq)', context: 'context tokens', batch: 'batch', tp: 'tensor-parallel degree' };

export function renderSweep(body: HTMLElement, sweep: SweepView | null, interactive: boolean): void {
  if (sweep === null || sweep.points.length === 0) {
    replaceChildren(body, h('p', { className: 'empty', text: interactive ? 'No sweep yet: pick an axis under Controls and press Sweep.' : 'No sweep in this export.' }));
    return;
  }
  const axis = sweep.axis;
  const points = [...sweep.points].sort((a, b) => a[axis] - b[axis]);
  const width = Math.max(420, widthOf(body));
  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xs = points.map((p) => p[axis]);
  const x = scaleLog()
    .base(2)
    .domain([Math.min(...xs), Math.max(Math.max(...xs), Math.min(...xs) * 2)])
    .range([0, innerW]);
  const yPct = scaleLinear()
    .domain([Math.min(0, ...points.map((p) => p.savedPct)), Math.max(1, ...points.map((p) => p.savedPct))])
    .nice(5)
    .range([innerH, 0]);
  const yUs = scaleLinear()
    .domain([Math.min(0, ...points.map((p) => p.savedUs)), Math.max(1e-9, ...points.map((p) => p.savedUs))])
    .nice(5)
    .range([innerH, 0]);

  const svg = svgOf(width, HEIGHT, `Saved latency against ${AXIS_TEXT[axis]}`);
  const plot = s('g', { attrs: { transform: `translate(${MARGIN.left},${MARGIN.top})` } });
  const path = (y: (p: (typeof points)[number]) => number) => points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[axis]).toFixed(1)},${y(p).toFixed(1)}`).join('');
  plot.append(
    s('path', { className: 'line line-us', attrs: { d: path((p) => yUs(p.savedUs)), fill: 'none', stroke: 'var(--vscode-charts-green)', 'stroke-width': 1.5, 'stroke-dasharray': '4 3' } }),
    s('path', { className: 'line line-pct', attrs: { d: path((p) => yPct(p.savedPct)), fill: 'none', stroke: 'var(--vscode-charts-blue)', 'stroke-width': 2 } }),
  );
  const lines = (i: number): string[] => {
    const p = points[i]!;
    return [`${AXIS_TEXT[axis]} = ${int(p[axis])}`, `saved ${pct(p.savedPct)} (${us(p.savedUs)})`, `baseline ${us(p.baselineUs)}`, `deferred ${us(p.deferredUs)}`, `collective share ${pct(p.collectiveShareBaselinePct)}, hidden ${pct(p.hiddenCollectivePct)}`];
  };
  const marks = points.map((p, i) => {
    const mark = s(
      'g',
      { className: 'sweep-point', attrs: { 'data-value': p[axis] } },
      s('circle', { attrs: { cx: x(p[axis]), cy: yUs(p.savedUs), r: 3, fill: 'var(--vscode-charts-green)' } }),
      s('circle', { attrs: { cx: x(p[axis]), cy: yPct(p.savedPct), r: 4, fill: 'var(--vscode-charts-blue)' } }),
    );
    attachTooltip(mark, () => lines(i));
    plot.appendChild(mark);
    return mark;
  });
  svg.append(
    axisGroup(axisLeft(yPct).ticks(5).tickSizeInner(-innerW).tickFormat((v) => `${v}%`), MARGIN.left, MARGIN.top, 'axis-y grid'),
    axisGroup(axisRight(yUs).ticks(5).tickFormat((v) => int(Number(v))), MARGIN.left + innerW, MARGIN.top, 'axis-y axis-right'),
    axisGroup(axisBottom(x).tickValues(xs).tickFormat((v) => int(Number(v))), MARGIN.left, MARGIN.top + innerH, 'axis-x'),
    axisLabel('saved %', 14, MARGIN.top + innerH / 2, 'middle', true),
    axisLabel('saved µs per pass', width - 12, MARGIN.top + innerH / 2, 'middle', true),
    axisLabel(`${AXIS_TEXT[axis]} (log scale)`, MARGIN.left + innerW / 2, HEIGHT - 4, 'middle'),
    plot,
  );
  keyboardMarks(svg, marks, lines);
  const item = (className: string, text: string) => h('span', { className: 'legend-item' }, h('span', { className: `swatch ${className}` }), text);
  replaceChildren(
    body,
    h('p', { className: 'hint', text: `On "${sweep.hardware}", every other workload value as in the controls.` }),
    h('div', { className: 'legend', attrs: { 'aria-hidden': 'true' } }, item('swatch-pct', 'saved % (left axis)'), item('swatch-us', 'saved µs (right axis)')),
    h('div', { className: 'chart-frame' }, svg),
  );
}
