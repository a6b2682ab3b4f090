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
import { MODEL_MARKER_KEYS } from './markers';
import { ownValue } from '../../core/own';
import { configProblems, type ConfigProblem, type JsonPath, type ProblemSeverity, type WorkMeter } from '../../core/model/config-problems';
import { workloadFor } from '../../common/panel-view';
import type { WorkloadInput } from '../../common/protocol';

// The config checks are the core's; the editor's tests and features read them from here too.
export { configProblems, DIVISOR_SEARCH_SPAN, nearestDivisors, type ConfigProblem, type JsonPath, type ProblemSeverity, type WorkMeter } from '../../core/model/config-problems';

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
    readByFields: spec.readAs === 'fields',
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

function figuresOf(spec: ModelSpec, hw: HardwareProfile, report: Report, simulation: { dtype: string; kinds: KindSimulation[] }): ConfigFigures {
  const kind = mainKind(spec);
  const result = report.layerKinds.find((k) => k.id === kind.id) as LayerKindResult;
  const sim = simulation.kinds.find((k) => k.id === kind.id) as KindSimulation;
  let matrixNs = 0;
  let mlpMatrixNs = 0;
  sim.baseline.graph.ops.forEach((op, i) => {
    if (op.engine !== 'matrix') return;
    const busy = sim.baseline.times.busy[i] ?? 0;
    matrixNs += busy;
    // A matmul tile of an MLP linear, or a deferred scale fused into one.
    if (op.linear && MLP_ROLES.has(op.linear.role)) mlpMatrixNs += busy;
  });
  const head = report.layerKinds.find((k) => k.id === 'head');
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
      // The report lists a kind's sites in the simulation's order: each one's norm is the site's own.
      sites: result.sites.map((s, i) => ({ name: s.name, kind: s.kind, decision: s.decision, savedUs: s.savedUs, placement: sim.sites[i]?.site.norm?.placement ?? null })),
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
