/**
 * Issue 9's table of hostile and broken inputs, one test per row, scaled to run in about a second:
 * sparse files made with truncate instead of 200 MB of text, /dev/zero and /dev/full where the OS has
 * them. Each runs the built CLI (dist/cli.js; `npm test` builds it first) with a 256 MB heap cap, and
 * checks the exit code, that stderr is one line naming the file or flag and what was expected, and
 * that it ended within a generous time (the speed targets themselves belong to `npm run bench`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors';
import { FILE_CAPS, readHardwareProfileFile, readJsonFile, withByteSource } from '../../src/core/files';
import { JSON_MAX_DEPTH, parseLenientJson } from '../../src/core/json';
import { loadModel } from '../../src/core/model/load';
import { MAX_SWEEP_POINTS, runSweep } from '../../src/core/report/sweep';
import { getPreset } from '../../src/core/hardware/presets';
import { leaves } from '../../src/core/hardware/paths';
import { DEFAULT_WORKLOAD, checkWorkloadForModel } from '../../src/core/workload';
import { main } from '../../src/cli/main';
import { fixturePath, loadFixture } from './helpers/fixtures';
import { llamaGgufKv, writeGguf } from './helpers/gguf-writer';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
const LLAMA = fixturePath('Llama-3.1-8B'); // 32 heads, 8 KV heads
const TMP = mkdtempSync(join(tmpdir(), 'dnp-hostile-'));
const MiB = 1024 * 1024;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(...args: string[]): Run {
  const t0 = performance.now();
  // The timeout turns a regression into a failure instead of a hang (the old reader waited forever on a FIFO).
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * MiB, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/** Exit 2, one line on stderr (no stack trace), matching `pattern`, within `ms`. */
function refused(r: Run, pattern: RegExp, ms = 5000): void {
  assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^deferred-norm: /);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
  assert.match(lines[0]!, pattern);
  assert.ok(r.ms < ms, `took ${r.ms.toFixed(0)} ms`);
}

/** A file of `size` bytes that starts with `head`; the rest is a hole (zeros), no disk used. */
function sparse(name: string, head: string, size: number): string {
  const path = join(TMP, name);
  writeFileSync(path, head);
  truncateSync(path, size);
  return path;
}

