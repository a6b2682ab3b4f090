/**
 * The words of the editor features: hover Markdown per config key, the CodeLens title, the status bar
 * text. Pure (no vscode), computed from a ConfigAnalysis. Model files are untrusted: every string that
 * comes from one (names, module names, messages quoting values) is escaped before it enters Markdown.
 */
import { DTYPE_BYTES, type Dtype } from '../../core/hardware/profile';
import { tpText } from '../../core/report/tensor-parallel';
import { byteCount, count, duration, num, percent, tokenRate } from '../../core/report/text';
import type { ConfigAnalysis, ConfigFigures, ConfigModel, FieldRole, SiteFigure } from './analysis';

/** The command a hover's link and the CodeLens run (the only one the hover Markdown may run). */
export const OPEN_REPORT_COMMAND = 'deferredNorm.profileModel';

/** Backslash-escapes Markdown syntax (as MarkdownString.appendText does) and flattens newlines. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, '\\$&').replace(/\s*[\r\n]+\s*/g, ' ');
}

/** `command:` link that opens the report of the file whose URI is given as its JSON form. */
export function openReportLink(uriJson: unknown): string {
  return `command:${OPEN_REPORT_COMMAND}?${encodeURIComponent(JSON.stringify([uriJson]))}`;
}

/**
 * "decode b32 ctx2048 TP auto → 16", "prefill b1 seq4096 tp2": the workload as short as a lens can hold
 * it; a degree chosen by 'auto' always says so (the fit warning beside it says when none fits).
 */
export function shortWorkload(w: ConfigFigures['workload']): string {
  const pass = w.phase === 'prefill' ? `prefill b${w.batch} seq${w.seq}` : `decode b${w.batch} ctx${w.context}`;
  if (w.tpChosen) return `${pass} TP auto → ${w.tp}`;
  return w.tp > 1 ? `${pass} tp${w.tp}` : pass;
}

/** A signed saving as the lens shows it: a saving is a reduction, "−20.3%". */
export function savingText(savedPct: number): string {
  return savedPct >= 0 ? `−${num(savedPct, 1)}%` : `+${num(-savedPct, 1)}%`;
}

/**
 * The end-to-end figure of the phase, deferred: "TPOT 11.87 ms, 2,696 tokens/s" in decode, "TTFT 2.18 s"
 * in prefill; null when the model has no such pass (an encoder's decode).
 */
export function endToEndText(f: ConfigFigures): string | null {
  const time = endToEndTime(f);
  const rate = f.workload.phase === 'decode' ? f.endToEnd.tokensPerSecond : null;
  return time && rate ? `${time}, ${tokenRate(rate.deferred)}` : time;
}

/** The pass's end-to-end time alone ("TPOT 608.4 µs" or "TTFT 867.84 ms"): what the one-line lens has room for. */
function endToEndTime(f: ConfigFigures): string | null {
  const e = f.endToEnd;
  if (f.workload.phase === 'prefill') return e.ttft ? `TTFT ${duration(e.ttft.deferredUs)}` : null;
  return e.tpot ? `TPOT ${duration(e.tpot.deferredUs)}` : null;
}

/** "does not fit: TP ≥ 16" (or "does not fit at any TP"); null when it fits. */
export function fitText(f: ConfigFigures): string | null {
  if (f.memory.fits) return null;
  return f.memory.minimumTp === null ? 'does not fit at any TP' : `does not fit: TP ≥ ${f.memory.minimumTp}`;
}

export function lensTitle(analysis: ConfigAnalysis, hardwareLabel: string): string {
  const f = analysis.figures;
  if (!f) return `Deferred norm: not profiled (${analysis.error?.inFile === false ? 'settings' : 'see Problems'})`;
  // One line above the file that must leave room for "Open report": the time alone, and the fit in two words.
  const e2e = endToEndTime(f);
  const fit = f.memory.fits ? null : f.memory.minimumTp === null ? 'fits at no TP' : `needs TP ≥ ${f.memory.minimumTp}`;
  return `Deferred norm: ${savingText(f.totals.savedPct)} on ${hardwareLabel} · ${shortWorkload(f.workload)}${e2e ? ` · ${e2e}` : ''}${fit ? ` · $(warning) ${fit}` : ''}`;
}

/** The degree in the status bar: " TP auto → 16" when auto chose it, " TP 8" when set, nothing at one chip as set. */
function statusTp(w: ConfigFigures['workload']): string {
  return w.tpChosen ? ` TP auto → ${w.tp}` : w.tp > 1 ? ` TP ${w.tp}` : '';
}

