/**
 * Fuzzing the input edge with fast-check (issue 9). Every generated input must end in a result or an
 * InputError that names the file (and, where there is one, the field); never another exception, and
 * each within a bounded time. When a config, profile or workload is accepted, the simulation runs and
 * every total it reports must be finite.
 *
 * Seeded: FUZZ_SEED (default 9) reproduces a run, FUZZ_RUNS scales the number of inputs (default 1 =
 * the quick run of the unit suite, a few seconds; FUZZ_RUNS=20 tries twenty times as many). The seed
 * and the counts are printed as test diagnostics; a failure prints fast-check's counterexample and path.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { InputError } from '../../src/core/errors';
import { decodeText } from '../../src/core/files';
import { parseLenientJson } from '../../src/core/json';
import { memorySource } from '../../src/core/model/bytes';
import { specFromConfig } from '../../src/core/model/config';
import { GGUF_LIMITS, readGgufHeader, specFromGguf } from '../../src/core/model/gguf';
import { readSafetensorsHeader, specFromSafetensors } from '../../src/core/model/safetensors';
import type { ModelSpec } from '../../src/core/model/spec';
import { getPreset } from '../../src/core/hardware/presets';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { leaves } from '../../src/core/hardware/paths';
import { validateHardwareProfile } from '../../src/core/hardware/validate';
import type { HardwareProfile } from '../../src/core/hardware/profile';
import { DTYPES } from '../../src/core/hardware/profile';
import { simulate } from '../../src/core/sim/simulate';
import { totalsOfSimulation } from '../../src/core/report/profile';
import { DEFAULT_WORKLOAD, DEFER_DEPTH_LIMITS, SOFTMAX_OFFSETS, checkWorkloadForModel, validateWorkload, type Workload } from '../../src/core/workload';
import { allFixtures, fixturePath, loadFixture, profiledFixtures } from './helpers/fixtures';
import { gv, llamaGgufKv, llamaGgufTensors, writeGguf } from './helpers/gguf-writer';
import { llamaTensors, writeSafetensors } from './helpers/safetensors-writer';

const SEED = Number(process.env['FUZZ_SEED'] ?? 9);
const SCALE = Math.max(1, Number(process.env['FUZZ_RUNS'] ?? 1));
/** Per input: generous (a typical one takes well under a millisecond; the suite's total is what stays small). */
const MAX_MS_PER_INPUT = 1000;
const runs = (n: number) => Math.round(n * SCALE);
const params = (n: number) => ({ seed: SEED, numRuns: runs(n), endOnFailure: true });

const dimc = getPreset('dimc');

function report(t: TestContext, what: string, count: number, t0: number): void {
  t.diagnostic(`${what}: ${count} inputs, seed ${SEED}, ${(performance.now() - t0).toFixed(0)} ms (FUZZ_RUNS=${SCALE})`);
}

/** Runs `f`; returns its value, or undefined for an InputError about `file`. Anything else fails the property. */
function settle<T>(file: string, f: () => T): T | undefined {
  const t0 = performance.now();
  try {
    return f();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    assert.equal(err.file, file, `the error names the file: ${err.message}`);
    assert.ok(err.message.length > file.length + 2 && err.expected.length > 0, `the error says what was expected: ${err.message}`);
    return undefined;
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < MAX_MS_PER_INPUT, `one input took ${ms.toFixed(0)} ms`);
  }
}

async function settleAsync<T>(file: string, f: () => Promise<T>): Promise<T | undefined> {
  const t0 = performance.now();
  try {
    return await f();
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    assert.equal(err.file, file, `the error names the file: ${err.message}`);
    assert.ok(err.expected.length > 0, err.message);
    return undefined;
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < MAX_MS_PER_INPUT, `one input took ${ms.toFixed(0)} ms`);
  }
}