function nested(depth: number): string {
  return `{"a": ${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

const llamaConfig = JSON.parse(readFileSync(LLAMA, 'utf8')) as Record<string, unknown>;
const dimcJson = cli('hardware', 'show', 'dimc', '--format', 'json').stdout;

test('cli built', () => assert.ok(existsSync(CLI), 'dist/cli.js: run `node esbuild.config.mjs` first'));

// --- rows: devices -----------------------------------------------------------------------------

test('profile M --hardware /dev/zero: exit 2 naming the device, no read', { skip: !existsSync('/dev/zero') }, () => {
  refused(cli('profile', LLAMA, '--hardware', '/dev/zero'), /^deferred-norm: \/dev\/zero: expected a regular file \(a hardware profile \(JSON\)\), found a device$/, 3000);
});

test('profile /dev/zero: exit 2 naming the device', { skip: !existsSync('/dev/zero') }, () => {
  refused(cli('profile', '/dev/zero'), /^deferred-norm: \/dev\/zero: expected a regular file .*, found a device$/, 3000);
});

test('a FIFO (no writer) as model or hardware: refused at once, not a hang', { skip: process.platform === 'win32' }, () => {
  const fifo = join(TMP, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status !== 0) return;
  refused(cli('profile', fifo), /fifo: expected a regular file .*, found a pipe$/, 3000);
  refused(cli('profile', LLAMA, '--hardware', fifo), /fifo: expected a regular file \(a hardware profile \(JSON\)\), found a pipe$/, 3000);
});

// --- rows: sizes ---------------------------------------------------------------------------------

test('a 200 MB hardware JSON (sparse): refused at the 1 MiB cap while reading', () => {
  const path = sparse('huge.hardware.json', dimcJson.replace('"efficiency": 0.5', '"efficiency": NaN'), 200 * MiB);
  refused(cli('profile', LLAMA, '--hardware', path), new RegExp(`huge\\.hardware\\.json: expected a hardware profile \\(JSON\\) of at most 1 MiB, found more: reading stopped at 1 MiB$`), 3000);
});

test('a hardware JSON just under the cap with one NaN: read linearly, refused at the field', () => {
  const profile = JSON.parse(dimcJson) as Record<string, unknown>;
  profile['description'] = 'x'.repeat(FILE_CAPS.hardware.bytes - 20_000);
  const text = JSON.stringify(profile, null, 2).replace(/"expCost": 4/, '"expCost": NaN');
  const path = join(TMP, 'big.hardware.json');
  writeFileSync(path, text);
  refused(cli('profile', LLAMA, '--hardware', path), /big\.hardware\.json: vector\.expCost: expected a number ≥ 0 and ≤ 1000, found null$/, 3000);
});

test('a 60 MB config (sparse): refused at the 16 MiB cap', () => {
  const path = sparse('config.json', JSON.stringify({ ...llamaConfig, x: 0 }).replace('"x":0', '"x":NaN'), 60 * MiB);
  refused(cli('profile', path), /config\.json: expected a model config \(JSON\) of at most 16 MiB, found more: reading stopped at 16 MiB$/, 3000);
});

test('an 8 MB config holding one NaN parses linearly (the NaN reads as absent)', () => {
  // 8 MB of labels, then one bare NaN at the end: the old per-character rebuild took seconds here.
  const labels: Record<string, string> = {};
  for (let i = 0; i < 350_000; i++) labels[String(i)] = `label_${i}`;
  const text = JSON.stringify({ ...llamaConfig, id2label: labels }).replace(/}$/, ', "pad_token_id": NaN}');
  assert.ok(text.length > 8e6);
  const value = parseLenientJson(text, 'big.json') as Record<string, unknown>;
  assert.equal(value['pad_token_id'], null);
  assert.equal((value['id2label'] as Record<string, string>)['349999'], 'label_349999');
  // Linear: within 4× of the native parser on the same text (best of 3 each; the old rebuild was 7×
  // here, and its rope of one-character strings grew to 2.3 GB at 60 MB).
  const best = (f: () => unknown) => Math.min(...[0, 1, 2].map(() => ((t) => (f(), performance.now() - t))(performance.now())));
  const native = best(() => JSON.parse(text.replace('NaN', 'null')));
  const ours = best(() => parseLenientJson(text, 'big.json'));
  assert.ok(ours < 4 * native + 20, `parseLenientJson ${ours.toFixed(0)} ms against JSON.parse ${native.toFixed(0)} ms`);
  const path = join(TMP, 'big-nan');
  mkdirSync(path);
  writeFileSync(join(path, 'config.json'), text);
  const r = cli('profile', path);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.ms < 5000, `profile took ${r.ms.toFixed(0)} ms`);
});

test('non-finite literals: only bare ones outside strings and comments become null', () => {
  const text = '{"a": NaN, "b": -Infinity, "c": [Infinity, 1], "s": "NaN Infinity", /* NaN */ "d": 2, "NaNx": 1}';
  assert.deepEqual(parseLenientJson(text, 'f.json'), { a: null, b: null, c: [null, 1], s: 'NaN Infinity', d: 2, NaNx: 1 });
  // An error after a replaced literal is placed in the original text.
  assert.throws(() => parseLenientJson('{"a": NaN,\n "b": }', 'f.json'), (e: unknown) => e instanceof InputError && e.field === 'line 2, column 7');
});

// --- rows: sweeps, workloads, hardware numbers -----------------------------------------------------

test('sweep with three --set-range of 200 values: counted before anything is built', () => {
  const values = Array.from({ length: 200 }, (_, i) => i + 1).join(',');
  const r = cli('sweep', LLAMA, '--set-range', `collective.hopLatencyNs=${values}`, '--set-range', `vector.startLatencyNs=${values}`, '--set-range', `matrix.startLatencyNs=${values}`);
  refused(r, /^deferred-norm: sweep: grid: expected at most 100,000 points, found 8,000,000 \(200 × 200 × 200\)$/, 3000);
});

test('runSweep refuses a grid one point over the limit before simulating any', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const over = Math.floor(MAX_SWEEP_POINTS / 2) + 1; // × 2 batches
  const grid = { seq: [1], batch: [1, 2], context: Array.from({ length: over }, (_, i) => i + 1), tp: [1], ranges: [] };
  const t0 = performance.now();
  assert.throws(() => runSweep(spec, getPreset('dimc'), DEFAULT_WORKLOAD, grid), (e: unknown) => e instanceof InputError && e.kind === 'limit' && e.message.includes(`found ${(over * 2).toLocaleString('en')}`));
  assert.ok(performance.now() - t0 < 500);
});

test('--tp 3 on a 32-head model: refused, naming the degrees that fit', () => {
  refused(cli('profile', LLAMA, '--tp', '3'), /tp: expected a divisor of the model's 32 attention heads \(1, 2, 4, 8, 16, 32\), found 3$/);
});

test('--tp 1024: refused as beyond the heads', () => {
  refused(cli('profile', LLAMA, '--tp', '1024'), /tp: expected no more than the model's 32 attention heads \(1, 2, 4, 8, 16, 32\), found 1024$/);
});

test('--tp 16 over 8 KV heads: accepted, with a note that each KV head is replicated on 2 chips', async () => {
  const r = cli('profile', LLAMA, '--tp', '16', '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  const notes = JSON.parse(r.stdout).model.notes as string[];
  assert.ok(notes.some((n) => /16 chips with 8 KV heads: each KV head is replicated on 2 chips/.test(n)), notes.join('\n'));
  // The core function says the same, and refuses a degree that is neither a divisor nor a multiple of the KV heads.
  const spec = await loadFixture('Llama-3.1-8B');
  assert.deepEqual(checkWorkloadForModel(spec, { ...DEFAULT_WORKLOAD, tp: 8 }).notes, []);
  const qwen = await loadFixture('Qwen2-7B-Instruct'); // 28 heads, 4 KV heads
  assert.throws(() => checkWorkloadForModel(qwen, { ...DEFAULT_WORKLOAD, tp: 14 }), (e: unknown) => e instanceof InputError && /a divisor or a multiple of the model's 4 KV heads \(1, 2, 4, 28\)/.test(e.message));
});

test('an absurd batch × context is refused as beyond a pass', () => {
  refused(cli('profile', LLAMA, '--batch', '65536', '--context', '16777216'), /batch × context: expected at most 2,147,483,648 tokens in one pass, found 65,536 × 16,777,216 = 1,099,511,627,776$/);
});

test('--set vector.gelemsPerSec=1e-300: refused by the plausible range', () => {
  refused(cli('profile', LLAMA, '--set', 'vector.gelemsPerSec=1e-300'), /^deferred-norm: --set: vector\.gelemsPerSec: expected a number ≥ 0\.001 and ≤ 1e12, found "1e-300"$/);
});

test('the extremes of every range still print finite percentages', () => {
  const r = cli(
    'profile', LLAMA, '--format', 'json', '--set', 'vector.gelemsPerSec=0.001', '--set', 'matrix.peakTflops.fp8=1e12', '--set', 'matrix.efficiency=0.001',
    '--set', 'collective.bandwidthGBps=0.001', '--set', 'collective.hopLatencyNs=1e9', '--batch', '128', '--context', '16777216',
  );
  assert.equal(r.status, 0, r.stderr);
  const totals = JSON.parse(r.stdout).totals as Record<string, number>;
  for (const [k, v] of Object.entries(totals)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
});

test('--seq -5: says what --seq takes', () => {
  refused(cli('profile', LLAMA, '--seq', '-5'), /^deferred-norm: --seq: expected a whole number of at least 1, found "-5"$/);
  refused(cli('profile', LLAMA, '--seq=-5'), /--seq: expected a whole number of at least 1, found "-5"$/);
  refused(cli('profile', LLAMA, '--hardware', '-x.json'), /^deferred-norm: command line: expected known options/);
});

// --- rows: closed pipes and write errors -----------------------------------------------------------

test('profile … --format json | head -1: quiet, status 0', { skip: process.platform === 'win32' }, () => {
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" profile "${LLAMA}" --format json | head -1; echo "status=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
  assert.equal(r.stdout, '{\n');
  assert.equal(r.stderr, 'status=0\n');
});

test('> /dev/full: one line, exit 2', { skip: !existsSync('/dev/full') }, () => {
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" profile "${LLAMA}" --format json > /dev/full`], { encoding: 'utf8' });
  refused({ ...r, ms: 0 }, /^deferred-norm: stdout: expected an output that can be written, found no space left on the device$/);
});

