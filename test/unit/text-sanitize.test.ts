/**
 * The sanitizers of src/core/text.ts (issue 16): hand-written cases for each kind of escape, then
 * seeded fast-check properties over strings built from the dangerous pieces and arbitrary code points.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getPreset } from '../../src/core/hardware/presets';
import { formatMarkdown } from '../../src/core/report/formats';
import { profile } from '../../src/core/report/profile';
import { markdownTable } from '../../src/core/report/text';
import { markdownInline, shortened, terminalSafe } from '../../src/core/text';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

/** What the issue lists as unsafe on a terminal: C0, DEL, C1 (U+009B included), bidi marks, embeddings, overrides, isolates, line separators. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u;

test('terminalSafe removes escape sequences with their parameters, controls and bidi code points', () => {
  // OSC 0 (set the window title), terminated by BEL.
  assert.equal(terminalSafe('\x1b]0;pwned\x07Llama'), 'Llama');
  // CSI: clear the screen, then red.
  assert.equal(terminalSafe('a\x1b[2J\x1b[31mb'), 'ab');
  // The 8-bit CSI U+009B with its parameters.
  assert.equal(terminalSafe('a\u009b2Jb'), 'ab');
  // OSC 8 hyperlink, terminated by ST (ESC \): the link text stays, the hidden URL goes.
  assert.equal(terminalSafe('ok\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\'), 'oklink');
  // An OSC that never ends swallows the rest, as a terminal would.
  assert.equal(terminalSafe('a\x1b]0;title'), 'a');
  // Bidi override and isolates ("Trojan Source").
  assert.equal(terminalSafe('a\u202eb\u2066c\u2069d\u200f'), 'abcd');
  // Line breaks and tabs become spaces (one per run), BEL and DEL go.
  assert.equal(terminalSafe('x\r\ny\tz\x07\x7f'), 'x y z');
  // Ordinary text, Unicode included, is untouched.
  assert.equal(terminalSafe('Llama-3.1-8B · 模型 — ok'), 'Llama-3.1-8B · 模型 — ok');
});

test('markdownInline escapes what would open a heading, a fence, HTML or a table cell', () => {
  // Character references: # is 35, | 124, ` 96, < 60, > 62, [ 91, ] 93, & 38.
  assert.equal(markdownInline('x\n# y'), 'x &#35; y');
  assert.equal(markdownInline('a|b`c'), 'a&#124;b&#96;c');
  assert.equal(markdownInline('```'), '&#96;&#96;&#96;');
  assert.equal(markdownInline('<img src=x>[a](javascript:x)'), '&#60;img src=x&#62;&#91;a&#93;(javascript:x)');
  assert.equal(markdownInline('&lt;'), '&#38;lt;');
  assert.equal(markdownInline('Llama-3.1-8B input_layernorm'), 'Llama-3.1-8B input_layernorm');
});

test('shortened keeps the first 200 characters and says how long the text was', () => {
  const name = 'A'.repeat(16_000_000);
  assert.equal(shortened(name), `${'A'.repeat(200)}… (16,000,000 characters)`);
  assert.equal(shortened('short'), 'short');
  // Up to 40 characters past the cut (room for the length note) stay whole: shortening is idempotent.
  assert.equal(shortened('A'.repeat(240)), 'A'.repeat(240));
  assert.equal(shortened(shortened(name)), shortened(name));
  // A surrogate pair is not cut in half: 199 A's and an emoji straddle the boundary.
  const emoji = `${'A'.repeat(199)}😀${'B'.repeat(100)}`;
  assert.equal(shortened(emoji), `${'A'.repeat(199)}… (${emoji.length.toLocaleString('en-US')} characters)`);
});

const SEED = 160_316;
const pieces = fc.constantFrom('\x1b', '\x1b[', '\x1b]', '\x1bP', '\x07', '\x1b\\', '\u009b', '\u009c', '\u009d', '\u0085', '\u202e', '\u2066', '\u2069', '\u200e', '\u2028', '\n', '\r', '\t', '#', '`', '```', '|', '\\', '[', ']', '<', '>', '*', '_', ';', '0', 'm', '2J', 'a', ' ', '-');
const hostile = fc.array(fc.oneof(pieces, fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 40 }).map((parts) => parts.join(''));

/** The text with every character reference and backslash escape (CommonMark) replaced by "E". */
function unescaped(md: string): string {
  return md.replace(/&#\d+;|\\[!-/:-@[-`{-~]/g, 'E');
}

test('fuzz: terminalSafe output has no unsafe code point and is idempotent', () => {
  fc.assert(
    fc.property(hostile, (s) => {
      const safe = terminalSafe(s);
      assert.doesNotMatch(safe, UNSAFE);
      assert.equal(terminalSafe(safe), safe);
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test('fuzz: markdownInline output is one line that opens no heading, fence, code span, HTML or cell', () => {
  fc.assert(
    fc.property(hostile, (s) => {
      const md = markdownInline(s);
      assert.doesNotMatch(md, UNSAFE);
      assert.ok(!md.startsWith('#'));
      const bare = unescaped(md);
      for (const c of ['`', '|', '<', '#', '[']) assert.ok(!bare.includes(c), `unescaped ${c} in ${JSON.stringify(md)}`);
      // Its safe text is what the terminal shows: escaping changes nothing else.
      assert.equal(md.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))), terminalSafe(s));
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test('fuzz: a hostile model name or hardware title leaves the Markdown report and its tables in shape', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const report = profile(spec, getPreset('dimc'), DEFAULT_WORKLOAD);
  const plain = formatMarkdown(report).split('\n');
  const cells = (line: string) => unescaped(line).split('|').length;
  fc.assert(
    fc.property(hostile, hostile, (name, title) => {
      const lines = formatMarkdown({ ...report, model: { ...report.model, name }, hardware: { ...report.hardware, title } }).split('\n');
      // Same lines, the same headings, and every table row with the same cells as with plain names.
      assert.equal(lines.length, plain.length);
      lines.forEach((line, i) => {
        assert.equal(line.startsWith('#'), plain[i]!.startsWith('#'), line);
        assert.ok(!line.startsWith('```'), line);
        if (plain[i]!.startsWith('|')) assert.equal(cells(line), cells(plain[i]!), line);
        assert.doesNotMatch(line, UNSAFE);
      });
      assert.ok(!unescaped(lines[0]!.slice('# '.length)).includes('`'));
    }),
    { seed: SEED, numRuns: 300 },
  );
  // And in a table cell of its own.
  fc.assert(
    fc.property(hostile, (name) => {
      const t = markdownTable(['Site'], [[name]], ['left']).split('\n');
      assert.equal(t.length, 3);
      assert.equal(cells(t[2]!), 3);
    }),
    { seed: SEED, numRuns: 1000 },
  );
});
