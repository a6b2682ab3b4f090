/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { TestApi } from '../../../src/extension/extension';
import { EXTENSION_ID, report, workspaceRoot } from './helpers';

suite('Activation', () => {
  test('runs in a real VS Code extension host (Node)', () => {
    const host =
      `VS Code ${vscode.version}, uiKind ${vscode.UIKind[vscode.env.uiKind]}, ` +
      `remoteName ${vscode.env.remoteName ?? '(none)'}, Node ${process.versions.node}, appHost ${vscode.env.appHost}`;
    report(`      extension host: ${host}`);
    assert.ok(process.versions.node, 'the extension host is a Node process');
    // Offline (code-server) the host is the remote one behind a web workbench; under
    // @vscode/test-electron it is the desktop's local host.
    if (vscode.env.uiKind === vscode.UIKind.Web) assert.ok(vscode.env.remoteName, 'a web workbench runs Node extensions on a remote host');
    else assert.equal(vscode.env.uiKind, vscode.UIKind.Desktop);
  });

  test('the workspace holds the model fixtures', async () => {
    const stat = await vscode.workspace.fs.stat(vscode.Uri.joinPath(workspaceRoot(), 'Llama-3.1-8B', 'config.json'));
    assert.equal(stat.type, vscode.FileType.File);
  });

  test(`${EXTENSION_ID} is installed and activates on deferredNorm.showLog`, async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not among the host's extensions`);
    await vscode.commands.executeCommand('deferredNorm.showLog');
    assert.equal(ext.isActive, true);
  });

  test('every command contributed in package.json is registered after activation', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    await ext.activate();
    const manifest = ext.packageJSON as { contributes?: { commands?: { command: string }[] } };
    const declared = (manifest.contributes?.commands ?? []).map((c) => c.command);
    assert.ok(declared.length > 0, 'the manifest contributes commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(declared.filter((c) => !registered.has(c)), [], 'contributed but not registered');
  });

  test('the first model config shown asks once which hardware to assume, and remembers the answer (issue 20)', async () => {
    const api = (await vscode.extensions.getExtension<TestApi>(EXTENSION_ID)!.activate());
    const asked: { message: string; actions: readonly string[] }[] = [];
    api.setPrompts({
      notify: async (message, actions) => {
        asked.push({ message, actions });
        return actions.find((a) => a.startsWith('Keep'));
      },
    });
    try {
      // The first figures in this fresh profile: a config's (its analysis asks; opening it does not wait).
      await vscode.workspace.openTextDocument(vscode.Uri.joinPath(workspaceRoot(), 'Llama-3.1-8B', 'config.json'));
      for (let i = 0; i < 300 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(asked.length, 1, 'asked once');
      assert.match(asked[0]!.message, /which hardware should the estimates assume\? They are for dimc until you choose/);
      assert.deepEqual(asked[0]!.actions, ['Choose Hardware…', 'Keep dimc']);
      for (let i = 0; i < 50 && api.currentChoice().hardware !== 'dimc'; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(api.currentChoice().hardware, 'dimc');
      // Answered: another model's figures do not ask again.
      await vscode.workspace.openTextDocument(vscode.Uri.joinPath(workspaceRoot(), 'GPT-2', 'config.json'));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(asked.length, 1);
    } finally {
      api.setPrompts(null);
    }
  });
});