export function statusText(analysis: ConfigAnalysis, hardwareLabel: string): { text: string; tooltip: string } {
  const f = analysis.figures;
  if (!f) return { text: '$(pulse) Deferred norm: —', tooltip: analysis.error?.message ?? 'Not profiled' };
  const e2e = endToEndText(f);
  const fit = fitText(f);
  return {
    text: `$(pulse) ${savingText(f.totals.savedPct)} ${hardwareLabel}${statusTp(f.workload)}${fit ? ' $(warning)' : ''}`,
    tooltip: [
      `Deferred norm: ${savingText(f.totals.savedPct)} latency (simulated) on ${hardwareLabel} · ${shortWorkload(f.workload)}.`,
      ...(e2e ? [`Deferred: ${e2e}.`] : []),
      `Memory per device: ${byteCount(f.memory.perDeviceBytes, 1000)}${fit ? `, ${fit}` : ', fits'}.`,
      'Click to open the report.',
    ].join(' '),
  };
}

/** The end-to-end figures, baseline → deferred, and the memory per device with its warning, for the whole-model hovers. */
function wholeModelLines(f: ConfigFigures): string[] {
  const e = f.endToEnd;
  const pass = (label: string, t: { baselineUs: number; deferredUs: number } | null): string[] => (t ? [`${label} ${duration(t.baselineUs)} → ${duration(t.deferredUs)}`] : []);
  const parts = [...pass('TTFT', e.ttft), ...pass('TPOT', e.tpot), ...(e.tokensPerSecond ? [`${tokenRate(e.tokensPerSecond.baseline)} → ${tokenRate(e.tokensPerSecond.deferred)}`] : [])];
  const memory = `Memory per device: ${byteCount(f.memory.perDeviceBytes, 1000)} at ${tpText(f.workload)}${f.memory.fits ? (f.workload.tpChosen ? '.' : ', fits.') : ''}`;
  return [
    ...(parts.length ? [`End to end (batch ${f.workload.batch}): ${parts.join('; ')}.`] : []),
    f.memory.fits ? memory : `${memory}. **Warning:** ${f.memory.warnings.map(escapeMarkdown).join(' ')}`,
  ];
}

const us = (v: number): string => `${num(v, 2)} µs`;

/** "2 B", "0.5 B": bytes per weight value of a dtype. */
const bytesPerValue = (dtype: string): string => (Object.hasOwn(DTYPE_BYTES, dtype) ? `${DTYPE_BYTES[dtype as Dtype]} B` : 'its bytes');

/** 134,217,728 → "128 MiB". */
export const bytesText = (bytes: number): string => byteCount(bytes, 1024);

const ATTENTION_NAMES: Record<string, string> = {
  mha: 'multi-head attention (MHA): one KV head per query head',
  gqa: 'grouped-query attention (GQA)',
  mqa: 'multi-query attention (MQA): one KV head shared by every query head',
  mla: 'multi-head latent attention (MLA): keys and values cached as one compressed latent',
};

const NORM_NAMES: Record<string, string> = { rmsnorm: 'RMSNorm', layernorm: 'LayerNorm' };

function siteLine(s: SiteFigure): string {
  const what = s.decision === 'defer' ? `deferred, saves ${us(s.savedUs)}` : s.decision === 'keep' ? 'kept (deferring costs more than it hides)' : 'ineligible';
  const where = s.placement ? `, ${s.placement}` : '';
  return `- ${escapeMarkdown(s.name)} (${NORM_NAMES[s.kind] ?? 'Softmax'}${where}): ${what}`;
}

function layerLine(f: ConfigFigures): string {
  const l = f.layer;
  const which = l.count === 1 ? 'The one layer' : `Each of the ${l.count} layers`;
  return `${which} (${escapeMarkdown(l.label)}): ${us(l.baselineUs)} → ${us(l.deferredUs)}, saves **${us(l.savedUs)} (${percent(l.savedPct)})**.`;
}

