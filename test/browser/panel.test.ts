/**
 * The report webview as the panel runs it: panelHtml's document with the built
 * bundle, under its CSP, and a stand-in for VS Code's webview API that records
 * what the page posts. Checks the message protocol both ways and the controls.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { listPresets, getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import { numericsFor } from '../../src/core/report/numerics';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { buildPanelView, inputOf } from '../../src/common/panel-view';
import type { HostMessage, PanelView, WorkloadInput } from '../../src/common/protocol';
import { panelHtml } from '../../src/common/report-html';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist', 'webview');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

interface Recorded {
  posted: { type: string; [k: string]: unknown }[];
  state: unknown;
}

let browser: Browser;
let page: Page;
let view: PanelView;
/** Llama-3.1-8B on gpu-h100 with the attention kernel overridden to eager, deferral depth linear. */
let h100Eager: PanelView;
const problems: string[] = [];
const warnings: string[] = [];
const offMachine: string[] = [];

const recorded = (): Promise<Recorded> => page.evaluate(() => (window as unknown as { __dnp: Recorded }).__dnp);
const send = (message: HostMessage | Record<string, unknown>) => page.evaluate((m) => window.postMessage(m, '*'), message as unknown as Record<string, unknown>);
const postedOf = async (type: string) => (await recorded()).posted.filter((m) => m.type === type);

before(async () => {
  assert.ok(existsSync(join(DIST, 'report.js')), 'run `npm run build` first');
  const spec = await loadModel(join(ROOT, 'test', 'fixtures', 'configs', 'Llama-3.1-8B'));
  view = buildPanelView(spec, getPreset('dimc'), inputOf(DEFAULT_WORKLOAD), {
    hardware: 'dimc',
    hardwareChoices: listPresets().map((p) => ({ id: p.name, label: p.name, description: p.title, source: 'preset' })),
    interactive: true,
    numerics: null,
    sweep: null,
  });
  (view as { numericsLater?: unknown }).numericsLater = numericsFor(spec, 1);
  h100Eager = buildPanelView(spec, getPreset('gpu-h100'), { ...inputOf(DEFAULT_WORKLOAD), deferDepth: 'linear' }, {
    hardware: 'gpu-h100',
    hardwareChoices: view.hardwareChoices,
    interactive: true,
    numerics: null,
    sweep: null,
    kernels: { attention: 'eager', norm: null },
  });
  // The panel's document, with file: standing in for the webview's resource origin.
  const file = join(mkdtempSync(join(tmpdir(), 'dnp-panel-')), 'panel.html');
  const uri = (name: string) => pathToFileURL(join(DIST, name)).href;
  writeFileSync(file, panelHtml({ cspSource: 'file:', nonce: 'bm9uY2UtZm9yLXRlc3Q=', scriptUri: uri('report.js'), styleUri: uri('report.css'), codiconUri: uri('codicon.css'), title: 'Deferred Norm: test' }));

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ colorScheme: 'light', viewport: { width: 1100, height: 800 } });
  page.on('console', (m) => (m.type() === 'error' ? problems : m.type() === 'warning' ? warnings : []).push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file://') && !r.url().startsWith('data:')) offMachine.push(r.url());
  });
  // A string, not a function: the TypeScript loader would wrap a function's inner closures in helpers the page lacks.
  await page.addInitScript(`
    const record = { posted: [], state: undefined };
    window.__dnp = record;
    document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => record.posted.push(JSON.parse(JSON.stringify(m))),
      setState: (s) => { record.state = s; },
      getState: () => record.state,
    });
  `);
  await page.goto(pathToFileURL(file).href);
});

after(async () => {
  await browser?.close();
});

test('says ready, renders each view, saves the panel state and reports the headline', async () => {
  await page.waitForFunction(() => (window as unknown as { __dnp: Recorded }).__dnp.posted.some((m) => m.type === 'ready'));
  assert.ok(await page.locator('.placeholder').isVisible(), 'a placeholder before the first view, never a blank page');
  await send({ type: 'view', view });
  await page.waitForSelector('#headline h1');
  const state = (await recorded()).state as { modelPath: string; hardware: string; workload: unknown; kernels: unknown };
  assert.deepEqual(state, { modelPath: view.report.model.source, hardware: 'dimc', workload: view.workload, kernels: { attention: null, norm: null } });
  const rendered = await postedOf('rendered');
  assert.equal(rendered.length, 1);
  assert.ok(String(rendered[0]!.headline).includes(`${view.report.totals.savedPct.toFixed(1)}%`));
  assert.ok(String(rendered[0]!.headline).includes(view.report.model.name));
});

