/**
 * Per-layer latency: deferred and saved stacked to the baseline, one bar per layer (126 + head stays readable);
 * past MAX_LAYER_BARS layers, one bar per run of identical layers, as the report lists them.
 */
import { axisBottom, axisLeft } from 'd3-axis';
import { scaleBand, scaleLinear } from 'd3-scale';
import type { LayerResult, Report } from '../src/core/report/types';
import { axisGroup, axisLabel, keyboardMarks, svgOf } from './chart';
import { h, replaceChildren, s, widthOf } from './dom';
import { pct, usFine } from './format';
import { attachTooltip } from './tooltip';

const HEIGHT = 260;
const MARGIN = { top: 12, right: 12, bottom: 40, left: 64 };

function legend(): HTMLElement {
  const item = (className: string, text: string) => h('span', { className: 'legend-item' }, h('span', { className: `swatch ${className}` }), text);
  return h('div', { className: 'legend', attrs: { 'aria-hidden': 'true' } }, item('swatch-deferred', 'Deferred latency'), item('swatch-saved', 'Saved by deferral'), item('swatch-head', 'Head (final norm → lm_head)'));
}

/** One bar per layer up to this many; past it, one bar per run of identical layers. */
const MAX_LAYER_BARS = 512;

interface Bar {
  label: string;
  index: number;
  count: number;
  figures: LayerResult;
}

/** The report's runs (`count` layers from `index`) as bars: spread out to one per layer while they fit. */
function barsOf(report: Report): Bar[] {
  const head = report.model.layers;
  // A panel restored from an older report has entries without count: one layer each.
  const countOf = (l: LayerResult) => l.count ?? 1;
  const label = (first: number, count: number) => (first === head ? 'head' : count === 1 ? String(first) : `${first}–${first + count - 1}`);
  const total = report.layers.reduce((n, l) => n + countOf(l), 0);
  if (total <= MAX_LAYER_BARS) {
    return report.layers.flatMap((l) => Array.from({ length: countOf(l) }, (_, j) => ({ label: label(l.index + j, 1), index: l.index + j, count: 1, figures: l })));
  }
  return report.layers.map((l) => ({ label: label(l.index, countOf(l)), index: l.index, count: countOf(l), figures: l }));
}

export function renderLayersChart(body: HTMLElement, report: Report): void {
  const layers = barsOf(report);
  const headIndex = report.model.layers;
  const width = Math.max(360, widthOf(body));
  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;

  const x = scaleBand<string>()
    .domain(layers.map((l) => l.label))
    .range([0, innerW])
    .paddingInner(layers.length > 60 ? 0.15 : 0.25)
    .paddingOuter(0.1);
  const y = scaleLinear()
    .domain([0, layers.reduce((m, l) => Math.max(m, l.figures.baselineUs), 1e-9)])
    .nice(5)
    .range([innerH, 0]);

  // Label every k-th layer so the labels never collide, and always the head.
  const step = Math.max(1, Math.ceil(layers.length / Math.max(1, Math.floor(innerW / 34))));
  const last = layers.length - 1;
  const ticks = x.domain().filter((label, i) => label === 'head' || (i % step === 0 && (layers[last]!.label !== 'head' || last - i >= step / 2 + 1)));
  const svg = svgOf(width, HEIGHT, `Latency per layer of ${report.model.name}, baseline and deferred`);
  const plot = s('g', { attrs: { transform: `translate(${MARGIN.left},${MARGIN.top})` } });
  svg.append(
    axisGroup(axisLeft(y).ticks(5).tickSizeInner(-innerW).tickFormat((v) => `${v}`), MARGIN.left, MARGIN.top, 'axis-y grid'),
    axisGroup(axisBottom(x).tickValues(ticks).tickSizeOuter(0), MARGIN.left, MARGIN.top + innerH, 'axis-x'),
    axisLabel('µs per layer', 14, MARGIN.top + innerH / 2, 'middle', true),
    axisLabel('layer', MARGIN.left + innerW / 2, HEIGHT - 4, 'middle'),
    plot,
  );

  const bars: SVGGElement[] = [];
  const lines = (i: number): string[] => {
    const { figures: l, ...bar } = layers[i]!;
    const kind = report.layerKinds.find((k) => k.id === l.kind);
    return [
      bar.index === headIndex ? 'Head (final norm → lm_head)' : bar.count === 1 ? `Layer ${bar.index}` : `Layers ${bar.label} (${bar.count.toLocaleString('en-US')} alike)`,
      `kind: ${kind?.label ?? l.kind}`,
      `baseline ${usFine(l.baselineUs)}`,
      `deferred ${usFine(l.deferredUs)}`,
      `saved ${usFine(l.savedUs)} (${pct(l.baselineUs > 0 ? (100 * l.savedUs) / l.baselineUs : 0)})`,
    ];
  };
  layers.forEach(({ label, index, figures: l }, i) => {
    const x0 = x(label) ?? 0;
    const isHead = index === headIndex;
    const bar = s(
      'g',
      { className: `layer-bar${isHead ? ' layer-bar-head' : ''}`, attrs: { 'data-layer': index } },
      // A full-height hit area so thin or short bars are easy to hover.
      s('rect', { className: 'hit', attrs: { x: x0, y: 0, width: x.bandwidth(), height: innerH, fill: 'transparent' } }),
      s('rect', { className: 'bar-deferred', attrs: { x: x0, y: y(l.deferredUs), width: x.bandwidth(), height: Math.max(0, innerH - y(l.deferredUs)), fill: isHead ? 'var(--vscode-charts-purple)' : 'var(--vscode-charts-blue)' } }),
      s('rect', { className: 'bar-saved', attrs: { x: x0, y: y(l.baselineUs), width: x.bandwidth(), height: Math.max(0, y(l.deferredUs) - y(l.baselineUs)), fill: 'var(--vscode-charts-green)' } }),
    );
    attachTooltip(bar, () => lines(i));
    bars.push(bar);
    plot.appendChild(bar);
  });
  keyboardMarks(svg, bars, lines);
  replaceChildren(body, legend(), h('div', { className: 'chart-frame' }, svg), h('p', { className: 'hint', text: 'Hover a bar, or focus the chart and use the arrow keys, to read a layer’s figures.' }));
}
