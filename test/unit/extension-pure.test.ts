import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRefQuery, refPath, refQuery, type DocumentRef } from '../../src/extension/document-refs';
import { isModelFileName, modelTitle } from '../../src/extension/model-files';
import { mergeSettingsChange, workloadFromSettings } from '../../src/extension/settings';

test('model files are config.json, .gguf and .safetensors, whatever the case', () => {
  for (const yes of ['/m/config.json', 'C:\\m\\CONFIG.JSON', '/m/llama.Q4_K_M.gguf', '/m/model-00001-of-00004.safetensors']) assert.ok(isModelFileName(yes), yes);
  for (const no of ['/m/tokenizer.json', '/m/config.json.bak', '/m/generation_config.json', '/m/model.bin', '/m/']) assert.ok(!isModelFileName(no), no);
});

test('a model is titled by its folder when the file name says nothing', () => {
  assert.equal(modelTitle('/w/Llama-3.1-8B/config.json'), 'Llama-3.1-8B');
  assert.equal(modelTitle('/w/Llama-3.1-8B/model.safetensors'), 'Llama-3.1-8B');
  assert.equal(modelTitle('/w/gguf/tiny.Q8_0.gguf'), 'tiny.Q8_0.gguf');
  assert.equal(modelTitle('/w/Mixtral-8x7B-v0.1'), 'Mixtral-8x7B-v0.1');
});

test('settings: defaults when unset, and each unusable value named and replaced', () => {
  const unset = workloadFromSettings(() => undefined);
  // The tensor-parallel degree defaults to 'auto': the smallest that fits, resolved per model and machine.
  assert.deepEqual(unset, { workload: { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 'auto', dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' }, ignored: [] });
  const values: Record<string, unknown> = { phase: 'prefill', batch: 4, sequenceLength: 512, context: 100, tensorParallel: 8, dtype: 'bf16', softmaxOffset: 'exact', deferDepth: 'linear' };
  assert.deepEqual(workloadFromSettings((k) => values[k]).workload, { phase: 'prefill', batch: 4, seq: 512, context: 100, tp: 8, dtype: 'bf16', softmaxOffset: 'exact', deferDepth: 'linear' });
  const bad: Record<string, unknown> = { phase: 'train', batch: 0, sequenceLength: 2.5, tensorParallel: '8', dtype: 'fp64', softmaxOffset: null };
  const result = workloadFromSettings((k) => bad[k]);
  assert.deepEqual(result.workload, unset.workload);
  assert.equal(result.ignored.length, 6);
  assert.ok(result.ignored.some((line) => line.startsWith('deferredNorm.batch: expected a whole number from 1 to 65536')));
  assert.ok(result.ignored.some((line) => line.startsWith('deferredNorm.dtype: expected one of default, fp32')));
  assert.ok(result.ignored.includes('deferredNorm.tensorParallel: expected "auto" or a whole number from 1 to 1024'), result.ignored.join('\n'));
  assert.equal(workloadFromSettings((k) => (k === 'tensorParallel' ? 'auto' : undefined)).workload.tp, 'auto');
  assert.deepEqual(workloadFromSettings((k) => (k === 'tensorParallel' ? 0 : undefined)).ignored, ['deferredNorm.tensorParallel: expected "auto" or a whole number from 1 to 1024']);
});

test('document addresses round-trip and reject what they did not make', () => {
  const workload = { phase: 'decode' as const, batch: 32, seq: 2048, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
  const refs: DocumentRef[] = [
    { kind: 'pseudocode', modelPath: '/w/m/config.json', hardware: 'dimc', workload, layerKind: 'dense', site: 'attn-norm', side: 'before' },
    { kind: 'pseudocode', modelPath: '/w/m/config.json', hardware: 'file:///w/x.hardware.json', workload, layerKind: 'head', site: null, side: 'after' },
    { kind: 'comparison', modelPath: '/w/m', workload },
    { kind: 'comparison', modelPath: '/w/m', workload: { ...workload, tp: 'auto' } },
    { kind: 'models', modelPath: '/w/m/config.json', workload, hardware: 'gpu-h100', kernels: { attention: 'eager', norm: null }, other: { modelPath: '/w/n/config.json', workload: { ...workload, batch: 1 } } },
  ];
  for (const ref of refs) assert.deepEqual(parseRefQuery(refQuery(ref)), ref);
  assert.equal(refPath(refs[0]!, 'Llama 3/8B'), '/Llama_3_8B/dense/attn-norm.baseline.py');
  assert.equal(refPath(refs[1]!, 'm'), '/m/head/block.deferred.py');
  assert.equal(refPath(refs[2]!, 'm'), '/m/hardware-comparison.md');
  assert.equal(refPath(refs[4]!, 'm'), '/m/model-comparison.md');
  const models = refs[4]!;
  const badModels = [{ ...models, other: undefined }, { ...models, other: { modelPath: '/w/n/config.json', workload: { ...workload, batch: 0 } } }, { ...models, other: { modelPath: '', workload } }, { ...models, hardware: '' }, { ...models, kernels: { attention: 'sdpa', norm: null } }];
  for (const bad of ['', '{', '[]', '{"kind":"pseudocode"}', JSON.stringify({ ...refs[0], side: 'middle' }), JSON.stringify({ ...refs[2], workload: { ...workload, tp: 0 } }), ...badModels.map((m) => JSON.stringify(m))]) {
    assert.equal(parseRefQuery(bad), null, bad);
  }
});

test('the current choice after a settings change: the changed settings replace their fields, the panel’s other choices stay', () => {
  // Chosen in the panel: gpu-h100's workload of prefill, batch 1, 1024 tokens.
  const chosen = { phase: 'prefill' as const, batch: 1, seq: 1024, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online' as const, deferDepth: 'deepest' as const };
  const settings = { phase: 'decode' as const, batch: 8, seq: 2048, context: 4096, tp: 2, dtype: 'bf16' as const, softmaxOffset: 'exact' as const, deferDepth: 'linear' as const };
  // deferredNorm.batch changed: only the batch follows it.
  assert.deepEqual(mergeSettingsChange(chosen, settings, (s) => s === 'batch'), { ...chosen, batch: 8 });
  // The settings' names are not the fields' names: sequenceLength → seq, tensorParallel → tp.
  assert.deepEqual(mergeSettingsChange(chosen, settings, (s) => s === 'sequenceLength' || s === 'tensorParallel'), { ...chosen, seq: 2048, tp: 2 });
  assert.deepEqual(mergeSettingsChange(chosen, settings, () => false), chosen);
  assert.deepEqual(mergeSettingsChange(chosen, settings, () => true), settings);
});
