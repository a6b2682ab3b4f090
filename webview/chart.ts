/** Shared chart plumbing: an SVG of a given size, d3 axes drawn into groups, keyboard stepping over marks. */
import { type Axis, type AxisDomain } from 'd3-axis';
import { select } from 'd3-selection';
import { h, s } from './dom';
import { hideTooltip, showTooltipAt } from './tooltip';

export interface Margins {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export function svgOf(width: number, height: number, label: string): SVGSVGElement {
  return s('svg', { className: 'chart', attrs: { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label } });
}

/** Draws a d3 axis into a new group at (x, y). */
export function axisGroup<D extends AxisDomain>(axis: Axis<D>, x: number, y: number, className: string): SVGGElement {
  const g = s('g', { className: `axis ${className}`, attrs: { transform: `translate(${x},${y})` } });
  select(g).call(axis);
  return g;
}

export function axisLabel(text: string, x: number, y: number, anchor: 'start' | 'middle' | 'end', rotate = false): SVGTextElement {
  return s('text', { className: 'axis-label', text, attrs: { x, y, 'text-anchor': anchor, transform: rotate ? `rotate(-90 ${x} ${y})` : undefined } });
}

/**
 * Makes a chart one tab stop whose arrow keys step through its marks (a bar per
 * layer would otherwise be 127 tab stops), showing each mark's tooltip.
 */
export function keyboardMarks(svg: SVGSVGElement, marks: readonly SVGElement[], lines: (index: number) => readonly string[]): void {
  if (marks.length === 0) return;
  svg.setAttribute('tabindex', '0');
  const label = svg.getAttribute('aria-label') ?? 'Chart';
  svg.setAttribute('aria-label', `${label}: ${marks.length} marks; arrow keys, Home and End step through them`);
  // What the focused mark is, said by screen readers (the tooltip is only seen): a polite live region beside the chart.
  const announcer = h('div', { className: 'visually-hidden chart-announcer', attrs: { 'aria-live': 'polite', 'aria-atomic': 'true' } });
  let current = -1;
  const show = (i: number) => {
    marks[current]?.classList.remove('mark-focused');
    current = Math.max(0, Math.min(marks.length - 1, i));
    const mark = marks[current]!;
    mark.classList.add('mark-focused');
    const text = lines(current);
    showTooltipAt(mark, text);
    // Placed when first needed: the chart is in the page by then (it is built before it is placed).
    if (!announcer.isConnected) svg.after(announcer);
    announcer.textContent = `${text.join('; ')} (${current + 1} of ${marks.length})`;
  };
  svg.addEventListener('keydown', (e) => {
    const step: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (e.key in step) show(current < 0 ? 0 : current + step[e.key]!);
    else if (e.key === 'Home') show(0);
    else if (e.key === 'End') show(marks.length - 1);
    else return;
    e.preventDefault();
  });
  svg.addEventListener('focus', () => show(current < 0 ? 0 : current));
  svg.addEventListener('blur', () => {
    marks[current]?.classList.remove('mark-focused');
    hideTooltip();
  });
}
