import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors';
import { PATCH_FAMILIES, patchStatus, pythonLiteral, pythonStringBody, pytorchModule, pytorchPlan, type PlanSite, type PyValue } from '../../src/core/codegen/pytorch';
import { findTorchPython, interpreterFromPythonApi, noTorchError, noTorchMessage, probeAnswer, pythonCandidates, torchRecentEnough, type ProbeResult } from '../../src/common/python-finder';
import { findPython, probePython, PROBE_TIMEOUT_MS } from '../../src/cli/python-probe';
import { generate } from './helpers/codegen';
import { fixturePath, loadFixture } from './helpers/fixtures';
import { buildPanelView } from '../../src/common/panel-view';
import { parseWebviewMessage } from '../../src/common/protocol';
import { getPreset } from '../../src/core/hardware/presets';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';

const PYTHON = '/usr/bin/python3';
const range = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/** Runs a Python script with `input` on stdin; its stdout parsed as JSON (the second method: Python itself reads what we wrote). */
function python(script: string, input: string): unknown {
  const r = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}
const literalEval = (literal: string): unknown => python('import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))', literal);

function entry(sites: PlanSite[], id: string, norm?: string): PlanSite {
  const found = sites.filter((s) => s.id === id && (norm === undefined || s.norm === norm));
  assert.equal(found.length, 1, `one ${id} entry; have ${sites.map((s) => s.id).join(', ')}`);
  return found[0]!;
}

test('Llama-3.1-8B on dimc, default workload: the plan of the format, with the real module names and layers', async () => {
  const { report } = await generate('Llama-3.1-8B');
  const plan = pytorchPlan(report, 'deferred-norm 0.1.0');
  // By hand from config.json (model_type llama, 32 layers) and the dimc preset (fp8) with the default workload.
  assert.equal(plan.format, 'deferred-norm-plan/1');
  assert.equal(plan.model, 'Llama-3.1-8B');
  assert.equal(plan.family, 'llama');
  assert.equal(plan.hardware, 'dimc');
  assert.equal(plan.workload, 'decode b32 ctx2048 fp8');
  assert.equal(plan.generator, 'deferred-norm 0.1.0');
  assert.deepEqual(plan.sites.map((s) => s.id), ['attn-norm', 'mlp-norm', 'softmax', 'final-norm']);
  const attn = entry(plan.sites, 'attn-norm');
  assert.deepEqual(
    { name: attn.name, kind: attn.kind, norm: attn.norm, linears: attn.linears, layers: attn.layers, decision: attn.decision },
    { name: 'input_layernorm → q_proj, k_proj, v_proj', kind: 'rmsnorm', norm: 'input_layernorm', linears: ['q_proj', 'k_proj', 'v_proj'], layers: range(0, 31), decision: 'defer' },
  );
  const mlp = entry(plan.sites, 'mlp-norm');
  assert.deepEqual([mlp.norm, mlp.linears, mlp.layers], ['post_attention_layernorm', ['gate_proj', 'up_proj'], range(0, 31)]);
  const softmax = entry(plan.sites, 'softmax');
  assert.deepEqual([softmax.kind, softmax.norm, softmax.linears], ['softmax', null, []]);
  const head = entry(plan.sites, 'final-norm');
  assert.deepEqual([head.norm, head.linears, head.layers], ['norm', ['lm_head'], [32]]);
  // The figures are the report's, the saving at the ns; only a deferred site has a depth.
  for (const s of plan.sites) {
    const r = report.layerKinds.flatMap((k) => k.sites).find((x) => x.id === s.id)!;
    assert.equal(s.reason, r.reason);
    assert.ok(Math.abs(s.savedUs - r.savedUs) <= 0.0005, `${s.id} ${s.savedUs} vs ${r.savedUs}`);
    assert.equal(s.depth, s.decision === 'defer' ? r.depth : null);
  }
});

