/**
 * The hardware, kernel, rewrite and workload controls. A change posts `profile` at
 * once (text fields after a short pause); the values are checked with the protocol's
 * own parsers first, so the host only gets requests it accepts.
 */
import { DTYPES, type AttentionKernel, type NormKernel } from '../src/core/hardware/profile';
import { SOFTMAX_OFFSETS, TP_AUTO } from '../src/core/workload';
import {
  ATTENTION_KERNELS,
  NORM_KERNELS,
  NO_KERNEL_OVERRIDES,
  parseKernelOverrides,
  parseWorkloadInput,
  SWEEP_AXES,
  type KernelOverrides,
  type PanelView,
  type SweepAxis,
  type WebviewMessage,
  type WorkloadInput,
} from '../src/common/protocol';
import { h, replaceChildren } from './dom';
import { button, labelFor, select, textfield, type ButtonElement, type SelectElement, type SelectOption, type TextfieldElement } from './elements';

const TEXT_DEBOUNCE_MS = 150;
type CountField = 'batch' | 'seq' | 'context' | 'tp';
const COUNT_LIMITS: Record<CountField, number> = { batch: 1 << 16, seq: 1 << 24, context: 1 << 24, tp: 1024 };
/** A count field's value; the tensor-parallel field also takes "auto" (the smallest degree that fits). */
function countValue(field: CountField, text: string): number | typeof TP_AUTO {
  const t = text.trim();
  return field === 'tp' && t.toLowerCase() === TP_AUTO ? TP_AUTO : Number(t);
}

/** The kernel selects' value for "what the profile says" (no override). */
const PROFILE = 'profile';

const KERNEL_TEXT: { attention: Record<AttentionKernel, string>; norm: Record<NormKernel, string> } = {
  attention: {
    flash: 'fused, online softmax: the Softmax is already deferred',
    eager: 'scores in memory, softmax in its own passes',
  },
  norm: {
    fused: 'one norm kernel',
    eager: "PyTorch's unfused RMSNorm, a kernel per step (FlashNorm's baseline)",
  },
};

/** The first option is the profile's own kernel, labelled so; the others override it, and say so when chosen. */
function kernelOptions<K extends string>(all: readonly K[], profile: K, text: Record<K, string>): SelectOption[] {
  return [
    { value: PROFILE, label: `${profile} (profile)`, description: `the hardware profile's choice: ${text[profile]}` },
    ...all.filter((k) => k !== profile).map((k) => ({ value: k, label: `${k} (override)`, description: `instead of the profile's ${profile}: ${text[k]}` })),
  ];
}

/** Views made before the panel had kernel controls (an old export) carry none. */
const kernelsOf = (view: PanelView): KernelOverrides => view.kernels ?? NO_KERNEL_OVERRIDES;
const profileKernelsOf = (view: PanelView): PanelView['profileKernels'] | null => view.profileKernels ?? null;

export class ControlsView {
  private hardware!: SelectElement;
  private phase!: SelectElement;
  private dtype!: SelectElement;
  private offset!: SelectElement;
  private depth!: SelectElement;
  private attention!: SelectElement;
  private norm!: SelectElement;
  /** The profile kernels the kernel selects' "(profile)" options were made for. */
  private kernelsFor = '';
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
    // Another hardware profile may state other kernels: its "(profile)" options are made anew.
    if (JSON.stringify(profileKernelsOf(view)) !== this.kernelsFor) this.buildKernelSelects(view);
    const w = view.workload;
    const kernels = kernelsOf(view);
    this.lastRequest = JSON.stringify({ hardware: view.hardware, workload: w, kernels });
    const set = (el: SelectElement | TextfieldElement, value: string) => {
      if (!el.matches(':focus-within')) el.value = value;
    };
    set(this.hardware, view.hardware);
    set(this.phase, w.phase);
    set(this.dtype, w.dtype ?? 'default');
    set(this.offset, w.softmaxOffset);
    set(this.depth, w.deferDepth);
    set(this.attention, kernels.attention ?? PROFILE);
    set(this.norm, kernels.norm ?? PROFILE);
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
    this.depth = select(
      'ctl-depth',
      [
        { value: 'deepest', label: 'deepest', description: 'each scale as deep as the algebra allows (after RoPE, onto the logits, past a ReLU MLP), where it pays' },
        { value: 'linear', label: "linear (papers')", description: "the papers' rewrite: every scale right after the linear layer" },
      ],
      w.deferDepth,
      'Deferral depth',
    );
    this.buildKernelSelects(view);
    this.counts = {
      batch: textfield('ctl-batch', String(w.batch), 'Batch'),
      seq: textfield('ctl-seq', String(w.seq), 'Prompt tokens (prefill)'),
      context: textfield('ctl-context', String(w.context), 'Context (decode)'),
      tp: textfield('ctl-tp', String(w.tp), 'Tensor-parallel degree: auto (the smallest that fits) or a number', [TP_AUTO]),
    };
    const defaultAxis: SweepAxis = view.sweep?.axis ?? (w.phase === 'prefill' ? 'seq' : 'context');
    this.axis = select('ctl-axis', SWEEP_AXES.map((a) => ({ value: a, label: a })), defaultAxis, 'Sweep axis');

