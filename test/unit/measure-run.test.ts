/**
 * Measuring for real (issue 18): `measure` writes the harness and runs it with a Python that has
 * torch (quick mode, SmolLM2-135M's shapes, a short context), the JSON it saves is valid against
 * schemas/measurements.schema.json, `calibrate` fits a profile that loads, and prints the error on the
 * held-back blocks. Skipped, with the reason printed, only where no Python with torch is found.
 * Bad input to `calibrate` is one line and exit 2 either way. Needs `npm run build` (dist/cli.js).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { InputError } from '../../src/core/errors';
import { parseHardwareProfile } from '../../src/core/hardware/profile-file';
import { findTorchPython, noTorchError, pythonCandidates } from '../../src/common/python-finder';
import { findPython, probePython } from '../../src/cli/python-probe';
import { fixturePath } from './helpers/fixtures';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
const SCHEMA = JSON.parse(readFileSync(join(__dirname, '..', '..', 'schemas', 'measurements.schema.json'), 'utf8')) as object;
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 5 * 60_000 });

/** The interpreter `measure` itself would choose (the one finder), or null. */
async function pythonWithTorch(): Promise<string | null> {
  return (await findPython({})).found?.path ?? null;
}

test('measure → JSON valid against the schema → calibrate → a profile that loads, with its held-back error', async (t) => {
  const python = await pythonWithTorch();
  if (!python) {
    const reason = 'no Python with torch ≥ 1.13 found (tried $DEFERRED_NORM_PYTHON, python3, /usr/bin/python3)';
    console.log(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'dn-measure-'));
  try {
    // A copy of the fixture, so that .deferred-norm/ lands in the temporary folder, not the repository.
    const model = join(dir, 'SmolLM2-135M');
    cpSync(join(fixturePath('SmolLM2-135M'), '..'), model, { recursive: true });
    const started = Date.now();
    const measured = run('measure', model, '--quick', '--context', '256', '--python', python);
    assert.equal(measured.status, 0, measured.stderr);
    assert.ok(measured.stderr.includes(`measuring with ${python} (torch `), measured.stderr);
    console.log(`measure --quick took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(measured.stderr, /\[harness\] round 1\/\d+/, 'progress lines come through');
    const json = measured.stdout.trim();
    assert.ok(json.startsWith(join(model, '.deferred-norm', 'measurements')), json);

    const data = JSON.parse(readFileSync(json, 'utf8')) as { entries: { kind: string }[]; skipped: { what: string }[] };
    const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(SCHEMA);
    assert.ok(validate(data), JSON.stringify(validate.errors));
    for (const kind of ['launch', 'stream', 'gemm', 'norm', 'attention', 'block']) assert.ok(data.entries.some((e) => e.kind === kind), `a ${kind} entry`);

    const out = join(dir, 'this-cpu.hardware.json');
    const calibrated = run('calibrate', json, '--out', out, '--batch', '512');
    assert.equal(calibrated.status, 0, calibrated.stderr);
    const heldBack = /Held back \(never fitted\): .*: n (\d+), mean \|simulated ÷ measured − 1\| ([\d.]+)%, max ([\d.]+)%/.exec(calibrated.stdout);
    assert.ok(heldBack, calibrated.stdout);
    assert.equal(heldBack[1], '4', 'two blocks, standard and deferred');
    console.log(heldBack[0]);
    assert.match(calibrated.stdout, /M = 512 is outside the measured shapes \(M 31–33\)/);
    const profile = parseHardwareProfile(readFileSync(out, 'utf8'), out);
    assert.equal(profile.name, 'this-cpu');
    assert.match(profile.provenance['matrix.efficiency']!, /^calibrated: \d+ measurements on .+, \d{4}-\d\d-\d\dT[\d:]+Z, residual \d+\.\d%/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl+C stops measure and the harness it runs (exit 130, no Python left behind)', async (t) => {
  const python = await pythonWithTorch();
  if (!python) {
    console.log('skipped: no Python with torch ≥ 1.13 found');
    t.skip('no Python with torch');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'dn-cancel-'));
  try {
    const model = join(dir, 'SmolLM2-135M');
    cpSync(join(fixturePath('SmolLM2-135M'), '..'), model, { recursive: true });
    // Full mode: long enough to be stopped in the middle.
    const child = spawn(process.execPath, [CLI, 'measure', model, '--python', python], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
        // The harness has started timing: its Python is running.
        if (!sent && stderr.includes('[harness] prepare 3/')) sent = child.kill('SIGINT');
      });
      child.on('close', (c) => resolve(c));
    });
    assert.equal(code, 130, stderr);
    assert.match(stderr, /measurement cancelled \(the harness was stopped\)/);
    const script = /measuring with .*\n/.test(stderr) ? readdirSync(join(model, '.deferred-norm', 'measurements')).find((f) => f.endsWith('.py')) : undefined;
    assert.ok(script, 'the harness script was written');
    // No process still runs that script, and no measurements were saved.
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    assert.equal(ps.includes(script), false, 'the harness is gone');
    assert.equal(readdirSync(join(model, '.deferred-norm', 'measurements')).some((f) => f.endsWith('.json')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('calibrate: a missing file, a malformed measurement and a bad --out are one line each, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-calibrate-'));
  try {
    const missing = run('calibrate', join(dir, 'none.json'), '--out', join(dir, 'x.hardware.json'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /none\.json/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ schema: 'deferred-norm-measurements/1', provenance: { device: 'gpu' } }));
    const malformed = run('calibrate', bad, '--out', join(dir, 'x.hardware.json'));
    assert.equal(malformed.status, 2);
    assert.match(malformed.stderr, /bad\.json: provenance\.device: expected one of cpu, cuda, found "gpu"/);
    assert.equal(malformed.stderr.trim().split('\n').length, 1);
    const noOut = run('calibrate', bad, '--out', 'profile.json');
    assert.equal(noOut.status, 2);
    assert.match(noOut.stderr, /--out: expected the file to write, named NAME\.hardware\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no Python with torch: one message naming each Python tried and what it lacked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-python-'));
  try {
    // A "Python" whose import of torch fails, as one without torch does, and one with torch 1.12.
    const fake = join(dir, 'python-without-torch');
    writeFileSync(fake, '#!/bin/sh\necho "ModuleNotFoundError: No module named torch" >&2\nexit 1\n', { mode: 0o755 });
    const old = join(dir, 'python-old-torch');
    writeFileSync(old, '#!/bin/sh\nprintf 1.12.1\n', { mode: 0o755 });
    const missing = join(dir, 'missing-python');
    // The user-named ones only: whether this machine's python3 has torch is not the test's business.
    const named = pythonCandidates({ flag: missing, environment: fake, pythonExtension: old }).filter((c) => c.source !== 'PATH' && c.source !== 'system');
    const { found, tried } = await findTorchPython(named, (p) => probePython(p));
    assert.equal(found, null);
    const err = noTorchError(tried, '--python PATH or $DEFERRED_NORM_PYTHON');
    assert.ok(err instanceof InputError);
    assert.equal(
      err.message,
      `Python: expected an interpreter that imports torch >= 1.13 (name one with --python PATH or $DEFERRED_NORM_PYTHON), found none: tried ${missing} (--python): not found; ${fake} ($DEFERRED_NORM_PYTHON): ModuleNotFoundError: No module named torch; ${old} (Python extension): torch 1.12.1, older than 1.13`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
