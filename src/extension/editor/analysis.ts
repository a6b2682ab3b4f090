/**
 * What the editor features (hover, CodeLens, status bar, diagnostics) know about one model config's
 * text: its fields by role, the problems in it, and the simulated figures on a machine and workload.
 * Pure and core-side: the editor runs it in its worker (dist/editor-worker.js, worker.ts), started
 * only when a model config is opened. Never runs the numerics check: the first hover must not wait on
 * it. The file is untrusted: keys are probed with Object.hasOwn, and every walk over its sizes or keys
 * is bounded (counted on a WorkMeter the tests read).
 */
import { InputError, type InputErrorKind } from '../../core/errors';
import { parseLenientJson } from '../../core/json';
import { specFromConfig } from '../../core/model/config';
import { KEYS } from '../../core/model/families/common';
import { isObject, type JsonObject } from '../../core/json';
import type { LayerKind, ModelSpec } from '../../core/model/spec';
import type { EndToEnd, LayerKindResult, MemoryReport, Report, Totals } from '../../core/report/types';
import { DTYPE_BYTES, type HardwareProfile } from '../../core/hardware/profile';
import { reportOf } from '../../core/report/profile';
import { graphContext, simulate, type KindSimulation } from '../../core/sim/simulate';
import { checkWorkloadForModel, type Workload } from '../../core/workload';
import { FILE_CAPS } from '../../core/files';
import { num } from '../../core/report/text';
import { MODEL_MARKER_KEYS } from './markers';
import { workloadFor } from '../../common/panel-view';
import type { WorkloadInput } from '../../common/protocol';

/** What a config key is for the profile. Keys come from the core's own alias chains (KEYS). */
export type FieldRole = 'hidden' | 'layers' | 'heads' | 'kvHeads' | 'headDim' | 'ffn' | 'experts' | 'topK' | 'eps' | 'vocab' | 'dtype' | 'modelType' | 'architectures';

const ROLE_KEYS: [FieldRole, readonly string[]][] = [
  ['hidden', KEYS.hidden],
  ['layers', KEYS.layers],
  ['heads', KEYS.heads],
  ['kvHeads', KEYS.kvHeads],
  ['headDim', ['head_dim']],
  ['ffn', KEYS.ffn],
  ['experts', KEYS.experts],
  ['topK', KEYS.topK],
  ['eps', KEYS.eps],
  ['vocab', KEYS.vocab],
  ['dtype', ['torch_dtype', 'dtype']],
  ['modelType', ['model_type']],
  ['architectures', ['architectures']],
];

/** The role of a key, by the core's alias chains; undefined for keys the profile does not read by role. */
export function roleOfKey(key: string): FieldRole | undefined {
  return ROLE_KEYS.find(([, keys]) => keys.includes(key))?.[0];
}

/** Every key that has a role, in the order the alias chains list them (a fixed, short list). */
const ROLE_KEY_LIST: readonly [string, FieldRole][] = ROLE_KEYS.flatMap(([role, keys]) => keys.map((key): [string, FieldRole] => [key, role]));

/**
 * Counts the steps the analysis takes over sizes and keys read from the file (divisor candidates,
 * keys probed), so that tests can check the work stays bounded whatever the file holds.
 */
export interface WorkMeter {
  steps: number;
}

/** A JSON path inside the config: object keys and array indices. */
export type JsonPath = (string | number)[];

export type ProblemSeverity = 'error' | 'warning' | 'information';

export interface ConfigProblem {
  path: JsonPath;
  severity: ProblemSeverity;
  message: string;
  /** Values that would fix it, nearest first (offered as quick fixes). */
  fixes: number[];
}

export interface SiteFigure {
  name: string;
  kind: 'rmsnorm' | 'layernorm' | 'softmax';
  decision: 'defer' | 'keep' | 'ineligible';
  savedUs: number;
  /** The norm's placement (pre, post, sandwich, qk, …) for norm sites. */
  placement: string | null;
}