test('--hardware DIR, a folder with no model, --out DIR, --out missing/dir/x.json: exit 2, one line each', () => {
  refused(cli('profile', LLAMA, '--hardware', TMP), /: expected a regular file \(a hardware profile \(JSON\)\), found a folder$/);
  const empty = join(TMP, 'empty');
  mkdirSync(empty);
  refused(cli('profile', empty), /empty: config\.json: expected a config\.json, a \.gguf file or \.safetensors weights in the folder, found none of them$/);
  refused(cli('profile', LLAMA, '--out', TMP), /^deferred-norm: --out: expected a regular file to write, or a new path, found a folder \(".*"\)$/);
  refused(cli('profile', LLAMA, '--out', join(TMP, 'missing', 'dir', 'x.json')), /--out: expected a file that can be written \(".*x\.json"\), found a path whose folder does not exist$/);
  refused(cli('profile', join(TMP, 'nothing-here.json')), /nothing-here\.json: expected an existing file or folder$/);
});

// --- rows: deep nesting ---------------------------------------------------------------------------

test('JSON nested a million levels deep: config and hardware refused with the depth; the optional index only noted', () => {
  const deep = nested(1_000_000);
  const dir = join(TMP, 'deep-config');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), deep);
  refused(cli('profile', dir), new RegExp(`config\\.json: line 1, column \\d+: expected JSON nested at most ${JSON_MAX_DEPTH} levels deep, found deeper nesting$`), 3000);
  const hw = join(TMP, 'deep.hardware.json');
  writeFileSync(hw, nested(400_000)); // a million levels is 2 MB, past the 1 MiB cap for profiles

  refused(cli('profile', LLAMA, '--hardware', hw), /deep\.hardware\.json: line 1, column \d+: expected JSON nested at most 64 levels deep/, 3000);
  // model.safetensors.index.json only cross-checks the weights: a broken one is noted, and the config is profiled.
  const withIndex = join(TMP, 'deep-index');
  mkdirSync(withIndex);
  writeFileSync(join(withIndex, 'config.json'), JSON.stringify(llamaConfig));
  writeFileSync(join(withIndex, 'model.safetensors.index.json'), deep);
  const r = cli('profile', withIndex, '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  assert.ok((JSON.parse(r.stdout).model.notes as string[]).some((n) => /index\.json could not be read \(.*nested at most 64 levels deep/.test(n)));
});

