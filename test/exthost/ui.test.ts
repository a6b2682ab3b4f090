/**
 * The extension used as a person uses it, in a real VS Code workbench (code-server's VS Code
 * server, Debian's Chromium): Quick Open a model's config.json, run "Deferred Norm: Profile
 * Active File" from the command palette, read the report in its webview, in a light and a dark
 * theme. Expected figures come from the built CLI's JSON report, formatted here. The screenshots
 * in the README are taken here.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { assertExtensionBuilt, makeWorkspace, repoRoot } from './prepare';
import { chooseTheme, openWorkbench, quickOpen, runFromCommandPalette, waitForWorkbench, OpenedForTests } from './workbench';

const SHOTS = join(repoRoot, 'docs', 'images');
const MODEL = 'Llama-3.1-8B';
const opened = new OpenedForTests();
after(() => opened.closeAll());

function expectedSavedPct(): string {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli.js'), 'profile', join(repoRoot, 'test/fixtures/configs', MODEL), '--format', 'json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return `${(JSON.parse(r.stdout) as { totals: { savedPct: number } }).totals.savedPct.toFixed(1)}%`;
}

/** The report's document: the webview's innermost frame that holds the headline section. */
async function reportFrame(page: Page, timeoutMs = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const found = await frame.locator('#headline').count().catch(() => 0);
      if (found > 0) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error('no webview frame with the report appeared');
}

for (const theme of [
  { name: 'Default Light Modern', label: 'Light Modern', file: 'panel-light.png', dark: false },
  { name: 'Default Dark Modern', label: 'Dark Modern', file: 'panel-dark.png', dark: true },
  { name: 'Default High Contrast', label: 'Dark High Contrast', file: 'panel-high-contrast.png', dark: true },
]) {
  test(`Quick Open a config, Profile Active File from the palette, and read the report (${theme.name})`, async () => {
    assertExtensionBuilt();
    const saved = expectedSavedPct();
    const ws = makeWorkspace([MODEL]);
    opened.workspace(ws);
    mkdirSync(join(ws, '.vscode'));
    writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'workbench.startupEditor': 'none' }));
    const problems: string[] = [];
    const workbench = await openWorkbench({
      folder: ws,
      viewport: { width: 1440, height: 960 },
      onLog: (severity, text) => {
        // The webview's own console reaches the page's; any CSP violation or error from the report counts.
        if (/Content Security Policy|Refused to/i.test(text) && /report\.js|vscode-resource|nonce|style-src|script-src/.test(text)) problems.push(text);
      },
    });
    opened.workbench(workbench);
    const { page } = workbench;
    await waitForWorkbench(page);
    await chooseTheme(page, theme.label);
    await quickOpen(page, `${MODEL}/config.json`);
    // The editor title bar carries the command for model files.
    await page.locator('.editor-actions .codicon-pulse').first().waitFor({ timeout: 20_000 });
    await runFromCommandPalette(page, 'Deferred Norm: Profile Active File');
    await page.locator('.tab.active', { hasText: `Deferred Norm: ${MODEL}` }).waitFor({ timeout: 30_000 });
    const frame = await reportFrame(page);
    await frame.locator('#headline').getByText(saved, { exact: false }).first().waitFor({ timeout: 30_000 });
    const headline = (await frame.locator('#headline').innerText()).replace(/\s+/g, ' ');
    assert.match(headline, /simulated estimate/i);
    assert.match(headline, /dimc/);
    // The page follows the workbench's theme: its background is the editor's.
    const background = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
    const luminance = (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
    assert.ok(theme.dark ? luminance < 0.3 : luminance > 0.7, `${theme.name}: page background ${background}`);
    await page.waitForTimeout(800); // charts finish their layout; late CSP reports arrive
    assert.deepEqual(problems, []);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, theme.file) });
    // And the engine timeline, where the gather moves under the matmul.
    await frame.locator('#timeline').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(SHOTS, theme.file.replace('panel-', 'timeline-')) });
    await workbench.close();
  });
}
