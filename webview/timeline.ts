/**
 * One layer's engine timeline: lanes matrix / vector / collective / memory,
 * baseline above deferred on one time axis, so the statistic gather is seen
 * moving from before the matmul to under it.
 */
import { axisBottom } from 'd3-axis';
import { scaleLinear, type ScaleLinear } from 'd3-scale';
import type { KindTimeline, ScheduleView, TimelineOp } from '../src/core/report/timeline';

// The report's own names for engines and op categories (the webview reads the Report, not the simulator).
type Engine = TimelineOp['engine'];
type OpCategory = TimelineOp['category'];
import type { Report } from '../src/core/report/types';
import { axisGroup, keyboardMarks, svgOf } from './chart';
import { h, replaceChildren, s, widthOf } from './dom';
import { select, labelFor, type SelectElement } from './elements';
import { usFine } from './format';
import { attachTooltip } from './tooltip';

const LANES: readonly Engine[] = ['matrix', 'vector', 'collective', 'memory'];
const ROW = 16;
const ROW_GAP = 3;
const LANE_PAD = 5;
const MARGIN = { top: 6, right: 32, bottom: 26, left: 84 };
/** Concurrent ops of one lane are stacked in rows up to this many; past it they overlap. */
const MAX_ROWS = 4;

const CATEGORY_STYLE: Record<OpCategory, { fill: string; label: string; opacity?: number }> = {
  linear: { fill: 'var(--vscode-charts-blue)', label: 'linear (matmul)' },
  attention: { fill: 'var(--vscode-charts-purple)', label: 'attention matmul' },
  'norm-stat': { fill: 'var(--vscode-charts-yellow)', label: 'norm statistic (Σx, Σx²)' },
  'norm-apply': { fill: 'var(--vscode-charts-orange)', label: 'normalize' },
  softmax: { fill: 'var(--vscode-charts-orange)', label: 'softmax', opacity: 0.55 },
  'stat-collective': { fill: 'var(--vscode-charts-red)', label: 'statistic gather (collective)' },
  epilogue: { fill: 'var(--vscode-charts-green)', label: 'epilogue (scale by r)' },
  elementwise: { fill: 'var(--vscode-charts-lines)', label: 'elementwise' },
  allreduce: { fill: 'var(--vscode-charts-lines)', label: 'all-reduce (tensor parallel)' },
  memory: { fill: 'var(--vscode-charts-lines)', label: 'memory transfer' },
};

interface PlacedOp {
  op: TimelineOp;
  row: number;
}

/** Greedy interval packing: each op takes the first row of its lane that is free at its start. */
function packLane(ops: readonly TimelineOp[]): { placed: PlacedOp[]; rows: number } {
  const rowEnds: number[] = [];
  const placed = [...ops]
    .sort((a, b) => a.startUs - b.startUs)
    .map((op) => {
      let row = rowEnds.findIndex((end) => end <= op.startUs + 1e-9);
      if (row < 0) row = rowEnds.length < MAX_ROWS ? rowEnds.length : rowEnds.indexOf(Math.min(...rowEnds));
      rowEnds[row] = Math.max(rowEnds[row] ?? 0, op.endUs);
      return { op, row };
    });
  return { placed, rows: Math.max(1, rowEnds.length) };
}

function siteNames(report: Report, kind: string): Map<string, string> {
  const sites = report.layerKinds.find((k) => k.id === kind)?.sites ?? [];
  return new Map(sites.map((site) => [site.id, site.name]));
}

function opLines(op: TimelineOp, sites: Map<string, string>): string[] {
  return [
    op.name,
    `${op.engine} engine · ${CATEGORY_STYLE[op.category]?.label ?? op.category}`,
    `start ${usFine(op.startUs)}`,
    `duration ${usFine(op.endUs - op.startUs)}`,
    `site: ${op.site === null ? '—' : (sites.get(op.site) ?? op.site)}`,
  ];
}

