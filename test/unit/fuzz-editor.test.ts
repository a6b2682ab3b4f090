/**
 * Fuzzing the editor's config analysis (issue 16): random model configs as text, with huge numbers,
 * huge arrays, NaN and Infinity, deep nesting and keys such as `constructor`, `__proto__` and
 * `toString`, at the top and in text_config, sometimes commented (so jsonc-parser reads them). Every
 * input must end in an outcome, never an exception; the analysis's own work (counted on its
 * WorkMeter, not timed) stays under a bound fixed by the alias lists and the divisor search span,
 * whatever the sizes; every problem sits on a key the file itself holds; and the hover, lens and
 * status texts escape whatever the file says. Then the hostile corpus (test/fixtures/hostile/editor)
 * is replayed through the same checks, with the two large cases generated here.
 *
 * Seeded: FUZZ_SEED (default 16) reproduces a run, FUZZ_RUNS scales the number of inputs (default 1).
 * The seed and the counts are printed as test diagnostics.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { getPreset } from '../../src/core/hardware/presets';
import { parseLenientJson } from '../../src/core/json';
import { KEYS } from '../../src/core/model/families/common';
import type { WorkloadInput } from '../../src/common/protocol';
import { analyzeConfigText, DIVISOR_SEARCH_SPAN, type AnalysisOutcome, type JsonPath, type WorkMeter } from '../../src/extension/editor/analysis';
import { fieldRangeIn, keyAt, treeOf } from '../../src/extension/editor/config-keys';
import { hoverText, lensTitle, statusText } from '../../src/extension/editor/hover-text';

const SEED = Number(process.env['FUZZ_SEED'] ?? 16);
const SCALE = Math.max(1, Number(process.env['FUZZ_RUNS'] ?? 1));
const params = (n: number) => ({ seed: SEED, numRuns: Math.round(n * SCALE), endOnFailure: true });

const INPUT: WorkloadInput = { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' };
const dimc = getPreset('dimc');

/**
 * The most steps one analysis may take, derived from what it is allowed to walk: every alias of a
 * keyed role (plus model_type and architectures) probed in two scopes (the top level and text_config),
 * and two divisor searches (heads of hidden, KV heads of heads) of at most 2 × span candidates each.
 */
const ROLE_ALIASES = new Set([...KEYS.hidden, ...KEYS.layers, ...KEYS.heads, ...KEYS.kvHeads, ...KEYS.ffn, ...KEYS.experts, ...KEYS.topK, ...KEYS.eps, 'model_type', 'architectures']).size;
const MAX_STEPS = 2 * ROLE_ALIASES + 2 * (2 * DIVISOR_SEARCH_SPAN);

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'];

// ---- configs as text: values are generated as JSON text, so that bare NaN and "__proto__" keys survive ----

const str = (s: string): string => JSON.stringify(s);
const obj = (entries: [string, string][]): string => `{${entries.map(([k, v]) => `${str(k)}: ${v}`).join(', ')}}`;
const nested = (depth: number): string => '['.repeat(depth) + '1' + ']'.repeat(depth);

/** Large arrays (10,000–20,000 entries; the corpus test below has 4 million), built once. */
const BIG_ARRAYS = [`[${'NaN,'.repeat(19_999)}NaN]`, `[${'1e300,'.repeat(9_999)}1e300]`, `[${'"full_attention",'.repeat(9_999)}"sliding_attention"]`];

const numberText = fc.oneof(
  fc.constantFrom('1e20', '9007199254740991', '9007199254740993', '1e300', '1e999', '-1e999', '1.7976931348623157e308', '5e-324', '-0', '0', '-1', '7', '1.5', 'NaN', 'Infinity', '-Infinity'),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? '-0' : String(d))),
  // A product of small primes: divisor searches have something to find.
  fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 12 })).map(([a, b, c]) => String(2 ** a * 5 ** b * 3 ** c)),
);

const hostileString = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, '<img src=x onerror=alert(1)>', '[run](command:workbench.action.terminal.new)', '`code`', '**bold**', '\n# heading'), fc.string({ maxLength: 20 }));

const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText,
    hostileString.map(str),
    fc.constantFrom('true', 'false', 'null', '[]', '{}'),
    fc.constantFrom(...BIG_ARRAYS),
    fc.integer({ min: 10, max: 70 }).map(nested),
    fc.array(tie('value'), { maxLength: 4 }).map((vs) => `[${vs.join(', ')}]`),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ maxLength: 8 })), tie('value')), { maxLength: 4 }).map(obj),
  ),
})).value;

