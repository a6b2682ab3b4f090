/**
 * `npm run bench:measure`: measures on the machine it runs on and prints how far the calibrated
 * simulator is from the held-back standard and deferred norm → projection blocks (issue 18). Asserts
 * nothing. Goal on a CPU: every block within ±15%, and the sign of the saving right.
 *
 * It runs `deferred-norm measure` (full mode unless --quick; SmolLM2-135M at the default workload:
 * decode, batch 32, context 2048) on a copy of the fixture in a temporary folder, then fits the `cpu`
 * preset to the measurements and prints the fit and the held-back table. `--from FILE.json` fits a
 * file measured before instead (measuring nothing); `--statistic median|p10` picks the time fitted.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { calibrate } from '../../src/core/measure/fit';
import { DEFAULT_STATISTIC, STATISTICS, type Statistic } from '../../src/core/measure/fit-points';
import { formatCalibration } from '../../src/core/measure/format';
import { parseMeasurements } from '../../src/core/measure/types';
import { loadModel } from '../../src/core/model/load';
import { fixturePath } from '../unit/helpers/fixtures';

const GOAL = 0.15;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  // --statistic median|p10: which time of each entry is fitted and compared (default: calibrate's).
  const named = args.includes('--statistic') ? args[args.indexOf('--statistic') + 1] : undefined;
  const statistic = STATISTICS.find((s) => s === named) ?? DEFAULT_STATISTIC;
  // --from FILE.json: calibrate a measurements file taken before (by this bench or by measure), measuring nothing.
  const from = args.includes('--from') ? args[args.indexOf('--from') + 1] : undefined;
  if (from) {
    await report(from, base(args), statistic);
    return;
  }
  const device = args.includes('--cuda') ? 'cuda' : 'cpu';
  const dir = mkdtempSync(join(tmpdir(), 'dn-bench-measure-'));
  try {
    const model = join(dir, 'SmolLM2-135M');
    cpSync(join(fixturePath('SmolLM2-135M'), '..'), model, { recursive: true });
    const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
    const started = Date.now();
    const r = spawnSync(process.execPath, [cli, 'measure', model, '--device', device, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) {
      console.log(`bench:measure: measure failed (exit ${r.status}); nothing measured`);
      process.exitCode = 1;
      return;
    }
    const file = r.stdout.trim();
    console.log(`\nmeasure${quick ? ' --quick' : ''} on ${device}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    await report(file, base(args), statistic);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function base(args: string[]): string {
  return args.includes('--cuda') ? 'gpu-h100' : 'cpu';
}

/** Fits the base to one measurements file and prints the fit and the held-back blocks against the goal. */
async function report(file: string, baseName: string, statistic: Statistic): Promise<void> {
  const measurements = parseMeasurements(readFileSync(file, 'utf8'), file);
  const spec = await loadModel(measurements.model.path);
  const c = calibrate([{ file, measurements, spec }], getPreset(baseName), 'bench', baseName, statistic);
  console.log(formatCalibration(c));
  const within = c.heldBack.every((b) => Math.abs(b.standardRatio - 1) <= GOAL && Math.abs(b.deferredRatio - 1) <= GOAL);
  const signs = c.heldBack.map((b) => (!b.resolved ? 'within noise' : b.signRight ? 'right' : 'wrong'));
  console.log(`Goal (issue 18), every held-back block within ±${100 * GOAL}%: ${within ? 'met' : 'not met'} (max ${(100 * c.heldBackError.maxAbsError).toFixed(1)}%, mean ${(100 * c.heldBackError.meanAbsError).toFixed(1)}%)`);
  console.log(`Sign of the saving: ${c.heldBack.map((b, i) => `${b.site} ${signs[i]} (measured ${b.measuredSavingPct.toFixed(1)}%, simulated ${b.simulatedSavingPct.toFixed(1)}%)`).join('; ')}`);
  // The same measurements fitted and compared on the other time, for the choice of statistic.
  const other = STATISTICS.find((s) => s !== statistic)!;
  const o = calibrate([{ file, measurements, spec }], getPreset(baseName), 'bench', baseName, other);
  console.log(`Fitted on the ${other} instead: held-back mean ${(100 * o.heldBackError.meanAbsError).toFixed(1)}%, max ${(100 * o.heldBackError.maxAbsError).toFixed(1)}%`);
}

void main();
