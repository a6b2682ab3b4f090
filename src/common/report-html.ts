/**
 * The report's HTML documents: the panel's shell (scripts and styles loaded from
 * the extension through asWebviewUri) and the stand-alone export (one file, data,
 * script and styles inline). Both under a nonce-only CSP. Pure: no vscode, DOM or Node.
 */
import { jsonSafe, terminalSafe } from '../core/text';
import type { PanelView } from './protocol';

/** Escapes text for an HTML attribute value or element content. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that can sit inside a <script> element: `<`, `>` and `&` become \u escapes
 * (so no string can close the tag or open a comment), and U+2028/2029 too (line
 * terminators in older JavaScript), as are C1 and bidi controls (jsonSafe). JSON.parse reads the escapes
 * back unchanged.
 */
export function jsonForScript(value: unknown): string {
  return jsonSafe(JSON.stringify(value)).replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Script or style text inlined into an element: its end tag written `<\/script`
 * (same meaning in a JS string, regex or comment, and in CSS), and `<!--` broken
 * up, since in a script it switches the HTML parser into an escaped state.
 */
function inlineSafe(text: string, tag: 'script' | 'style'): string {
  return text.replace(new RegExp(`</(${tag})`, 'gi'), '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** A random nonce (base64, 128 bits) from the platform's CSPRNG (Web Crypto: Node 20 and browsers). */
export function makeNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return base64(bytes);
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  // In chunks: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export interface PanelHtmlOptions {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  codiconUri: string;
  title: string;
}

/** What an HTML document of the extension's differs by; everything else (charset, CSP meta, viewport) is shared. */
export interface DocumentParts {
  /** Content-Security-Policy directives, joined with "; ". */
  csp: string[];
  title: string;
  /** Markup after the <title> inside <head> (stylesheets, more metas). */
  head: string;
  body: string;
  /** A class on <html>, e.g. the export's theme-fallback scope. */
  htmlClass?: string;
}

/** An HTML document under its CSP; title and policy are escaped here, head and body arrive as markup. */
export function htmlDocument(d: DocumentParts): string {
  const cls = d.htmlClass ? ` class="${escapeHtml(d.htmlClass)}"` : '';
  return `<!DOCTYPE html>
<html lang="en"${cls}>
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(d.csp.join('; '))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(d.title)}</title>
${d.head}</head>
<body>
${d.body}</body>
</html>
`;
}

/** The panel's document: everything loaded from the extension's dist/webview folder, nothing inline but the page. */
export function panelHtml(o: PanelHtmlOptions): string {
  const nonce = escapeHtml(o.nonce);
  return htmlDocument({
    csp: ["default-src 'none'", `img-src ${o.cspSource} data:`, `style-src ${o.cspSource} 'nonce-${o.nonce}'`, `script-src 'nonce-${o.nonce}'`, `font-src ${o.cspSource}`],
    title: o.title,
    head: `<link rel="stylesheet" id="vscode-codicon-stylesheet" nonce="${nonce}" href="${escapeHtml(o.codiconUri)}">
<link rel="stylesheet" nonce="${nonce}" href="${escapeHtml(o.styleUri)}">
`,
    body: `<script nonce="${nonce}" src="${escapeHtml(o.scriptUri)}"></script>
`,
  });
}

export interface StandaloneAssets {
  /** dist/webview/report.js */
  script: string;
  /** dist/webview/report.css */
  style: string;
  /** codicon.css and its font, embedded only when given (the export's read-only page shows no icons). */
  codiconCss?: string;
  codiconFont?: Uint8Array;
}

/**
 * The --vscode-* variables the page and its components read, for a browser with no
 * VS Code theme: Light Modern's and Dark Modern's values. Scoped to html.dnp-export,
 * which only standaloneHtml sets, so inside VS Code the theme's own values rule.
 */
const LIGHT_THEME: Record<string, string> = {
  'font-family': "system-ui, -apple-system, 'Segoe UI', 'Ubuntu', 'Droid Sans', sans-serif",
  'font-size': '13px',
  'font-weight': 'normal',
  'editor-font-family': "Menlo, Monaco, Consolas, 'Droid Sans Mono', 'Courier New', monospace",
  'editor-font-size': '12px',
  foreground: '#3b3b3b',
  'descriptionForeground': '#5f5f5f',
  'errorForeground': '#c72e0f',
  'editor-background': '#ffffff',
  'editor-foreground': '#3b3b3b',
  'sideBar-background': '#f8f8f8',
  'editorWidget-background': '#f8f8f8',
  'widget-border': '#e5e5e5',
  'widget-shadow': 'rgba(0, 0, 0, 0.16)',
  'panel-border': '#e5e5e5',
  focusBorder: '#005fb8',
  'textLink-foreground': '#005fb8',
  'textLink-activeForeground': '#005fb8',
  'textCodeBlock-background': '#f2f2f2',
  'textBlockQuote-background': '#f8f8f8',
  'textBlockQuote-border': '#e5e5e5',
  'badge-background': '#cccccc',
  'badge-foreground': '#3b3b3b',
  'button-background': '#005fb8',
  'button-foreground': '#ffffff',
  'button-hoverBackground': '#0258a8',
  'button-border': 'rgba(0, 0, 0, 0.1)',
  'button-secondaryBackground': '#e5e5e5',
  'button-secondaryForeground': '#3b3b3b',
  'button-secondaryHoverBackground': '#cccccc',
  'settings-textInputBackground': '#ffffff',
  'settings-textInputForeground': '#3b3b3b',
  'settings-textInputBorder': '#cecece',
  'settings-dropdownBackground': '#ffffff',
  'settings-dropdownForeground': '#3b3b3b',
  'settings-dropdownBorder': '#cecece',
  'settings-dropdownListBorder': '#e5e5e5',
  'input-placeholderForeground': '#767676',
  'inputValidation-errorBackground': '#f2dede',
  'inputValidation-errorBorder': '#be1100',
  'list-activeSelectionBackground': '#e8e8e8',
  'list-activeSelectionForeground': '#000000',
  'list-hoverBackground': '#f2f2f2',
  'list-focusOutline': '#005fb8',
  'progressBar-background': '#005fb8',
  'editorHoverWidget-background': '#f8f8f8',
  'editorHoverWidget-foreground': '#3b3b3b',
  'editorHoverWidget-border': '#c8c8c8',
  'charts-foreground': '#616161',
  'charts-lines': 'rgba(97, 97, 97, 0.5)',
  'charts-red': '#e51400',
  'charts-blue': '#1a85ff',
  'charts-yellow': '#bf8803',
  'charts-orange': '#d18616',
  'charts-green': '#388a34',
  'charts-purple': '#652d90',
  'editorWarning-foreground': '#bf8803',
  'inputValidation-warningBorder': '#b89500',
  'inputValidation-warningBackground': '#f6f5d2',
};
const DARK_THEME: Record<string, string> = {
  foreground: '#cccccc',
  'descriptionForeground': '#9d9d9d',
  'errorForeground': '#f85149',
  'editor-background': '#1f1f1f',
  'editor-foreground': '#cccccc',
  'sideBar-background': '#181818',
  'editorWidget-background': '#202020',
  'widget-border': '#313131',
  'widget-shadow': 'rgba(0, 0, 0, 0.36)',
  'panel-border': '#2b2b2b',
  focusBorder: '#0078d4',
  'textLink-foreground': '#4daafc',
  'textLink-activeForeground': '#4daafc',
  'textCodeBlock-background': '#2b2b2b',
  'textBlockQuote-background': '#2b2b2b',
  'textBlockQuote-border': '#616161',
  'badge-background': '#616161',
  'badge-foreground': '#f8f8f8',
  'button-background': '#0078d4',
  'button-foreground': '#ffffff',
  'button-hoverBackground': '#026ec1',
  'button-border': 'rgba(255, 255, 255, 0.07)',
  'button-secondaryBackground': '#313131',
  'button-secondaryForeground': '#cccccc',
  'button-secondaryHoverBackground': '#3c3c3c',
  'settings-textInputBackground': '#313131',
  'settings-textInputForeground': '#cccccc',
  'settings-textInputBorder': '#3c3c3c',
  'settings-dropdownBackground': '#313131',
  'settings-dropdownForeground': '#cccccc',
  'settings-dropdownBorder': '#3c3c3c',
  'settings-dropdownListBorder': '#454545',
  'input-placeholderForeground': '#989898',
  'inputValidation-errorBackground': '#5a1d1d',
  'inputValidation-errorBorder': '#be1100',
  'list-activeSelectionBackground': '#04395e',
  'list-activeSelectionForeground': '#ffffff',
  'list-hoverBackground': '#2a2d2e',
  'list-focusOutline': '#0078d4',
  'progressBar-background': '#0078d4',
  'editorHoverWidget-background': '#202020',
  'editorHoverWidget-foreground': '#cccccc',
  'editorHoverWidget-border': '#454545',
  'charts-foreground': '#cccccc',
  'charts-lines': 'rgba(204, 204, 204, 0.5)',
  'charts-red': '#f14c4c',
  'charts-blue': '#3794ff',
  'charts-yellow': '#cca700',
  'charts-orange': '#d18616',
  'charts-green': '#89d185',
  'charts-purple': '#b180d7',
  'editorWarning-foreground': '#cca700',
  'inputValidation-warningBorder': '#b89500',
  'inputValidation-warningBackground': '#352a05',
};

const declarations = (vars: Record<string, string>): string =>
  Object.entries(vars)
    .map(([name, value]) => `  --vscode-${name}: ${value};`)
    .join('\n');

/** The theme fallbacks, light by default and dark when the browser prefers it. */
export function exportThemeCss(): string {
  return `html.dnp-export {\n  color-scheme: light;\n${declarations(LIGHT_THEME)}\n}\n@media (prefers-color-scheme: dark) {\n html.dnp-export {\n  color-scheme: dark;\n${declarations(DARK_THEME)}\n }\n}\n`;
}

/** codicon.css with its font inlined, as a data: URL the components' shadow roots can link to as well. */
function codiconLink(css: string, font: Uint8Array, nonce: string): string {
  const inlined = css.replace(/url\((["']?)\.\/codicon\.ttf[^)"']*\1\)/g, `url("data:font/ttf;base64,${base64(font)}")`);
  const href = `data:text/css;base64,${base64(new TextEncoder().encode(inlined))}`;
  return `<link rel="stylesheet" id="vscode-codicon-stylesheet" nonce="${nonce}" href="${href}">\n`;
}

/** One self-contained HTML file showing the view as the panel does (controls read-only). */
export function standaloneHtml(view: PanelView, assets: StandaloneAssets): string {
  const nonce = makeNonce();
  const title = `Deferred Norm: ${terminalSafe(view.report.model.name)}`;
  const codicons = assets.codiconCss !== undefined && assets.codiconFont !== undefined ? codiconLink(assets.codiconCss, assets.codiconFont, nonce) : '';
  return htmlDocument({
    csp: ["default-src 'none'", `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, 'img-src data:', 'font-src data:'],
    title,
    htmlClass: 'dnp-export',
    head: `<meta name="color-scheme" content="light dark">
<meta name="generator" content="deferred-norm (Deferred Norm Profiler)">
${codicons}<style nonce="${nonce}">
${inlineSafe(exportThemeCss(), 'style')}</style>
<style nonce="${nonce}">
${inlineSafe(assets.style, 'style')}
</style>
`,
    body: `<script type="application/json" id="dnp-data" nonce="${nonce}">${jsonForScript(view)}</script>
<script nonce="${nonce}">
${inlineSafe(assets.script, 'script')}
</script>
`,
  });
}