/** Keys the analysis reads by role and by name, the prototype's names, and anything. */
const keyName = fc.oneof(
  fc.constantFrom(...KEYS.hidden, ...KEYS.layers, ...KEYS.heads, ...KEYS.kvHeads, ...KEYS.ffn, ...KEYS.experts, ...KEYS.topK, ...KEYS.eps, ...KEYS.vocab, 'head_dim', 'layer_types', 'layers_block_type', 'sliding_window_pattern', '_sliding_window_pattern', 'architectures'),
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.string({ maxLength: 12 }),
);

/** model_type values: real families, an unknown one, markup, and names of Object.prototype's members. */
const modelType = fc.oneof(
  fc.constantFrom('llama', 'mistral', 'qwen2', 'gemma3_text', 'mixtral', 'gpt2', 'deepseek_v3', 'my_model'),
  fc.constant('<b>x</b>'),
  fc.constantFrom(...PROTOTYPE_NAMES),
);

/** A base that profiles (so figures and hovers are exercised), then fields added or replaced. */
const BASE: [string, string][] = [
  ['hidden_size', '256'],
  ['num_attention_heads', '8'],
  ['num_key_value_heads', '4'],
  ['num_hidden_layers', '2'],
  ['intermediate_size', '512'],
  ['vocab_size', '1000'],
  ['rms_norm_eps', '1e-5'],
];

const configText = fc
  .record({
    type: modelType,
    top: fc.array(fc.tuple(keyName, valueText), { maxLength: 5 }),
    inner: fc.option(fc.tuple(modelType, fc.array(fc.tuple(keyName, valueText), { maxLength: 5 })), { nil: undefined }),
    keepBase: fc.boolean(),
    // A comment makes the text go through jsonc-parser, where a "__proto__" member sets the prototype.
    comment: fc.boolean(),
  })
  .map(({ type, top, inner, keepBase, comment }) => {
    const entries: [string, string][] = [['model_type', str(type)], ...(keepBase ? BASE : []), ...top];
    if (inner) entries.push(['text_config', obj([['model_type', str(inner[0])], ...BASE, ...inner[1]])]);
    const body = obj(entries);
    return comment ? `// generated\n${body}` : body;
  });

// ---- the checks every input goes through ----

/** Whether `path` leads through the file's own keys (never an inherited one). */
function ownPath(root: unknown, path: JsonPath): boolean {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string | number, unknown>)[key];
  }
  return true;
}