/** An accepted model simulates to finite totals (or its workload is refused for it). */
function simulatesFinite(spec: ModelSpec, hw: HardwareProfile = dimc, w: Workload = DEFAULT_WORKLOAD): void {
  const t0 = performance.now();
  try {
    checkWorkloadForModel(spec, w, 'workload');
  } catch (err) {
    if (err instanceof InputError && err.field === 'tp') return;
    throw err;
  }
  let totals;
  try {
    totals = totalsOfSimulation(simulate(spec, hw, w));
  } catch (err) {
    // The simulator refuses some model/workload pairs itself (decode of an encoder-only model, a dtype the machine lacks).
    if (!(err instanceof InputError)) throw err;
    assert.ok(err.expected.length > 0, err.message);
    return;
  }
  for (const [k, v] of Object.entries(totals)) assert.ok(Number.isFinite(v), `${spec.name}: totals.${k} = ${v}`);
  assert.ok(totals.savedPct >= -100 && totals.savedPct <= 100, `savedPct ${totals.savedPct}`);
  const ms = performance.now() - t0;
  assert.ok(ms < MAX_MS_PER_INPUT, `simulating ${spec.name} took ${ms.toFixed(0)} ms`);
}

// ---------------------------------------------------------------------------------------------------
// Model configs

const FIXTURES = allFixtures().map((name) => ({ name, config: JSON.parse(readFileSync(fixturePath(name), 'utf8')) as Record<string, unknown> }));

/** Paths to every value in a config (objects only; arrays by index), for mutations. */
function paths(value: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const p = [...at, Array.isArray(value) ? Number(k) : k];
      out.push(p);
      if (out.length < 2000) paths(v, p, out);
    }
  }
  return out;
}

const deep = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

/** What a field may be replaced by: the list. */
const replacement = fc.oneof(
  fc.constantFrom<unknown>(0, -1, 1.5, 1e300, -1e300, 2 ** 53, 2 ** 31, 1e-300, true, null, '', '32', [], {}, [32], { a: 1 }),
  fc.constant(undefined), // the field removed
  fc.constantFrom('x'.repeat(100_000), deep(50)),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.double(),
  fc.string(),
  fc.jsonValue({ maxDepth: 3 }),
);

function withMutation(config: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(config);
  let node = copy as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

test('config reader: mutations of every fixture (fields removed, retyped, 0, −1, 1.5, 1e300, NaN, huge, deep)', (t) => {
  const t0 = performance.now();
  const arb = fc
    .integer({ min: 0, max: FIXTURES.length - 1 })
    .chain((i) => {
      const f = FIXTURES[i]!;
      const ps = paths(f.config);
      return fc.tuple(fc.constant(f), fc.array(fc.tuple(fc.constantFrom(...ps), replacement), { minLength: 1, maxLength: 3 }));
    });
  let count = 0;
  let accepted = 0;
  fc.assert(
    fc.property(arb, ([f, edits]) => {
      count++;
      let config = f.config;
      for (const [p, v] of edits) {
        try {
          config = withMutation(config, p, v);
        } catch {
          // An earlier edit removed or retyped the parent: skip this one.
        }
      }
      const file = `${f.name}/config.json`;
      const spec = settle(file, () => specFromConfig(config, { path: file, format: 'config.json' }));
      if (spec) (accepted++, simulatesFinite(spec));
    }),
    params(300),
  );
  report(t, `config mutations (${accepted} accepted and simulated)`, count, t0);
});

test('config reader: random JSON values, through the text parser', (t) => {
  const t0 = performance.now();
  let count = 0;
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.dictionary(fc.constantFrom('model_type', 'num_hidden_layers', 'hidden_size', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size', 'vocab_size', 'head_dim', 'architectures', 'text_config', 'num_local_experts', 'layer_types'), fc.jsonValue({ maxDepth: 2 }))), (value) => {
      count++;
      const file = 'random/config.json';
      const spec = settle(file, () => specFromConfig(parseLenientJson(JSON.stringify(value), file), { path: file, format: 'config.json' }));
      if (spec) simulatesFinite(spec);
    }),
    params(300),
  );
  report(t, 'random JSON configs', count, t0);
});

