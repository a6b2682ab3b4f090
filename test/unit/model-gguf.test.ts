import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InputError } from '../../src/core/errors';
import { memorySource } from '../../src/core/model/bytes';
import { specFromConfig } from '../../src/core/model/config';
import { configFromGguf, readGgufHeader, specFromGguf, GGUF_LIMITS } from '../../src/core/model/gguf';
import { summarizeSpec } from '../../src/core/model/summary';
import { countingSource, gv, llamaGgufKv, llamaGgufTensors, writeGguf, type GgufEntry } from './helpers/gguf-writer';

const FILE = '/models/test.gguf';
const source = { path: FILE, format: 'gguf' as const };

/** Llama-3.1-8B's sizes, as llama.cpp would write them. */
const L8B = { name: 'Meta Llama 3.1 8B', layers: 32, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, context: 131072, vocab: 128256, eps: 1e-5 };

function isInputError(field?: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.equal(err.file, FILE);
    if (typeof field === 'string') assert.equal(err.field, field);
    else if (field) assert.match(err.field, field);
    return true;
  };
}

function header(kv: [string, GgufEntry][], extra: Parameters<typeof writeGguf>[0] extends infer O ? Partial<O> : never = {}) {
  return writeGguf({ kv, ...extra }).bytes;
}

describe('GGUF reader: a Llama GGUF gives the same spec as its config.json', () => {
  const file = writeGguf({ kv: llamaGgufKv(L8B), tensors: llamaGgufTensors(L8B) });

  it('same sizes, norm kind and parameter count as Llama-3.1-8B/config.json', async () => {
    const fromGguf = await specFromGguf(memorySource(file.bytes), source);
    const path = join(__dirname, '..', 'fixtures', 'configs', 'Llama-3.1-8B', 'config.json');
    const fromJson = specFromConfig(JSON.parse(readFileSync(path, 'utf8')), { path, format: 'config.json' });
    const pick = (s: ReturnType<typeof summarizeSpec>) => [s.layers, s.hidden, s.heads, s.kvHeads, s.headDim, s.ffn, s.vocab, s.normKind, s.normEps];
    assert.deepEqual(pick(summarizeSpec(fromGguf)), pick(summarizeSpec(fromJson)));
    assert.equal(fromGguf.params.total, fromJson.params.total);
    assert.equal(fromGguf.tiedEmbeddings, false, 'output.weight present → not tied');
    assert.equal(fromGguf.paramsFromWeights, fromJson.params.total, 'tensor infos sum to the same count');
    assert.equal(fromGguf.name, 'Meta Llama 3.1 8B');
    assert.equal(fromGguf.dtype, 'Q4_K_M');
    assert.equal(fromGguf.modelType, 'llama');
    assert.equal(fromGguf.source.format, 'gguf');
  });

  it('no output.weight → tied embeddings', async () => {
    const tied = writeGguf({ kv: llamaGgufKv(L8B), tensors: llamaGgufTensors({ ...L8B, tied: true }) });
    const spec = await specFromGguf(memorySource(tied.bytes), source);
    assert.equal(spec.tiedEmbeddings, true);
    assert.equal(spec.paramsFromWeights, spec.params.total);
  });

  it('vocab from tokenizer.ggml.tokens length, or from {arch}.vocab_size', async () => {
    const h = await readGgufHeader(memorySource(file.bytes), FILE, { tensors: true });
    assert.equal(configFromGguf(h, FILE).config['vocab_size'], 128256);
    const noTokens = writeGguf({ kv: llamaGgufKv({ ...L8B, tokens: false, vocab: 32000 }) });
    const spec = await specFromGguf(memorySource(noTokens.bytes), source);
    assert.equal(spec.vocab, 32000);
  });

  it('reads all GGUF value types, small arrays kept, long arrays only counted', async () => {
    const kv: [string, GgufEntry][] = [
      ['u8', { type: 'u8', value: 200 }],
      ['i8', { type: 'i8', value: -5 }],
      ['u16', { type: 'u16', value: 60000 }],
      ['i16', { type: 'i16', value: -300 }],
      ['u32', gv.u32(4_000_000_000)],
      ['i32', gv.i32(-7)],
      ['f32', gv.f32(0.5)],
      ['bool', gv.bool(true)],
      ['str', gv.str('héllo')],
      ['u64', gv.u64(2n ** 40n)],
      ['i64', { type: 'i64', value: -(2n ** 40n) }],
      ['f64', gv.f64(1e-6)],
      ['arr', gv.arr('u32', [1, 2, 3])],
      ['strs', gv.arr('string', ['a', 'bc'])],
      ['long', gv.arr('f32', Array.from({ length: GGUF_LIMITS.keptArray + 1 }, () => 1))],
    ];
    const h = await readGgufHeader(memorySource(header(kv)), FILE);
    const m = h.metadata;
    assert.deepEqual(
      ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'str', 'u64', 'i64', 'f64', 'arr', 'strs'].map((k) => m.get(k)),
      [200, -5, 60000, -300, 4_000_000_000, -7, 0.5, true, 'héllo', 2 ** 40, -(2 ** 40), 1e-6, [1, 2, 3], ['a', 'bc']],
    );
    // Skipped in one step: the count and the bytes it spans (4 per float32).
    assert.deepEqual(m.get('long'), { longArray: true, elementType: 'float32', count: GGUF_LIMITS.keptArray + 1, bytes: 4 * (GGUF_LIMITS.keptArray + 1) });
    assert.equal(h.version, 3);
  });

  it('version 2 files read the same way', async () => {
    const v2 = writeGguf({ version: 2, kv: llamaGgufKv({ ...L8B, tokens: false }) });
    const spec = await specFromGguf(memorySource(v2.bytes), source);
    assert.equal(spec.hidden, 4096);
  });
});

