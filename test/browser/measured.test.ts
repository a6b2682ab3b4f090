/**
 * Measured beside simulated in the report webview (issue 18, round 2): the section after the sites
 * table shows a measurement's blocks beside the simulated ones with its provenance, stays hidden when
 * the model has no measurement, and shows a measurements file's strings (device names are untrusted)
 * as text. The expected cells are formatted here, independently of the page's code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { buildPanelView, inputOf } from '../../src/common/panel-view';
import type { MeasuredView, PanelView } from '../../src/common/protocol';
import { panelHtml } from '../../src/common/report-html';

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist', 'webview');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const HOSTILE = '<img src=x onerror="document.title=\'owned\'">Xeon';

let browser: Browser;
let page: Page;
let view: PanelView;
const problems: string[] = [];

before(async () => {
  assert.ok(existsSync(join(DIST, 'report.js')), 'run `npm run build` first');
  const spec = await loadModel(join(ROOT, 'test', 'fixtures', 'configs', 'SmolLM2-135M'));
  view = buildPanelView(spec, getPreset('cpu'), inputOf(DEFAULT_WORKLOAD), { hardware: 'cpu', hardwareChoices: [], interactive: false, numerics: null, sweep: null });
  const file = join(mkdtempSync(join(tmpdir(), 'dnp-measured-')), 'panel.html');
  const uri = (name: string) => pathToFileURL(join(DIST, name)).href;
  writeFileSync(file, panelHtml({ cspSource: 'file:', nonce: 'bm9uY2UtZm9yLXRlc3Q=', scriptUri: uri('report.js'), styleUri: uri('report.css'), codiconUri: uri('codicon.css'), title: 'Deferred Norm: test' }));
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => (m.type() === 'error' ? problems.push(m.text()) : undefined));
  await page.addInitScript(`window.acquireVsCodeApi = () => ({ postMessage: () => {}, setState: () => {}, getState: () => undefined });`);
  await page.goto(pathToFileURL(file).href);
});

after(async () => {
  await browser?.close();
});

const send = (v: PanelView) => page.evaluate((m) => window.postMessage(m, '*'), { type: 'view', view: v } as unknown as Record<string, unknown>);

test('no measurement: the section is hidden; a measurement: its blocks beside the simulated ones, its strings as text', async () => {
  await send(view);
  await page.waitForSelector('#headline h1');
  assert.equal(await page.locator('#measured').isVisible(), false);

  const measured: MeasuredView = {
    file: 'SmolLM2-135M-cpu-2026-12-06T21-17-45Z.json',
    device: HOSTILE,
    date: '2026-12-06T21:17:45Z',
    torch: '1.13.0',
    dtype: 'fp32',
    threads: 1,
    statistic: 'p10',
    hardware: 'bench',
    blocks: [{ site: 'attn-norm', consumers: ['q_proj', 'k_proj', 'v_proj'], rows: 32, measuredStandardUs: 10997, measuredDeferredUs: 10490, simulatedStandardUs: 9876, simulatedDeferredUs: 9852, measuredSavingPct: 4.6, simulatedSavingPct: 0.2, resolved: false }],
    notes: ['Measured at M = 32 (decode, batch 32); the report above is at M = 8'],
  };
  await send({ ...view, measured });
  await page.waitForSelector('#measured table');
  assert.ok(await page.locator('#measured').isVisible());
  // The sites table comes first, then this section.
  assert.equal(await page.evaluate(() => document.querySelector('#sites')!.nextElementSibling?.id), 'measured');
  const cells = await page.locator('#measured tbody tr').first().locator('th, td').allTextContents();
  // 10,997 µs is 11.00 ms; the error (9,876 − 10,997) / 10,997 = −10.2%; the saving within noise.
  assert.deepEqual(cells, ['attn-norm → q_proj, k_proj, v_proj', '32', '11.00 ms', '9.88 ms', '−10.2%', '10.49 ms', '9.85 ms', '−6.1%', '+4.6% (within noise)', '+0.2%']);
  const provenance = await page.locator('#measured .measured-provenance').textContent();
  assert.ok(provenance!.includes(`Measured on ${HOSTILE} (torch 1.13.0, fp32, 1 thread)`), provenance!);
  assert.ok(provenance!.includes('10th percentile'));
  assert.equal(await page.locator('#measured img').count(), 0, 'the device name is text, not an element');
  assert.notEqual(await page.title(), 'owned');
  assert.deepEqual(await page.locator('#measured .measured-notes li').allTextContents(), measured.notes);

  // A file that could not be used: one line.
  await send({ ...view, measured: { file: 'x.json', error: 'x.json: entries: expected at least one measurement' } });
  await page.waitForSelector('#measured .measured-error');
  assert.equal(await page.locator('#measured .measured-error').textContent(), 'The measurements file x.json could not be used: x.json: entries: expected at least one measurement');
  assert.deepEqual(problems, []);
});