test('config text: NaN literals, duplicate keys, BOM, UTF-16, deep nesting, truncation, stray bytes', (t) => {
  const t0 = performance.now();
  const textEdit = fc.oneof(
    fc.record({ kind: fc.constant('nan' as const), literal: fc.constantFrom('NaN', 'Infinity', '-Infinity') }),
    fc.record({ kind: fc.constant('dup' as const) }),
    fc.record({ kind: fc.constant('bom' as const) }),
    fc.record({ kind: fc.constant('utf16' as const), le: fc.boolean() }),
    fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 60, max: 5000 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: 'binary', maxLength: 8 }) }),
  );
  let count = 0;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: FIXTURES.length - 1 }), fc.array(textEdit, { minLength: 1, maxLength: 3 }), (i, edits) => {
      count++;
      const f = FIXTURES[i]!;
      let text = JSON.stringify(f.config, null, 1);
      let bytes: Uint8Array | null = null;
      for (const e of edits) {
        if (e.kind === 'nan') text = text.replace(/: -?\d+(\.\d+)?(e-?\d+)?/, `: ${e.literal}`);
        else if (e.kind === 'dup') text = text.replace('{', '{"num_hidden_layers": -3, "model_type": 7,');
        else if (e.kind === 'bom') text = '\ufeff' + text;
        else if (e.kind === 'deep') text = text.replace('{', `{"deep": ${'['.repeat(e.depth)}${']'.repeat(e.depth)},`);
        else if (e.kind === 'cut') text = text.slice(0, e.at % (text.length + 1));
        else if (e.kind === 'insert') text = text.slice(0, e.at % (text.length + 1)) + e.text + text.slice(e.at % (text.length + 1));
        else {
          const le = Buffer.from(text, 'utf16le');
          if (!e.le) le.swap16();
          bytes = new Uint8Array(Buffer.concat([Buffer.from(e.le ? [0xff, 0xfe] : [0xfe, 0xff]), le]));
        }
      }
      const file = `${f.name}/config.json`;
      const decoded = bytes ? decodeText(bytes) : text;
      const spec = settle(file, () => specFromConfig(parseLenientJson(decoded, file), { path: file, format: 'config.json' }));
      if (spec) simulatesFinite(spec);
    }),
    params(300),
  );
  report(t, 'config text edits', count, t0);
});

// ---------------------------------------------------------------------------------------------------
// GGUF

const GGUF_DIMS = { name: 'tiny', layers: 1, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, context: 256, vocab: 30, eps: 1e-5, tokens: false };
const smallGguf = (withTensors = true) => {
  // Every kind of value: scalars, strings, a string array, a fixed-width array; then the tensor list.
  const kv = llamaGgufKv(GGUF_DIMS);
  kv.push(['tokenizer.ggml.tokens', gv.tokens(30)], ['general.tags', gv.arr('u8', [1, 2, 3])], ['general.score', gv.f64(0.5)]);
  return writeGguf({ kv, tensors: withTensors ? llamaGgufTensors(GGUF_DIMS) : [], dataBytes: 32 });
};

test('GGUF reader: truncation at every offset of a valid small file, in both reading modes', async (t) => {
  const t0 = performance.now();
  const { bytes, headerEnd } = smallGguf();
  const kvEnd = smallGguf(false).headerEnd; // where the metadata ends and the tensor list starts
  let count = 0;
  for (let end = 0; end <= headerEnd; end++) {
    for (const tensors of [false, true]) {
      // The cheap mode never reads past the metadata: cuts in the tensor list would repeat one result.
      if (!tensors && end > kvEnd) continue;
      count++;
      const spec = await settleAsync('cut.gguf', () => specFromGguf(memorySource(bytes.subarray(0, end)), { path: 'cut.gguf', format: 'gguf' }, { tensors }));
      // Whatever is cut, a spec only comes from a file holding every key it needs.
      if (spec) assert.equal(spec.layers, GGUF_DIMS.layers);
    }
  }
  report(t, 'GGUF truncations', count, t0);
});

