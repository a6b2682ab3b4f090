/**
 * `deferred-norm validate`: the simulator beside published measurements (issue 10). Pure: the
 * caller hands in the loaded model specs and the hardware presets; this runs the simulator for
 * every point of points.ts and returns the rows with their ratios and the error figures.
 *
 * The simulated figure of an end-to-end point is the BASELINE latency (no deferral): the measured
 * stacks do not defer their norms. FlashNorm's site rows compare its standard form with our
 * baseline and its deferred form with our deferred one.
 */
import { applyOverrides } from '../hardware/overrides';
import type { HardwareProfile } from '../hardware/profile';
import type { ModelSpec } from '../model/spec';
import { num, percent, table } from '../report/text';
import { totalsOfSimulation } from '../report/profile';
import { simulate, simulateSite } from '../sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../workload';
import { POINTS, SOURCES, type FusedProjection, type MetricKind, type Point, type Source } from './points';

/** One point beside its simulated estimate. */
export interface ValidationRow {
  id: string;
  source: string;
  model: string;
  hardware: string;
  /** Overrides of the preset for this point's software stack. */
  set: string[];
  /** The workload in one line, e.g. `prefill b1 in2048 tp4 fp16`. */
  workload: string;
  metric: MetricKind;
  /** The figure as published, and where in the source it is. */
  published: string;
  where: string;
  /** The measured serving stack, and what the source leaves out or makes approximate. */
  stack: string;
  note: string;
  measuredMs: number;
  /** Simulated estimate in ms; null while the simulator cannot compute this metric yet. */
  simulatedMs: number | null;
  /** simulated ÷ measured; null when pending. */
  ratio: number | null;
  use: Point['use'];
  /** A calibration point whose preset holds the fit (its efficiencies' provenance says "calibrated:"). */
  fitted: boolean;
  /** Why the row has no simulated figure. */
  pending: string | null;
  /** The simulated pieces the figure is made of (ms). */
  parts: Record<string, number>;
}

/** |ratio − 1| over a set of rows, as fractions (0.1 = 10%). */
export interface ErrorSummary {
  n: number;
  meanAbsError: number;
  maxAbsError: number;
  /** Geometric mean of the ratios: above 1, the simulator is slow on average; below, fast. */
  geoMeanRatio: number;
}

export interface SourceSummary extends ErrorSummary {
  source: string;
  title: string;
}

/** FlashNorm's saving on one site, as published and as simulated. */
export interface SiteSaving {
  model: string;
  tokens: number;
  publishedPct: number;
  simulatedPct: number | null;
}

export interface ValidationResult {
  /** The sentence every view of these figures carries. */
  estimate: string;
  rows: ValidationRow[];
  sources: readonly Source[];
  perSource: SourceSummary[];
  /** All rows with a simulated figure. */
  overall: ErrorSummary;
  /** Rows the presets were not fitted to (designated calibration points of a preset without a fit count here). */
  heldBack: ErrorSummary;
  /** Rows the presets' efficiencies were fitted to. */
  calibration: ErrorSummary;
  calibrationPoints: string[];
  heldBackPoints: string[];
  /** The presets the points run on: their efficiencies, and whether those are fitted. */
  presets: { name: string; matrixEfficiency: number; memoryEfficiency: number; calibrated: boolean }[];
  flashNorm: SiteSaving[];
  /**
   * Issue 19's targets over the held-back points, and whether they hold (true only if every point has
   * a figure): their mean |ratio − 1| within `mean`, each within `perPoint`, at least `heldBackShare`
   * of all points held back, and each FlashNorm saving within `saving` of the published one (relative).
   */
  targets: {
    perPoint: number;
    mean: number;
    heldBackShare: number;
    saving: number;
    everyPointWithin: boolean;
    meanWithin: boolean;
    enoughHeldBack: boolean;
    savingsWithin: number;
  };
  /** Rows still waiting for the simulator (e.g. site rows before simulateSite exists). */
  pending: string[];
}

export interface ValidateInputs {
  /** Model specs by fixture name (every `point.model`). */
  specs: ReadonlyMap<string, ModelSpec>;
  /** A fresh copy of a hardware preset by name. */
  hardware: (name: string) => HardwareProfile;
  /** Defaults to POINTS. */
  points?: readonly Point[];
}

