/**
 * The stand-alone HTML export in Chromium: made by the built CLI, opened from
 * file://, checked against the JSON report of the same model and workload (the
 * expected figures are formatted here, not read back from the page's code), and
 * attacked with a model whose strings are markup.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { screenshotDir } from '../screenshots';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
// Relative to the repository (the CLI runs there), so the page and its screenshots show a short source path.
const FIXTURES = join('test', 'fixtures', 'configs');
const SHOTS = screenshotDir(ROOT);
const TMP = mkdtempSync(join(tmpdir(), 'dnp-export-'));
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const WORKLOAD = ['--phase', 'decode', '--batch', '16', '--context', '4096'];

/** The parts of the JSON report the page must show. */
interface JsonReport {
  estimate: string;
  model: { name: string; architecture: string | null; layers: number; source: string };
  hardware: { name: string; title: string; provenance: Record<string, string> };
  layerKinds: { id: string; label: string; sites: { id: string; name: string; kind: string; depth: string | null }[]; busyUs: Record<'baseline' | 'deferred', Record<string, number>> }[];
  layers: { index: number; count: number }[];
  totals: { baselineUs: number; deferredUs: number; savedUs: number; savedPct: number; collectiveShareBaselinePct: number; hiddenCollectivePct: number };
  numerics: { entries: unknown[] };
  pseudocode: { name: string; before: string }[];
  endToEnd: { ttft: { baselineUs: number; deferredUs: number }; tpot: { baselineUs: number; deferredUs: number }; tokensPerSecond: { baseline: number; deferred: number } };
  savingParts: { collectiveUs: number; startsUs: number; workUs: number };
  memory: { fits: boolean; warnings: string[]; perDevice: { totalBytes: number } };
}

