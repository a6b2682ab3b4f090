/**
 * The binary-model viewer's only script: the page is static HTML drawn by the extension
 * (src/extension/model-viewer/page.ts). It forwards the button and reports the text it shows,
 * which the extension-host tests read (as the report panel's `rendered` message).
 */
interface ViewerApi {
  postMessage(message: { type: 'rendered'; text: string } | { type: 'openReport' }): void;
}

// Declared by VS Code inside webviews only; typed locally so as not to clash with the report's host.ts.
const acquire = (globalThis as unknown as { acquireVsCodeApi?: () => ViewerApi }).acquireVsCodeApi;
const api = typeof acquire === 'function' ? acquire() : undefined;

document.getElementById('open-report')?.addEventListener('click', () => api?.postMessage({ type: 'openReport' }));
api?.postMessage({ type: 'rendered', text: document.body.innerText || (document.body.textContent ?? '') });
