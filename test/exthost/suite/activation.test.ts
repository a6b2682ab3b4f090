/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
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
});