/** Markdown from the file's text stays text: every `<` and `[` escaped; the one link is ours. */
function assertEscaped(markdown: string): void {
  const unescaped = (ch: string): number => [...markdown.matchAll(new RegExp(`(?<!\\\\)\\${ch}`, 'g'))].length;
  assert.equal(unescaped('<'), 0, markdown);
  assert.equal(unescaped('['), 1, markdown);
  assert.match(markdown, /\[Open report\]\(command:deferredNorm\.profileModel\?/);
}

/** Analyzes a text and checks the outcome; returns it with the steps taken. */
function check(text: string, path = '/models/fuzz/config.json'): { outcome: AnalysisOutcome; steps: number } {
  const meter: WorkMeter = { steps: 0 };
  const outcome = analyzeConfigText(text, path, dimc, INPUT, meter);
  assert.ok(meter.steps <= MAX_STEPS, `${meter.steps} steps (at most ${MAX_STEPS})`);
  if (outcome.kind !== 'model') return { outcome, steps: meter.steps };
  const { analysis } = outcome;
  const parsed = parseLenientJson(text, path);
  const tree = analysis.problems.length > 0 ? treeOf(text) : undefined;
  for (const problem of analysis.problems) {
    assert.ok(problem.message.length > 0);
    assert.ok(problem.fixes.every((f) => Number.isInteger(f) && f >= 1), `${problem.message}: fixes ${problem.fixes}`);
    // A problem sits on a key of the file, or on none (the first line) when the core's field is not one.
    if (problem.path.length > 0) assert.ok(ownPath(parsed, problem.path), `${problem.path.join('.')} is a key of the file: ${problem.message}`);
    if (problem.path.length > 0) assert.ok(fieldRangeIn(tree, problem.path, text), `${problem.path.join('.')} is found in the text`);
  }
  for (const field of analysis.fields) {
    assert.ok(ownPath(parsed, field.path), `field ${field.path.join('.')} is a key of the file`);
    const md = hoverText({ role: field.role, key: field.key, analysis, hardwareLabel: 'dimc', uriJson: { scheme: 'file', path } });
    if (md !== null) assertEscaped(md);
  }
  assert.ok(lensTitle(analysis, 'dimc').length > 0);
  assert.ok(statusText(analysis, 'dimc').text.length > 0);
  return { outcome, steps: meter.steps };
}

function report(t: TestContext, what: string, counts: Record<string, number>, t0: number): void {
  const parts = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
  t.diagnostic(`${what}: ${parts}, seed ${SEED}, ${(performance.now() - t0).toFixed(0)} ms (FUZZ_RUNS=${SCALE})`);
}

test('editor analysis: random hostile configs end in an outcome, in bounded work, with problems on the file\'s own keys and escaped texts', (t) => {
  const t0 = performance.now();
  const counts = { inputs: 0, models: 0, profiled: 0, 'not models': 0, 'invalid JSON': 0, 'most steps': 0 };
  fc.assert(
    fc.property(configText, fc.nat(), (text, at) => {
      counts.inputs++;
      const { outcome, steps } = check(text);
      counts['most steps'] = Math.max(counts['most steps'], steps);
      if (outcome.kind === 'model') counts.models++;
      if (outcome.kind === 'model' && outcome.analysis.figures) counts.profiled++;
      if (outcome.kind === 'not-a-model') counts['not models']++;
      if (outcome.kind === 'invalid-json') counts['invalid JSON']++;
      // The hover's first step on any offset: a key of the text, or nothing.
      const key = keyAt(text, at % (text.length + 1));
      if (key) assert.equal(JSON.parse(text.slice(key.start, key.end)), key.key);
    }),
    params(150),
  );
  report(t, 'random configs', counts, t0);
  // The generator reaches every outcome that matters.
  assert.ok(counts.profiled > 0 && counts.models > counts.profiled, JSON.stringify(counts));
});

// ---- the hostile corpus ----

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'hostile', 'editor');
for (const file of readdirSync(CORPUS).filter((f) => f.endsWith('.json')).sort()) {
  test(`hostile corpus: ${file}`, () => {
    const { outcome } = check(readFileSync(join(CORPUS, file), 'utf8'), join(CORPUS, file));
    // Every file of the corpus names model keys; only the 100-deep one is beyond the core's JSON nesting limit.
    assert.equal(outcome.kind, file === 'nesting-100-deep.json' ? 'invalid-json' : 'model', file);
  });
}

test('hostile corpus, generated: a 4-million-entry NaN array, 500,000 keys, and a text over the config cap', (t) => {
  const t0 = performance.now();
  const head = '"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 7, "num_hidden_layers": 2, "intermediate_size": 14336, "vocab_size": 128256';
  const nan = check(`{${head}, "x": [${'NaN,'.repeat(3_999_999)}NaN]}`);
  assert.equal(nan.outcome.kind, 'model');
  const keys = check(`{${head}, ${Array.from({ length: 500_000 }, (_, i) => `"k${i}": ${i}`).join(', ')}}`);
  assert.equal(keys.outcome.kind, 'model');
  // 4096 = 2^12 with 7 heads: 8 and 4 divide it (6 = 2·3 does not); then 2 (5, 9, 10 do not).
  const fixes = nan.outcome.kind === 'model' ? nan.outcome.analysis.problems.find((p) => p.path[0] === 'num_attention_heads')?.fixes : undefined;
  assert.deepEqual(fixes, [8, 4, 2]);
  // Half a million keys cost the analysis no more steps than the 4-million-entry array, which it never walks.
  assert.equal(keys.steps, nan.steps);
  // Over the core's 16 MiB cap for a config: refused before any parse, whatever it holds.
  const over = check(`{${head}, "pad": "${'x'.repeat(16 * 1024 * 1024)}"}`);
  assert.deepEqual(over, { outcome: { kind: 'not-a-model' }, steps: 0 });
  report(t, 'generated corpus', { files: 3, 'steps (NaN array)': nan.steps, 'steps (500,000 keys)': keys.steps }, t0);
});
