/**
 * Issue 16, part 3: what the CLI prints and writes is inert and bounded, and --out is safe. Each case
 * runs the built CLI as a child process (as a user would) with a limit, so a hang fails the test
 * (status null) instead of stopping the suite. Times and memory are measured by `npm run bench`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_MEMORY_TIERS } from '../../src/core/hardware/validate';
import { getPreset } from '../../src/core/hardware/presets';
import { fixturePath } from './helpers/fixtures';
import { gv, llamaGgufKv, llamaGgufTensors, writeGguf } from './helpers/gguf-writer';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
/** Every hostile input ends in 0 or 2 well within this; more is a hang. */
const LIMIT_MS = 30_000;
const run = (...args: string[]): SpawnSyncReturns<string> => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: LIMIT_MS, maxBuffer: 256 * 1024 * 1024 });
const LLAMA = JSON.parse(readFileSync(fixturePath('Llama-3.1-8B'), 'utf8')) as Record<string, unknown>;

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u;

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'dnp-h16-'));
}

/** A model folder holding the Llama-3.1-8B config with `changes` applied. */
function model(changes: Record<string, unknown>): string {
  const folder = dir();
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...LLAMA, ...changes }));
  return join(folder, 'config.json');
}

function assertInert(r: SpawnSyncReturns<string>, what: string): void {
  assert.ok(r.status === 0 || r.status === 2, `${what}: exit ${r.status} (signal ${r.signal}): ${r.stderr}`);
  assert.doesNotMatch(r.stdout, UNSAFE, `${what}: stdout`);
  assert.doesNotMatch(r.stderr, UNSAFE, `${what}: stderr`);
}

/** Sets the window title, clears the screen, hides a URL, turns text right-to-left, and starts Markdown. */
const HOSTILE_NAME = '\x1b]0;pwned\x07\x1b[2J\u009b31mEvil\u202eeman\u2066\n# Heading\n```\n| cell | break |\x1b]8;;http://x\x1b\\';

test('control characters in a model name, hidden_act and torch_dtype reach no line the CLI prints, in any view', () => {
  const config = model({ _name_or_path: HOSTILE_NAME, hidden_act: 'silu\x1b]0;pwned\x07\u009b2J', torch_dtype: 'bfloat16\x1b[2J\u202e' });
  const views: string[][] = [
    ['inspect', config],
    ['inspect', config, '--format', 'json'],
    ['profile', config],
    ['profile', config, '--format', 'csv'],
    ['profile', config, '--format', 'md'],
    ['profile', config, '--format', 'json'],
    ['profile', config, '--format', 'trace'],
    ['verify', config],
    ['pseudocode', config, '--site', 'input_layernorm'],
    ['sweep', config, '--context', '1024,2048'],
  ];
  for (const args of views) {
    const r = run(...args);
    assertInert(r, args.join(' '));
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  // JSON keeps the value (escaped, not removed): inspect reports the name as read.
  assert.equal(JSON.parse(run('inspect', config, '--format', 'json').stdout).name, HOSTILE_NAME);
});

test("a GGUF file's general.name with escapes: inspect and profile print it inert", () => {
  const dims = { name: HOSTILE_NAME, layers: 2, hidden: 256, ffn: 512, heads: 8, kvHeads: 2, context: 2048, vocab: 500, eps: 1e-5 };
  const kv = llamaGgufKv(dims);
  kv.push(['tokenizer.ggml.tokens', gv.tokens(dims.vocab)]);
  const file = join(dir(), 'evil.gguf');
  writeFileSync(file, writeGguf({ kv, tensors: llamaGgufTensors(dims), dataBytes: 4096 }).bytes);
  for (const args of [['inspect', file], ['profile', file], ['profile', file, '--format', 'md']]) {
    const r = run(...args);
    assertInert(r, args.join(' '));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Evil/);
  }
});