export const TARGETS = { perPoint: 0.2, mean: 0.08, heldBackShare: 2 / 3, saving: 0.25 } as const;

const ESTIMATE =
  'Measured figures are as published (source, table or file beside each); simulated figures are estimates of this simulator, not measurements: the baseline (nothing deferred) for whole passes, baseline and deferred for FlashNorm\'s site rows.';

export function validate(inputs: ValidateInputs): ValidationResult {
  const points = inputs.points ?? POINTS;
  const rows = points.map((p) => rowFor(p, inputs));
  const withFigure = rows.filter((r) => r.ratio !== null);
  const perSource: SourceSummary[] = [];
  for (const source of SOURCES) {
    const mine = withFigure.filter((r) => r.source === source.id);
    if (mine.length > 0 || rows.some((r) => r.source === source.id)) perSource.push({ source: source.id, title: source.title, ...summarize(mine) });
  }
  const overall = summarize(withFigure);
  const pending = rows.filter((r) => r.pending !== null).map((r) => r.id);
  const heldBack = withFigure.filter((r) => !r.fitted);
  const heldBackSummary = summarize(heldBack);
  const flashNorm = siteSavings(points, rows);
  const presets = [...new Set(points.map((p) => p.hardware))].map((name) => {
    const hw = inputs.hardware(name);
    return { name, matrixEfficiency: hw.matrix.efficiency, memoryEfficiency: hw.memory.efficiency, calibrated: isCalibrated(hw) };
  });
  return {
    estimate: ESTIMATE,
    rows,
    sources: SOURCES,
    perSource,
    overall,
    heldBack: heldBackSummary,
    calibration: summarize(withFigure.filter((r) => r.fitted)),
    calibrationPoints: rows.filter((r) => r.fitted).map((r) => r.id),
    heldBackPoints: rows.filter((r) => !r.fitted).map((r) => r.id),
    presets,
    flashNorm,
    targets: {
      ...TARGETS,
      everyPointWithin: pending.length === 0 && heldBack.every((r) => Math.abs(r.ratio! - 1) <= TARGETS.perPoint),
      meanWithin: pending.length === 0 && heldBackSummary.meanAbsError <= TARGETS.mean,
      enoughHeldBack: rows.filter((r) => !r.fitted).length >= TARGETS.heldBackShare * rows.length,
      savingsWithin: flashNorm.filter((f) => f.simulatedPct !== null && Math.abs(f.simulatedPct / f.publishedPct - 1) <= TARGETS.saving).length,
    },
    pending,
  };
}

/** Whether a preset's two efficiencies are fitted (their provenance says so). */
/** What the report panel's headline says of the validation (issue 19): the points, and the held-back error. */
export interface ValidationHeadline {
  /** Published measurements compared. */
  points: number;
  /** Of them, those no preset was fitted to. */
  heldBack: number;
  /** Mean |simulated / measured − 1| over the held-back points, in %. */
  heldBackErrorPct: number;
}

export function validationHeadline(r: ValidationResult): ValidationHeadline {
  return { points: r.rows.length, heldBack: r.heldBack.n, heldBackErrorPct: 100 * r.heldBack.meanAbsError };
}

export function isCalibrated(hw: HardwareProfile): boolean {
  return ['matrix.efficiency', 'memory.efficiency'].every((path) => hw.provenance[path]?.startsWith('calibrated:') ?? false);
}

/** Mean and max of |ratio − 1| (and the geometric mean of the ratios) over rows that have a ratio. */
export function summarize(rows: readonly Pick<ValidationRow, 'ratio'>[]): ErrorSummary {
  const ratios = rows.map((r) => r.ratio).filter((r): r is number => r !== null);
  if (ratios.length === 0) return { n: 0, meanAbsError: 0, maxAbsError: 0, geoMeanRatio: 1 };
  const errs = ratios.map((r) => Math.abs(r - 1));
  return {
    n: ratios.length,
    meanAbsError: errs.reduce((a, b) => a + b, 0) / errs.length,
    maxAbsError: Math.max(...errs),
    geoMeanRatio: Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length),
  };
}

