/**
 * A model's config.json in a real editor: hovers on real keys, the CodeLens, diagnostics that appear
 * on a broken config and go away when it is fixed, quick fixes, and nothing for other JSON. Expected
 * figures come from the core called directly, a second path beside the extension's own.
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getPreset } from '../../../src/core/hardware/presets';
import { loadModel } from '../../../src/core/model/load';
import { profile } from '../../../src/core/report/profile';
import { DEFAULT_WORKLOAD } from '../../../src/core/workload';
import { EXTENSION_ID, report, workspaceRoot } from './helpers';

const configUri = (folder: string): vscode.Uri => vscode.Uri.file(path.join(workspaceRoot().fsPath, folder, 'config.json'));

/** The position of a key in a document: inside its quotes. */
function positionOfKey(doc: vscode.TextDocument, key: string): vscode.Position {
  const offset = doc.getText().indexOf(`"${key}"`);
  assert.ok(offset >= 0, `${key} is in ${doc.uri.fsPath}`);
  return doc.positionAt(offset + 2);
}

function hoverTextOf(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .join('\n');
}

/**
 * Runs an executeXProvider command again when the workbench cancels it: it cancels a request whose
 * document changed under it, and VS Code's JSON server may still be starting when a run begins.
 */
async function unlessCanceled<T>(run: () => Thenable<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= 5 || !(err instanceof Error) || err.message !== 'Canceled') throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function hoverOn(doc: vscode.TextDocument, key: string): Promise<string> {
  const hovers = await unlessCanceled(() => vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, positionOfKey(doc, key)));
  return hoverTextOf(hovers ?? []);
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ourDiagnostics = (uri: vscode.Uri): vscode.Diagnostic[] => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Deferred Norm');

async function lensTitles(uri: vscode.Uri): Promise<string[]> {
  const lenses = await unlessCanceled(() => vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10));
  return (lenses ?? []).filter((l) => l.command?.command === 'deferredNorm.profileModel').map((l) => l.command?.title ?? '');
}

async function write(uri: vscode.Uri, text: string): Promise<void> {
  await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(uri, '..'));
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
}

