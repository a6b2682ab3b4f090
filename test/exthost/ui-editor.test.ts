/**
 * A model's config.json as a person sees it in a real VS Code workbench (code-server's VS Code server,
 * Debian's Chromium), light theme: the CodeLens at the top, the status bar item, and the hover on
 * `hidden_size` with its computed saving. Expected figures come from the core called here. The README's
 * editor screenshots are taken here.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { inputOf } from '../../src/common/panel-view';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { analyzeConfigText } from '../../src/extension/editor/analysis';
import { screenshotDir } from '../screenshots';
import { assertExtensionBuilt, makeWorkspace, repoRoot } from './prepare';
import { openWorkbench, quickOpen, waitForWorkbench, OpenedForTests } from './workbench';

const SHOTS = screenshotDir(repoRoot);
const MODEL = 'Llama-3.1-8B';
const opened = new OpenedForTests();
after(() => opened.closeAll());

/** The figures the editor should show, from the core directly. */
function expected(): { layerPct: string; totalPct: string } {
  const path = join(repoRoot, 'test/fixtures/configs', MODEL, 'config.json');
  const outcome = analyzeConfigText(readFileSync(path, 'utf8'), path, getPreset('dimc'), inputOf(DEFAULT_WORKLOAD));
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
  mkdirSync(join(ws, '.vscode'));
  writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'workbench.startupEditor': 'none' }));
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
  const want = `Deferred norm: −${totalPct} on dimc · decode b32 ctx2048`;
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
  assert.match(text, /Simulated estimate on dimc · decode b32 ctx2048/);
  assert.match(text, /Open report/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'hover.png') });
  await workbench.close();
});
