/**
 * A binary model file opened as a person opens one, in a real VS Code workbench: Quick Open a
 * 4.9 GB (sparse) Llama-3.1-8B Q4_K_M .gguf, read its header and headline in the model viewer in a
 * light and a dark theme, and follow its button to the full report. Expected figures come from the
 * core called here. The README's screenshots of the viewer are taken here.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame } from 'playwright-core';
import { getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import { profile } from '../../src/core/report/profile';
import { percent } from '../../src/core/report/text';
import { DEFAULT_REQUEST } from '../../src/core/workload';
import { resolveWorkload } from '../../src/core/report/tensor-parallel';
import { llamaGgufKv, llamaGgufTensors, writeGguf } from '../unit/helpers/gguf-writer';
import { screenshotDir } from '../screenshots';
import { assertExtensionBuilt, makeWorkspace, repoRoot } from './prepare';
import { chooseTheme, openWorkbench, quickOpen, waitForWorkbench, webviewFrame, writeWorkspaceSettings, type Workbench } from './workbench';

const SHOTS = screenshotDir(repoRoot);
const FILE = 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf';
const SIZES = { layers: 32, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, vocab: 128256 };
const ggml = { F32: 0, Q4_K: 12, Q6_K: 14 } as const;

let workbench: Workbench | undefined;
let workspace: string | undefined;
after(async () => {
  await workbench?.close();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

/** A header as llama.cpp writes a Q4_K_M 8B (norms F32, V and down projections and the output Q6_K), padded sparse to the real size. */
function writeModel(dir: string): string {
  const path = join(dir, FILE);
  const tensors = llamaGgufTensors(SIZES).map((t) => ({
    ...t,
    type: t.shape.length === 1 ? ggml.F32 : /attn_v|ffn_down|^output\./.test(t.name) ? ggml.Q6_K : ggml.Q4_K,
  }));
  const kv = llamaGgufKv({ ...SIZES, name: 'Meta Llama 3.1 8B Instruct', context: 131072, eps: 1e-5, fileType: 15, tokens: true });
  writeFileSync(path, writeGguf({ kv, tensors }).bytes);
  truncateSync(path, 4_920_734_016);
  return path;
}


async function luminance(frame: Frame): Promise<number> {
  const background = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
  return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
}

test('Quick Open a .gguf: the viewer shows its header and headline in light and dark, and opens the full report', async () => {
  assertExtensionBuilt();
  workspace = makeWorkspace([]);
  const modelPath = writeModel(workspace);
  // At the default workload, TP auto as the settings leave it.
  const spec = await loadModel(modelPath);
  const saved = percent(profile(spec, getPreset('dimc'), resolveWorkload(spec, getPreset('dimc'), DEFAULT_REQUEST)).totals.savedPct);
  writeWorkspaceSettings(workspace);
  const problems: string[] = [];
  workbench = await openWorkbench({
    folder: workspace,
    viewport: { width: 1280, height: 900 },
    onLog: (severity, text) => {
      if (/Content Security Policy|Refused to/i.test(text) && /model-viewer|vscode-resource|nonce|style-src|script-src/.test(text)) problems.push(text);
    },
  });
  const { page } = workbench;
  await waitForWorkbench(page);

  for (const theme of [
    { label: 'Light Modern', file: 'model-viewer.png', dark: false },
    { label: 'Dark Modern', file: 'model-viewer-dark.png', dark: true },
  ]) {
    await chooseTheme(page, theme.label);
    await quickOpen(page, FILE);
    const frame = await webviewFrame(page, '#profile', 'the model viewer');
    await frame.locator('#profile').getByText(saved, { exact: false }).first().waitFor({ timeout: 30_000 });
    const text = (await frame.locator('body').innerText()).replace(/\s+/g, ' ');
    assert.match(text, /GGUF v3/);
    assert.match(text, /general\.file_type 15 \(Q4_K_M\)/);
    assert.match(text, /4\.9 GB \(header read only\)/);
    assert.match(text, /tokenizer\.ggml\.tokens array of 128,256 strings/);
    assert.match(text, /blk\.0\.attn_q\.weight \[4,096, 4,096\] Q4_K/);
    assert.match(text, /Simulated estimate on dimc/);
    const l = await luminance(frame);
    assert.ok(theme.dark ? l < 0.3 : l > 0.7, `${theme.label}: page background luminance ${l.toFixed(2)}`);
    await page.waitForTimeout(500); // late CSP reports arrive
    assert.deepEqual(problems, []);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, theme.file) });
  }

  // The button opens the full report on the same file.
  const frame = await webviewFrame(page, '#profile', 'the model viewer');
  await frame.locator('#open-report').click();
  await page.locator('.tab.active', { hasText: `Deferred Norm: ${FILE}` }).waitFor({ timeout: 30_000 });
});
