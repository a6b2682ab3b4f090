import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { InputError } from '../../src/core/errors';
import { memorySource } from '../../src/core/model/bytes';
import { countElements, dominantDtype, readSafetensorsHeader, specFromSafetensors, SAFETENSORS_HEADER_CAP } from '../../src/core/model/safetensors';
import { countingSource } from './helpers/gguf-writer';
import { llamaTensors, writeSafetensors } from './helpers/safetensors-writer';

const FILE = '/models/model.safetensors';
const source = { path: FILE, format: 'safetensors' as const };

function isInputError(field: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.equal(err.file, FILE);
    if (typeof field === 'string') assert.equal(err.field, field);
    else assert.match(err.field, field);
    return true;
  };
}

const SMALL = { layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100 };

describe('safetensors header reader', () => {
  it('reads names, shapes, dtypes and element counts from the header only', async () => {
    const bytes = writeSafetensors(llamaTensors(SMALL), { metadata: { format: 'pt' } });
    const { source: src, stats } = countingSource(bytes);
    const h = await readSafetensorsHeader(src, FILE);
    assert.equal(h.tensors.length, 1 + 2 * 9 + 2);
    assert.deepEqual(h.tensors[0], { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [100, 64], elements: 6400 });
    assert.deepEqual(h.metadata, new Map([['format', 'pt']]));
    assert.equal(dominantDtype(h), 'BF16');
    assert.ok(stats.maxEnd <= 8 + h.headerBytes, 'no tensor data read');
  });

  it('header length past the end of the file', async () => {
    const bytes = writeSafetensors(llamaTensors(SMALL));
    const lying = writeSafetensors(llamaTensors(SMALL), { headerLength: BigInt(bytes.length) });
    await assert.rejects(readSafetensorsHeader(memorySource(lying), FILE), (e: unknown) => isInputError('header length')(e) && /at most \d+ bytes/.test((e as Error).message));
  });

  it('header length over the cap', async () => {
    const bytes = writeSafetensors([], { headerLength: 2n ** 40n });
    const { source: src, stats } = countingSource(bytes, 10 * 2 ** 40);
    await assert.rejects(readSafetensorsHeader(src, FILE), (e: unknown) => isInputError('header length')(e) && (e as Error).message.includes(SAFETENSORS_HEADER_CAP.toLocaleString('en')));
    assert.ok(stats.bytes <= 4096);
  });

  it('a header that is not JSON, or not UTF-8', async () => {
    // Refused at the first entry that is not a tensor record, before its (unterminated) value is read.
    await assert.rejects(readSafetensorsHeader(memorySource(writeSafetensors([], { rawHeader: '{"a": [1, 2' })), FILE), isInputError('header["a"]'));
    await assert.rejects(readSafetensorsHeader(memorySource(writeSafetensors([], { rawHeader: '{"a" ' })), FILE), isInputError('header'));
    const bad = writeSafetensors([], { rawHeader: 'xx' });
    bad.set([0xff, 0xfe], 8);
    await assert.rejects(readSafetensorsHeader(memorySource(bad), FILE), isInputError('header'));
    await assert.rejects(readSafetensorsHeader(memorySource(writeSafetensors([], { rawHeader: '[1,2]' })), FILE), isInputError('header'));
  });

  it('a file shorter than the length field', async () => {
    await assert.rejects(readSafetensorsHeader(memorySource(new Uint8Array(5)), FILE), isInputError('header length'));
  });

  it('tensor entries are validated (shape, offsets within the data)', async () => {
    const raw = JSON.stringify({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 1_000_000] } });
    await assert.rejects(readSafetensorsHeader(memorySource(writeSafetensors([], { rawHeader: raw })), FILE), isInputError('header["w"].data_offsets'));
    const shape = JSON.stringify({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } });
    await assert.rejects(readSafetensorsHeader(memorySource(writeSafetensors([], { rawHeader: shape })), FILE), isInputError('header["w"].shape'));
  });
});

