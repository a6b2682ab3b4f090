/**
 * Modeling code beside a config in the real extension host: a hover on a norm call in the
 * Llama fixture names its site, decision and simulated saving (the figure checked against the
 * core called here); an unmatched call gets nothing of ours; the CodeLens above forward sums
 * the sites; the command opens the rewrite as a diff of deferred-norm: documents. Times of the
 * parser (init, parse, query) and of the hovers are printed, never asserted.
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getPreset, isPresetName } from '../../../src/core/hardware/presets';
import { loadModel } from '../../../src/core/model/load';
import { DEFAULT_WORKLOAD } from '../../../src/core/workload';
import { formatUs } from '../../../src/extension/modeling/hover-text';
import type { ModelingParserModule } from '../../../src/extension/modeling/scan-types';
import { buildPanelView, inputOf } from '../../../src/common/panel-view';
import { EXTENSION_ID, report, workspaceRoot } from './helpers';

const COMMAND = 'deferredNorm.showSiteRewrite';

const llamaFile = () => vscode.Uri.joinPath(workspaceRoot(), 'modeling-llama', 'modeling_llama.py');
const gpt2File = () => vscode.Uri.joinPath(workspaceRoot(), 'modeling-gpt2', 'modeling_gpt2.py');

/** The position inside the first occurrence of `text` (+ `into` characters). */
function positionOf(doc: vscode.TextDocument, text: string, into: number): vscode.Position {
  const at = doc.getText().indexOf(text);
  assert.ok(at >= 0, `${text} in ${doc.uri.fsPath}`);
  return doc.positionAt(at + into);
}

const markdownOf = (hovers: vscode.Hover[]): string[] =>
  hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value)));

async function hoverText(doc: vscode.TextDocument, pos: vscode.Position): Promise<{ ours: string[]; ms: number }> {
  const started = performance.now();
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, pos);
  const ms = performance.now() - started;
  return { ours: markdownOf(hovers).filter((m) => m.includes('Deferred norm')), ms };
}

