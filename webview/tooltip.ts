/** One floating tooltip for every chart: text only, positioned with style properties (allowed by the CSP). */
import { h } from './dom';

let tip: HTMLDivElement | undefined;

function element(): HTMLDivElement {
  if (!tip) {
    tip = h('div', { className: 'tooltip', attrs: { role: 'tooltip', id: 'dnp-tooltip', hidden: true } });
    document.body.appendChild(tip);
  }
  return tip;
}

/** Shows lines of text near a point in the viewport (clientX/Y), kept on screen. */
export function showTooltip(lines: readonly string[], clientX: number, clientY: number): void {
  const el = element();
  el.replaceChildren(...lines.map((line, i) => h('div', { className: i === 0 ? 'tooltip-title' : 'tooltip-line', text: line })));
  el.hidden = false;
  const { width, height } = el.getBoundingClientRect();
  const x = Math.min(clientX + 14, window.innerWidth - width - 8);
  const y = clientY + 16 + height > window.innerHeight ? clientY - height - 12 : clientY + 16;
  el.style.setProperty('left', `${Math.max(4, x) + window.scrollX}px`);
  el.style.setProperty('top', `${Math.max(4, y) + window.scrollY}px`);
}

/** For keyboard focus: the tooltip under the focused element. */
export function showTooltipAt(target: Element, lines: readonly string[]): void {
  const r = target.getBoundingClientRect();
  showTooltip(lines, r.left + r.width / 2, r.bottom);
}

export function hideTooltip(): void {
  if (tip) tip.hidden = true;
}

/**
 * Wires hover of a chart mark to the tooltip. Pointer only: Chromium makes an SVG element with a focus
 * listener a Tab stop of its own (a chart of 127 bars was 127 stops, none with a name); the keyboard
 * reaches marks through their chart (chart.ts keyboardMarks: one stop, arrow keys inside).
 */
export function attachTooltip(target: Element, lines: () => readonly string[]): void {
  target.addEventListener('pointerenter', (e) => showTooltip(lines(), (e as PointerEvent).clientX, (e as PointerEvent).clientY));
  target.addEventListener('pointermove', (e) => showTooltip(lines(), (e as PointerEvent).clientX, (e as PointerEvent).clientY));
  target.addEventListener('pointerleave', hideTooltip);
}