test('numerics show "running…" until their message arrives', async () => {
  assert.match(await page.locator('#numerics').innerText(), /running…/);
  const numerics = (view as { numericsLater?: unknown }).numericsLater as { entries: unknown[] };
  await send({ type: 'numerics', numerics });
  assert.equal(await page.locator('#numerics tbody tr').count(), numerics.entries.length);
});

test('a text field posts one profile after typing stops; a select posts at once', async () => {
  const before = (await postedOf('profile')).length;
  const batch = page.locator('#ctl-batch input');
  await batch.fill('');
  await batch.pressSequentially('64', { delay: 30 });
  await page.waitForTimeout(400);
  let profiles = (await postedOf('profile')).slice(before);
  assert.equal(profiles.length, 1, JSON.stringify(profiles));
  assert.deepEqual(profiles[0], { type: 'profile', hardware: 'dimc', workload: { ...view.workload, batch: 64 }, kernels: { attention: null, norm: null } });

  // An invalid count is flagged and not sent.
  await batch.fill('0');
  await page.waitForTimeout(300);
  assert.equal((await postedOf('profile')).length, before + 1);
  assert.equal(await page.locator('#ctl-batch').getAttribute('invalid'), '');
  await batch.fill('64');

  await page.locator('#ctl-hardware').click();
  await page.locator('#ctl-hardware').getByRole('option', { name: /^gpu-h100/ }).click();
  await page.waitForTimeout(50);
  profiles = (await postedOf('profile')).slice(before);
  assert.equal(profiles.at(-1)!.hardware, 'gpu-h100');
});

test('the tensor-parallel field takes "auto" or a number; anything else is flagged and not sent', async () => {
  await send({ type: 'view', view });
  const tp = page.locator('#ctl-tp input');
  const before = (await postedOf('profile')).length;
  await tp.fill('auto');
  await page.waitForTimeout(300);
  let profiles = (await postedOf('profile')).slice(before);
  const tpOf = (m: Recorded['posted'][number] | undefined) => (m?.['workload'] as { tp?: unknown } | undefined)?.tp;
  assert.equal(tpOf(profiles.at(-1)), 'auto');
  await tp.fill('most');
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#ctl-tp').getAttribute('invalid'), '');
  assert.equal((await postedOf('profile')).length, before + profiles.length);
  await tp.fill('8');
  await page.waitForTimeout(300);
  profiles = (await postedOf('profile')).slice(before);
  assert.equal(tpOf(profiles.at(-1)), 8);
  await tp.fill(String(view.workload.tp));
  await page.waitForTimeout(300);
});

test('the validation line links to the validation report: a click posts showValidation; an export has no link', async () => {
  await send({ type: 'view', view: { ...view, validation: { points: 27, heldBack: 19, heldBackErrorPct: 9.2 } } });
  const link = page.locator('#headline .validation-link');
  await link.waitFor();
  assert.equal(await link.innerText(), 'Show each point');
  assert.match(await page.locator('#headline .validation-line').innerText(), /^Validated against 27 published measurements: held-back error 9\.2% .*over the 19 points/);
  const before = (await postedOf('showValidation')).length;
  await link.click();
  assert.equal((await postedOf('showValidation')).length, before + 1);
  await send({ type: 'view', view: { ...view, interactive: false, validation: { points: 27, heldBack: 19, heldBackErrorPct: 9.2 } } });
  await page.locator('#headline .validation-line code').waitFor();
  assert.equal(await page.locator('#headline .validation-link').count(), 0);
  await send({ type: 'view', view });
});

test('the validation line arriving after the view draws the headline alone: the sites table is the same element, its links stay clickable', async () => {
  await send({ type: 'view', view: { ...view, validation: null } });
  await page.locator('#headline h1').waitFor();
  assert.equal(await page.locator('#headline .validation-line').count(), 0);
  await page.evaluate(() => { (document.querySelector('#sites table') as HTMLElement & { __kept?: boolean }).__kept = true; });
  await send({ type: 'validation', validation: { points: 27, heldBack: 19, heldBackErrorPct: 8.0 } });
  await page.locator('#headline .validation-link').waitFor();
  assert.match(await page.locator('#headline .validation-line').innerText(), /held-back error 8\.0% .*over the 19 points/);
  assert.equal(await page.evaluate(() => (document.querySelector('#sites table') as HTMLElement & { __kept?: boolean }).__kept === true), true, 'the sites table was not drawn again');
  await send({ type: 'view', view });
});

