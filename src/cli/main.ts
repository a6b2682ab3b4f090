import { writeFileSync } from 'node:fs';
import { InputError } from '../core/errors';
import { pathKind, readHardwareProfileFile } from '../core/files';
import { applyOverrides } from '../core/hardware/overrides';
import { formatPresetList, formatProfile } from '../core/hardware/format';
import { DEFAULT_HARDWARE, getPreset, listPresets } from '../core/hardware/presets';
import type { HardwareProfile } from '../core/hardware/profile';
import { loadModel } from '../core/model/load';
import { formatSpecTable, summarizeSpec } from '../core/model/summary';
import { REPORT_FORMATS, formatCsv, formatMarkdown, formatTable, toChromeTrace, type ReportFormat } from '../core/report/formats';
import { reportOf } from '../core/report/profile';
import { simulate } from '../core/sim/simulate';
import { formatNumerics, numericsFor, numericsPass } from '../core/report/numerics';
import { fullReport } from '../core/report/full';
import { blockListings, formatPseudocode, pseudocodeFor } from '../core/codegen';
import { formatSweep } from '../core/report/sweep';
import { checkWorkloadForModel, type Workload } from '../core/workload';
import { formatValidation, validate } from '../core/validate/validate';
import type { ModelSpec } from '../core/model/spec';
import { htmlReport } from './html';
import { runSweepParallel, serveSweepWorker } from './sweep-parallel';
import { validationInputs } from './validate';
import { MEASURE_VERBS, measureCommand } from './calibrate';
import { formatOption, intList, parseCommandLine, positiveInt, workloadFrom, type ParsedOptions } from './options';

declare const PACKAGE_VERSION: string | undefined;

const HELP = `deferred-norm: how much latency deferring Softmax/LayerNorm/RMSNorm normalization saves (simulated).

Usage
  deferred-norm inspect <model> [--format table|json]
  deferred-norm profile <model> [workload and hardware options] [--format table|json|csv|md|trace|html] [--out FILE]
  deferred-norm sweep <model> [--seq a,b,…] [--batch x,y,…] [--context …] [--tp …] [--set-range path=v1,v2,…] [--format table|json]
  deferred-norm verify <model> [--seed N] [--format table|json]   (exit 1 if a deferred form is worse than its baseline)
  deferred-norm pseudocode <model> [--site NAME] [workload and hardware options]
  deferred-norm hardware list [--format table|json]
  deferred-norm hardware show <name|file> [--format table|json]
  deferred-norm validate [--format table|json]   (published latency measurements beside the simulated figures)
  deferred-norm harness <model> [workload and hardware options] [--device cpu|cuda] [--quick] [--out FILE.py]
  deferred-norm measure <model> [workload options] [--python PATH] [--device cpu|cuda] [--quick] [--threads N]
  deferred-norm calibrate <measurements.json…> [--hardware BASE] --out NAME.hardware.json [--batch N --phase … (check a workload)]

<model> is a config.json, a folder holding one, a .gguf file or a .safetensors file.

Workload options (defaults in brackets)
  --phase prefill|decode [decode]     --batch N [32]      --seq N [2048] (prefill tokens)
  --context N [2048] (decode)         --tp N [1]          --dtype fp32|bf16|fp16|fp8|int8|int4 [the hardware's]
  --softmax-offset exact|bound|online [online]            --tiles N [4]
  --defer-depth deepest|linear [deepest] (how far deferred norm scales may travel; linear = the papers' rewrite)
Hardware options
  --hardware NAME|FILE [dimc]         --set path=value (repeatable), e.g. --set collective.hopLatencyNs=0

Every figure is a simulated estimate; the report names the hardware profile and the source of each of its numbers.
  --debug                             a stack trace with an internal error

Exit codes: 0 done; 1 verify found a deferred form worse than its baseline, or an internal error (the
message says which, and asks for a report); 2 bad input (a file, flag or value, named on one line) or
nothing to profile; 130 measure stopped by Ctrl+C.`;

/** Resolves --hardware (a preset name or a JSON file, read through the bounded file edge) and applies --set overrides. */
async function hardwareFrom(values: ParsedOptions): Promise<HardwareProfile> {
  const arg = values.hardware ?? DEFAULT_HARDWARE;
  let profile: HardwareProfile;
  if (listPresets().some((p) => p.name === arg)) profile = getPreset(arg);
  else if ((await pathKind(arg)) !== 'missing') profile = await readHardwareProfileFile(arg);
  else throw new InputError('--hardware', '', `a preset name (${listPresets().map((p) => p.name).join(', ')}) or an existing JSON file`, JSON.stringify(arg));
  return values.set && values.set.length > 0 ? applyOverrides(profile, values.set) : profile;
}

