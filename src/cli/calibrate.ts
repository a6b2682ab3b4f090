/**
 * The three verbs of issue 18, each parsing its own flags (the rest of the CLI never sees
 * --python, --device, --quick or --threads):
 *   harness <model>     writes the PyTorch harness for the model and workload
 *   measure <model>     writes it, runs it, saves the measurements beside the model
 *   calibrate <json…>   fits a hardware profile to measurements, prints the error on held-back blocks
 */
import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../core/errors';
import { readTextFile } from '../core/files';
import type { HardwareProfile } from '../core/hardware/profile';
import { calibrate, extrapolation } from '../core/measure/fit';
import { DEFAULT_STATISTIC, STATISTICS, type MeasuredSet, type Statistic } from '../core/measure/fit-points';
import { workloadRows } from '../core/measure/extrapolation';
import { formatCalibration } from '../core/measure/format';
import { parseMeasurements, type MeasureDevice } from '../core/measure/types';
import { loadModel } from '../core/model/load';
import { planFor, harnessScript } from './harness';
import { resolveWorkload } from '../core/report/tensor-parallel';
import { NAME_ONE_CLI, noTorchError, probedLines } from '../common/python-finder';
import { measurementsDir } from '../common/measured-file';
import { MeasureCancelled, runMeasure, runName } from './measure';
import { findPython } from './python-probe';
import { OPTIONS as SHARED_OPTIONS, positiveInt, workloadFrom, type ParsedOptions } from './options';

export const MEASURE_VERBS = ['harness', 'measure', 'calibrate'] as const;

// The workload and hardware flags as the other verbs take them, and the flags of measuring.
const { hardware, set, phase, batch, seq, context, tp, dtype, out, debug } = SHARED_OPTIONS;
const OPTIONS = {
  ...{ hardware, set, phase, batch, seq, context, tp, dtype, out, debug },
  python: { type: 'string' },
  device: { type: 'string' },
  quick: { type: 'boolean' },
  threads: { type: 'string' },
  statistic: { type: 'string' },
} as const;

/** The base profile of a device when --hardware is not given: the generic CPU, or the GPU preset its name matches. */
export function defaultBase(device: MeasureDevice, deviceName = ''): string {
  if (device === 'cpu') return 'cpu';
  for (const [needle, preset] of [['H100', 'gpu-h100'], ['H200', 'gpu-h100'], ['A100', 'gpu-a100'], ['T4', 'gpu-t4']] as const) {
    if (deviceName.includes(needle)) return preset;
  }
  if (deviceName === '') return 'gpu-h100';
  throw new InputError('--hardware', '', `a base profile for ${deviceName} (a preset or a *.hardware.json; none matches its name)`);
}

function deviceOf(value: string | undefined): MeasureDevice {
  if (value === undefined || value === 'cpu' || value === 'cuda') return value ?? 'cpu';
  throw new InputError('--device', '', 'cpu or cuda', JSON.stringify(value));
}

/** Writes --out, a failure as one line naming the file (a missing folder, no permission). */
function writeOut(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'a write error';
    throw new InputError('--out', '', `a file that can be written (${JSON.stringify(path)})`, code === 'ENOENT' ? 'a path whose folder does not exist' : code);
  }
}

type HardwareFrom = (values: ParsedOptions) => Promise<HardwareProfile>;