test('GGUF reader: random bytes, overwritten fields (counts near 2^64, unknown types), nested arrays', async (t) => {
  const t0 = performance.now();
  const { bytes: valid, headerEnd } = smallGguf();
  const u64Near = fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 63n - 1n, 2n ** 32n, 2n ** 32n - 1n, 2n ** 53n + 1n, 0n, 1n);
  const patch = fc.oneof(
    fc.record({ kind: fc.constant('u64' as const), at: fc.nat({ max: headerEnd }), value: u64Near }),
    fc.record({ kind: fc.constant('u32' as const), at: fc.nat({ max: headerEnd }), value: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(0xffffffff, 0x80000000, 13, 9)) }),
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat({ max: headerEnd }), value: fc.integer({ min: 0, max: 255 }) }),
  );
  const nestedArray = fc.integer({ min: 1, max: 8 }).map((depth) => {
    // general.x = array(array(…(u32 [7])…)) nested `depth` deep, written by hand.
    const parts: number[] = [];
    const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
    const u64 = (v: number) => (u32(v), u32(0));
    for (let d = 0; d < depth; d++) (u32(9), u64(1));
    u32(4), u64(1), u32(7);
    return parts;
  });
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 256 }).map((b) => ({ bytes: b, what: 'random' })),
    fc.uint8Array({ maxLength: 256 }).map((b) => ({ bytes: new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, ...b]), what: 'GGUF v3 + random' })),
    fc.array(patch, { minLength: 1, maxLength: 4 }).map((ps) => {
      const b = valid.slice();
      const view = new DataView(b.buffer);
      for (const p of ps) {
        const at = Math.min(p.at, b.length - 8);
        if (p.kind === 'u64') view.setBigUint64(at, p.value, true);
        else if (p.kind === 'u32') view.setUint32(at, p.value, true);
        else b[at] = p.value;
      }
      return { bytes: b, what: 'patched' };
    }),
    nestedArray.map((tail) => {
      // header with one kv: key "general.x", type array, then the nested arrays.
      const key = [...new TextEncoder().encode('general.x')];
      const head = [0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, key.length, 0, 0, 0, 0, 0, 0, 0, ...key];
      return { bytes: new Uint8Array([...head, ...tail]), what: 'nested arrays' };
    }),
  );
  let count = 0;
  await fc.assert(
    fc.asyncProperty(input, fc.boolean(), async ({ bytes }, tensors) => {
      count++;
      const header = await settleAsync('fuzz.gguf', () => readGgufHeader(memorySource(bytes), 'fuzz.gguf', { tensors }));
      if (header) {
        const spec = await settleAsync('fuzz.gguf', () => specFromGguf(memorySource(bytes), { path: 'fuzz.gguf', format: 'gguf' }, { tensors }));
        if (spec) simulatesFinite(spec);
      }
    }),
    params(400),
  );
  report(t, 'GGUF byte inputs', count, t0);
});

// ---------------------------------------------------------------------------------------------------
// safetensors

