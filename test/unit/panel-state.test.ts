/**
 * The report panel's state rules (common/panel-state.ts), without a webview: each expectation is the rule
 * written out by hand for one event (which sweep survives, which values are the panel's own).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPanelState, panelReducer, showsChoice, shownSweep, type PanelEvent, type ReportPanelState } from '../../src/common/panel-state';
import type { SweepView, WorkloadInput } from '../../src/common/protocol';

const WORKLOAD: WorkloadInput = { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 8, dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' };
const NONE = { attention: null, norm: null };
const SWEEP: SweepView = { axis: 'context', hardware: 'dimc', points: [] };

/** A panel on dimc at WORKLOAD that has swept along `axis`. */
function swept(axis: SweepView['axis'] = 'context', workload: WorkloadInput = WORKLOAD): ReportPanelState {
  return panelReducer(initialPanelState({ hardware: 'dimc', workload, kernels: NONE }), { type: 'swept', sweep: { ...SWEEP, axis } });
}

const controls = (state: ReportPanelState, change: Partial<WorkloadInput>, rest: Partial<Pick<ReportPanelState, 'hardware' | 'kernels'>> = {}): PanelEvent => ({
  type: 'controls',
  hardware: rest.hardware ?? state.hardware,
  kernels: rest.kernels ?? state.kernels,
  workload: { ...state.workload, ...change },
});

test('a new panel shows no sweep; a sweep is shown once computed', () => {
  const s = initialPanelState({ hardware: 'dimc', workload: WORKLOAD, kernels: NONE });
  assert.equal(shownSweep(s), null);
  assert.equal(shownSweep(swept())?.axis, 'context');
});

test('changing batch invalidates a sweep along context (its points were simulated at the old batch)', () => {
  const s = swept('context');
  assert.equal(shownSweep(panelReducer(s, controls(s, { batch: 1 }))), null);
});

test('changing the swept value itself keeps the sweep: the curve holds every other value', () => {
  const s = swept('context');
  const next = panelReducer(s, controls(s, { context: 8192 }));
  assert.equal(shownSweep(next), s.sweep!.view);
  assert.equal(next.workload.context, 8192);
});

test('with TP auto any workload change drops the sweep: the degree is resolved at the panel point', () => {
  const s = swept('context', { ...WORKLOAD, tp: 'auto' });
  assert.equal(shownSweep(panelReducer(s, controls(s, { context: 8192 }))), null);
});

test('other hardware, another kernel, phase, dtype, offset or depth: each drops the sweep', () => {
  const s = swept('batch');
  const changes: PanelEvent[] = [
    controls(s, {}, { hardware: 'gpu-h100' }),
    controls(s, {}, { kernels: { attention: 'eager', norm: null } }),
    controls(s, { phase: 'prefill' }),
    controls(s, { dtype: 'bf16' }),
    controls(s, { softmaxOffset: 'exact' }),
    controls(s, { deferDepth: 'linear' }),
    controls(s, { tp: 16 }),
  ];
  for (const e of changes) assert.equal(shownSweep(panelReducer(s, e)), null, JSON.stringify(e));
});

test('asking again for the same values (a re-render, a theme change re-posting nothing new) keeps the sweep', () => {
  const s = swept('batch');
  const same = panelReducer(s, controls(s, {}));
  assert.equal(shownSweep(same), s.sweep!.view);
  assert.deepEqual(same, s);
});

test('a choice made elsewhere replaces hardware and workload, and keeps the panel its own kernels', () => {
  const s = panelReducer(swept(), controls(swept(), {}, { kernels: { attention: 'eager', norm: null } }));
  const next = panelReducer(s, { type: 'choice', hardware: 'gpu-h100', workload: { ...WORKLOAD, batch: 1 } });
  assert.equal(next.hardware, 'gpu-h100');
  assert.equal(next.workload.batch, 1);
  assert.deepEqual(next.kernels, { attention: 'eager', norm: null });
  assert.equal(showsChoice(next, { hardware: 'gpu-h100', workload: { ...WORKLOAD, batch: 1 } }), true);
  assert.equal(showsChoice(next, { hardware: 'gpu-h100', workload: WORKLOAD }), false);
  assert.equal(showsChoice(next, { hardware: 'dimc', workload: { ...WORKLOAD, batch: 1 } }), false);
});

test('the core saying an override is the profile own kernel (none) keeps the sweep and shows the profile kernel', () => {
  // "flash" chosen on a profile whose own attention is flash: the core applies no override.
  const s = swept('context');
  const chosen = panelReducer(s, { type: 'swept', sweep: SWEEP });
  const profiled = panelReducer({ ...chosen, kernels: { attention: 'flash', norm: null }, sweep: { view: SWEEP, for: { ...chosen.sweep!.for, kernels: { attention: 'flash', norm: null } } } }, { type: 'profiled', kernels: NONE });
  assert.deepEqual(profiled.kernels, NONE);
  assert.equal(shownSweep(profiled), SWEEP);
  // And a later control change with the normalized kernels still matches the sweep.
  assert.equal(shownSweep(panelReducer(profiled, controls(profiled, { context: 4096 }))), SWEEP);
});

test('the reducer never changes the state it is given', () => {
  const s = swept('context');
  const before = JSON.stringify(s);
  panelReducer(s, controls(s, { batch: 1 }));
  panelReducer(s, { type: 'choice', hardware: 'gpu-h100', workload: WORKLOAD });
  panelReducer(s, { type: 'profiled', kernels: { attention: 'eager', norm: null } });
  assert.equal(JSON.stringify(s), before);
});

test('each workload value but the swept one, and each kernel, is one the sweep was computed at; the choice compares them all', () => {
  // A value other than the panel's for each field (WORKLOAD: decode, batch 32, seq and context 2048, tp 8, no dtype, online, deepest).
  const other: Partial<WorkloadInput>[] = [{ phase: 'prefill' }, { batch: 1 }, { seq: 512 }, { context: 512 }, { tp: 2 }, { dtype: 'fp8' }, { softmaxOffset: 'exact' }, { deferDepth: 'linear' }];
  const axisField = { seq: 'seq', context: 'context', batch: 'batch', tp: 'tp' } as const;
  for (const axis of ['seq', 'context', 'batch', 'tp'] as const) {
    const s = swept(axis);
    for (const change of other) {
      const keeps = Object.keys(change)[0] === axisField[axis];
      assert.equal(shownSweep(panelReducer(s, controls(s, change))) !== null, keeps, `${axis}: ${JSON.stringify(change)}`);
      assert.equal(showsChoice(s, { hardware: 'dimc', workload: { ...WORKLOAD, ...change } }), false, `choice ${JSON.stringify(change)}`);
    }
    assert.equal(shownSweep(panelReducer(s, controls(s, {}, { kernels: { attention: null, norm: 'eager' } }))), null, `${axis}: another norm kernel`);
    assert.equal(shownSweep(panelReducer(s, controls(s, {}, { kernels: { attention: 'flash', norm: null } }))), null, `${axis}: another attention kernel`);
  }
  assert.equal(showsChoice(swept(), { hardware: 'dimc', workload: { ...WORKLOAD } }), true);
});
