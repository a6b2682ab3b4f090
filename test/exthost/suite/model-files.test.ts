/**
 * Binary model files and chat in the real extension host: the custom editor opens a .gguf and a
 * .safetensors file written here (by the test writers that follow the published formats) and its
 * page shows their metadata, tensors and headline; a 50 GB sparse .gguf opens at once; an unreadable
 * file shows the core's one-line error. The chat tool answers through vscode.lm.invokeTool with the
 * figures profile() gives when called directly here.
 */
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getPreset, isPresetName } from '../../../src/core/hardware/presets';
import { loadModel } from '../../../src/core/model/load';
import { profile } from '../../../src/core/report/profile';
import { count, num, percent } from '../../../src/core/report/text';
import { DEFAULT_WORKLOAD, type Workload } from '../../../src/core/workload';
import type { TestApi } from '../../../src/extension/extension';
import type { ModelViewer } from '../../../src/extension/model-viewer/provider';
import { llamaGgufKv, llamaGgufTensors, writeGguf } from '../../unit/helpers/gguf-writer';
import { llamaTensors, writeSafetensors } from '../../unit/helpers/safetensors-writer';
import { EXTENSION_ID, report, workspaceRoot } from './helpers';

const VIEW_TYPE = 'deferredNorm.modelFile';
const TOOL = 'deferred-norm_profile';
const TINY = { layers: 2, hidden: 256, ffn: 512, heads: 4, kvHeads: 2, vocab: 1000 };

let api: TestApi;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

async function waitFor<T>(get: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Opens a file in the viewer and resolves with the text its page reports drawing. As in
 * panel.test.ts: in this workbench every webview shares one origin and VS Code 1.100's page can
 * wait forever on another page's service worker; a page that never said a word is closed and
 * opened again (up to three times) and the run says so.
 */
async function openedInViewer(uri: vscode.Uri): Promise<{ viewer: ModelViewer; text: string; ms: number }> {
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    const viewer = await waitFor(() => api.modelViewers().find((v) => v.uri.fsPath === uri.fsPath), 10000, `a viewer for ${uri.fsPath}`);
    try {
      const text = viewer.rendered.last ?? (await withTimeout(viewer.nextRender(), attempt < 4 ? 10000 : 30000, `the viewer page of ${uri.fsPath} did not report a render`));
      return { viewer, text, ms: Date.now() - started };
    } catch (err) {
      if (attempt >= 4 || viewer.received.length > 0) throw err;
      report(`      (workbench: the webview page never loaded, a known VS Code 1.100 web service-worker race; reopening, attempt ${attempt + 1})`);
      viewer.panel.dispose();
    }
  }
}

const flat = (text: string) => text.replace(/\s+/g, ' ');

/** The headline's figures as the viewer prints them, from profile() called here on the hardware the page names. */
async function expectHeadline(text: string, modelPath: string): Promise<void> {
  const hardware = /Simulated estimate on (\S+)/.exec(flat(text))?.[1];
  assert.ok(hardware && isPresetName(hardware), `the page names a preset: ${flat(text).slice(0, 400)}`);
  const spec = await loadModel(modelPath);
  const r = profile(spec, getPreset(hardware), DEFAULT_WORKLOAD);
  for (const figure of [percent(r.totals.savedPct), `${num(r.totals.baselineUs)} µs`, `${num(r.totals.deferredUs)} µs`, `${num(r.totals.savedUs)} µs`, count(spec.params.total)]) {
    assert.ok(text.includes(figure), `${figure} in the page`);
  }
  assert.match(text, /simulated estimate/i);
}

async function invokeTool(input: object): Promise<string> {
  const result = await vscode.lm.invokeTool(TOOL, { input, toolInvocationToken: undefined });
  return result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('\n\n');
}