test('safetensors: header lengths past the end, absurd sizes and offsets, random headers', async (t) => {
  const t0 = performance.now();
  const valid = writeSafetensors(llamaTensors({ layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100 }));
  const entry = fc.record({
    dtype: fc.oneof(fc.constantFrom('BF16', 'F16', 'F32', 'I8', 'F4', 'XX'), fc.jsonValue({ maxDepth: 1 })),
    shape: fc.oneof(fc.array(fc.oneof(fc.nat({ max: 4096 }), fc.constantFrom(2 ** 53, -1, 1.5, 1e300)), { maxLength: 4 }), fc.jsonValue({ maxDepth: 1 })),
    data_offsets: fc.oneof(fc.tuple(fc.nat(), fc.nat()), fc.jsonValue({ maxDepth: 1 })),
  });
  const names = fc.constantFrom('model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.gate_proj.weight', 'lm_head.weight', 'model.norm.weight', '__metadata__', 'x');
  const input = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((len) => {
      const b = valid.slice();
      new DataView(b.buffer).setBigUint64(0, len, true);
      return b;
    }),
    fc.dictionary(names, entry, { maxKeys: 6 }).map((header) => writeSafetensors([], { rawHeader: JSON.stringify(header) })),
    fc.uint8Array({ maxLength: 64 }),
  );
  let count = 0;
  await fc.assert(
    fc.asyncProperty(input, async (bytes) => {
      count++;
      const header = await settleAsync('fuzz.safetensors', () => readSafetensorsHeader(memorySource(bytes), 'fuzz.safetensors'));
      if (header) {
        const spec = settle('fuzz.safetensors', () => specFromSafetensors(header, { path: 'fuzz.safetensors', format: 'safetensors' }, 'fuzz'));
        if (spec) simulatesFinite(spec);
      }
    }),
    params(300),
  );
  report(t, 'safetensors inputs', count, t0);
});

/**
 * The header check written a second way: JSON.parse, then the format's rules on the parsed object. The
 * streaming parser must accept exactly what this accepts (for text JSON.stringify writes: no
 * duplicate names, integers written as integers) and read the same tensors.
 */
function referenceHeader(text: string, dataBytes: number): { name: string; dtype: string; shape: number[] }[] | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const out: { name: string; dtype: string; shape: number[] }[] = [];
  const natural = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && !Object.is(x, -0);
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || Object.values(entry).some((v) => typeof v !== 'string')) return null;
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
    const e = entry as Record<string, unknown>;
    if (Object.entries(e).some(([k, v]) => !['dtype', 'shape', 'data_offsets'].includes(k) && typeof v === 'object' && v !== null)) return null;
    const { dtype, shape, data_offsets: offsets } = e;
    if (typeof dtype !== 'string' || !Array.isArray(shape) || shape.length > 8 || !shape.every(natural)) return null;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(natural) || (offsets[0] as number) > (offsets[1] as number) || (offsets[1] as number) > dataBytes) return null;
    if (!Number.isSafeInteger(shape.reduce((a: number, b: number) => a * b, 1))) return null;
    out.push({ name, dtype, shape });
  }
  return out;
}