/** The figures the hovers and lenses show; every one of them a simulated estimate. */
export interface ConfigFigures {
  hardware: string;
  /** The workload as simulated, dtype resolved. */
  workload: Omit<WorkloadInput, 'tp'> & Pick<Workload, 'tp' | 'tpChosen'> & { dtype: string };
  totals: Totals;
  /** Layers (and head) the totals sum: the head's time and its sites (the final norm, the logits). */
  headUs: { baseline: number; deferred: number; sites: SiteFigure[] } | null;
  /** Memory per device against the machine's tiers, with the smallest TP that fits (report/memory.ts). */
  memory: Pick<MemoryReport, 'fits' | 'minimumTp' | 'warnings'> & { perDeviceBytes: number };
  /** TTFT, TPOT and tokens/s, baseline and deferred (report/end-to-end.ts). */
  endToEnd: EndToEnd;
  /** Bytes of all the weights at the simulated dtype (params × bytes per value). */
  weightBytes: number;
  /** The most common layer kind: what "a layer" means in a hover. */
  layer: {
    id: string;
    label: string;
    count: number;
    baselineUs: number;
    deferredUs: number;
    savedUs: number;
    savedPct: number;
    sites: SiteFigure[];
    /** Matrix-engine busy time of the MLP's linears over the layer's, baseline schedule. */
    mlpMatrixUs: number;
    matrixUs: number;
  };
  /** Bytes the KV cache grows by per token of context, over all attention layers. */
  kvCache: { bytesPerToken: number; bytesPerValue: number; attentionLayers: number; latent: boolean };
}

export interface ConfigModel {
  name: string;
  family: string;
  modelType: string;
  architecture: string | null;
  /** An unknown model_type read as a Llama-style decoder by its fields. */
  readByFields: boolean;
  hidden: number;
  layers: number;
  normKind: ModelSpec['normKind'];
  normEps: number;
  params: { total: number; active: number };
  vocab: number;
  /** The lm_head's weights (vocab × hidden), and whether they are the embedding table's. */
  lmHeadParams: number;
  tiedEmbeddings: boolean;
  /** The weights' dtype as the file states it (torch_dtype), or null. */
  fileDtype: string | null;
  attention: { kind: string; heads: number; kvHeads: number; headDim: number; vHeadDim: number; window: number | null };
  mlp: {
    kind: string;
    ffn: number;
    gated: boolean;
    activation: string;
    experts: number | null;
    topK: number | null;
    sharedExperts: number | null;
    /** The MLP's linears by their module names, and their share of the layer's weights. */
    linears: string[];
    paramShare: number;
  };
}

export interface ConfigAnalysis {
  /** The language model's keys sit under this path (text_config for multimodal wrappers). */
  prefix: JsonPath;
  /** Every key the hovers explain, where it sits. */
  fields: { path: JsonPath; key: string; role: FieldRole }[];
  problems: ConfigProblem[];
  model: ConfigModel | null;
  figures: ConfigFigures | null;
  /** Why there are no figures: the core's one line (model or workload), with its kind. */
  error: { message: string; field: string; kind: InputErrorKind; inFile: boolean } | null;
}

/** The outcome for a document: not JSON (mid-edit), not a model config, or the analysis. */
export type AnalysisOutcome = { kind: 'invalid-json' } | { kind: 'not-a-model' } | { kind: 'model'; analysis: ConfigAnalysis };


/** Whether a parsed JSON value reads as a model config (at the top level or in its text_config). */
export function looksLikeModelConfig(config: unknown): config is JsonObject {
  if (!isObject(config)) return false;
  const text = ownValue(config, 'text_config');
  return MODEL_MARKER_KEYS.some((k) => Object.hasOwn(config, k)) || (isObject(text) && MODEL_MARKER_KEYS.some((k) => Object.hasOwn(text, k)));
}

export function analyzeConfigText(text: string, path: string, hw: HardwareProfile, input: WorkloadInput, meter?: WorkMeter): AnalysisOutcome {
  // The core's own cap for a config file: beyond it nothing is parsed.
  if (text.length > FILE_CAPS.config.bytes) return { kind: 'not-a-model' };
  let config: unknown;
  try {
    config = parseLenientJson(text, path);
  } catch {
    return { kind: 'invalid-json' };
  }
  if (!looksLikeModelConfig(config)) return { kind: 'not-a-model' };
  return { kind: 'model', analysis: analyzeConfig(config, path, hw, input, meter) };
}