test('depth: exactly the limit parses, one more is refused (brackets inside strings and comments do not count)', () => {
  const ok = `${'['.repeat(JSON_MAX_DEPTH)}"[[[[" /* [[[[ */${']'.repeat(JSON_MAX_DEPTH)}`;
  assert.doesNotThrow(() => parseLenientJson(ok, 'f.json'));
  assert.throws(() => parseLenientJson(`${'{"a":'.repeat(JSON_MAX_DEPTH + 1)}1${'}'.repeat(JSON_MAX_DEPTH + 1)}`, 'f.json'), (e: unknown) => e instanceof InputError && e.kind === 'limit' && e.field === `line 1, column ${5 * JSON_MAX_DEPTH + 1}`);
});

// --- row: a GGUF tensor with n_dims 2^32 − 1 -------------------------------------------------------

test('a GGUF tensor with n_dims 2^32−1: inspect (which reads the tensor list) refuses it; profile reads metadata only', () => {
  const dims = { name: 'tiny', layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, context: 256, vocab: 100, eps: 1e-5, tokens: false };
  const file = writeGguf({ kv: llamaGgufKv(dims), tensors: [{ name: 'token_embd.weight', shape: [] }] });
  // The only tensor info is name, u32 n_dims, (no dims), u32 type, u64 offset: n_dims sits 16 bytes before its end.
  new DataView(file.bytes.buffer, file.bytes.byteOffset).setUint32(file.headerEnd - 16, 0xffffffff, true);
  const path = join(TMP, 'ndims.gguf');
  writeFileSync(path, file.bytes);
  refused(cli('inspect', path), /ndims\.gguf: tensor_info\[0\] \(token_embd\.weight\)\.n_dims: expected at most 8 dimensions, found 4294967295$/);
  // profile stops after the model's own keys and never reaches the tensor list: nothing it uses is corrupt.
  const r = cli('profile', path);
  assert.equal(r.status, 0, r.stderr);
});

// --- issue 16: the hostile corpus (test/fixtures/hostile/), replayed through the built CLI ------------

/** The requirement: every member ends with 0 or 2 within 3 s and 400 MB of resident memory. */
const CORPUS_MAX_RSS_MB = 400;
const TIME = '/usr/bin/time';

