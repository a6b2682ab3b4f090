/**
 * The held-back test of calibrate and of `validate --measurements`: each measured standard and
 * deferred norm → projection block (never fitted) beside the simulator's estimate of it.
 */
import { InputError } from '../errors';
import type { HardwareProfile } from '../hardware/profile';
import { simulateSite } from '../sim/simulate';
import { restrictConsumers } from '../validate/validate';
import { DEFAULT_STATISTIC, measuredWorkload, timeUs, type MeasuredSet, type Statistic } from './fit-points';
import { BLOCK_SITES } from './plan';

/** One held-back block: measured and simulated, standard and deferred. */
export interface HeldBackBlock {
  file: string;
  site: string;
  consumers: string[];
  rows: number;
  measuredStandardUs: number;
  measuredDeferredUs: number;
  simulatedStandardUs: number;
  simulatedDeferredUs: number;
  /** simulated ÷ measured. */
  standardRatio: number;
  deferredRatio: number;
  /** Saving of the deferred form, % of the standard one. */
  measuredSavingPct: number;
  simulatedSavingPct: number;
  /**
   * Whether the measured difference is larger than the noise: more than half the 10th–90th percentile
   * spread of the noisier form. When it is not, the sign of the saving cannot be told on this machine.
   */
  resolved: boolean;
  /** The simulated saving has the measured one's sign (only meaningful when `resolved`). */
  signRight: boolean;
}

/** Each measured block pair beside the simulator's estimate of it on the calibrated profile. */
export function heldBackBlocks(set: MeasuredSet, hw: HardwareProfile, statistic: Statistic = DEFAULT_STATISTIC): HeldBackBlock[] {
  const { measurements: m, spec } = set;
  const out: HeldBackBlock[] = [];
  for (const std of m.entries) {
    if (std.kind !== 'block' || std.variant !== 'standard') continue;
    const def = m.entries.find((e) => e.kind === 'block' && e.variant === 'deferred' && e.site === std.site && e.layerKind === std.layerKind);
    if (!def) continue;
    const kind = spec.layerKinds.find((k) => k.id === std.layerKind);
    if (!kind) throw new InputError(set.file, 'entries', `blocks of the layer kinds of ${spec.name} (${spec.layerKinds.map((k) => k.id).join(', ')})`, JSON.stringify(std.layerKind));
    if (!BLOCK_SITES.includes(std.site)) throw new InputError(set.file, 'entries', `blocks of the sites ${BLOCK_SITES.join(', ')}`, JSON.stringify(std.site));
    const one = { ...spec, layerKinds: [kind] };
    const times = simulateSite(restrictConsumers(one, std.site, std.consumers), hw, measuredWorkload(m), std.site);
    const simStd = times.keptNs / 1000;
    const simDef = times.deferredNs / 1000;
    const stdUs = timeUs(std, statistic);
    const defUs = timeUs(def, statistic);
    const measuredSavingPct = (100 * (stdUs - defUs)) / stdUs;
    const simulatedSavingPct = (100 * (simStd - simDef)) / simStd;
    const spread = Math.max(std.p90Us - std.p10Us, def.p90Us - def.p10Us);
    out.push({
      file: set.file,
      site: std.site,
      consumers: std.consumers,
      rows: std.rows,
      measuredStandardUs: stdUs,
      measuredDeferredUs: defUs,
      simulatedStandardUs: simStd,
      simulatedDeferredUs: simDef,
      standardRatio: simStd / stdUs,
      deferredRatio: simDef / defUs,
      measuredSavingPct,
      simulatedSavingPct,
      resolved: Math.abs(stdUs - defUs) > spread / 2,
      signRight: Math.sign(measuredSavingPct) === Math.sign(simulatedSavingPct),
    });
  }
  return out;
}
