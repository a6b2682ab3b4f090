/**
 * The report panel's state rules as one pure reducer (issue 21): what the panel simulates (hardware,
 * workload, kernel choices), which sweep it still shows, and which of its values are everyone's. The
 * host (extension/panel/reportPanel.ts) keeps a state, feeds it events and acts on the difference;
 * no vscode, no DOM, so the rules are unit-tested without a webview.
 *
 * The rules:
 * - Hardware and workload are the shared choice (extension/choice.ts): the panel's controls propose
 *   them, and a choice made elsewhere (Select Hardware, a setting, another panel) replaces them.
 *   Kernel choices are the panel's own and survive a change of choice.
 * - A sweep holds every workload value but its axis at the panel's: it stays while those, the hardware
 *   and the kernels are what it was computed for. Changing the swept value itself keeps it (the curve
 *   is the same), except with a tensor-parallel degree 'auto', which is resolved at the panel's point,
 *   so any workload change moves the curve. Anything that changes no simulated value keeps it.
 */
import { TP_AUTO } from '../core/workload';
import type { KernelOverrides, SweepAxis, SweepView, WorkloadInput } from './protocol';

/** What a panel simulates: the shared choice (hardware, workload) and its own kernel choices. */
export interface PanelControls {
  hardware: string;
  workload: WorkloadInput;
  kernels: KernelOverrides;
}

export interface ReportPanelState extends PanelControls {
  /** The sweep shown, and the controls it was computed for; null: none, or no longer valid. */
  sweep: { view: SweepView; for: PanelControls } | null;
}

export type PanelEvent =
  /** The panel's controls asked for these values. */
  | ({ type: 'controls' } & PanelControls)
  /** The shared choice changed elsewhere: its hardware and workload replace the panel's; its kernels stay. */
  | { type: 'choice'; hardware: string; workload: WorkloadInput }
  /** A profile ran: the kernels as the core applied them (an override equal to the profile's own is none). */
  | { type: 'profiled'; kernels: KernelOverrides }
  /** A sweep was computed for the panel's current controls. */
  | { type: 'swept'; sweep: SweepView };

export function initialPanelState(controls: PanelControls): ReportPanelState {
  return { ...controls, sweep: null };
}

export function panelReducer(state: ReportPanelState, event: PanelEvent): ReportPanelState {
  switch (event.type) {
    case 'controls':
    case 'choice': {
      const next = { ...state, hardware: event.hardware, workload: event.workload, kernels: event.type === 'controls' ? event.kernels : state.kernels };
      return { ...next, sweep: state.sweep && sweepHolds(state.sweep.view.axis, state.sweep.for, next) ? state.sweep : null };
    }
    case 'profiled': {
      // The same simulation, said the core's way: the sweep was computed on the kernels as applied.
      const sweep = state.sweep && { ...state.sweep, for: { ...state.sweep.for, kernels: event.kernels } };
      return { ...state, kernels: event.kernels, sweep };
    }
    case 'swept':
      return { ...state, sweep: { view: event.sweep, for: controlsOf(state) } };
  }
}

export function controlsOf(state: PanelControls): PanelControls {
  return { hardware: state.hardware, workload: state.workload, kernels: state.kernels };
}

/** Whether the panel shows this choice's hardware and workload already (no re-profile needed to follow it). */
export function showsChoice(state: PanelControls, choice: Pick<PanelControls, 'hardware' | 'workload'>): boolean {
  return state.hardware === choice.hardware && sameWorkload(state.workload, choice.workload);
}

/** The sweep still shown, or null (what the panel view carries). */
export function shownSweep(state: ReportPanelState): SweepView | null {
  return state.sweep?.view ?? null;
}

const WORKLOAD_FIELDS = ['phase', 'batch', 'seq', 'context', 'tp', 'dtype', 'softmaxOffset', 'deferDepth'] as const satisfies readonly (keyof WorkloadInput)[];
const AXIS_FIELD: Record<SweepAxis, keyof WorkloadInput> = { seq: 'seq', context: 'context', batch: 'batch', tp: 'tp' };

function sameWorkload(a: WorkloadInput, b: WorkloadInput): boolean {
  return WORKLOAD_FIELDS.every((f) => a[f] === b[f]);
}

function sweepHolds(axis: SweepAxis, swept: PanelControls, now: PanelControls): boolean {
  if (swept.hardware !== now.hardware) return false;
  if (swept.kernels.attention !== now.kernels.attention || swept.kernels.norm !== now.kernels.norm) return false;
  // With TP auto the degree is resolved at the panel's point: every value moves the curve.
  const free = swept.workload.tp === TP_AUTO || now.workload.tp === TP_AUTO ? null : AXIS_FIELD[axis];
  return WORKLOAD_FIELDS.every((f) => f === free || swept.workload[f] === now.workload[f]);
}