describe('GGUF: norm kind from the epsilon key', () => {
  it('gpt2 with attention.layer_norm_epsilon → LayerNorm', async () => {
    const kv = llamaGgufKv({ ...L8B, arch: 'gpt2', layers: 12, hidden: 768, heads: 12, kvHeads: 12, ffn: 3072, context: 1024, vocab: 50257, eps: 1e-5, epsKey: 'attention.layer_norm_epsilon', tokens: false });
    const spec = await specFromGguf(memorySource(header(kv)), source);
    assert.equal(spec.normKind, 'layernorm');
    assert.equal(spec.family, 'gpt2');
    assert.equal(spec.params.total, 124_439_808);
  });
  it('an unknown architecture: rms epsilon → RMSNorm, plain epsilon → LayerNorm', async () => {
    const rms = await specFromGguf(memorySource(header(llamaGgufKv({ ...L8B, arch: 'newarch', tokens: false }))), source);
    assert.equal(rms.normKind, 'rmsnorm');
    const ln = await specFromGguf(memorySource(header(llamaGgufKv({ ...L8B, arch: 'newarch', tokens: false, epsKey: 'attention.layer_norm_epsilon' }))), source);
    assert.equal(ln.normKind, 'layernorm');
    assert.equal(ln.layerKinds[0]!.norms[0]!.affine, 'weight+bias');
  });
  it('llama arch with experts → Mixtral layout', async () => {
    const kv = [...llamaGgufKv({ ...L8B, tokens: false }), ['llama.expert_count', gv.u32(8)], ['llama.expert_used_count', gv.u32(2)]] as [string, GgufEntry][];
    const spec = await specFromGguf(memorySource(header(kv)), source);
    assert.equal(spec.layerKinds[0]!.mlp.kind, 'moe');
    assert.deepEqual([spec.layerKinds[0]!.mlp.experts, spec.layerKinds[0]!.mlp.topK], [8, 2]);
  });
  it('deepseek2 keys → MLA with dense leading layers', async () => {
    const a = 'deepseek2';
    const kv: [string, GgufEntry][] = [
      ['general.architecture', gv.str(a)],
      [`${a}.block_count`, gv.u32(27)],
      [`${a}.embedding_length`, gv.u32(2048)],
      [`${a}.feed_forward_length`, gv.u32(10944)],
      [`${a}.attention.head_count`, gv.u32(16)],
      [`${a}.attention.head_count_kv`, gv.u32(16)],
      [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(1e-6)],
      [`${a}.attention.q_lora_rank`, gv.u32(0)],
      [`${a}.attention.kv_lora_rank`, gv.u32(512)],
      [`${a}.attention.key_length`, gv.u32(192)],
      [`${a}.attention.value_length`, gv.u32(128)],
      [`${a}.rope.dimension_count`, gv.u32(64)],
      [`${a}.leading_dense_block_count`, gv.u32(1)],
      [`${a}.expert_count`, gv.u32(64)],
      [`${a}.expert_used_count`, gv.u32(6)],
      [`${a}.expert_shared_count`, gv.u32(2)],
      [`${a}.expert_feed_forward_length`, gv.u32(1408)],
      [`${a}.vocab_size`, gv.u32(102400)],
    ];
    const spec = await specFromGguf(memorySource(header(kv)), source);
    const path = join(__dirname, '..', 'fixtures', 'configs-extra', 'DeepSeek-V2-Lite', 'config.json');
    const ref = specFromConfig(JSON.parse(readFileSync(path, 'utf8')), { path, format: 'config.json' });
    assert.deepEqual(spec.layerKinds.map((k) => [k.id, k.layers.length, k.attention.mla]), ref.layerKinds.map((k) => [k.id, k.layers.length, k.attention.mla]));
    assert.equal(spec.params.total, ref.params.total, 'no tensor list: untied, the family default');
  });
  it('a mamba GGUF is refused as unsupported', async () => {
    const kv: [string, GgufEntry][] = [['general.architecture', gv.str('mamba')], ['mamba.block_count', gv.u32(64)], ['mamba.embedding_length', gv.u32(4096)], ['mamba.ssm.state_size', gv.u32(16)]];
    await assert.rejects(specFromGguf(memorySource(header(kv)), source), (e: unknown) => e instanceof InputError && e.kind === 'unsupported' && e.field === 'general.architecture');
  });
  it('a missing size names the GGUF key', async () => {
    const kv = llamaGgufKv({ ...L8B, tokens: false }).filter(([k]) => k !== 'llama.embedding_length');
    await assert.rejects(specFromGguf(memorySource(header(kv)), source), isInputError('llama.embedding_length'));
  });
});

