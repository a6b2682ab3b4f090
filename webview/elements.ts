/**
 * The @vscode-elements components the page uses, each imported by its own path
 * (the package has no exports map, and importing all of it would triple the bundle).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { h } from './dom';

/** The slice of the components' APIs the views use. */
export interface SelectElement extends HTMLElement {
  value: string;
  disabled: boolean;
}
export interface TextfieldElement extends HTMLElement {
  value: string;
  disabled: boolean;
  readonly: boolean;
  invalid: boolean;
}
export interface ButtonElement extends HTMLElement {
  disabled: boolean;
}

export interface SelectOption {
  value: string;
  label: string;
  description?: string;
}

/** Codicons need their stylesheet on the page (the panel links it; an export may embed it). */
export const hasCodicons = (): boolean => document.getElementById('vscode-codicon-stylesheet') !== null;

export function select(id: string, options: readonly SelectOption[], value: string, label: string): SelectElement {
  const el = h('vscode-single-select', { attrs: { id, 'aria-label': label } }) as SelectElement;
  for (const o of options) {
    el.appendChild(h('vscode-option', { text: o.label, attrs: { value: o.value, description: o.description, selected: o.value === value } }));
  }
  el.value = value;
  return el;
}

/** A count field; `words` also lets it hold a word (the tensor-parallel field's "auto"), so it is a text field. */
export function textfield(id: string, value: string, label: string, words: readonly string[] = []): TextfieldElement {
  const attrs = words.length === 0 ? { type: 'number', min: 1, step: 1, inputmode: 'numeric' } : { type: 'text', placeholder: `${words.join(', ')} or a number`, spellcheck: 'false' };
  const el = h('vscode-textfield', { attrs: { id, 'aria-label': label, ...attrs } }) as TextfieldElement;
  el.value = value;
  el.addEventListener('keydown', keepOwnSelectAll);
  return el;
}

/**
 * VS Code forwards every key a webview gets to the workbench, which answers Ctrl/Cmd+A with a select-all
 * of its own sent back to the page: it lands after the field's own select-all, ~8 ms later on an idle
 * machine and after the first digit typed over the selection on a busy one, so the next digit replaced
 * that one ("128" became "28"; issue 20). The field has selected its text already: the key stops here.
 */
function keepOwnSelectAll(e: KeyboardEvent): void {
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'a') e.stopPropagation();
}

export function button(text: string, icon: string | null, onClick: () => void, secondary = false): ButtonElement {
  const el = h('vscode-button', { text, attrs: { icon: icon !== null && hasCodicons() ? icon : undefined, secondary } }) as ButtonElement;
  el.addEventListener('click', () => {
    if (!el.disabled) onClick();
  });
  return el;
}

export function labelFor(id: string, text: string): HTMLElement {
  return h('vscode-label', { text, attrs: { for: id } });
}
