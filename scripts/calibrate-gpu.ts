/**
 * `npm run calibrate:gpu`: fits each GPU preset's `matrix.efficiency` and `memory.efficiency`, and one
 * `kernels.passOverheadNs` shared by the presets whose points time whole passes (nothing else), to the
 * calibration points of `deferred-norm validate` (src/core/validate/points.ts, `use: 'calibration'`),
 * by least squares on log(simulated ÷ measured). No source states the serving stacks' host time per
 * pass, so it is fitted here, on the calibration points only. Prints the fit and what it yields on the
 * fitted and the held-back points; the preset files hold the result, rounded, with a "calibrated:"
 * provenance naming the points.
 */
import { join } from 'node:path';
import { applyOverrides } from '../src/core/hardware/overrides';
import { getPreset } from '../src/core/hardware/presets';
import { loadModel } from '../src/core/model/load';
import type { ModelSpec } from '../src/core/model/spec';
import { POINTS, type Point } from '../src/core/validate/points';
import { summarize, validate } from '../src/core/validate/validate';

const GPUS = (process.env.GPUS ?? 'gpu-a100,gpu-h100,gpu-t4').split(',');
const FIXTURES = join(__dirname, '..', 'test', 'fixtures', 'configs');

/** Efficiencies are searched on a coarse grid, then refined around the best point on this step. */
const FINE_STEP = 0.005;
/**
 * Upper bounds of the search. Tensor cores can come close to their peak; a DRAM stream cannot
 * (refresh, page switches, read/write turnarounds): 0.95 is taken as the most a streaming kernel
 * reaches. A fit that lands on a bound is printed as such: the points then ask for more than the
 * hardware can give, which is a fault of the model, not something an efficiency should absorb.
 */
const MAX = { matrix: 1, memory: 0.95 };
const COARSE_M = range(0.05, MAX.matrix, 0.05);
const COARSE_B = range(0.05, MAX.memory, 0.05);
/** Host time per pass searched, in ns: 0 to 3 ms on a 0.25 ms step (the misses it may explain are a few ms). */
const OVERHEADS = Array.from({ length: 13 }, (_, i) => i * 250_000);

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to + 1e-9; v += step) out.push(Math.round(v / FINE_STEP) * FINE_STEP);
  return out;
}

interface Fit {
  m: number;
  b: number;
  cost: number;
}

/** The efficiencies that fit a GPU's calibration points best with the host time per pass `overheadNs`. */
function fitEfficiencies(gpu: string, overheadNs: number, specs: ReadonlyMap<string, ModelSpec>): Fit {
  const fitted = POINTS.filter((p) => p.hardware === gpu && p.use === 'calibration');
  const base = getPreset(gpu);
  const cost = (m: number, b: number) =>
    validate({ specs, hardware: withFit(m, b, overheadNs), points: fitted }).rows.reduce((sum, r) => sum + Math.log(r.ratio ?? 1) ** 2, 0);
  let best: Fit = { m: base.matrix.efficiency, b: base.memory.efficiency, cost: cost(base.matrix.efficiency, base.memory.efficiency) };
  const search = (ms: number[], bs: number[]) => {
    for (const m of ms) for (const b of bs) {
      const c = cost(m, b);
      if (c < best.cost) best = { m, b, cost: c };
    }
  };
  search(COARSE_M, COARSE_B);
  search(range(Math.max(FINE_STEP, best.m - 0.05), Math.min(MAX.matrix, best.m + 0.05), FINE_STEP), range(Math.max(FINE_STEP, best.b - 0.05), Math.min(MAX.memory, best.b + 0.05), FINE_STEP));
  return best;
}

const withFit = (m: number, b: number, overheadNs: number) => (name: string) =>
  applyOverrides(getPreset(name), [`matrix.efficiency=${m}`, `memory.efficiency=${b}`, `kernels.passOverheadNs=${overheadNs}`]);

