/**
 * Export PyTorch Patch… in the real extension host: from a model file (save dialog answered
 * through the prompts seam, its default beside the model), from a panel's button message (the
 * panel's hardware and workload), and as the quick fix on a norm call in modeling code. The
 * expected plan comes from the core called here, a second path beside the extension's.
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { pythonLiteral, pytorchPlan } from '../../../src/core/codegen/pytorch';
import { getPreset } from '../../../src/core/hardware/presets';
import { loadModel } from '../../../src/core/model/load';
import { profile } from '../../../src/core/report/profile';
import { DEFAULT_WORKLOAD } from '../../../src/core/workload';
import type { TestApi } from '../../../src/extension/extension';
import type { ReportPanel } from '../../../src/extension/panel/reportPanel';
import { EXTENSION_ID, workspaceRoot } from './helpers';

const COMMAND = 'deferredNorm.exportPytorchPatch';
const dir = () => workspaceRoot().fsPath;
const llamaConfig = () => vscode.Uri.file(path.join(dir(), 'Llama-3.1-8B', 'config.json'));
const read = async (uri: vscode.Uri) => new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));

/** The plan's literal as the module holds it, from the core directly. */
async function expectedPlanLiteral(configPath: string, hardware: string, workload = DEFAULT_WORKLOAD): Promise<string> {
  const report = profile(await loadModel(configPath), getPreset(hardware), workload);
  const version = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { version: string }).version;
  const plan = pytorchPlan(report, `deferred-norm ${version}`);
  return `PLAN = ${pythonLiteral({ ...plan, sites: plan.sites.map((s) => ({ ...s })) })}`;
}

