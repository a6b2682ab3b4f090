/**
 * The memory check (report/memory.ts): byte counts derived by hand from each model's config.json
 * numbers, against the datasheet capacities of the presets (H100 80 GB, T4 16 GB, dimc 2 GB SRAM).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPreset } from '../../src/core/hardware/presets';
import { profile } from '../../src/core/report/profile';
import { formatMarkdown, formatTable } from '../../src/core/report/formats';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

const decode = (w: Partial<Workload>): Workload => ({ ...DEFAULT_WORKLOAD, phase: 'decode', dtype: 'bf16', ...w });

// Llama-3.1-8B: hidden 4096, 32 layers, 32 heads / 8 KV heads × 128, MLP 14336, vocab 128256, untied.
const LLAMA8 = {
  attn: 4096 * (4096 + 1024 + 1024 + 4096),
  mlp: 3 * 4096 * 14336,
  norms: 2 * 4096,
  embed: 128256 * 4096,
};
const LLAMA8_PARAMS = 32 * (LLAMA8.attn + LLAMA8.mlp + LLAMA8.norms) + 2 * LLAMA8.embed + 4096;

test('Llama-3.1-8B bf16 on one H100: weights 8.03 B × 2 bytes, KV 131,072 bytes per token, fits 80 GB', async () => {
  assert.equal(LLAMA8_PARAMS, 8_030_261_248);
  const spec = await loadFixture('Llama-3.1-8B');
  const r = profile(spec, getPreset('gpu-h100'), decode({ batch: 4, context: 8192 }));
  const m = r.memory;
  assert.equal(m.perDevice.weightBytes, LLAMA8_PARAMS * 2);
  // K and V × 32 layers × 8 KV heads × 128 × 2 bytes = 131,072 bytes per token.
  assert.equal(2 * 32 * 8 * 128 * 2, 131_072);
  assert.equal(m.perDevice.kvBytes, 131_072 * 4 * 8192);
  assert.equal(m.tiers.length, 1);
  assert.equal(m.tiers[0]!.tier, 'hbm3');
  assert.equal(m.tiers[0]!.capacityBytes, 80e9);
  assert.ok(m.perDevice.totalBytes < 80e9);
  assert.equal(m.fits, true);
  assert.equal(m.minimumTp, 1);
  assert.deepEqual(m.warnings, []);
});

test('tensor parallelism splits the linears, keeps the embedding table whole, and replicates KV heads past their count', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const at = (tp: number) => profile(spec, getPreset('gpu-h100'), decode({ batch: 1, context: 1000, tp })).memory.perDevice;
  const linears = 32 * (LLAMA8.attn + LLAMA8.mlp) + LLAMA8.embed; // lm_head is a column-parallel linear
  const whole = LLAMA8.embed + 32 * LLAMA8.norms + 4096;
  assert.equal(at(2).weightBytes, (linears / 2 + whole) * 2);
  assert.equal(at(8).weightBytes, (linears / 8 + whole) * 2);
  // 8 KV heads over 8 chips: one each; over 16 (32 query heads allow it), each chip still holds one.
  assert.equal(at(8).kvBytes, (131_072 / 8) * 1000);
  assert.equal(at(16).kvBytes, (131_072 / 8) * 1000);
});

test('405B bf16 on H100: does not fit one (812 GB of weights) nor eight; the smallest degree that fits is 16', async () => {
  const spec = await loadFixture('Llama-3.1-405B');
  // hidden 16384, 126 layers, 128 heads / 8 KV heads × 128, MLP 53248, vocab 128256, untied.
  const layer = 16384 * (2 * 16384 + 2 * 1024) + 3 * 16384 * 53248;
  const embed = 128256 * 16384;
  const perDevice = (tp: number) => {
    const weights = 2 * ((126 * layer + embed) / tp + embed + 126 * 2 * 16384 + 16384);
    const kv = 126 * 2 * Math.max(1, 8 / tp) * 128 * 2 * 32 * 2048;
    return weights + kv;
  };
  assert.ok(perDevice(8) > 80e9 && perDevice(16) < 80e9, 'the hand count puts the boundary between 8 and 16');
  const hw = getPreset('gpu-h100');
  const one = profile(spec, hw, decode({ batch: 32, context: 2048 }));
  assert.equal(one.memory.fits, false);
  assert.equal(one.memory.minimumTp, 16);
  assert.ok(one.memory.perDevice.weightBytes > 800e9);
  assert.match(one.memory.warnings.join(' '), /Does not fit: .*80\.0 GB.*tensor-parallel degree 16/s);
  const eight = profile(spec, hw, decode({ batch: 32, context: 2048, tp: 8 }));
  assert.equal(eight.memory.fits, false);
  assert.ok(Math.abs(eight.memory.perDevice.totalBytes - perDevice(8)) < 0.001 * perDevice(8), `${eight.memory.perDevice.totalBytes} vs ${perDevice(8)}`);
  // "or more": every larger degree the heads allow fits too.
  for (const tp of [16, 32, 64, 128]) assert.equal(profile(spec, hw, decode({ batch: 32, context: 2048, tp })).memory.fits, true, `tp ${tp}`);
  // The warning reaches the table and the Markdown export, not only the JSON.
  assert.match(formatTable(one), /Warning: Does not fit/);
  assert.match(formatMarkdown(one), /> \*\*Warning:\*\* Does not fit/);
});

test('Qwen3-0.6B fp16 at batch 64, context 32,768 on a 16 GB T4: 240 GB of KV cache, no degree fits', async () => {
  const spec = await loadFixture('Qwen3-0.6B');
  const r = profile(spec, getPreset('gpu-t4'), decode({ dtype: 'fp16', batch: 64, context: 32768 }));
  // 28 layers × K and V × 8 KV heads × 128 × 2 bytes = 114,688 bytes per token.
  assert.equal(r.memory.perDevice.kvBytes, 28 * 2 * 8 * 128 * 2 * 64 * 32768);
  assert.equal(r.memory.fits, false);
  // Even at 16 chips (the most its 16 heads allow) each holds one KV head: 28 × 2 × 128 × 2 × 64 × 32768 ≈ 30 GB.
  assert.ok(28 * 2 * 128 * 2 * 64 * 32768 > 16e9);
  assert.equal(r.memory.minimumTp, null);
});

test('a context past max_position_embeddings is said once, in the notes, not again among the memory warnings', async () => {
  const spec = await loadFixture('Qwen3-0.6B');
  const r = profile(spec, getPreset('gpu-h100'), decode({ batch: 1, context: 1_000_000 }));
  assert.equal(r.model.notes.filter((n) => /1,000,000 tokens is beyond the 40,960 positions/.test(n)).length, 1);
  assert.ok(!r.memory.warnings.some((w) => w.includes('max_position_embeddings')));
  const within = profile(spec, getPreset('gpu-h100'), decode({ batch: 1, context: 40960 }));
  assert.ok(!within.model.notes.some((n) => n.includes('max_position_embeddings')));
});

test('a sliding-window layer caches only its window', async () => {
  const spec = await loadFixture('Mistral-7B-v0.1'); // sliding_window 4096, 32 layers, 8 KV heads × 128
  const kv = (context: number) => profile(spec, getPreset('gpu-h100'), decode({ batch: 2, context })).memory.perDevice.kvBytes;
  assert.equal(kv(2048), 32 * 2 * 8 * 128 * 2 * 2 * 2048);
  assert.equal(kv(16384), 32 * 2 * 8 * 128 * 2 * 2 * 4096);
});

test('dimc: resident weights count against its 2 GB of SRAM per card, the embedding table against LPDDR5X', async () => {
  const spec = await loadFixture('Llama-3.1-405B');
  const hw = getPreset('dimc');
  const r = profile(spec, hw, decode({ dtype: 'fp8', batch: 1, context: 1024, tp: 8 }));
  const sram = r.memory.tiers.find((t) => t.tier === 'sram')!;
  const lpddr = r.memory.tiers.find((t) => t.tier === 'lpddr5x')!;
  assert.equal(sram.capacityBytes, 2e9);
  assert.equal(lpddr.capacityBytes, 256e9);
  // fp8: one byte per weight; the token embedding table (128256 × 16384) and the norms stay whole in LPDDR5X.
  assert.equal(lpddr.usedBytes, 128256 * 16384 + 126 * 2 * 16384 + 16384);
  assert.ok(sram.usedBytes > 50e9, `${sram.usedBytes}`);
  assert.equal(sram.fits, false);
  assert.equal(r.memory.fits, false);
});
