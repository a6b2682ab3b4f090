/**
 * Modeling code as a person meets it in a real workbench: Quick Open the Llama fixture's
 * modeling_llama.py (beside its config.json), go to the `self.input_layernorm(...)` call, show
 * the hover from the keyboard and read it. Takes the README's screenshot of the hover.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { screenshotDir } from '../screenshots';
import { assertExtensionBuilt, makeWorkspace, repoRoot } from './prepare';
import { chooseTheme, openWorkbench, quickOpen, runFromCommandPalette, waitForWorkbench, OpenedForTests, writeWorkspaceSettings } from './workbench';

const SHOT = join(screenshotDir(repoRoot), 'modeling-hover.png');
const FILE = 'modeling-llama/modeling_llama.py';
const CALL = 'self.input_layernorm(hidden_states)';
const opened = new OpenedForTests();
after(() => opened.closeAll());

test('Quick Open a modeling file beside its config and hover a norm call (Light Modern)', async () => {
  assertExtensionBuilt();
  const ws = makeWorkspace([]);
  opened.workspace(ws);
  // A hover tall enough for the rewrite's code, below the line so the call stays in view.
  writeWorkspaceSettings(ws, { 'editor.hover.above': false, 'editor.minimap.enabled': false, 'editor.stickyScroll.enabled': false });
  const source = readFileSync(join(ws, FILE), 'utf8');
  const at = source.indexOf(CALL);
  assert.ok(at >= 0);
  const line = source.slice(0, at).split('\n').length;
  const column = at - source.lastIndexOf('\n', at - 1) + 'self.input_'.length;

  const workbench = await openWorkbench({ folder: ws, viewport: { width: 1440, height: 960 } });
  opened.workbench(workbench);
  const { page } = workbench;
  await waitForWorkbench(page);
  await chooseTheme(page, 'Light Modern');
  await quickOpen(page, FILE);
  // Go to the call from the keyboard (a click could land on a CodeLens and run it).
  await runFromCommandPalette(page, 'Go to Line/Column');
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press('Enter');
  // The lens above the layer's forward shows once the parser and the report are ready.
  await page.locator('.codelens-decoration', { hasText: 'Deferred norm: 2 sites deferred' }).first().waitFor({ timeout: 30_000 });
  await runFromCommandPalette(page, 'Show or Focus Hover');
  // Hover widgets nest: the outermost one holds the text once.
  const hover = page.locator('.monaco-hover:not(.monaco-hover .monaco-hover)', { hasText: 'Deferred norm' }).first();
  await hover.waitFor({ timeout: 30_000 });
  const text = (await hover.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /input_layernorm → q_proj, k_proj, v_proj/);
  assert.match(text, /deferred/);
  assert.match(text, /µs per layer/);
  assert.match(text, /simulated estimate/);
  assert.match(text, /Show the rewrite as a diff/);
  await page.waitForTimeout(400); // syntax colouring of the code blocks settles
  await page.screenshot({ path: SHOT });
  await workbench.close();
});
