import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostMessage, parseKernelOverrides, parsePanelState, parseWebviewMessage, parseWorkloadInput, type KernelOverrides, type WorkloadInput } from '../../src/common/protocol';

const workload: WorkloadInput = { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' };
const none: KernelOverrides = { attention: null, norm: null };

test('every webview message the protocol names is accepted as sent', () => {
  const valid: unknown[] = [
    { type: 'ready' },
    { type: 'verify' },
    { type: 'export' },
    { type: 'profile', hardware: 'gpu-h100', workload, kernels: none },
    { type: 'profile', hardware: 'gpu-h100', workload: { ...workload, deferDepth: 'linear' }, kernels: { attention: 'eager', norm: null } },
    { type: 'profile', hardware: 'gpu-t4', workload, kernels: { attention: 'flash', norm: 'eager' } },
    { type: 'profile', hardware: 'file:///w/my.hardware.json', workload: { ...workload, phase: 'prefill', dtype: 'bf16', softmaxOffset: 'exact' }, kernels: { attention: null, norm: 'fused' } },
    { type: 'sweep', axis: 'context' },
    { type: 'openDiff', layerKind: 'dense', site: 'attn-norm' },
    { type: 'openDiff', layerKind: 'dense', site: null },
    { type: 'openSiteSource', layerKind: 'decoder', site: 'attn-norm' },
    { type: 'rendered', headline: 'Llama-3.1-8B on dimc: saved 20.3%' },
  ];
  for (const message of valid) assert.deepEqual(parseWebviewMessage(message), message);
});

test('unknown and malformed webview messages are dropped, extra fields are not passed on', () => {
  const invalid: unknown[] = [
    null,
    'ready',
    [],
    { type: 'eval', code: 'alert(1)' },
    { type: 'profile', hardware: '', workload },
    { type: 'profile', hardware: 'dimc' },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, tp: 0 } },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, batch: 1.5 } },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, batch: 65537 } },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, phase: 'train' } },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, dtype: 'fp64' } },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, softmaxOffset: 'none' } },
    { type: 'profile', hardware: 'x'.repeat(5000), workload },
    { type: 'profile', hardware: 'dimc', workload: { ...workload, deferDepth: 'rope' } },
    // Kernel overrides name a kernel the core knows, or null; nothing else passes.
    { type: 'profile', hardware: 'dimc', workload, kernels: null },
    { type: 'profile', hardware: 'dimc', workload, kernels: 'eager' },
    { type: 'profile', hardware: 'dimc', workload, kernels: [] },
    { type: 'profile', hardware: 'dimc', workload, kernels: { attention: 'sdpa', norm: null } },
    { type: 'profile', hardware: 'dimc', workload, kernels: { attention: null, norm: 'unfused' } },
    { type: 'profile', hardware: 'dimc', workload, kernels: { attention: 'FLASH', norm: null } },
    { type: 'profile', hardware: 'dimc', workload, kernels: { attention: 1, norm: null } },
    { type: 'profile', hardware: 'dimc', workload, kernels: { attention: null, norm: { toString: 'eager' } } },
    { type: 'sweep', axis: 'layers' },
    { type: 'openDiff', layerKind: 7, site: null },
    { type: 'openDiff', layerKind: 'dense' },
    { type: 'openSiteSource', layerKind: 'decoder', site: null },
    { type: 'openSiteSource', layerKind: 'decoder', site: 'x'.repeat(257) },
    { type: 'openSiteSource', site: 'attn-norm' },
    { type: 'rendered' },
  ];
  for (const message of invalid) assert.equal(parseWebviewMessage(message), null, JSON.stringify(message)?.slice(0, 80));
  assert.deepEqual(parseWebviewMessage({ type: 'verify', payload: '<script>' }), { type: 'verify' });
  assert.deepEqual(parseWorkloadInput({ ...workload, extra: 1 }), workload);
  assert.deepEqual(parseKernelOverrides({ attention: 'eager', norm: null, launch: 'graph-in-decode' }), { attention: 'eager', norm: null });
});

