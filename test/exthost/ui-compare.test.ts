/**
 * Issue 20, item 9 as a person meets it in a real workbench: the panel of the Llama fixture that ships
 * modeling_llama.py; a click on a site's name in the sites table opens the norm's call beside the panel;
 * Compare Models… from the command palette, "Same model, batch 1" picked, shows both columns in the
 * Markdown preview. Screenshots of both (out/screenshots, or docs/images with DNP_UPDATE_SCREENSHOTS=1).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { screenshotDir } from '../screenshots';
import { assertExtensionBuilt, makeWorkspace, repoRoot } from './prepare';
import { chooseTheme, openWorkbench, quickOpen, runFromCommandPalette, waitForWorkbench, OpenedForTests, webviewFrame, writeWorkspaceSettings } from './workbench';

const opened = new OpenedForTests();
after(() => opened.closeAll());


test('a site’s link opens the norm’s call in modeling_llama.py; Compare Models… shows both columns', async () => {
  assertExtensionBuilt();
  const ws = makeWorkspace([]);
  opened.workspace(ws);
  writeWorkspaceSettings(ws, { 'editor.minimap.enabled': false });
  const source = readFileSync(join(ws, 'modeling-llama', 'modeling_llama.py'), 'utf8');
  const call = 'self.post_attention_layernorm(hidden_states)';
  const line = source.slice(0, source.indexOf(call)).split('\n').length; // 1-based, as the status bar says

  const workbench = opened.workbench(await openWorkbench({ folder: ws, viewport: { width: 1440, height: 960 } }));
  const { page } = workbench;
  await waitForWorkbench(page);
  await chooseTheme(page, 'Light Modern');
  await quickOpen(page, 'modeling-llama/config.json');
  await runFromCommandPalette(page, 'Deferred Norm: Profile Active File');
  const frame = await webviewFrame(page, '#sites a.site-source', 'linked sites');
  const link = frame.locator('#sites table').first().locator('tr[data-site="mlp-norm"] a.site-source');
  assert.match(await link.innerText(), /^post_attention_layernorm → /);
  await link.scrollIntoViewIfNeeded();
  await link.click();
  await page.locator('.tab.active', { hasText: 'modeling_llama.py' }).waitFor({ timeout: 30_000 });
  // The selection is the call: the status bar names its line.
  await page.locator('.statusbar-item', { hasText: new RegExp(`Ln ${line}, Col \\d+`) }).first().waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(screenshotDir(repoRoot), 'site-link.png') });

  await runFromCommandPalette(page, 'Deferred Norm: Compare Models…');
  const input = page.locator('.quick-input-widget input[type="text"]');
  await input.waitFor({ state: 'visible' });
  await input.fill('batch 1');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Same model, batch 1' }).first().waitFor();
  await page.keyboard.press('Enter');
  // The Markdown preview is a webview too: find the frame with the side-by-side table.
  const deadline = Date.now() + 30_000;
  let table = '';
  while (Date.now() < deadline && !table) {
    for (const f of page.frames()) {
      const text = await f.locator('table').first().innerText({ timeout: 200 }).catch(() => '');
      if (text.includes('Run 2 vs 1')) table = text;
    }
    if (!table) await page.waitForTimeout(250);
  }
  assert.match(table, /Run 1\s+Run 2\s+Run 2 vs 1/);
  assert.match(table, /batch 1,/);
  await page.screenshot({ path: join(screenshotDir(repoRoot), 'compare-models.png') });
  await workbench.close();
});