suite('Binary model files and the chat tool', () => {
  const dir = () => path.join(workspaceRoot().fsPath, 'binary-models');

  suiteSetup(async () => {
    const extension = vscode.extensions.getExtension<TestApi>(EXTENSION_ID);
    assert.ok(extension);
    api = await extension.activate();
    assert.equal(typeof api.modelViewers, 'function', 'the test seam lists the model viewers');
    mkdirSync(path.join(dir(), 'st'), { recursive: true });
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('a .gguf opens in the viewer: its keys (the vocabulary counted, not listed), tensors, parameters and headline', async () => {
    const file = path.join(dir(), 'tiny-llama.gguf');
    const tensors = llamaGgufTensors(TINY).map((t, i) => ({ ...t, type: i === 0 ? 12 : 0 }));
    writeFileSync(file, writeGguf({ kv: llamaGgufKv({ ...TINY, name: 'Tiny <b>Llama</b>', context: 4096, eps: 1e-5, tokens: true }), tensors }).bytes);
    const { text } = await openedInViewer(vscode.Uri.file(file));
    const page = flat(text);
    assert.match(page, /GGUF v3/);
    assert.match(page, /general\.architecture llama/);
    // Markup in a value is shown as text: the page's innerText carries the tags themselves.
    assert.ok(page.includes('general.name Tiny <b>Llama</b>'), page.slice(0, 600));
    assert.match(page, /llama\.block_count 2\b/);
    assert.match(page, /tokenizer\.ggml\.tokens array of 1,000 strings/);
    assert.doesNotMatch(page, /tok999/);
    assert.match(page, /blk\.1\.ffn_down\.weight \[512, 256\] F32 131,072/);
    assert.match(page, /token_embd\.weight \[256, 1,000\] Q4_K 256,000/);
    const elements = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    assert.ok(page.includes(`${elements.toLocaleString('en')})`), `element count ${elements}`);
    await expectHeadline(text, file);
  });

  test('a .safetensors opens in the viewer: __metadata__, tensors with dtypes and shapes, and the headline', async () => {
    const file = path.join(dir(), 'st', 'model.safetensors');
    writeFileSync(file, writeSafetensors(llamaTensors({ ...TINY, headDim: 64, invFreq: true }), { metadata: { format: 'pt', note: '<script>alert(1)</script>' } }));
    const { text } = await openedInViewer(vscode.Uri.file(file));
    const page = flat(text);
    assert.match(page, /Metadata \(__metadata__\)/);
    assert.match(page, /format pt/);
    assert.ok(page.includes('note <script>alert(1)</script>'), 'a script tag in the metadata is text');
    assert.match(page, /model\.layers\.0\.self_attn\.q_proj\.weight \[256, 256\] BF16 65,536/);
    assert.match(page, /model\.layers\.1\.self_attn\.rotary_emb\.inv_freq \[32\] F32 32/);
    await expectHeadline(text, file);
  });

  test('a 50 GB sparse .gguf opens at once and shows its header (tensor data never read)', async () => {
    const file = path.join(dir(), 'huge.gguf');
    writeFileSync(file, writeGguf({ kv: llamaGgufKv({ ...TINY, name: 'Huge', context: 8192, eps: 1e-5, tokens: true }), tensors: llamaGgufTensors(TINY) }).bytes);
    truncateSync(file, 50e9);
    const { viewer, text, ms } = await openedInViewer(vscode.Uri.file(file));
    report(`      50 GB sparse .gguf: open → page drawn in ${ms} ms (header read and profiled in ${viewer.contentMs} ms)`);
    const page = flat(text);
    assert.match(page, /50\.0 GB \(header read only\)/);
    assert.match(page, /general\.name Huge/);
    assert.match(page, /output\.weight \[256, 1,000\]/);
  });

  test('a file that cannot be read shows the core’s one-line error in the editor', async () => {
    const file = path.join(dir(), 'broken.gguf');
    writeFileSync(file, Buffer.from('NOTGGUF and some bytes'));
    const { text } = await openedInViewer(vscode.Uri.file(file));
    assert.match(flat(text), /broken\.gguf: header\.magic: expected the GGUF magic "GGUF" \(47 47 55 46\), found 4e 4f 54 47/);
  });

  test('the chat tool is registered with its tags, and answers with the profile() figures on gpu-h100', async () => {
    const tool = vscode.lm.tools.find((t) => t.name === TOOL);
    assert.ok(tool, `${TOOL} is in vscode.lm.tools`);
    assert.ok(tool.tags.includes('deferred-norm'));
    const text = await invokeTool({ model: 'Llama-3.1-8B/config.json', hardware: 'gpu-h100' });
    const r = profile(await loadModel(path.join(workspaceRoot().fsPath, 'Llama-3.1-8B', 'config.json')), getPreset('gpu-h100'), DEFAULT_WORKLOAD);
    const t = r.totals;
    assert.ok(text.includes(`baseline ${num(t.baselineUs)} µs, deferred ${num(t.deferredUs)} µs, saved ${num(t.savedUs)} µs (${percent(t.savedPct)})`), text.slice(0, 800));
    for (const kind of r.layerKinds) {
      for (const site of kind.sites) {
        // Where the scale is applied: the CLI's Applied column, in its words (written out here).
        const applied = site.depth === null ? '' : site.kind === 'softmax' ? 'after ·V' : { linear: 'after linear', rope: 'after RoPE', attention: 'on logits', down: 'after down proj' }[site.depth];
        const row = site.decision === 'ineligible' ? `| ${site.decision} |  | ${site.name} |  |  | ${num(site.savedUs)} | ${site.reason} |` : `| ${site.decision} | ${applied} | ${site.name} | ${num(site.keptUs)} | ${num(site.deferredUs)} | ${num(site.savedUs)} |`;
        assert.ok(text.includes(row), `site row ${row}`);
      }
    }
    assert.match(text, /Hardware: gpu-h100 \("NVIDIA H100 SXM5 \(80 GB\)", preset\)/);
    assert.match(text, /\d+ datasheet/);
    assert.match(text, /simulated estimate/i);
  });

  test('the chat tool takes a workload and answers bad input with one line of text', async () => {
    const workload: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', seq: 512, batch: 1, tp: 2 };
    const text = await invokeTool({ model: path.join(workspaceRoot().fsPath, 'Mixtral-8x7B-v0.1'), hardware: 'tpu-v5e', phase: 'prefill', seq: 512, batch: 1, tp: 2 });
    const r = profile(await loadModel(path.join(workspaceRoot().fsPath, 'Mixtral-8x7B-v0.1')), getPreset('tpu-v5e'), workload);
    assert.ok(text.includes(`saved ${num(r.totals.savedUs)} µs (${percent(r.totals.savedPct)})`), text.slice(0, 600));
    assert.match(text, /prefill of 512 tokens, batch 1, tp 2/);

    assert.equal(await invokeTool({ model: 'GPT-2', batch: 0 }), 'Error: input: batch: expected a whole number from 1 to 65536, found 0');
    assert.equal(await invokeTool({ model: 'GPT-2', phase: 'training' }), 'Error: input: phase: expected one of prefill, decode, found "training"');
    assert.equal(await invokeTool({ model: 'GPT-2', hardware: 'gpu-b200' }).then((s) => s.split('\n').length), 1);
    const missing = await invokeTool({ model: 'no-such-model/config.json' });
    assert.match(missing, /^Error: .*no-such-model\/config\.json: expected an existing file or folder$/);
  });
});
