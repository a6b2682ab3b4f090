/**
 * What `deferred-norm inspect` shows: a JSON summary of a ModelSpec and the same
 * facts as a plain-text table for the terminal.
 */
import { layerParams } from './params';
import type { LayerKind, ModelSpec, NormPlacement } from './spec';

export interface LayerKindSummary {
  id: string;
  label: string;
  /** Number of layers of this kind. */
  count: number;
  /** The layer indices as ranges, e.g. "0-2, 5, 7-9". */
  layers: string;
  indices: number[];
  stack: LayerKind['stack'];
  block: LayerKind['block'];
  attention: { kind: string; heads: number; kvHeads: number; headDim: number; vHeadDim: number; window: number | null; causal: boolean };
  crossAttention: boolean;
  mlp: { kind: string; ffn: number; activation: string; gated: boolean; experts?: number; topK?: number; sharedExperts?: number; sharedFfn?: number };
  norms: { name: string; role: string; kind: string; placement: NormPlacement; width: number; feeds: string[] }[];
  linears: { name: string; role: string; in: number; out: number; bias: boolean; copies?: { total: number; active: number } }[];
  paramsPerLayer: { total: number; active: number };
}

export interface SpecSummary {
  name: string;
  family: string;
  modelType: string;
  architecture: string | null;
  source: ModelSpec['source'];
  topology: ModelSpec['topology'];
  /** Layers profiled. */
  layers: number;
  /** Layers in the model, skipped ones included. */
  totalLayers: number;
  hidden: number;
  /** Attention and MLP sizes of the most common layer kind. */
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
  normKind: ModelSpec['normKind'];
  normEps: number;
  positions: ModelSpec['positions'];
  maxPositions: number | null;
  tiedEmbeddings: boolean;
  dtype: string | null;
  params: { total: number; active: number; fromWeights: number | null };
  layerKinds: LayerKindSummary[];
  finalNorm: string | null;
  lmHead: { name: string; in: number; out: number } | null;
  vision: ModelSpec['vision'];
  skippedLayers: ModelSpec['skippedLayers'];
  notes: string[];
}

/** "0-2, 5, 7-9" */
export function indexRanges(indices: number[]): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

function mainKind(spec: ModelSpec): LayerKind | undefined {
  return [...spec.layerKinds].sort((a, b) => b.layers.length - a.layers.length)[0];
}

export function summarizeSpec(spec: ModelSpec): SpecSummary {
  const main = mainKind(spec);
  const skipped = spec.skippedLayers.reduce((n, s) => n + s.indices.length, 0);
  return {
    name: spec.name,
    family: spec.family,
    modelType: spec.modelType,
    architecture: spec.architecture,
    source: spec.source,
    topology: spec.topology,
    layers: spec.layers,
    totalLayers: spec.layers + skipped,
    hidden: spec.hidden,
    heads: main?.attention.heads ?? 0,
    kvHeads: main?.attention.kvHeads ?? 0,
    headDim: main?.attention.headDim ?? 0,
    ffn: main?.mlp.ffn ?? 0,
    vocab: spec.vocab,
    normKind: spec.normKind,
    normEps: spec.normEps,
    positions: spec.positions,
    maxPositions: spec.maxPositions,
    tiedEmbeddings: spec.tiedEmbeddings,
    dtype: spec.dtype,
    params: { total: spec.params.total, active: spec.params.active, fromWeights: spec.paramsFromWeights },
    layerKinds: spec.layerKinds.map(summarizeKind),
    finalNorm: spec.finalNorm?.name ?? null,
    lmHead: spec.lmHead ? { name: spec.lmHead.name, in: spec.lmHead.in, out: spec.lmHead.out } : null,
    vision: spec.vision,
    skippedLayers: spec.skippedLayers,
    notes: spec.notes,
  };
}

