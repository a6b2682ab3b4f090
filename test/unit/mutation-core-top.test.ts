/**
 * Tests that catch wrong answers in the top-level files of src/core (issue 21): the error line, the
 * own-key lookups, the lenient JSON parser, the workload's bounds and tensor-parallel rule, the file
 * edge's caps and refusals, and the text sanitizers. Expected messages and positions are written out
 * here from the inputs (line and column counted by hand, bounds from the stated limits).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, describeValue, formatInputError } from '../../src/core/errors';
import { decodeText, FILE_CAPS, listFolder, pathKind, readFileBytes, readHardwareProfileFile, readJsonFile, readTextFile, withByteSource } from '../../src/core/files';
import { isObject, JSON_MAX_DEPTH, parseLenientJson } from '../../src/core/json';
import type { ModelSpec } from '../../src/core/model/spec';
import { hasOwnKey, ownValue } from '../../src/core/own';
import { jsonSafe, markdownInline, MAX_SHOWN_CHARS, shortened, shownName, terminalSafe, terminalSafeLines } from '../../src/core/text';
import { checkWorkloadForModel, DEFAULT_REQUEST, DEFAULT_WORKLOAD, MAX_TOKENS_PER_PASS, validateWorkload, WORKLOAD_LIMITS, type Workload } from '../../src/core/workload';

/** Runs `f`, which must throw an InputError, and returns it. */
function refusal(f: () => unknown): InputError {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an InputError, nothing was thrown');
}
async function refusalOf(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an InputError, nothing was thrown');
}

test('InputError: one line naming the file, the field, what was expected and what was found', () => {
  const e = new InputError('m.json', 'hidden_size', 'a positive whole number', '-3');
  assert.equal(e.message, 'm.json: hidden_size: expected a positive whole number, found -3');
  assert.deepEqual([e.name, e.file, e.field, e.expected, e.found, e.kind], ['InputError', 'm.json', 'hidden_size', 'a positive whole number', '-3', 'invalid']);
  assert.ok(e instanceof Error);
  // No field: the file alone; nothing found: no ", found" part; a kind passed is kept.
  assert.equal(new InputError('m.json', '', 'a model config').message, 'm.json: expected a model config');
  assert.equal(new InputError('x', 'tp', 'at most 8', '9', 'limit').kind, 'limit');
  assert.equal(formatInputError('f', 'a.b', 'c', ''), 'f: a.b: expected c, found ');
});

test('describeValue: short, safe renderings of each kind of value', () => {
  assert.equal(describeValue(undefined), 'nothing');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue(0), '0');
  assert.equal(describeValue(false), 'false');
  assert.equal(describeValue('ab'), '"ab"');
  // Forty characters stay whole; forty-one are cut to forty and an ellipsis.
  const forty = 'x'.repeat(40);
  assert.equal(describeValue(forty), `"${forty}"`);
  assert.equal(describeValue(forty + 'y'), `"${forty}…"`);
  assert.equal(describeValue([1, 2, 3]), 'an array of 3');
  assert.equal(describeValue({ a: 1 }), 'an object');
});

test('own keys: inherited names are not found', () => {
  const table: Record<string, number> = { llama: 1 };
  assert.equal(hasOwnKey(table, 'llama'), true);
  assert.equal(hasOwnKey(table, 'constructor'), false);
  assert.equal(ownValue(table, 'llama'), 1);
  assert.equal(ownValue(table, 'toString'), undefined);
  assert.equal(ownValue(table, '__proto__'), undefined);
  assert.equal(ownValue({ 7: 'Q8_0' } as Record<number, string>, 7), 'Q8_0');
});

