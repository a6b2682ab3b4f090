/**
 * The binary-model viewer's page, rendered on the extension side as static HTML: the header's
 * metadata and tensors, the parameter count and the profile's headline. Every string from the
 * file goes through escapeHtml; the one script (dist/webview/model-viewer.js) only reports what
 * was drawn and forwards the button. Pure: no vscode, no DOM, no Node.
 */
import type { ModelFileHeader } from '../../core/model/file-header';
import type { HeadlineFigures } from '../../core/report/brief';
import { byteCount, count } from '../../core/report/text';
import { escapeHtml, htmlDocument } from '../../common/report-html';

export interface ViewerProfile {
  figures: HeadlineFigures;
  hardwareName: string;
  hardwareTitle: string;
  /** workloadLine() of the report. */
  workload: string;
  /** The report's estimate sentence. */
  estimate: string;
  params: { total: number; active: number };
}

/** What one viewer shows; each half fails on its own, with the core's one-line error. */
export interface ViewerContent {
  fileName: string;
  fileBytes: number | null;
  header: ModelFileHeader | null;
  headerError: string | null;
  profile: ViewerProfile | null;
  profileError: string | null;
}

export interface ViewerPageOptions {
  cspSource: string;
  nonce: string;
  scriptUri: string;
}

/** What the page sends: its drawn text (the tests' seam, as the report panel's `rendered`), or the button. */
export type ViewerMessage = { type: 'rendered'; text: string } | { type: 'openReport' };

export function parseViewerMessage(raw: unknown): ViewerMessage | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Record<string, unknown>;
  if (m['type'] === 'openReport') return { type: 'openReport' };
  if (m['type'] === 'rendered' && typeof m['text'] === 'string') return { type: 'rendered', text: m['text'] };
  return null;
}

/** 53687091200 → "50.0 GB" (decimal units, as file managers show sizes). */
export const byteSize = (bytes: number): string => byteCount(bytes, 1000);

const e = escapeHtml;

function errorBlock(id: string, message: string): string {
  return `<p class="error" id="${id}" role="alert">${e(message)}</p>`;
}

function profileSection(c: ViewerContent): string {
  const body = c.profile
    ? (() => {
        const p = c.profile;
        const f = p.figures;
        const figure = (label: string, value: string, cls = '') => `<div class="figure${cls}"><div class="label">${e(label)}</div><div class="value">${e(value)}</div></div>`;
        return `<div class="figures">${figure('Saved', `${f.savedPct}`, ' saved')}${figure('Baseline', f.baseline)}${figure('Deferred', f.deferred)}${figure('Saved per pass', f.saved)}</div>
<p class="estimate">Simulated estimate on <strong>${e(p.hardwareName)}</strong> (${e(p.hardwareTitle)}), not a measurement · ${e(p.workload)}</p>
<p class="actions"><button id="open-report" type="button">Open the full report</button></p>`;
      })()
    : errorBlock('profile-error', c.profileError ?? 'No profile.');
  return `<section id="profile" aria-labelledby="profile-title"><h2 id="profile-title">Deferred norms: simulated profile</h2>${body}</section>`;
}

function summary(c: ViewerContent): string {
  const h = c.header;
  const rows: [string, string][] = [];
  if (h) rows.push(['Format', h.formatLabel]);
  if (c.fileBytes !== null) rows.push(['File size', `${byteSize(c.fileBytes)} (header read only)`]);
  if (c.profile) {
    const p = c.profile.params;
    rows.push(['Parameters', `${count(p.total)} (${p.total.toLocaleString('en')})${p.active !== p.total ? `, ${count(p.active)} active per token` : ''}`]);
  }
  if (h) rows.push(['Tensors', `${h.tensorCount.toLocaleString('en')}, ${count(h.elements)} elements (${h.elements.toLocaleString('en')})`]);
  if (h) rows.push(['Metadata keys', h.metadata.length.toLocaleString('en')]);
  return `<dl class="summary">${rows.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`;
}