/** Picks an option of one of the page's vscode-single-select controls, as a person does. */
async function choose(id: string, option: RegExp): Promise<void> {
  await page.locator(`#${id}`).click();
  await page.locator(`#${id}`).getByRole('option', { name: option }).click();
  await page.waitForTimeout(50);
}

const optionLabels = (id: string) => page.locator(`#${id} vscode-option`).allInnerTexts();
const selected = (id: string) => page.locator(`#${id}`).evaluate((e) => (e as HTMLElement & { value: string }).value);

test('the kernel and depth controls: the profile’s own kernel first, each change posts its override or depth', async () => {
  await send({ type: 'view', view });
  await page.waitForFunction(() => (document.querySelector('#ctl-hardware') as HTMLElement & { value: string } | null)?.value === 'dimc');
  // dimc states eager attention and a fused norm: those are the "(profile)" options, the others override.
  assert.deepEqual(await optionLabels('ctl-attention'), ['eager (profile)', 'flash (override)']);
  assert.deepEqual(await optionLabels('ctl-norm'), ['fused (profile)', 'eager (override)']);
  assert.equal(await selected('ctl-attention'), 'profile');
  assert.equal(await selected('ctl-depth'), 'deepest');
  const before = (await postedOf('profile')).length;

  await choose('ctl-attention', /^flash/);
  let posted = (await postedOf('profile')).slice(before);
  assert.equal(posted.length, 1, JSON.stringify(posted));
  assert.deepEqual(posted[0], { type: 'profile', hardware: 'dimc', workload: view.workload, kernels: { attention: 'flash', norm: null } });

  await choose('ctl-norm', /^eager/);
  await choose('ctl-depth', /^linear/);
  posted = (await postedOf('profile')).slice(before);
  assert.deepEqual(posted.map((m) => m['kernels']), [{ attention: 'flash', norm: null }, { attention: 'flash', norm: 'eager' }, { attention: 'flash', norm: 'eager' }]);
  assert.equal((posted.at(-1)!['workload'] as WorkloadInput).deferDepth, 'linear');

  // Back to the profile's own kernel: no override.
  await choose('ctl-attention', /\(profile\)/);
  assert.deepEqual((await postedOf('profile')).at(-1)!['kernels'], { attention: null, norm: 'eager' });
});

test('a view with overrides shows them: the new profile’s own kernels, the override selected, the kernels line', async () => {
  await send({ type: 'view', view: h100Eager });
  await page.waitForFunction(() => (document.querySelector('#ctl-hardware') as HTMLElement & { value: string } | null)?.value === 'gpu-h100');
  // gpu-h100 states flash attention: its options are made anew.
  assert.deepEqual(await optionLabels('ctl-attention'), ['flash (profile)', 'eager (override)']);
  assert.equal(await selected('ctl-attention'), 'eager');
  assert.equal(await selected('ctl-norm'), 'profile');
  assert.equal(await selected('ctl-depth'), 'linear');
  const kernels = (await page.locator('#headline .kernels-line').innerText()).replace(/\s+/g, ' ');
  assert.match(kernels, /attention eager \(chosen in the panel; the profile says flash\) · norm fused \(profile\)/);
  // The saved state keeps the override, for a reload.
  assert.deepEqual(((await recorded()).state as { kernels: unknown }).kernels, { attention: 'eager', norm: null });
  // A new view does not post the values it shows.
  const before = (await postedOf('profile')).length;
  await page.waitForTimeout(200);
  assert.equal((await postedOf('profile')).length, before);
  // The Softmax site is no longer left to the baseline kernel.
  assert.notEqual(await page.locator('#sites tr[data-site="softmax"] .badge').innerText(), 'ineligible');
});