test('parseLenientJson: Python\'s NaN and Infinity read as null, only outside strings and comments', () => {
  assert.deepEqual(parseLenientJson('{"a": NaN, "b": Infinity, "c": -Infinity, "d": [NaN,-Infinity]}', 'f'), { a: null, b: null, c: null, d: [null, null] });
  // Inside strings, after an escaped quote, and in comments they stay text.
  assert.deepEqual(parseLenientJson('{"s": "NaN \\" Infinity", /* NaN */ "t": 1 // Infinity\n}', 'f'), { s: 'NaN " Infinity', t: 1 });
  // A BOM is skipped; comments and trailing commas are tolerated.
  assert.deepEqual(parseLenientJson('\ufeff{"a": [1, 2,], // x\n "b": 2,}', 'f'), { a: [1, 2], b: 2 });
  // A comment never closed runs to the end (its brackets uncounted), and is then refused where it opened.
  assert.equal(refusal(() => parseLenientJson('{"a": 1 /* [[[', 'f', 1)).message, 'f: line 1, column 9: expected valid JSON, found UnexpectedEndOfComment');
  // Glued to a word character it is not the literal: refused as JSON.
  for (const text of ['{"a": NaNx}', '{"a": xNaN}', '{"a": Infinity1}', '{"a": 1Infinity}', '{"a": _NaN}', '{"a": NaN$}', '{"a": Nan}']) {
    assert.equal(refusal(() => parseLenientJson(text, 'f')).file, 'f', text);
  }
  // "-" glued to a word before it is not a sign of the literal.
  assert.equal(refusal(() => parseLenientJson('{"a": x-Infinity}', 'f')).field, 'line 1, column 7');
});

test('parseLenientJson: an error names its line and column in the text as written', () => {
  // Line 3, column 8 ("}" where a value is due), counted on the original text: the NaN before it
  // became "null", one character longer, and the position must not move.
  const e = refusal(() => parseLenientJson('{\n "a": NaN,\n "b": }', 'cfg.json'));
  assert.equal(e.message, 'cfg.json: line 3, column 7: expected valid JSON, found ValueExpected');
  const two = refusal(() => parseLenientJson('[Infinity, -Infinity, NaN, x]', 'f'));
  assert.equal(two.field, 'line 1, column 28');
  assert.equal(refusal(() => parseLenientJson('', 'f')).field, 'line 1, column 1');
});

test('parseLenientJson: nesting is bounded before parsing, at the offending bracket', () => {
  const ok = '['.repeat(JSON_MAX_DEPTH) + ']'.repeat(JSON_MAX_DEPTH);
  assert.ok(Array.isArray(parseLenientJson(ok, 'f')));
  const deep = refusal(() => parseLenientJson('{"a":\n' + '['.repeat(JSON_MAX_DEPTH) + ']'.repeat(JSON_MAX_DEPTH) + '}', 'deep.json'));
  // The object is level 1, so the 64th "[" (column 64 of line 2) is level 65.
  assert.equal(deep.message, `deep.json: line 2, column 64: expected JSON nested at most ${JSON_MAX_DEPTH} levels deep, found deeper nesting`);
  assert.equal(deep.kind, 'limit');
  // Closing brackets bring the depth down: many shallow arrays in a row are fine.
  assert.deepEqual(parseLenientJson('[' + '[1],'.repeat(200) + '[2]]', 'f', 2), [...new Array(200).fill([1]), [2]]);
  // A lower bound given by the caller, and brackets inside strings and comments do not count.
  assert.equal(refusal(() => parseLenientJson('[[[]]]', 'f', 2)).field, 'line 1, column 3');
  assert.deepEqual(parseLenientJson('["[[[", /* [[[ */ 1]', 'f', 1), ['[[[', 1]);
  assert.deepEqual(parseLenientJson('[1] // [[[', 'f', 1), [1]);
});

test('isObject: a plain object, not an array or null', () => {
  assert.deepEqual([isObject({}), isObject([]), isObject(null), isObject('x'), isObject(1)], [true, false, false, false, false]);
});

const W = (over: Partial<Workload>): Workload => ({ ...DEFAULT_WORKLOAD, ...over });

