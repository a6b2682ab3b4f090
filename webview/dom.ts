/**
 * The only way views build DOM: every string goes in as text (createTextNode /
 * textContent), never as markup, because report strings come from model files.
 * Inline styles are blocked by the CSP, so there is no `style` option here:
 * views use classes, SVG presentation attributes, or el.style.setProperty.
 */

export interface ElementOptions {
  className?: string;
  text?: string;
  /** Attributes set with setAttribute; `style` and event-handler names are refused. */
  attrs?: Record<string, string | number | boolean | undefined>;
}

type Child = Node | string | null | undefined | false;

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyOptions(node: Element, options: ElementOptions | undefined, children: readonly Child[]): void {
  if (options?.className) node.setAttribute('class', options.className);
  for (const [name, value] of Object.entries(options?.attrs ?? {})) {
    // A guard against a future careless call: the CSP would block these anyway.
    if (name === 'style' || name.toLowerCase().startsWith('on')) throw new Error(`dom: refusing attribute ${name}`);
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  if (options?.text !== undefined) node.textContent = options.text;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** An HTML element with text content and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, options?: ElementOptions, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, options?: ElementOptions, ...children: Child[]): HTMLElement;
export function h(tag: string, options?: ElementOptions, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  applyOptions(node, options, children);
  return node;
}

/** An SVG element (the charts draw with these, d3 only for scales and axes). */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, options?: ElementOptions, ...children: Child[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  applyOptions(node, options, children);
  return node;
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

/** A section of the page with an id equal to its PanelSection name, so `reveal` can scroll to it. */
export function section(id: string, title: string): { root: HTMLElement; heading: HTMLHeadingElement; body: HTMLElement } {
  const heading = h('h2', { text: title, attrs: { id: `${id}-title`, tabindex: -1 } });
  const body = h('div', { className: 'section-body' });
  const root = h('section', { className: 'section', attrs: { id, 'aria-labelledby': `${id}-title` } }, heading, body);
  return { root, heading, body };
}

/** Width available to a chart inside its container (a fallback before layout). */
export function widthOf(el: Element, fallback = 720): number {
  const w = el.getBoundingClientRect().width;
  return w > 0 ? Math.floor(w) : fallback;
}
