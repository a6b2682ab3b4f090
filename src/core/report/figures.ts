/**
 * The headline's figures in words, shared by every view (table, Markdown, panel, HTML export) so that
 * they say the same thing: what each figure means, the end-to-end line, the saving's parts, the memory.
 */
import { byteCount, duration, percent, tokenRate } from './text';
import type { Report } from './types';

/** What each headline figure is (the panel's tooltips, the README's definitions). */
export const FIGURE_DEFINITIONS = {
  ttft: 'Time to first token: one prefill pass of the prompt (Prompt tokens) at the batch, whole model.',
  tpot: 'Time per output token: one decode step at the context, whole model.',
  tokensPerSecond: 'Tokens generated per second: batch ÷ time per output token.',
  baseline: 'One pass of the workload (the phase chosen) as written, summed over every layer and the head.',
  deferred: 'The same pass with the deferrable norm statistics moved past the next linear layer.',
  saved: 'Baseline − deferred, as a share of the baseline. It is the sum of the three parts below.',
  collectivePart: 'Statistic-gather time the rewrite takes off the critical path (= collective share × hidden, as a share of the baseline).',
  startsPart: 'Kernel launch and start cost of the kernels the rewrite removes (negative: it adds kernels).',
  workPart: 'Vector passes and memory traffic the rewrite removes or moves under other work.',
  collectiveShare: 'Share of the baseline spent waiting on statistic gathers (norm sums, Softmax max and sum): baseline minus the same schedule with the gathers free.',
  hidden: 'Share of that waiting which deferral removes from the critical path.',
  memory: 'Bytes one device holds under tensor parallelism: weights, KV cache and activations, against the memory tiers that hold them.',
} as const;

export type FigureKey = keyof typeof FIGURE_DEFINITIONS;

/** The saving's parts as shares of the baseline pass (%), in the order they are shown. */
export function savingPartsPct(r: Report): { key: 'collectivePart' | 'startsPart' | 'workPart'; label: string; us: number; pct: number }[] {
  const share = (us: number) => (r.totals.baselineUs > 0 ? (100 * us) / r.totals.baselineUs : 0);
  const p = r.savingParts;
  return [
    { key: 'collectivePart', label: 'Collective hidden', us: p.collectiveUs, pct: share(p.collectiveUs) },
    { key: 'startsPart', label: 'Kernel starts removed', us: p.startsUs, pct: share(p.startsUs) },
    { key: 'workPart', label: 'Vector and memory work removed', us: p.workUs, pct: share(p.workUs) },
  ];
}

/** "Saved 2.3% = collective hidden 1.1% + kernel starts removed 1.1% + vector and memory work removed 0.1%". */
export function savingLine(r: Report): string {
  const parts = savingPartsPct(r).map((p) => `${p.label.toLowerCase()} ${percent(p.pct)} (${duration(p.us)})`);
  return `Saved ${percent(r.totals.savedPct)} (${duration(r.totals.savedUs)}) = ${parts.join(' + ')}.`;
}

const pair = (p: { baselineUs: number; deferredUs: number }) => `${duration(p.baselineUs)} → ${duration(p.deferredUs)}`;

/** "Time to first token 2.18 s → 2.16 s; time per output token …; … tokens/s" (baseline → deferred). */
export function endToEndLine(r: Report): string {
  const e = r.endToEnd;
  const parts: string[] = [];
  if (e.ttft) parts.push(`time to first token ${pair(e.ttft)}`);
  if (e.tpot) parts.push(`time per output token ${pair(e.tpot)}`);
  if (e.tokensPerSecond) parts.push(`${tokenRate(e.tokensPerSecond.baseline)} → ${tokenRate(e.tokensPerSecond.deferred)}`);
  const line = parts.length > 0 ? `End to end (baseline → deferred): ${parts.join('; ')}.` : '';
  return [line, ...e.notes].filter((s) => s !== '').join(' ');
}

/** "Memory per device: 24.7 GB (weights 16.1 GB, KV cache 8.6 GB, activations 8.2 MB); hbm3 80.0 GB: fits." */
export function memoryLine(r: Report): string {
  const m = r.memory;
  const d = m.perDevice;
  const tiers = m.tiers.map((t) => `${t.tier} ${byteCount(t.usedBytes, 1000)} of ${byteCount(t.capacityBytes, 1000)}${t.fits ? '' : ' (over)'}`).join(', ');
  return `Memory per device: ${byteCount(d.totalBytes, 1000)} (weights ${byteCount(d.weightBytes, 1000)}, KV cache ${byteCount(d.kvBytes, 1000)}, activations ${byteCount(d.activationBytes, 1000)}); ${tiers}: ${m.fits ? 'fits' : 'does not fit'}${m.minimumTp !== null && m.minimumTp !== r.workload.tp ? `; smallest tensor-parallel degree that fits: ${m.minimumTp}` : ''}.`;
}