test('the HTML export carries no raw control or bidi character from the model', () => {
  const out = join(dir(), 'r.html');
  const r = run('profile', model({ _name_or_path: HOSTILE_NAME }), '--format', 'html', '--out', out);
  assertInert(r, 'html');
  const html = readFileSync(out, 'utf8');
  for (const c of ['\x1b', '\x07', '\u009b', '\u202e', '\u2066']) assert.ok(!html.includes(c), `raw U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
});

test('a bad value quoted in an error message (U+009B, ESC, BEL) is printed inert: one line, exit 2', () => {
  const r = run('profile', fixturePath('Llama-3.1-8B'), '--phase', '\u009b2J\x1b]0;x\x07de\u202ecode');
  assertInert(r, 'error');
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /--phase/);
});

test('a hardware profile title and tier name with escapes: hardware show and profile print them inert', () => {
  const file = join(dir(), 'evil.hardware.json');
  const { $schema: _schema, ...dimc } = getPreset('dimc');
  writeFileSync(file, JSON.stringify({ ...dimc, name: 'evil', title: 'T\x1b[2J\u009b1m\u202eitle\x07', description: 'line\n\x1b]0;x\x07' }));
  for (const args of [['hardware', 'show', file], ['profile', fixturePath('Llama-3.1-8B'), '--hardware', file], ['profile', fixturePath('Llama-3.1-8B'), '--hardware', file, '--format', 'md']]) {
    const r = run(...args);
    assertInert(r, args.join(' '));
    assert.equal(r.status, 0, r.stderr);
  }
});

test('Markdown: a name with newlines, #, fences and | makes no heading, fence or broken table', () => {
  const plain = run('profile', fixturePath('Llama-3.1-8B'), '--format', 'md').stdout.split('\n');
  const hostile = run('profile', model({ _name_or_path: HOSTILE_NAME }), '--format', 'md').stdout.split('\n');
  const headings = (lines: string[]) => lines.filter((l) => l.startsWith('#')).length;
  const fences = (lines: string[]) => lines.filter((l) => l.startsWith('```')).length;
  assert.equal(headings(hostile), headings(plain));
  assert.equal(fences(hostile), fences(plain));
  assert.equal(hostile.length, plain.length);
  assert.match(hostile[0]!, /^# Deferred normalization: .*Evil.* on dimc$/);
});

test('a 16-million-character model name: the HTML export and the JSON report show its first 200 characters and its length', () => {
  const config = model({ _name_or_path: 'A'.repeat(16_000_000) });
  const shown = `${'A'.repeat(200)}… (16,000,000 characters)`;
  const json = run('profile', config, '--format', 'json');
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.model.name, shown);
  assert.ok(report.model.notes.some((n: string) => n.includes('16,000,000 characters')), report.model.notes.join('\n'));
  // The rewritten code's comments name the model too: shortened there as well.
  assert.ok(!json.stdout.includes('A'.repeat(201)));
  const out = join(dir(), 'r.html');
  const html = run('profile', config, '--format', 'html', '--out', out);
  assert.equal(html.status, 0, html.stderr);
  const page = readFileSync(out, 'utf8');
  assert.ok(page.includes(shown));
  assert.ok(!page.includes('A'.repeat(201)));
});

test('the most layers a model may have, identical: one layers[] entry per run, and a report of under 1 MB; one more layer is refused', () => {
  // The readers' cap is 10,000 layers (about 100 times the deepest real model).
  const r = run('profile', model({ num_hidden_layers: 10_000 }), '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.layers.map((l: { index: number; count: number }) => [l.index, l.count]), [[0, 10_000], [10_000, 1]]);
  // The stated bound: the layer kinds' index lists are the only part that grows with the layer count.
  assert.ok(r.stdout.length < 1_000_000, `${r.stdout.length} bytes`);
  assert.equal(report.layerKinds[0].layers.length, 10_000);
  // 100,000 layers (110 MB of JSON before issue 16) is refused by the reader with one line.
  const over = run('profile', model({ num_hidden_layers: 100_000 }), '--format', 'json');
  assert.equal(over.status, 2, over.stderr);
  assert.match(over.stderr, /num_hidden_layers/);
  assert.equal(over.stderr.trim().split('\n').length, 1);
});

test('more runs of layers than layers[] holds: the first 1,000 are listed and a note says so', () => {
  const gptOss = JSON.parse(readFileSync(fixturePath('gpt-oss-20b'), 'utf8')) as Record<string, unknown>;
  const folder = dir();
  const n = 2_500;
  const layerTypes = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...gptOss, num_hidden_layers: n, layer_types: layerTypes }));
  const r = run('profile', join(folder, 'config.json'), '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  // Alternating kinds: every layer is a run of one, 2,500 runs and the head's.
  assert.equal(report.layers.length, 1000);
  assert.ok(report.layers.every((l: { count: number }) => l.count === 1));
  assert.deepEqual(report.layers.slice(0, 3).map((l: { index: number }) => l.index), [0, 1, 2]);
  assert.ok(report.model.notes.some((n: string) => n.includes('first 1,000 of 2,501 runs')), report.model.notes.join('\n'));
  // The totals still cover every layer: the sum over kinds of layer count × per-layer latency.
  const sum = report.layerKinds.reduce((s: number, k: { layers: number[]; baselineUs: number }) => s + k.layers.length * k.baselineUs, 0);
  assert.ok(Math.abs(sum - report.totals.baselineUs) <= 1e-9 * sum);
});

