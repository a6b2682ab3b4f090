import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { buildPanelView, inputOf } from '../../src/common/panel-view';
import type { PanelView } from '../../src/common/protocol';
import { webviewAssets } from '../../src/cli/html';
import { InputError } from '../../src/core/errors';
import { escapeHtml, exportThemeCss, jsonForScript, panelHtml, standaloneHtml } from '../../src/common/report-html';
import { fixturePath } from './helpers/fixtures';

const SCRIPT_CLOSER = '</script><script>alert(1)</script>';
const PAYLOADS = [SCRIPT_CLOSER, '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>', '<!-- <script>', 'a\u2028b\u2029c', '&amp; &lt;'];

async function viewWithHostileStrings(): Promise<PanelView> {
  const spec = await loadModel(fixturePath('Llama-3.1-8B'));
  const view = buildPanelView(spec, getPreset('dimc'), inputOf(DEFAULT_WORKLOAD), { hardware: 'dimc', hardwareChoices: [], interactive: false, numerics: null, sweep: null });
  view.report.model.name = SCRIPT_CLOSER;
  view.report.model.architecture = PAYLOADS.join(' ');
  view.report.layerKinds[0]!.sites[0]!.name = '"><svg onload=alert(1)>';
  view.report.pseudocode![0]!.before = PAYLOADS.join('\n');
  return view;
}

/** Every element start tag of a kind, with its attributes as written. */
function startTags(html: string, tag: string): string[] {
  return [...html.matchAll(new RegExp(`<${tag}(\\s[^>]*)?>`, 'gi'))].map((m) => m[0]);
}

function cspOf(html: string): Map<string, string[]> {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(m, 'a CSP meta element');
  const directives = new Map<string, string[]>();
  for (const part of m[1]!.replace(/&#39;/g, "'").split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name, values);
  }
  return directives;
}

const ASSETS = { script: 'console.log("</script><!-- x"); /* </SCRIPT> */', style: 'body { color: red } /* </style><img src=x onerror=alert(1)> */' };

test('the data block round-trips the view and no string in it can close the tag', async () => {
  const view = await viewWithHostileStrings();
  const html = standaloneHtml(view, ASSETS);
  const open = /<script type="application\/json" id="dnp-data" nonce="[^"]+">/.exec(html);
  assert.ok(open);
  const start = open.index + open[0].length;
  const end = html.indexOf('</script>', start);
  const json = html.slice(start, end);
  assert.doesNotMatch(json, /[<>&\u2028\u2029]/, 'no raw <, >, & or line separators');
  assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(view)));
  // Exactly two scripts (the data and the bundle), each closed once.
  assert.equal(startTags(html, 'script').length, 2);
  assert.equal(html.match(/<\/script/gi)!.length, 2);
  assert.equal(html.match(/<\/style/gi)!.length, startTags(html, 'style').length);
  assert.ok(!html.replace(ASSETS.style.replace('</', '<\\/'), '').includes('<img'), 'the payload never appears as a tag');
  assert.ok(!html.includes('<svg'));
});

test('jsonForScript escapes <, >, &, U+2028 and U+2029 as \\u escapes', () => {
  assert.equal(jsonForScript({ a: '</script>&\u2028\u2029' }), '{"a":"\\u003c/script\\u003e\\u0026\\u2028\\u2029"}');
});

test('the export has a nonce-only CSP, and the nonce is on every script and style', async () => {
  const html = standaloneHtml(await viewWithHostileStrings(), ASSETS);
  const csp = cspOf(html);
  const nonce = /'nonce-([^']+)'/.exec(csp.get('script-src')!.join(' '))?.[1];
  assert.ok(nonce && nonce.length >= 22, 'a nonce of at least 128 bits');
  assert.deepEqual(csp.get('default-src'), ["'none'"]);
  assert.deepEqual(csp.get('script-src'), [`'nonce-${nonce}'`]);
  assert.deepEqual(csp.get('style-src'), [`'nonce-${nonce}'`]);
  assert.deepEqual(csp.get('img-src'), ['data:']);
  assert.deepEqual(csp.get('font-src'), ['data:']);
  assert.equal(csp.size, 5, 'no other directive');
  assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
  for (const tag of startTags(html, 'script')) assert.doesNotMatch(tag, /\ssrc=/, 'scripts are inline');
  for (const tag of [...startTags(html, 'script'), ...startTags(html, 'style')]) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
  assert.doesNotMatch(html, /\sstyle=/, 'no style attribute');
  assert.doesNotMatch(html, /<link/, 'nothing linked without codicons');
  // A new document, a new nonce.
  const again = standaloneHtml(await viewWithHostileStrings(), ASSETS);
  assert.notEqual(/<script nonce="([^"]+)">/.exec(again)?.[1], nonce);
  assert.ok(/<script nonce="([^"]+)">/.exec(again)?.[1]);
});