/** The CLI as a child process under `/usr/bin/time -v` (where present) for its peak resident memory. */
function measured(args: string[]): Run & { rssMb: number | null; signal: string | null } {
  const t0 = performance.now();
  const timed = existsSync(TIME);
  const argv = [...(timed ? ['-v', process.execPath] : []), CLI, ...args];
  // The timeout is a hang guard (the old GGUF walk took 7 s here), not the speed target: `npm run bench` and the report hold those.
  const r = spawnSync(timed ? TIME : process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 * MiB, timeout: 30_000 });
  const ms = performance.now() - t0;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const exit = /Exit status: (\d+)/.exec(r.stderr);
  const killed = /Command terminated by signal (\d+)/.exec(r.stderr);
  // time(1) appends its report to stderr; the CLI's own lines come first.
  const stderr = timed ? r.stderr.split('\n').filter((l) => !/^\t|^\s*Command (being timed|terminated|exited)/.test(l)).join('\n') : r.stderr;
  return {
    status: timed ? (exit ? Number(exit[1]) : null) : r.status,
    signal: killed ? `signal ${killed[1]}` : r.signal,
    stdout: r.stdout,
    stderr,
    ms,
    rssMb: rss ? Number(rss[1]) / 1024 : null,
  };
}

test('the hostile corpus: every file exits 0 or 2 (never 1, a signal or a hang) within 400 MB', async (t) => {
  const { writeHostileCorpus } = await import('../fixtures/hostile/generate');
  const t0 = performance.now();
  const dir = join(TMP, 'corpus');
  // About 300 MB: removed when the test ends, pass or fail.
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases = writeHostileCorpus(dir);
  t.diagnostic(`corpus of ${cases.length} cases written in ${(performance.now() - t0).toFixed(0)} ms`);
  for (const c of cases) {
    await t.test(`${c.command} ${c.name}`, () => {
      const r = measured([c.command, c.model]);
      t.diagnostic(`${c.command} ${c.name}: exit ${r.status}, ${(r.ms / 1000).toFixed(2)} s, ${r.rssMb === null ? 'RSS not measured' : `${r.rssMb.toFixed(0)} MB RSS`}`);
      assert.equal(r.signal, null, `${c.name}: ended by a signal`);
      assert.equal(r.status, c.exit, `${c.name}: exit status (stderr: ${r.stderr.slice(0, 500)})`);
      if (c.exit === 2) refused(r, c.says ?? /./, 30_000);
      else assert.doesNotMatch(r.stdout, /native code|function \w*\(|NaN|∞|Infinity%/, `${c.name}: nothing of JavaScript's internals, and no NaN or infinite figure, in the output`);
      if (r.rssMb !== null) assert.ok(r.rssMb <= CORPUS_MAX_RSS_MB, `${c.name}: ${r.rssMb.toFixed(0)} MB resident, over ${CORPUS_MAX_RSS_MB} MB`);
    });
  }
});

test('a model_type, architecture or dtype named after a JavaScript internal reads exactly as an unknown name does', async () => {
  const { specFromConfig } = await import('../../src/core/model/config');
  const { specFromGguf } = await import('../../src/core/model/gguf');
  const { memorySource } = await import('../../src/core/model/bytes');
  // The second method: the same file with a made-up name, the name then put back by hand.
  const unknown = 'zz_unknown_name';
  const same = (value: unknown, name: string) => JSON.parse(JSON.stringify(value).replaceAll(unknown, name)) as unknown;
  const source = { path: 'm.json', format: 'config.json' as const };
  const outcome = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (err) {
      assert.ok(err instanceof InputError, `an InputError, not ${String(err)}`);
      return { error: err.message };
    }
  };
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
    const full = { ...llamaConfig, model_type: unknown, architectures: undefined };
    const sparse = { model_type: unknown, hidden_size: 64 };
    const nested = { model_type: 'llava', text_config: { ...llamaConfig, model_type: unknown } };
    const dtype = { ...llamaConfig, torch_dtype: unknown };
    for (const config of [full, sparse, nested, dtype]) {
      const expected = same(outcome(() => specFromConfig(config, source)), name);
      assert.deepEqual(outcome(() => specFromConfig(same(config, name), source)), expected, `${name} in ${JSON.stringify(config).slice(0, 60)}`);
    }
    const dims = { name: 'tiny', layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, context: 256, vocab: 100, eps: 1e-5, tokens: false };
    const gguf = async (arch: string) => {
      try {
        return await specFromGguf(memorySource(writeGguf({ kv: llamaGgufKv({ ...dims, arch }) }).bytes), { path: 'm.gguf', format: 'gguf' });
      } catch (err) {
        assert.ok(err instanceof InputError, `an InputError, not ${String(err)}`);
        return { error: err.message };
      }
    };
    assert.deepEqual(await gguf(name), same(await gguf(unknown), name), `general.architecture ${name}`);
  }
});