describe('GGUF: hostile and broken files', () => {
  const good = writeGguf({ kv: llamaGgufKv({ ...L8B, tokens: false }), tensors: llamaGgufTensors({ ...L8B, layers: 2 }) });

  it('wrong magic', async () => {
    const bytes = good.bytes.slice();
    bytes.set([0x47, 0x47, 0x4d, 0x4c], 0); // "GGML"
    await assert.rejects(readGgufHeader(memorySource(bytes), FILE), isInputError('header.magic'));
    await assert.rejects(readGgufHeader(memorySource(new Uint8Array(2)), FILE), isInputError('header.magic'));
  });

  it('unsupported version, and big-endian files', async () => {
    const v1 = good.bytes.slice();
    new DataView(v1.buffer).setUint32(4, 1, true);
    await assert.rejects(readGgufHeader(memorySource(v1), FILE), isInputError('header.version'));
    const be = good.bytes.slice();
    new DataView(be.buffer).setUint32(4, 3, false);
    await assert.rejects(readGgufHeader(memorySource(be), FILE), (e: unknown) => isInputError('header.version')(e) && /big-endian/.test((e as Error).message));
  });

  it('a huge tensor count or kv count is refused before anything is allocated', async () => {
    for (const [override, field] of [[{ tensorCount: 2n ** 63n }, 'header.tensor_count'], [{ kvCount: 2n ** 62n }, 'header.metadata_kv_count'], [{ kvCount: 1_000_000n }, 'header.metadata_kv_count']] as const) {
      const bytes = writeGguf({ kv: llamaGgufKv({ ...L8B, tokens: false }), ...override }).bytes;
      const { source: src, stats } = countingSource(bytes);
      await assert.rejects(readGgufHeader(src, FILE), isInputError(field));
      assert.ok(stats.bytes <= 8192, `read ${stats.bytes} bytes`);
    }
  });

  it('a huge string length, key length or array count is refused', async () => {
    // Hand-built: a key whose length claims 2^60 bytes.
    const bytes = writeGguf({ kv: [['general.architecture', gv.str('llama')]] }).bytes;
    const dv = new DataView(bytes.buffer);
    dv.setBigUint64(24, 2n ** 60n, true); // metadata[0].key length
    await assert.rejects(readGgufHeader(memorySource(bytes), FILE), isInputError('metadata[0].key length'));

    const str = writeGguf({ kv: [['general.name', gv.str('x')]] }).bytes;
    // value string length sits after: key len (8) + key (12) + type (4)
    new DataView(str.buffer).setBigUint64(24 + 8 + 12 + 4, 2n ** 50n, true);
    await assert.rejects(readGgufHeader(memorySource(str), FILE), isInputError(/metadata\[0\] \(general\.name\) string length/));

    const arr = writeGguf({ kv: [['tokenizer.ggml.scores', gv.arr('f32', [1, 2])]] }).bytes;
    // array count after: key len (8) + key (21) + type (4) + element type (4)
    new DataView(arr.buffer).setBigUint64(24 + 8 + 21 + 4 + 4, 2n ** 40n, true);
    await assert.rejects(readGgufHeader(memorySource(arr), FILE), isInputError(/array count/));
  });

  it('an unknown value type is refused', async () => {
    const bytes = writeGguf({ kv: [['general.name', gv.str('x')]] }).bytes;
    new DataView(bytes.buffer).setUint32(24 + 8 + 12, 99, true);
    await assert.rejects(readGgufHeader(memorySource(bytes), FILE), isInputError(/value type/));
  });

  it('every truncation of the metadata or tensor infos is an InputError', async () => {
    const step = Math.max(1, Math.floor(good.headerEnd / 300));
    for (let cut = 0; cut < good.headerEnd; cut += step) {
      const { source: src, stats } = countingSource(good.bytes.subarray(0, cut));
      await assert.rejects(specFromGguf(src, source), isInputError(), `cut at ${cut}`);
      assert.equal(stats.outOfRange, 0, 'never reads past the end');
    }
  });

  it('a 1 MB token list costs a few KB when tokens are skipped (cheap mode)', async () => {
    const kv = llamaGgufKv({ ...L8B, vocab: 100_000 }); // ~1.2 MB of token strings
    const file = writeGguf({ kv, tensors: llamaGgufTensors(L8B) });
    assert.ok(file.bytes.length > 1_000_000);
    const cheap = countingSource(file.bytes);
    const h = await readGgufHeader(cheap.source, FILE);
    assert.ok(cheap.stats.bytes < 16 * 1024, `cheap mode read ${cheap.stats.bytes} bytes`);
    assert.equal(h.complete, false);
    const spec = await specFromGguf(countingSource(file.bytes).source, source, { tensors: false });
    assert.equal(spec.vocab, 100_000, 'vocab from the token array count alone');
    assert.equal(spec.hidden, 4096);

    // Full mode walks the strings (to reach the tensor infos) but never reads tensor data.
    const full = countingSource(file.bytes);
    await readGgufHeader(full.source, FILE, { tensors: true });
    assert.ok(full.stats.maxEnd <= file.bytes.length);
    assert.ok(full.stats.bytes <= file.headerEnd + (1 << 20), `full mode read ${full.stats.bytes} of ${file.bytes.length}`);
    assert.ok(full.stats.calls < 40, `${full.stats.calls} reads`);
  });

  it('a fixed-width array is skipped by seeking, even in full mode', async () => {
    const kv: [string, GgufEntry][] = [
      ['general.architecture', gv.str('llama')],
      ['tokenizer.ggml.scores', gv.arr('f32', new Array(300_000).fill(0))], // 1.2 MB
      ...llamaGgufKv({ ...L8B, tokens: false }).slice(1),
    ];
    const file = writeGguf({ kv, tensors: llamaGgufTensors({ ...L8B, layers: 1 }) });
    const { source: src, stats } = countingSource(file.bytes);
    const spec = await specFromGguf(src, source);
    assert.equal(spec.hidden, 4096);
    assert.ok(stats.bytes < 64 * 1024, `read ${stats.bytes} bytes of ${file.bytes.length}`);
  });

  it('a vocabulary before block_count is walked in bulk: far fewer promises than tokens, even in cheap mode', async () => {
    // The old walk awaited once per token (33 s for 62 MB); now lengths are read from buffered bytes.
    const tokens = 200_000;
    const kv: [string, GgufEntry][] = [['general.architecture', gv.str('llama')], ['tokenizer.ggml.tokens', gv.tokens(tokens)], ...llamaGgufKv({ ...L8B, tokens: false }).slice(1)];
    const bytes = writeGguf({ kv }).bytes;
    const { createHook } = await import('node:async_hooks');
    for (const tensors of [false, true]) {
      let promises = 0;
      const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) }).enable();
      const h = await readGgufHeader(memorySource(bytes), FILE, { tensors });
      hook.disable();
      // Its size: a u64 length and the bytes of "tok0"…"tok199999" per token (the writer's names).
      let size = 0;
      for (let i = 0; i < tokens; i++) size += 8 + `tok${i}`.length;
      assert.deepEqual(h.metadata.get('tokenizer.ggml.tokens'), { longArray: true, elementType: 'string', count: tokens, bytes: size });
      // One await per token would make at least `tokens` promises; a walk over 1 MiB chunks makes a few per chunk.
      assert.ok(promises < tokens / 100, `${promises} promises for ${tokens} tokens (tensors: ${tensors})`);
      assert.equal(h.metadata.get('llama.block_count'), 32, 'the keys after the vocabulary are read');
    }
  });

  it('a file claiming 100 GB costs a few KB in cheap mode', async () => {
    const file = writeGguf({ kv: llamaGgufKv({ ...L8B, vocab: 128256 }) });
    const { source: src, stats } = countingSource(file.bytes, 100e9);
    await readGgufHeader(src, FILE);
    assert.ok(stats.bytes < 16 * 1024, `read ${stats.bytes} bytes`);
  });

  it('property: random bytes never make the reader throw anything but InputError, nor read past the file', async () => {
    const magic = new TextEncoder().encode('GGUF');
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.constantFrom('raw', 'magic', 'v3', 'valid-prefix'),
        fc.boolean(),
        async (noise, mode, tensors) => {
          let bytes: Uint8Array;
          if (mode === 'raw') bytes = noise;
          else if (mode === 'magic') bytes = concat(magic, noise);
          else if (mode === 'v3') bytes = concat(magic, new Uint8Array([3, 0, 0, 0]), noise);
          else bytes = concat(good.bytes.subarray(0, Math.min(good.headerEnd, noise.length)), noise.subarray(0, 64));
          const { source: src, stats } = countingSource(bytes);
          try {
            await specFromGguf(src, source, { tensors });
          } catch (err) {
            if (!(err instanceof InputError)) throw err;
          }
          return stats.outOfRange === 0 && stats.maxEnd <= bytes.length;
        },
      ),
      { numRuns: 400 },
    );
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
