import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InputError } from '../../src/core/errors';
import { loadModel } from '../../src/core/model/load';
import { llamaGgufKv, llamaGgufTensors, writeGguf } from './helpers/gguf-writer';
import { llamaTensors, writeSafetensors } from './helpers/safetensors-writer';

const FIXTURES = join(__dirname, '..', 'fixtures', 'configs');
const root = mkdtempSync(join(tmpdir(), 'dn-model-load-'));
after(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

describe('loadModel', () => {
  it('a config.json path', async () => {
    const spec = await loadModel(join(FIXTURES, 'Llama-2-7b-hf', 'config.json'));
    assert.equal(spec.params.total, 6_738_415_616);
    assert.equal(spec.source.format, 'config.json');
    assert.equal(spec.name, 'meta-llama/Llama-2-7b-hf');
  });

  it('a folder holding a config.json: named after the folder when the config has no name', async () => {
    const spec = await loadModel(join(FIXTURES, 'Mistral-7B-v0.1'));
    assert.equal(spec.source.format, 'directory');
    assert.equal(spec.name, 'Mistral-7B-v0.1');
    assert.equal(spec.paramsFromWeights, null);
  });

  it('a missing path', async () => {
    const path = join(root, 'nope', 'config.json');
    await assert.rejects(loadModel(path), (e: unknown) => e instanceof InputError && e.file === path && e.field === '' && /an existing file or folder/.test(e.message));
  });

  it('a file that is not JSON names the line and column', async () => {
    const path = join(dir('notjson'), 'config.json');
    writeFileSync(path, '{\n  "model_type": "llama",\n  "hidden_size": 4096 oops\n}\n');
    await assert.rejects(loadModel(path), (e: unknown) => e instanceof InputError && e.file === path && /^line 3, column \d+$/.test(e.field) && /valid JSON/.test(e.message));
  });

  it('comments, trailing commas and bare NaN are tolerated', async () => {
    const path = join(dir('lenient'), 'config.json');
    writeFileSync(path, '// a comment\n{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257, "summary_first_dropout": NaN,}\n');
    assert.equal((await loadModel(path)).params.total, 124_439_808);
  });

  it('an empty folder says what it expected', async () => {
    const d = dir('empty');
    await assert.rejects(loadModel(d), (e: unknown) => e instanceof InputError && e.file === d && /config\.json, a \.gguf file or \.safetensors/.test(e.message));
  });

  it('a folder with model.safetensors.index.json: paramsFromWeights from total_size and the dtype', async () => {
    const d = dir('llama2-index');
    copyFileSync(join(FIXTURES, 'Llama-2-7b-hf', 'config.json'), join(d, 'config.json'));
    // The published index: 13,476,839,424 bytes of fp16 (the count plus 32 rotary inv_freq buffers).
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 13476839424 }, weight_map: {} }));
    const spec = await loadModel(d);
    assert.equal(spec.paramsFromWeights, 6_738_419_712);
    assert.ok(!spec.notes.some((n) => /apart/.test(n)), 'within 1%: no note');
  });

  it('weights that disagree by more than 1% get a note', async () => {
    const d = dir('llama2-mismatch');
    copyFileSync(join(FIXTURES, 'Llama-2-7b-hf', 'config.json'), join(d, 'config.json'));
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 2 * 7_000_000_000 } }));
    const spec = await loadModel(d);
    assert.ok(spec.notes.some((n) => /7,000,000,000 elements/.test(n) && /apart/.test(n)));
    // Llama-2-7B's published count is 6,738,415,616; |7,000,000,000 − it| ÷ it = 0.0388: 3.9% apart.
    assert.ok(spec.notes.some((n) => n.includes('; the spec counts 6,738,415,616 parameters (3.9% apart: ')), spec.notes.join('\n'));
  });

  it('a config with .safetensors shards beside it: element counts from the headers only', async () => {
    const d = dir('tiny-shards');
    const dims = { layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100 };
    const tensors = llamaTensors(dims);
    writeFileSync(join(d, 'model-00001-of-00002.safetensors'), writeSafetensors(tensors.slice(0, 10)));
    writeFileSync(join(d, 'model-00002-of-00002.safetensors'), writeSafetensors(tensors.slice(10)));
    writeFileSync(
      join(d, 'config.json'),
      JSON.stringify({ model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 100, rms_norm_eps: 1e-5 }),
    );
    const spec = await loadModel(d);
    assert.equal(spec.paramsFromWeights, spec.params.total);
    assert.equal(spec.dtype, 'bfloat16', 'dtype from the weights when the config has none');
    // The same folder through one shard's path: the config beside it wins.
    const viaShard = await loadModel(join(d, 'model-00001-of-00002.safetensors'));
    assert.equal(viaShard.source.format, 'safetensors');
    assert.equal(viaShard.params.total, spec.params.total);
  });

  it('a lone .safetensors file: spec inferred from shapes', async () => {
    const d = dir('lone');
    const path = join(d, 'tiny-qwen3.safetensors');
    writeFileSync(path, writeSafetensors(llamaTensors({ layers: 3, hidden: 64, ffn: 96, heads: 4, kvHeads: 1, headDim: 32, vocab: 50, qkNorm: true, tied: true })));
    const spec = await loadModel(path);
    assert.deepEqual([spec.name, spec.layers, spec.layerKinds[0]!.attention.headDim, spec.tiedEmbeddings], ['tiny-qwen3', 3, 32, true]);
    assert.equal(spec.source.format, 'safetensors');
  });

  it('a .gguf file, a folder holding one, and a GGUF under another name', async () => {
    const dims = { name: 'tiny', layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, context: 2048, vocab: 300, eps: 1e-6 };
    const d = dir('gguf');
    const bytes = writeGguf({ kv: llamaGgufKv(dims), tensors: llamaGgufTensors(dims) }).bytes;
    writeFileSync(join(d, 'tiny.Q4_K_M.gguf'), bytes);
    const spec = await loadModel(join(d, 'tiny.Q4_K_M.gguf'), { gguf: 'tensors' });
    assert.equal(spec.source.format, 'gguf');
    assert.equal(spec.paramsFromWeights, spec.params.total);
    // By default the read stops before the vocabulary and the tensor list: no weight count.
    const quick = await loadModel(join(d, 'tiny.Q4_K_M.gguf'));
    assert.equal(quick.paramsFromWeights, null);
    assert.equal(quick.hidden, spec.hidden);
    assert.equal((await loadModel(d, { gguf: 'tensors' })).params.total, spec.params.total);
    // Other files beside the one .gguf (a README, a tokenizer) are not model files: the folder still loads it.
    writeFileSync(join(d, 'README.md'), 'not a model');
    writeFileSync(join(d, 'tokenizer.json'), '{}');
    assert.equal((await loadModel(d)).hidden, 64);
    const renamed = join(dir('renamed'), 'model.bin');
    writeFileSync(renamed, bytes);
    assert.equal((await loadModel(renamed)).hidden, 64);
  });

  it('a truncated .gguf file is an InputError naming the file', async () => {
    const dims = { name: 'tiny', layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, context: 2048, vocab: 300, eps: 1e-6 };
    const { bytes } = writeGguf({ kv: llamaGgufKv(dims), tensors: llamaGgufTensors(dims) });
    const path = join(dir('truncated'), 'cut.gguf');
    writeFileSync(path, bytes.subarray(0, 200));
    await assert.rejects(loadModel(path), (e: unknown) => e instanceof InputError && e.file === path && /truncated|ended early|within the file/.test(e.message));
  });

  it('a folder of several .gguf files: refused, naming the first four in order', async () => {
    const d = dir('several-gguf');
    for (const name of ['e.gguf', 'B.GGUF', 'a.gguf', 'c.gguf', 'd.gguf']) writeFileSync(join(d, name), 'not read');
    // Sorted by code point: "B.GGUF" before the lower-case names; the fifth, e.gguf, is left out.
    await assert.rejects(loadModel(d), (e: unknown) => e instanceof InputError && e.file === d && e.field === '' && e.message === `${d}: expected one model file: several .gguf files are here, name the one to profile, found B.GGUF, a.gguf, c.gguf, d.gguf`);
  });

  it('a folder of .safetensors shards without a config: one spec from all the shards, named after the folder', async () => {
    const d = dir('shards-only');
    const tensors = llamaTensors({ layers: 3, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100, invFreq: true });
    // Layer 2 only in the second shard (upper-case extension): the layer count needs both.
    const second = tensors.filter((t) => t.name.startsWith('model.layers.2.'));
    writeFileSync(join(d, 'model-00001-of-00002.safetensors'), writeSafetensors(tensors.filter((t) => !second.includes(t))));
    writeFileSync(join(d, 'model-00002-of-00002.SAFETENSORS'), writeSafetensors(second));
    writeFileSync(join(d, 'README.md'), 'not a model');
    const spec = await loadModel(d);
    assert.deepEqual([spec.name, spec.source.format, spec.source.path, spec.layers, spec.hidden, spec.vocab], ['shards-only', 'directory', d, 3, 64, 100]);
  });

  it('an index.json that cannot be read, or whose total_size is not a byte count: a note, no cross-check', async () => {
    for (const [name, text, note] of [
      ['index-broken', '{ "metadata": ', /^model\.safetensors\.index\.json could not be read \(.*index-broken.*\); no weight cross-check\.$/],
      ['index-negative', JSON.stringify({ metadata: { total_size: -5 } }), /^model\.safetensors\.index\.json: metadata\.total_size is not a positive whole number of bytes \(-5\); no weight cross-check\.$/],
      ['index-fraction', JSON.stringify({ metadata: { total_size: 1.5 } }), /^model\.safetensors\.index\.json: metadata\.total_size is not a positive whole number of bytes \(1\.5\); no weight cross-check\.$/],
    ] as const) {
      const d = dir(name);
      copyFileSync(join(FIXTURES, 'Llama-2-7b-hf', 'config.json'), join(d, 'config.json'));
      writeFileSync(join(d, 'model.safetensors.index.json'), text);
      const spec = await loadModel(d);
      assert.equal(spec.paramsFromWeights, null, name);
      assert.ok(spec.notes.some((n) => note.test(n)), `${name}: ${spec.notes.join(' | ')}`);
    }
  });

  it('a Mamba config is refused with kind unsupported', async () => {
    await assert.rejects(loadModel(join(FIXTURES, 'falcon-mamba-7b')), (e: unknown) => e instanceof InputError && e.kind === 'unsupported');
  });
});
