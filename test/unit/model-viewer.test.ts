/**
 * The pure parts of the binary-model viewer and the chat tool: header → rows (values summarized,
 * never dumped), the page's escaping and CSP, the tool's input checks and its text. Expected values
 * are derived here from what the test wrote or from the Report, not read back from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors';
import { getPreset } from '../../src/core/hardware/presets';
import { memorySource } from '../../src/core/model/bytes';
import { describeGgufValue, ggmlTypeName, ggufFileHeader, INLINE_ARRAY_MAX, safetensorsFileHeader, TENSOR_ROWS_SHOWN, VALUE_TEXT_MAX } from '../../src/core/model/file-header';
import { readGgufHeader } from '../../src/core/model/gguf';
import { loadModel } from '../../src/core/model/load';
import { readSafetensorsHeader } from '../../src/core/model/safetensors';
import { chatParts, headlineFigures, provenanceCounts, profileChecked } from '../../src/core/report/brief';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { parseToolInput } from '../../src/extension/lm/tool-input';
import { byteSize, parseViewerMessage, viewerHtml, type ViewerContent } from '../../src/extension/model-viewer/page';
import { readModelFileHeader } from '../../src/extension/model-viewer/read-header';
import { inputOf } from '../../src/common/panel-view';
import { fixturePath } from './helpers/fixtures';
import { gv, llamaGgufKv, llamaGgufTensors, writeGguf } from './helpers/gguf-writer';
import { llamaTensors, writeSafetensors } from './helpers/safetensors-writer';

const TINY = { layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, vocab: 5000 };

test('GGUF values: scalars as written, short arrays inline, long arrays and the vocabulary counted, long strings cut', () => {
  assert.equal(describeGgufValue('llama'), 'llama');
  assert.equal(describeGgufValue(4096), '4096');
  assert.equal(describeGgufValue(true), 'true');
  assert.equal(describeGgufValue([1, 2, 3]), '[1, 2, 3]');
  assert.equal(describeGgufValue(['a', 'b"c']), '["a", "b\\"c"]');
  assert.equal(describeGgufValue([]), 'empty array');
  assert.equal(describeGgufValue(Array.from({ length: INLINE_ARRAY_MAX + 1 }, (_, i) => i)), `array of ${INLINE_ARRAY_MAX + 1} numbers`);
  assert.equal(describeGgufValue(Array.from({ length: 2000 }, () => 'x')), 'array of 2,000 strings');
  assert.equal(describeGgufValue({ longArray: true, elementType: 'string', count: 128256 }), 'array of 128,256 strings');
  assert.equal(describeGgufValue({ longArray: true, elementType: 'array', count: 2, bytes: 40 }), 'array of 2 arrays (40 bytes)');
  assert.equal(describeGgufValue({ longString: true, head: 'y'.repeat(VALUE_TEXT_MAX + 9), bytes: 1 << 24 }), `${'y'.repeat(VALUE_TEXT_MAX)}… (16,777,216 bytes)`);
  const template = 'x'.repeat(VALUE_TEXT_MAX + 50);
  assert.equal(describeGgufValue(template), `${'x'.repeat(VALUE_TEXT_MAX)}… (${(VALUE_TEXT_MAX + 50).toLocaleString('en')} characters)`);
});

test('a GGUF header becomes metadata rows in file order and tensor rows with ggml type names', async () => {
  const kv = llamaGgufKv({ ...TINY, name: 'Tiny', context: 2048, eps: 1e-5, tokens: true });
  const tensors = llamaGgufTensors(TINY).map((t, i) => ({ ...t, type: [0, 1, 12, 14, 30][i % 5]! }));
  const header = ggufFileHeader(await readGgufHeader(memorySource(writeGguf({ kv, tensors }).bytes), 'tiny.gguf', { tensors: true }));
  assert.equal(header.formatLabel, 'GGUF v3');
  assert.deepEqual(header.metadata.map((r) => r.key), kv.map(([k]) => k));
  const row = (key: string) => header.metadata.find((r) => r.key === key)?.value;
  assert.equal(row('general.architecture'), 'llama');
  assert.equal(row('llama.block_count'), '2');
  assert.equal(row('general.file_type'), '15 (Q4_K_M)', 'llama.cpp’s name for the file type');
  // Its size: each token is a u64 length and its bytes, "tok0"…"tok4999" (10×4 + 90×5 + 900×6 + 4000×7 characters).
  assert.equal(row('tokenizer.ggml.tokens'), `array of 5,000 strings (${(5000 * 8 + 10 * 4 + 90 * 5 + 900 * 6 + 4000 * 7).toLocaleString('en')} bytes)`);
  assert.equal(row('tokenizer.ggml.token_type'), 'array of 4,096 numbers');
  assert.equal(header.tensorCount, tensors.length);
  const names = ['F32', 'F16', 'Q4_K', 'Q6_K', 'BF16'];
  header.tensors.forEach((t, i) => {
    assert.equal(t.name, tensors[i]!.name);
    assert.equal(t.dtype, names[i % 5]);
    assert.equal(t.shape, `[${tensors[i]!.shape.map((d) => d.toLocaleString('en')).join(', ')}]`);
  });
  const elements = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(header.elements, elements);
  assert.equal(ggmlTypeName(999), 'ggml type 999');
});

test('the tensor list is capped for display; the count and the element total cover every tensor', async () => {
  const n = TENSOR_ROWS_SHOWN + 5;
  const tensors = Array.from({ length: n }, (_, i) => ({ name: `t${i}`, shape: [2, 3] }));
  const header = ggufFileHeader(await readGgufHeader(memorySource(writeGguf({ kv: [['general.architecture', gv.str('llama')]], tensors }).bytes), 'many.gguf', { tensors: true }));
  assert.equal(header.tensors.length, TENSOR_ROWS_SHOWN);
  assert.equal(header.tensorCount, n);
  assert.equal(header.elements, n * 6);
});

test('a safetensors header: __metadata__ rows, tensors with dtypes, the element total', async () => {
  const tensors = llamaTensors({ ...TINY, headDim: 16, dtype: 'F16' });
  const bytes = writeSafetensors(tensors, { metadata: { format: 'pt', 'long note': 'y'.repeat(VALUE_TEXT_MAX + 1) } });
  const header = safetensorsFileHeader(await readSafetensorsHeader(memorySource(bytes), 'model.safetensors'));
  assert.deepEqual(header.metadata[0], { key: 'format', value: 'pt' });
  assert.match(header.metadata[1]!.value, new RegExp(`… \\(${VALUE_TEXT_MAX + 1} characters\\)$`));
  assert.equal(header.tensorCount, tensors.length);
  assert.deepEqual(header.tensors[1], { name: tensors[1]!.name, shape: `[${tensors[1]!.shape.join(', ')}]`, dtype: 'F16', elements: tensors[1]!.shape.reduce((a, b) => a * b, 1) });
  assert.equal(header.elements, tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0));
});

const HOSTILE = '</script><img src=x onerror=alert(1)> "quoted" & \'single\'';

function content(over: Partial<ViewerContent> = {}): ViewerContent {
  return {
    fileName: `model ${HOSTILE}.gguf`,
    fileBytes: 50e9,
    header: {
      format: 'gguf',
      formatLabel: 'GGUF v3',
      shapeOrder: 'ggml order',
      metadata: [{ key: HOSTILE, value: HOSTILE }],
      tensors: [{ name: HOSTILE, shape: '[2, 3]', dtype: 'F32', elements: 6 }],
      tensorCount: 7,
      elements: 42,
    },
    headerError: null,
    profile: {
      figures: { baseline: '100.00 µs', deferred: '80.00 µs', saved: '20.00 µs', savedPct: '20.0%' },
      hardwareName: 'dimc',
      hardwareTitle: HOSTILE,
      workload: 'decode, context 2048',
      estimate: 'Simulated estimate',
      params: { total: 8_030_261_248, active: 8_030_261_248 },
    },
    profileError: null,
    ...over,
  };
}

const OPTIONS = { cspSource: 'https://x.vscode-cdn.net', nonce: 'N0nce+/=', scriptUri: 'https://x.vscode-cdn.net/dist/webview/model-viewer.js' };

test('the viewer reads a file once: its spec comes from that read (the file may change after) and equals inspect’s reading', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dnp-viewer-'));
  const gguf = join(dir, 'tiny.gguf');
  writeFileSync(gguf, writeGguf({ kv: llamaGgufKv({ ...TINY, name: 'Tiny', context: 2048, eps: 1e-5 }), tensors: llamaGgufTensors(TINY) }).bytes);
  const st = join(dir, 'tiny.safetensors');
  writeFileSync(st, writeSafetensors(llamaTensors({ layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100, invFreq: true })));
  for (const path of [gguf, st]) {
    const expected = await loadModel(path, { gguf: 'tensors' }); // inspect's reading: the GGUF tensor list too
    const read = await readModelFileHeader(path);
    // Overwritten after the header was read: a second read would fail on the magic or the header length.
    writeFileSync(path, 'NOT A MODEL FILE');
    assert.deepEqual(await read.spec(), expected, path);
    await assert.rejects(loadModel(path), InputError, 'a fresh read does see the new bytes');
  }
});

test('a tied Llama-3.2-3B-like GGUF: the viewer counts the embeddings once, 3,212,749,824 parameters (issue 20)', async () => {
  // Llama-3.2-3B: hidden 3072, 28 layers, 24 heads of 128, 8 KV heads, ffn 8192, vocab 128,256, no output.weight.
  const sizes = { layers: 28, hidden: 3072, ffn: 8192, heads: 24, kvHeads: 8, vocab: 128256 };
  const dir = mkdtempSync(join(tmpdir(), 'dnp-viewer-'));
  const path = join(dir, 'llama-3.2-3b.gguf');
  writeFileSync(path, writeGguf({ kv: llamaGgufKv({ ...sizes, name: 'Llama 3.2 3B', context: 131072, eps: 1e-5, tokens: false }), tensors: llamaGgufTensors({ ...sizes, tied: true }) }).bytes);
  // By hand, per layer: q and o 3072², k and v 3072 × 1024 each, gate, up and down 3072 × 8192 each, two norms of 3072.
  const perLayer = 2 * 3072 * 3072 + 2 * 3072 * 1024 + 3 * 3072 * 8192 + 2 * 3072;
  assert.equal(perLayer, 100_669_440);
  const embeddings = 128256 * 3072; // once: the output layer reuses them
  const expected = 28 * perLayer + embeddings + 3072; // + the final norm
  assert.equal(expected, 3_212_749_824);
  const spec = await (await readModelFileHeader(path)).spec();
  assert.equal(spec.tiedEmbeddings, true);
  assert.equal(spec.params.total, expected);
  // The weights in the tensor list agree (a second count, from the file's shapes).
  assert.equal(spec.paramsFromWeights, expected);
  const html = viewerHtml(content({ profile: { ...content().profile!, params: { total: spec.params.total, active: spec.params.active } } }), OPTIONS);
  assert.match(html, /3\.21 B \(3,212,749,824\)/);
});

test('the viewer shows a 1 MiB chat template and a nested array cut, with their sizes', async () => {
  const template = 'é'.repeat(512 * 1024); // 2 bytes each in UTF-8
  const bytes = writeGguf({ kv: [...llamaGgufKv({ ...TINY, name: 'Tiny', context: 2048, eps: 1e-5, tokens: false }), ['tokenizer.chat_template', gv.str(template)]] }).bytes;
  const header = ggufFileHeader(await readGgufHeader(memorySource(bytes), 'tiny.gguf', { tensors: true }));
  const row = header.metadata.find((r) => r.key === 'tokenizer.chat_template')!.value;
  assert.equal(row, `${'é'.repeat(VALUE_TEXT_MAX)}… (1,048,576 bytes)`);
});

test('the viewer page: every string from the file is text, one nonce-only CSP, no style attributes', () => {
  const html = viewerHtml(content(), OPTIONS);
  assert.ok(!html.includes('<img'), 'no markup from the file');
  assert.ok(!html.includes('</script><'), 'no early script end');
  assert.ok(html.includes('&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62; &#34;quoted&#34; &#38; &#39;single&#39;'));
  assert.ok(!/\sstyle\s*=/.test(html), 'no style attributes (blocked by the CSP)');
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1]?.replace(/&#39;/g, "'");
  assert.equal(csp, "default-src 'none'; style-src 'nonce-N0nce+/='; script-src 'nonce-N0nce+/='; img-src https://x.vscode-cdn.net");
  assert.equal([...html.matchAll(/<script\b/g)].length, 1);
  assert.match(html, /<script nonce="N0nce\+\/=" src="https:\/\/x\.vscode-cdn\.net\/dist\/webview\/model-viewer\.js"><\/script>/);
  assert.match(html, /<style nonce="N0nce\+\/=">/);
  assert.match(html, /50\.0 GB \(header read only\)/);
  assert.match(html, /8\.03 B \(8,030,261,248\)/);
  assert.match(html, /… and 6 more tensors/);
  assert.match(html, /id="open-report"/);
});

test('the viewer page: an unreadable header shows the one-line error; a failed profile keeps the metadata', () => {
  const line = 'x.gguf: header.magic: expected the GGUF magic "GGUF" (47 47 55 46), found 00 00 00 00';
  const broken = viewerHtml(content({ header: null, headerError: line, profile: null, fileBytes: null }), OPTIONS);
  assert.ok(broken.includes('role="alert">x.gguf: header.magic: expected the GGUF magic &#34;GGUF&#34; (47 47 55 46), found 00 00 00 00</p>'));
  assert.ok(!broken.includes('open-report'));
  const unprofiled = viewerHtml(content({ profile: null, profileError: 'x.safetensors: tensors: expected Llama-style tensor names' }), OPTIONS);
  assert.match(unprofiled, /id="profile-error"/);
  assert.match(unprofiled, /id="metadata"/);
});

test('sizes and messages', () => {
  assert.equal(byteSize(512), '512 B');
  assert.equal(byteSize(1500), '1.5 KB');
  assert.equal(byteSize(50e9), '50.0 GB');
  assert.deepEqual(parseViewerMessage({ type: 'openReport' }), { type: 'openReport' });
  assert.deepEqual(parseViewerMessage({ type: 'rendered', text: 'a' }), { type: 'rendered', text: 'a' });
  for (const bad of [null, 'openReport', { type: 'rendered' }, { type: 'rendered', text: 3 }, { type: 'other' }]) assert.equal(parseViewerMessage(bad), null);
});

const DEFAULTS = inputOf(DEFAULT_WORKLOAD);

test('tool input: defaults from the settings, fields override them, bad fields are one InputError each', () => {
  assert.deepEqual(parseToolInput({ model: ' m/config.json ' }, DEFAULTS), { model: 'm/config.json', hardware: null, workload: DEFAULTS });
  assert.deepEqual(parseToolInput({ model: 'm', hardware: 'gpu-h100', phase: 'prefill', seq: 512, batch: 1, tp: 2, dtype: 'default', softmaxOffset: 'exact', context: null }, { ...DEFAULTS, dtype: 'fp8' }), {
    model: 'm',
    hardware: 'gpu-h100',
    workload: { ...DEFAULTS, phase: 'prefill', seq: 512, batch: 1, tp: 2, dtype: null, softmaxOffset: 'exact' },
  });
  const fails = (raw: unknown, message: string) => assert.throws(() => parseToolInput(raw, DEFAULTS), (err: unknown) => err instanceof InputError && err.message === message);
  fails(undefined, 'input: expected an object with at least "model", found nothing');
  fails({}, 'input: model: expected the path of a config.json, a model folder, a .gguf or a .safetensors file (relative to the workspace or absolute), found nothing');
  fails({ model: 'm', batch: '32' }, 'input: batch: expected a whole number, found "32"');
  fails({ model: 'm', phase: 'train' }, 'input: phase: expected one of prefill, decode, found "train"');
  fails({ model: 'm', dtype: 'fp64' }, 'input: dtype: expected one of default, fp32, bf16, fp16, fp8, int8, int4, found "fp64"');
  fails({ model: 'm', hardware: 7 }, 'input: hardware: expected a preset name (dimc, gpu-h100, tpu-v5e) or the path of a *.hardware.json file, found 7');
  // The tensor-parallel degree also takes "auto" (the smallest that fits); no other word.
  assert.equal(parseToolInput({ model: 'm', tp: 'auto' }, DEFAULTS).workload.tp, 'auto');
  fails({ model: 'm', tp: 'most' }, 'input: tp: expected "auto" or a whole number, found "most"');
});

test('provenance counts: the kind of source each number names, most first', () => {
  assert.equal(provenanceCounts({ a: 'datasheet: x', b: 'assumption: y', c: 'datasheet: z', d: 'calibrated to …', e: '' }), '2 datasheet, 1 assumption, 1 calibrated, 1 other');
});

test('the chat text: the headline figures, one site row per site, and the provenance line of the preset', async () => {
  const hw = getPreset('gpu-h100');
  const report = profileChecked(await loadModel(fixturePath('Llama-3.1-8B')), hw, DEFAULT_WORKLOAD);
  const parts = chatParts(report, 'preset');
  const text = parts.join('\n');
  const t = report.totals;
  const two = (x: number) => x.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  assert.ok(text.includes(`baseline ${two(t.baselineUs)} µs, deferred ${two(t.deferredUs)} µs, saved ${two(t.savedUs)} µs (${t.savedPct.toFixed(1)}%)`), parts[0]);
  assert.deepEqual(headlineFigures(report).savedPct, `${t.savedPct.toFixed(1)}%`);
  assert.equal(parts.length, report.layerKinds.length + 2);
  for (const kind of report.layerKinds) {
    for (const site of kind.sites) {
      // Decision, where the scale is applied (empty unless deferred), the site, its times.
      const applied = site.decision !== 'defer' ? '' : site.kind === 'softmax' ? 'after ·V' : { linear: 'after linear', rope: 'after RoPE', attention: 'on logits', down: 'after down proj' }[site.depth!];
      const cells = site.decision === 'ineligible' ? [site.decision, applied, site.name] : [site.decision, applied, site.name, two(site.keptUs), two(site.deferredUs), two(site.savedUs)];
      assert.ok(text.includes(`| ${cells.join(' | ')} |`), `${site.name} row`);
    }
  }
  const datasheets = Object.values(hw.provenance).filter((p) => p.startsWith('datasheet')).length;
  const last = parts[parts.length - 1]!;
  assert.ok(last.startsWith(`Hardware: gpu-h100 ("${hw.title}", preset); its ${Object.keys(hw.provenance).length} numbers by source: `), last);
  assert.ok(last.includes(`${datasheets} datasheet`));
  for (const s of hw.sources) assert.ok(last.includes(s.id));
  assert.ok(last.endsWith(report.estimate));
});
