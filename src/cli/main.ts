import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../core/errors';
import { pathKind, readHardwareProfileFile } from '../core/files';
import { applyOverrides } from '../core/hardware/overrides';
import { formatPresetList, formatProfile } from '../core/hardware/format';
import { DEFAULT_HARDWARE, getPreset, listPresets } from '../core/hardware/presets';
import type { HardwareProfile } from '../core/hardware/profile';
import { loadModel } from '../core/model/load';
import { formatSpecTable, summarizeSpec } from '../core/model/summary';
import { REPORT_FORMATS, formatCsv, formatMarkdown, formatTable, toChromeTrace, type ReportFormat } from '../core/report/formats';
import { reportOf, shownSpec } from '../core/report/profile';
import { simulate } from '../core/sim/simulate';
import { formatNumerics, numericsFor, numericsPass } from '../core/report/numerics';
import { fullReport } from '../core/report/full';
import { blockListings, formatPseudocode, pseudocodeFor } from '../core/codegen';
import { formatSweep } from '../core/report/sweep';
import { checkWorkloadForModel, type Workload, type WorkloadRequest } from '../core/workload';
import { resolveWorkload } from '../core/report/tensor-parallel';
import { formatValidation, validate } from '../core/validate/validate';
import { formatMeasuredSources } from '../core/validate/measured';
import type { ModelSpec } from '../core/model/spec';
import { htmlReport } from './html';
import { checkPython, pytorchPatch } from './pytorch';
import { checkOutPath, jsonText, writeError, writeFileAtomic } from './output';
import { jsonSafe, shortened, terminalSafe, terminalSafeLines } from '../core/text';
import { runSweepParallel, serveSweepWorker } from './sweep-parallel';
import { defaultHardwareOf, measuredSources, measurementFiles, validationInputs } from './validate';
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
  deferred-norm pytorch <model> [workload and hardware options] [--out FILE.py] [--check] [--python PATH]
                                      the PyTorch patch module (deferred_norm_patch.py); --check names the Python
                                      with torch that can run it (--python, then python3, /usr/bin/python3), exit 1 if none
  deferred-norm hardware list [--format table|json]
  deferred-norm hardware show <name|file> [--format table|json]
  deferred-norm validate [--measurements FILE…] [--hardware NAME|FILE] [--format table|json]
                                      published latency measurements beside the simulated figures; with
                                      --measurements, your own (from measure) in a section of their own
  deferred-norm harness <model> [workload and hardware options] [--device cpu|cuda] [--quick] [--out FILE.py]
  deferred-norm measure <model> [workload options] [--python PATH] [--device cpu|cuda] [--quick] [--threads N]
  deferred-norm calibrate <measurements.json…> [--hardware BASE] --out NAME.hardware.json [--batch N --phase … (check a workload)]

<model> is a config.json, a folder holding one, a .gguf file or a .safetensors file.