test('GPT-2, Pythia (GPT-NeoX), Gemma 2 and Qwen3: their own norm and consumer names, one entry per site per layer kind', async () => {
  const gpt2 = pytorchPlan((await generate('GPT-2')).report);
  assert.equal(gpt2.family, 'gpt2');
  assert.deepEqual(
    gpt2.sites.filter((s) => s.kind !== 'softmax').map((s) => [s.norm, s.linears, s.layers.length === 1 ? s.layers : s.layers.length]),
    [['ln_1', ['c_attn'], 12], ['ln_2', ['c_fc'], 12], ['ln_f', ['lm_head'], [12]]],
  );
  const pythia = pytorchPlan((await generate('Pythia-410m')).report);
  assert.equal(pythia.family, 'gpt_neox');
  assert.deepEqual([entry(pythia.sites, 'final-norm').norm, entry(pythia.sites, 'final-norm').linears, entry(pythia.sites, 'final-norm').layers], ['final_layer_norm', ['embed_out'], [24]]);
  assert.deepEqual(entry(pythia.sites, 'attn-norm').linears, ['query_key_value']);

  // Gemma 2 alternates sliding (even) and full (odd) layers over 42: two layer kinds, each with its entries.
  const gemma = pytorchPlan((await generate('Gemma-2-9b')).report);
  assert.equal(gemma.family, 'gemma2');
  const attnNorms = gemma.sites.filter((s) => s.id === 'attn-norm');
  assert.deepEqual(attnNorms.map((s) => s.layers), [range(0, 40, 2), range(1, 41, 2)]);
  const post = gemma.sites.filter((s) => s.id === 'attn-post-norm');
  assert.deepEqual(post.map((s) => [s.norm, s.decision, s.depth, s.linears]), [['post_attention_layernorm', 'ineligible', null, []], ['post_attention_layernorm', 'ineligible', null, []]]);
  assert.equal(patchStatus(post[0]!, 'gemma2').label, 'skipped: ineligible');
  assert.match(patchStatus(post[0]!, 'gemma2').detail, /^skipped: feeds the residual sum/);
  assert.deepEqual(patchStatus(attnNorms[0]!, 'gemma2'), { applied: attnNorms[0]!.decision === 'defer', label: 'applied by the patch', detail: `applied by the patch: ${attnNorms[0]!.reason}` });

  // What the runtime does with a deferred site, as python/deferred_norm_patch.py decides it: Softmax sites
  // are left to PyTorch's attention kernels; a scale planned past the projections goes that deep only in
  // the families whose attention forward the runtime replaces (llama, mistral, gemma, gemma2), and never
  // past an MLP (no family here has a ReLU MLP).
  const deferred = (kind: PlanSite['kind'], depth: PlanSite['depth']) => ({ decision: 'defer' as const, reason: 'r', kind, depth });
  assert.deepEqual(patchStatus(deferred('softmax', 'linear'), 'llama'), { applied: false, label: 'skipped: kernel', detail: `skipped: PyTorch's SDPA and FlashAttention already divide by the row sum after ·V; the patch does not replace the attention's softmax` });
  assert.equal(patchStatus(deferred('rmsnorm', 'attention'), 'mistral').label, 'applied by the patch');
  assert.deepEqual(patchStatus(deferred('rmsnorm', 'rope'), 'phi3'), { applied: true, label: 'applied after linear', detail: "applied by the patch after the linear layer, not deeper: the patch replaces only the Llama-style attention forward, not phi3's" });
  assert.equal(patchStatus(deferred('rmsnorm', 'down'), 'llama').label, 'applied after linear');
  assert.equal(patchStatus(deferred('layernorm', 'linear'), 'gpt2').label, 'applied by the patch');

  // Qwen3's per-head q/k norms are in the plan, ineligible (nothing to gather across units).
  const qwen3 = pytorchPlan((await generate('Qwen3-0.6B')).report);
  assert.deepEqual(qwen3.sites.filter((s) => s.norm === 'q_norm' || s.norm === 'k_norm').map((s) => [s.norm, s.decision]), [['q_norm', 'ineligible'], ['k_norm', 'ineligible']]);
});