function body(role: FieldRole, key: string, m: ConfigModel, f: ConfigFigures): string[] {
  const a = m.attention;
  switch (role) {
    case 'hidden': {
      const norms = f.layer.sites.filter((s) => s.kind !== 'softmax');
      return [
        `The width of the residual stream: each norm's statistic (${m.normKind === 'rmsnorm' ? 'Σx²' : 'Σx and Σx²'}) is gathered over ${num(m.hidden, 0)} values per token.`,
        layerLine(f),
        norms.length ? `Norm sites it feeds:\n\n${norms.map(siteLine).join('\n')}` : 'It feeds no norm site in this layer.',
        ...wholeModelLines(f),
      ];
    }
    case 'heads':
    case 'kvHeads': {
      const group = a.kvHeads > 0 ? a.heads / a.kvHeads : 0;
      const kind = ATTENTION_NAMES[a.kind] ?? a.kind;
      const grouping = a.kind === 'gqa' ? `: ${a.heads} query heads share ${a.kvHeads} KV heads, ${num(group, 0)} per group` : '';
      const kv = f.kvCache;
      const uniform = !kv.latent && a.headDim === a.vHeadDim;
      const formula = uniform ? ` (2 × ${kv.attentionLayers} layers × ${a.kvHeads} KV heads × ${a.headDim} head_dim × ${kv.bytesPerValue} B)` : '';
      const tokens = f.workload.phase === 'prefill' ? f.workload.seq : f.workload.context;
      const softmax = f.layer.sites.filter((s) => s.kind === 'softmax');
      return [
        `${kind[0]!.toUpperCase()}${kind.slice(1)}${grouping}; head_dim ${a.headDim}${a.window ? `, sliding window ${num(a.window, 0)}` : ''}.`,
        `KV cache: **${num(kv.bytesPerToken, 0)} bytes per token**${formula}, ${bytesText(kv.bytesPerToken * tokens * f.workload.batch)} for ${num(tokens, 0)} tokens × batch ${f.workload.batch}. ` +
          `${kv.bytesPerValue} B per value: the simulation keeps activations and the cache at 16 bits when weights (${f.workload.dtype}) are narrower.`,
        ...(softmax.length ? [softmax.map(siteLine).join('\n')] : []),
      ];
    }
    case 'ffn': {
      const mlp = m.mlp;
      const matrixShare = f.layer.matrixUs > 0 ? (100 * f.layer.mlpMatrixUs) / f.layer.matrixUs : 0;
      const shape = `${mlp.gated ? 'gated ' : ''}${mlp.kind === 'moe' ? 'mixture-of-experts ' : ''}MLP (${escapeMarkdown(mlp.linears.join(', '))}; ${escapeMarkdown(mlp.activation)})`;
      return [
        `The ${shape}${mlp.kind === 'moe' ? `, ${num(mlp.ffn, 0)} wide per expert` : `, ${num(mlp.ffn, 0)} wide`}.`,
        `Its share of a layer: **${percent(100 * mlp.paramShare)} of the weights** a token uses, ${percent(matrixShare)} of the simulated matrix-engine time (${us(f.layer.mlpMatrixUs)} of ${us(f.layer.matrixUs)}, baseline).`,
        layerLine(f),
      ];
    }
    case 'layers': {
      const t = f.totals;
      const head = f.headUs ? ` + head ${us(f.headUs.baseline)}` : '';
      return [
        `${m.layers} layers${head}: **${us(t.baselineUs)} → ${us(t.deferredUs)}** for the whole model, saves ${us(t.savedUs)} (**${percent(t.savedPct)}**).`,
        `Statistic collectives take ${percent(t.collectiveShareBaselinePct)} of the baseline; deferral hides ${percent(t.hiddenCollectivePct)} of that time.`,
        ...wholeModelLines(f),
      ];
    }
    case 'eps': {
      const norms = f.layer.sites.filter((s) => s.kind !== 'softmax');
      const stat = m.normKind === 'rmsnorm' ? 'r = 1/√(mean(x²)+ε): one sum (Σx²) to gather' : 'mean and variance: two sums (Σx, Σx²) to gather, in parallel';
      return [`${NORM_NAMES[m.normKind]} with ε = ${m.normEps}: ${stat}. Deferring moves r past the next linear layer (y = r·(x·W′)).`, ...(norms.length ? [norms.map(siteLine).join('\n')] : [])];
    }
    case 'headDim': {
      const kv = f.kvCache;
      const values = a.kvHeads * (a.headDim + a.vHeadDim);
      return [
        `Each head is ${a.headDim} wide${a.vHeadDim !== a.headDim ? ` (values ${a.vHeadDim})` : ''}: queries ${a.heads} × ${a.headDim} = ${num(a.heads * a.headDim, 0)}, keys and values ${a.kvHeads} × ${a.headDim} = ${num(a.kvHeads * a.headDim, 0)} each, against the hidden size ${num(m.hidden, 0)}.`,
        kv.latent
          ? `KV cache: **${num(kv.bytesPerToken, 0)} bytes per token** (multi-head latent attention caches a compressed latent, not K and V per head).`
          : `KV cache: **${num(kv.bytesPerToken, 0)} bytes per token**: ${kv.attentionLayers} layers × ${num(values, 0)} values (K and V of ${a.kvHeads} KV heads) × ${kv.bytesPerValue} B.`,
      ];
    }
    case 'vocab': {
      const share = m.params.total > 0 ? (100 * m.lmHeadParams) / m.params.total : 0;
      const head = f.headUs;
      const headShare = head && f.totals.baselineUs > 0 ? (100 * head.baseline) / f.totals.baselineUs : 0;
      return [
        `The lm_head projects ${num(m.hidden, 0)} → ${num(m.vocab, 0)}: ${count(m.lmHeadParams)} weights, ${percent(share)} of the model's ${count(m.params.total)}${m.tiedEmbeddings ? ' (tied: the same matrix as the embedding table)' : ''}.`,
        ...(head
          ? [
              `The head (final norm and lm_head) takes ${duration(head.baseline)} → ${duration(head.deferred)} of each pass, ${percent(headShare)} of the baseline.`,
              ...(head.sites.length ? [`Its sites:\n\n${head.sites.map(siteLine).join('\n')}`] : []),
            ]
          : []),
      ];
    }
    case 'dtype': {
      const simulated = f.workload.dtype;
      const file = m.fileDtype ? `Weights in the file: **${escapeMarkdown(m.fileDtype)}**. ` : '';
      return [
        `${file}Simulated in **${simulated}** (the dtype setting, else the hardware profile's own): ${count(m.params.total)} weights × ${bytesPerValue(simulated)} = **${byteCount(f.weightBytes, 1000)}** of weights.`,
        `Activations and the KV cache stay at ${f.kvCache.bytesPerValue * 8} bits.`,
      ];
    }
    case 'modelType':
    case 'architectures': {
      const arch = m.architecture ? `, ${escapeMarkdown(m.architecture)}` : '';
      const read = m.readByFields
        ? `Unknown model_type "${escapeMarkdown(m.modelType)}": read by its fields as a Llama-style decoder.`
        : `Read as the **${escapeMarkdown(m.family)}** family (model_type "${escapeMarkdown(m.modelType)}"${arch}).`;
      return [read, `${count(m.params.total)} parameters${m.params.active !== m.params.total ? `, ${count(m.params.active)} active per token` : ''}; ${m.layers} layers, hidden ${num(m.hidden, 0)}, ${NORM_NAMES[m.normKind]}.`, layerLine(f)];
    }
    case 'experts':
    case 'topK': {
      const mlp = m.mlp;
      if (mlp.experts === null) return [`${escapeMarkdown(key)}: this model's layers read as dense (no routed experts in the profiled layer).`, layerLine(f)];
      const shared = mlp.sharedExperts ? ` plus ${mlp.sharedExperts} shared expert${mlp.sharedExperts === 1 ? '' : 's'} every token uses` : '';
      return [
        `Routing: each token goes to the top ${mlp.topK ?? '?'} of ${mlp.experts} experts${shared}; ${count(m.params.active)} of ${count(m.params.total)} parameters are active per token.`,
        `The MLP takes ${percent(f.layer.matrixUs > 0 ? (100 * f.layer.mlpMatrixUs) / f.layer.matrixUs : 0)} of a layer's simulated matrix-engine time.`,
        layerLine(f),
      ];
    }
  }
}

export interface HoverInput {
  role: FieldRole;
  /** The key as written in the file. */
  key: string;
  analysis: ConfigAnalysis;
  hardwareLabel: string;
  /** The document's URI as JSON (what the command link passes back). */
  uriJson: unknown;
}

/** The hover's Markdown; null when there is nothing to say (no figures and no error). */
export function hoverText({ role, key, analysis, hardwareLabel, uriJson }: HoverInput): string | null {
  const link = `[Open report](${openReportLink(uriJson)})`;
  const title = `**${escapeMarkdown(key)}**`;
  const { model, figures } = analysis;
  if (!model || !figures) {
    if (!analysis.error) return null;
    return [`${title} · Deferred Norm Profiler`, `Not profiled: ${escapeMarkdown(analysis.error.message)}`, '---', link].join('\n\n');
  }
  const footer = `_Simulated estimate on ${escapeMarkdown(hardwareLabel)} · ${shortWorkload(figures.workload)} (${figures.workload.dtype}), not a measurement._ ${link}`;
  return [`${title} · Deferred Norm Profiler`, ...body(role, key, model, figures), '---', footer].join('\n\n');
}
