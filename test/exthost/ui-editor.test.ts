/**
 * A model's config.json as a person sees it in a real VS Code workbench (code-server's VS Code server,
 * Debian's Chromium), light theme: the CodeLens at the top, the status bar item, and the hover on
 * `hidden_size` with its computed saving. Expected figures come from the core called here. The README's
 * editor screenshots are taken here.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { inputOf } from '../../src/common/panel-view';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { analyzeConfigText } from '../../src/extension/editor/analysis';
import { screenshotDir } from '../screenshots';
import { assertExtensionBuilt, makeWorkspace, repoRoot } from './prepare';
import type { Page } from 'playwright-core';
import { chooseTheme, openWorkbench, quickOpen, runFromCommandPalette, waitForWorkbench, OpenedForTests, webviewFrame, writeWorkspaceSettings } from './workbench';

const SHOTS = screenshotDir(repoRoot);
const MODEL = 'Llama-3.1-8B';
const opened = new OpenedForTests();
after(() => opened.closeAll());

/**
 * The figures the editor should show, from the core directly, at the settings' workload: TP auto unless
 * set. Llama-3.1-8B's auto degree is 16 on dimc (2 GB of SRAM per card) and 1 on an 80 GB H100, both
 * derived by hand in test/unit/tensor-parallel.test.ts.
 */
function expected(hardware = 'dimc', workload = DEFAULT_WORKLOAD): { layerPct: string; totalPct: string } {
  const path = join(repoRoot, 'test/fixtures/configs', MODEL, 'config.json');
  const outcome = analyzeConfigText(readFileSync(path, 'utf8'), path, getPreset(hardware), { ...inputOf(workload), tp: 'auto' });
  assert.equal(outcome.kind, 'model');
  const figures = outcome.kind === 'model' ? outcome.analysis.figures : null;
  assert.ok(figures);
  return { layerPct: `${figures.layer.savedPct.toFixed(1)}%`, totalPct: `${figures.totals.savedPct.toFixed(1)}%` };
}

test('a model config in the editor: CodeLens, status bar, and the hover on hidden_size (light theme)', async () => {
  assertExtensionBuilt();
  const { layerPct, totalPct } = expected();
  const ws = makeWorkspace([MODEL]);
  opened.workspace(ws);
  // The hardware set, so the first-use question (which hardware to assume) stays out of the README's screenshots.
  writeWorkspaceSettings(ws, { 'deferredNorm.hardware': 'dimc' });
  const workbench = await openWorkbench({
    folder: ws,
    viewport: { width: 1280, height: 760 },
    colorScheme: 'light',
    userSettings: { 'workbench.colorTheme': 'Default Light Modern', 'editor.hover.delay': 150 },
  });
  opened.workbench(workbench);
  const { page } = workbench;
  await waitForWorkbench(page);
  await quickOpen(page, `${MODEL}/config.json`);

  // The lens is drawn as soon as VS Code asks for it and redrawn when the figures change: wait for the
  // figures themselves, and say what was shown instead if they never come.
  const want = `Deferred norm: −${totalPct} on dimc · decode b32 ctx2048 TP auto → 16`;
  const lens = page.locator('.contentWidgets .codelens-decoration', { hasText: want }).first();
  try {
    await lens.waitFor({ timeout: 30_000 });
  } catch {
    const seen = await page.locator('.contentWidgets .codelens-decoration').allInnerTexts();
    assert.fail(`the CodeLens says "${want}"; shown instead: ${JSON.stringify(seen)}`);
  }
  const lensText = (await lens.innerText()).replace(/\s+/g, ' ');
  assert.ok(lensText.includes(want), lensText);
  assert.match(lensText, /Open report/);
  const status = page.locator('.statusbar-item', { hasText: `−${totalPct} dimc` }).first();
  await status.waitFor({ timeout: 20_000 });
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'editor-codelens.png') });

  // Hover the key as a person does: the mouse over the token in the editor.
  const key = page.locator('.view-lines .view-line span', { hasText: /^"hidden_size"$/ }).first();
  await key.waitFor({ timeout: 10_000 });
  await key.hover();
  // Hover widgets nest: the outermost one holds the text once.
  const hover = page.locator('.monaco-hover:not(.monaco-hover .monaco-hover)').filter({ hasText: 'Deferred Norm Profiler' }).first();
  await hover.waitFor({ state: 'visible', timeout: 15_000 });
  const text = (await hover.innerText()).replace(/\s+/g, ' ');
  assert.ok(text.includes(`(${layerPct})`), `the hover shows the per-layer saving ${layerPct}: ${text}`);
  assert.match(text, /input_layernorm → q_proj, k_proj, v_proj/);
  assert.match(text, /Simulated estimate on dimc · decode b32 ctx2048 TP auto → 16/);
  assert.match(text, /Open report/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'hover.png') });
  await workbench.close();
});