Workload options (defaults in brackets)
  --phase prefill|decode [decode]     --batch N [32]      --seq N [2048] (prefill tokens)
  --context N [2048] (decode)         --tp N|auto [auto]  --dtype fp32|bf16|fp16|fp8|int8|int4 [the hardware's]
  --softmax-offset exact|bound|online [online]            --tiles N [4]
  --defer-depth deepest|linear [deepest] (how far deferred norm scales may travel; linear = the papers' rewrite)
  --tp auto: the smallest degree the heads allow at which weights, KV cache and activations fit each device
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

/**
 * The workload for this model on this machine: `--tp auto` (the default) resolved to the smallest degree
 * that fits, then checked against the model's heads; notes go with the model's.
 */
function checkedWorkload(spec: ModelSpec, hw: HardwareProfile, request: WorkloadRequest): Workload {
  const workload = resolveWorkload(spec, hw, request);
  spec.notes.push(...checkWorkloadForModel(spec, workload, 'command line').notes);
  return workload;
}

/** What a command read, so that --out never overwrites it. */
type Inputs = readonly string[];

/**
 * Writes to --out, or to stdout (whose write errors are handled in main). Every line is made inert
 * first (terminalSafe): file-derived names reach no terminal or document with their controls.
 */
function emit(text: string, values: ParsedOptions, inputs: Inputs = []): void {
  write(terminalSafeLines(text), values, inputs);
}

/** JSON output: the values kept, the code points a terminal acts on escaped (jsonSafe). */
function emitJson(value: unknown, values: ParsedOptions, inputs: Inputs = []): void {
  write(jsonSafe(jsonText(value)) + '\n', values, inputs);
}

function write(text: string, values: ParsedOptions, inputs: Inputs): void {
  if (values.out) {
    writeFileAtomic(checkOutPath(values.out, inputs), text);
    process.stderr.write(`wrote ${terminalSafe(values.out)}\n`);
  } else {
    process.stdout.write(text);
  }
}

/**
 * The files a model command may have read, which --out must not replace: the path given, and in its
 * folder the files the model loader reads (config.json, the safetensors index, weights, GGUF files);
 * a hardware file. Listed only when there is an --out.
 */
function modelInputs(path: string, values: ParsedOptions): string[] {
  if (!values.out) return [];
  const folder = statSync(path).isDirectory() ? path : dirname(path);
  const loaderReads = (name: string) => name === 'config.json' || name === 'model.safetensors.index.json' || /\.(safetensors|gguf)$/i.test(name);
  return [path, ...readdirSync(folder).filter(loaderReads).map((name) => join(folder, name)), ...(values.hardware ? [values.hardware] : [])];
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
      const path = modelArg(positionals, verb);
      const spec = await loadModel(path, { gguf: 'tensors' });
      if (format === 'json') emitJson(summarizeSpec(spec), values, modelInputs(path, values));
      else emit(formatSpecTable(spec), values, modelInputs(path, values));
      return 0;
    }
    case 'profile': {
      const format: ReportFormat = formatOption(values, REPORT_FORMATS, 'table');
      const path = modelArg(positionals, verb);
      const spec = await loadModel(path);
      const hw = await hardwareFrom(values);
      const workload = checkedWorkload(spec, hw, workloadFrom(values));
      const inputs = modelInputs(path, values);
      if (format === 'html') {
        // A document, not terminal text: its file-derived strings are escaped inside it (report-html.ts).
        write(htmlReport(spec, hw, values.hardware ?? DEFAULT_HARDWARE, workload, seedFrom(values)), values, inputs);
        return 0;
      }
      // The full exports carry the numerics check and the rewritten code; the quick views do not pay for them.
      const { report, simulation } =
        format === 'json' || format === 'md' ? fullReport(spec, hw, workload, seedFrom(values)) : { report: undefined, simulation: simulate(spec, hw, workload) };
      const full = report ?? reportOf(spec, hw, workload, simulation);
      if (format === 'json') emitJson(full, values, inputs);
      else if (format === 'trace') write(jsonSafe(toChromeTrace(full, simulation)) + '\n', values, inputs);
      else emit(format === 'csv' ? formatCsv(full) : format === 'md' ? formatMarkdown(full) : formatTable(full), values, inputs);
      return 0;
    }
    case 'sweep': {
      const format = formatOption(values, ['table', 'json'], 'table');
      const path = modelArg(positionals, verb);
      const spec = await loadModel(path);
      const hw = await hardwareFrom(values);
      // The grid flags hold lists; the base workload takes every other flag, and its TP (auto unless one
      // degree is given) is resolved at the base point: a sweep along batch or context holds it.
      const single = values.tp !== undefined && !values.tp.includes(',') ? values.tp : undefined;
      const base = checkedWorkload(spec, hw, workloadFrom({ ...values, seq: undefined, batch: undefined, context: undefined, tp: single }));
      const grid = {
        seq: values.seq ? intList('--seq', values.seq) : [base.seq],
        batch: values.batch ? intList('--batch', values.batch) : [base.batch],
        context: values.context ? intList('--context', values.context) : [base.context],
        tp: values.tp && single === undefined ? intList('--tp', values.tp) : [base.tp],
        ranges: values['set-range'] ?? [],
      };
      const points = await runSweepParallel(spec, hw, base, grid);
      if (format === 'json') emitJson(points, values, modelInputs(path, values));
      else emit(formatSweep(points, hw, base), values, modelInputs(path, values));
      return 0;
    }
    case 'pseudocode': {
      const path = modelArg(positionals, verb);
      const spec = await loadModel(path);
      const hw = await hardwareFrom(values);
      const workload = checkedWorkload(spec, hw, workloadFrom(values));
      const shown = shownSpec(spec);
      const simulation = simulate(shown, hw, workload);
      const report = reportOf(spec, hw, workload, simulation);
      emit(formatPseudocode(pseudocodeFor(shown, simulation, report), blockListings(shown, simulation), values.site), values, modelInputs(path, values));
      return 0;
    }
    case 'pytorch': {
      const path = modelArg(positionals, verb);
      const spec = await loadModel(path);
      const hw = await hardwareFrom(values);
      // A program, written as is: every file-derived string in it is already an escaped Python literal.
      write(pytorchPatch(spec, hw, checkedWorkload(spec, hw, workloadFrom(values))), values, modelInputs(path, values));
      return values.check || values.python !== undefined ? checkPython(values.python) : 0;
    }
    case 'verify': {
      const format = formatOption(values, ['table', 'json'], 'table');
      const path = modelArg(positionals, verb);
      const spec = await loadModel(path);
      const result = numericsFor(spec, seedFrom(values));
      if (format === 'json') emitJson(result, values, modelInputs(path, values));
      else emit(formatNumerics(result, shownSpec(spec).name), values, modelInputs(path, values));
      return numericsPass(result) ? 0 : 1;
    }
    case 'validate': {
      const format = formatOption(values, ['table', 'json'], 'table');
      const files = measurementFiles(values.measurements, positionals.slice(1));
      const result = validate(await validationInputs());
      const measured = await measuredSources(files, (m) => hardwareFrom({ ...values, hardware: values.hardware ?? defaultHardwareOf(m) }));
      // The user's points go beside the published ones, never into their figures.
      if (format === 'json') emitJson({ ...result, measured }, values, files);
      else emit(formatValidation(result) + formatMeasuredSources(measured), values, files);
      return 0;
    }
    case 'hardware': {
      const sub = positionals[1];
      const format = formatOption(values, ['table', 'json'], 'table');
      if (sub === 'list') {
        if (format === 'json') emitJson(listPresets(), values);
        else emit(formatPresetList(listPresets()), values);
        return 0;
      }
      if (sub === 'show') {
        const name = positionals[2];
        if (!name) throw new InputError('command line', '', 'a preset name or file after "hardware show"');
        const profile = await hardwareFrom({ ...values, hardware: name });
        // The presets' $schema is a path inside this repository; a saved copy is checked by its name (*.hardware.json).
        const { $schema: _schema, ...portable } = profile;
        if (format === 'json') emitJson(portable, values, [name]);
        else emit(formatProfile(profile), values, [name]);
        return 0;
      }
      throw new InputError('command line', '', '"hardware list" or "hardware show <name|file>"', sub === undefined ? undefined : JSON.stringify(sub));
    }
    default:
      throw new InputError('command line', '', 'a command: inspect, profile, sweep, verify, pseudocode, pytorch, hardware, validate, harness, measure or calibrate (see --help)', JSON.stringify(verb));
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
    if (argv.includes('--debug') && err instanceof Error && err.stack) process.stderr.write(terminalSafeLines(err.stack) + '\n');
    return 1;
  }
}

/** The most characters of a message printed: messages quote file content, which may be huge. */
const MAX_MESSAGE_CHARS = 2000;

/** Messages quote file content: one inert line (terminalSafe), bounded. */
function oneLine(text: string): string {
  return shortened(terminalSafe(text), MAX_MESSAGE_CHARS);
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