test('safetensors header parser: accepts exactly what JSON.parse and the format rules accept, and reads the same tensors', async (t) => {
  const t0 = performance.now();
  // Small dimensions mostly, so that many-dimensional shapes still have safe products.
  const natural = fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 8 }) }, fc.nat({ max: 5000 }), fc.constantFrom(0, 2 ** 53 - 1, 2 ** 53, 2 ** 31, 1e21));
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const entry = fc.oneof(
    // Mostly valid records (offsets in order, 0–10 dimensions), so that whole headers are often accepted.
    { weight: 12, arbitrary: fc.record({ dtype: fc.constantFrom('BF16', 'F32', 'é', 'a"b\\c\n'), shape: fc.array(natural, { maxLength: 10, size: 'max' }), data_offsets: fc.tuple(fc.nat({ max: 50 }), fc.nat({ max: 50 })).map(([a, b]) => [a, a + b]) }) },
    { weight: 2, arbitrary: fc.record({ dtype: fc.oneof(fc.string(), anyJson), shape: fc.oneof(fc.array(fc.oneof(natural, fc.double(), fc.constant(-1))), anyJson), data_offsets: fc.oneof(fc.array(fc.nat({ max: 200 }), { maxLength: 3 }), anyJson), extra: fc.oneof(fc.constant(undefined), anyJson) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: anyJson },
  );
  const name = fc.oneof(fc.constantFrom('model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', '__metadata__', 'x', '', 'ü\u2028"\\'), fc.string({ maxLength: 12 }));
  const header = fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(name, entry, { maxKeys: 6 }) },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.dictionary(name, fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string(), anyJson), { maxKeys: 3 }), { maxKeys: 3 }) },
  );
  // Whitespace where JSON allows it (the format pads with spaces), the text cut short, or one character
  // put in anywhere (a raw control character, a quote, a bracket…; not 'e', '.' or '-', which could make
  // an integer JSON.parse reads but the format's writers never write).
  const layout = fc.oneof(
    fc.constant('compact' as const),
    fc.constant('spaced' as const),
    fc.nat({ max: 400 }),
    fc.record({ at: fc.nat({ max: 400 }), char: fc.constantFrom('\u0001', '\u001f', '"', '\\', ',', ':', '}', '{', ']', '[', ' ', '\n', '0', '7', 'é', 'x') }),
  );
  let count = 0;
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(header, layout, async (value, how) => {
      count++;
      let text = how === 'spaced' ? JSON.stringify(value, null, 2) + '   ' : JSON.stringify(value) ?? 'null';
      if (typeof how === 'number') text = text.slice(0, how);
      else if (typeof how === 'object') text = text.slice(0, how.at) + how.char + text.slice(how.at);
      const bytes = writeSafetensors([], { rawHeader: text });
      const dataBytes = 100;
      const file = new Uint8Array(bytes.length + dataBytes);
      file.set(bytes);
      const got = await settleAsync('fuzz.safetensors', () => readSafetensorsHeader(memorySource(file), 'fuzz.safetensors'));
      const want = referenceHeader(text, dataBytes);
      assert.equal(got !== undefined, want !== null, `accepted by the parser: ${got !== undefined}, by JSON.parse and the rules: ${want !== null}; header ${text.slice(0, 200)}`);
      if (got && want) {
        accepted++;
        assert.deepEqual(got.tensors.map((x) => ({ name: x.name, dtype: x.dtype, shape: x.shape })), want);
        for (const x of got.tensors) assert.equal(x.elements, x.shape.reduce((a, b) => a * b, 1));
      }
    }),
    params(1000),
  );
  report(t, `safetensors headers (${accepted} accepted)`, count, t0);
});