/** The workload of one pass of a point. */
export function passWorkload(p: Point, phase: Workload['phase'], context = 1): Workload {
  return {
    ...DEFAULT_WORKLOAD,
    phase,
    batch: p.workload.batch,
    seq: p.workload.input,
    context,
    tp: p.workload.tp,
    dtype: p.workload.dtype,
  };
}

/** The point's hardware: its preset with the point's overrides. */
export function pointHardware(p: Point, hardware: (name: string) => HardwareProfile): HardwareProfile {
  const hw = hardware(p.hardware);
  return p.set.length > 0 ? applyOverrides(hw, p.set) : hw;
}

/**
 * Baseline latency of one whole pass, in ms (every layer and the head, nothing deferred), plus the
 * runtime's host time per pass (kernels.passOverheadNs), which no layer's schedule holds.
 */
export function passMs(spec: ModelSpec, hw: HardwareProfile, w: Workload): number {
  return totalsOfSimulation(simulate(spec, hw, w)).baselineUs / 1000 + hw.kernels.passOverheadNs / 1e6;
}

function rowFor(p: Point, inputs: ValidateInputs): ValidationRow {
  const base: Omit<ValidationRow, 'simulatedMs' | 'ratio' | 'pending' | 'parts'> = {
    fitted: p.use === 'calibration' && isCalibrated(inputs.hardware(p.hardware)),
    id: p.id,
    source: p.source,
    model: p.model,
    hardware: p.hardware,
    set: p.set,
    workload: workloadText(p),
    metric: p.metric,
    published: p.published,
    where: p.where,
    stack: p.stack,
    note: p.note,
    measuredMs: p.measuredMs,
    use: p.use,
  };
  const spec = inputs.specs.get(p.model);
  if (!spec) throw new Error(`validate: no model spec for fixture ${p.model} (point ${p.id})`);
  const hw = pointHardware(p, inputs.hardware);
  const figure = simulatedFigure(p, p.metric === 'site' ? spec : fuseProjections(spec, p.fusedProjections ?? []), hw);
  if ('pending' in figure) return { ...base, simulatedMs: null, ratio: null, pending: figure.pending, parts: {} };
  return { ...base, simulatedMs: figure.ms, ratio: figure.ms / p.measuredMs, pending: null, parts: figure.parts };
}

function simulatedFigure(p: Point, spec: ModelSpec, hw: HardwareProfile): { ms: number; parts: Record<string, number> } | { pending: string } {
  const w = p.workload;
  switch (p.metric) {
    case 'ttft': {
      const ttft = passMs(spec, hw, passWorkload(p, 'prefill'));
      return { ms: ttft, parts: { ttft } };
    }
    case 'tpot': {
      const step = passMs(spec, hw, passWorkload(p, 'decode', w.context ?? w.input));
      return { ms: step, parts: { decodeStep: step } };
    }
    case 'e2e': {
      const output = w.output ?? 1;
      const ttft = passMs(spec, hw, passWorkload(p, 'prefill'));
      if (output <= 1) return { ms: ttft, parts: { ttft } };
      // Decode step k (k = 1 … output − 1) runs with input + k tokens cached. A step's latency is affine
      // in the context (the KV-cache bytes and the attention work grow linearly with it), so the sum
      // is (output − 1) × the mean of the first and last step, which is the step at the midpoint.
      const first = passMs(spec, hw, passWorkload(p, 'decode', w.input + 1));
      const last = passMs(spec, hw, passWorkload(p, 'decode', w.input + output - 1));
      const decode = ((output - 1) * (first + last)) / 2;
      return { ms: ttft + decode, parts: { ttft, decodeFirst: first, decodeLast: last, decode } };
    }
    case 'site': {
      const site = p.site!;
      const measured = restrictConsumers(spec, site.siteId, site.consumers);
      const times = simulateSite(site.fused ? fuseConsumers(measured, site.siteId) : measured, hw, passWorkload(p, 'prefill'), site.siteId);
      const ns = site.variant === 'baseline' ? times.keptNs : times.deferredNs;
      return { ms: ns / 1e6, parts: { kept: times.keptNs / 1e6, deferred: times.deferredNs / 1e6 } };
    }
  }
}

/**
 * A copy of the spec whose norm at `siteId` feeds only `consumers` (FlashNorm's Llama-7B rows time a
 * 4096 → 4096 projection, q_proj's shape, not the whole q,k,v). Sizes stay the model's own.
 */
