/**
 * The workload and hardware controls. A change posts `profile` at once (text
 * fields after a short pause); the values are checked with the protocol's own
 * parser first, so the host only gets workloads it accepts.
 */
import { DTYPES } from '../src/core/hardware/profile';
import { SOFTMAX_OFFSETS } from '../src/core/workload';
import { parseWorkloadInput, SWEEP_AXES, type PanelView, type SweepAxis, type WebviewMessage, type WorkloadInput } from '../src/shared/protocol';
import { h, replaceChildren } from './dom';
import { button, labelFor, select, textfield, type ButtonElement, type SelectElement, type TextfieldElement } from './elements';

const TEXT_DEBOUNCE_MS = 150;
type CountField = 'batch' | 'seq' | 'context' | 'tp';
const COUNT_LIMITS: Record<CountField, number> = { batch: 1 << 16, seq: 1 << 24, context: 1 << 24, tp: 1024 };

export class ControlsView {
  private hardware!: SelectElement;
  private phase!: SelectElement;
  private dtype!: SelectElement;
  private offset!: SelectElement;
  private axis!: SelectElement;
  private counts!: Record<CountField, TextfieldElement>;
  private buttons: ButtonElement[] = [];
  private hardwareIds = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private built = false;
  /** What was last asked for (or shown), so a text field's input and change do not post twice. */
  private lastRequest = '';

  constructor(
    private readonly body: HTMLElement,
    private readonly post: (message: WebviewMessage) => void,
  ) {}

  /** Shows a view's values; fields the user is editing keep what they hold. */
  update(view: PanelView): void {
    const ids = view.hardwareChoices.map((c) => c.id).join('\n');
    if (!this.built || ids !== this.hardwareIds) this.build(view);
    const w = view.workload;
    this.lastRequest = JSON.stringify({ hardware: view.hardware, workload: w });
    const set = (el: SelectElement | TextfieldElement, value: string) => {
      if (!el.matches(':focus-within')) el.value = value;
    };
    set(this.hardware, view.hardware);
    set(this.phase, w.phase);
    set(this.dtype, w.dtype ?? 'default');
    set(this.offset, w.softmaxOffset);
    for (const f of Object.keys(this.counts) as CountField[]) {
      set(this.counts[f], String(w[f]));
      this.counts[f].invalid = false;
    }
    if (view.sweep) this.axis.value = view.sweep.axis;
    this.applyPhase(w.phase);
    this.setEnabled(view.interactive);
  }