export function analyzeConfig(config: JsonObject, path: string, hw: HardwareProfile, input: WorkloadInput, meter: WorkMeter = { steps: 0 }): ConfigAnalysis {
  const prefix: JsonPath = isObject(ownValue(config, 'text_config')) ? ['text_config'] : [];
  const fields = fieldsOf(config, prefix, meter);
  const problems = configProblems(config, prefix, meter);
  let spec: ModelSpec;
  try {
    spec = specFromConfig(config, { path, format: 'config.json' });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const fieldPath = pathOfField(config, err.field);
    // One problem per field: the core names the first it meets, our checks may have found it already.
    // A head count we flagged is the typo: the core's refusal of the KV heads it breaks is not repeated there.
    const headsBlamed = problems.some((p) => p.severity === 'error' && (KEYS.heads as readonly string[]).includes(String(p.path[p.path.length - 1])));
    const onKvHeads = (KEYS.kvHeads as readonly string[]).includes(err.field.split('.').pop() ?? '');
    if (!problems.some((p) => samePath(p.path, fieldPath ?? [])) && !(headsBlamed && onKvHeads)) {
      problems.push({ path: fieldPath ?? [], severity: severityOf(err.kind), message: err.message, fixes: [] });
    }
    return { prefix, fields, problems, model: null, figures: null, error: { message: err.message, field: err.field, kind: err.kind, inFile: true } };
  }
  const model = modelOf(spec);
  if (model.readByFields) {
    const at = fields.find((f) => f.role === 'modelType')?.path ?? [];
    problems.push({
      path: at,
      severity: 'information',
      message: `Unknown model_type "${spec.modelType}": read by its fields as a Llama-style decoder (pre-norm, q/k/v/o, gated MLP). Check the figures against the model's code.`,
      fixes: [],
    });
  }
  try {
    const workload = workloadFor(spec, hw, input, 'deferredNorm settings');
    checkWorkloadForModel(spec, workload, 'deferredNorm settings');
    const simulation = simulate(spec, hw, workload);
    const report = reportOf(spec, hw, workload, simulation);
    return { prefix, fields, problems, model, figures: figuresOf(spec, hw, report, simulation), error: null };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    // The workload or the hardware, not the file: no diagnostic, the lens says it.
    return { prefix, fields, problems, model, figures: null, error: { message: err.message, field: err.field, kind: err.kind, inFile: false } };
  }
}

function severityOf(kind: InputErrorKind): ProblemSeverity {
  return kind === 'unsupported' ? 'information' : kind === 'limit' ? 'warning' : 'error';
}

function samePath(a: JsonPath, b: JsonPath): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** The core's field name (`text_config.num_key_value_heads`) as a path, if it names a key of the file. */
export function pathOfField(config: JsonObject, field: string): JsonPath | null {
  if (!field) return null;
  const path = field.split('.');
  let node: unknown = config;
  for (const key of path) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return null;
    node = node[key];
  }
  return path;
}

/** A key's own value (never one inherited from Object.prototype, whatever the file names). */
function ownValue(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * The keys with a role, probed by name: the work is the length of the alias list, not the number of
 * keys in the file (which may be millions).
 */
function fieldsOf(config: JsonObject, prefix: JsonPath, meter: WorkMeter): ConfigAnalysis['fields'] {
  const out: ConfigAnalysis['fields'] = [];
  const scopes: [JsonObject, JsonPath][] = [[config, []]];
  const inner = prefix.length ? ownValue(config, prefix[0] as string) : undefined;
  if (isObject(inner)) scopes.push([inner, prefix]);
  for (const [obj, at] of scopes) {
    for (const [key, role] of ROLE_KEY_LIST) {
      meter.steps++;
      if (Object.hasOwn(obj, key)) out.push({ path: [...at, key], key, role });
    }
  }
  return out;
}

/** The language model's object and the first key of an alias chain that it holds. */
function firstKey(obj: JsonObject, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    const value = ownValue(obj, key);
    if (value !== undefined && value !== null) return { key, value };
  }
  return undefined;
}

/**
 * Checks on the file's own values, all of them at once (the core stops at the first): sizes that are
 * zero or negative, heads that do not divide the hidden size, KV heads that do not divide the heads,
 * a layer pattern whose length is not the layer count.
 */