async function main(): Promise<void> {
  const specs = new Map<string, ModelSpec>();
  for (const model of new Set(POINTS.map((p) => p.model))) specs.set(model, await loadModel(join(FIXTURES, model, 'config.json')));
  const gpus = GPUS.filter((gpu) => POINTS.some((p) => p.hardware === gpu && p.use === 'calibration'));
  // Site rows time one norm → projection inside a pass: only GPUs with whole-pass points read the overhead.
  const passGpus = gpus.filter((gpu) => POINTS.some((p) => p.hardware === gpu && p.use === 'calibration' && p.metric !== 'site'));
  let best = { overheadNs: 0, fits: new Map<string, Fit>(), cost: Infinity };
  for (const overheadNs of OVERHEADS) {
    const fits = new Map(passGpus.map((gpu) => [gpu, fitEfficiencies(gpu, overheadNs, specs)] as const));
    const cost = [...fits.values()].reduce((sum, f) => sum + f.cost, 0);
    console.log(`  host time per pass ${(overheadNs / 1e6).toFixed(2)} ms: cost ${cost.toFixed(5)} (${[...fits].map(([g, f]) => `${g} ${f.m.toFixed(3)}/${f.b.toFixed(3)}`).join(', ')})`);
    if (cost < best.cost) best = { overheadNs, fits, cost };
  }
  console.log(`kernels.passOverheadNs = ${best.overheadNs} (shared by ${passGpus.join(', ')})${best.overheadNs === OVERHEADS[OVERHEADS.length - 1] ? ' (at the upper bound of the search)' : ''}`);
  for (const gpu of gpus) {
    const mine = POINTS.filter((p) => p.hardware === gpu);
    const fitted = mine.filter((p) => p.use === 'calibration');
    const base = getPreset(gpu);
    const overheadNs = passGpus.includes(gpu) ? best.overheadNs : 0;
    const fit = best.fits.get(gpu) ?? fitEfficiencies(gpu, overheadNs, specs);
    const before = validate({ specs, hardware: getPreset, points: mine });
    const after = validate({ specs, hardware: withFit(fit.m, fit.b, overheadNs), points: mine });
    const line = (label: string, s: ReturnType<typeof summarize>) =>
      `    ${label.padEnd(12)} n ${String(s.n).padStart(2)}  mean |ratio−1| ${(100 * s.meanAbsError).toFixed(1).padStart(5)}%  max ${(100 * s.maxAbsError).toFixed(1).padStart(5)}%`;
    const bound = (v: number, max: number) => (v >= max - 1e-9 ? ' (at the upper bound of the search)' : '');
    console.log(
      `${gpu}: matrix.efficiency = ${fit.m.toFixed(3)}${bound(fit.m, MAX.matrix)}, memory.efficiency = ${fit.b.toFixed(3)}${bound(fit.b, MAX.memory)} (now in the preset: ${base.matrix.efficiency}, ${base.memory.efficiency}, pass ${base.kernels.passOverheadNs} ns)`,
    );
    console.log(`  fitted to ${fitted.map((p) => p.id).join(', ')}`);
    // Split by the points' designation: the preset may not hold a fit yet (validate counts those as held back).
    const split = (rows: typeof before.rows, use: Point['use']) => summarize(rows.filter((r) => r.use === use));
    console.log('  with the preset as it is:');
    console.log(line('fitted', split(before.rows, 'calibration')));
    console.log(line('held back', split(before.rows, 'held-back')));
    console.log('  with the fit:');
    console.log(line('fitted', split(after.rows, 'calibration')));
    console.log(line('held back', split(after.rows, 'held-back')));
    for (const r of after.rows) console.log(`    ${r.use === 'calibration' ? '*' : ' '} ${r.id.padEnd(34)} ratio ${r.ratio === null ? 'pending' : r.ratio.toFixed(3)}`);
  }
}

void main();