export function restrictConsumers(spec: ModelSpec, siteId: string, consumers: readonly string[] | undefined): ModelSpec {
  if (!consumers) return spec;
  const role = siteId === 'attn-norm' ? 'attn' : siteId === 'mlp-norm' ? 'mlp' : null;
  if (!role) throw new Error(`validate: cannot restrict the consumers of site ${siteId}`);
  return {
    ...spec,
    layerKinds: spec.layerKinds.map((kind) => ({
      ...kind,
      norms: kind.norms.map((n) => (n.role === role ? { ...n, feeds: n.feeds.filter((f) => consumers.includes(f)) } : n)),
    })),
  };
}

/** The norm site whose consumers each fused projection joins, and the linear that stands for them. */
const FUSED: Record<FusedProjection, { siteId: string; norm: 'attn' | 'mlp'; name: string; role: 'qkv' | 'gate_up' }> = {
  qkv: { siteId: 'attn-norm', norm: 'attn', name: 'qkv_proj', role: 'qkv' },
  gate_up: { siteId: 'mlp-norm', norm: 'mlp', name: 'gate_up_proj', role: 'gate_up' },
};

/**
 * A copy of the spec whose norm at `siteId` feeds one linear in place of its consumers, with their
 * outputs summed: `qkv_proj` for the attention norm (FlashNorm's SmolLM2 rows time one 576 → 960 GEMM,
 * not three), `gate_up_proj` for the MLP norm. A layer kind whose norm feeds fewer than two linears is left as it is.
 */
export function fuseConsumers(spec: ModelSpec, siteId: string): ModelSpec {
  const fusion = Object.values(FUSED).find((f) => f.siteId === siteId);
  if (!fusion) throw new Error(`validate: cannot fuse the consumers of site ${siteId}`);
  return {
    ...spec,
    layerKinds: spec.layerKinds.map((kind) => {
      const norm = kind.norms.find((n) => n.role === fusion.norm);
      const fed = kind.linears.filter((l) => norm?.feeds.includes(l.name));
      if (!norm || fed.length < 2) return kind;
      const fused = { name: fusion.name, role: fusion.role, in: fed[0]!.in, out: fed.reduce((sum, l) => sum + l.out, 0), bias: fed.some((l) => l.bias) };
      return {
        ...kind,
        linears: [fused, ...kind.linears.filter((l) => !fed.includes(l))],
        norms: kind.norms.map((n) => (n === norm ? { ...n, feeds: [fused.name] } : n)),
      };
    }),
  };
}

/** The spec as a stack with these fused projections runs it: each one GEMM (a point's `fusedProjections`). */
export function fuseProjections(spec: ModelSpec, projections: readonly FusedProjection[]): ModelSpec {
  return projections.reduce((s, f) => fuseConsumers(s, FUSED[f].siteId), spec);
}

function workloadText(p: Point): string {
  const w = p.workload;
  const parts = [`b${w.batch}`, `in${w.input}`];
  if (p.metric === 'e2e') parts.push(`out${w.output}`);
  if (p.metric === 'tpot') parts.push(`ctx${w.context}`);
  if (p.metric === 'site') parts.push(p.site!.consumers ? `→${p.site!.consumers.join(',')}` : '→qkv');
  parts.push(`tp${w.tp}`, w.dtype);
  return `${p.metric} ${parts.join(' ')}`;
}