test('validateWorkload: each bound at its edge, and the message names the source and the field', () => {
  for (const key of ['batch', 'seq', 'context', 'tp', 'tiles'] as const) {
    const max = WORKLOAD_LIMITS[key];
    // Prefill at the largest seq, decode at the largest context: the token bound must not bite first.
    const fits = W({ phase: key === 'seq' ? 'prefill' : 'decode', batch: 1, seq: 1, context: 1, [key]: max });
    assert.equal(validateWorkload(fits), fits, `${key} = ${max}`);
    assert.ok(validateWorkload(W({ [key]: 1 })), `${key} = 1`);
    for (const bad of [0, max + 1, 1.5, Number.NaN]) {
      const e = refusal(() => validateWorkload(W({ [key]: bad }), '--x'));
      // tp also takes "auto" (the smallest degree that fits), and its message says so.
      assert.equal(e.message, `--x: ${key}: expected ${key === 'tp' ? '"auto" or ' : ''}a whole number from 1 to ${max}, found ${bad}`);
    }
  }
  assert.equal(refusal(() => validateWorkload(W({ phase: 'train' as Workload['phase'] }))).message, 'workload: phase: expected prefill or decode, found "train"');
  assert.equal(refusal(() => validateWorkload(W({ dtype: 'fp64' as Workload['dtype'] }))).message, 'workload: dtype: expected one of fp32, bf16, fp16, fp8, int8, int4, found "fp64"');
  for (const dtype of ['fp32', 'int4', null] as const) assert.ok(validateWorkload(W({ dtype })));
  assert.equal(refusal(() => validateWorkload(W({ softmaxOffset: 'x' as Workload['softmaxOffset'] }))).message, 'workload: softmaxOffset: expected one of exact, bound, online, found "x"');
  assert.equal(refusal(() => validateWorkload(W({ deferDepth: 'x' as Workload['deferDepth'] }))).message, 'workload: deferDepth: expected one of deepest, linear, found "x"');
  for (const softmaxOffset of ['exact', 'bound', 'online'] as const) assert.ok(validateWorkload(W({ softmaxOffset })));
  assert.ok(validateWorkload(W({ deferDepth: 'linear' })));
});

test('validateWorkload: at most 2^31 tokens in one pass, counted from seq in prefill and context in decode', () => {
  // 2^16 × 2^15 = 2^31 exactly: accepted; one more context token is 2^31 + 2^16: refused.
  assert.ok(validateWorkload(W({ phase: 'decode', batch: 1 << 16, context: 1 << 15, seq: 1 << 24 })));
  const e = refusal(() => validateWorkload(W({ phase: 'decode', batch: 1 << 16, context: (1 << 15) + 1, seq: 1 })));
  assert.equal(e.message, `workload: batch × context: expected at most ${MAX_TOKENS_PER_PASS.toLocaleString('en')} tokens in one pass, found 65,536 × 32,769 = 2,147,549,184`);
  assert.equal(e.kind, 'limit');
  assert.equal(refusal(() => validateWorkload(W({ phase: 'prefill', batch: 1 << 16, seq: (1 << 15) + 1, context: 1 }))).field, 'batch × seq');
  assert.ok(validateWorkload(W({ phase: 'prefill', batch: 1 << 16, seq: 1 << 15, context: 1 << 24 })));
});

/** A spec with only what checkWorkloadForModel reads: each kind's attention (and cross-attention). */
function headsSpec(kinds: { heads: number; kvHeads: number; cross?: { heads: number; kvHeads: number } }[]): ModelSpec {
  const attn = (a: { heads: number; kvHeads: number }) => ({ kind: 'gqa' as const, heads: a.heads, kvHeads: a.kvHeads, headDim: 64, vHeadDim: 64, window: null, causal: true });
  return { layerKinds: kinds.map((k) => ({ attention: attn(k), ...(k.cross ? { crossAttention: attn(k.cross) } : {}) })) } as unknown as ModelSpec;
}