suite('Model config in the editor', () => {
  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  });

  test('hovers on Llama-3.1-8B keys carry the computed figures (latency printed, cold and warm)', async () => {
    // The JSON extension answers hovers too: start its language server on a plain JSON file first,
    // and time a hover there as the floor every JSON hover pays.
    const plain = vscode.Uri.joinPath(workspaceRoot(), 'GPT-2', 'generation_config.json');
    await write(plain, '{\n  "bos_token_id": 50256,\n  "eos_token_id": 50256\n}\n');
    const plainDoc = await vscode.workspace.openTextDocument(plain);
    await hoverOn(plainDoc, 'bos_token_id');
    let started = performance.now();
    await hoverOn(plainDoc, 'bos_token_id');
    const floorMs = performance.now() - started;

    const doc = await vscode.workspace.openTextDocument(configUri('Llama-3.1-8B'));
    // Cold: this document was never analyzed (and, run first, the core has not been loaded yet).
    started = performance.now();
    const hidden = await hoverOn(doc, 'hidden_size');
    const coldMs = performance.now() - started;
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      started = performance.now();
      await hoverOn(doc, 'hidden_size');
      warm.push(performance.now() - started);
    }
    warm.sort((a, b) => a - b);
    report(`      hover latency through executeHoverProvider: cold ${coldMs.toFixed(1)} ms (core load + analysis), warm median ${warm[2]!.toFixed(1)} ms (Llama-3.1-8B, hidden_size); a plain JSON key ${floorMs.toFixed(1)} ms`);
    // The analysis a cold hover runs, alone: the core's simulation of the config (the core is loaded by now).
    const core = require(path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'core.js')) as typeof import('../../../src/extension/core-api');
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      started = performance.now();
      core.analyzeConfigText(doc.getText(), doc.uri.fsPath, core.getPreset('dimc'), { ...core.inputOf(core.DEFAULT_WORKLOAD) });
      runs.push(performance.now() - started);
    }
    report(`      analysis of a new version (what a cold hover or an edit computes): first ${runs[0]!.toFixed(1)} ms, then median ${[...runs.slice(1)].sort((a, b) => a - b)[2]!.toFixed(1)} ms`);

    const spec = await loadModel(configUri('Llama-3.1-8B').fsPath);
    const expected = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD);
    const layer = expected.layerKinds.find((k) => k.id !== 'head');
    assert.ok(layer);
    assert.ok(hidden.includes(`saves **${layer.savedUs.toFixed(2)} µs (${layer.savedPct.toFixed(1)}%)**`), hidden);
    assert.match(hidden, /input\\_layernorm → q\\_proj, k\\_proj, v\\_proj/);
    assert.match(hidden, /Simulated estimate on dimc · decode b32 ctx2048 \(fp8\)/);
    assert.match(hidden, /\[Open report\]\(command:deferredNorm\.profileModel\?/);

    // 2 × 32 layers × 8 KV heads × 128 head_dim × 2 B (the simulated cache width on dimc).
    assert.match(await hoverOn(doc, 'num_key_value_heads'), /GQA[\s\S]*131,072 bytes per token/);
    assert.ok((await hoverOn(doc, 'num_hidden_layers')).includes(`(**${expected.totals.savedPct.toFixed(1)}%**)`));
    assert.match(await hoverOn(doc, 'intermediate_size'), /80\.8% of the weights/);
    assert.match(await hoverOn(doc, 'rms_norm_eps'), /RMSNorm with ε = 0\.00001/);
    assert.match(await hoverOn(doc, 'model_type'), /\*\*llama\*\* family/);
    // A key the profile does not read by role gets no hover of ours.
    assert.doesNotMatch(await hoverOn(doc, 'rope_theta'), /Deferred Norm/);
  });

  test('aliases and routing: GPT-2 n_embd, Mixtral expert keys', async () => {
    const gpt2 = await vscode.workspace.openTextDocument(configUri('GPT-2'));
    assert.match(await hoverOn(gpt2, 'n_embd'), /768 values per token/);
    assert.match(await hoverOn(gpt2, 'n_head'), /Multi-head attention \(MHA\)/);
    const mixtral = await vscode.workspace.openTextDocument(configUri('Mixtral-8x7B-v0.1'));
    assert.match(await hoverOn(mixtral, 'num_local_experts'), /top 2 of 8 experts/);
  });

  test('the CodeLens states the saving on the chosen hardware and workload, and follows the settings', async () => {
    const uri = configUri('Llama-3.1-8B');
    const spec = await loadModel(uri.fsPath);
    const saved = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD).totals.savedPct;
    const titles = await lensTitles(uri);
    assert.deepEqual(titles, [`Deferred norm: −${saved.toFixed(1)}% on dimc · decode b32 ctx2048`, 'Open report']);

    const config = vscode.workspace.getConfiguration('deferredNorm');
    await config.update('batch', 8, vscode.ConfigurationTarget.Workspace);
    try {
      const batch8 = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, batch: 8 }).totals.savedPct;
      await until('the lens follows deferredNorm.batch', async () => ((await lensTitles(uri))[0]?.includes('b8') ? true : undefined));
      assert.equal((await lensTitles(uri))[0], `Deferred norm: −${batch8.toFixed(1)}% on dimc · decode b8 ctx2048`);
    } finally {
      await config.update('batch', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await config.update('codeLens.enabled', false, vscode.ConfigurationTarget.Workspace);
    try {
      assert.deepEqual(await lensTitles(uri), []);
    } finally {
      await config.update('codeLens.enabled', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('diagnostics on a broken config, a quick fix, silence mid-edit, gone when fixed and saved', async () => {
    const llama = (await vscode.workspace.fs.readFile(configUri('Llama-3.1-8B'))).toString();
    const uri = configUri('Broken-Llama');
    await write(uri, llama.replace('"num_key_value_heads": 8', '"num_key_value_heads": 7').replace('"intermediate_size": 14336', '"intermediate_size": 0'));
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);

    const found = await until('diagnostics on the broken config', () => {
      const d = ourDiagnostics(uri);
      return d.length >= 2 ? d : undefined;
    });
    const kv = found.find((d) => d.message.includes('num_key_value_heads'));
    assert.ok(kv, found.map((d) => d.message).join('\n'));
    assert.equal(kv.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(doc.getText(kv.range), '"num_key_value_heads": 7');
    const ffn = found.find((d) => d.message.includes('intermediate_size'));
    assert.equal(ffn && doc.getText(ffn.range), '"intermediate_size": 0');

    const actions = await unlessCanceled(() => vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, kv.range, vscode.CodeActionKind.QuickFix.value));
    const titles = (actions ?? []).map((a) => a.title);
    assert.deepEqual(titles.filter((t) => t.startsWith('Set num_key_value_heads')), ['Set num_key_value_heads to 8', 'Set num_key_value_heads to 4', 'Set num_key_value_heads to 2']);
    const fix = (actions ?? []).find((a) => a.title === 'Set num_key_value_heads to 8');
    assert.ok(fix?.edit);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));

    // Invalid JSON mid-edit: the last good answer stands, no new diagnostics, the hover still answers.
    const end = doc.positionAt(doc.getText().lastIndexOf('}'));
    await editor.edit((e) => e.insert(end, ',,'));
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(ourDiagnostics(uri).every((d) => !d.message.toLowerCase().includes('json')), 'quiet while the JSON is invalid');
    assert.match(await hoverOn(doc, 'hidden_size'), /Deferred Norm Profiler/);

    // Fix the rest (the stray commas, the zero MLP width), save: after the debounce, no diagnostics remain.
    const text = doc.getText();
    await editor.edit((e) => {
      e.replace(new vscode.Range(doc.positionAt(text.lastIndexOf(',,')), doc.positionAt(text.lastIndexOf(',,') + 2)), '');
      const at = text.indexOf('"intermediate_size": 0');
      e.replace(new vscode.Range(doc.positionAt(at), doc.positionAt(at + '"intermediate_size": 0'.length)), '"intermediate_size": 14336');
    });
    await doc.save();
    await until('diagnostics cleared after the fix', () => (ourDiagnostics(uri).length === 0 ? true : undefined));
    assert.match(doc.getText(), /"num_key_value_heads": 8/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('other JSON gets nothing: no hover, no lens, no diagnostics', async () => {
    const uri = vscode.Uri.joinPath(workspaceRoot(), 'Llama-3.1-8B', 'tokenizer_config.json');
    await write(uri, JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: 131072, bos_token: '<|begin_of_text|>' }, null, 2));
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.doesNotMatch(await hoverOn(doc, 'model_max_length'), /Deferred Norm/);
    assert.deepEqual(await lensTitles(uri), []);
    assert.deepEqual(ourDiagnostics(uri), []);
  });
});
