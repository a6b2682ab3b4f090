/**
 * `npm run calibrate`: finds the dimc preset's collective hop latency that makes
 * statistic collectives slow the baseline by 20% (Salmani & Soloveychik, arXiv
 * 2502.17728: "slow down inference on Transformers by approximately 20%"),
 * averaged over Llama-2-7B and Llama-3.1-8B at the default workload. Prints the
 * value and what it yields; the preset file holds the result, rounded.
 */
import { join } from 'node:path';
import { applyOverrides } from '../src/core/hardware/overrides';
import { getPreset } from '../src/core/hardware/presets';
import { loadModel } from '../src/core/model/load';
import { profile } from '../src/core/report/profile';
import type { Totals } from '../src/core/report/types';
import { DEFAULT_WORKLOAD } from '../src/core/workload';

const TARGET_SLOWDOWN = 0.2;
const MODELS = ['Llama-2-7b-hf', 'Llama-3.1-8B'];

/** Latency the collectives add, relative to the same schedule with free collectives. */
export const slowdown = (t: Totals): number => t.exposedCollectiveBaselineUs / (t.baselineUs - t.exposedCollectiveBaselineUs);

async function main(): Promise<void> {
  const specs = await Promise.all(MODELS.map((m) => loadModel(join(__dirname, '..', 'test', 'fixtures', 'configs', m, 'config.json'))));
  const base = getPreset('dimc');
  const totalsAt = (hop: number) => specs.map((s) => profile(s, applyOverrides(base, [`collective.hopLatencyNs=${hop}`]), DEFAULT_WORKLOAD).totals);
  const mean = (hop: number) => totalsAt(hop).reduce((sum, t) => sum + slowdown(t), 0) / specs.length;
  let lo = 0;
  let hi = 10_000;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (mean(mid) < TARGET_SLOWDOWN) lo = mid;
    else hi = mid;
  }
  const hop = Math.round((lo + hi) / 2);
  console.log(`collective.hopLatencyNs = ${hop} ns (now in the preset: ${base.collective.hopLatencyNs} ns)`);
  totalsAt(hop).forEach((t, i) =>
    console.log(`  ${MODELS[i]}: collectives slow the baseline by ${(100 * slowdown(t)).toFixed(1)}% (${t.collectiveShareBaselinePct.toFixed(1)}% of its latency); deferral saves ${t.savedPct.toFixed(1)}% and hides ${t.hiddenCollectivePct.toFixed(1)}% of the collective time`),
  );
}

void main();