export function configProblems(config: JsonObject, prefix: JsonPath, meter: WorkMeter = { steps: 0 }): ConfigProblem[] {
  const inner = prefix.length ? ownValue(config, prefix[0] as string) : config;
  const cfg = isObject(inner) ? inner : config;
  const at = (key: string): JsonPath => [...prefix, key];
  const problems: ConfigProblem[] = [];
  const sizes: [keyof typeof KEYS, string][] = [
    ['hidden', 'hidden size'],
    ['layers', 'layer count'],
    ['heads', 'number of attention heads'],
    ['kvHeads', 'number of KV heads'],
    ['ffn', 'MLP width'],
    ['experts', 'number of experts'],
    ['topK', 'number of experts per token'],
    ['vocab', 'vocabulary size'],
  ];
  const positive = new Map<string, number>();
  for (const [group, what] of sizes) {
    const found = firstKey(cfg, KEYS[group]);
    if (!found || typeof found.value !== 'number') continue;
    if (found.value <= 0) problems.push({ path: at(found.key), severity: 'error', message: `${found.key}: the ${what} must be a positive integer, found ${found.value}.`, fixes: [] });
    else if (Number.isInteger(found.value)) positive.set(group, found.value);
  }
  const headDim = ownValue(cfg, 'head_dim');
  if (typeof headDim === 'number' && headDim <= 0) problems.push({ path: at('head_dim'), severity: 'error', message: `head_dim: the head width must be a positive integer, found ${headDim}.`, fixes: [] });

  const hidden = positive.get('hidden');
  const heads = positive.get('heads');
  const kvHeads = positive.get('kvHeads');
  const headsKey = firstKey(cfg, KEYS.heads)?.key;
  const kvKey = firstKey(cfg, KEYS.kvHeads)?.key;
  const headsProblem = headCountProblem(hidden, heads, kvHeads, typeof headDim === 'number' && headDim > 0 ? headDim : undefined, meter);
  if (headsProblem && headsKey) problems.push({ path: at(headsKey), severity: 'error', message: `${headsKey}: ${headsProblem.message}`, fixes: headsProblem.fixes });
  // A head count already flagged is the likelier typo: the KV heads are not blamed for it too.
  else if (heads !== undefined && kvHeads !== undefined && kvKey && heads % kvHeads !== 0) {
    problems.push({
      path: at(kvKey),
      severity: 'error',
      message: `${kvKey}: ${kvHeads} KV heads do not divide the ${heads} attention heads (each KV head serves a whole group of query heads).`,
      fixes: nearestDivisors(heads, kvHeads, 3, meter),
    });
  }
  const layers = positive.get('layers');
  if (layers !== undefined) {
    for (const key of ['layer_types', 'layers_block_type']) {
      const list = ownValue(cfg, key);
      if (Array.isArray(list) && list.length !== layers) {
        problems.push({ path: at(key), severity: 'error', message: `${key}: ${list.length} entries for ${layers} layers (${firstKey(cfg, KEYS.layers)?.key}); one per layer is expected.`, fixes: [] });
      }
    }
    for (const key of ['sliding_window_pattern', '_sliding_window_pattern']) {
      const pattern = ownValue(cfg, key);
      if (typeof pattern === 'number' && Number.isInteger(pattern) && pattern > layers) {
        problems.push({
          path: at(key),
          severity: 'warning',
          message: `${key}: every ${pattern}th layer is global, but there are only ${layers} layers: none is.`,
          fixes: [],
        });
      }
    }
  }
  return problems;
}

/**
 * A head count that cannot be right, said with the arithmetic that shows it (issue 20: a typed 23 in
 * Llama-3.2-3B's 24 heads must point at the heads and say 23 × 128 ≠ 3072, not at the KV heads):
 * - no head_dim: the heads must divide the hidden size;
 * - a head_dim: heads × head_dim may differ from the hidden size (Gemma's do), so the count is blamed
 *   only when it also breaks the KV grouping while hidden / head_dim would keep it.
 * Fixes: counts that satisfy both, nearest first.
 */