async function diffTab(timeoutMs: number): Promise<vscode.TabInputTextDiff> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    if (input instanceof vscode.TabInputTextDiff && input.original.scheme === 'deferred-norm') return input;
    if (Date.now() > deadline) throw new Error(`no deferred-norm: diff editor within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

suite('Modeling code', () => {
  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    await ext.activate();
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('parser times in this host: init, grammar, query compile, parse, query (printed, not asserted)', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const dist = path.join(ext.extensionPath, 'dist');
    // The same bundle and wasm files the extension loads; the runtime starts once per process.
    const module = require(path.join(dist, 'modeling.js')) as ModelingParserModule;
    const started = performance.now();
    const parser = await module.createModelingParser({ runtime: path.join(dist, 'tree-sitter.wasm'), grammar: path.join(dist, 'tree-sitter-python.wasm') });
    const initMs = performance.now() - started;
    const t = parser.initTimings;
    report(`      parser init ${initMs.toFixed(1)} ms: runtime ${t.runtimeMs.toFixed(1)} ms, grammar ${t.grammarMs.toFixed(1)} ms, query compile ${t.queryCompileMs.toFixed(1)} ms`);
    const source = readFileSync(llamaFile().fsPath, 'utf8');
    for (const [label, text] of [['llama fixture', source], ['llama fixture', source], ['llama fixture ×20', source.repeat(20)]] as const) {
      const { scan, timings } = parser.scan(text);
      report(`      ${label} (${text.split('\n').length} lines): parse ${timings.parseMs.toFixed(1)} ms, query ${timings.queryMs.toFixed(1)} ms, ${scan.calls.length} self.* calls`);
    }
  });

  test('a hover on self.input_layernorm( in the Llama fixture names its site, decision and simulated saving', async () => {
    const doc = await vscode.workspace.openTextDocument(llamaFile());
    assert.equal(doc.languageId, 'python');
    await vscode.window.showTextDocument(doc);
    const pos = positionOf(doc, 'self.input_layernorm(', 'self.input_'.length);
    const cold = await hoverText(doc, pos);
    const warm = await hoverText(doc, pos);
    report(`      hover: first ${cold.ms.toFixed(0)} ms (parser, report, parse), then ${warm.ms.toFixed(1)} ms (cached)`);
    assert.equal(cold.ours.length, 1, 'one hover of ours');
    const md = cold.ours[0]!;
    assert.match(md, /`input_layernorm → q_proj, k_proj, v_proj` · \*\*deferred\*\*/);
    assert.match(md, /simulated estimate/);
    assert.match(md, /```python\n/);
    assert.ok(md.includes(`](command:${COMMAND}?`), 'a command link that opens the diff');

    // The figure is the core's, for the hardware the hover names and the default workload.
    const hardware = /on `([^`]+)`/.exec(md)?.[1];
    assert.ok(hardware && isPresetName(hardware), `a preset is named: ${md.slice(0, 300)}`);
    const spec = await loadModel(path.join(workspaceRoot().fsPath, 'modeling-llama', 'config.json'));
    const expected = buildPanelView(spec, getPreset(hardware), inputOf(DEFAULT_WORKLOAD), { hardware, hardwareChoices: [], interactive: false, numerics: null, sweep: null }).report;
    const site = expected.layerKinds.find((k) => k.id === 'decoder')!.sites.find((s) => s.id === 'attn-norm')!;
    assert.ok(md.includes(`${formatUs(site.savedUs)} µs per layer`), `${formatUs(site.savedUs)} µs per layer in: ${md.slice(0, 400)}`);
    assert.ok(md.includes(`${formatUs(site.savedUs * 32)} µs per pass`));

    // After an edit the file is parsed again (a new version); the hover still lands.
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(0, 0), '# edited\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const edited = await hoverText(doc, positionOf(doc, 'self.input_layernorm(', 'self.input_'.length));
    report(`      hover after an edit: ${edited.ms.toFixed(1)} ms (parse + query of the new version)`);
    assert.equal(edited.ours.length, 1);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  test('the softmax before ·V and a GPT-2 norm inside another call are sites too', async () => {
    const llama = await vscode.workspace.openTextDocument(llamaFile());
    const softmax = await hoverText(llama, positionOf(llama, 'nn.functional.softmax(', 'nn.functional.soft'.length));
    assert.equal(softmax.ours.length, 1);
    assert.match(softmax.ours[0]!, /`softmax → ·V`/);
    const gpt2 = await vscode.workspace.openTextDocument(gpt2File());
    const ln1 = await hoverText(gpt2, positionOf(gpt2, 'self.ln_1(hidden_states)', 'self.ln'.length));
    assert.equal(ln1.ours.length, 1);
    assert.match(ln1.ours[0]!, /`ln_1 → c_attn` · \*\*deferred\*\*/);
  });

  test('an unmatched call gets nothing of ours', async () => {
    const doc = await vscode.workspace.openTextDocument(llamaFile());
    for (const [text, into] of [['self.mlp(hidden_states)', 7], ['self.q_proj(hidden_states)', 7], ['repeat_kv(key_states', 3]] as const) {
      const { ours } = await hoverText(doc, positionOf(doc, text, into));
      assert.deepEqual(ours, [], `no hover of ours on ${text}`);
    }
  });

  test('the CodeLens above LlamaDecoderLayer.forward sums its two sites; Show rewrite opens the diff', async () => {
    const doc = await vscode.workspace.openTextDocument(llamaFile());
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 10);
    const forwardLine = positionOf(doc, 'def forward(self, hidden_states, position_embeddings, attention_mask=None):\n        residual', 0).line;
    const atForward = lenses.filter((l) => l.range.start.line === forwardLine && l.command);
    const titles = atForward.map((l) => l.command!.title);
    assert.ok(titles.some((t) => /^Deferred norm: 2 sites deferred, −[\d.]+ µs per layer on \S+$/.test(t)), `the summary lens: ${titles.join(' | ')}`);
    const show = atForward.find((l) => l.command!.command === COMMAND);
    assert.ok(show, `a Show rewrite lens: ${titles.join(' | ')}`);
    const lensLines = new Set(lenses.map((l) => l.range.start.line));
    report(`      lenses on lines ${[...lensLines].map((l) => l + 1).join(', ')}: ${[...new Set(lenses.map((l) => l.command?.title))].join(' | ')}`);
    assert.equal(lensLines.size, 3, 'LlamaAttention.forward, LlamaDecoderLayer.forward, LlamaModel.forward');

    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand(show.command!.command, ...(show.command!.arguments ?? []));
    const diff = await diffTab(15000);
    const before = (await vscode.workspace.openTextDocument(diff.original)).getText();
    const after = (await vscode.workspace.openTextDocument(diff.modified)).getText();
    // The whole decoder layer: both norms' statistics are in it.
    assert.match(before, /input_layernorm/);
    assert.match(after, /post_attention_layernorm/);
  });

  test('the hover link opens the site\'s rewrite: deferredNorm.showSiteRewrite with its arguments', async () => {
    const doc = await vscode.workspace.openTextDocument(llamaFile());
    const { ours } = await hoverText(doc, positionOf(doc, 'self.post_attention_layernorm(', 'self.post'.length));
    const link = new RegExp(`\\(command:${COMMAND.replace('.', '\\.')}\\?([^)]+)\\)`).exec(ours[0] ?? '');
    assert.ok(link, 'the hover has the link');
    const args = JSON.parse(decodeURIComponent(link[1]!)) as unknown[];
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand(COMMAND, ...args);
    const diff = await diffTab(15000);
    assert.equal(diff.modified.scheme, 'deferred-norm');
    const before = (await vscode.workspace.openTextDocument(diff.original)).getText();
    const after = (await vscode.workspace.openTextDocument(diff.modified)).getText();
    assert.match(before, /^# post_attention_layernorm → gate_proj, up_proj/);
    assert.match(after, /gate_proj\.weight′ = gate_proj\.weight \* γ/);
  });
});