function siteSavings(points: readonly Point[], rows: readonly ValidationRow[]): SiteSaving[] {
  const out: SiteSaving[] = [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const p of points) {
    if (p.metric !== 'site' || p.site?.variant !== 'baseline') continue;
    const partner = points.find((q) => q.metric === 'site' && q.site?.variant === 'deferred' && q.model === p.model && q.workload.input === p.workload.input && q.source === p.source);
    if (!partner) continue;
    const b = byId.get(p.id)!;
    const d = byId.get(partner.id)!;
    out.push({
      model: p.model,
      tokens: p.workload.input,
      publishedPct: (100 * (p.measuredMs - partner.measuredMs)) / p.measuredMs,
      simulatedPct: b.simulatedMs !== null && d.simulatedMs !== null ? (100 * (b.simulatedMs - d.simulatedMs)) / b.simulatedMs : null,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text

const pct = (fraction: number) => percent(100 * fraction);
/** A time in ms with the digits its size warrants. */
export const formatMs = (value: number) => (value >= 100 ? num(value, 1) : value >= 1 ? num(value, 2) : num(value, 3));
const ms = formatMs;

export function formatValidation(r: ValidationResult): string {
  const header = ['point', 'source', 'model', 'hardware', 'workload', 'measured', 'simulated', 'ratio', 'used for'];
  const rows = r.rows.map((row) => [
    row.id,
    row.source,
    row.model,
    row.hardware + (row.set.length > 0 ? '*' : ''),
    row.workload,
    `${ms(row.measuredMs)} ms`,
    row.simulatedMs === null ? 'pending' : `${ms(row.simulatedMs)} ms`,
    row.ratio === null ? '—' : row.ratio.toFixed(3),
    row.fitted ? 'calibration' : row.use === 'calibration' ? 'held back (fit not applied)' : 'held back',
  ]);
  const summaryHeader = ['source', 'n', 'mean |ratio−1|', 'max |ratio−1|', 'geo-mean ratio'];
  const line = (name: string, s: ErrorSummary) => [name, `${s.n}`, pct(s.meanAbsError), pct(s.maxAbsError), s.geoMeanRatio.toFixed(3)];
  const summary = [
    ...r.perSource.map((s) => line(s.source, s)),
    line('all', r.overall),
    line('held back', r.heldBack),
    line('calibration', r.calibration),
  ];
  const t = r.targets;
  const yes = (ok: boolean) => (ok ? 'yes' : 'no');
  const out = [
    `Held-back error: mean |ratio−1| ${pct(r.heldBack.meanAbsError)} over the ${r.heldBack.n} points never fitted (max ${pct(r.heldBack.maxAbsError)}, geometric-mean ratio ${r.heldBack.geoMeanRatio.toFixed(3)}).`,
    `Validation against published measurements: ${r.rows.length} points from ${r.perSource.length} sources.`,
    r.estimate,
    'ratio = simulated ÷ measured. * = preset with the point\'s --set overrides (the measured software stack; `--format json` lists them).',
    '',
    table(header, rows, ['left', 'left', 'left', 'left', 'left', 'right', 'right', 'right', 'left']),
    '',
    'Error of the simulated estimates, per source:',
    table(summaryHeader, summary, ['left', 'right', 'right', 'right', 'right']),
    '',
    `Targets (issue 19), over the held-back points: mean within ${pct(t.mean)}: ${yes(t.meanWithin)}; every point within ±${pct(t.perPoint)}: ${yes(t.everyPointWithin)}; at least ${Math.round(100 * t.heldBackShare)}% of all points held back: ${yes(t.enoughHeldBack)} (${r.heldBackPoints.length} of ${r.rows.length}); FlashNorm's savings within ±${pct(t.saving)} of the published: ${t.savingsWithin} of ${r.flashNorm.length}.`,
    `Calibration (npm run calibrate:gpu fits matrix.efficiency and memory.efficiency of each GPU preset and one host time per pass, kernels.passOverheadNs, shared by the presets with whole-pass points, nothing else): ${r.calibrationPoints.join(', ')}.`,
    `Held back (never fitted): ${r.heldBackPoints.length} points.`,
    `Efficiencies: ${r.presets.map((p) => `${p.name} matrix ${p.matrixEfficiency}, memory ${p.memoryEfficiency} (${p.calibrated ? 'fitted' : 'stated assumptions, not fitted'})`).join('; ')}.`,
  ];
  if (r.flashNorm.length > 0) {
    out.push(
      '',
      'FlashNorm on a T4, the site\'s latency saved by deferral (published; simulated estimate):',
      ...r.flashNorm.map((s) => `  ${s.model} at ${s.tokens} tokens: ${percent(s.publishedPct)} published; ${s.simulatedPct === null ? 'pending' : `${percent(s.simulatedPct)} simulated`}`),
    );
  }
  if (r.pending.length > 0) out.push('', `Pending (no simulated figure yet): ${r.pending.join(', ')}.`);
  return out.join('\n') + '\n';
}