export async function measureCommand(argv: string[], hardwareFrom: HardwareFrom): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new InputError('command line', '', `the options of ${argv[0]} (see deferred-norm --help)`, err instanceof Error ? err.message.split('\n')[0] : String(err));
  }
  const { values, positionals } = parsed;
  const verb = positionals[0];
  if (verb === 'calibrate') return calibrateVerb(positionals.slice(1), values, hardwareFrom);
  const given = positionals[1];
  if (!given) throw new InputError('command line', '', `a model path after "${verb}" (config.json, folder, .gguf or .safetensors)`);
  // Absolute, so that calibrate finds the model from wherever it runs.
  const modelPath = resolve(given);
  const device = deviceOf(values.device);
  const spec = await loadModel(modelPath);
  const hw = await hardwareFrom({ ...values, hardware: values.hardware ?? defaultBase(device) });
  // --tp auto (the default) as the report on this profile resolves it.
  const plan = planFor(spec, hw, resolveWorkload(spec, hw, workloadFrom(values)), device, values.quick ?? false);
  for (const note of plan.notes) process.stderr.write(`note: ${note}\n`);
  if (verb === 'harness') {
    const script = harnessScript(plan);
    if (values.out) {
      writeOut(values.out, script);
      process.stderr.write(`wrote ${values.out} (run: python3 ${values.out} --out measurements.json)\n`);
    } else process.stdout.write(script);
    return 0;
  }
  const { found, tried } = await findPython({ flag: values.python ?? null });
  if (!found) throw noTorchError(tried, NAME_ONE_CLI);
  // An interpreter passed over is said, so the fallback is never silent.
  for (const line of probedLines(tried.slice(0, -1))) process.stderr.write(`python: ${line}\n`);
  const python = { python: found.path, torch: found.result.torch };
  process.stderr.write(`measuring with ${python.python} (torch ${python.torch}) on ${device}${plan.quick ? ', quick' : ''}\n`);
  const controller = new AbortController();
  const onInt = () => controller.abort();
  process.on('SIGINT', onInt);
  try {
    const run = await runMeasure(plan, {
      python,
      dir: await measurementsDir(modelPath),
      name: runName(modelPath, device, new Date()),
      threads: values.threads === undefined ? undefined : positiveInt('--threads', values.threads),
      onLine: (line) => process.stderr.write(line + '\n'),
      signal: controller.signal,
    });
    process.stdout.write(`${run.out}\n`);
    process.stderr.write(`saved ${run.out}\nnext: deferred-norm calibrate ${JSON.stringify(run.out)} --out NAME.hardware.json\n`);
    return 0;
  } catch (err) {
    if (err instanceof MeasureCancelled) {
      process.stderr.write('deferred-norm: measurement cancelled (the harness was stopped)\n');
      return 130;
    }
    throw err;
  } finally {
    process.off('SIGINT', onInt);
  }
}

async function calibrateVerb(files: string[], values: ParsedOptions & { out?: string; statistic?: string }, hardwareFrom: HardwareFrom): Promise<number> {
  if (files.length === 0) throw new InputError('command line', '', 'one or more measurements files after "calibrate" (written by deferred-norm measure)');
  const out = values.out;
  if (!out || !out.endsWith('.hardware.json')) throw new InputError('--out', '', 'the file to write, named NAME.hardware.json', out === undefined ? 'nothing' : JSON.stringify(out));
  const name = basename(out).slice(0, -'.hardware.json'.length);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new InputError('--out', '', 'a name of letters, digits, ".", "_" or "-" before .hardware.json', JSON.stringify(name));
  const sets: MeasuredSet[] = [];
  for (const file of files) {
    const measurements = parseMeasurements(await readTextFile(file, 'measurements'), file);
    let spec;
    try {
      spec = await loadModel(measurements.model.path);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(file, 'model.path', 'the model the measurements were taken for, still at that path', `${JSON.stringify(measurements.model.path)}: ${err.message}`);
      throw err;
    }
    sets.push({ file, measurements, spec });
  }
  const first = sets[0]!.measurements.provenance;
  const baseName = values.hardware ?? defaultBase(first.device, first.deviceName);
  const base = await hardwareFrom({ ...values, hardware: baseName });
  const statistic = values.statistic ?? DEFAULT_STATISTIC;
  if (!(STATISTICS as readonly string[]).includes(statistic)) throw new InputError('--statistic', '', STATISTICS.join(' or '), JSON.stringify(statistic));
  const result = calibrate(sets, base, name, baseName, statistic as Statistic);
  process.stdout.write(formatCalibration(result));
  // A workload named on the command line is checked against the measured shapes.
  if (values.batch || values.seq || values.phase) {
    const w = workloadFrom(values);
    const m = workloadRows(w);
    process.stdout.write(`${extrapolation(result, m) ?? `M = ${m} is inside the measured shapes.`}\n`);
  }
  writeOut(out, JSON.stringify(result.profile, null, 2) + '\n');
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}
