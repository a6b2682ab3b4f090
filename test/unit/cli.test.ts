import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from './helpers/fixtures';
import { gv, llamaGgufKv, llamaGgufTensors, writeGguf } from './helpers/gguf-writer';

// The built CLI (npm test builds before it runs the unit tests).
const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const llama = fixturePath('Llama-3.1-8B');

test('profile prints the table with the estimate disclaimer and the preset', () => {
  const r = run('profile', llama);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Simulated estimate/);
  assert.match(r.stdout, /dimc/);
  assert.match(r.stdout, /input_layernorm → q_proj, k_proj, v_proj/);
  assert.match(r.stdout, /whole model/);
});

test('profile --format json has the report fields of the design', () => {
  const r = run('profile', llama, '--format', 'json', '--phase', 'prefill', '--seq', '256', '--batch', '2');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.model.layers, 32);
  // Llama-3.1-8B: 32 identical decoder layers, then the head; one entry per run of identical layers.
  assert.deepEqual(
    report.layers.map((l: { index: number; count: number; kind: string }) => [l.index, l.count, l.kind]),
    [[0, 32, 'decoder'], [32, 1, 'head']],
  );
  assert.deepEqual(Object.keys(report.layers[0]).sort(), ['baselineUs', 'count', 'deferredUs', 'index', 'kind', 'savedUs', 'sites']);
  assert.equal(report.workload.phase, 'prefill');
  assert.equal(report.workload.seq, 256);
  for (const key of ['baselineUs', 'deferredUs', 'savedUs', 'savedPct', 'collectiveShareBaselinePct', 'hiddenCollectivePct']) {
    assert.equal(typeof report.totals[key], 'number', key);
  }
  assert.ok(Object.keys(report.hardware.provenance).length > 10);
});

test('csv, md and trace exports', () => {
  const csv = run('profile', llama, '--format', 'csv');
  assert.equal(csv.status, 0, csv.stderr);
  // A header, then a row per run of identical layers: the 32 decoder layers, the head.
  const rows = csv.stdout.trim().split('\n');
  assert.equal(rows.length, 3);
  assert.match(rows[0]!, /^index,kind,.*,count$/);
  assert.match(rows[1]!, /^0,decoder,.*,32$/);
  assert.match(rows[2]!, /^32,head,.*,1$/);
  const md = run('profile', llama, '--format', 'md');
  assert.match(md.stdout, /^# Deferred normalization/);
  assert.match(md.stdout, /## Where the hardware numbers come from/);
  const trace = JSON.parse(run('profile', llama, '--format', 'trace').stdout);
  const threads = trace.traceEvents.filter((e: { name: string }) => e.name === 'thread_name').map((e: { args: { name: string } }) => e.args.name);
  assert.deepEqual([...new Set(threads)].sort(), ['collective', 'matrix', 'memory', 'vector']);
  assert.ok(trace.traceEvents.some((e: { ph: string; pid: number }) => e.ph === 'X' && e.pid === 2));
});

test('--out writes the file and keeps stdout empty', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'dnp-')), 'r.json');
  const r = run('profile', llama, '--format', 'json', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).model.name.length > 0, true);
});

test('hardware show --format json round-trips through --hardware FILE, and --set overrides a number', () => {
  const shown = run('hardware', 'show', 'dimc', '--format', 'json');
  assert.equal(shown.status, 0, shown.stderr);
  const file = join(mkdtempSync(join(tmpdir(), 'dnp-')), 'my.hardware.json');
  writeFileSync(file, shown.stdout);
  const a = JSON.parse(run('profile', llama, '--hardware', 'dimc', '--format', 'json').stdout);
  const b = JSON.parse(run('profile', llama, '--hardware', file, '--format', 'json').stdout);
  assert.equal(a.totals.deferredUs, b.totals.deferredUs);
  const c = JSON.parse(run('profile', llama, '--hardware', file, '--set', 'collective.hopLatencyNs=0', '--format', 'json').stdout);
  assert.match(c.hardware.provenance['collective.hopLatencyNs'], /set on the command line/);
  assert.ok(c.totals.baselineUs < a.totals.baselineUs);
  // A kernel set on the command line is named as such in the report's assumptions (dimc's norm kernel is fused).
  const d = JSON.parse(run('profile', llama, '--set', 'kernels.norm=eager', '--format', 'json').stdout);
  const kernels = (d.assumptions as string[]).find((x) => x.startsWith('Kernels'));
  assert.match(kernels ?? '', /^Kernels \(stated choices of the "dimc" profile, except: norm set on the command line \(was fused\)\): .*norms eager/);
  assert.match(run('hardware', 'list').stdout, /dimc[\s\S]*gpu-h100[\s\S]*tpu-v5e/);
});

test('sweep evaluates the grid', () => {
  const r = run('sweep', llama, '--batch', '1,8', '--context', '512,1024', '--set-range', 'collective.hopLatencyNs=0,100', '--format', 'json');
  assert.equal(r.status, 0, r.stderr);
  const points = JSON.parse(r.stdout);
  assert.equal(points.length, 8);
  const free = points.filter((p: { set: Record<string, string> }) => p.set['collective.hopLatencyNs'] === '0');
  const slow = points.filter((p: { set: Record<string, string> }) => p.set['collective.hopLatencyNs'] === '100');
  assert.ok(slow[0].savedUs > free[0].savedUs);
});