test('--set paths naming JavaScript internals are unknown fields, not reachable ones', () => {
  for (const path of ['constructor', '__proto__.x', 'matrix.constructor', 'matrix.peakTflops.toString', 'memory.tiers.constructor']) {
    refused(cli('profile', LLAMA, '--set', `${path}=1`), /^deferred-norm: --set: .*: expected (a field|a dtype|an index)/, 5000);
  }
});

// --- the file edge itself ------------------------------------------------------------------------

test('the file edge caps what it reads, whatever the file size, and names file and cap', async () => {
  const path = sparse('sparse.bin', 'GGUF', 8 * MiB);
  await assert.rejects(readJsonFile(path, 'hardware'), (e: unknown) => e instanceof InputError && e.file === path && e.kind === 'limit' && /of at most 1 MiB/.test(e.message));
  await assert.rejects(readJsonFile(path, 'config', { maxBytes: 1000 }), (e: unknown) => e instanceof InputError && /at most 1,000 bytes/.test(e.message));
  // A ByteSource: the sum of reads is capped, not the file size.
  let read = 0;
  await assert.rejects(
    withByteSource(path, 'gguf', async (src) => {
      assert.equal(src.size, 8 * MiB);
      for (;;) read += (await src.read(read, MiB)).length;
    }, { maxBytes: 3 * MiB }),
    (e: unknown) => e instanceof InputError && /GGUF metadata of at most 3 MiB/.test(e.message),
  );
  assert.equal(read, 3 * MiB);
  await assert.rejects(readHardwareProfileFile(TMP), (e: unknown) => e instanceof InputError && /found a folder$/.test(e.message));
});

test('UTF-16 and BOM-prefixed configs read as text', async () => {
  const text = JSON.stringify(llamaConfig);
  const dir = join(TMP, 'utf16');
  mkdirSync(dir);
  const path = join(dir, 'config.json');
  writeFileSync(path, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  assert.equal((await loadModel(path)).layers, 32);
  writeFileSync(path, '\ufeff' + text);
  assert.equal((await loadModel(path)).layers, 32);
});

// --- internal errors ---------------------------------------------------------------------------------

test('an internal error: exit 1, one line asking for a report; the stack only with --debug', async () => {
  const write = process.stdout.write;
  const errWrite = process.stderr.write;
  let err = '';
  try {
    process.stdout.write = (() => {
      throw new TypeError('boom');
    }) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    assert.equal(await main(['hardware', 'list']), 1);
    assert.equal(err, 'deferred-norm: internal error: boom (a bug: please report it with the command you ran; --debug shows where)\n');
    err = '';
    assert.equal(await main(['hardware', 'list', '--debug']), 1);
    assert.match(err, /^deferred-norm: internal error: boom .*\nTypeError: boom\n\s+at /);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
});

test('an error message quoting file content or a path stays one line', () => {
  const path = join(TMP, 'bad-line.hardware.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(dimcJson), name: 'a\nb\u001b[31m' }));
  refused(cli('profile', LLAMA, '--hardware', path), /bad-line\.hardware\.json: name: expected a short id .*found "a\\nb\\u001b\[31m"$/);
  // The line break becomes a space; the escape sequence goes with its parameters (terminalSafe).
  refused(cli('profile', join(TMP, 'two\nlines\u001b[2J.json')), /two lines\.json: expected an existing file or folder$/);
});

// --- hardware ranges: the validator and the schema state the same bounds -----------------------------

test('every number of a profile has the same minimum and maximum in the validator and in the JSON schema', () => {
  const schema = JSON.parse(readFileSync(join(__dirname, '..', '..', 'schemas', 'hardware-profile.schema.json'), 'utf8'));
  let checked = 0;
  for (const leaf of leaves(getPreset('gpu-h100'))) {
    if (leaf.spec.kind !== 'number') continue;
    let node = schema;
    for (const seg of leaf.segments) node = typeof seg === 'number' ? node.items : node.properties[seg];
    const min = node.minimum ?? node.exclusiveMinimum;
    assert.equal(min, leaf.spec.min, `${leaf.path}: minimum`);
    assert.equal(node.exclusiveMinimum !== undefined, leaf.spec.exclusiveMin, `${leaf.path}: exclusive minimum`);
    assert.equal(node.maximum, leaf.spec.max, `${leaf.path}: maximum`);
    assert.ok(Number.isFinite(node.maximum), `${leaf.path}: bounded above`);
    checked++;
  }
  assert.ok(checked >= 20, `${checked} numbers checked`);
});