  private build(view: PanelView): void {
    this.built = true;
    this.hardwareIds = view.hardwareChoices.map((c) => c.id).join('\n');
    const w = view.workload;
    const choices = view.hardwareChoices.length > 0 ? view.hardwareChoices : [{ id: view.hardware, label: view.report.hardware.name, description: view.report.hardware.title, source: 'preset' as const }];
    this.hardware = select('ctl-hardware', choices.map((c) => ({ value: c.id, label: c.label, description: c.description })), view.hardware, 'Hardware profile');
    this.phase = select('ctl-phase', [{ value: 'decode', label: 'decode (one step)' }, { value: 'prefill', label: 'prefill' }], w.phase, 'Phase');
    this.dtype = select('ctl-dtype', [{ value: 'default', label: "hardware's default" }, ...DTYPES.map((d) => ({ value: d, label: d }))], w.dtype ?? 'default', 'Dtype');
    this.offset = select('ctl-offset', SOFTMAX_OFFSETS.map((o) => ({ value: o, label: o })), w.softmaxOffset, 'Softmax offset');
    this.counts = {
      batch: textfield('ctl-batch', String(w.batch), 'Batch'),
      seq: textfield('ctl-seq', String(w.seq), 'Prompt tokens (prefill)'),
      context: textfield('ctl-context', String(w.context), 'Context (decode)'),
      tp: textfield('ctl-tp', String(w.tp), 'Tensor-parallel degree'),
    };
    const defaultAxis: SweepAxis = view.sweep?.axis ?? (w.phase === 'prefill' ? 'seq' : 'context');
    this.axis = select('ctl-axis', SWEEP_AXES.map((a) => ({ value: a, label: a })), defaultAxis, 'Sweep axis');

    for (const el of [this.hardware, this.phase, this.dtype, this.offset]) el.addEventListener('change', () => this.submit());
    this.phase.addEventListener('change', () => this.applyPhase(this.phase.value === 'prefill' ? 'prefill' : 'decode'));
    for (const el of Object.values(this.counts)) {
      el.addEventListener('input', () => this.submitSoon());
      el.addEventListener('change', () => this.submit());
    }

    const field = (id: string, label: string, control: HTMLElement) => h('div', { className: 'field' }, labelFor(id, label), control);
    this.buttons = [
      button('Verify numerics', 'beaker', () => this.post({ type: 'verify' }), true),
      button('Export…', 'save-as', () => this.post({ type: 'export' }), true),
    ];
    const sweepButton = button('Sweep', 'graph-line', () => this.post({ type: 'sweep', axis: this.axis.value as SweepAxis }), true);
    this.buttons.push(sweepButton);
    replaceChildren(
      this.body,
      h(
        'div',
        { className: 'fields' },
        field('ctl-hardware', 'Hardware', this.hardware),
        field('ctl-phase', 'Phase', this.phase),
        field('ctl-batch', 'Batch', this.counts.batch),
        field('ctl-seq', 'Prompt tokens', this.counts.seq),
        field('ctl-context', 'Context', this.counts.context),
        field('ctl-tp', 'Tensor parallel', this.counts.tp),
        field('ctl-dtype', 'Dtype', this.dtype),
        field('ctl-offset', 'Softmax offset', this.offset),
      ),
      view.interactive
        ? h('div', { className: 'actions' }, field('ctl-axis', 'Sweep along', h('div', { className: 'inline' }, this.axis, sweepButton)), ...this.buttons.slice(0, 2))
        : h('p', { className: 'hint read-only-note', text: 'Exported report: the controls show the workload it was made with and are read-only.' }),
    );
  }

  /** The field a pass does not use is disabled: seq in decode, context in prefill. */
  private applyPhase(phase: 'prefill' | 'decode'): void {
    if (this.phase.disabled) return;
    this.counts.seq.disabled = phase !== 'prefill';
    this.counts.context.disabled = phase !== 'decode';
  }

  private setEnabled(interactive: boolean): void {
    for (const el of [this.hardware, this.phase, this.dtype, this.offset, this.axis, ...Object.values(this.counts)]) el.disabled = !interactive;
    for (const el of Object.values(this.counts)) el.readonly = !interactive;
    for (const b of this.buttons) b.disabled = !interactive;
    if (interactive) this.applyPhase(this.phase.value === 'prefill' ? 'prefill' : 'decode');
  }

  private submitSoon(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.submit(), TEXT_DEBOUNCE_MS);
  }

  private submit(): void {
    clearTimeout(this.timer);
    if (this.phase.disabled) return;
    const raw = {
      phase: this.phase.value,
      dtype: this.dtype.value === 'default' ? null : this.dtype.value,
      softmaxOffset: this.offset.value,
      ...Object.fromEntries((Object.keys(this.counts) as CountField[]).map((f) => [f, Number(this.counts[f].value.trim())])),
    };
    let valid = true;
    for (const f of Object.keys(this.counts) as CountField[]) {
      const v = Number(this.counts[f].value.trim());
      const ok = Number.isInteger(v) && v >= 1 && v <= COUNT_LIMITS[f];
      this.counts[f].invalid = !ok;
      valid &&= ok;
    }
    const workload: WorkloadInput | null = valid ? parseWorkloadInput(raw) : null;
    if (!workload) return;
    const request = JSON.stringify({ hardware: this.hardware.value, workload });
    if (request === this.lastRequest) return;
    this.lastRequest = request;
    this.post({ type: 'profile', hardware: this.hardware.value, workload });
  }
}
