/** Shared set-up of the codegen tests (no tests of its own; named *.test.ts to stay within the codegen test files). */
import { getPreset } from '../../../src/core/hardware/presets';
import type { HardwareProfile } from '../../../src/core/hardware/profile';
import type { ModelSpec } from '../../../src/core/model/spec';
import { reportOf } from '../../../src/core/report/profile';
import type { PseudocodeSite, Report } from '../../../src/core/report/types';
import { simulate, type Simulation } from '../../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD, type Workload } from '../../../src/core/workload';
import { blockListings, pseudocodeFor, type BlockText } from '../../../src/core/codegen/index';
import { loadFixture } from './fixtures';

export interface Generated {
  spec: ModelSpec;
  simulation: Simulation;
  report: Report;
  sites: PseudocodeSite[];
  blocks: BlockText[];
}

/** A fixture simulated and reported, with its pseudo-code generated. */
export async function generate(name: string, workload: Partial<Workload> = {}, hw: HardwareProfile = getPreset('dimc')): Promise<Generated> {
  const spec = await loadFixture(name);
  const w: Workload = { ...DEFAULT_WORKLOAD, ...(spec.topology === 'encoder' ? { phase: 'prefill' as const, batch: 1, seq: 512 } : {}), ...workload };
  const simulation = simulate(spec, hw, w);
  const report = reportOf(spec, hw, w, simulation);
  return { spec, simulation, report, sites: pseudocodeFor(spec, simulation, report), blocks: blockListings(spec, simulation) };
}

export function site(g: Generated, kind: string, id: string): PseudocodeSite {
  const found = g.sites.find((s) => s.layerKind === kind && s.site === id);
  if (!found) throw new Error(`no site ${kind}/${id}; have ${g.sites.map((s) => `${s.layerKind}/${s.site}`).join(', ')}`);
  return found;
}

/** Index of the first line containing `needle`, or -1. */
export function lineIndex(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle));
}