test('a family the runtime does not know is refused with one line naming it and the supported ones', async () => {
  for (const [name, family] of [['Mixtral-8x7B-v0.1', 'mixtral'], ['Falcon-7B', 'falcon'], ['bert-base-uncased', 'bert'], ['Gemma-3-1b-it', 'gemma3']] as const) {
    const { report } = await generate(name);
    assert.throws(
      () => pytorchPlan(report),
      (err: unknown) => {
        assert.ok(err instanceof InputError, String(err));
        assert.equal(err.kind, 'unsupported');
        assert.ok(err.message.includes(`"${family}"`), err.message);
        assert.ok(err.message.includes(report.model.source), err.message);
        for (const f of ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'phi3', 'gpt_neox', 'gpt2']) assert.ok(err.message.includes(f), `${f} in ${err.message}`);
        return true;
      },
      name,
    );
  }
  assert.equal(PATCH_FAMILIES.length, 9);
});

const HOSTILE = [
  'plain',
  'a "double" and \'single\' quote',
  'back\\slash\\',
  '\\"',
  'line\nbreak\r\nand\ttab',
  '"""',
  "'''",
  '"]}\nimport os\nos.system("echo pwned")\n#',
  'U+2028 \u2028 and U+2029 \u2029',
  'NUL \u0000 and DEL \u007f and ESC \u001b',
  'µs → ·V ü',
  'astral 😀 𝔘',
  'lone surrogate \ud800 end',
  '\\N{BULLET} \\u0041 \\x41 {braces} %s',
  '',
];

test('the Python literal: hostile strings, numbers and nesting read back by ast.literal_eval as the same value', () => {
  for (const s of HOSTILE) {
    const literal = pythonLiteral(s);
    assert.match(literal, /^"[\x20-\x7e]*"$/, `one ASCII line: ${literal}`);
    assert.deepEqual(literalEval(literal), s, JSON.stringify(s));
  }
  const value: PyValue = { [HOSTILE[7]!]: HOSTILE, n: [0, -0, 1, -2.5, 1e-7, 1.5e21, 18.127], t: true, f: false, none: null, empty: [], nested: [{ a: [[]] }, {}] };
  // -0 reads back as 0 (JSON has no -0 either).
  assert.deepEqual(literalEval(pythonLiteral(value)), JSON.parse(JSON.stringify(value)));
  assert.throws(() => pythonLiteral(Number.NaN), /finite/);
  assert.throws(() => pythonLiteral([Number.POSITIVE_INFINITY]), /finite/);
  assert.equal(pythonStringBody('é'), '\\u00e9');
  assert.equal(pythonStringBody('😀'), '\\U0001f600');
});

test('the module: a hostile model name stays inside the docstring and PLAN; the runtime follows verbatim, its __future__ import first', async () => {
  const { report } = await generate('Llama-3.1-8B');
  const name = 'evil"""\nimport os; os.system("echo pwned")\n"""\\';
  const hostile = { ...report, model: { ...report.model, name }, hardware: { ...report.hardware, title: "t'''\u2028\"" } };
  const runtime = '"""The runtime\'s own docstring."""\nfrom __future__ import annotations\n\nPLAN = globals().get("PLAN")\nRUNTIME_SEES = PLAN["model"]\n\nif __name__ == "__main__":\n    pass\n';
  const module = pytorchModule(hostile, runtime, 'deferred-norm 0.1.0');
  // Python compiles it (a misplaced __future__ import is a SyntaxError) and runs it without torch: it is plain data and the runtime stub.
  const result = python(
    [
      'import ast, json, sys',
      'src = sys.stdin.read()',
      'tree = ast.parse(src)',
      'code = compile(src, "deferred_norm_patch.py", "exec")',
      'g = {"__name__": "deferred_norm_patch"}',
      'exec(code, g)',
      'kinds = [type(n).__name__ for n in tree.body]',
      'print(json.dumps({"kinds": kinds, "doc": ast.get_docstring(tree, clean=False), "model": g["PLAN"]["model"], "seen": g["RUNTIME_SEES"], "sites": len(g["PLAN"]["sites"])}))',
    ].join('\n'),
    module,
  ) as { kinds: string[]; doc: string; model: string; seen: string; sites: number };
  // Docstring, __future__ import, PLAN, then the runtime's docstring expression, its PLAN guard, its use, its __main__ guard: no statement from the name.
  assert.deepEqual(result.kinds, ['Expr', 'ImportFrom', 'Assign', 'Expr', 'Assign', 'Assign', 'If']);
  assert.equal(result.model, name);
  assert.equal(result.seen, name);
  assert.equal(result.sites, 4);
  assert.ok(result.doc.includes(`patch for ${name} (family llama)`), result.doc);
  assert.ok(result.doc.includes('simulated estimate'), result.doc);
  assert.ok(result.doc.includes("Hardware: dimc (t'''\u2028\")"), result.doc);
  assert.ok(result.doc.includes('Workload: decode b32 ctx2048 fp8'), result.doc);
  assert.ok(module.endsWith('if __name__ == "__main__":\n    pass\n'));
});