describe('a lone .safetensors file: spec inferred from tensor shapes', () => {
  it('Qwen3-style (q_norm gives the head width)', async () => {
    const h = await readSafetensorsHeader(memorySource(writeSafetensors(llamaTensors({ ...SMALL, qkNorm: true }))), FILE);
    const spec = specFromSafetensors(h, source, 'tiny');
    const k = spec.layerKinds[0]!;
    assert.deepEqual([spec.layers, spec.hidden, k.attention.heads, k.attention.kvHeads, k.attention.headDim, k.mlp.ffn, spec.vocab], [2, 64, 4, 2, 16, 128, 100]);
    assert.equal(spec.family, 'qwen3');
    assert.equal(spec.tiedEmbeddings, false);
    assert.equal(spec.dtype, 'bfloat16');
    // The spec counts exactly the tensors a Llama-style checkpoint holds.
    assert.equal(spec.paramsFromWeights, countElements(h));
    assert.equal(spec.params.total, spec.paramsFromWeights);
  });

  it('rotary inv_freq gives the head width; no lm_head → tied', async () => {
    const h = await readSafetensorsHeader(memorySource(writeSafetensors(llamaTensors({ ...SMALL, invFreq: true, tied: true }))), FILE);
    const spec = specFromSafetensors(h, source, 'tiny');
    assert.equal(spec.layerKinds[0]!.attention.headDim, 16);
    assert.equal(spec.tiedEmbeddings, true);
    assert.equal(spec.params.total, countElements(h) - 2 * 8, 'inv_freq buffers are not parameters');
  });

  it('a dtype named after a JavaScript internal is an unknown dtype, lower-cased as any other', async () => {
    const written = writeSafetensors(llamaTensors({ ...SMALL, invFreq: true }));
    const length = Number(new DataView(written.buffer).getBigUint64(0, true));
    const json = new TextDecoder().decode(written.subarray(8, 8 + length));
    const dataBytes = written.length - 8 - length;
    const withDtype = (dtype: string) => {
      const header = new TextEncoder().encode(json.replaceAll('"BF16"', JSON.stringify(dtype)));
      const out = new Uint8Array(8 + header.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
      out.set(header, 8);
      return out;
    };
    for (const dtype of ['toString', 'constructor', '__proto__', 'valueOf']) {
      const spec = specFromSafetensors(await readSafetensorsHeader(memorySource(withDtype(dtype)), FILE), source, 'tiny');
      assert.equal(spec.dtype, dtype.toLowerCase(), 'as "XX" becomes "xx"');
    }
  });

  it('without either, 128 is assumed and said', async () => {
    const dims = { layers: 1, hidden: 256, ffn: 512, heads: 2, kvHeads: 1, headDim: 128, vocab: 50 };
    const h = await readSafetensorsHeader(memorySource(writeSafetensors(llamaTensors(dims))), FILE);
    const spec = specFromSafetensors(h, source, 'tiny');
    assert.equal(spec.layerKinds[0]!.attention.headDim, 128);
    assert.equal(spec.layerKinds[0]!.attention.heads, 2);
    assert.ok(spec.notes.some((n) => /128 assumed/.test(n)));
  });

  it('MoE experts are counted per layer (Mixtral names)', async () => {
    const t = llamaTensors({ ...SMALL, layers: 1, invFreq: true }).filter((x) => !x.name.includes('.mlp.'));
    for (let e = 0; e < 4; e++) {
      for (const w of ['w1', 'w3']) t.push({ name: `model.layers.0.block_sparse_moe.experts.${e}.${w}.weight`, shape: [32, 64] });
      t.push({ name: `model.layers.0.block_sparse_moe.experts.${e}.w2.weight`, shape: [64, 32] });
    }
    t.push({ name: 'model.layers.0.block_sparse_moe.gate.weight', shape: [4, 64] });
    const h = await readSafetensorsHeader(memorySource(writeSafetensors(t)), FILE);
    const spec = specFromSafetensors(h, source, 'tiny-moe');
    assert.deepEqual([spec.layerKinds[0]!.mlp.kind, spec.layerKinds[0]!.mlp.experts, spec.layerKinds[0]!.mlp.ffn], ['moe', 4, 32]);
    assert.equal(spec.params.total, countElements(h) - 8, 'all but the inv_freq buffer');
  });

  it('names that are not Llama-style → InputError asking for a config.json', async () => {
    const h = await readSafetensorsHeader(memorySource(writeSafetensors([{ name: 'h.0.attn.c_attn.weight', shape: [8, 24] }])), FILE);
    assert.throws(() => specFromSafetensors(h, source, 'gpt2ish'), (e: unknown) => isInputError('tensors')(e) && /config\.json/.test((e as Error).message));
  });
});
