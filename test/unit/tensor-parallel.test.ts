/**
 * The tensor-parallel degree 'auto' (report/tensor-parallel.ts, issue 20 item 4): the smallest degree the
 * heads allow at which weights, KV cache and activations fit each device. Each expected degree is derived
 * here by hand from the config's numbers and the presets' datasheet capacities: the degree below it does
 * not fit, the degree itself does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPreset } from '../../src/core/hardware/presets';
import { profile } from '../../src/core/report/profile';
import { profileChecked } from '../../src/core/report/brief';
import { formatTable, workloadLine } from '../../src/core/report/formats';
import { compareHardware } from '../../src/core/report/compare';
import { formatSweep, runSweep } from '../../src/core/report/sweep';
import { resolveWorkload, tpText } from '../../src/core/report/tensor-parallel';
import { DEFAULT_REQUEST, DEFAULT_WORKLOAD, validateWorkload, type WorkloadRequest } from '../../src/core/workload';
import { InputError } from '../../src/core/errors';
import { loadFixture } from './helpers/fixtures';

const GB = 1e9;

// Llama-3.1-8B: hidden 4096, 32 layers, 32 heads / 8 KV heads × 128, MLP 14336, vocab 128256, untied lm_head.
const LLAMA8_LINEAR_PARAMS = 32 * (4096 * (4096 + 1024 + 1024 + 4096) + 3 * 4096 * 14336) + 4096 * 128256;

test('Llama-3.1-8B at the default workload on dimc: TP 8 does not fit its 2 GB of SRAM, TP 16 does, so auto is 16', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const dimc = getPreset('dimc');
  // dimc: fp8 weights (1 byte) resident in the 2 GB SRAM with the KV cache (16-bit) and activations.
  assert.equal(dimc.defaultDtype, 'fp8');
  assert.equal(dimc.memory.kvCacheTier, 'sram');
  assert.equal(LLAMA8_LINEAR_PARAMS, 7_504_658_432);
  // KV per device at TP ≥ 8: each chip keeps one of the 8 KV heads (replicated past 8): K and V × 128 × 2 bytes
  // per token per layer, × 2,048 tokens × batch 32 × 32 layers.
  const kv = 2 * 128 * 2 * 2048 * 32 * 32;
  assert.equal(kv, 1_073_741_824);
  // At TP 8 the linears' eighth and the cache alone pass 2 GB, before any activation.
  assert.ok(LLAMA8_LINEAR_PARAMS / 8 + kv > 2 * GB, `${LLAMA8_LINEAR_PARAMS / 8 + kv}`);
  // At TP 16 they leave 457 MB, far more than any layer's activations: at most 2 bytes × 32 rows × (two
  // residual streams 2 × 4096 + the whole MLP width 14336 + 32 heads × 2049 scores), about 5.6 MB.
  const activationBound = 2 * 32 * (2 * 4096 + 14336 + 32 * 2049);
  assert.ok(LLAMA8_LINEAR_PARAMS / 16 + kv + activationBound < 2 * GB);
  // 32 heads and 8 KV heads accept 1, 2, 4, 8, 16, 32; nothing between 8 and 16.
  const w = resolveWorkload(spec, dimc, DEFAULT_REQUEST);
  assert.equal(w.tp, 16);
  assert.equal(w.tpChosen, 'smallest-that-fits');
  const r = profile(spec, dimc, w);
  assert.equal(r.memory.fits, true);
  assert.equal(r.workload.tp, 16);
  assert.equal(r.workload.tpRequested, 'auto');
  assert.equal(r.workload.tpChosen, 'smallest-that-fits');
  // The CLI's table header and every workload line say the degree and that it was chosen.
  assert.match(formatTable(r), /Workload {2}decode, context 2048, batch 32, tp 16 \(auto: the smallest that fits\), fp8/);
  assert.equal(tpText(w), 'TP 16, the smallest that fits');
});

test('an explicit degree is kept as given, even where it does not fit, and the report says it was asked for', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const dimc = getPreset('dimc');
  const w = resolveWorkload(spec, dimc, { ...DEFAULT_REQUEST, tp: 1 });
  assert.equal(w.tp, 1);
  assert.equal(w.tpChosen, undefined);
  const r = profile(spec, dimc, w);
  assert.equal(r.workload.tpRequested, 1);
  assert.equal(r.memory.fits, false);
  assert.equal(r.memory.minimumTp, 16);
  assert.match(workloadLine(r.workload), /, tp 1, /);
  assert.equal(tpText(w), 'TP 1');
});

test('Llama-3.1-8B bf16 on one H100: weights 16.1 GB + KV 8.6 GB fit 80 GB, so auto is 1', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const h100 = getPreset('gpu-h100');
  // All 8.03 B parameters × 2 bytes, and 131,072 bytes of KV per token × 2,048 × 32.
  assert.ok(8_030_261_248 * 2 + 131_072 * 2048 * 32 < 80 * GB);
  const w = resolveWorkload(spec, h100, DEFAULT_REQUEST);
  assert.equal(w.tp, 1);
  assert.equal(w.tpChosen, 'smallest-that-fits');
});

test('Llama-3.1-405B bf16 on H100: TP 8 holds 101 GB of weights per GPU (over 80 GB), TP 16 fits, so auto is 16', async () => {
  const spec = await loadFixture('Llama-3.1-405B');
  const h100 = getPreset('gpu-h100');
  // Weights per GPU at TP 8 are at least the parameters (405.8 B) over 8 at 2 bytes, before the replicated embeddings.
  assert.ok((spec.params.total / 8) * 2 > 80 * GB, `${spec.params.total}`);
  // At TP 16 at most everything over 16 plus the embedding and the lm_head whole (126 layers, hidden 16384,
  // vocab 128256), and one KV head per GPU: 126 layers × 256 values × 2 bytes per token × 2048 × 32.
  const whole = 2 * 128256 * 16384;
  const kv = 126 * 2 * 128 * 2 * 2048 * 32;
  assert.ok((spec.params.total / 16) * 2 + whole * 2 + kv + 1 * GB < 80 * GB);
  const r = profileChecked(spec, h100, DEFAULT_REQUEST);
  assert.equal(r.workload.tp, 16);
  assert.equal(r.workload.tpRequested, 'auto');
  assert.equal(r.memory.fits, true);
});

test('nothing fits at any degree the heads allow: TP 1 is simulated with the "does not fit" warning, and says so', async () => {
  const spec = await loadFixture('Llama-3.1-405B');
  const dimc = getPreset('dimc');
  // 405 B × 1 byte over 2 GB needs 203 chips for the linears alone; 128 heads and 8 KV heads allow at most 128.
  assert.ok(spec.params.total / 128 > 2 * GB);
  const w = resolveWorkload(spec, dimc, DEFAULT_REQUEST);
  assert.equal(w.tp, 1);
  assert.equal(w.tpChosen, 'fits-at-none');
  const r = profile(spec, dimc, w);
  assert.equal(r.memory.fits, false);
  assert.equal(r.memory.minimumTp, null);
  assert.ok(r.memory.warnings.some((x) => /No tensor-parallel degree/.test(x)), r.memory.warnings.join(' '));
  assert.equal(r.workload.tpRequested, 'auto');
  assert.equal(tpText(w), 'TP 1, fits at no TP');
});

test('a degree changed after resolving (a "TP × 2" variant) is stated as given, not as chosen', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const dimc = getPreset('dimc');
  const w = resolveWorkload(spec, dimc, DEFAULT_REQUEST);
  const r = profile(spec, dimc, { ...w, tp: 32 });
  assert.equal(r.workload.tp, 32);
  assert.equal(r.workload.tpChosen, undefined);
  assert.equal(r.workload.tpRequested, 32);
});

test('Compare Hardware resolves auto per machine and says which degree each ran', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const result = compareHardware(spec, [getPreset('dimc'), getPreset('gpu-h100')], DEFAULT_REQUEST);
  assert.deepEqual(result.rows.map((r) => [r.hardware, r.tp]), [['dimc', 'TP 16, the smallest that fits'], ['gpu-h100', 'TP 1, the smallest that fits']]);
});

test('"auto" passes the workload check; any other string for tp is refused, naming the field', () => {
  assert.equal(validateWorkload(DEFAULT_REQUEST).tp, 'auto');
  assert.throws(
    () => validateWorkload({ ...DEFAULT_WORKLOAD, tp: 'most' } as unknown as WorkloadRequest, 'settings'),
    (e: unknown) => e instanceof InputError && e.field === 'tp' && /"auto" or a whole number from 1 to 1024/.test(e.message),
  );
});

test('a sweep holds the degree auto chose at its base point and says so; a degree given is not explained', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const hw = getPreset('dimc');
  // Auto is 16 at the default workload (derived by hand in the first test); batch 1 alone would fit at a lower degree.
  const base = resolveWorkload(spec, hw, DEFAULT_REQUEST);
  const text = formatSweep(runSweep(spec, hw, base, { seq: [base.seq], batch: [1, 32], context: [base.context], tp: [base.tp], ranges: [] }), hw, base);
  assert.match(text, /^\(tp auto: 16, the smallest that fits at the base point, batch 32, context 2048, held for every point; --tp sets it\)$/m);
  const rows = text.split('\n').filter((l) => /^\s*2048\s+(1|32)\s+2048\s+16\s/.test(l));
  assert.equal(rows.length, 2, 'both rows at tp 16');
  const given = { ...DEFAULT_WORKLOAD, tp: 2 };
  assert.doesNotMatch(formatSweep(runSweep(spec, hw, given, { seq: [2048], batch: [1], context: [2048], tp: [2], ranges: [] }), hw, given), /tp auto/);
});