test('bad input: exit 2, one line on stderr naming the file and field, nothing on stdout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dnp-'));
  const notJson = join(dir, 'config.json');
  writeFileSync(notJson, '{ "hidden_size": 4096,, }');
  const cases: [string[], RegExp][] = [
    [['profile', join(dir, 'missing.json')], /missing\.json/],
    [['profile', notJson], /config\.json: line 1/],
    [['profile', llama, '--batch', '0'], /--batch/],
    [['profile', llama, '--phase', 'train'], /--phase: expected one of prefill, decode/],
    [['profile', llama, '--bogus'], /command line/],
    [['profile', llama, '--set', 'collective.nope=1'], /collective\.nope/],
    [['profile', llama, '--hardware', 'nosuch'], /--hardware/],
    [['profile', llama, '--dtype', 'bf16'], /dtype/],
    [['profile', fixturePath('falcon-mamba-7b')], /state-space|Mamba/i],
    [['frobnicate'], /a command/],
  ];
  for (const [args, pattern] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('verify prints the numerics table and exits 0 when every deferred form is within its baseline', () => {
  const r = run('verify', llama);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /RMSNorm → Linear +fp32/);
  assert.match(r.stdout, /Softmax → ·V +fp16 +online/);
  assert.match(r.stdout, /offset none: overflows/);
  assert.match(r.stdout, /Every deferred form is within its baseline/);
  const json = JSON.parse(run('verify', fixturePath('GPT-2'), '--format', 'json', '--seed', '3').stdout);
  assert.equal(json.seed, 3);
  assert.ok(json.layerNormFold.ok);
});

test('pseudocode prints every site and block, or one site with --site', () => {
  const all = run('pseudocode', llama);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /q_proj\.weight′ = q_proj\.weight \* γ/);
  assert.match(all.stdout, /block decoder · deferred/);
  const one = run('pseudocode', llama, '--site', 'mlp-norm');
  assert.match(one.stdout, /gate_proj_raw = x @ gate_proj\.weight′\.T/);
  assert.doesNotMatch(one.stdout, /block decoder/);
  const bad = run('pseudocode', llama, '--site', 'nope');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--site: expected one of: attn-norm/);
});

test('the JSON and Markdown reports carry numerics and the rewritten code', () => {
  const report = JSON.parse(run('profile', llama, '--format', 'json').stdout);
  assert.ok(report.numerics.entries.length > 0);
  assert.ok(report.pseudocode.length >= 4);
  assert.equal(typeof report.pseudocode[0].before, 'string');
  assert.equal(report.pseudocodeBlocks.length, 2);
  const md = run('profile', llama, '--format', 'md').stdout;
  assert.match(md, /## Numerics/);
  assert.match(md, /## Rewritten code/);
  assert.match(md, /```python\n/);
});

test('a GGUF file: profile reads only its metadata, inspect reads on to the tensor list', () => {
  const dims = { name: 'tiny-llama', layers: 4, hidden: 256, ffn: 512, heads: 8, kvHeads: 2, context: 2048, vocab: 5000, eps: 1e-5 };
  const kv = llamaGgufKv(dims);
  kv.push(['tokenizer.ggml.tokens', gv.tokens(dims.vocab)]);
  const file = join(mkdtempSync(join(tmpdir(), 'dnp-')), 'tiny.gguf');
  writeFileSync(file, writeGguf({ kv, tensors: llamaGgufTensors(dims), dataBytes: 4096 }).bytes);
  const profiled = run('profile', file, '--format', 'json');
  assert.equal(profiled.status, 0, profiled.stderr);
  assert.equal(JSON.parse(profiled.stdout).model.layers, 4);
  const inspected = JSON.parse(run('inspect', file, '--format', 'json').stdout);
  assert.equal(inspected.hidden, 256);
  assert.equal(inspected.params.fromWeights, inspected.params.total);
});

test('--tp: auto by default (16 dimc cards hold Llama-3.1-8B at batch 32, 8 do not: test/unit/tensor-parallel.test.ts), a number kept, anything else refused', () => {
  const auto = run('profile', llama);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stdout, /^Workload {2}decode, context 2048, batch 32, tp 16 \(auto: the smallest that fits\), fp8,/m);
  const json = run('profile', llama, '--format', 'json', '--tp', '2');
  const w = JSON.parse(json.stdout).workload;
  assert.deepEqual([w.tp, w.tpRequested, w.tpChosen], [2, 2, undefined]);
  const bad = run('profile', llama, '--tp', 'most');
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim(), 'deferred-norm: --tp: expected "auto" or a whole number of at least 1, found "most"');
  // A sweep holds the degree auto chose at its base point.
  const sweep = run('sweep', llama, '--batch', '1,32', '--format', 'json');
  assert.deepEqual(JSON.parse(sweep.stdout).map((p: { tp: number }) => p.tp), [16, 16]);
});
