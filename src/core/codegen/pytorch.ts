/**
 * The PyTorch patch: a plan of which norm sites to defer (the `deferred-norm-plan/1` format the
 * Python runtime `python/deferred_norm_patch.py` reads) and the one self-contained module that
 * carries it: a header, `PLAN = {…}` as a Python literal, then the runtime verbatim. Pure: the
 * caller reads the runtime and writes the module.
 *
 * Every string in the plan comes from a model or hardware file, so the serializer escapes all of
 * them: nothing in a name can end the literal or the docstring and become code.
 */
import { InputError } from '../errors';
import type { DeferDepth, SiteKind } from '../terms';
import type { Decision, Report } from '../report/types';

export const PLAN_FORMAT = 'deferred-norm-plan/1';

/** The families whose module layout the runtime knows (the plan's `family` keys). */
export const PATCH_FAMILIES = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'phi3', 'gpt_neox', 'gpt2'] as const;
export type PatchFamily = (typeof PATCH_FAMILIES)[number];

/** One site of one layer kind, as the runtime applies or skips it. */
export interface PlanSite {
  /** The report's site id within its layer kind (`attn-norm`, `final-norm`, `softmax`, …). */
  id: string;
  name: string;
  kind: SiteKind;
  /** The norm module's own name (last component of its path); null for a Softmax site. */
  norm: string | null;
  /** The consumers' own module names; empty for a Softmax site, whose consumer is the p·V product, not a module. */
  linears: string[];
  /** Decoder-layer indices this entry applies to; the head's single index is the number of layers. */
  layers: number[];
  decision: Decision;
  /** Where the deferred scale is applied, in the report's words; null unless deferred. */
  depth: DeferDepth | null;
  reason: string;
  savedUs: number;
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  model: string;
  family: PatchFamily;
  hardware: string;
  workload: string;
  generator: string;
  sites: PlanSite[];
}

const isPatchFamily = (f: string): f is PatchFamily => (PATCH_FAMILIES as readonly string[]).includes(f);

/** The plan's family: the report's family when the runtime knows it, else its model_type; else a refusal. */
export function patchFamily(report: Report): PatchFamily {
  const { family, modelType } = report.model;
  if (isPatchFamily(family)) return family;
  if (isPatchFamily(modelType)) return modelType;
  throw new InputError(
    report.model.source,
    'model_type',
    `a family the PyTorch patch supports (${PATCH_FAMILIES.join(', ')})`,
    family === modelType || modelType === '' ? JSON.stringify(family) : `${JSON.stringify(family)} (model_type ${JSON.stringify(modelType)})`,
    'unsupported',
  );
}

/** "decode b32 ctx2048 fp8", "prefill b1 seq4096 tp2 bf16". */
export function planWorkload(w: Report['workload']): string {
  const pass = w.phase === 'prefill' ? `prefill b${w.batch} seq${w.seq}` : `decode b${w.batch} ctx${w.context}`;
  return `${pass}${w.tp > 1 ? ` tp${w.tp}` : ''} ${w.dtype}`;
}

/** One entry per site per layer kind, in the report's order. */
export function pytorchPlan(report: Report, generator = 'deferred-norm'): Plan {
  const family = patchFamily(report);
  const sites = report.layerKinds.flatMap((kind) =>
    kind.sites.map(
      (s): PlanSite => ({
        id: s.id,
        name: s.name,
        kind: s.kind,
        norm: s.norm,
        linears: s.kind === 'softmax' ? [] : [...s.consumers],
        layers: [...kind.layers],
        decision: s.decision,
        depth: s.decision === 'defer' ? s.depth : null,
        reason: s.reason,
        // The report's µs to the ns; more digits would claim a precision the simulation does not have.
        savedUs: Math.round(s.savedUs * 1000) / 1000,
      }),
    ),
  );
  return { format: PLAN_FORMAT, model: report.model.name, family, hardware: report.hardware.name, workload: planWorkload(report.workload), generator, sites };
}

/** What the patch does with a site: applies it when deferred, otherwise skips it for the report's reason. */
export interface PatchStatus {
  applied: boolean;
  /** Short, for a table cell: "applied by the patch", "skipped: kept", "skipped: ineligible". */
  label: string;
  /** The label with the reason: "skipped: post-norm: its output is the residual stream itself, …". */
  detail: string;
}

const SKIPPED: Record<Exclude<Decision, 'defer'>, string> = { keep: 'skipped: kept', ineligible: 'skipped: ineligible' };

/** The families whose attention forward the runtime replaces, so a scale can go past the projections. */
const DEEP_ATTENTION_FAMILIES: ReadonlySet<PatchFamily> = new Set(['llama', 'mistral', 'gemma', 'gemma2']);

/** Why the runtime skips every Softmax site (python/deferred_norm_patch.py says the same). */
export const SOFTMAX_SKIP_REASON = "PyTorch's SDPA and FlashAttention already divide by the row sum after ·V; the patch does not replace the attention's softmax";