    for (const el of [this.hardware, this.phase, this.dtype, this.offset, this.depth]) el.addEventListener('change', () => this.submit());
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
    const group = (id: string, title: string, ...fields: HTMLElement[]) =>
      h('div', { className: `control-group group-${id}`, attrs: { role: 'group', 'aria-labelledby': `group-${id}-title` } }, h('div', { className: 'group-title', text: title, attrs: { id: `group-${id}-title` } }), ...fields);
    replaceChildren(
      this.body,
      h(
        'div',
        { className: 'control-groups' },
        group(
          'machine',
          'Machine',
          h('div', { className: 'field field-hardware' }, labelFor('ctl-hardware', 'Hardware'), this.hardware),
          field('ctl-attention', 'Attention kernel', this.attention),
          field('ctl-norm', 'Norm kernel', this.norm),
        ),
        group('rewrite', 'Rewrite', field('ctl-offset', 'Softmax offset', this.offset), field('ctl-depth', 'Deferral depth', this.depth)),
        group(
          'workload',
          'Workload',
          field('ctl-phase', 'Phase', this.phase),
          field('ctl-batch', 'Batch', this.counts.batch),
          field('ctl-seq', 'Prompt tokens', this.counts.seq),
          field('ctl-context', 'Context', this.counts.context),
          field('ctl-tp', 'Tensor parallel', this.counts.tp),
          field('ctl-dtype', 'Dtype', this.dtype),
        ),
      ),
      h('p', { className: 'hint controls-hint', text: "Kernels: the first choice is the hardware profile's own; another overrides it for this report, as --set kernels.attention=eager does on the command line." }),
      view.interactive
        ? h('div', { className: 'actions' }, field('ctl-axis', 'Sweep along', h('div', { className: 'inline' }, this.axis, sweepButton)), ...this.buttons.slice(0, 2))
        : h('p', { className: 'hint read-only-note', text: 'Exported report: the controls show the workload it was made with and are read-only.' }),
    );
  }

  /**
   * The kernel selects, for the profile's stated kernels. Made anew (not re-optioned) when another
   * profile states others; the user is then on the hardware select, so no focus is lost.
   */
  private buildKernelSelects(view: PanelView): void {
    const profile = profileKernelsOf(view);
    this.kernelsFor = JSON.stringify(profile);
    const kernels = kernelsOf(view);
    const previous = [this.attention, this.norm];
    const attention = profile?.attention ?? kernels.attention ?? 'flash';
    const norm = profile?.norm ?? kernels.norm ?? 'fused';
    this.attention = select('ctl-attention', kernelOptions(ATTENTION_KERNELS, attention, KERNEL_TEXT.attention), kernels.attention ?? PROFILE, 'Attention kernel');
    this.norm = select('ctl-norm', kernelOptions(NORM_KERNELS, norm, KERNEL_TEXT.norm), kernels.norm ?? PROFILE, 'Norm kernel');
    for (const el of [this.attention, this.norm]) el.addEventListener('change', () => this.submit());
    // On a rebuild, in place (update() then enables them as the rest); the first time build() places them.
    previous[0]?.replaceWith(this.attention);
    previous[1]?.replaceWith(this.norm);
  }

  /** The field a pass does not use is disabled: seq in decode, context in prefill. */
  private applyPhase(phase: 'prefill' | 'decode'): void {
    if (this.phase.disabled) return;
    this.counts.seq.disabled = phase !== 'prefill';
    this.counts.context.disabled = phase !== 'decode';
  }

  private setEnabled(interactive: boolean): void {
    for (const el of [this.hardware, this.attention, this.norm, this.phase, this.dtype, this.offset, this.depth, this.axis, ...Object.values(this.counts)]) el.disabled = !interactive;
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
      deferDepth: this.depth.value,
      ...Object.fromEntries((Object.keys(this.counts) as CountField[]).map((f) => [f, countValue(f, this.counts[f].value)])),
    };
    let valid = true;
    for (const f of Object.keys(this.counts) as CountField[]) {
      const v = countValue(f, this.counts[f].value);
      const ok = v === TP_AUTO || (Number.isInteger(v) && v >= 1 && v <= COUNT_LIMITS[f]);
      this.counts[f].invalid = !ok;
      valid &&= ok;
    }
    const workload: WorkloadInput | null = valid ? parseWorkloadInput(raw) : null;
    const kernels = parseKernelOverrides({ attention: this.attention.value === PROFILE ? null : this.attention.value, norm: this.norm.value === PROFILE ? null : this.norm.value });
    if (!workload || !kernels) return;
    const request = JSON.stringify({ hardware: this.hardware.value, workload, kernels });
    if (request === this.lastRequest) return;
    this.lastRequest = request;
    this.post({ type: 'profile', hardware: this.hardware.value, workload, kernels });
  }
}