function cli(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, `deferred-norm ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function exportOf(model: string, name: string): { file: string; report: JsonReport } {
  const file = join(TMP, `${name}.html`);
  cli('profile', model, ...WORKLOAD, '--format', 'html', '--out', file);
  const report = JSON.parse(cli('profile', model, ...WORKLOAD, '--format', 'json')) as JsonReport;
  return { file, report };
}

// The page's formats, written out independently: durations in µs below 1 ms (one decimal), ms below 1 s and
// s above (two decimals), en-US separators; % with one decimal; byte counts in decimal GB/MB.
const fixed = (v: number, d: number) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const us = (v: number) => (v >= 999_995 ? `${fixed(v / 1e6, 2)} s` : v >= 999.95 ? `${fixed(v / 1e3, 2)} ms` : `${fixed(v, 1)} µs`);
const pct = (v: number) => `${v.toFixed(1)}%`;

interface Watched {
  page: Page;
  problems: string[];
  requests: string[];
  dialogs: string[];
}

let browser: Browser;

before(async () => {
  assert.ok(existsSync(CLI) && existsSync(join(ROOT, 'dist', 'webview', 'report.js')), 'run `npm run build` first');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
});

/** Opens a file with every console error, page error, CSP violation, request and dialog recorded. */
async function open(file: string, colorScheme: 'light' | 'dark'): Promise<Watched> {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const watched: Watched = { page, problems: [], requests: [], dialogs: [] };
  const url = pathToFileURL(file).href;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') watched.problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => watched.problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (r.url() !== url && !r.url().startsWith('data:')) watched.requests.push(r.url());
  });
  page.on('dialog', (d) => {
    watched.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await page.waitForSelector('#headline h1');
  // CSP violations are reported a moment after the fact.
  await page.waitForTimeout(300);
  return watched;
}

function assertClean(w: Watched): void {
  assert.deepEqual(w.problems, [], 'no console error, warning or CSP violation');
  assert.deepEqual(w.requests, [], 'no request but the file itself');
  assert.deepEqual(w.dialogs, [], 'no dialog');
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText();

async function checkShowsReport(w: Watched, report: JsonReport): Promise<void> {
  const { page } = w;
  const headline = await text(page, '#headline');
  for (const expected of [report.model.name, report.hardware.title, report.hardware.name, report.estimate]) assert.ok(headline.includes(expected), `headline shows ${expected}`);
  const t = report.totals;
  // A figure by its label, exactly (the end-to-end figures' details say "baseline" too).
  const byLabel = (label: string) => page.locator('.figure').filter({ has: page.locator('.figure-label').getByText(label, { exact: true }) });
  const figure = async (label: string) => (await byLabel(label).first().innerText()).replace(/\s+/g, ' ');
  assert.match(await figure('Baseline'), new RegExp(`Baseline ${us(t.baselineUs)}`, 'i'));
  assert.match(await figure('Deferred'), new RegExp(`Deferred ${us(t.deferredUs)}`, 'i'));
  const saved = await figure('Saved');
  assert.ok(saved.includes(pct(t.savedPct)) && saved.includes(us(t.savedUs)), saved);
  assert.ok((await figure('Collective share')).includes(pct(t.collectiveShareBaselinePct)));
  assert.ok((await figure('Hidden')).includes(pct(t.hiddenCollectivePct)));
  // End to end, deferred first with the baseline beside it.
  const e = report.endToEnd;
  // (Labels are upper-cased by the style sheet: compared without case.)
  const lower = async (label: string) => (await figure(label)).toLowerCase();
  assert.equal(await lower('Time to first token'), `time to first token ${us(e.ttft.deferredUs)} deferred; baseline ${us(e.ttft.baselineUs)}`);
  assert.equal(await lower('Time per output token'), `time per output token ${us(e.tpot.deferredUs)} deferred; baseline ${us(e.tpot.baselineUs)}`);
  assert.equal(await lower('Tokens/s'), `tokens/s ${fixed(e.tokensPerSecond.deferred, 0)} deferred; baseline ${fixed(e.tokensPerSecond.baseline, 0)}`);
  // The saving's parts, each a share of the baseline, adding up to Saved (to display rounding).
  const parts = [report.savingParts.collectiveUs, report.savingParts.startsUs, report.savingParts.workUs];
  const labels = ['Collective hidden', 'Kernel starts removed', 'Vector and memory work removed'];
  for (const [i, label] of labels.entries()) assert.ok((await figure(label)).includes(pct((100 * parts[i]!) / t.baselineUs)), label);
  assert.ok(Math.abs(parts.reduce((a, b) => a + b, 0) - t.savedUs) < 1e-6 * t.baselineUs);
  // Every figure defines itself in its tooltip.
  assert.match((await byLabel('Kernel starts removed').first().getAttribute('title')) ?? '', /launch and start cost/);
  // A workload that does not fit says so above the figures; one that fits says nothing.
  const warning = page.locator('#headline .memory-warning');
  assert.equal(await warning.count(), report.memory.warnings.length > 0 ? 1 : 0);
  for (const w of report.memory.warnings) assert.ok((await warning.innerText()).includes(w), w);

  // One bar per layer, the head included (each entry of layers[] is a run of `count` identical layers).
  assert.equal(await page.locator('#layers .layer-bar').count(), report.layers.reduce((n, l) => n + l.count, 0));
  assert.equal(await page.locator('#layers .layer-bar-head').count(), 1);

  // The timeline shows the first layer kind: ops in exactly the lanes whose engines are busy in the JSON.
  const kind = report.layerKinds[0]!;
  const schedules = page.locator('#timeline figure.schedule');
  assert.equal(await schedules.count(), 2);
  for (const [i, run] of (['baseline', 'deferred'] as const).entries()) {
    for (const [engine, busy] of Object.entries(kind.busyUs[run])) {
      const ops = await schedules.nth(i).locator(`.lane-${engine} .op`).count();
      assert.equal(ops > 0, busy > 0, `${run} ${engine}: ${ops} ops drawn, ${busy} µs busy`);
    }
    assert.ok((await schedules.nth(i).locator('.op-gather').count()) > 0, `${run} shows its statistic gathers`);
  }

  for (const site of kind.sites) assert.ok((await text(page, '#sites')).includes(site.name), `sites table lists ${site.name}`);
  // Where each deferred scale is applied, in the words of the CLI's Applied column (written out here).
  const words: Record<string, string> = { linear: 'after linear', rope: 'after RoPE', attention: 'on logits', down: 'after down proj' };
  for (const site of kind.sites) {
    const expected = site.depth === null ? '—' : site.kind === 'softmax' ? 'after ·V' : words[site.depth]!;
    assert.equal(await page.locator(`#sites table >> nth=0 >> tr[data-site="${site.id}"] .applied`).innerText(), expected, site.name);
  }
  assert.ok((await text(page, '#pseudocode')).includes(report.pseudocode[0]!.name));
  assert.equal(await page.locator('#numerics tbody tr').count(), report.numerics.entries.length);
  assert.ok((await page.locator('#sweep .sweep-point').count()) > 1);
  const provenance = await text(page, '#provenance');
  assert.ok(Object.keys(report.hardware.provenance).every((path) => provenance.includes(path)));
  // Read-only controls, and the link to the provenance section works.
  assert.equal(await page.locator('#ctl-batch').getAttribute('disabled'), '');
  assert.equal(await page.locator('#ctl-hardware').evaluate((e) => (e as HTMLElement & { value: string }).value), 'dimc');
  // The kernel and depth controls too: the profile's own kernels (dimc: eager attention, fused norm), the deepest depth.
  for (const [id, value] of [['ctl-attention', 'profile'], ['ctl-norm', 'profile'], ['ctl-depth', 'deepest']] as const) {
    assert.equal(await page.locator(`#${id}`).getAttribute('disabled'), '', id);
    assert.equal(await page.locator(`#${id}`).evaluate((e) => (e as HTMLElement & { value: string }).value), value, id);
  }
  assert.deepEqual(await page.locator('#ctl-attention vscode-option').allInnerTexts(), ['eager (profile)', 'flash (override)']);
  assert.match((await text(page, '#headline .kernels-line')).replace(/\s+/g, ' '), /attention eager \(profile\) · norm fused \(profile\)/);
  await page.click('a.provenance-link');
  assert.ok(page.url().endsWith('#provenance'));
}