test('checkWorkloadForModel: tp must divide the heads and divide or be a multiple of the KV heads', () => {
  const llama = headsSpec([{ heads: 32, kvHeads: 8 }]);
  for (const tp of [1, 2, 4, 8]) assert.deepEqual(checkWorkloadForModel(llama, W({ tp })), { notes: [] }, `tp ${tp}`);
  // 16 and 32 chips over 8 KV heads: each KV head on 2 and 4 chips.
  assert.deepEqual(checkWorkloadForModel(llama, W({ tp: 16 })).notes, [
    'Tensor parallelism over 16 chips with 8 KV heads: each KV head is replicated on 2 chips (its projection and cache computed on each), as serving engines do.',
  ]);
  assert.match(checkWorkloadForModel(headsSpec([{ heads: 8, kvHeads: 1 }]), W({ tp: 4 })).notes[0]!, /with 1 KV head: each KV head is replicated on 4 chips/);
  // 3 does not divide 32: the degrees that fit are listed (1, 2, 4, 8, 16, 32).
  const three = refusal(() => checkWorkloadForModel(llama, W({ tp: 3 }), '--tp'));
  assert.equal(three.message, "--tp: tp: expected a divisor of the model's 32 attention heads (1, 2, 4, 8, 16, 32), found 3");
  assert.equal(three.kind, 'invalid');
  const many = refusal(() => checkWorkloadForModel(llama, W({ tp: 64 })));
  assert.equal(many.message, "workload: tp: expected no more than the model's 32 attention heads (1, 2, 4, 8, 16, 32), found 64");
  assert.equal(many.kind, 'limit');
  // 12 heads, 4 KV heads: 6 divides 12, but neither divides nor is a multiple of 4.
  const kv = refusal(() => checkWorkloadForModel(headsSpec([{ heads: 12, kvHeads: 4 }]), W({ tp: 6 })));
  assert.equal(kv.message, "workload: tp: expected a divisor or a multiple of the model's 4 KV heads (1, 2, 4, 12), found 6");
  // Every kind and the cross-attention are checked; the same note is given once.
  assert.throws(() => checkWorkloadForModel(headsSpec([{ heads: 32, kvHeads: 8 }, { heads: 12, kvHeads: 4 }]), W({ tp: 8 })), /12 attention heads/);
  assert.throws(() => checkWorkloadForModel(headsSpec([{ heads: 32, kvHeads: 8, cross: { heads: 12, kvHeads: 12 } }]), W({ tp: 8 })), /12 attention heads/);
  const twice = checkWorkloadForModel(headsSpec([{ heads: 32, kvHeads: 2 }, { heads: 16, kvHeads: 2 }]), W({ tp: 4 }));
  assert.equal(twice.notes.length, 1, twice.notes.join('\n'));
  assert.equal(checkWorkloadForModel(headsSpec([{ heads: 32, kvHeads: 2 }, { heads: 16, kvHeads: 1 }]), W({ tp: 4 })).notes.length, 2);
});

