/**
 * Tests that catch wrong answers in src/common (issue 21): the panel's sweep and what makes a drawn
 * sweep stale (the rule that drops it lives in the extension's reportPanel.ts today; what is pure is
 * tested here: which sweep the view carries, and that a sweep differs when the hardware, the kernels
 * or a held workload value differs), kernel overrides, site sources, the patch column, and the
 * protocol's validation at its limits. Expected values are written out or computed here by a second
 * path (profile() at the point's own workload), never read back from the function under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPanelView, buildSweepView, effectiveKernels, inputOf, patchView, siteSources, sweepValues, withKernelOverrides, workloadOf } from '../../src/common/panel-view';
import { parseHostMessage, parseKernelOverrides, parsePanelState, parseWebviewMessage, parseWorkloadInput, type WorkloadInput } from '../../src/common/protocol';
import { findTorchPython, interpreterFromPythonApi, NAME_ONE_CLI, NAME_ONE_EXTENSION, noTorchMessage, probeAnswer, probeFailure, probedLines, pythonCandidates, TORCH_PROBE_ARGS, torchRecentEnough } from '../../src/common/python-finder';
import { applyOverrides } from '../../src/core/hardware/overrides';
import { getPreset } from '../../src/core/hardware/presets';
import { profile } from '../../src/core/report/profile';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measurementsDir, readLatestMeasurements } from '../../src/common/measured-file';
import { exportThemeCss, panelHtml, standaloneHtml } from '../../src/common/report-html';

const INPUT: WorkloadInput = inputOf({ ...DEFAULT_WORKLOAD, phase: 'decode', batch: 8, context: 1024 });
const OPTIONS = { hardware: 'dimc', hardwareChoices: [], interactive: true, numerics: null };

test('sweep along tp: each point is profile() at its own workload, every other value held', async () => {
  const spec = await loadFixture('GPT-2');
  const sweep = buildSweepView(spec, getPreset('dimc'), 'dimc', INPUT, 'tp');
  assert.equal(sweep.axis, 'tp');
  assert.equal(sweep.hardware, 'dimc');
  // GPT-2's 12 heads split over 1, 2 and 4 chips (8 would split a head; 3 is not a power of two).
  assert.deepEqual(sweep.points.map((p) => p.tp), [1, 2, 4]);
  for (const p of sweep.points) {
    assert.deepEqual([p.phase, p.batch, p.seq, p.context], [INPUT.phase, INPUT.batch, INPUT.seq, INPUT.context]);
    const direct = profile(spec, getPreset('dimc'), { ...workloadOf(INPUT), tp: p.tp }).totals;
    assert.equal(p.savedPct, direct.savedPct, `tp ${p.tp}`);
    assert.equal(p.hiddenCollectivePct, direct.hiddenCollectivePct, `tp ${p.tp}`);
  }
});

test('a drawn sweep goes stale when the hardware, the kernels or a held workload value changes', async () => {
  const spec = await loadFixture('GPT-2');
  const dimc = getPreset('dimc');
  const h100 = getPreset('gpu-h100');
  const savings = (s: { points: { savedPct: number }[] }) => s.points.map((p) => p.savedPct);
  const drawn = buildSweepView(spec, dimc, 'dimc', INPUT, 'tp');
  // The same request gives the same sweep (a kept sweep is only right when nothing changed)…
  assert.deepEqual(buildSweepView(spec, dimc, 'dimc', INPUT, 'tp'), drawn);
  // …and any of these changes gives other figures, so a sweep drawn before is no longer the panel's.
  assert.notDeepEqual(savings(buildSweepView(spec, h100, 'gpu-h100', INPUT, 'tp')), savings(drawn), 'another machine');
  const otherAttention = h100.kernels.attention === 'flash' ? 'eager' : 'flash';
  assert.notDeepEqual(savings(buildSweepView(spec, h100, 'gpu-h100', INPUT, 'tp', { attention: otherAttention, norm: null })), savings(buildSweepView(spec, h100, 'gpu-h100', INPUT, 'tp')), 'other kernels');
  assert.notDeepEqual(savings(buildSweepView(spec, dimc, 'dimc', { ...INPUT, batch: 64 }, 'tp')), savings(drawn), 'another batch');
  // The view carries the sweep and the validation headline it is given, or none.
  const validation = { points: 12, heldBack: 4, heldBackErrorPct: 9.5 };
  assert.deepEqual(buildPanelView(spec, dimc, INPUT, { ...OPTIONS, sweep: null, validation }).validation, validation);
  assert.equal(buildPanelView(spec, dimc, INPUT, { ...OPTIONS, sweep: null }).validation, null);
  const view = buildPanelView(spec, dimc, INPUT, { ...OPTIONS, sweep: drawn });
  assert.equal(view.sweep, drawn);
  assert.equal(buildPanelView(spec, dimc, INPUT, { ...OPTIONS, sweep: null }).sweep, null);
});

test('sweep values per axis: the powers of two over the range served', async () => {
  const spec = await loadFixture('GPT-2');
  const powers = (from: number, to: number) => Array.from({ length: Math.log2(to / from) + 1 }, (_, i) => from * 2 ** i);
  assert.deepEqual(sweepValues(spec, 'seq'), powers(128, 32768));
  assert.deepEqual(sweepValues(spec, 'context'), powers(256, 131072));
  assert.deepEqual(sweepValues(spec, 'batch'), powers(1, 256));
});

test('kernel overrides: one equal to the profile\'s own choice is none; a real one is a --set with its provenance', () => {
  const h100 = getPreset('gpu-h100');
  const own = h100.kernels;
  const other = { attention: own.attention === 'flash' ? 'eager' : 'flash', norm: own.norm === 'fused' ? 'eager' : 'fused' } as const;
  assert.deepEqual(effectiveKernels(h100, { attention: own.attention, norm: own.norm }), { attention: null, norm: null });
  assert.deepEqual(effectiveKernels(h100, { attention: other.attention, norm: own.norm }), { attention: other.attention, norm: null });
  assert.deepEqual(effectiveKernels(h100, { attention: null, norm: other.norm }), { attention: null, norm: other.norm });
  assert.equal(withKernelOverrides(h100, { attention: own.attention, norm: null }), h100, 'nothing to change: the same profile');
  const changed = withKernelOverrides(h100, { attention: other.attention, norm: other.norm }, 'a test');
  assert.equal(changed.kernels.attention, other.attention);
  assert.equal(changed.kernels.norm, other.norm);
  assert.equal(changed.provenance['kernels.attention'], `set in a test (the "gpu-h100" profile says ${own.attention})`);
  assert.equal(changed.provenance['kernels.norm'], `set in a test (the "gpu-h100" profile says ${own.norm})`);
  // The same figures as the core's --set path.
  const viaSet = applyOverrides(h100, [`kernels.attention=${other.attention}`, `kernels.norm=${other.norm}`]);
  assert.deepEqual({ ...changed, provenance: {} }, { ...viaSet, provenance: {} });
  assert.equal(h100.kernels.attention, own.attention, 'the profile itself is not changed');
  // The other numbers keep their own provenance.
  for (const key of Object.keys(h100.provenance).filter((k) => !k.startsWith('kernels.'))) assert.equal(changed.provenance[key], h100.provenance[key], key);
  assert.ok(Object.keys(h100.provenance).length > 10);
});

test('site sources: the config file beside a directory, the module called, the keys of each kind', async () => {
  const spec = await loadFixture('GPT-2');
  const view = buildPanelView(spec, getPreset('dimc'), INPUT, { ...OPTIONS, sweep: null });
  const asDir = { ...spec, source: { ...spec.source, format: 'directory' as const, path: '/models/gpt2//' } };
  const sources = siteSources(asDir, view.report);
  assert.equal(sources.length, view.report.layerKinds.reduce((n, k) => n + k.sites.length, 0));
  const byId = new Map(sources.map((s) => [`${s.layerKind}/${s.site}`, s]));
  const ln1 = byId.get('decoder/attn-norm')!;
  assert.equal(ln1.configPath, '/models/gpt2/config.json');
  assert.deepEqual(ln1.keys, ['rms_norm_eps', 'layer_norm_eps', 'layer_norm_epsilon', 'norm_epsilon']);
  assert.equal(ln1.title, "Go to the modeling code's call of ln_1(…) beside the config, or config.json's norm epsilon (rms_norm_eps, layer_norm_eps, layer_norm_epsilon, norm_epsilon)");
  const softmax = byId.get('decoder/softmax')!;
  assert.deepEqual(softmax.keys, ['num_attention_heads', 'n_head', 'num_heads', 'encoder_attention_heads']);
  assert.match(softmax.title, /^Go to the modeling code's call of the softmax beside the config, or config\.json's attention heads/);
  // Read from the config file itself: that file.
  assert.equal(siteSources({ ...spec, source: { ...spec.source, format: 'config.json' as const, path: '/m/c.json' } }, view.report)[0]!.configPath, '/m/c.json');
  // Read from weights: no config to link to.
  assert.deepEqual(siteSources({ ...spec, source: { ...spec.source, format: 'gguf' as const, path: '/m/x.gguf' } }, view.report), []);
});

test('patch column: a family the patch does not support skips every site with the reason', async () => {
  const spec = await loadFixture('GPT-2');
  const view = buildPanelView(spec, getPreset('dimc'), INPUT, { ...OPTIONS, sweep: null });
  const report = { ...view.report, model: { ...view.report.model, family: 'mystery', modelType: 'mystery' } };
  const p = patchView(report);
  assert.ok(p.refused !== null && /model_type/.test(p.refused) && /"mystery"/.test(p.refused), p.refused ?? '');
  const label = 'skipped: the PyTorch patch does not support the "mystery" family';
  assert.equal(p.sites.length, report.layerKinds.reduce((n, k) => n + k.sites.length, 0));
  for (const s of p.sites) assert.deepEqual({ applied: s.applied, label: s.label, detail: s.detail }, { applied: false, label, detail: label });
  // GPT-2 itself: the norm sites it defers are applied, the Softmax is left to the kernel.
  const own = patchView(view.report);
  assert.equal(own.refused, null);
  for (const s of own.sites) assert.equal(s.applied, s.site !== 'softmax' && view.report.layerKinds.find((k) => k.id === s.layerKind)!.sites.find((x) => x.id === s.site)!.decision === 'defer', `${s.layerKind}/${s.site}`);
});

test('workload input: the limits are the core\'s, each just inside accepted and just outside refused', () => {
  const ok = { ...INPUT };
  assert.deepEqual(parseWorkloadInput(ok), ok);
  const limits: [keyof WorkloadInput, number, number][] = [
    ['batch', 1 << 16, (1 << 16) + 1],
    ['seq', 1 << 24, (1 << 24) + 1],
    ['context', 1 << 24, (1 << 24) + 1],
    ['tp', 1024, 1025],
  ];
  for (const [field, inside, outside] of limits) {
    assert.equal(parseWorkloadInput({ ...ok, [field]: inside })?.[field], inside, `${field} ${inside}`);
    assert.equal(parseWorkloadInput({ ...ok, [field]: outside }), null, `${field} ${outside}`);
    assert.equal(parseWorkloadInput({ ...ok, [field]: 1 })?.[field], 1, `${field} 1`);
    assert.equal(parseWorkloadInput({ ...ok, [field]: 0 }), null, `${field} 0`);
    assert.equal(parseWorkloadInput({ ...ok, [field]: 2.5 }), null, `${field} 2.5`);
    assert.equal(parseWorkloadInput({ ...ok, [field]: '8' }), null, `${field} as a string`);
  }
  assert.equal(parseWorkloadInput({ ...ok, phase: 'prefill' })?.phase, 'prefill');
  assert.equal(parseWorkloadInput({ ...ok, phase: 'train' }), null);
  assert.equal(parseWorkloadInput({ ...ok, dtype: null })?.dtype, null);
  assert.equal(parseWorkloadInput({ ...ok, dtype: 'int4' })?.dtype, 'int4');
  assert.equal(parseWorkloadInput({ ...ok, dtype: 'fp64' }), null);
  assert.equal(parseWorkloadInput({ ...ok, softmaxOffset: 'bound' })?.softmaxOffset, 'bound');
  assert.equal(parseWorkloadInput({ ...ok, softmaxOffset: 'none' }), null);
  assert.equal(parseWorkloadInput({ ...ok, deferDepth: undefined })?.deferDepth, 'deepest');
  assert.equal(parseWorkloadInput({ ...ok, deferDepth: 'linear' })?.deferDepth, 'linear');
  assert.equal(parseWorkloadInput({ ...ok, deferDepth: 'rope' }), null);
  assert.equal(parseWorkloadInput([ok]), null);
  assert.throws(() => workloadOf({ ...ok, batch: 0 }), /workload/, 'the core names the workload when it refuses one');
  assert.equal(parseWorkloadInput(null), null);
});

test('kernel overrides as sent: each kernel known or null; anything else refused', () => {
  assert.deepEqual(parseKernelOverrides(undefined), { attention: null, norm: null });
  assert.deepEqual(parseKernelOverrides({}), { attention: null, norm: null });
  assert.deepEqual(parseKernelOverrides({ attention: 'flash', norm: 'eager' }), { attention: 'flash', norm: 'eager' });
  assert.deepEqual(parseKernelOverrides({ attention: 'eager', norm: 'fused' }), { attention: 'eager', norm: 'fused' });
  assert.equal(parseKernelOverrides({ attention: 'fused' }), null, 'a norm kernel is not an attention kernel');
  assert.equal(parseKernelOverrides({ norm: 'flash' }), null, 'an attention kernel is not a norm kernel');
  assert.equal(parseKernelOverrides({ attention: 1 }), null);
  assert.equal(parseKernelOverrides(null), null);
  assert.equal(parseKernelOverrides('flash'), null);
});

test('webview and host messages: each kind accepted as sent, with its limits', () => {
  const long = (n: number) => 'x'.repeat(n);
  assert.deepEqual(parseWebviewMessage({ type: 'profile', hardware: 'dimc', workload: INPUT }), { type: 'profile', hardware: 'dimc', workload: INPUT, kernels: { attention: null, norm: null } });
  assert.equal(parseWebviewMessage({ type: 'profile', hardware: '', workload: INPUT }), null);
  assert.equal(parseWebviewMessage({ type: 'profile', hardware: long(4097), workload: INPUT }), null);
  assert.equal(parseWebviewMessage({ type: 'profile', hardware: long(4096), workload: INPUT })?.type, 'profile');
  assert.equal(parseWebviewMessage({ type: 'profile', hardware: 'dimc', workload: INPUT, kernels: { attention: 'x' } }), null);
  assert.deepEqual(parseWebviewMessage({ type: 'rendered', headline: long(65536) }), { type: 'rendered', headline: long(65536) });
  assert.equal(parseWebviewMessage({ type: 'rendered', headline: long(65537) }), null);
  assert.deepEqual(parseWebviewMessage({ type: 'openSiteSource', layerKind: long(256), site: 'a' }), { type: 'openSiteSource', layerKind: long(256), site: 'a' });
  assert.equal(parseWebviewMessage({ type: 'openSiteSource', layerKind: long(257), site: 'a' }), null);
  assert.deepEqual(parseWebviewMessage({ type: 'openDiff', layerKind: 'decoder', site: null }), { type: 'openDiff', layerKind: 'decoder', site: null });
  assert.equal(parseWebviewMessage({ type: 'openDiff', layerKind: 'decoder', site: long(257) }), null);
  assert.equal(parseWebviewMessage({ type: 'openDiff', layerKind: 7, site: null }), null);
  for (const axis of ['seq', 'context', 'batch', 'tp']) assert.deepEqual(parseWebviewMessage({ type: 'sweep', axis }), { type: 'sweep', axis });
  for (const type of ['ready', 'verify', 'export', 'exportPytorchPatch']) assert.deepEqual(parseWebviewMessage({ type, extra: 1 }), { type });

  assert.deepEqual(parseHostMessage({ type: 'busy', label: null }), { type: 'busy', label: null });
  assert.deepEqual(parseHostMessage({ type: 'busy', label: 'Profiling…' }), { type: 'busy', label: 'Profiling…' });
  assert.equal(parseHostMessage({ type: 'busy', label: 3 }), null);
  assert.deepEqual(parseHostMessage({ type: 'error', message: 'bad' }), { type: 'error', message: 'bad' });
  assert.equal(parseHostMessage({ type: 'error', message: long(65537) }), null);
  for (const section of ['headline', 'layers', 'timeline', 'sites', 'numerics', 'pseudocode', 'controls', 'sweep'])
    assert.deepEqual(parseHostMessage({ type: 'reveal', section }), { type: 'reveal', section });
  assert.equal(parseHostMessage(null), null);
  assert.equal(parseHostMessage('view'), null);
  assert.equal(parseHostMessage({ type: 'ready' }), null, 'a webview message is not a host message');
  assert.equal(parseHostMessage({ type: 'view', view: { report: 1, timelines: [] } }), null);
  assert.equal(parseHostMessage({ type: 'view', view: [] }), null);
  assert.equal(parseHostMessage({ type: 'sweep', sweep: { axis: 'tp' } }), null, 'a sweep without points');
  assert.equal(parseHostMessage({ type: 'reveal', section: 'elsewhere' }), null);
  const sweep = { axis: 'tp', hardware: 'dimc', points: [] };
  assert.deepEqual(parseHostMessage({ type: 'sweep', sweep }), { type: 'sweep', sweep });
  assert.equal(parseHostMessage({ type: 'sweep', sweep: { points: [], axis: 3 } }), null);
  assert.equal(parseHostMessage({ type: 'numerics', numerics: { entries: {} } }), null);
  assert.equal(parseHostMessage({ type: 'numerics', numerics: { entries: [] } })?.type, 'numerics');
  assert.equal(parseHostMessage({ type: 'view', view: { report: {}, timelines: {} } }), null);
  assert.equal(parseHostMessage({ type: 'view', view: { report: {}, timelines: [] } })?.type, 'view');
});

test('a saved panel state: a model path and a hardware name are needed, kernels fall back to none', () => {
  const state = { modelPath: '/m/config.json', hardware: 'dimc', workload: INPUT, kernels: { attention: 'flash', norm: null } };
  assert.deepEqual(parsePanelState(state), state);
  assert.deepEqual(parsePanelState({ ...state, kernels: { attention: 'warp' } })?.kernels, { attention: null, norm: null });
  assert.equal(parsePanelState({ ...state, modelPath: '' }), null);
  assert.equal(parsePanelState({ ...state, hardware: '' }), null);
  assert.equal(parsePanelState({ ...state, modelPath: 'x'.repeat(4097) }), null);
  assert.equal(parsePanelState({ ...state, workload: { ...INPUT, tp: 0 } }), null);
  // Something with a length is not a string.
  assert.equal(parsePanelState({ ...state, modelPath: ['/m/config.json'] }), null);
  assert.equal(parsePanelState({ ...state, hardware: { length: 4 } }), null);
  assert.equal(parseHostMessage({ type: 'error', message: ['boom'] }), null);
});

test('the Python finder: order, repeats, torch versions, probe outcomes and the message when none has torch', async () => {
  assert.deepEqual(pythonCandidates({ flag: ' /a/python ', setting: '', environment: '/a/python', pythonExtension: '/venv/bin/python' }), [
    { path: '/a/python', source: '--python' },
    { path: '/venv/bin/python', source: 'Python extension' },
    { path: 'python3', source: 'PATH' },
    { path: '/usr/bin/python3', source: 'system' },
  ]);
  assert.deepEqual(pythonCandidates({ setting: 'python3', environment: null }).map((c) => c.source), ['deferredNorm.python setting', 'system']);
  assert.deepEqual(pythonCandidates({ environment: '/e/py' }).map((c) => c.source), ['$DEFERRED_NORM_PYTHON', 'PATH', 'system']);
  // 1.13 is the oldest accepted: 1.12 and 0.x are older, 2.0 and 1.14 newer.
  for (const [v, ok] of [['1.13.0a0', true], ['1.12.1', false], ['2.0', true], ['1.14', true], ['0.99', false], ['10.1', true], ['v2', null], ['', null]] as const)
    assert.equal(torchRecentEnough(v), ok, v);
  assert.deepEqual(probeAnswer('site hook says hi\n2.4.0+cpu\n'), { ok: true, torch: '2.4.0+cpu' });
  assert.deepEqual(probeAnswer('1.12.0'), { ok: false, why: 'torch 1.12.0, older than 1.13' });
  assert.deepEqual(probeAnswer('nope'), { ok: false, why: 'printed no torch version ("nope")' });
  assert.equal(probeAnswer('9'.repeat(100)).ok, false);
  assert.equal((probeAnswer('2.1.' + '0'.repeat(100)) as { torch: string }).torch.length, 64, 'a version is cut at 64 characters');
  const base = { code: 1, signal: null, stderr: '', timedOut: false, timeoutMs: 20000 };
  assert.equal(probeFailure({ ...base, spawnError: 'ENOENT' }), 'not found');
  assert.equal(probeFailure({ ...base, spawnError: 'EACCES' }), 'could not be started (EACCES)');
  assert.equal(probeFailure({ ...base, timedOut: true }), 'import torch took over 20 s');
  assert.equal(probeFailure({ ...base, stderr: 'Traceback\nModuleNotFoundError: No module named torch\n' }), 'ModuleNotFoundError: No module named torch');
  assert.equal(probeFailure({ ...base, stderr: 'x'.repeat(250) }), `${'x'.repeat(200)}…`);
  assert.equal(probeFailure({ ...base, stderr: 'x'.repeat(200) }), 'x'.repeat(200));
  assert.equal(probeFailure({ ...base, code: null, signal: 'SIGKILL' }), 'ended by SIGKILL');
  assert.equal(probeFailure({ ...base, code: 3 }), 'exited with 3');
  const probed: string[] = [];
  const answers: Record<string, { ok: true; torch: string } | { ok: false; why: string }> = { a: { ok: false, why: 'not found' }, b: { ok: true, torch: '2.3' }, c: { ok: true, torch: '2.5' } };
  const found = await findTorchPython(['a', 'b', 'c'].map((path) => ({ path, source: 'PATH' as const })), async (p) => (probed.push(p), answers[p]!));
  assert.deepEqual(probed, ['a', 'b'], 'stops at the first with torch');
  assert.equal(found.found?.path, 'b');
  assert.deepEqual(probedLines(found.tried), ['a (PATH): not found', 'b (PATH): torch 2.3']);
  const none = noTorchMessage([{ path: 'a', source: 'system', result: { ok: false, why: 'not found' } }], '--python PATH');
  assert.ok(none.includes('an interpreter that imports torch >= 1.13 (name one with --python PATH)') && none.includes('tried a (system): not found'), none);
  assert.ok(noTorchMessage([], 'x').includes('tried nothing'));
  assert.equal(await interpreterFromPythonApi({ environments: { getActiveEnvironmentPath: () => ({ path: '/env/py' }) } }, null), '/env/py');
  assert.equal(await interpreterFromPythonApi({ environments: { getActiveEnvironmentPath: () => ({ path: '' }) }, settings: { getExecutionDetails: () => ({ execCommand: ['/old/py', '-X'] }) } }, null), '/old/py');
  assert.equal(await interpreterFromPythonApi({ settings: { getExecutionDetails: () => ({ execCommand: [''] }) } }, null), null);
  assert.equal(await interpreterFromPythonApi(null, null), null);
});

test('measurements beside a model: a file\'s folder, inside a folder; the newest by the name\'s time stamp; only .json files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-latest-'));
  try {
    const modelFolder = join(dir, 'm');
    mkdirSync(modelFolder);
    const modelFile = join(modelFolder, 'w.gguf');
    writeFileSync(modelFile, '');
    const folder = join(modelFolder, '.deferred-norm', 'measurements');
    assert.equal(await measurementsDir(modelFolder), folder, 'a folder keeps its measurements inside');
    assert.equal(await measurementsDir(modelFile), folder, 'a file keeps them beside it, in its folder');
    mkdirSync(folder, { recursive: true });
    assert.equal(await readLatestMeasurements(modelFile), null, 'an empty folder: nothing');
    // What is newest, worked out by hand: 2030 is the latest stamp at the end of a name. A stamp not at
    // the end (before "-copy") is no stamp; a name with none sorts before any stamped name; a .txt is
    // not a measurements file even though its name sorts last; 2029 vs 2030 differ in their year's first digits.
    const names = ['notes.json', 'zz-2031-01-01T00-00-00Z.json-copy.json', 'a-2030-01-01T00-00-00Z.json', 'b-2029-12-31T23-59-59Z.json', 'zzz-2032-01-01T00-00-00Z.txt'];
    for (const n of names) writeFileSync(join(folder, n), '{"schema": "other"}');
    const latest = await readLatestMeasurements(modelFile);
    assert.ok(latest && 'error' in latest, JSON.stringify(latest));
    assert.equal(latest.file, join(folder, 'a-2030-01-01T00-00-00Z.json'));
    assert.match(latest.error, /a-2030-01-01T00-00-00Z\.json/, 'the message names the file');
    // With only unstamped names, the last by name.
    rmSync(folder, { recursive: true });
    mkdirSync(folder, { recursive: true });
    // (a .txt is no measurements file even where its name sorts after every .json)
    for (const n of ['c.json', 'a.json', 'b.json', 'd.txt']) writeFileSync(join(folder, n), '{}');
    assert.equal((await readLatestMeasurements(modelFile))?.file, join(folder, 'c.json'));
    // Ten runs whose names sort in another order than their stamps: the newest stamp wins, wherever the
    // folder lists it (three folders, so no order the file system happens to give decides it).
    for (const newest of [0, 4, 9]) {
      rmSync(folder, { recursive: true });
      mkdirSync(folder, { recursive: true });
      const day = (i: number) => String(i === newest ? 28 : 10 + i).padStart(2, '0');
      const runs = Array.from({ length: 10 }, (_, i) => `${String.fromCharCode(106 - i)}${i}-run-2026-11-${day(i)}T08-00-00Z.json`);
      for (const n of runs) writeFileSync(join(folder, n), '{}');
      assert.equal((await readLatestMeasurements(modelFile))?.file, join(folder, runs[newest]!), `newest: ${runs[newest]}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the export\'s theme fallbacks: every value a CSS value of its kind, light and dark, and text readable on its background', () => {
  const css = exportThemeCss();
  const [light, dark] = css.split('@media');
  const values = (block: string) => new Map([...block!.matchAll(/--vscode-([\w-]+): ([^;]*);/g)].map((m) => [m[1]!, m[2]!]));
  const colour = /^(#[0-9a-f]{6}|rgba\(\d{1,3}, \d{1,3}, \d{1,3}, (0|1|0?\.\d+)\))$/;
  for (const [scheme, vars] of [['light', values(light!)], ['dark', values(dark!)]] as const) {
    assert.ok(vars.size >= 45, `${scheme}: ${vars.size} variables`);
    for (const [name, value] of vars) {
      if (name.endsWith('font-family')) assert.match(value, /^[^,]+(, [^,]+)+$/, `${scheme} ${name}`);
      else if (name.endsWith('font-size')) assert.match(value, /^\d+px$/, `${scheme} ${name}`);
      else if (name === 'font-weight') assert.equal(value, 'normal');
      else assert.match(value, colour, `${scheme} --vscode-${name}: ${value}`);
    }
    // WCAG 2 contrast (relative luminance of sRGB), at least 4.5:1 for body text on the editor's background.
    const lum = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const contrast = (a: string, b: string) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
    for (const [fg, bg] of [['foreground', 'editor-background'], ['editor-foreground', 'editor-background'], ['button-foreground', 'button-background'], ['textLink-foreground', 'editor-background']] as const)
      assert.ok(contrast(vars.get(fg)!, vars.get(bg)!) >= 4.5, `${scheme}: ${fg} on ${bg}`);
  }
  assert.match(light!, /color-scheme: light;/);
  assert.match(dark!, /color-scheme: dark;/);
});

test('the Python extension\'s API of either generation, and every shape that is not one, falls through to the next or null', async () => {
  const older = { settings: { getExecutionDetails: () => ({ execCommand: ['/old/py'] }) } };
  // environments without the function, an environment that is not an object or has no string path.
  assert.equal(await interpreterFromPythonApi({ environments: {}, ...older }, null), '/old/py');
  assert.equal(await interpreterFromPythonApi({ environments: 'x', ...older }, null), '/old/py');
  assert.equal(await interpreterFromPythonApi({ environments: { getActiveEnvironmentPath: () => undefined }, ...older }, null), '/old/py');
  assert.equal(await interpreterFromPythonApi({ environments: { getActiveEnvironmentPath: () => ({ path: 42 }) }, ...older }, null), '/old/py');
  // settings without the function, or not an object; an execCommand that is not an array, or whose first item is no string.
  assert.equal(await interpreterFromPythonApi({ settings: {} }, null), null);
  assert.equal(await interpreterFromPythonApi({ settings: 'x' }, null), null);
  assert.equal(await interpreterFromPythonApi({ settings: { getExecutionDetails: () => ({ execCommand: '/old/py' }) } }, null), null);
  assert.equal(await interpreterFromPythonApi({ settings: { getExecutionDetails: () => ({ execCommand: [42] }) } }, null), null);
  assert.equal(await interpreterFromPythonApi({ settings: { getExecutionDetails: () => undefined } }, null), null);
  // The resource is passed on to either call.
  const seen: unknown[] = [];
  await interpreterFromPythonApi({ environments: { getActiveEnvironmentPath: (r: unknown) => (seen.push(r), { path: '' }) }, settings: { getExecutionDetails: (r: unknown) => (seen.push(r), undefined) } }, 'folder-uri');
  assert.deepEqual(seen, ['folder-uri', 'folder-uri']);
});

test('probe answers and failures: the version at the start of the last line, trimmed; the last stderr line, trimmed; none found', async () => {
  assert.equal(torchRecentEnough('v2.0'), null, 'a version starts with its digits');
  // None with torch: nothing found, every one tried, in order.
  const none = await findTorchPython([{ path: 'x', source: 'PATH' }, { path: 'y', source: 'system' }], async (p) => ({ ok: false, why: `no ${p}` }));
  assert.deepEqual(none, { found: null, tried: [{ path: 'x', source: 'PATH', result: { ok: false, why: 'no x' } }, { path: 'y', source: 'system', result: { ok: false, why: 'no y' } }] });
  assert.deepEqual(probeAnswer('hook prints\n   2.4.0  '), { ok: true, torch: '2.4.0' });
  const base = { code: 1, signal: null, stderr: '', timedOut: false, timeoutMs: 20000 };
  assert.equal(probeFailure({ ...base, stderr: 'Traceback\n    ModuleNotFoundError: no torch' }), 'ModuleNotFoundError: no torch');
  assert.equal(probeFailure({ ...base, stderr: '   \n  ' }), 'exited with 1', 'a blank stderr says how it ended');
});

test('the error when no interpreter has torch: one line, the file word "Python", how to name one on the CLI and in VS Code', () => {
  const tried = [{ path: '/a', source: 'system' as const, result: { ok: false as const, why: 'not found' } }, { path: '/b', source: 'PATH' as const, result: { ok: true as const, torch: '2.1' } }];
  assert.equal(noTorchMessage(tried, 'X'), 'Python: expected an interpreter that imports torch >= 1.13 (name one with X), found none: tried /a (system): not found; /b (PATH): torch 2.1');
  // The names a user is told to use are the CLI's flag and variable (python-probe.ts reads the variable) and
  // the setting package.json contributes.
  assert.match(NAME_ONE_CLI, /--python PATH/);
  assert.match(NAME_ONE_CLI, /\$DEFERRED_NORM_PYTHON/);
  const settingName = /deferredNorm\.python\b/.exec(NAME_ONE_EXTENSION)?.[0];
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[] } };
  const configuration = [manifest.contributes.configuration].flat();
  assert.ok(settingName && configuration.some((c) => settingName in c.properties), NAME_ONE_EXTENSION);
});

test('the probe\'s arguments, run by Python against a stand-in torch module, print its version and nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-probe-'));
  try {
    writeFileSync(join(dir, 'torch.py'), "__version__ = '2.4.0+cpu'\n");
    const r = spawnSync('/usr/bin/python3', [...TORCH_PROBE_ARGS], { cwd: dir, env: { PYTHONPATH: dir, PATH: '' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '2.4.0+cpu');
    assert.deepEqual(probeAnswer(r.stdout), { ok: true, torch: '2.4.0+cpu' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the validation headline message: three numbers, each checked', () => {
  const ok = { points: 12, heldBack: 4, heldBackErrorPct: 9.5 };
  assert.deepEqual(parseHostMessage({ type: 'validation', validation: ok }), { type: 'validation', validation: ok });
  for (const field of ['points', 'heldBack', 'heldBackErrorPct'] as const) {
    assert.equal(parseHostMessage({ type: 'validation', validation: { ...ok, [field]: '1' } }), null, field);
  }
  assert.equal(parseHostMessage({ type: 'validation', validation: null }), null);
});

test('the export\'s title and inlined text: the model named, only closing tags escaped, codicons only with both their files', async () => {
  const spec = await loadFixture('GPT-2');
  const view = buildPanelView(spec, getPreset('dimc'), INPUT, { ...OPTIONS, interactive: false, sweep: null });
  const assets = { script: "el.innerHTML = '</div>'; // </SCRIPT>", style: 'a::after { content: "</b>" }' };
  const html = standaloneHtml(view, assets);
  assert.ok(html.includes(`<title>Deferred Norm: ${view.report.model.name}</title>`), 'the title names the model');
  assert.ok(html.includes("el.innerHTML = '</div>'; // <\\/SCRIPT>"), 'in the script only </script is escaped');
  assert.ok(html.includes('a::after { content: "</b>" }'), 'in the style only </style is escaped');
  // A stylesheet without its font (or a font without its stylesheet) links nothing.
  assert.doesNotMatch(standaloneHtml(view, { ...assets, codiconCss: '.x {}' }), /<link/);
  assert.doesNotMatch(standaloneHtml(view, { ...assets, codiconFont: new Uint8Array([1]) }), /<link/);
  // An unquoted url() is inlined as well.
  const unquoted = standaloneHtml(view, { ...assets, codiconCss: '@font-face { src: url(./codicon.ttf?v=1) }', codiconFont: new Uint8Array([1, 2, 3]) });
  const css = Buffer.from(/href="data:text\/css;base64,([^"]+)"/.exec(unquoted)![1]!, 'base64').toString('utf8');
  assert.equal(css, '@font-face { src: url("data:font/ttf;base64,AQID") }');
  // The panel's page has no class on <html>.
  assert.match(panelHtml({ cspSource: 'c', nonce: 'n', scriptUri: 's', styleUri: 't', codiconUri: 'i', title: 'x' }), /^<!DOCTYPE html>\n<html lang="en">\n<head>/);
});