function modelArg(positionals: string[], verb: string): string {
  const path = positionals[1];
  if (!path) throw new InputError('command line', '', `a model path after "${verb}" (config.json, folder, .gguf or .safetensors)`);
  return path;
}

function seedFrom(values: ParsedOptions): number {
  return values.seed === undefined ? 1 : positiveInt('--seed', values.seed);
}

/** The workload's fit to the model (tensor-parallel degree against the heads); notes go with the model's. */
function checkedWorkload(spec: ModelSpec, workload: Workload): Workload {
  spec.notes.push(...checkWorkloadForModel(spec, workload, 'command line').notes);
  return workload;
}

/** Writes to --out, or to stdout (whose write errors are handled in main). */
function emit(text: string, values: ParsedOptions): void {
  if (values.out) {
    try {
      writeFileSync(values.out, text);
    } catch (err) {
      throw writeError('--out', values.out, err);
    }
    process.stderr.write(`wrote ${values.out}\n`);
  } else {
    process.stdout.write(text);
  }
}

/** A failed write as one line: the file, what it is, and the system's reason. */
function writeError(flag: string, path: string | null, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const found =
    code === 'EISDIR' ? 'a folder'
    : code === 'ENOENT' ? 'a path whose folder does not exist'
    : code === 'ENOTDIR' ? 'a path through something that is not a folder'
    : code === 'EACCES' || code === 'EPERM' ? 'no permission to write there'
    : code === 'ENOSPC' ? 'no space left on the device'
    : code === 'EROFS' ? 'a read-only file system'
    : `a write error (${code ?? (err instanceof Error ? err.message : String(err))})`;
  return new InputError(flag, '', path === null ? 'an output that can be written' : `a file that can be written (${JSON.stringify(path)})`, found);
}