test('inlined script and style cannot end their element early', async () => {
  const html = standaloneHtml(await viewWithHostileStrings(), ASSETS);
  assert.ok(html.includes('console.log("<\\/script><\\!-- x"); /* <\\/SCRIPT> */'));
  assert.ok(html.includes('/* <\\/style><img src=x onerror=alert(1)> */'));
  assert.equal(html.match(/<\/style/gi)!.length, 2, 'the theme and the page stylesheet, each closed once');
});

test('the export is themed by fallbacks scoped to html.dnp-export, light and dark', async () => {
  const html = standaloneHtml(await viewWithHostileStrings(), ASSETS);
  assert.match(html, /<html lang="en" class="dnp-export">/);
  const css = exportThemeCss();
  assert.match(css, /^html\.dnp-export \{/);
  assert.match(css, /@media \(prefers-color-scheme: dark\) \{\s*html\.dnp-export \{/);
  // Every variable the page's stylesheet reads has a value in the light set, and each colour a dark one.
  const pageCss = readFileSync(join(__dirname, '..', '..', 'webview', 'report.css'), 'utf8').replace(/body\.vscode-high-contrast[^}]*\}/g, '');
  const [light, dark] = css.split('@media');
  const used = new Set([...pageCss.matchAll(/var\(--vscode-([\w-]+)/g)].map((m) => m[1]!));
  for (const name of used) {
    assert.ok(light!.includes(`--vscode-${name}:`), `light theme sets --vscode-${name}`);
    if (!/font/.test(name)) assert.ok(dark!.includes(`--vscode-${name}:`), `dark theme sets --vscode-${name}`);
  }
  // The panel (inside VS Code) has no such class: the theme's own variables apply there.
  assert.doesNotMatch(panelHtml({ cspSource: 'x', nonce: 'n', scriptUri: 's', styleUri: 'c', codiconUri: 'i', title: 't' }), /dnp-export/);
});

test('codicons, when given, are one nonced stylesheet with the font inlined as data: URLs', async () => {
  const html = standaloneHtml(await viewWithHostileStrings(), {
    ...ASSETS,
    codiconCss: '@font-face { font-family: "codicon"; src: url("./codicon.ttf?abc") format("truetype"); }',
    codiconFont: new Uint8Array([0, 1, 2, 250, 251]),
  });
  const links = startTags(html, 'link');
  assert.equal(links.length, 1);
  const nonce = /<style nonce="([^"]+)">/.exec(html)![1];
  assert.match(links[0]!, new RegExp(`id="vscode-codicon-stylesheet" nonce="${nonce!.replace(/[+/]/g, '\\$&')}" href="data:text/css;base64,`));
  const css = Buffer.from(/href="data:text\/css;base64,([^"]+)"/.exec(links[0]!)![1]!, 'base64').toString('utf8');
  assert.ok(css.includes(`url("data:font/ttf;base64,${Buffer.from([0, 1, 2, 250, 251]).toString('base64')}")`), css);
});

test('panelHtml escapes every attribute and carries the CSP with the webview source', () => {
  const html = panelHtml({
    cspSource: 'https://*.vscode-cdn.net',
    nonce: 'abc+/=',
    scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/x/report.js?a=1&b="2"',
    styleUri: 'https://r/report.css',
    codiconUri: 'https://r/codicon.css',
    title: '"><script>alert(1)</script>',
  });
  assert.ok(html.includes('src="https://file+.vscode-resource.vscode-cdn.net/x/report.js?a=1&#38;b=&#34;2&#34;"'));
  assert.ok(html.includes('<title>&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;</title>'));
  assert.equal(startTags(html, 'script').length, 1);
  const csp = cspOf(html);
  assert.deepEqual(csp.get('default-src'), ["'none'"]);
  assert.deepEqual(csp.get('script-src'), ["'nonce-abc+/='"]);
  assert.deepEqual(csp.get('style-src'), ['https://*.vscode-cdn.net', "'nonce-abc+/='"]);
  assert.deepEqual(csp.get('img-src'), ['https://*.vscode-cdn.net', 'data:']);
  assert.deepEqual(csp.get('font-src'), ['https://*.vscode-cdn.net']);
  const links = startTags(html, 'link');
  assert.equal(links.length, 2);
  assert.ok(links.some((l) => l.includes('id="vscode-codicon-stylesheet"') && l.includes('href="https://r/codicon.css"')));
  for (const tag of [...links, ...startTags(html, 'script')]) assert.ok(tag.includes('nonce="abc+/="'), tag);
});

test('escapeHtml covers the five characters that matter in text and attributes', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
});

test('--format html without a built webview names the file and says to run npm run build', () => {
  assert.throws(
    () => webviewAssets(join(__dirname, 'no-such-dist')),
    (err: unknown) => err instanceof InputError && /no-such-dist\/webview\/report\.js: expected .*npm run build/.test(err.message) && !err.message.includes('\n'),
  );
});