test(`memory tiers are capped at ${MAX_MEMORY_TIERS} (the schema's maxItems): one more is refused with exit 2`, () => {
  const schema = JSON.parse(readFileSync(join(__dirname, '..', '..', 'schemas', 'hardware-profile.schema.json'), 'utf8'));
  assert.equal(schema.properties.memory.properties.tiers.maxItems, MAX_MEMORY_TIERS);
  const { $schema: _schema, ...dimc } = getPreset('dimc');
  // The preset's tiers, then copies of its first under new names up to `count`.
  const withTiers = (count: number) => {
    // Short names and whole numbers: 20,500 tiers fit under the 1 MiB a profile file may have.
    const extra = Array.from({ length: count - dimc.memory.tiers.length }, (_, i) => ({ name: `t${i}`, bandwidthGBps: 1, capacityGB: 1 }));
    const file = join(dir(), `t${count}.hardware.json`);
    writeFileSync(file, JSON.stringify({ ...dimc, name: `tiers-${count}`, memory: { ...dimc.memory, tiers: [...dimc.memory.tiers, ...extra] } }));
    return file;
  };
  assert.equal(run('hardware', 'show', withTiers(MAX_MEMORY_TIERS)).status, 0);
  const many = run('hardware', 'show', withTiers(20_500));
  assert.equal(many.status, 2);
  assert.match(many.stderr, /memory\.tiers: expected at most 16 memory tiers, found 20,500/);
});

test('--out refuses a FIFO, a folder and a device, quickly, without writing', () => {
  const folder = dir();
  const fifo = join(folder, 'pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  for (const [out, found] of [[fifo, 'a named pipe'], [folder, 'a folder'], ['/dev/null', 'a device']] as const) {
    const r = run('profile', fixturePath('Llama-3.1-8B'), '--out', out);
    assert.equal(r.status, 2, `${out}: ${r.status} ${r.signal} ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--out: expected a regular file to write, or a new path, found ${found}`));
  }
});

test('--out refuses the input file, by any name (the path, a hard link, a symbolic link), and the hardware file', () => {
  const config = model({});
  const before = readFileSync(config, 'utf8');
  const folder = dir();
  const hard = join(folder, 'hard.json');
  const soft = join(folder, 'soft.json');
  linkSync(config, hard);
  symlinkSync(config, soft);
  for (const out of [config, hard, soft]) {
    const r = run('profile', config, '--format', 'json', '--out', out);
    assert.equal(r.status, 2, `${out}: ${r.stderr}`);
    assert.match(r.stderr, /--out: expected a file other than the input it would overwrite/);
  }
  // The folder form reads config.json inside it.
  assert.equal(run('profile', join(config, '..'), '--out', config).status, 2);
  assert.equal(readFileSync(config, 'utf8'), before);
  const hw = join(folder, 'x.hardware.json');
  const { $schema: _schema, ...dimc } = getPreset('dimc');
  writeFileSync(hw, JSON.stringify({ ...dimc, name: 'x' }));
  assert.equal(run('profile', config, '--hardware', hw, '--out', hw).status, 2);
  assert.equal(run('hardware', 'show', hw, '--out', hw).status, 2);
});