export function patchStatus(site: Pick<PlanSite, 'decision' | 'reason' | 'kind' | 'depth'>, family: PatchFamily): PatchStatus {
  if (site.decision !== 'defer') return { applied: false, label: SKIPPED[site.decision], detail: `skipped: ${site.reason}` };
  if (site.kind === 'softmax') return { applied: false, label: 'skipped: kernel', detail: `skipped: ${SOFTMAX_SKIP_REASON}` };
  const deep = site.depth !== null && site.depth !== 'linear';
  if (deep && (site.depth === 'down' || !DEEP_ATTENTION_FAMILIES.has(family))) {
    const why = site.depth === 'down' ? 'no family the patch handles has a ReLU MLP' : `the patch replaces only the Llama-style attention forward, not ${family}'s`;
    return { applied: true, label: 'applied after linear', detail: `applied by the patch after the linear layer, not ${site.depth === 'down' ? 'past the MLP' : 'deeper'}: ${why}` };
  }
  return { applied: true, label: 'applied by the patch', detail: `applied by the patch: ${site.reason}` };
}

/** A value a Python literal can hold (what the plan is made of). */
export type PyValue = null | boolean | number | string | readonly PyValue[] | { readonly [key: string]: PyValue };

/**
 * The inside of a double-quoted Python string: ASCII only, every quote, backslash and control
 * character escaped, non-ASCII as \u/\U escapes. Inside `"…"` or `"""…"""` it reads back as `text`.
 */
export function pythonStringBody(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is one code point (\U); a lone surrogate stays one \u escape, as Python allows.
    const next = text.charCodeAt(i + 1);
    const cp = unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00) : unit;
    if (cp > 0xffff) i++;
    const ch = String.fromCodePoint(cp);
    if (ch === '\\' || ch === '"' || ch === "'") out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out;
}

function pythonNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`a plan number must be finite, found ${n}`);
  // JavaScript's shortest round-trip form is valid Python (1e-7, 1.5e+21); -0 reads as 0.
  return Object.is(n, -0) ? '0' : String(n);
}

const isScalar = (v: PyValue): boolean => v === null || typeof v !== 'object';

/** A Python literal for `value` (ast.literal_eval reads it back), indented by 4 spaces a level; lists of scalars stay on one line. */
export function pythonLiteral(value: PyValue, level = 0): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pythonNumber(value);
  if (typeof value === 'string') return `"${pythonStringBody(value)}"`;
  const pad = '    '.repeat(level + 1);
  const end = '    '.repeat(level);
  if (Array.isArray(value)) {
    const items = value as readonly PyValue[];
    if (items.length === 0) return '[]';
    if (items.every(isScalar)) return `[${items.map((v) => pythonLiteral(v)).join(', ')}]`;
    return `[\n${items.map((v) => `${pad}${pythonLiteral(v, level + 1)},`).join('\n')}\n${end}]`;
  }
  const entries = Object.entries(value as { readonly [key: string]: PyValue });
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${pad}"${pythonStringBody(k)}": ${pythonLiteral(v, level + 1)},`).join('\n')}\n${end}}`;
}

/** The plan as the runtime reads it (a plain object: every field a PyValue). */
function planValue(plan: Plan): PyValue {
  return { ...plan, sites: plan.sites.map((s) => ({ ...s })) };
}

/** `from __future__` imports must open a module, so the runtime's go above PLAN (they change nothing else). */
function splitFutureImports(runtime: string): { future: string[]; rest: string } {
  const future: string[] = [];
  const rest = runtime
    .split('\n')
    .filter((line) => {
      if (!/^from __future__ import /.test(line)) return true;
      future.push(line);
      return false;
    })
    .join('\n');
  return { future, rest };
}

/** The generated module: header docstring, `PLAN = …`, the runtime verbatim (its `__main__` guard last). */
export function pytorchModule(report: Report, runtimeSource: string, generator = 'deferred-norm'): string {
  const plan = pytorchPlan(report, generator);
  const deferred = plan.sites.filter((s) => s.decision === 'defer').length;
  const text = (s: string) => pythonStringBody(s);
  const header = [
    `"""Deferred-norm PyTorch patch for ${text(plan.model)} (family ${plan.family}).`,
    '',
    `Generated by ${text(generator)}; do not edit it, generate it again.`,
    `Hardware: ${text(report.hardware.name)} (${text(report.hardware.title)})`,
    `Workload: ${text(plan.workload)}`,
    `Sites: ${deferred} of ${plan.sites.length} deferred (one entry per site per layer kind).`,
    '',
    'Which sites to defer was decided from a simulated estimate of latency on that hardware',
    'and workload, not from a measurement. apply(model) rewrites the deferred sites of a loaded',
    'model, checks its outputs against the original, and restores it if they differ.',
    '',
    'Use:  import deferred_norm_patch; deferred_norm_patch.apply(model)',
    '  or: python deferred_norm_patch.py MODEL_FOLDER',
    '"""',
  ];
  const { future, rest } = splitFutureImports(runtimeSource);
  return [...header, ...future, '', `PLAN = ${pythonLiteral(planValue(plan))}`, '', rest.replace(/\n*$/, '\n')].join('\n');
}
