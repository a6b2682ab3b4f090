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
import { duration } from '../../../src/core/report/text';
import type { TestApi } from '../../../src/extension/extension';
import { EXTENSION_ID, heartbeat, report, until, workspaceRoot } from './helpers';

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

/** Replaces the last character of `after` in an open document with `typed`, as a keystroke would. */
async function keystroke(doc: vscode.TextDocument, after: string, typed: string): Promise<void> {
  const at = doc.getText().indexOf(after) + after.length - 1;
  assert.ok(at >= after.length - 1, `${after} is in ${doc.uri.fsPath}`);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(doc.uri, new vscode.Range(doc.positionAt(at), doc.positionAt(at + 1)), typed);
  assert.ok(await vscode.workspace.applyEdit(edit));
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
    // The keys issue 20 found without a hover: the lm_head's share (4,096 × 128,256 weights), the dtype simulated.
    assert.match(await hoverOn(doc, 'vocab_size'), /projects 4,096 → 128,256: 525\.3 M weights/);
    assert.match(await hoverOn(doc, 'torch_dtype'), /Simulated in \*\*fp8\*\*/);
    // The whole-model hover: end-to-end figures and the memory warning.
    assert.match(await hoverOn(doc, 'num_hidden_layers'), /End to end \(batch 32\): TTFT [^;]+; TPOT [^;]+;[\s\S]*\*\*Warning:\*\* Does not fit/);
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
    // The end-to-end figure and the memory warning as the core's report has them (a second path beside the worker's).
    const r = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD);
    const e2e = `TPOT ${duration(r.endToEnd.tpot!.deferredUs)}`;
    assert.equal(r.memory.fits, false, '8 GB of fp8 weights on a 2 GB dimc card');
    const titles = await lensTitles(uri);
    assert.deepEqual(titles, [`Deferred norm: −${r.totals.savedPct.toFixed(1)}% on dimc · decode b32 ctx2048 · ${e2e} · $(warning) needs TP ≥ ${r.memory.minimumTp}`, 'Open report']);

    const config = vscode.workspace.getConfiguration('deferredNorm');
    await config.update('batch', 8, vscode.ConfigurationTarget.Workspace);
    try {
      const batch8 = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, batch: 8 }).totals.savedPct;
      await until('the lens follows deferredNorm.batch', async () => ((await lensTitles(uri))[0]?.includes('b8') ? true : undefined));
      assert.ok((await lensTitles(uri))[0]?.startsWith(`Deferred norm: −${batch8.toFixed(1)}% on dimc · decode b8 ctx2048 · TPOT `));
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

  test('hostile configs never block the host: hidden_size 1e20 with 7 heads, a 4-million-entry NaN array (longest stall printed)', async function () {
    this.timeout(240_000);
    const api = await vscode.extensions.getExtension<TestApi>(EXTENSION_ID)!.activate();
    // VS Code's JSON language server (another process) would validate the 16 MB files, and every JSON
    // hover waits on its answer too: switched off here, so the hover timed is the one this extension gives.
    const json = vscode.workspace.getConfiguration('json');
    await json.update('validate.enable', false, vscode.ConfigurationTarget.Workspace);
    const nanArray = `[${'NaN,'.repeat(3_999_999)}NaN]`;
    try {
      const llama = await vscode.workspace.openTextDocument(configUri('Llama-3.1-8B'));
      // Warm: the core, the small worker and the JSON language server are running.
      await hoverOn(llama, 'hidden_size');

      // VS Code's own share: a 16 MB JSON file that is no model config (this extension only looks for a model key in it).
      const plainUri = vscode.Uri.joinPath(workspaceRoot(), 'Hostile-plain', 'data.json');
      await write(plainUri, `{\n  "note": 7,\n  "x": ${nanArray}\n}\n`);
      const plain = await vscode.workspace.openTextDocument(plainUri);
      await new Promise((r) => setTimeout(r, 2000));
      let beat = heartbeat();
      await keystroke(plain, '"note": 7', '6');
      await new Promise((r) => setTimeout(r, 3000));
      const plainStallMs = beat.stop();

      const absurdUri = configUri('Hostile-1e20');
      await write(absurdUri, JSON.stringify({ model_type: 'llama', hidden_size: 1e20, num_attention_heads: 7, num_hidden_layers: 32, intermediate_size: 14336, vocab_size: 128256 }, null, 2));
      const nanUri = configUri('Hostile-NaN');
      const head = '{\n  "model_type": "llama",\n  "hidden_size": 4096,\n  "num_attention_heads": 7,\n  "num_hidden_layers": 2,\n  "intermediate_size": 14336,\n  "vocab_size": 128256,\n';
      await write(nanUri, `${head}  "x": ${nanArray}\n}\n`);

      // Opening both: this stretch also holds VS Code's own sync of a 16 MB document into the host.
      api.editorHostStretches.longestMs = 0;
      beat = heartbeat();
      const absurd = await vscode.workspace.openTextDocument(absurdUri);
      await vscode.window.showTextDocument(absurd);
      // Open, not shown: a shown 16 MB document keeps VS Code's JSON language server busy with its folding
      // ranges and symbols for seconds, and every JSON hover queues behind them (measured: 12 s).
      const nan = await vscode.workspace.openTextDocument(nanUri);
      // While a worker parses the 16 MB config: a hover on another file.
      let started = performance.now();
      const hover = await hoverOn(llama, 'hidden_size');
      const hoverMs = performance.now() - started;
      const absurdProblem = await until('the heads problem on hidden_size 1e20', () => ourDiagnostics(absurdUri).find((d) => d.message.includes('7 heads do not divide')), 30_000);
      await until('the heads problem in the NaN config', () => ourDiagnostics(nanUri).find((d) => d.message.includes('7 heads do not divide')), 60_000);
      const openStallMs = beat.stop();
      const openOursMs = api.editorHostStretches.longestMs;
      const openOursWhat = api.editorHostStretches.longestWhat;

      // A keystroke in the NaN config (7 heads → 6): the pause after it re-profiles the 16 MB text.
      api.editorHostStretches.longestMs = 0;
      beat = heartbeat();
      started = performance.now();
      await keystroke(nan, '"num_attention_heads": 7', '6');
      await until('the NaN config re-profiled after the edit', () => ourDiagnostics(nanUri).find((d) => d.message.includes('6 heads do not divide')), 60_000);
      const reprofileMs = performance.now() - started;
      const pauseStallMs = beat.stop();
      const pauseOursMs = api.editorHostStretches.longestMs;
      const pauseOursWhat = api.editorHostStretches.longestWhat;
      report(
        `      hostile configs open (1e20 hidden with 7 heads; 4,000,000 NaN, 16 MB): a hover on Llama-3.1-8B took ${hoverMs.toFixed(0)} ms. ` +
          `Longest stretch this extension held the host: opening ${openOursMs.toFixed(1)} ms (${openOursWhat}), after a keystroke in the NaN config ${pauseOursMs.toFixed(1)} ms (${pauseOursWhat}; re-profiled in ${reprofileMs.toFixed(0)} ms). ` +
          `Heartbeat (everything on the host, VS Code's own sync of the text included): opening ${openStallMs.toFixed(0)} ms, after the keystroke ${pauseStallMs.toFixed(0)} ms; ` +
          `after a keystroke in a 16 MB JSON file that is no model config ${plainStallMs.toFixed(0)} ms`,
      );
      assert.match(hover, /saves \*\*/);
      assert.ok(hoverMs < 1000, `the hover took ${hoverMs.toFixed(0)} ms`);
      assert.ok(pauseOursMs < 50, `the editor features held the host for ${pauseOursMs.toFixed(0)} ms after a keystroke`);
      assert.ok(openOursMs < 50, `the editor features held the host for ${openOursMs.toFixed(0)} ms opening the configs`);
      // The quick fixes of the absurd config: the divisors of 1e20 = 2^20 · 5^20 nearest 7 (6 and 9 are not).
      const actions = await unlessCanceled(() => vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', absurdUri, absurdProblem.range, vscode.CodeActionKind.QuickFix.value));
      assert.deepEqual((actions ?? []).map((a) => a.title).filter((t) => t.startsWith('Set num_attention_heads')), ['Set num_attention_heads to 8', 'Set num_attention_heads to 5', 'Set num_attention_heads to 4']);
    } finally {
      // Undo the keystrokes: nothing is left dirty for the tests after this one.
      for (const uri of [vscode.Uri.joinPath(workspaceRoot(), 'Hostile-plain', 'data.json'), configUri('Hostile-NaN')]) {
        const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
        if (doc?.isDirty) await vscode.commands.executeCommand('workbench.action.files.revert', doc.uri);
      }
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await json.update('validate.enable', undefined, vscode.ConfigurationTarget.Workspace);
    }
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