test('GGUF metadata skipper: random nested values are skipped to the exact byte (the tensor info after them reads back)', async (t) => {
  const t0 = performance.now();
  // A GGUF value tree written by hand: type, then body (strings with u64 lengths, arrays with u32 type + u64 count).
  type Tree = { type: number; scalar?: number; text?: string; elementType?: number; items?: Tree[] };
  const fixedSizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const fixedTypes = Object.keys(fixedSizes).map(Number);
  const scalarOf = (type: number): fc.Arbitrary<Tree> => (type === 8 ? fc.string({ maxLength: 20 }).map((text) => ({ type, text })) : fc.nat({ max: 1 }).map((scalar) => ({ type, scalar })));
  const tree: fc.Arbitrary<Tree> = fc.letrec<{ value: Tree }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...fixedTypes, 8).chain(scalarOf),
      // Arrays of one element type: scalars, strings (up to 5,000: past the kept limits), or arrays.
      fc.constantFrom(...fixedTypes, 8).chain((elementType) => fc.array(scalarOf(elementType), { maxLength: 5000, size: 'max' }).map((items) => ({ type: 9, elementType, items }))),
      fc.array(tie('value'), { maxLength: 4 }).map((items) => ({ type: 9, elementType: 9, items: items.map((x) => (x.type === 9 ? x : { type: 9, elementType: x.type, items: [x] })) })),
    ),
  })).value;
  const write = (out: number[], v: Tree, withType: boolean): void => {
    const u32 = (x: number) => out.push(x & 255, (x >>> 8) & 255, (x >>> 16) & 255, x >>> 24);
    const u64 = (x: number) => (u32(x), u32(0));
    if (withType) u32(v.type);
    if (v.type === 8) {
      const b = new TextEncoder().encode(v.text ?? '');
      u64(b.length);
      for (const x of b) out.push(x);
    } else if (v.type === 9) {
      u32(v.elementType!);
      u64(v.items!.length);
      for (const item of v.items!) write(out, item, false);
    } else for (let i = 0; i < fixedSizes[v.type]!; i++) out.push(i === 0 ? (v.scalar ?? 0) : 0);
  };
  const depth = (v: Tree): number => (v.type === 9 ? 1 + Math.max(0, ...(v.items ?? []).slice(0, 8).map(depth)) : 0);
  let count = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(tree, { minLength: 1, maxLength: 4 }), async (values) => {
      count++;
      const kv = llamaGgufKv(GGUF_DIMS);
      const head = writeGguf({ kv, tensors: [{ name: 'sentinel', shape: [3, 5] }], kvCount: BigInt(kv.length + values.length) });
      // Splice the random values in after the known pairs, before the tensor info.
      const tensorInfo = head.bytes.subarray(head.headerEnd - (8 + 8 + 4 + 16 + 4 + 8), head.headerEnd);
      const extra: number[] = [];
      values.forEach((v, i) => {
        const key = new TextEncoder().encode(`fuzz.${i}`);
        extra.push(key.length, 0, 0, 0, 0, 0, 0, 0, ...key);
        write(extra, v, true);
      });
      const kvEnd = head.headerEnd - tensorInfo.length;
      const bytes = new Uint8Array(kvEnd + extra.length + tensorInfo.length + 64);
      bytes.set(head.bytes.subarray(0, kvEnd));
      bytes.set(extra, kvEnd);
      bytes.set(tensorInfo, kvEnd + extra.length);
      const h = await settleAsync('fuzz.gguf', () => readGgufHeader(memorySource(bytes), 'fuzz.gguf', { tensors: true }));
      if (values.some((v) => depth(v) > GGUF_LIMITS.nesting)) return; // may be refused for its depth
      assert.ok(h, 'well-formed metadata is read');
      assert.deepEqual(h.tensors, [{ name: 'sentinel', shape: [3, 5], type: 0 }], 'the walk ended exactly where the tensor info starts');
      values.forEach((v, i) => {
        const got = h.metadata.get(`fuzz.${i}`);
        if (v.type === 9 && v.elementType !== 9 && v.elementType !== 8 && v.items!.length <= GGUF_LIMITS.keptArray) assert.equal((got as unknown[]).length, v.items!.length);
        else if (v.type === 9 && (v.elementType === 9 || v.items!.length > GGUF_LIMITS.keptStrings)) assert.equal((got as { count: number }).count, v.items!.length);
      });
    }),
    params(300),
  );
  report(t, 'GGUF metadata trees', count, t0);
});

// ---------------------------------------------------------------------------------------------------
// Hardware profiles and --set

const PRESET_JSON = JSON.parse(JSON.stringify(dimc)) as Record<string, unknown>;
const LEAF_PATHS = leaves(dimc).map((l) => l.path);
const llamaSpec = loadFixture('Llama-3.1-8B');

test('hardware profiles: every field mutated; accepted profiles simulate to finite totals', async (t) => {
  const t0 = performance.now();
  const spec = await llamaSpec;
  const ps = paths(PRESET_JSON);
  let count = 0;
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...ps), replacement), { minLength: 1, maxLength: 3 }), (edits) => {
      count++;
      let value = PRESET_JSON;
      for (const [p, v] of edits) {
        try {
          value = withMutation(value, p, v);
        } catch {
          // parent already gone
        }
      }
      const hw = settle('fuzz.hardware.json', () => validateHardwareProfile(value, 'fuzz.hardware.json'));
      if (hw) (accepted++, simulatesFinite(spec, hw));
    }),
    params(300),
  );
  report(t, `hardware profile mutations (${accepted} accepted and simulated)`, count, t0);
});