/** Waits for a CodeLens that says `want`; fails with what was shown instead. */
async function lensSays(page: Page, want: string): Promise<string> {
  const lens = page.locator('.contentWidgets .codelens-decoration', { hasText: want }).first();
  try {
    await lens.waitFor({ timeout: 30_000 });
  } catch {
    assert.fail(`the CodeLens says "${want}"; shown instead: ${JSON.stringify(await page.locator('.contentWidgets .codelens-decoration').allInnerTexts())}`);
  }
  return (await lens.innerText()).replace(/\s+/g, ' ');
}

test('one answer everywhere: hardware and batch changed in the panel show in the CodeLens, the status bar and Select Hardware’s tick (issue 20)', async () => {
  assertExtensionBuilt();
  const ws = makeWorkspace([MODEL]);
  opened.workspace(ws);
  writeWorkspaceSettings(ws);
  const workbench = opened.workbench(await openWorkbench({ folder: ws, viewport: { width: 1440, height: 1100 }, userSettings: { 'workbench.colorTheme': 'Default Light Modern' } }));
  const { page } = workbench;
  await waitForWorkbench(page);
  await quickOpen(page, `${MODEL}/config.json`);
  const before = expected();
  await lensSays(page, `Deferred norm: −${before.totalPct} on dimc · decode b32 ctx2048 TP auto → 16`);

  await runFromCommandPalette(page, 'Deferred Norm: Profile Active File');
  const frame = await webviewFrame(page, '#headline', 'the report');
  await frame.locator('#ctl-hardware').click();
  await frame.locator('#ctl-hardware').getByRole('option', { name: /^gpu-h100/ }).click();
  await frame.locator('#headline').getByText(/H100/).first().waitFor({ timeout: 30_000 });
  await frame.locator('#ctl-batch').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('1');
  await frame.locator('#headline .workload-line').getByText('batch 1,', { exact: false }).waitFor({ timeout: 30_000 });
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'one-answer-panel-light.png') });

  // Back to the config: its lens and the status bar say what the panel says, computed on gpu-h100 at batch 1.
  const after = expected('gpu-h100', { ...DEFAULT_WORKLOAD, batch: 1 });
  await page.locator('.tab', { hasText: 'config.json' }).first().click();
  const lens = await lensSays(page, `Deferred norm: −${after.totalPct} on gpu-h100 · decode b1 ctx2048 TP auto → 1`);
  assert.match(lens, /TPOT [\d.,]+ (µs|ms)/);
  await page.locator('.statusbar-item', { hasText: `−${after.totalPct} gpu-h100` }).first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(SHOTS, 'one-answer-editor-light.png') });

  // Select Hardware Profile ticks the panel's hardware, and only it.
  await runFromCommandPalette(page, 'Deferred Norm: Select Hardware Profile');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor();
  const ticked = await page.locator('.quick-input-list .monaco-list-row:has(.codicon-check)').allInnerTexts();
  assert.equal(ticked.length, 1, JSON.stringify(ticked));
  assert.match(ticked[0]!, /gpu-h100/);
  await page.keyboard.press('Escape');

  // The same, looked at once in the dark theme.
  await chooseTheme(page, 'Dark Modern');
  await page.locator('.statusbar-item', { hasText: `−${after.totalPct} gpu-h100` }).first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(SHOTS, 'one-answer-editor-dark.png') });
  await workbench.close();
});