test('the Python finder: candidates in the order the user named them, no repeats, system last', () => {
  assert.deepEqual(pythonCandidates({ flag: '/opt/py/bin/python', setting: '/venv/bin/python', environment: '/env/bin/python', pythonExtension: '/conda/bin/python' }), [
    { path: '/opt/py/bin/python', source: '--python' },
    { path: '/venv/bin/python', source: 'deferredNorm.python setting' },
    { path: '/env/bin/python', source: '$DEFERRED_NORM_PYTHON' },
    { path: '/conda/bin/python', source: 'Python extension' },
    { path: 'python3', source: 'PATH' },
    { path: '/usr/bin/python3', source: 'system' },
  ]);
  assert.deepEqual(pythonCandidates({ setting: '  ', pythonExtension: '/usr/bin/python3' }), [
    { path: '/usr/bin/python3', source: 'Python extension' },
    { path: 'python3', source: 'PATH' },
  ]);
});

test("the Python extension's interpreter: the current API, the older one, and anything else is none", async () => {
  const resource = { fsPath: '/ws/model/deferred_norm_patch.py' };
  const asked: unknown[] = [];
  const current = { environments: { getActiveEnvironmentPath: async (r: unknown) => (asked.push(r), { id: 'x', path: '/envs/torch/bin/python' }) } };
  assert.equal(await interpreterFromPythonApi(current, resource), '/envs/torch/bin/python');
  assert.deepEqual(asked, [resource]);
  const older = { settings: { getExecutionDetails: () => ({ execCommand: ['/opt/conda/bin/python', '-X'] }) } };
  assert.equal(await interpreterFromPythonApi(older, resource), '/opt/conda/bin/python');
  // An empty current answer falls back to the older API.
  assert.equal(await interpreterFromPythonApi({ ...older, environments: { getActiveEnvironmentPath: () => ({ path: '' }) } }, resource), '/opt/conda/bin/python');
  for (const api of [undefined, null, 42, {}, { environments: {} }, { environments: { getActiveEnvironmentPath: () => null } }, { settings: { getExecutionDetails: () => ({ execCommand: [] }) } }, { settings: { getExecutionDetails: () => ({ execCommand: 'python' }) } }]) {
    assert.equal(await interpreterFromPythonApi(api, resource), null, JSON.stringify(api));
  }
});

test('the Python finder stops at the first interpreter with torch; when none has it, one line names each and why', async () => {
  const probed: string[] = [];
  const answers: Record<string, ProbeResult> = { a: { ok: false, why: "ModuleNotFoundError: No module named 'torch'" }, b: { ok: true, torch: '2.3.1' }, c: { ok: true, torch: '9' } };
  const { found, tried } = await findTorchPython(pythonCandidates({ flag: 'a', setting: 'b', pythonExtension: 'c' }), async (p) => {
    probed.push(p);
    return answers[p]!;
  });
  assert.deepEqual(probed, ['a', 'b']);
  assert.deepEqual(found, { path: 'b', source: 'deferredNorm.python setting', result: { ok: true, torch: '2.3.1' } });
  assert.equal(tried.length, 2);

  const none = await findTorchPython(pythonCandidates({ flag: '/nope/python' }), async (p) => ({ ok: false, why: p === 'python3' ? "ModuleNotFoundError: No module named 'torch'" : 'not found' }));
  assert.equal(none.found, null);
  const error = noTorchError(none.tried, '--python PATH');
  assert.ok(error instanceof InputError, 'the CLI exits 2 with it');
  assert.equal(
    error.message,
    "Python: expected an interpreter that imports torch >= 1.13 (name one with --python PATH), found none: tried /nope/python (--python): not found; python3 (PATH): ModuleNotFoundError: No module named 'torch'; /usr/bin/python3 (system): not found",
  );
  assert.equal(noTorchMessage(none.tried, '--python PATH'), error.message);
});

