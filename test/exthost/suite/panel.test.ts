/**
 * The extension in a real VS Code extension host: every command through
 * executeCommand, pickers and dialogs answered through the prompts seam, the
 * report panel's real webview. Expected figures come from the core called
 * directly, a second path beside the extension's own.
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { applyOverrides } from '../../../src/core/hardware/overrides';
import { getPreset } from '../../../src/core/hardware/presets';
import { loadModel } from '../../../src/core/model/load';
import { numericsFor } from '../../../src/core/report/numerics';
import { profile } from '../../../src/core/report/profile';
import { DEFAULT_WORKLOAD, type Workload } from '../../../src/core/workload';
import type { ModelSpec } from '../../../src/core/model/spec';
import { POINTS } from '../../../src/core/validate/points';
import { validate } from '../../../src/core/validate/validate';
import type { TestApi } from '../../../src/extension/extension';
import type { ReportPanel } from '../../../src/extension/panel/reportPanel';
import { EXTENSION_ID, report, until, workspaceRoot } from './helpers';

const workspaceDir = (): string => workspaceRoot().fsPath;

const modelUri = (name: string) => vscode.Uri.file(path.join(workspaceDir(), name, 'config.json'));

/** The percentage as the panel shows it. */
const pct = (value: number) => `${value.toFixed(1)}%`;

async function expectedSavedPct(name: string, hardware: string, workload: Workload = DEFAULT_WORKLOAD): Promise<number> {
  const spec = await loadModel(modelUri(name).fsPath);
  return profile(spec, getPreset(hardware), workload).totals.savedPct;
}