function summarizeKind(k: LayerKind): LayerKindSummary {
  const a = k.attention;
  const mlp: LayerKindSummary['mlp'] = { kind: k.mlp.kind, ffn: k.mlp.ffn, activation: k.mlp.activation, gated: k.mlp.gated };
  if (k.mlp.experts !== undefined) mlp.experts = k.mlp.experts;
  if (k.mlp.topK !== undefined) mlp.topK = k.mlp.topK;
  if (k.mlp.sharedExperts !== undefined) mlp.sharedExperts = k.mlp.sharedExperts;
  if (k.mlp.sharedFfn !== undefined) mlp.sharedFfn = k.mlp.sharedFfn;
  return {
    id: k.id,
    label: k.label,
    count: k.layers.length,
    layers: indexRanges(k.layers),
    indices: k.layers,
    stack: k.stack,
    block: k.block,
    attention: { kind: a.kind, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim, vHeadDim: a.vHeadDim, window: a.window, causal: a.causal },
    crossAttention: k.crossAttention !== undefined,
    mlp,
    norms: k.norms.map((n) => ({ name: n.name, role: n.role, kind: n.kind, placement: n.placement, width: n.width, feeds: n.feeds })),
    linears: k.linears.map((l) => ({ name: l.name, role: l.role, in: l.in, out: l.out, bias: l.bias, ...(l.copies ? { copies: l.copies } : {}) })),
    paramsPerLayer: { total: layerParams(k, 'total'), active: layerParams(k, 'active') },
  };
}

const n = (x: number) => x.toLocaleString('en');

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** A readable plain-text description of a spec (no colours). */
export function formatSpecTable(spec: ModelSpec): string {
  const s = summarizeSpec(spec);
  const lines: string[] = [];
  lines.push(`${s.name}  (${s.family}${s.architecture ? `, ${s.architecture}` : ''})`);
  const normName = s.normKind === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm';
  const facts: string[][] = [
    ['source', `${s.source.path} (${s.source.format})`],
    ['topology', `${s.topology}, ${s.layers} layers${s.totalLayers !== s.layers ? ` profiled of ${s.totalLayers}` : ''}`],
    ['sizes', `hidden ${n(s.hidden)}, heads ${s.heads} (kv ${s.kvHeads}) × ${s.headDim}, ffn ${n(s.ffn)}, vocab ${n(s.vocab)}`],
    ['norm', `${normName}, eps ${s.normEps < 1e-3 ? s.normEps.toExponential() : s.normEps}`],
    ['positions', `${s.positions}${s.maxPositions !== null ? `, up to ${n(s.maxPositions)}` : ''}`],
    ['embeddings', s.tiedEmbeddings ? 'tied to the output layer' : 'separate from the output layer'],
    ['dtype', s.dtype ?? 'unknown'],
    ['params', `${n(s.params.total)} total${s.params.active !== s.params.total ? `, ${n(s.params.active)} active per token` : ''}`],
  ];
  if (s.params.fromWeights !== null) facts.push(['weights', `${n(s.params.fromWeights)} elements in the weight files`]);
  if (s.vision) facts.push(['vision', `${s.vision.description} (not profiled)`]);
  lines.push(...table(facts).map((l) => '  ' + l), '');

  lines.push('Layer kinds');
  const rows: string[][] = [['id', 'layers', 'count', 'block', 'attention', 'mlp', 'norms (placement)', 'params/layer']];
  for (const k of s.layerKinds) {
    const a = k.attention;
    const attn = `${a.kind.toUpperCase()} ${a.heads}/${a.kvHeads}×${a.headDim}${a.window !== null ? ` win ${a.window}` : ''}${k.crossAttention ? ' +cross' : ''}`;
    const m = k.mlp;
    const mlp = m.kind === 'moe' ? `MoE ${m.experts}×top-${m.topK} ${n(m.ffn)}${m.sharedExperts ? ` +${m.sharedExperts} shared` : ''}` : `${m.kind} ${n(m.ffn)} ${m.activation}`;
    const norms = k.norms.map((x) => `${x.name}(${x.placement})`).join(' ');
    const params = k.paramsPerLayer.active !== k.paramsPerLayer.total ? `${n(k.paramsPerLayer.total)} (${n(k.paramsPerLayer.active)} active)` : n(k.paramsPerLayer.total);
    rows.push([k.id, k.layers, String(k.count), k.block, attn, mlp, norms, params]);
  }
  lines.push(...table(rows).map((l) => '  ' + l));
  if (s.finalNorm || s.lmHead) {
    lines.push(`  head: ${s.finalNorm ?? 'no final norm'} → ${s.lmHead ? `${s.lmHead.name} (${n(s.lmHead.in)} → ${n(s.lmHead.out)})` : 'no output layer'}`);
  }
  if (s.skippedLayers.length) {
    lines.push('', 'Skipped layers');
    for (const sk of s.skippedLayers) lines.push(`  ${indexRanges(sk.indices)}: ${sk.reason}`);
  }
  if (s.notes.length) {
    lines.push('', 'Notes');
    for (const note of s.notes) lines.push(`  - ${note}`);
  }
  return lines.join('\n') + '\n';
}