async function run(argv: string[]): Promise<number> {
  // Measuring on this machine has flags of its own (src/cli/calibrate.ts).
  if ((MEASURE_VERBS as readonly string[]).includes(argv[0] ?? '')) return measureCommand(argv, hardwareFrom);
  const { values, positionals } = parseCommandLine(argv);
  const verb = positionals[0];
  if (values.version) {
    process.stdout.write(`${typeof PACKAGE_VERSION === 'string' ? PACKAGE_VERSION : 'dev'}\n`);
    return 0;
  }
  if (values.help || verb === undefined || verb === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  switch (verb) {
    case 'inspect': {
      const format = formatOption(values, ['table', 'json'], 'table');
      // inspect shows parameter counts, so it reads a GGUF's tensor list too (tied embeddings, weight count).
      const spec = await loadModel(modelArg(positionals, verb), { gguf: 'tensors' });
      emit(format === 'json' ? JSON.stringify(summarizeSpec(spec), null, 2) + '\n' : formatSpecTable(spec), values);
      return 0;
    }
    case 'profile': {
      const format: ReportFormat = formatOption(values, REPORT_FORMATS, 'table');
      const spec = await loadModel(modelArg(positionals, verb));
      const hw = await hardwareFrom(values);
      const workload = checkedWorkload(spec, workloadFrom(values));
      if (format === 'html') {
        emit(htmlReport(spec, hw, values.hardware ?? DEFAULT_HARDWARE, workload, seedFrom(values)), values);
        return 0;
      }
      // The full exports carry the numerics check and the rewritten code; the quick views do not pay for them.
      const { report, simulation } =
        format === 'json' || format === 'md' ? fullReport(spec, hw, workload, seedFrom(values)) : { report: undefined, simulation: simulate(spec, hw, workload) };
      const full = report ?? reportOf(spec, hw, workload, simulation);
      const text =
        format === 'json'
          ? JSON.stringify(full, null, 2) + '\n'
          : format === 'csv'
            ? formatCsv(full)
            : format === 'md'
              ? formatMarkdown(full)
              : format === 'trace'
                ? toChromeTrace(full, simulation) + '\n'
                : formatTable(full);
      emit(text, values);
      return 0;
    }
    case 'sweep': {
      const format = formatOption(values, ['table', 'json'], 'table');
      const spec = await loadModel(modelArg(positionals, verb));
      const hw = await hardwareFrom(values);
      // The grid flags hold lists; the base workload takes every other flag.
      const base = workloadFrom({ ...values, seq: undefined, batch: undefined, context: undefined, tp: undefined });
      const grid = {
        seq: values.seq ? intList('--seq', values.seq) : [base.seq],
        batch: values.batch ? intList('--batch', values.batch) : [base.batch],
        context: values.context ? intList('--context', values.context) : [base.context],
        tp: values.tp ? intList('--tp', values.tp) : [base.tp],
        ranges: values['set-range'] ?? [],
      };
      const points = await runSweepParallel(spec, hw, base, grid);
      emit(format === 'json' ? JSON.stringify(points, null, 2) + '\n' : formatSweep(points, hw, base), values);
      return 0;
    }
    case 'pseudocode': {
      const spec = await loadModel(modelArg(positionals, verb));
      const hw = await hardwareFrom(values);
      const workload = checkedWorkload(spec, workloadFrom(values));
      const simulation = simulate(spec, hw, workload);
      const report = reportOf(spec, hw, workload, simulation);
      emit(formatPseudocode(pseudocodeFor(spec, simulation, report), blockListings(spec, simulation), values.site), values);
      return 0;
    }
    case 'verify': {
      const format = formatOption(values, ['table', 'json'], 'table');
      const spec = await loadModel(modelArg(positionals, verb));
      const result = numericsFor(spec, seedFrom(values));
      emit(format === 'json' ? JSON.stringify(result, null, 2) + '\n' : formatNumerics(result, spec.name), values);
      return numericsPass(result) ? 0 : 1;
    }
    case 'validate': {
      const format = formatOption(values, ['table', 'json'], 'table');
      const result = validate(await validationInputs());
      emit(format === 'json' ? JSON.stringify(result, null, 2) + '\n' : formatValidation(result), values);
      return 0;
    }
    case 'hardware': {
      const sub = positionals[1];
      const format = formatOption(values, ['table', 'json'], 'table');
      if (sub === 'list') {
        emit(format === 'json' ? JSON.stringify(listPresets(), null, 2) + '\n' : formatPresetList(listPresets()), values);
        return 0;
      }
      if (sub === 'show') {
        const name = positionals[2];
        if (!name) throw new InputError('command line', '', 'a preset name or file after "hardware show"');
        const profile = await hardwareFrom({ ...values, hardware: name });
        // The presets' $schema is a path inside this repository; a saved copy is checked by its name (*.hardware.json).
        const { $schema: _schema, ...portable } = profile;
        emit(format === 'json' ? JSON.stringify(portable, null, 2) + '\n' : formatProfile(profile), values);
        return 0;
      }
      throw new InputError('command line', '', '"hardware list" or "hardware show <name|file>"', sub === undefined ? undefined : JSON.stringify(sub));
    }
    default:
      throw new InputError('command line', '', 'a command: inspect, profile, sweep, verify, pseudocode, hardware, validate, harness, measure or calibrate (see --help)', JSON.stringify(verb));
  }
}

/**
 * Exit codes: 0 done; 2 bad input (InputError: one line naming the file, the field and what was
 * expected); 1 a failed verification, or an internal error (one line asking for a report). Issue 9 asked
 * for 1 rather than the former 3: a script sees "did not succeed, and not because of its input" either
 * way, and the line on stderr tells a failed check from a bug. No stack trace unless --debug.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`deferred-norm: ${oneLine(err.message)}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`deferred-norm: internal error: ${oneLine(message)} (a bug: please report it with the command you ran; --debug shows where)\n`);
    if (argv.includes('--debug') && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return 1;
  }
}

/** Messages quote file content; a newline or control character in it must not break the one line. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/**
 * stdout may close early (`| head -1`): EPIPE ends the run quietly with status 0, since the reader
 * had what it wanted. Other write errors (ENOSPC on `> /dev/full`) are one line and exit 2: the output
 * went where the command line sent it, and it could not be written there.
 */
function guardStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`deferred-norm: ${oneLine(writeError('stdout', null, err).message)}\n`);
    process.exit(2);
  });
}

// The same script serves as the worker thread of a large sweep (sweep-parallel.ts).
if (require.main === module && !serveSweepWorker()) {
  guardStdout();
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