test('files: whole files within their cap, refused one byte past it, naming the kind and the cap', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-files-'));
  try {
    const ten = join(dir, 'ten.json');
    writeFileSync(ten, '[1,2,3,45]');
    assert.deepEqual([...(await readFileBytes(ten, 'config', { maxBytes: 10 }))], [...Buffer.from('[1,2,3,45]')]);
    assert.deepEqual(await readJsonFile(ten, 'config', { maxBytes: 10 }), [1, 2, 3, 45]);
    const over = await refusalOf(readFileBytes(ten, 'config', { maxBytes: 9 }));
    assert.equal(over.message, `${ten}: expected a model config (JSON) of at most 9 bytes, found more: reading stopped at 9 bytes`);
    assert.equal(over.kind, 'limit');
    // A cap can be lowered, never raised; a whole MiB is written as such.
    const big = join(dir, 'big.hardware.json');
    writeFileSync(big, Buffer.alloc(FILE_CAPS.hardware.bytes + 1, 0x20));
    assert.equal((await refusalOf(readFileBytes(big, 'hardware', { maxBytes: 1e9 }))).message, `${big}: expected a hardware profile (JSON) of at most 1 MiB, found more: reading stopped at 1 MiB`);
    // A file bigger than the first read (4 KiB) and within the cap comes back whole.
    const long = join(dir, 'long.txt');
    const text = 'abcdefghij'.repeat(1000);
    writeFileSync(long, text);
    assert.equal(await readTextFile(long, 'config'), text);
    // What is not a regular file is refused by what it is, without reading.
    assert.equal((await refusalOf(readFileBytes(dir, 'config'))).message, `${dir}: expected a regular file (a model config (JSON)), found a folder`);
    assert.equal((await refusalOf(readFileBytes('/dev/null', 'gguf'))).message, '/dev/null: expected a regular file (GGUF metadata), found a device');
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    assert.equal((await refusalOf(readFileBytes(fifo, 'measurements'))).message, `${fifo}: expected a regular file (a measurements file (JSON)), found a pipe`);
    const gone = join(dir, 'gone.json');
    assert.equal((await refusalOf(readFileBytes(gone, 'index'))).message, `${gone}: expected a regular file (a safetensors index (JSON)), found nothing (no such file)`);
    assert.equal((await refusalOf(readFileBytes(join(ten, 'x'), 'config'))).found, 'a path through something that is not a folder');
    assert.deepEqual(await Promise.all([ten, dir, gone, '/dev/null', fifo].map(pathKind)), ['file', 'folder', 'missing', 'device', 'pipe']);
    mkdirSync(join(dir, 'sub'));
    assert.deepEqual((await listFolder(dir)).sort(), ['big.hardware.json', 'long.txt', 'pipe', 'sub', 'ten.json']);
    assert.equal((await refusalOf(listFolder(gone))).message, `${gone}: expected a readable folder, found nothing (no such file)`);
    assert.equal((await refusalOf(listFolder(ten))).message, `${ten}: expected a readable folder, found a path through something that is not a folder`);
    // Two links to each other: a loop, named as such.
    const [a, b] = [join(dir, 'a.json'), join(dir, 'b.json')];
    execFileSync('ln', ['-s', b, a]);
    execFileSync('ln', ['-s', a, b]);
    assert.equal((await refusalOf(readFileBytes(a, 'config'))).message, `${a}: expected a regular file (a model config (JSON)), found a loop of symbolic links`);
    assert.equal(await pathKind(a), 'missing');
    // A cap that is not a whole number of MiB is written in bytes.
    assert.equal((await refusalOf(readFileBytes(big, 'hardware', { maxBytes: 1024 * 1024 - 1 }))).message, `${big}: expected a hardware profile (JSON) of at most 1,048,575 bytes, found more: reading stopped at 1,048,575 bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: a byte source clips reads to the file and caps their sum', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-bytes-'));
  try {
    const path = join(dir, 'x.gguf');
    writeFileSync(path, Uint8Array.from({ length: 100 }, (_, i) => i));
    const got = await withByteSource(path, 'gguf', async (src) => {
      assert.equal(src.size, 100);
      const a = await src.read(95, 10); // clipped to the 5 bytes there are
      const b = await src.read(200, 4); // past the end: nothing, and nothing counted
      const c = await src.read(0, 45); // 5 + 45 = 50 bytes: the cap exactly
      return [[...a], b.length, c.length];
    }, { maxBytes: 50 });
    assert.deepEqual(got, [[95, 96, 97, 98, 99], 0, 45]);
    const e = await refusalOf(withByteSource(path, 'gguf', async (src) => {
      await src.read(0, 50);
      return src.read(50, 1);
    }, { maxBytes: 50 }));
    assert.equal(e.message, `${path}: expected GGUF metadata of at most 50 bytes, found more: reading stopped at 50 bytes`);
    assert.equal((await refusalOf(withByteSource(dir, 'safetensors', async () => 1))).message, `${dir}: expected a regular file (a safetensors header), found a folder`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: text by its byte-order mark, and a hardware profile read and validated', async () => {
  assert.equal(decodeText(Uint8Array.from([0xff, 0xfe, 0x41, 0x00, 0x42, 0x00])), 'AB');
  assert.equal(decodeText(Uint8Array.from([0xfe, 0xff, 0x00, 0x41, 0x00, 0x42])), 'AB');
  assert.equal(decodeText(Uint8Array.from([0x41, 0xfe, 0xff])), 'A\ufffd\ufffd');
  // Half a mark is not one: 0xff or 0xfe alone starts UTF-8 (an invalid byte, then the text).
  assert.equal(decodeText(Uint8Array.from([0xff, 0x41])), '\ufffdA');
  assert.equal(decodeText(Uint8Array.from([0xfe, 0x41])), '\ufffdA');
  assert.equal(decodeText(Uint8Array.from([0x41, 0xfe])), 'A\ufffd');
  // UTF-8's own mark is dropped by the decoder.
  assert.equal(decodeText(Uint8Array.from([0xef, 0xbb, 0xbf, 0x41])), 'A');
  const dir = mkdtempSync(join(tmpdir(), 'dn-hw-'));
  try {
    const preset = join(__dirname, '..', '..', 'src', 'core', 'hardware', 'presets', 'cpu.json');
    const path = join(dir, 'mine.hardware.json');
    const profile = JSON.parse(readFileSync(preset, 'utf8')) as { name: string };
    writeFileSync(path, JSON.stringify({ ...profile, name: 'mine' }));
    assert.equal((await readHardwareProfileFile(path)).name, 'mine');
    assert.equal((await refusalOf(readHardwareProfileFile(path, { maxBytes: 10 }))).kind, 'limit');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('text: names cut to 200 characters saying how long they were; JSON with controls escaped', () => {
  // Up to 200 + 40 characters stay whole (shortening twice changes nothing); longer ones are cut at 200.
  const whole = 'a'.repeat(MAX_SHOWN_CHARS + 40);
  assert.equal(shortened(whole), whole);
  const long = 'b'.repeat(MAX_SHOWN_CHARS + 41);
  assert.equal(shortened(long), `${'b'.repeat(200)}… (241 characters)`);
  assert.equal(shortened(shortened(long)), shortened(long));
  assert.equal(shortened('c'.repeat(20), 5), 'c'.repeat(20), 'within the note\'s room');
  assert.equal(shortened('d'.repeat(50), 5), 'ddddd… (50 characters)');
  // A surrogate pair across the cut is not split: the cut moves back one.
  const pair = 'e'.repeat(199) + '😀' + 'f'.repeat(100);
  assert.equal(shortened(pair), `${'e'.repeat(199)}… (301 characters)`);
  // Cut first (the 5-character escape and 195 g's), then made safe: 195 g's, and the length as read.
  assert.equal(shownName('\x1b[31m' + 'g'.repeat(300)), `${'g'.repeat(195)}… (305 characters)`);
  assert.equal(shownName('a\u202eb'), 'ab');
  assert.equal(terminalSafeLines('a\x1b[2Jb\nc\u202ed'), 'ab\ncd');
  assert.equal(markdownInline('# a|b `c` <x> [y](z) ~!$&\\*'), '&#35; a&#124;b &#96;c&#96; &#60;x&#62; &#91;y&#93;(z) &#126;&#33;&#36;&#38;&#92;&#42;');
  assert.equal(jsonSafe('"\u009b\u007f\u202e\u2028x"'), '"\\u009b\\u007f\\u202e\\u2028x"');
  assert.equal(jsonSafe('"\u00a0é"'), '"\u00a0é"');
  assert.equal(terminalSafe('a\x1bPq#0\x1b\\b\x1bcd'), 'abd');
  // A vertical tab is a line break (a space); the letter V is text.
  assert.equal(terminalSafe('a\vbVc'), 'a bVc');
});

test('parseLenientJson: "-" before Infinity is part of the literal', () => {
  assert.deepEqual(parseLenientJson('[NaN,-Infinity,Infinity]', 'f'), [null, null, null]);
  assert.deepEqual(parseLenientJson('{"a":-Infinity}', 'f'), { a: null });
  assert.deepEqual(parseLenientJson('[ -Infinity ]', 'f'), [null]);
});

test('files: a file that reports no size (as /proc\'s do) is read to its end in growing pieces, and capped across them', { skip: !existsSync('/proc/crypto') && 'no /proc/crypto here' }, async () => {
  // /proc/crypto is a regular file whose stat size is 0 and whose text is several pages long: the first
  // read (4 KiB) cannot hold it, so the pieces are joined. Node's own reader gives the bytes to expect.
  const expected = readFileSync('/proc/crypto');
  assert.equal(statSync('/proc/crypto').size, 0);
  assert.ok(expected.length > 4096, `${expected.length} bytes`);
  assert.deepEqual(Buffer.from(await readFileBytes('/proc/crypto', 'config')), expected);
  // A cap between two pieces (4,096 + 904 bytes) stops the reading one byte past it.
  assert.equal((await refusalOf(readFileBytes('/proc/crypto', 'config', { maxBytes: 5000 }))).message, '/proc/crypto: expected a model config (JSON) of at most 5,000 bytes, found more: reading stopped at 5,000 bytes');
  assert.deepEqual(Buffer.from(await readFileBytes('/proc/crypto', 'config', { maxBytes: expected.length })), expected);
});

test('files: caps written in MiB only when whole and at least one; zero bytes is "0 bytes"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-caps-'));
  try {
    const path = join(dir, 'big.json');
    writeFileSync(path, Buffer.alloc(1024 * 1024 + 2, 0x20));
    assert.equal((await refusalOf(readFileBytes(path, 'config', { maxBytes: 1024 * 1024 + 1 }))).message, `${path}: expected a model config (JSON) of at most 1,048,577 bytes, found more: reading stopped at 1,048,577 bytes`);
    assert.equal((await refusalOf(readFileBytes(path, 'config', { maxBytes: 0 }))).message, `${path}: expected a model config (JSON) of at most 0 bytes, found more: reading stopped at 0 bytes`);
    assert.equal((await refusalOf(readFileBytes(path, 'config', { maxBytes: 1024 * 1024 }))).expected, 'a model config (JSON) of at most 1 MiB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: a socket is named as one, and opening it is refused with the system\'s code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-sock-'));
  const path = join(dir, 'model.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    assert.equal(await pathKind(path), 'socket');
    // Linux refuses to open a socket (ENXIO) before its kind can be looked at: the code is named.
    assert.equal((await refusalOf(readFileBytes(path, 'config'))).message, `${path}: expected a regular file (a model config (JSON)), found an error reading it (ENXIO)`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The system's code for opening `path` to read, or null when it opens. */
function openCode(path: string): string | null {
  try {
    closeSync(openSync(path, 'r'));
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? null;
  }
}

test('files: a file the system will not let us open is "no permission to read it"', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-perm-'));
  try {
    // A file with no read permission (refused unless we are root), or another process's memory (refused
    // to root too where ptrace is restricted): whichever the system refuses with EACCES or EPERM.
    const locked = join(dir, 'locked.json');
    writeFileSync(locked, '{}');
    chmodSync(locked, 0o000);
    const path = [locked, '/proc/1/mem'].find((p) => ['EACCES', 'EPERM'].includes(openCode(p) ?? ''));
    if (!path) return t.skip('this system lets us open both');
    assert.equal((await refusalOf(readFileBytes(path, 'config'))).message, `${path}: expected a regular file (a model config (JSON)), found no permission to read it`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: a read that fails after the open names the file and the system\'s code', { skip: !existsSync('/proc/self/mem') && 'no /proc/self/mem here' }, async () => {
  // /proc/self/mem opens as a regular file of size 0; reading its first bytes (address 0, never mapped) fails with EIO.
  assert.equal((await refusalOf(readFileBytes('/proc/self/mem', 'gguf'))).message, '/proc/self/mem: expected a readable file (GGUF metadata), found an error reading it (EIO)');
});

test('parseLenientJson: a literal glued to a digit is left as written, so the parser refuses the text as written', () => {
  // "0NaN" is one token to jsonc-parser (InvalidSymbol at the digit, column 3); were the NaN taken out
  // alone, "0null" would be a number then a value (CommaExpected). Likewise "9-Infinity" and "0-Infinity".
  for (const text of ['[0NaN]', '[9NaN]', '[9-Infinity]', '[0-Infinity]']) {
    assert.equal(refusal(() => parseLenientJson(text, 'f')).message, 'f: line 1, column 3: expected valid JSON, found InvalidSymbol', text);
  }
  // A minus sign belongs to Infinity only: "-NaN" is not a literal Python writes.
  assert.equal(refusal(() => parseLenientJson('[-NaN]', 'f')).message, 'f: line 1, column 2: expected valid JSON, found InvalidSymbol');
});

test('parseLenientJson: comments are skipped whole by the depth count and the literal scan, and nothing else is', () => {
  // Brackets after a comment on the same line count ("/* a */ [[": the second "[" is level 2, column 10).
  assert.equal(refusal(() => parseLenientJson('/* a */ [[1]]', 'f', 1)).field, 'line 1, column 10');
  // A literal after a block comment is still read as one.
  assert.deepEqual(parseLenientJson('[1/* x */, NaN]', 'f'), [1, null]);
  // A line comment starts at its two slashes, not the character before them, and ends at its line's end.
  assert.equal(refusal(() => parseLenientJson('[[// x\n1]]', 'f', 1)).field, 'line 1, column 2');
  assert.equal(refusal(() => parseLenientJson('//\n[[1]]', 'f', 1)).field, 'line 2, column 2');
  assert.equal(refusal(() => parseLenientJson('[ // c\n[[1]]]', 'f', 2)).field, 'line 2, column 2');
  assert.deepEqual(parseLenientJson('{\n "a": 1 // c\n}', 'f'), { a: 1 });
  // The comment's last character before the line break is part of it.
  assert.deepEqual(parseLenientJson('[ // [\n[1]]', 'f', 2), [[1]]);
  // "/*/" opens a comment that the next "*/" closes, not the "*/" its own star and slash would make.
  assert.deepEqual(parseLenientJson('/*/ [[ */ [1]', 'f', 1), [1]);
  // A slash or a star alone opens nothing: the brackets after them count.
  assert.equal(refusal(() => parseLenientJson('[/ [[1]]]', 'f', 2)).field, 'line 1, column 5');
  assert.equal(refusal(() => parseLenientJson('[1* [[2]]]', 'f', 2)).field, 'line 1, column 6');
});

test('parseLenientJson: closing braces bring the depth down; errors are placed at the literal they follow or on their own line', () => {
  assert.deepEqual(parseLenientJson('[{}, {}, {}]', 'f', 2), [{}, {}, {}]);
  // The error is at the start of a replaced literal: "NaN" at column 4 (9 after an earlier one), not a column before.
  assert.equal(refusal(() => parseLenientJson('[1 NaN]', 'f')).message, 'f: line 1, column 4: expected valid JSON, found CommaExpected');
  assert.equal(refusal(() => parseLenientJson('[NaN, 1 NaN]', 'f')).field, 'line 1, column 9');
  // Line breaks after the error do not move it.
  assert.equal(refusal(() => parseLenientJson('[1 x\n\n]', 'f')).field, 'line 1, column 4');
});

test('files: every read closes its file, whether it succeeds or is refused', { skip: !existsSync('/proc/self/fd') && 'no /proc/self/fd here' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-fd-'));
  try {
    const path = join(dir, 'x.json');
    writeFileSync(path, '[1, 2, 3]');
    // The descriptors open in this process, by the files they point at.
    const openHere = () => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } }).filter((target) => target === path);
    await readFileBytes(path, 'config');
    await refusalOf(readFileBytes(path, 'config', { maxBytes: 2 }));
    await withByteSource(path, 'gguf', (src) => src.read(0, 4));
    await refusalOf(withByteSource(path, 'gguf', (src) => src.read(0, 9), { maxBytes: 4 }));
    assert.deepEqual(openHere(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: a UTF-16 mark is recognised only at the start', () => {
  // 0x41 0xff 0x00 0x42 is UTF-8: "A", an invalid byte, NUL, "B" (0xff at offset 1 is not half of a BE mark).
  assert.equal(decodeText(Uint8Array.from([0x41, 0xff, 0x00, 0x42])), 'A\ufffd\u0000B');
  assert.equal(decodeText(Uint8Array.from([0x41, 0xfe, 0x42, 0x00])), 'A\ufffdB\u0000');
});

test('validateWorkload: tp may be "auto" (resolved later), no other field may, and no other word is a degree', () => {
  // What the CLI and the extension ask for when told nothing: the default workload at the smallest TP that fits.
  assert.deepEqual(validateWorkload(DEFAULT_REQUEST), { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 'auto', dtype: null, softmaxOffset: 'online', deferDepth: 'deepest', tiles: 4 });
  assert.equal(refusal(() => validateWorkload({ ...DEFAULT_REQUEST, tp: 'all' as 'auto' })).message, 'workload: tp: expected "auto" or a whole number from 1 to 1024, found "all"');
  for (const key of ['batch', 'seq', 'context', 'tiles'] as const) {
    assert.equal(refusal(() => validateWorkload({ ...DEFAULT_REQUEST, [key]: 'auto' })).message, `workload: ${key}: expected a whole number from 1 to ${WORKLOAD_LIMITS[key]}, found "auto"`);
  }
});

test('terminalSafe: a control sequence cut off before its final byte is removed with its parameters', () => {
  // ESC [ 3 1 with no final byte (the text ends): a terminal would wait for it, swallowing "31".
  assert.equal(terminalSafe('a\x1b[31'), 'a');
  assert.equal(terminalSafe('a\u009b31'), 'a');
});

// The timeout is a hang guard, not a speed target: reading the whole file would take minutes.
test('files: a huge file is refused once its cap is read, not read to its end', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-huge-'));
  try {
    // 64 GiB of nothing (a sparse file takes no disk): a read that did not stop at the cap (16 MiB) + 1
    // byte would go on to the end of it.
    const path = join(dir, 'huge.json');
    closeSync(openSync(path, 'w'));
    truncateSync(path, 64 * 1024 ** 3);
    assert.equal((await refusalOf(readFileBytes(path, 'config'))).message, `${path}: expected a model config (JSON) of at most 16 MiB, found more: reading stopped at 16 MiB`);
    assert.equal((await refusalOf(readFileBytes(path, 'config', { maxBytes: 5000 }))).found, 'more: reading stopped at 5,000 bytes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseLenientJson: a line comment on a line of its own ends at that line\'s end', () => {
  assert.deepEqual(parseLenientJson('[1,\n// c\n2]', 'f'), [1, 2]);
  assert.equal(refusal(() => parseLenientJson('[\n// c\n[[2]]]', 'f', 2)).field, 'line 3, column 2');
});