test('the CLI finder reads $DEFERRED_NORM_PYTHON after --python and before the defaults', async () => {
  const saved = process.env['DEFERRED_NORM_PYTHON'];
  process.env['DEFERRED_NORM_PYTHON'] = '/env/python';
  try {
    const probed: string[] = [];
    const { found, tried } = await findPython({ flag: '/flag/python' }, async (p) => (probed.push(p), { ok: false, why: 'not found' }));
    assert.deepEqual(probed, ['/flag/python', '/env/python', 'python3', '/usr/bin/python3']);
    assert.equal(found, null);
    assert.equal(tried[1]!.source, '$DEFERRED_NORM_PYTHON');
  } finally {
    if (saved === undefined) delete process.env['DEFERRED_NORM_PYTHON'];
    else process.env['DEFERRED_NORM_PYTHON'] = saved;
  }
});

test('torch 1.13 or later: older and unreadable versions are refused with the version said', () => {
  for (const v of ['1.13.0a0', '1.13.1', '2.0.0', '2.4.0+cpu', '10.1']) assert.equal(torchRecentEnough(v), true, v);
  for (const v of ['1.12.1', '1.9.0', '0.13.0']) assert.equal(torchRecentEnough(v), false, v);
  for (const v of ['', 'dev', '.13']) assert.equal(torchRecentEnough(v), null, v);
  assert.deepEqual(probeAnswer('2.4.0+cpu'), { ok: true, torch: '2.4.0+cpu' });
  assert.deepEqual(probeAnswer('a site hook says hello\n1.13.0a0'), { ok: true, torch: '1.13.0a0' });
  assert.deepEqual(probeAnswer('1.12.1'), { ok: false, why: 'torch 1.12.1, older than 1.13' });
  assert.deepEqual(probeAnswer(''), { ok: false, why: 'printed no torch version ("")' });
});

test('the probe runs the interpreter: a missing one, one without torch, one that hangs, one that has it, one with an old torch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-py-'));
  const script = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  assert.deepEqual(await probePython(join(dir, 'missing')), { ok: false, why: 'not found' });
  assert.deepEqual(await probePython(script('notorch', `echo 'Traceback (most recent call last):' >&2; echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`)), { ok: false, why: "ModuleNotFoundError: No module named 'torch'" });
  assert.deepEqual(await probePython(script('hangs', 'sleep 5'), 300), { ok: false, why: 'import torch took over 0.3 s' });
  assert.deepEqual(await probePython(script('torch', 'printf 2.4.0+cpu')), { ok: true, torch: '2.4.0+cpu' });
  assert.deepEqual(await probePython(script('oldtorch', 'printf 1.12.1')), { ok: false, why: 'torch 1.12.1, older than 1.13' });
  // A cold import of torch takes seconds: the default wait is a minute.
  assert.equal(PROBE_TIMEOUT_MS, 60_000);
});

// The built CLI (npm test builds before the unit tests).
const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('deferred-norm pytorch --check: --python, then $DEFERRED_NORM_PYTHON, each one passed over said with why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-check-'));
  const old = join(dir, 'oldtorch');
  writeFileSync(old, '#!/bin/sh\nprintf 1.12.1\n', { mode: 0o755 });
  const missing = join(dir, 'missing');
  const r = spawnSync(process.execPath, [CLI, 'pytorch', fixturePath('Llama-3.1-8B'), '--check', '--python', missing], { encoding: 'utf8', env: { ...process.env, DEFERRED_NORM_PYTHON: old } });
  // Whether a default Python has torch depends on the machine: exit 0 naming it, or 1 with the one message.
  const said = [`${missing} (--python): not found`, `${old} ($DEFERRED_NORM_PYTHON): torch 1.12.1, older than 1.13`];
  if (r.status === 0) {
    assert.ok(r.stderr.includes(`python: ${said[0]}\npython: ${said[1]}\n`), r.stderr);
    assert.match(r.stderr, /\((PATH|system)\) has torch \d/);
  } else {
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.startsWith(`deferred-norm: Python: expected an interpreter that imports torch >= 1.13 (name one with --python PATH or $DEFERRED_NORM_PYTHON), found none: tried ${said[0]}; ${said[1]}; `), r.stderr);
  }
});

