/**
 * Export Report, after writing: a notification offers Open and Reveal, and Open opens the file; the
 * save dialog starts in the model's own folder, not the workspace root (issue 20).
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TestApi } from '../../../src/extension/extension';
import { EXTENSION_ID, workspaceRoot } from './helpers';

let api: TestApi;

async function until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite('Export Report: where it goes and what it offers', () => {
  suiteSetup(async () => {
    const extension = vscode.extensions.getExtension<TestApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
  });

  teardown(() => api.setPrompts(null));

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('the save dialog starts beside the model; the notification offers Open and Reveal; Open opens the export', async () => {
    const model = vscode.Uri.file(path.join(workspaceRoot().fsPath, 'Llama-3.1-8B', 'config.json'));
    const target = vscode.Uri.file(path.join(workspaceRoot().fsPath, 'exports-open', 'report.md'));
    let dialogStart: vscode.Uri | undefined;
    const notices: { message: string; actions: readonly string[] }[] = [];
    api.setPrompts({
      pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => (i as T & { format?: string }).format === 'md'),
      saveTo: async (options) => {
        dialogStart = options.defaultUri;
        return target;
      },
      notify: async (message, actions) => {
        notices.push({ message, actions });
        return 'Open';
      },
    });
    const written = await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.exportReport', model);
    assert.equal(written?.fsPath, target.fsPath);
    assert.equal(path.dirname(dialogStart!.fsPath), path.dirname(model.fsPath), 'the dialog starts in the model’s folder');
    assert.deepEqual(notices, [{ message: `Deferred Norm: exported ${vscode.workspace.asRelativePath(target)}`, actions: ['Open', 'Reveal'] }]);
    const editor = await until(() => (vscode.window.activeTextEditor?.document.uri.fsPath === target.fsPath ? vscode.window.activeTextEditor : undefined), 15000, 'Open did not open the export');
    assert.match(editor.document.getText(), /^# Deferred normalization: /);
  });
});
