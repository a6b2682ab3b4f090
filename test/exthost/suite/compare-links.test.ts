/**
 * Issue 20, item 9 in a real extension host: Compare Models… puts two runs side by side (another
 * config, or the same model at another workload), and a site row's link opens the modeling line
 * or the config key the site comes from. Expected figures come from the core called directly;
 * expected lines from a plain text search of the files, not from the modeling scanner.
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getPreset } from '../../../src/core/hardware/presets';
import { loadModel } from '../../../src/core/model/load';
import { profile } from '../../../src/core/report/profile';
import { DEFAULT_WORKLOAD } from '../../../src/core/workload';
import type { TestApi } from '../../../src/extension/extension';
import { EXTENSION_ID, workspaceRoot } from './helpers';

const configOf = (folder: string) => path.join(workspaceRoot().fsPath, folder, 'config.json');

/** The cells of the Markdown row whose first cell is `label`. */
function row(text: string, label: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`| ${label} |`));
  assert.ok(line, `a row "${label}" in\n${text}`);
  return line.slice(2, -2).split(' | ');
}

/** The hardware both runs used, from the document's Hardware row: "DIMC … (dimc)". */
const hardwareOf = (text: string): string => /\(([^()]+)\)$/.exec(row(text, 'Hardware')[1]!)![1]!;

/** 0-based line of the first occurrence of `needle` in a file. */
function lineOf(file: string, needle: string): number {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} in ${file}`);
  return text.slice(0, at).split('\n').length - 1;
}

let api: TestApi;

suite('Compare Models and site links (issue 20)', () => {
  suiteSetup(async () => {
    api = (await vscode.extensions.getExtension<TestApi>(EXTENSION_ID)!.activate())!;
    // No panel open: both commands use the settings' workload (the defaults).
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  teardown(() => api.setPrompts(null));

  test('Compare Models… with another config: both models side by side, each with its own figures', async () => {
    api.setPrompts({
      pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => i.label.includes('Another model')),
      pickModel: async () => vscode.Uri.file(configOf('GPT-2')),
    });
    const doc = await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.compareModels', vscode.Uri.file(configOf('Llama-3.1-8B')));
    assert.ok(doc, 'a comparison document');
    const text = (await vscode.workspace.openTextDocument(doc)).getText();
    const hw = getPreset(hardwareOf(text));
    const models = [await loadModel(configOf('Llama-3.1-8B')), await loadModel(configOf('GPT-2'))];
    assert.deepEqual(row(text, 'Model').slice(1, 3), models.map((m) => m.name));
    const saved = models.map((m) => `${profile(m, hw, DEFAULT_WORKLOAD).totals.savedPct.toFixed(1)}%`);
    assert.deepEqual(row(text, 'Saved').slice(1, 3), saved);
  });

  test('Compare Models… with the same model at another workload: the second column is that workload', async () => {
    api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => i.label.includes('Same model, batch 1')) });
    const doc = await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.compareModels', vscode.Uri.file(configOf('Llama-3.1-8B')));
    assert.ok(doc);
    const text = (await vscode.workspace.openTextDocument(doc)).getText();
    const hw = getPreset(hardwareOf(text));
    const spec = await loadModel(configOf('Llama-3.1-8B'));
    const workloads = [DEFAULT_WORKLOAD, { ...DEFAULT_WORKLOAD, batch: 1 }];
    assert.deepEqual(row(text, 'Saved').slice(1, 3), workloads.map((w) => `${profile(spec, hw, w).totals.savedPct.toFixed(1)}%`));
    assert.match(row(text, 'Workload')[2]!, /batch 1,/);
  });

  test('a site row’s link opens the modeling file’s call of the norm, or else the config’s key line', async () => {
    const cases = [
      // Modeling code beside the config: the call, found here by text.
      { config: configOf('modeling-llama'), site: 'mlp-norm', head: false, file: path.join(workspaceRoot().fsPath, 'modeling-llama', 'modeling_llama.py'), needle: 'self.post_attention_layernorm(hidden_states)' },
      { config: configOf('modeling-llama'), site: 'final-norm', head: true, file: path.join(workspaceRoot().fsPath, 'modeling-llama', 'modeling_llama.py'), needle: 'self.norm(hidden_states)' },
      // No modeling code: the norm's epsilon in config.json.
      { config: configOf('Llama-3.1-8B'), site: 'attn-norm', head: false, file: configOf('Llama-3.1-8B'), needle: '"rms_norm_eps"' },
    ];
    for (const c of cases) {
      const panel = await vscode.commands.executeCommand<{ currentView(): { report: { layerKinds: { id: string }[] } } | undefined; receive(raw: unknown): Promise<void> }>('deferredNorm.profileModel', vscode.Uri.file(c.config));
      assert.ok(panel?.currentView(), `a view of ${c.config}`);
      const kinds = panel.currentView()!.report.layerKinds;
      const layerKind = c.head ? 'head' : kinds[0]!.id;
      await panel.receive({ type: 'openSiteSource', layerKind, site: c.site });
      const editor = vscode.window.activeTextEditor;
      assert.ok(editor, 'an editor was opened');
      assert.equal(editor.document.uri.fsPath, c.file, c.site);
      assert.equal(editor.selection.start.line, lineOf(c.file, c.needle), `${c.site}: ${editor.document.lineAt(editor.selection.start.line).text}`);
    }
  });
});