test('deferred-norm pytorch: the module on stdout and with --out; Python parses both; a refused family exits 2', () => {
  const llama = fixturePath('Llama-3.1-8B');
  const out = cli('pytorch', llama);
  assert.equal(out.status, 0, out.stderr);
  const parses = (file: string) => spawnSync(PYTHON, ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', file], { encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'dn-cli-'));
  writeFileSync(join(dir, 'stdout.py'), out.stdout);
  assert.equal(parses(join(dir, 'stdout.py')).status, 0);
  assert.match(out.stdout, /^"""Deferred-norm PyTorch patch for Llama-3\.1-8B/);
  assert.match(out.stdout, /"norm": "input_layernorm",\n\s+"linears": \["q_proj", "k_proj", "v_proj"\]/);
  // The runtime of the installed package follows the plan verbatim.
  assert.ok(out.stdout.endsWith(readFileSync(join(__dirname, '..', '..', 'python', 'deferred_norm_patch.py'), 'utf8')));

  const file = join(dir, 'deferred_norm_patch.py');
  const written = cli('pytorch', llama, '--hardware', 'gpu-h100', '--phase', 'prefill', '--seq', '512', '--batch', '1', '--out', file);
  assert.equal(written.status, 0, written.stderr);
  assert.equal(written.stdout, '');
  assert.equal(parses(file).status, 0);
  assert.match(readFileSync(file, 'utf8'), /"hardware": "gpu-h100",\n\s+"workload": "prefill b1 seq512 bf16"/);

  const refused = cli('pytorch', fixturePath('Mixtral-8x7B-v0.1'));
  assert.equal(refused.status, 2);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /^deferred-norm: .*config\.json: model_type: expected a family the PyTorch patch supports \(llama, .*gpt2\), found "mixtral"\n$/);
});

test('the panel view says per site whether the patch applies it; a refused family skips every site and says why', async () => {
  const { tiles: _tiles, ...input } = DEFAULT_WORKLOAD;
  const options = { hardware: 'dimc', hardwareChoices: [], interactive: true, numerics: null, sweep: null };
  const pythia = buildPanelView(await loadFixture('Pythia-410m'), getPreset('dimc'), input, options);
  assert.equal(pythia.patch.refused, null);
  const cells = pythia.patch.sites.map((s) => `${s.layerKind}/${s.site}: ${s.label}`);
  // GPT-NeoX's norms are LayerNorms feeding a fused qkv: each deferred one is applied at the linear layer;
  // its Softmax is left to PyTorch's attention kernels.
  const expected = pythia.report.layerKinds.flatMap((k) =>
    k.sites.map((s) => `${k.id}/${s.id}: ${s.decision !== 'defer' ? `skipped: ${s.decision === 'keep' ? 'kept' : 'ineligible'}` : s.kind === 'softmax' ? 'skipped: kernel' : 'applied by the patch'}`),
  );
  assert.deepEqual(cells, expected);
  // Pythia's MLP norm is kept on dimc at the default workload (see the report): the patch skips it, for the report's reason.
  const mlp = pythia.patch.sites.find((s) => s.site === 'mlp-norm')!;
  assert.equal(mlp.label, 'skipped: kept');
  assert.match(mlp.detail, /^skipped: kept: deferring would take/);

  const mixtral = buildPanelView(await loadFixture('Mixtral-8x7B-v0.1'), getPreset('dimc'), input, options);
  assert.match(mixtral.patch.refused ?? '', /expected a family the PyTorch patch supports .*found "mixtral"/);
  assert.ok(mixtral.patch.sites.length > 0 && mixtral.patch.sites.every((s) => !s.applied && s.label === 'skipped: the PyTorch patch does not support the "mixtral" family'));

  assert.deepEqual(parseWebviewMessage({ type: 'exportPytorchPatch' }), { type: 'exportPytorchPatch' });
  assert.equal(parseWebviewMessage({ type: 'exportPytorchPatchX' }), null);
});