test('a profile message without kernel overrides means none; one without a depth means the deepest', () => {
  const { deferDepth: _, ...older } = workload;
  assert.deepEqual(parseWebviewMessage({ type: 'profile', hardware: 'dimc', workload: older }), { type: 'profile', hardware: 'dimc', workload, kernels: none });
  // A field left out of the overrides is no override for that kernel.
  assert.deepEqual(parseKernelOverrides({ attention: 'eager' }), { attention: 'eager', norm: null });
  assert.deepEqual(parseKernelOverrides({}), none);
  assert.deepEqual(parseKernelOverrides(undefined), none);
  assert.equal(parseKernelOverrides(null), null);
});

test('host messages are checked for shape before the webview draws them', () => {
  assert.deepEqual(parseHostMessage({ type: 'busy', label: null }), { type: 'busy', label: null });
  assert.deepEqual(parseHostMessage({ type: 'error', message: 'config.json: hidden_size: expected a whole number' }), { type: 'error', message: 'config.json: hidden_size: expected a whole number' });
  assert.deepEqual(parseHostMessage({ type: 'reveal', section: 'numerics' }), { type: 'reveal', section: 'numerics' });
  assert.equal(parseHostMessage({ type: 'reveal', section: 'elsewhere' }), null);
  assert.equal(parseHostMessage({ type: 'view', view: { report: {} } }), null);
  assert.equal(parseHostMessage({ type: 'numerics', numerics: {} }), null);
  const validation = { points: 27, heldBack: 19, heldBackErrorPct: 8 };
  assert.deepEqual(parseHostMessage({ type: 'validation', validation }), { type: 'validation', validation });
  assert.equal(parseHostMessage({ type: 'validation', validation: { ...validation, heldBackErrorPct: '8%' } }), null);
  assert.equal(parseHostMessage({ type: 'sweep', sweep: { points: [] } }), null);
  assert.equal(parseHostMessage({ type: 'busy', label: 3 }), null);
});

test('a panel state restores only with a model, a hardware and a valid workload; kernel overrides as saved, or none', () => {
  const state = { modelPath: '/w/Llama-3.1-8B/config.json', hardware: 'gpu-h100', workload: { ...workload, deferDepth: 'linear' as const }, kernels: { attention: 'eager' as const, norm: 'eager' as const } };
  assert.deepEqual(parsePanelState(state), state);
  // Saved before the panel had kernel controls (and a depth): the profile's own kernels, the deepest depth.
  const { deferDepth: _, ...older } = workload;
  assert.deepEqual(parsePanelState({ modelPath: state.modelPath, hardware: 'dimc', workload: older }), { modelPath: state.modelPath, hardware: 'dimc', workload, kernels: none });
  // Kernels this version does not know do not keep the panel from coming back.
  assert.deepEqual(parsePanelState({ ...state, kernels: { attention: 'sdpa', norm: 'eager' } }), { ...state, kernels: none });
  assert.equal(parsePanelState(undefined), null);
  assert.equal(parsePanelState({ ...state, modelPath: '' }), null);
  assert.equal(parsePanelState({ ...state, workload: { ...workload, context: -1 } }), null);
});

test('a workload\'s tensor-parallel degree is "auto" or a whole number from 1 to 1024; the validation link\'s message has no fields', () => {
  const base = { phase: 'decode', batch: 32, seq: 2048, context: 2048, dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' };
  assert.equal(parseWorkloadInput({ ...base, tp: 'auto' })?.tp, 'auto');
  assert.equal(parseWorkloadInput({ ...base, tp: 1024 })?.tp, 1024);
  for (const tp of ['Auto', 'most', '8', 0, 1025, 2.5, null]) assert.equal(parseWorkloadInput({ ...base, tp }), null, String(tp));
  assert.deepEqual(parseWebviewMessage({ type: 'showValidation', href: 'javascript:alert(1)' }), { type: 'showValidation' });
});