test('the sites table says where each scale is applied, the layer at each depth, and why not deeper', async () => {
  await send({ type: 'view', view });
  await page.waitForFunction(() => document.querySelector('#ctl-hardware') !== null && (document.querySelector('#ctl-hardware') as HTMLElement & { value: string }).value === 'dimc');
  const kind = view.report.layerKinds[0]!;
  const attn = kind.sites.find((s) => s.id === 'attn-norm')!;
  assert.equal(attn.depth, 'rope');
  const headers = await page.locator('#sites table').first().locator('thead th').allInnerTexts();
  assert.deepEqual(headers, ['Decision', 'Applied', 'PyTorch patch', 'Site', 'Kept', 'Deferred', 'Saved']);
  // The CLI's words (formats.ts appliedAt), written out here.
  const applied = (site: string) => page.locator(`#sites table >> nth=0 >> tr[data-site="${site}"] .applied`).innerText();
  assert.equal(await applied('attn-norm'), 'after RoPE');
  assert.equal(await applied('mlp-norm'), 'after linear');
  assert.equal(await applied('softmax'), 'after ·V');
  // What the PyTorch patch does with each site: every site of Llama-3.1-8B on dimc is deferred (the CLI's table);
  // the norms are applied, the Softmax is left to PyTorch's attention kernels, which already divide after ·V.
  const patch = (site: string) => page.locator(`#sites table >> nth=0 >> tr[data-site="${site}"] .patch`);
  for (const id of ['attn-norm', 'mlp-norm']) assert.equal(await patch(id).innerText(), 'applied by the patch', id);
  assert.equal(await patch('softmax').innerText(), 'skipped: kernel');
  assert.equal(await patch('attn-norm').getAttribute('title'), `applied by the patch: ${attn.reason}`);
  const site = page.locator('#sites table').first().locator('tbody[data-site="attn-norm"]');
  // Figures formatted here: three decimals, as the Kept and Deferred columns.
  const fine = (v: number) => `${v.toFixed(3)} µs`;
  const depths = await site.locator('.depth-us').allInnerTexts();
  assert.deepEqual(depths, attn.depthUs.map((d) => `${{ linear: 'after linear', rope: 'after RoPE', attention: 'on logits', down: 'after down proj' }[d.depth]} ${fine(d.us)}`));
  assert.deepEqual(await site.locator('.depth-chosen').allInnerTexts(), [`after RoPE ${fine(attn.depthUs.find((d) => d.depth === 'rope')!.us)}`]);
  assert.ok((await site.locator('.depth-limit').innerText()).includes(attn.depthLimit!), 'the depth limit sentence');
  // The reason no longer repeats the depths the line under it shows.
  assert.doesNotMatch(await site.locator('.reason').innerText(), /by depth/);

  // Deferral depth linear: the rope depth is gone and the limit says why.
  await send({ type: 'view', view: { ...view, workload: { ...view.workload, deferDepth: 'linear' }, report: { ...view.report, workload: { ...view.report.workload, deferDepth: 'linear' }, layerKinds: h100Eager.report.layerKinds } } });
  await page.waitForFunction(() => (document.querySelector('#ctl-depth') as HTMLElement & { value: string } | null)?.value === 'linear');
  const linearSite = page.locator('#sites table').first().locator('tbody[data-site="attn-norm"]');
  assert.equal(await linearSite.locator('.depth-us[data-depth="rope"]').count(), 0);
  assert.match(await linearSite.locator('.depth-limit').innerText(), /Deferral depth is set to linear \(the papers' rewrite\)/);
});

test('report strings in the sites table reach the page as text', async () => {
  const payload = '<img src=x onerror="window.__pwned=1">';
  const hostile = JSON.parse(JSON.stringify(view)) as PanelView;
  const attn = hostile.report.layerKinds[0]!.sites.find((s) => s.id === 'attn-norm')!;
  attn.depthLimit = payload;
  attn.reason = `${payload}; by depth: linear 1 µs`;
  attn.name = payload;
  await send({ type: 'view', view: hostile });
  const site = page.locator('#sites table').first().locator('tbody[data-site="attn-norm"]');
  await site.locator('.depth-limit').getByText(payload, { exact: false }).waitFor();
  assert.equal(await site.locator('.site-name').innerText(), payload);
  assert.equal(await site.locator('.reason').innerText(), payload);
  assert.equal(await page.locator('#sites img').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  // Back to the plain view, numerics done, for the tests after.
  await send({ type: 'view', view });
  await send({ type: 'numerics', numerics: (view as { numericsLater?: unknown }).numericsLater as Record<string, unknown> });
});

test('buttons post verify, export, sweep, openDiff and exportPytorchPatch', async () => {
  await page.locator('vscode-button', { hasText: 'Verify numerics' }).click();
  await page.locator('vscode-button', { hasText: 'Export…' }).click();
  await page.locator('#pseudocode vscode-button', { hasText: 'Export PyTorch Patch…' }).click();
  await page.locator('vscode-button', { hasText: 'Sweep' }).click();
  const first = view.report.pseudocode![0]!;
  await page.locator(`#pseudocode article[data-site="${first.site}"] vscode-button`).click();
  const posted = (await recorded()).posted;
  assert.ok(posted.some((m) => m.type === 'verify'));
  assert.ok(posted.some((m) => m.type === 'export'));
  assert.ok(posted.some((m) => m.type === 'exportPytorchPatch'));
  assert.deepEqual(posted.find((m) => m.type === 'sweep'), { type: 'sweep', axis: 'context' });
  assert.deepEqual(posted.find((m) => m.type === 'openDiff'), { type: 'openDiff', layerKind: first.layerKind, site: first.site });
});

test('a site’s name links to where it comes from: a click or Enter posts openSiteSource for its row; a view without sources has no links', async () => {
  await send({ type: 'view', view });
  const decoder = view.report.layerKinds[0]!;
  const mlp = decoder.sites.find((s) => s.id === 'mlp-norm')!;
  const link = page.locator('#sites table').first().locator('tr[data-site="mlp-norm"] a.site-source');
  await link.waitFor();
  // Llama's MLP norm: post_attention_layernorm, read by gate_proj and up_proj; its config key rms_norm_eps.
  assert.equal(await link.innerText(), mlp.name);
  assert.match(mlp.name, /^post_attention_layernorm → /);
  assert.match((await link.getAttribute('title')) ?? '', /post_attention_layernorm\(…\).*rms_norm_eps/);
  const before = (await postedOf('openSiteSource')).length;
  await link.click();
  const head = page.locator('#sites table').last().locator('tr[data-site="final-norm"] a.site-source');
  await head.focus();
  await page.keyboard.press('Enter');
  const posted = (await postedOf('openSiteSource')).slice(before);
  assert.deepEqual(posted, [
    { type: 'openSiteSource', layerKind: decoder.id, site: 'mlp-norm' },
    { type: 'openSiteSource', layerKind: 'head', site: 'final-norm' },
  ]);
  // A model read from weights (no sources): the names are plain text.
  await send({ type: 'view', view: { ...view, siteSources: [] } });
  await page.waitForFunction(() => document.querySelectorAll('#sites a.site-source').length === 0);
  assert.equal(await page.locator('#sites tr[data-site="mlp-norm"] .site-name').innerText(), mlp.name);
  // Back to the plain view, numerics done, for the tests after.
  await send({ type: 'view', view });
  await send({ type: 'numerics', numerics: (view as { numericsLater?: unknown }).numericsLater as Record<string, unknown> });
  await page.waitForFunction(() => document.querySelectorAll('#sites a.site-source').length > 0);
});

test('the keyboard reaches the controls and the charts', async () => {
  await page.locator('#ctl-tp input').focus();
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.id ?? '');
  assert.equal(focused, 'ctl-dtype');
  await page.locator('#layers svg.chart').focus();
  await page.keyboard.press('ArrowRight');
  assert.match(await page.locator('#dnp-tooltip').innerText(), /Layer 1/);
});

test('sweep, busy, error and reveal messages; unknown ones are ignored with a warning', async () => {
  const points = [1024, 2048, 4096].map((context, i) => ({ ...view.report.totals, phase: 'decode', seq: 2048, batch: 32, context, tp: 1, set: {}, savedPct: 10 + i }));
  await send({ type: 'sweep', sweep: { axis: 'context', hardware: 'dimc', points } });
  // window.postMessage delivers after this call returns.
  await page.locator('#sweep .sweep-point').first().waitFor();
  assert.equal(await page.locator('#sweep .sweep-point').count(), 3);

  await send({ type: 'busy', label: 'Profiling…' });
  assert.ok(await page.locator('.status vscode-progress-ring').isVisible());
  assert.match(await page.locator('.status').innerText(), /Profiling…/);
  await send({ type: 'busy', label: null });
  assert.equal(await page.locator('.status vscode-progress-ring').count(), 0);

  await send({ type: 'error', message: 'config.json: hidden_size: expected a positive integer <b>x</b>' });
  const alert = page.locator('[role=alert]');
  assert.ok(await alert.isVisible());
  assert.match(await alert.innerText(), /hidden_size: expected a positive integer <b>x<\/b>/);
  assert.ok(await page.locator('#headline h1').isVisible(), 'the last view stays');

  await send({ type: 'reveal', section: 'numerics' });
  // Smooth scrolling takes its time: wait until it has come to rest.
  let top = Number.NaN;
  for (let i = 0; i < 40; i++) {
    await page.waitForTimeout(100);
    const now = await page.evaluate(() => document.getElementById('numerics')!.getBoundingClientRect().top);
    if (now === top) break;
    top = now;
  }
  // Smooth scrolling lands within the section's scroll margin of the top (it starts thousands of pixels down).
  assert.ok(top >= 0 && top < 100, `numerics scrolled to the top (${top})`);

  await send({ type: 'no-such-message' });
  await send({ type: 'view', view: 'not a view' });
  await page.waitForTimeout(50);
  assert.equal(warnings.filter((w) => /ignored an unknown message/.test(w)).length, 2);

  await page.waitForTimeout(300);
  assert.deepEqual(problems, [], 'no console error or CSP violation');
  assert.deepEqual(offMachine, []);
});