function scheduleChart(title: string, schedule: ScheduleView, x: ScaleLinear<number, number>, width: number, sites: Map<string, string>): HTMLElement {
  const lanes = LANES.map((engine) => ({ engine, ...packLane(schedule.ops.filter((o) => o.engine === engine)) }));
  const laneHeight = (rows: number) => rows * ROW + (rows - 1) * ROW_GAP + 2 * LANE_PAD;
  const innerH = lanes.reduce((sum, l) => sum + laneHeight(l.rows), 0);
  const height = MARGIN.top + innerH + MARGIN.bottom;
  const svg = svgOf(width, height, `${title}: engine timeline, ${schedule.ops.length} ops, ${usFine(schedule.makespanUs)}`);
  const plot = s('g', { attrs: { transform: `translate(${MARGIN.left},${MARGIN.top})` } });
  const marks: { el: SVGElement; op: TimelineOp }[] = [];
  let top = 0;
  for (const [i, lane] of lanes.entries()) {
    const hgt = laneHeight(lane.rows);
    plot.appendChild(s('rect', { className: `lane-bg${i % 2 ? ' lane-odd' : ''}`, attrs: { x: -MARGIN.left, y: top, width: width, height: hgt } }));
    plot.appendChild(s('text', { className: 'lane-label', text: lane.engine, attrs: { x: -8, y: top + hgt / 2, 'text-anchor': 'end', 'dominant-baseline': 'central' } }));
    const group = s('g', { className: `lane lane-${lane.engine}`, attrs: { 'data-engine': lane.engine } });
    for (const { op, row } of lane.placed) {
      const x0 = x(op.startUs);
      const w = Math.max(1.5, x(op.endUs) - x0);
      const y0 = top + LANE_PAD + row * (ROW + ROW_GAP);
      const isGather = op.category === 'stat-collective';
      const mark = s(
        'g',
        { className: `op op-${op.category}${isGather ? ' op-gather' : ''}`, attrs: { 'data-category': op.category, 'data-engine': op.engine } },
        s('rect', { attrs: { x: x0, y: y0, width: w, height: ROW, rx: 2, fill: CATEGORY_STYLE[op.category]?.fill ?? 'var(--vscode-charts-lines)', 'fill-opacity': CATEGORY_STYLE[op.category]?.opacity } }),
      );
      // Names inside the wide ops; the narrow ones have the tooltip.
      const room = Math.floor((w - 6) / 6.5);
      if (room >= 4) {
        const name = op.name.length > room ? `${op.name.slice(0, room - 1)}…` : op.name;
        mark.appendChild(s('text', { className: 'op-label', text: name, attrs: { x: x0 + 3, y: y0 + ROW / 2, 'dominant-baseline': 'central' } }));
      }
      attachTooltip(mark, () => opLines(op, sites));
      marks.push({ el: mark, op });
      group.appendChild(mark);
    }
    plot.appendChild(group);
    top += hgt;
  }
  svg.append(plot, axisGroup(axisBottom(x).ticks(Math.max(2, Math.floor((width - MARGIN.left) / 90))).tickFormat((v) => `${v} µs`), MARGIN.left, MARGIN.top + innerH, 'axis-x'));
  marks.sort((a, b) => a.op.startUs - b.op.startUs);
  keyboardMarks(
    svg,
    marks.map((m) => m.el),
    (i) => opLines(marks[i]!.op, sites),
  );
  return h(
    'figure',
    { className: 'schedule' },
    h('figcaption', {}, h('span', { className: 'schedule-title', text: title }), h('span', { className: 'schedule-makespan', text: ` one layer: ${usFine(schedule.makespanUs)}` })),
    h('div', { className: 'chart-frame' }, svg),
  );
}

function legend(timeline: KindTimeline): HTMLElement {
  const present = new Set([...timeline.baseline.ops, ...timeline.deferred.ops].map((o) => o.category));
  const items = (Object.keys(CATEGORY_STYLE) as OpCategory[])
    .filter((c) => present.has(c))
    .map((c) => h('span', { className: 'legend-item' }, h('span', { className: `swatch swatch-cat-${c}` }), CATEGORY_STYLE[c].label));
  return h('div', { className: 'legend', attrs: { 'aria-hidden': 'true' } }, ...items);
}

export class TimelineView {
  private kind: string | null = null;
  private data: { report: Report; timelines: KindTimeline[] } | null = null;
  private readonly charts = h('div', { className: 'timeline-charts' });

  constructor(private readonly body: HTMLElement) {}

  /** A new report: the picker is rebuilt (keeping the chosen kind if it still exists), then the charts. */
  render(report: Report, timelines: KindTimeline[]): void {
    this.data = { report, timelines };
    if (timelines.length === 0) {
      replaceChildren(this.body, h('p', { className: 'empty', text: 'No timeline in this report.' }));
      return;
    }
    if (!timelines.some((t) => t.kind === this.kind)) this.kind = timelines[0]!.kind;
    const picker: SelectElement = select(
      'timeline-kind',
      timelines.map((t) => ({ value: t.kind, label: t.label, description: t.kind })),
      this.kind!,
      'Layer kind',
    );
    // Only the charts are redrawn, so the picker keeps focus while one steps through kinds.
    picker.addEventListener('change', () => {
      this.kind = picker.value;
      this.redraw();
    });
    replaceChildren(this.body, h('div', { className: 'field-row' }, labelFor('timeline-kind', 'Layer kind'), picker), this.charts);
    this.redraw();
  }

  redraw(): void {
    if (!this.data) return;
    const { report, timelines } = this.data;
    const timeline = timelines.find((t) => t.kind === this.kind);
    if (!timeline) return;
    const width = Math.max(420, widthOf(this.body));
    const x = scaleLinear()
      .domain([0, Math.max(timeline.baseline.makespanUs, timeline.deferred.makespanUs, 1e-9)])
      .nice()
      .range([0, width - MARGIN.left - MARGIN.right]);
    const sites = siteNames(report, timeline.kind);
    replaceChildren(
      this.charts,
      legend(timeline),
      scheduleChart('Baseline', timeline.baseline, x, width, sites),
      scheduleChart('Deferred', timeline.deferred, x, width, sites),
      h('p', { className: 'hint', text: 'Outlined in red: the statistic gathers (collectives). Hover an op, or focus a chart and use the arrow keys.' }),
    );
  }
}