function headCountProblem(hidden: number | undefined, heads: number | undefined, kvHeads: number | undefined, headDim: number | undefined, meter: WorkMeter): { message: string; fixes: number[] } | undefined {
  if (hidden === undefined || heads === undefined) return undefined;
  const groupsOk = (n: number): boolean => kvHeads === undefined || n % kvHeads === 0;
  const kvNote = kvHeads !== undefined && !groupsOk(heads) ? `; nor is ${heads} a multiple of the ${kvHeads} KV heads` : '';
  if (headDim === undefined) {
    if (hidden % heads === 0) return undefined;
    const divisors = nearestDivisors(hidden, heads, 6, meter);
    const fitting = divisors.filter(groupsOk);
    return {
      message: `${heads} heads do not divide the hidden size ${hidden} (${hidden} / ${heads} = ${num(hidden / heads, 2)}), and no head_dim is given${kvNote}.`,
      fixes: [...fitting, ...divisors.filter((d) => !groupsOk(d))].slice(0, 3),
    };
  }
  const implied = hidden / headDim;
  if (heads * headDim === hidden || groupsOk(heads) || !Number.isInteger(implied) || !groupsOk(implied)) return undefined;
  return {
    message: `${heads} heads × head_dim ${headDim} = ${num(heads * headDim, 0)} ≠ hidden size ${num(hidden, 0)}${kvNote}; ${implied} heads fit both.`,
    fixes: [implied],
  };
}

/**
 * How far either side of the written count the divisor search looks. A fix is a count near the one
 * written; a full divisor search walks √n candidates, which for a typed 1e20 froze the extension host.
 */
export const DIVISOR_SEARCH_SPAN = 1024;

/**
 * Divisors of `n` closest to `near` (ties: the smaller first), at most `limit` of them, among those
 * within DIVISOR_SEARCH_SPAN of `near`: at most 2 × DIVISOR_SEARCH_SPAN candidates, whatever `n` is.
 */
export function nearestDivisors(n: number, near: number, limit = 3, meter: WorkMeter = { steps: 0 }): number[] {
  const divisors: number[] = [];
  const divides = (d: number): boolean => {
    meter.steps++;
    return d >= 1 && d <= n && n % d === 0;
  };
  for (let distance = 1; distance <= DIVISOR_SEARCH_SPAN && divisors.length < limit; distance++) {
    // Outward from `near`: the smaller of two at the same distance first.
    for (const d of [near - distance, near + distance]) if (divides(d) && divisors.length < limit) divisors.push(d);
  }
  return divisors;
}

const MLP_ROLES = new Set(['gate', 'up', 'gate_up', 'fc1', 'down', 'router', 'shared_gate', 'shared_up', 'shared_down']);

/** The layer kind most layers are (what "a layer" means in a hover). */
function mainKind(spec: ModelSpec): LayerKind {
  return spec.layerKinds.reduce((a, b) => (b.layers.length > a.layers.length ? b : a));
}

function weightsOf(lin: LayerKind['linears'][number]): number {
  return lin.in * lin.out * (lin.copies?.active ?? 1);
}

function modelOf(spec: ModelSpec): ConfigModel {
  const kind = mainKind(spec);
  const mlpLinears = kind.linears.filter((l) => MLP_ROLES.has(l.role));
  const allWeights = kind.linears.reduce((s, l) => s + weightsOf(l), 0);
  const mlpWeights = mlpLinears.reduce((s, l) => s + weightsOf(l), 0);
  const a = kind.attention;
  const m = kind.mlp;
  return {
    name: spec.name,
    family: spec.family,
    modelType: spec.modelType,
    architecture: spec.architecture,
    // The core notes an unknown model_type it reads as a Llama-style decoder (families/decoders.ts).
    readByFields: spec.notes.some((n) => n.startsWith('Unknown model_type')),
    hidden: spec.hidden,
    layers: spec.layers,
    normKind: spec.normKind,
    normEps: spec.normEps,
    params: spec.params,
    vocab: spec.vocab,
    lmHeadParams: spec.lmHead ? spec.lmHead.in * spec.lmHead.out : spec.vocab * spec.hidden,
    tiedEmbeddings: spec.tiedEmbeddings,
    fileDtype: spec.dtype,
    attention: { kind: a.kind, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim, vHeadDim: a.vHeadDim, window: a.window },
    mlp: {
      kind: m.kind,
      ffn: m.ffn,
      gated: m.gated,
      activation: m.activation,
      experts: m.experts ?? null,
      topK: m.topK ?? null,
      sharedExperts: m.sharedExperts ?? null,
      linears: mlpLinears.map((l) => l.name),
      paramShare: allWeights > 0 ? mlpWeights / allWeights : 0,
    },
  };
}