async function activeEditorIs(uri: vscode.Uri, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (vscode.window.activeTextEditor?.document.uri.fsPath !== uri.fsPath) {
    if (Date.now() > deadline) throw new Error(`${uri.fsPath} was not opened (active: ${vscode.window.activeTextEditor?.document.uri.fsPath ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let api: TestApi;

suite('Export PyTorch Patch', () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<TestApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    // Suites before this one pick other hardware and workloads; the expected plans are of dimc and the settings' workload.
    await api.resetChoice();
    api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => (i as T & { id?: string }).id === 'dimc') });
    assert.equal(await vscode.commands.executeCommand<string>('deferredNorm.selectHardware'), 'dimc');
    api.setPrompts(null);
  });

  teardown(() => api.setPrompts(null));

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('from a model file: the save dialog defaults to deferred_norm_patch.py beside it; the module is written and opened', async () => {
    let asked: vscode.SaveDialogOptions | undefined;
    const target = vscode.Uri.file(path.join(dir(), 'exports', 'llama_patch.py'));
    api.setPrompts({
      saveTo: async (options) => {
        asked = options;
        return target;
      },
    });
    const written = await vscode.commands.executeCommand<vscode.Uri>(COMMAND, llamaConfig());
    assert.equal(written?.fsPath, target.fsPath);
    assert.equal(asked?.defaultUri?.fsPath, path.join(dir(), 'Llama-3.1-8B', 'deferred_norm_patch.py'));
    const text = await read(target);
    assert.match(text, /^"""Deferred-norm PyTorch patch for Llama-3\.1-8B \(family llama\)\./);
    assert.ok(text.includes(await expectedPlanLiteral(llamaConfig().fsPath, 'dimc')), 'the plan of dimc and the default workload');
    // The runtime shipped in the extension follows, verbatim.
    const runtime = await read(vscode.Uri.joinPath(vscode.extensions.getExtension(EXTENSION_ID)!.extensionUri, 'python', 'deferred_norm_patch.py'));
    assert.ok(text.endsWith(runtime));
    await activeEditorIs(target);
    // Python reads it (the extension host's machine has one: the workbench tests need it for nothing else).
    const parsed = spawnSync('/usr/bin/python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', target.fsPath], { encoding: 'utf8' });
    assert.equal(parsed.status, 0, parsed.stderr);
  });

  test('from the panel’s button: the panel’s hardware and workload; a cancelled dialog writes nothing', async () => {
    const panel = await vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileModel', llamaConfig());
    assert.ok(panel);
    const { tiles: _tiles, ...input } = { ...DEFAULT_WORKLOAD, phase: 'prefill' as const, batch: 1, seq: 512 };
    await panel.receive({ type: 'profile', hardware: 'gpu-h100', workload: input, kernels: { attention: null, norm: null } });
    const target = vscode.Uri.file(path.join(dir(), 'exports', 'panel_patch.py'));
    api.setPrompts({ saveTo: async () => undefined });
    await panel.receive({ type: 'exportPytorchPatch' });
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(target)), 'cancelled: nothing written');
    api.setPrompts({ saveTo: async () => target });
    await panel.receive({ type: 'exportPytorchPatch' });
    const text = await read(target);
    assert.ok(text.includes(await expectedPlanLiteral(llamaConfig().fsPath, 'gpu-h100', { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 512 })));
    assert.match(text, /"workload": "prefill b1 seq512 bf16"/);
    assert.equal(panel.received.filter((m) => m.type === 'exportPytorchPatch').length, 2);
  });

  test('an unsupported family is refused before the dialog, and nothing is written', async () => {
    let asked = false;
    api.setPrompts({
      saveTo: async () => {
        asked = true;
        return vscode.Uri.file(path.join(dir(), 'exports', 'mixtral_patch.py'));
      },
    });
    const written = await vscode.commands.executeCommand<vscode.Uri | undefined>(COMMAND, vscode.Uri.file(path.join(dir(), 'Mixtral-8x7B-v0.1', 'config.json')));
    assert.equal(written, undefined);
    assert.equal(asked, false);
  });

  test('the quick fix on a norm call in modeling code exports the patch of the model beside it', async () => {
    // The panel test above made gpu-h100 prefill the current choice (every surface's): back to the settings' (dimc, decode b32).
    await api.resetChoice();
    const file = vscode.Uri.joinPath(workspaceRoot(), 'modeling-llama', 'modeling_llama.py');
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    const at = doc.getText().indexOf('self.input_layernorm(hidden_states)');
    assert.ok(at >= 0);
    const onCall = new vscode.Range(doc.positionAt(at + 6), doc.positionAt(at + 6));
    const ours = (actions: vscode.CodeAction[] | undefined) => (actions ?? []).filter((a) => a.command?.command === COMMAND);
    // The parser loads on first use; the provider answers once it has.
    let offered: vscode.CodeAction[] = [];
    for (let i = 0; i < 100 && offered.length === 0; i++) {
      offered = ours(await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', file, onCall, vscode.CodeActionKind.QuickFix.value));
      if (offered.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(offered.length, 1, 'one quick fix on the norm call');
    assert.equal(offered[0]!.title, 'Export PyTorch patch for modeling-llama (deferred_norm_patch.py)');
    assert.ok(offered[0]!.kind?.contains(vscode.CodeActionKind.QuickFix));
    const config = path.join(dir(), 'modeling-llama', 'config.json');
    assert.deepEqual(offered[0]!.command!.arguments!.map((a: vscode.Uri) => a.fsPath), [config]);
    // Line 1 is no site: nothing of ours.
    const none = ours(await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', file, new vscode.Range(0, 0, 0, 0), vscode.CodeActionKind.QuickFix.value));
    assert.equal(none.length, 0);

    const target = vscode.Uri.file(path.join(dir(), 'exports', 'quickfix_patch.py'));
    api.setPrompts({ saveTo: async () => target });
    await vscode.commands.executeCommand(offered[0]!.command!.command, ...offered[0]!.command!.arguments!);
    assert.ok((await read(target)).includes(await expectedPlanLiteral(config, 'dimc')));
  });
});