test('--set values: any path and text; accepted ones simulate to finite totals, even at the range ends', async (t) => {
  const t0 = performance.now();
  const spec = await llamaSpec;
  const number = fc.oneof(
    { arbitrary: fc.double({ min: 1e-3, max: 1e4, noNaN: true }).map(String), weight: 3 },
    fc.double({ noNaN: false }).map(String),
    fc.constantFrom('0', '-0', '1e-300', '1e300', '0.001', '1e12', '1e9', '1000', '1048576', '1e999', 'NaN', 'Infinity', '0x10', ' 5 ', '', '1_000'),
    fc.string({ maxLength: 12 }),
  );
  const path = fc.oneof({ arbitrary: fc.constantFrom(...LEAF_PATHS), weight: 6 }, fc.string({ maxLength: 30 }), fc.constantFrom('memory.tiers[9].bandwidthGBps', 'matrix.peakTflops.fp64', 'matrix', '__proto__.x', 'constructor.prototype'));
  let count = 0;
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(path, number), { minLength: 1, maxLength: 4 }), (sets) => {
      count++;
      const hw = settle('--set', () => applyOverrides(dimc, sets.map(([p, v]) => `${p}=${v}`)));
      if (hw) (accepted++, simulatesFinite(spec, hw));
    }),
    params(400),
  );
  assert.ok(accepted > 10, `only ${accepted} accepted: the generator no longer reaches the simulator`);
  assert.equal(({} as Record<string, unknown>)['x'], undefined, 'no prototype was polluted');
  report(t, `--set lists (${accepted} accepted and simulated)`, count, t0);
});

// ---------------------------------------------------------------------------------------------------
// Workloads against every fixture

test('workloads: random combinations of every option against every fixture', async (t) => {
  const t0 = performance.now();
  const specs = await Promise.all(profiledFixtures().map((name) => loadFixture(name)));
  const hws = ['dimc', 'gpu-h100', 'tpu-v5e'].map(getPreset);
  const size = fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 8192 }), weight: 6 },
    fc.integer({ min: -2, max: 70_000 }),
    fc.constantFrom(1, 2 ** 16, 2 ** 24, 2 ** 24 + 1, 2 ** 31, 0, 1.5, Number.NaN),
  );
  const workload = fc.record({
    phase: fc.oneof({ arbitrary: fc.constantFrom('prefill', 'decode'), weight: 9 }, fc.constant('train')),
    batch: size,
    seq: size,
    context: size,
    tp: fc.oneof({ arbitrary: fc.constantFrom(1, 2, 4, 8), weight: 6 }, fc.integer({ min: 0, max: 1100 }), fc.constantFrom(3, 16, 32, 64, 71, 128, 1024)),
    dtype: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, fc.constantFrom(...DTYPES, 'fp64')),
    softmaxOffset: fc.oneof({ arbitrary: fc.constantFrom(...SOFTMAX_OFFSETS), weight: 6 }, fc.constant('none')),
    deferDepth: fc.oneof({ arbitrary: fc.constantFrom(...DEFER_DEPTH_LIMITS), weight: 6 }, fc.constant('rope')),
    tiles: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 8 }), weight: 6 }, fc.integer({ min: 0, max: 70 })),
  });
  let count = 0;
  let simulated = 0;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: specs.length - 1 }), fc.integer({ min: 0, max: hws.length - 1 }), workload, (i, h, raw) => {
      count++;
      const spec = specs[i]!;
      const w = settle('workload', () => validateWorkload(raw as Workload, 'workload'));
      if (!w) return;
      const fit = settle('workload', () => checkWorkloadForModel(spec, w, 'workload'));
      if (!fit) return;
      simulated++;
      simulatesFinite(spec, hws[h]!, w);
    }),
    params(400),
  );
  assert.ok(simulated > count / 10, `only ${simulated} of ${count} simulated: the generator no longer reaches the simulator`);
  report(t, `workloads (${simulated} simulated)`, count, t0);
});