function metadataSection(h: ModelFileHeader): string {
  const title = h.format === 'gguf' ? 'Metadata' : 'Metadata (__metadata__)';
  const rows = h.metadata.map((r) => `<tr><td class="key">${e(r.key)}</td><td class="val">${e(r.value)}</td></tr>`).join('\n');
  const table = h.metadata.length > 0 ? `<table class="kv"><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : '<p class="muted">None in this file.</p>';
  return `<section id="metadata" aria-labelledby="metadata-title"><h2 id="metadata-title">${title}</h2>${table}</section>`;
}

function tensorSection(h: ModelFileHeader): string {
  const rows = h.tensors.map((t) => `<tr><td class="key">${e(t.name)}</td><td class="num">${e(t.shape)}</td><td>${e(t.dtype)}</td><td class="num">${t.elements.toLocaleString('en')}</td></tr>`).join('\n');
  const more = h.tensorCount > h.tensors.length ? `<p class="muted">… and ${(h.tensorCount - h.tensors.length).toLocaleString('en')} more tensors (the first ${h.tensors.length.toLocaleString('en')} are listed).</p>` : '';
  return `<section id="tensors" aria-labelledby="tensors-title"><h2 id="tensors-title">Tensors</h2><p class="muted">Shapes in ${e(h.shapeOrder)}.</p>
<table><thead><tr><th>Name</th><th class="num">Shape</th><th>Dtype</th><th class="num">Elements</th></tr></thead><tbody>\n${rows}\n</tbody></table>${more}</section>`;
}

const STYLE = `
body { background: var(--vscode-editor-background); color: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); padding: 0 20px 24px; max-width: 1100px; }
h1 { font-size: 1.5em; font-weight: 600; margin: 16px 0 4px; word-break: break-all; }
h2 { font-size: 1.1em; font-weight: 600; margin: 22px 0 8px; }
.muted, .estimate { color: var(--vscode-descriptionForeground); }
.error { color: var(--vscode-errorForeground); background: var(--vscode-inputValidation-errorBackground); border: 1px solid var(--vscode-inputValidation-errorBorder); padding: 8px 10px; white-space: pre-wrap; word-break: break-word; }
#profile { background: var(--vscode-editorWidget-background); border: 1px solid var(--vscode-widget-border, var(--vscode-panel-border)); border-radius: 4px; padding: 4px 16px 8px; margin-top: 12px; }
.figures { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-end; }
.figure .label { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.figure .value { font-size: 1.3em; font-variant-numeric: tabular-nums; }
.figure.saved .value { font-size: 2em; font-weight: 600; color: var(--vscode-charts-green); }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; padding: 4px 12px; font: inherit; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 0; }
dl.summary dt { color: var(--vscode-descriptionForeground); }
dl.summary dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border)); vertical-align: top; }
th { font-weight: 600; color: var(--vscode-descriptionForeground); }
td.key { font-family: var(--vscode-editor-font-family); word-break: break-all; }
/* Keys as wide as the longest (within reason), values take the rest. */
table.kv td.key { width: 1%; min-width: 16em; white-space: nowrap; padding-right: 24px; }
td.val { word-break: break-word; white-space: pre-wrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
`;

/** The whole page under a nonce-only CSP: no inline style attributes, the style block and the script by nonce. */
export function viewerHtml(c: ViewerContent, o: ViewerPageOptions): string {
  const nonce = e(o.nonce);
  const subtitle = c.header ? 'Header only: metadata and tensor list, never tensor data' : 'could not be read';
  const body = c.header
    ? `${summary(c)}\n${profileSection(c)}\n${metadataSection(c.header)}\n${tensorSection(c.header)}`
    : `${errorBlock('header-error', c.headerError ?? 'The header could not be read.')}\n${summary(c)}`;
  return htmlDocument({
    csp: ["default-src 'none'", `style-src 'nonce-${o.nonce}'`, `script-src 'nonce-${o.nonce}'`, `img-src ${o.cspSource}`],
    title: c.fileName,
    head: `<style nonce="${nonce}">${STYLE}</style>\n`,
    body: `<h1>${e(c.fileName)}</h1>
<p class="muted">${e(subtitle)}</p>
${body}
<script nonce="${nonce}" src="${e(o.scriptUri)}"></script>
`,
  });
}