/** Runs `act` and resolves with the headline the webview renders next. */
async function renderedAfter(panel: ReportPanel, act: () => Thenable<unknown> | Promise<unknown>): Promise<string> {
  const rendered = panel.nextRender();
  await act();
  return withTimeout(rendered, 20000, `the webview did not report a render (received: ${panel.received.map((m) => m.type).join(', ')})`);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Brings a panel to the front and waits until its page has drawn the current report. */
async function revealed(panel: ReportPanel): Promise<ReportPanel> {
  panel.panel.reveal();
  await renderedAfter(panel, () => panel.refresh());
  return panel;
}

async function firstRender(panel: ReportPanel, ms = 30000): Promise<string> {
  if (panel.rendered.last !== undefined) return panel.rendered.last;
  return withTimeout(panel.nextRender(), ms, `the webview did not render the report (received: ${panel.received.map((m) => m.type).join(', ') || 'nothing'}; error: ${panel.lastError ?? 'none'})`);
}

/**
 * Opens a panel and waits for its first render. In this workbench every webview shares one
 * origin (VS Code for the web served from one host, as code-server does), and VS Code 1.100's
 * webview page can wait forever on another page's service worker (fixed upstream later:
 * microsoft/vscode#312020). A page that never said a word is closed and opened again, up to
 * five times, and the run says so; a page that loaded but drew nothing still fails.
 */
async function opened(open: () => Thenable<ReportPanel | undefined> | Promise<ReportPanel | undefined>): Promise<{ panel: ReportPanel; headline: string }> {
  for (let attempt = 1; ; attempt++) {
    const panel = await open();
    assert.ok(panel, 'a panel was opened');
    try {
      return { panel, headline: await firstRender(panel, attempt < 6 ? 10000 : 30000) };
    } catch (err) {
      if (attempt >= 6 || panel.received.length > 0) throw err;
      report(`      (workbench: the webview page never loaded, a known VS Code 1.100 web service-worker race; reopening, attempt ${attempt + 1})`);
      panel.panel.dispose();
    }
  }
}

let api: TestApi;

suite('Deferred Norm in the extension host', () => {
  suiteSetup(async () => {
    const extension = vscode.extensions.getExtension<TestApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed in the host`);
    api = await extension.activate();
    assert.ok(api && typeof api.setPrompts === 'function', 'activate() returns the test seam');
  });

  teardown(async () => {
    api.setPrompts(null);
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  // First: where every webview shares one origin (VS Code for the web from one host, as here), a page
  // made while another is still starting can wait forever on that one's service worker.
  test('a restored panel (what the serializer gets after a reload) profiles again from its saved state, kernel choices included', async () => {
    // Saved before the deferral depth existed (so none in the workload), with the norm kernel overridden.
    const state = { modelPath: modelUri('Mixtral-8x7B-v0.1').fsPath, hardware: 'tpu-v5e', workload: { phase: 'decode', batch: 8, seq: 2048, context: 4096, tp: 1, dtype: null, softmaxOffset: 'online' }, kernels: { attention: null, norm: 'eager' } };
    // VS Code hands the serializer a panel with the options it was saved with.
    const extensionUri = vscode.extensions.getExtension(EXTENSION_ID)!.extensionUri;
    const { headline } = await opened(async () => {
      const raw = vscode.window.createWebviewPanel('deferredNorm.report', 'restored', vscode.ViewColumn.Active, { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] });
      await api.restorePanel(raw, state);
      return api.panels().find((p) => p.modelPath === state.modelPath);
    });
    const spec = await loadModel(modelUri('Mixtral-8x7B-v0.1').fsPath);
    const saved = profile(spec, applyOverrides(getPreset('tpu-v5e'), ['kernels.norm=eager']), { ...DEFAULT_WORKLOAD, batch: 8, context: 4096 }).totals.savedPct;
    assert.notEqual(pct(saved), pct(await expectedSavedPct('Mixtral-8x7B-v0.1', 'tpu-v5e', { ...DEFAULT_WORKLOAD, batch: 8, context: 4096 })), 'the override changes the headline');
    assert.ok(headline.includes(pct(saved)), headline);
    assert.match(headline, /norm eager \(chosen in the panel; the profile says fused\)/);
    const restored = api.panels().find((p) => p.modelPath === state.modelPath)!;
    assert.deepEqual(restored.kernels, { attention: null, norm: 'eager' });
    assert.equal(restored.workload.deferDepth, 'deepest');
    // A state that cannot be restored closes the panel instead of leaving it blank. (A stand-in panel: a
    // real one made and closed at once can leave this workbench's shared service worker stuck for the next.)
    let disposed = false;
    const broken = { dispose: () => (disposed = true) } as unknown as vscode.WebviewPanel;
    await api.restorePanel(broken, { modelPath: 42 });
    assert.ok(disposed);
  });

  test('Profile Model… opens the panel, and the webview renders the model’s simulated figures', async () => {
    api.setPrompts({ pickModel: async () => modelUri('Llama-3.1-8B') });
    const { panel, headline } = await opened(() => vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileModel'));
    assert.equal(panel.modelPath, modelUri('Llama-3.1-8B').fsPath);
    assert.equal(panel.hardware, 'dimc');
    const saved = await expectedSavedPct('Llama-3.1-8B', 'dimc');
    assert.ok(saved > 5, `deferral saves something on dimc (${saved})`);
    assert.match(headline, /Llama-3\.1-8B|Meta-Llama-3\.1-8B/);
    assert.ok(headline.includes(pct(saved)), `the headline shows ${pct(saved)}: ${headline}`);
    assert.match(headline, /simulated estimate/i);
    assert.ok(panel.received.some((m) => m.type === 'ready'), 'the webview said it was ready');
  });

  test('the headline links to the validation: its points and held-back error, as `deferred-norm validate` computes them (issue 19)', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    // The core run here, on the repository's fixtures: a second path beside the extension's.
    const specs = new Map<string, ModelSpec>();
    for (const model of new Set(POINTS.map((p) => p.model))) specs.set(model, await loadModel(path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'test', 'fixtures', 'configs', model, 'config.json')));
    const result = validate({ specs, hardware: getPreset });
    const want = `Validated against ${POINTS.length} published measurements: held-back error ${(100 * result.heldBack.meanAbsError).toFixed(1)}%`;
    // Computed once, after the first report is drawn; then every view carries it.
    for (let i = 0; i < 300 && !panel.currentView()?.validation; i++) await new Promise((r) => setTimeout(r, 100));
    const headline = await renderedAfter(panel, () => panel.refresh());
    assert.ok(headline.includes(want), `${want} in: ${headline}`);
    assert.match(headline, /Show each point/);
  });

  test("the validation link opens deferred-norm validate's table, read-only, with every published point (issue 19)", async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    // What the link's click posts (the click itself: test/exthost/ui.test.ts).
    await panel.receive({ type: 'showValidation' });
    const editor = await until('the validation document in an editor', () => vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'deferred-norm' && e.document.uri.path.includes('validate')));
    const text = editor.document.getText();
    for (const p of POINTS) assert.ok(text.includes(p.id), `point ${p.id} in the document`);
    // Read-only: the deferred-norm: scheme has a content provider and no file system to save into.
    assert.equal(vscode.workspace.fs.isWritableFileSystem('deferred-norm'), undefined);
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('deferredNorm.showValidation'));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('a control in the panel re-profiles at once: hardware and workload from the webview’s message', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath);
    assert.ok(panel);
    const workload = { phase: 'prefill' as const, batch: 1, seq: 1024, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
    const headline = await renderedAfter(panel, () => panel.receive({ type: 'profile', hardware: 'gpu-h100', workload }));
    const saved = await expectedSavedPct('Llama-3.1-8B', 'gpu-h100', { ...DEFAULT_WORKLOAD, ...workload });
    assert.ok(headline.includes(pct(saved)), `the headline shows ${pct(saved)} on gpu-h100: ${headline}`);
    assert.match(headline, /H100/);
    assert.equal(panel.currentView()?.report.workload.seq, 1024);
  });

  test('the attention kernel control re-profiles with the override, as `--set kernels.attention=eager` does', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    const workload = { ...panel.workload, phase: 'decode' as const, batch: 32, context: 2048, tp: 1, deferDepth: 'deepest' as const };
    const spec = await loadModel(modelUri('Llama-3.1-8B').fsPath);
    const full = { ...DEFAULT_WORKLOAD, ...workload };
    const softmax = () => panel.currentView()!.report.layerKinds[0]!.sites.find((s) => s.kind === 'softmax')!;

    // On gpu-h100's own kernels (flash attention) the Softmax is already deferred by the baseline.
    let headline = await renderedAfter(panel, () => panel.receive({ type: 'profile', hardware: 'gpu-h100', workload, kernels: { attention: null, norm: null } }));
    const flash = profile(spec, getPreset('gpu-h100'), full).totals.savedPct;
    assert.ok(headline.includes(pct(flash)), `${pct(flash)} on flash: ${headline}`);
    assert.match(headline, /attention flash \(profile\)/);
    assert.equal(softmax().decision, 'ineligible');
    assert.match(softmax().reason, /already deferred by the baseline kernel/);

    // What the Attention kernel select posts when "eager" is picked (its own test in test/browser/panel.test.ts).
    headline = await renderedAfter(panel, () => panel.receive({ type: 'profile', hardware: 'gpu-h100', workload, kernels: { attention: 'eager', norm: null } }));
    const expected = profile(spec, applyOverrides(getPreset('gpu-h100'), ['kernels.attention=eager']), full);
    assert.notEqual(pct(expected.totals.savedPct), pct(flash), 'eager attention changes the headline');
    assert.ok(headline.includes(pct(expected.totals.savedPct)), `${pct(expected.totals.savedPct)} on eager: ${headline}`);
    assert.match(headline, /attention eager \(chosen in the panel; the profile says flash\)/);
    assert.deepEqual(panel.currentView()!.report.totals, expected.totals);
    assert.ok(['defer', 'keep'].includes(softmax().decision), `the Softmax site is decided by cost now (${softmax().decision})`);
    assert.equal(softmax().decision, expected.layerKinds[0]!.sites.find((s) => s.kind === 'softmax')!.decision);
    assert.deepEqual(panel.kernels, { attention: 'eager', norm: null });
    assert.match(panel.currentView()!.report.hardware.provenance['kernels.attention']!, /set in the report panel's controls/);

    // The layer's pseudo-code diff opened from the panel is the panel's: eager attention, no fused kernel.
    await panel.receive({ type: 'openDiff', layerKind: 'decoder', site: null });
    const diff = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(diff instanceof vscode.TabInputTextDiff, 'a diff editor is active');
    const block = panel.currentView()!.report.pseudocodeBlocks!.find((b) => b.layerKind === 'decoder')!;
    assert.equal((await vscode.workspace.openTextDocument(diff.original)).getText(), block.baseline);
    assert.equal((await vscode.workspace.openTextDocument(diff.modified)).getText(), block.deferred);
    assert.doesNotMatch(block.deferred, /flash_attention/);
    panel.panel.reveal();

    // The exports carry the override: the JSON's figures are the overridden profile's, the HTML shows the choice.
    const outputs: Record<string, string> = {};
    for (const format of ['json', 'html']) {
      const target = vscode.Uri.file(path.join(workspaceDir(), 'exports', `eager.${format}`));
      api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => (i as T & { format?: string }).format === format), saveTo: async () => target });
      assert.equal((await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.exportReport', modelUri('Llama-3.1-8B')))?.fsPath, target.fsPath);
      outputs[format] = new TextDecoder().decode(await vscode.workspace.fs.readFile(target));
    }
    assert.deepEqual(JSON.parse(outputs['json']!).totals, expected.totals);
    const data = JSON.parse(/<script type="application\/json" id="dnp-data"[^>]*>([^<]*)<\/script>/.exec(outputs['html']!)![1]!);
    assert.deepEqual(data.kernels, { attention: 'eager', norm: null });
    assert.deepEqual(data.profileKernels, { attention: 'flash', norm: 'fused' });
    assert.equal(data.interactive, false);

    // Back to the profile's kernel.
    headline = await renderedAfter(panel, () => panel.receive({ type: 'profile', hardware: 'gpu-h100', workload, kernels: { attention: null, norm: null } }));
    assert.ok(headline.includes(pct(flash)), headline);
    assert.equal(softmax().decision, 'ineligible');
  });

  test('the deferral depth control: linear keeps every scale after its linear layer, so the rope depth goes (dimc)', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    const workload = { ...panel.workload, phase: 'decode' as const, batch: 32, context: 2048 };
    const spec = await loadModel(modelUri('Llama-3.1-8B').fsPath);
    const attnNorm = () => panel.currentView()!.report.layerKinds[0]!.sites.find((s) => s.id === 'attn-norm')!;

    let headline = await renderedAfter(panel, () => panel.receive({ type: 'profile', hardware: 'dimc', workload: { ...workload, deferDepth: 'deepest' }, kernels: { attention: null, norm: null } }));
    assert.ok(headline.includes(pct(await expectedSavedPct('Llama-3.1-8B', 'dimc'))), headline);
    assert.equal(attnNorm().depth, 'rope');
    assert.ok(attnNorm().depthUs.some((d) => d.depth === 'rope'));

    headline = await renderedAfter(panel, () => panel.receive({ type: 'profile', hardware: 'dimc', workload: { ...workload, deferDepth: 'linear' }, kernels: { attention: null, norm: null } }));
    const linear = profile(spec, getPreset('dimc'), { ...DEFAULT_WORKLOAD, deferDepth: 'linear' });
    assert.ok(headline.includes(pct(linear.totals.savedPct)), `${pct(linear.totals.savedPct)} with linear depth: ${headline}`);
    assert.equal(attnNorm().depth, 'linear');
    assert.deepEqual(attnNorm().depthUs.map((d) => d.depth), ['linear']);
    assert.equal(panel.workload.deferDepth, 'linear');
  });

  test('a malformed message from the webview is dropped and changes nothing', async () => {
    // The later tests read the Llama panel on gpu-h100, prefill of 1024 tokens at batch 1 (set by the control test above).
    const llama = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    const prefill = { phase: 'prefill' as const, batch: 1, seq: 1024, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
    await renderedAfter(llama, () => llama.receive({ type: 'profile', hardware: 'gpu-h100', workload: prefill }));
    const panel = api.panels()[0]!;
    const before = JSON.stringify(panel.currentView()?.report.totals);
    const count = panel.received.length;
    await panel.receive({ type: 'profile', hardware: 'dimc', workload: { phase: 'decode', batch: -1 } });
    await panel.receive({ type: 'profile', hardware: 'dimc', workload: panel.workload, kernels: { attention: 'sdpa', norm: null } });
    await panel.receive({ type: 'run', command: 'workbench.action.terminal.new' });
    assert.equal(panel.received.length, count);
    assert.equal(JSON.stringify(panel.currentView()?.report.totals), before);
  });

  test('Profile Active File profiles the config.json in the editor, with the choice the Llama panel made', async () => {
    // The test above left the Llama panel on gpu-h100, prefill of 1024 tokens at batch 1: that is the current choice.
    const prefill = { phase: 'prefill' as const, batch: 1, seq: 1024, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
    assert.deepEqual(api.currentChoice(), { hardware: 'gpu-h100', workload: prefill });
    await vscode.window.showTextDocument(modelUri('GPT-2'));
    const { panel, headline } = await opened(() => vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileActiveFile'));
    assert.equal(panel.modelPath, modelUri('GPT-2').fsPath);
    assert.equal(panel.hardware, 'gpu-h100');
    assert.ok(headline.includes(pct(await expectedSavedPct('GPT-2', 'gpu-h100', { ...DEFAULT_WORKLOAD, ...prefill }))), headline);
  });

  test('one answer everywhere: a choice made in one panel moves the other panels, the CodeLens, Compare and Select Hardware’s tick (issue 20)', async () => {
    const llama = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    const gpt2 = api.panels().find((p) => p.modelPath === modelUri('GPT-2').fsPath)!;
    const workload = { phase: 'decode' as const, batch: 4, seq: 2048, context: 1024, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
    await gpt2.receive({ type: 'profile', hardware: 'gpu-a100', workload, kernels: { attention: null, norm: null } });
    assert.deepEqual(api.currentChoice(), { hardware: 'gpu-a100', workload });
    // The other panel follows, and its figures are those of the new choice.
    assert.equal(llama.hardware, 'gpu-a100');
    assert.deepEqual(llama.workload, workload);
    assert.equal(llama.currentView()?.report.totals.savedPct, profile(await loadModel(modelUri('Llama-3.1-8B').fsPath), getPreset('gpu-a100'), { ...DEFAULT_WORKLOAD, ...workload }).totals.savedPct);
    // The config's CodeLens.
    const doc = await vscode.workspace.openTextDocument(modelUri('Llama-3.1-8B'));
    const want = `Deferred norm: −${pct(await expectedSavedPct('Llama-3.1-8B', 'gpu-a100', { ...DEFAULT_WORKLOAD, ...workload }))} on gpu-a100 · decode b4 ctx1024`;
    let titles: string[] = [];
    for (let i = 0; i < 100 && !titles[0]?.startsWith(want); i++) {
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 10);
      titles = (lenses ?? []).map((l) => l.command?.title ?? '');
      if (!titles[0]?.startsWith(want)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(titles[0]?.startsWith(want), `the lens: ${JSON.stringify(titles)}`);
    // Compare puts the model on every preset at the chosen workload.
    const compared = await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.compareHardware', modelUri('Llama-3.1-8B'));
    const comparison = (await vscode.workspace.openTextDocument(compared!)).getText();
    assert.match(comparison, /batch 4/);
    // Select Hardware Profile ticks the choice, and nothing else.
    let ticked: string[] = [];
    api.setPrompts({
      pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => {
        ticked = items.filter((i) => i.label.startsWith('$(check) ')).map((i) => i.label);
        return undefined;
      },
    });
    await vscode.commands.executeCommand('deferredNorm.selectHardware');
    assert.deepEqual(ticked, ['$(check) gpu-a100']);
    // Back to the choice the later tests read (gpu-h100, prefill of 1024 tokens at batch 1).
    const prefill = { phase: 'prefill' as const, batch: 1, seq: 1024, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
    await llama.receive({ type: 'profile', hardware: 'gpu-h100', workload: prefill, kernels: { attention: null, norm: null } });
    assert.equal(gpt2.hardware, 'gpu-h100');
  });

  test('Select Hardware Profile lists presets and workspace profiles, remembers the choice and re-profiles', async () => {
    let offered: readonly vscode.QuickPickItem[] = [];
    api.setPrompts({
      pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => {
        offered = items;
        return items.find((i) => i.label.endsWith('gpu-h100'));
      },
    });
    const chosen = await vscode.commands.executeCommand<string>('deferredNorm.selectHardware');
    assert.equal(chosen, 'gpu-h100');
    assert.deepEqual(offered.slice(0, 6).map((i) => i.label.replace('$(check) ', '')), ['cpu', 'dimc', 'gpu-a100', 'gpu-h100', 'gpu-t4', 'tpu-v5e']);
    assert.ok(offered.every((i) => typeof i.description === 'string' && i.description.length > 0));
    api.setPrompts({ pickModel: async () => modelUri('Llama-3.1-8B') });
    const panel = await vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileModel', modelUri('Llama-3.1-405B'));
    assert.equal(panel?.hardware, 'gpu-h100', 'new panels use the remembered choice');
  });

  test('Show Rewritten Pseudo-code opens VS Code’s diff of deferred-norm: documents, baseline ↔ deferred', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => i.label.includes('input_layernorm → q_proj, k_proj, v_proj')) });
    assert.equal(await vscode.commands.executeCommand('deferredNorm.showPseudocode', modelUri('Llama-3.1-8B')), true);
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(input instanceof vscode.TabInputTextDiff, 'a diff editor is active');
    assert.equal(input.original.scheme, 'deferred-norm');
    assert.equal(input.modified.scheme, 'deferred-norm');
    const before = (await vscode.workspace.openTextDocument(input.original)).getText();
    const after = (await vscode.workspace.openTextDocument(input.modified)).getText();
    const site = panel.currentView()!.report.pseudocode!.find((p) => p.name === 'input_layernorm → q_proj, k_proj, v_proj')!;
    assert.equal(before, site.before);
    assert.equal(after, site.after);
    assert.notEqual(before, after);
    for (const name of ['input_layernorm', 'q_proj', 'k_proj', 'v_proj']) assert.ok(after.includes(name), name);
    // A document address the extension did not make is answered with a sentence, not an exception.
    const stray = await vscode.workspace.openTextDocument(vscode.Uri.parse('deferred-norm:/x/y.py?not-json'));
    assert.match(stray.getText(), /cannot be rebuilt/);
  });

  test('Export Report writes JSON, CSV, Markdown, a Chrome trace and stand-alone HTML', async () => {
    const outputs: Record<string, string> = {};
    for (const format of ['json', 'csv', 'md', 'trace', 'html']) {
      const target = vscode.Uri.file(path.join(workspaceDir(), 'exports', `report.${format}`));
      api.setPrompts({
        pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => (i as T & { format?: string }).format === format),
        saveTo: async () => target,
      });
      const written = await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.exportReport', modelUri('Llama-3.1-8B'));
      assert.equal(written?.fsPath, target.fsPath, format);
      outputs[format] = new TextDecoder().decode(await vscode.workspace.fs.readFile(target));
    }
    const workload = { ...DEFAULT_WORKLOAD, phase: 'prefill' as const, batch: 1, seq: 1024 };
    const spec = await loadModel(modelUri('Llama-3.1-8B').fsPath);
    const expected = profile(spec, getPreset('gpu-h100'), workload);
    const json = JSON.parse(outputs['json']!);
    assert.equal(json.totals.savedPct, expected.totals.savedPct);
    assert.equal(json.hardware.name, 'gpu-h100');
    assert.ok(json.numerics && json.numerics.entries.length > 0, 'the JSON export carries the numerics check');
    assert.ok(Array.isArray(json.pseudocode) && json.pseudocode.length > 0, 'and the rewritten code');
    // A header, a row per run of identical layers: the 32 decoder layers (count 32), the head (count 1).
    assert.deepEqual(outputs['csv']!.trim().split('\n').map((row) => row.split(',').at(-1)), ['count', '32', '1']);
    assert.match(outputs['md']!, /^# Deferred normalization: /);
    assert.ok(Array.isArray(JSON.parse(outputs['trace']!).traceEvents));
    const html = outputs['html']!;
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src (&#39;|')none\1;/);
    // Citations mention web addresses as text; nothing may be loaded from one.
    assert.ok(!/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(html), 'the HTML export loads nothing from outside itself');
    assert.ok(html.includes('id="dnp-data"'));
  });

  test('New Hardware Profile writes an editable *.hardware.json, selects it, and saving it re-profiles the panel', async () => {
    const target = vscode.Uri.file(path.join(workspaceDir(), 'profiles', 'fast-network.hardware.json'));
    api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => i.label === 'dimc'), saveTo: async () => target });
    const panel = await revealed(api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!);
    const firstRefresh = panel.nextRender();
    assert.equal((await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.newHardwareProfile'))?.fsPath, target.fsPath);
    await withTimeout(firstRefresh, 20000, 'the panel did not re-profile on the new profile');
    assert.equal(panel.hardware, target.toString());
    const written = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(target)));
    assert.equal(written.collective.hopLatencyNs, getPreset('dimc').collective.hopLatencyNs);
    const before = panel.currentView()!.report.totals;
    assert.ok(before.collectiveShareBaselinePct > 1, `collectives cost something on the copy of dimc (${before.collectiveShareBaselinePct})`);
    // Make the network free, as a user would: edit the open document and save it.
    const doc = await vscode.workspace.openTextDocument(target);
    const edited = JSON.stringify({ ...written, collective: { ...written.collective, hopLatencyNs: 0 } }, null, 2);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(target, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), edited);
    await vscode.workspace.applyEdit(edit);
    await renderedAfter(panel, () => doc.save());
    const after = panel.currentView()!.report.totals;
    assert.ok(after.collectiveShareBaselinePct < before.collectiveShareBaselinePct, `free hops shrink the collective share (${before.collectiveShareBaselinePct} → ${after.collectiveShareBaselinePct})`);
  });

  test('Compare Hardware Profiles puts the model on every preset and workspace profile, side by side', async () => {
    const doc = await vscode.commands.executeCommand<vscode.Uri>('deferredNorm.compareHardware', modelUri('Llama-3.1-8B'));
    assert.ok(doc);
    const text = (await vscode.workspace.openTextDocument(doc)).getText();
    const spec = await loadModel(modelUri('Llama-3.1-8B').fsPath);
    // At the current choice's workload (the panels' prefill of 1024 tokens at batch 1), not the settings'.
    // The test workspace pins deferredNorm.tensorParallel to 1 (prepare.ts): every preset runs at TP 1.
    const workload = { ...DEFAULT_WORKLOAD, ...api.currentChoice().workload, tp: 1 };
    assert.equal(api.currentChoice().workload.tp, 1);
    assert.equal(workload.seq, 1024);
    for (const name of ['dimc', 'gpu-h100', 'tpu-v5e']) {
      const saved = profile(spec, getPreset(name), workload).totals.savedPct;
      const row = text.split('\n').find((line) => line.includes(`(${name})`));
      assert.ok(row, `a row for ${name}`);
      assert.ok(row.includes(pct(saved)), `${name}: ${pct(saved)} in ${row}`);
    }
    assert.ok(text.includes('fast-network.hardware.json') || text.includes('my-dimc'), 'the workspace profile is compared too');
  });

  test('Sweep draws savings along an axis in the panel', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => i.label === 'Batch') });
    const sweep = await vscode.commands.executeCommand<{ axis: string; points: { batch: number; savedPct: number }[] }>('deferredNorm.sweep', modelUri('Llama-3.1-8B'));
    assert.equal(sweep?.axis, 'batch');
    assert.deepEqual(sweep.points.map((p) => p.batch), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    assert.equal(panel.currentView()?.sweep?.axis, 'batch');
  });

  test('Verify Numerics runs the check and puts it in the panel', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    const result = await vscode.commands.executeCommand<{ entries: { site: string; dtype: string; withinBaseline: boolean }[] }>('deferredNorm.verifyNumerics', modelUri('Llama-3.1-8B'));
    const spec = await loadModel(modelUri('Llama-3.1-8B').fsPath);
    const expected = numericsFor(spec, 1);
    assert.deepEqual(result?.entries.map((e) => `${e.site}/${e.dtype}`), expected.entries.map((e) => `${e.site}/${e.dtype}`));
    assert.ok(panel.currentView()?.report.numerics, 'the panel has the numerics');
  });

  test('a broken config gets the core’s one-line message in the panel, not a stack trace', async () => {
    const dir = vscode.Uri.file(path.join(workspaceDir(), 'broken-model'));
    await vscode.workspace.fs.createDirectory(dir);
    const config = vscode.Uri.joinPath(dir, 'config.json');
    await vscode.workspace.fs.writeFile(config, new TextEncoder().encode(JSON.stringify({ model_type: 'llama', hidden_size: 'wide', num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 })));
    const panel = await vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileModel', config);
    assert.ok(panel);
    assert.ok(panel.lastError, 'the panel is in its error state');
    assert.match(panel.lastError, /config\.json: hidden_size/);
    assert.doesNotMatch(panel.lastError, /\n\s+at /);
    // Its notification stands while the problem does, and goes once the fixed file profiles (issue 20).
    assert.equal(panel.errorNotice?.message, panel.lastError);
    await vscode.workspace.fs.writeFile(config, new TextEncoder().encode(JSON.stringify({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, vocab_size: 100 })));
    await panel.reloadModel();
    assert.equal(panel.lastError, undefined);
    assert.equal(panel.errorNotice, undefined);
  });

  test('a model whose strings are markup reaches the panel as text', async () => {
    // Were the name parsed as HTML, the headline's text would hold an image and lose the tag's letters.
    const payload = '<img src=x onerror="window.__pwned=1">"><svg onload=alert(1)>';
    const dir = vscode.Uri.file(path.join(workspaceDir(), 'hostile-model'));
    await vscode.workspace.fs.createDirectory(dir);
    const original = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(modelUri('Llama-3.1-8B'))));
    const config = vscode.Uri.joinPath(dir, 'config.json');
    await vscode.workspace.fs.writeFile(config, new TextEncoder().encode(JSON.stringify({ ...original, _name_or_path: payload, architectures: [`${payload}ForCausalLM`] })));
    const { headline } = await opened(() => vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileModel', config));
    assert.ok(headline.includes(payload), `the name shows as typed: ${headline.slice(0, 200)}`);
    assert.ok(headline.includes(`${payload}ForCausalLM`), 'and so does the architecture');
  });
  // Last: it leaves the shared choice at TP auto.
  test('TP auto in the panel: the headline says the degree it chose, 16 for Llama-3.1-8B on dimc (issue 20)', async () => {
    const panel = api.panels().find((p) => p.modelPath === modelUri('Llama-3.1-8B').fsPath)!;
    const workload = { phase: 'decode' as const, batch: 32, seq: 2048, context: 2048, tp: 'auto' as const, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
    // What the Tensor parallel field posts with "auto" typed (the suite's workspace pins 1; a user's default is auto).
    await panel.receive({ type: 'profile', hardware: 'dimc', workload, kernels: { attention: null, norm: null } });
    // TP 8 holds 938 MB of fp8 linears + 1.07 GB of KV cache per card, over dimc's 2 GB of SRAM; TP 16
    // fits (derived in test/unit/tensor-parallel.test.ts).
    await until('the panel at TP auto → 16', () => (panel.currentView()?.report.workload.tp === 16 ? true : undefined), 30_000);
    assert.equal(panel.workload.tp, 'auto');
    assert.equal(api.currentChoice().workload.tp, 'auto');
    const headline = await renderedAfter(panel, () => panel.refresh());
    assert.match(headline, /Workload decode, context 2048, batch 32, tp 16 \(auto: the smallest that fits\)/);
    assert.doesNotMatch(headline, /does not fit/);
  });
});