test('--out replaces a file through a temporary one renamed into place, and writes through a symbolic link', () => {
  const folder = dir();
  const out = join(folder, 'report.md');
  writeFileSync(out, 'old');
  const r = run('profile', fixturePath('Llama-3.1-8B'), '--format', 'md', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), /^# Deferred normalization: Llama-3\.1-8B/);
  assert.deepEqual(readdirSync(folder), ['report.md'], 'no temporary file left');
  const link = join(folder, 'latest.md');
  symlinkSync(out, link);
  assert.equal(run('profile', fixturePath('Llama-3.1-8B'), '--format', 'csv', '--out', link).status, 0);
  assert.ok(statSync(out).isFile());
  assert.match(readFileSync(out, 'utf8'), /^index,kind,/);
  assert.deepEqual(readdirSync(folder).sort(), ['latest.md', 'report.md']);
  // A folder that does not exist: one line, exit 2.
  const missing = run('profile', fixturePath('Llama-3.1-8B'), '--out', join(folder, 'no', 'such', 'r.txt'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /a path whose folder does not exist/);
});

test('a profile file named like a preset is shown as that file, not as the preset', () => {
  const folder = dir();
  mkdirSync(join(folder, 'hw'));
  const file = join(folder, 'hw', 'my.hardware.json');
  const { $schema: _schema, ...dimc } = getPreset('dimc');
  writeFileSync(file, JSON.stringify({ ...dimc, name: 'dimc', title: 'dimc', collective: { ...dimc.collective, hopLatencyNs: 1 } }));
  const r = run('profile', fixturePath('Llama-3.1-8B'), '--hardware', file, '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.hardware.name, 'my.hardware.json');
  assert.equal(report.hardware.title, 'dimc profile from my.hardware.json');
  assert.match(report.hardware.description, /^Named "dimc" in my\.hardware\.json, like the preset; shown by its file name\./);
  assert.match(run('profile', fixturePath('Llama-3.1-8B'), '--hardware', file).stdout, /^Hardware {2}my\.hardware\.json: dimc profile from my\.hardware\.json$/m);
  // The preset itself keeps its name.
  assert.equal(JSON.parse(run('profile', fixturePath('Llama-3.1-8B'), '--format', 'json').stdout).hardware.name, 'dimc');
  // Its JSON (hardware show) is a valid profile again, under the new name.
  const copy = join(folder, 'copy.hardware.json');
  assert.equal(run('hardware', 'show', file, '--format', 'json', '--out', copy).status, 0);
  assert.equal(JSON.parse(run('profile', fixturePath('Llama-3.1-8B'), '--hardware', copy, '--format', 'json').stdout).hardware.name, 'my.hardware.json');
  // A file named after a preset is not given the preset's name either.
  const bare = join(folder, 'dimc');
  writeFileSync(bare, JSON.stringify(dimc));
  assert.equal(JSON.parse(run('profile', fixturePath('Llama-3.1-8B'), '--hardware', bare, '--format', 'json').stdout).hardware.name, 'dimc.file');
});

test('a context beyond max_position_embeddings is simulated with a note in every view', () => {
  const config = model({ max_position_embeddings: 4096 });
  const note = /A context of 8,192 tokens is beyond the 4,096 positions the model was trained for \(max_position_embeddings\)/;
  const json = JSON.parse(run('profile', config, '--context', '8192', '--format', 'json').stdout);
  assert.ok(json.model.notes.some((n: string) => note.test(n)), json.model.notes.join('\n'));
  assert.match(run('profile', config, '--context', '8192').stdout, note);
  assert.match(run('profile', config, '--context', '8192', '--format', 'md').stdout, /## Notes[\s\S]*A context of 8,192 tokens is beyond/);
  // At the limit, and a prefill within it: no note.
  assert.doesNotMatch(run('profile', config, '--context', '4096').stdout, /max_position_embeddings/);
  assert.match(run('profile', config, '--phase', 'prefill', '--seq', '5000').stdout, /A prefill of 5,000 tokens is beyond the 4,096 positions/);
  assert.doesNotMatch(run('profile', config, '--phase', 'prefill', '--seq', '4096', '--context', '100000').stdout, /max_position_embeddings/);
});