for (const [model, layers] of [
  ['Llama-3.1-8B', 33],
  ['Llama-3.1-405B', 127],
] as const) {
  test(`export of ${model} shows its report in light and dark, with nothing loaded or violated`, async () => {
    const { file, report } = exportOf(join(FIXTURES, model), model);
    // Both are identical decoder layers and a head: two runs, covering every layer.
    assert.deepEqual(report.layers.map((l) => [l.index, l.count]), [[0, layers - 1], [layers - 1, 1]]);
    for (const scheme of ['light', 'dark'] as const) {
      const w = await open(file, scheme);
      try {
        // The theme fallbacks follow the browser's scheme.
        const background = await w.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(background, scheme === 'light' ? 'rgb(255, 255, 255)' : 'rgb(31, 31, 31)');
        if (model === 'Llama-3.1-8B') {
          mkdirSync(SHOTS, { recursive: true });
          await w.page.screenshot({ path: join(SHOTS, `export-${scheme}.png`) });
          await w.page.screenshot({ path: join(SHOTS, `export-${scheme}-full.png`), fullPage: true });
        }
        await checkShowsReport(w, report);
        // Hovering a gather shows its name, start, duration and site as text.
        const gather = w.page.locator('#timeline figure.schedule').nth(1).locator('.op-gather').first();
        await gather.hover();
        const tip = await w.page.locator('#dnp-tooltip').innerText();
        assert.match(tip, /gather/);
        assert.match(tip, /start \d+\.\d{3} µs/);
        assert.match(tip, /duration \d+\.\d{3} µs/);
        assert.match(tip, /site: \S/);
        assertClean(w);
      } finally {
        await w.page.context().close();
      }
    }
  });
}

test('each chart is one Tab stop whose arrow keys step through its marks, each named to screen readers', async () => {
  const { file } = exportOf(join(FIXTURES, 'Llama-3.1-8B'), 'Llama-3.1-8B-keyboard');
  const w = await open(file, 'light');
  try {
    const { page } = w;
    const charts = await page.locator('svg.chart').count();
    assert.ok(charts >= 3, `${charts} charts`);
    // Tab through the whole page once (it wraps to the body): every stop, in order.
    const stops: string[] = [];
    for (let i = 0; i < 400; i++) {
      await page.keyboard.press('Tab');
      const stop = await page.evaluate(() => {
        const a = document.activeElement;
        if (!a || a === document.body) return null;
        return a.tagName.toLowerCase() === 'svg' ? `chart:${a.getAttribute('aria-label')}` : `${a.tagName.toLowerCase()}${a.closest('svg') ? ' inside a chart' : ''}`;
      });
      if (stop === null) break;
      stops.push(stop);
    }
    assert.deepEqual(stops.filter((x) => x.includes('inside a chart')), [], 'no mark of a chart is a Tab stop of its own');
    const chartStops = stops.filter((x) => x.startsWith('chart:'));
    assert.equal(chartStops.length, charts, 'one stop per chart');
    assert.equal(new Set(chartStops).size, charts);
    // The layers chart: focused, it names its first mark as the tooltip shows it; ArrowRight the next; End the head.
    const layers = page.locator('#layers svg.chart');
    const marks = await page.locator('#layers .layer-bar').count();
    // Llama-3.1-8B's 32 decoder layers and the head, one bar each (a run of layers is spread back out up to 512).
    assert.equal(marks, 33, `${marks} bars`);
    await layers.focus();
    const announced = () => page.locator('#layers .chart-announcer').innerText();
    const tooltip = async () => (await page.locator('#dnp-tooltip').innerText()).split('\n').filter((line) => line.trim() !== '').join('; ');
    assert.equal(await announced(), `${await tooltip()} (1 of ${marks})`);
    assert.match(await announced(), /^Layers? 0\b/);
    await page.keyboard.press('ArrowRight');
    assert.equal(await announced(), `${await tooltip()} (2 of ${marks})`);
    await page.keyboard.press('End');
    assert.match(await announced(), new RegExp(`^Head \\(final norm → lm_head\\); .*\\(${marks} of ${marks}\\)$`));
    assert.equal(await page.locator('#layers .chart-announcer').getAttribute('aria-live'), 'polite');
    assertClean(w);
  } finally {
    await w.page.context().close();
  }
});

