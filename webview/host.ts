/**
 * The page's link to its host: the VS Code webview API in the panel, nothing in
 * the stand-alone export (which carries its PanelView inline as JSON).
 */
import type { PanelState, PanelView, WebviewMessage } from '../src/common/protocol';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  setState(state: PanelState): void;
  getState(): unknown;
}

declare global {
  // Defined by VS Code inside a webview only; absent in a plain browser.
  // eslint-disable-next-line no-var
  var acquireVsCodeApi: (() => VsCodeApi) | undefined;
}

export interface Host {
  /** True inside VS Code: the controls can re-profile. */
  readonly connected: boolean;
  post(message: WebviewMessage): void;
  saveState(view: PanelView): void;
}

/** acquireVsCodeApi may be called only once per page. */
export function connectHost(): Host {
  const api = typeof globalThis.acquireVsCodeApi === 'function' ? globalThis.acquireVsCodeApi() : undefined;
  return {
    connected: api !== undefined,
    post: (message) => api?.postMessage(message),
    saveState: (view) => api?.setState({ modelPath: view.report.model.source, hardware: view.hardware, workload: view.workload, kernels: view.kernels }),
  };
}

/** The export's inline data block, or null when the page has none (or it does not parse). */
export function inlineView(): PanelView | null {
  const text = document.getElementById('dnp-data')?.textContent;
  if (!text) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && 'report' in value && 'timelines' in value ? (value as PanelView) : null;
  } catch {
    return null;
  }
}