/** Whether a simulated op belongs to one of the named linears (`down_proj`, `down_proj[2/4]`, `down_proj.load[…]`). */
function opOf(opName: string, linears: readonly string[]): boolean {
  return linears.some((n) => opName === n || opName.startsWith(n + '[') || opName.startsWith(n + '.'));
}

function figuresOf(spec: ModelSpec, hw: HardwareProfile, report: Report, simulation: { dtype: string; kinds: KindSimulation[] }): ConfigFigures {
  const kind = mainKind(spec);
  const result = report.layerKinds.find((k) => k.id === kind.id) as LayerKindResult;
  const sim = simulation.kinds.find((k) => k.id === kind.id) as KindSimulation;
  const mlpNames = kind.linears.filter((l) => MLP_ROLES.has(l.role)).map((l) => l.name);
  let matrixNs = 0;
  let mlpMatrixNs = 0;
  sim.baseline.graph.ops.forEach((op, i) => {
    if (op.engine !== 'matrix') return;
    const busy = sim.baseline.times.busy[i] ?? 0;
    matrixNs += busy;
    if (opOf(op.name, mlpNames)) mlpMatrixNs += busy;
  });
  const head = report.layerKinds.find((k) => k.id === 'head');
  const placementOf = (siteName: string): string | null => kind.norms.find((n) => siteName.startsWith(n.name))?.placement ?? null;
  return {
    hardware: hw.name,
    workload: { ...report.workload, dtype: report.workload.dtype },
    totals: report.totals,
    headUs: head ? { baseline: head.baselineUs, deferred: head.deferredUs, sites: head.sites.map((s) => ({ name: s.name, kind: s.kind, decision: s.decision, savedUs: s.savedUs, placement: null })) } : null,
    memory: { fits: report.memory.fits, minimumTp: report.memory.minimumTp, warnings: report.memory.warnings, perDeviceBytes: report.memory.perDevice.totalBytes },
    endToEnd: report.endToEnd,
    weightBytes: spec.params.total * DTYPE_BYTES[report.workload.dtype],
    layer: {
      id: result.id,
      label: result.label,
      count: result.layers.length,
      baselineUs: result.baselineUs,
      deferredUs: result.deferredUs,
      savedUs: result.savedUs,
      savedPct: result.savedPct,
      sites: result.sites.map((s) => ({ name: s.name, kind: s.kind, decision: s.decision, savedUs: s.savedUs, placement: s.kind === 'softmax' ? null : placementOf(s.name) })),
      mlpMatrixUs: mlpMatrixNs / 1000,
      matrixUs: matrixNs / 1000,
    },
    kvCache: kvCacheOf(spec, graphContext(hw, report.workload, simulation.dtype as Report['workload']['dtype']).activationBytes),
  };
}

/**
 * KV-cache bytes per token of context, as the simulator stores it: per attention layer, K and V of
 * every KV head (head_dim + v_head_dim values each) at the activation width (16 bits when weights are
 * narrower); MLA keeps one latent (kv_lora_rank + rope dim) instead.
 */
export function kvCacheOf(spec: ModelSpec, bytesPerValue: number): ConfigFigures['kvCache'] {
  let bytesPerToken = 0;
  let attentionLayers = 0;
  let latent = false;
  for (const kind of spec.layerKinds) {
    if (kind.stack !== 'decoder') continue;
    const a = kind.attention;
    const values = a.mla ? a.mla.kvLoraRank + a.mla.ropeHeadDim : a.kvHeads * (a.headDim + a.vHeadDim);
    latent ||= a.mla !== undefined;
    bytesPerToken += kind.layers.length * values * bytesPerValue;
    attentionLayers += kind.layers.length;
  }
  return { bytesPerToken, bytesPerValue, attentionLayers, latent };
}