test('an export made with --set on a kernel says the kernel was set on the command line, not the profile’s', async () => {
  const file = join(TMP, 'kernel-set.html');
  cli('profile', join(FIXTURES, 'Llama-3.1-8B'), ...WORKLOAD, '--set', 'kernels.attention=flash', '--format', 'html', '--out', file);
  const w = await open(file, 'light');
  try {
    // dimc's own attention kernel is eager; the command line made it flash, and the norm stays the profile's.
    assert.match((await text(w.page, '#headline .kernels-line')).replace(/\s+/g, ' '), /attention flash \(set on the command line \(was eager\)\) · norm fused \(profile\)/);
    assertClean(w);
  } finally {
    await w.page.context().close();
  }
});

test('a model whose strings are markup is shown as text and runs nothing', async () => {
  const payloads = {
    img: '<img src=x onerror=alert(1)>',
    script: '</script><script>window.__pwned=1</script>',
    svg: '"><svg onload=alert(1)>',
  };
  const config = JSON.parse(readFileSync(join(ROOT, FIXTURES, 'Llama-3.1-8B', 'config.json'), 'utf8')) as Record<string, unknown>;
  config['_name_or_path'] = `${payloads.script}${payloads.img}`;
  config['architectures'] = [`LlamaForCausalLM${payloads.svg}`];
  config['quantization_config'] = { quant_method: payloads.img };
  // The folder's name reaches the page as the report's source path.
  const dir = join(TMP, payloads.img);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const { file, report } = exportOf(dir, 'hostile');
  assert.equal(report.model.name, config['_name_or_path']);

  const w = await open(file, 'light');
  try {
    const { page } = w;
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined);
    // Only the page's own markup: no <img> at all, no element with an onload or onerror handler.
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.evaluate(() => document.querySelectorAll('[onload], [onerror]').length), 0);
    assert.equal(await page.evaluate(() => document.querySelectorAll('script').length), 2, 'the data block and the bundle');
    const headline = await text(page, '#headline');
    assert.ok(headline.includes(report.model.name), 'the name shows as text');
    assert.ok(headline.includes(`LlamaForCausalLM${payloads.svg}`), 'the architecture shows as text');
    assert.ok(headline.includes(payloads.img), 'the quantization note and source show as text');
    assert.equal(await page.title(), `Deferred Norm: ${report.model.name}`);
    await page.waitForTimeout(200);
    assertClean(w);
  } finally {
    await w.page.context().close();
  }
});

test('an export of 10,000 identical layers (the most a model may have) and a 16-million-character name: one bar per run, the name shortened with its length', async () => {
  const config = JSON.parse(readFileSync(join(ROOT, FIXTURES, 'Llama-3.1-8B', 'config.json'), 'utf8')) as Record<string, unknown>;
  const dir = join(TMP, 'deep-long');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 10_000, _name_or_path: 'N'.repeat(16_000_000) }));
  const { file, report } = exportOf(dir, 'deep-long');
  const shown = `${'N'.repeat(200)}… (16,000,000 characters)`;
  assert.equal(report.model.name, shown);
  const w = await open(file, 'light');
  try {
    const { page } = w;
    // Past 512 layers the chart draws a bar per run: the 10,000 decoder layers, then the head.
    assert.equal(await page.locator('#layers .layer-bar').count(), 2);
    assert.deepEqual(await page.locator('#layers .layer-bar').evaluateAll((bars) => bars.map((b) => b.getAttribute('data-layer'))), ['0', '10000']);
    await page.locator('#layers .layer-bar').first().hover();
    assert.match(await page.locator('#dnp-tooltip').innerText(), /Layers 0–9999 \(10,000 alike\)/);
    assert.equal(await text(page, '#headline h1'), shown);
    assert.ok((await text(page, '#headline')).includes('16,000,000 characters long'));
    assertClean(w);
  } finally {
    await w.page.context().close();
  }
});
