/**
 * `node --import tsx scripts/explain-dimc.ts`: why the dimc preset's figures for 70B models and for
 * prefill differ from the paper's headline (Salmani & Soloveychik, arXiv 2502.17728: collectives slow
 * inference by about 20%, deferral saves 15-20%). For each model and pass it prints, per decoder layer,
 * the matrix engine's busy time and the statistic gathers' time (busy plus network latency, summed) in the
 * baseline schedule, and over the
 * whole pass how much the collectives slow the baseline, their share of its latency, the share deferral
 * hides and what it saves. Nothing is fitted here: the preset is used as it is.
 */
import { join } from 'node:path';
import { getPreset } from '../src/core/hardware/presets';
import { loadModel } from '../src/core/model/load';
import { profile } from '../src/core/report/profile';
import { engineBusyNs, simulate } from '../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../src/core/workload';
import type { Totals } from '../src/core/report/types';

const MODELS = ['Llama-2-7b-hf', 'Llama-3.1-8B', 'Llama-2-70b-hf', 'Llama-3.1-70B'];
const PASSES: { label: string; workload: Workload }[] = [
  { label: 'decode b32 ctx2048 (default)', workload: DEFAULT_WORKLOAD },
  { label: 'prefill b1 seq2048', workload: { ...DEFAULT_WORKLOAD, phase: 'prefill', batch: 1, seq: 2048 } },
];

/** Latency the collectives add, relative to the same schedule with free collectives (as npm run calibrate reckons it). */
const slowdown = (t: Totals): number => t.exposedCollectiveBaselineUs / (t.baselineUs - t.exposedCollectiveBaselineUs);

async function main(): Promise<void> {
  const hw = getPreset('dimc');
  for (const model of MODELS) {
    const spec = await loadModel(join(__dirname, '..', 'test', 'fixtures', 'configs', model, 'config.json'));
    for (const { label, workload } of PASSES) {
      const t = profile(spec, hw, workload).totals;
      const layer = simulate(spec, hw, workload).kinds[0]!;
      const busy = engineBusyNs(layer.baseline);
      const gatherNs = layer.baseline.graph.ops.reduce((sum, op, i) => sum + (op.category === 'stat-collective' ? layer.baseline.times.busy[i]! + layer.baseline.times.latency[i]! : 0), 0);
      console.log(
        `${model.padEnd(15)} ${label.padEnd(29)} layer: matrix ${(busy.matrix / 1000).toFixed(1)} µs, gathers ${(gatherNs / 1000).toFixed(1)} µs, makespan ${(layer.baselineNs / 1000).toFixed(1)} µs | collectives slow the baseline by ${(100 * slowdown(t)).toFixed(1)}% (${t.collectiveShareBaselinePct.toFixed(1)}% of it), deferral hides ${t.hiddenCollectivePct.toFixed(1)}% and saves ${t.savedPct.toFixed(1)}%`,
      );
    }
  }
}

void main();
