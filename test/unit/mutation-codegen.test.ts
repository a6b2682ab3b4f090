/**
 * Tests that catch wrong answers in src/core/codegen's exports (issue 21), through its public entry
 * points only (the pseudo-code's formatPseudocode and the PyTorch plan and module), since the block
 * generator is being restructured: Python literals and string escapes written out by hand, each
 * branch of what the patch does with a site, the plan's figures and the module's header counted here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPseudocode, type BlockText } from '../../src/core/codegen';
import { patchStatus, planWorkload, pythonLiteral, pythonStringBody, pytorchModule, pytorchPlan, SOFTMAX_SKIP_REASON } from '../../src/core/codegen/pytorch';
import { InputError } from '../../src/core/errors';
import { getPreset } from '../../src/core/hardware/presets';
import { profile } from '../../src/core/report/profile';
import type { PseudocodeSite } from '../../src/core/report/types';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

test('Python string bodies: each kind of character escaped as Python reads it back', () => {
  const cases: [string, string][] = [
    ['plain ~ text', 'plain ~ text'],
    ['a"b', 'a\\"b'],
    ["it's", "it\\'s"],
    ['back\\slash', 'back\\\\slash'],
    ['\n\r\t', '\\n\\r\\t'],
    ['\x00\x01\x1f', '\\x00\\x01\\x1f'],
    ['\x7f', '\\x7f'],
    ['é', '\\u00e9'],
    ['\u2028', '\\u2028'],
    ['😀', '\\U0001f600'],
    ['\ud800x', '\\ud800x'],
    ['\udc00', '\\udc00'],
    // The ends of the surrogate ranges: a pair is one code point, anything else one \u escape each.
    ['\ud7ff\udc00', '\\ud7ff\\udc00'],
    ['\ud800\udc00', '\\U00010000'],
    ['\udbff\udfff', '\\U0010ffff'],
    ['\udbff\udbff', '\\udbff\\udbff'],
    ['\ud800\ue000', '\\ud800\\ue000'],
    ['\ud800\udbff', '\\ud800\\udbff'],
    ['\udc00\udc00', '\\udc00\\udc00'],
    ['\uffffx', '\\uffffx'],
    ['\u0080', '\\u0080'],
  ];
  for (const [text, body] of cases) assert.equal(pythonStringBody(text), body, JSON.stringify(text));
});

test('Python literals: scalars, lists on one line, nested values indented by four spaces', () => {
  assert.equal(pythonLiteral(null), 'None');
  assert.equal(pythonLiteral(true), 'True');
  assert.equal(pythonLiteral(false), 'False');
  assert.equal(pythonLiteral(-0), '0');
  assert.equal(pythonLiteral(1e-7), '1e-7');
  assert.equal(pythonLiteral(-2.5), '-2.5');
  assert.equal(pythonLiteral('x"'), '"x\\""');
  assert.equal(pythonLiteral([]), '[]');
  assert.equal(pythonLiteral({}), '{}');
  assert.equal(pythonLiteral([1, 'a', null]), '[1, "a", None]');
  assert.equal(pythonLiteral({ a: [1, 2], b: { c: 'd' } }), '{\n    "a": [1, 2],\n    "b": {\n        "c": "d",\n    },\n}');
  // A list with one non-scalar is written one item a line.
  assert.equal(pythonLiteral([1, { k: 1 }]), '[\n    1,\n    {\n        "k": 1,\n    },\n]');
  assert.equal(pythonLiteral([{ k: 1 }, [2]]), '[\n    {\n        "k": 1,\n    },\n    [2],\n]');
  assert.equal(pythonLiteral({ 'q"': 1 }), '{\n    "q\\"": 1,\n}');
  assert.throws(() => pythonLiteral(NaN), /finite/);
  assert.throws(() => pythonLiteral([Infinity]), /finite/);
});

test('the plan workload in a few words', () => {
  const w = { ...DEFAULT_WORKLOAD, dtype: 'fp8' as const, tpRequested: 'auto' as const };
  assert.equal(planWorkload({ ...w, phase: 'decode', batch: 32, context: 2048, tp: 1 }), 'decode b32 ctx2048 fp8');
  assert.equal(planWorkload({ ...w, phase: 'prefill', batch: 1, seq: 4096, tp: 2, dtype: 'bf16' }), 'prefill b1 seq4096 tp2 bf16');
});

test('what the patch does with a site: each decision, the Softmax, and each depth per family', () => {
  const base = { decision: 'defer' as const, reason: 'saves 1 µs', kind: 'rmsnorm' as const, depth: 'linear' as const };
  assert.deepEqual(patchStatus({ ...base, decision: 'keep', reason: 'costs more' }, 'llama'), { applied: false, label: 'skipped: kept', detail: 'skipped: costs more' });
  assert.deepEqual(patchStatus({ ...base, decision: 'ineligible', reason: 'post-norm' }, 'llama'), { applied: false, label: 'skipped: ineligible', detail: 'skipped: post-norm' });
  assert.deepEqual(patchStatus({ ...base, kind: 'softmax' }, 'llama'), { applied: false, label: 'skipped: kernel', detail: `skipped: ${SOFTMAX_SKIP_REASON}` });
  assert.deepEqual(patchStatus(base, 'qwen2'), { applied: true, label: 'applied by the patch', detail: 'applied by the patch: saves 1 µs' });
  assert.deepEqual(patchStatus({ ...base, depth: null }, 'qwen2'), { applied: true, label: 'applied by the patch', detail: 'applied by the patch: saves 1 µs' });
  // Past RoPE or into the attention: only where the runtime replaces the attention forward (Llama-style).
  assert.deepEqual(patchStatus({ ...base, depth: 'rope' }, 'llama'), { applied: true, label: 'applied by the patch', detail: 'applied by the patch: saves 1 µs' });
  for (const family of ['mistral', 'gemma'] as const)
    assert.deepEqual(patchStatus({ ...base, depth: 'rope' }, family), { applied: true, label: 'applied by the patch', detail: 'applied by the patch: saves 1 µs' }, family);
  assert.equal(SOFTMAX_SKIP_REASON, "PyTorch's SDPA and FlashAttention already divide by the row sum after ·V; the patch does not replace the attention's softmax");
  assert.deepEqual(patchStatus({ ...base, depth: 'attention' }, 'gemma2'), { applied: true, label: 'applied by the patch', detail: 'applied by the patch: saves 1 µs' });
  assert.deepEqual(patchStatus({ ...base, depth: 'attention' }, 'qwen2'), {
    applied: true,
    label: 'applied after linear',
    detail: "applied by the patch after the linear layer, not deeper: the patch replaces only the Llama-style attention forward, not qwen2's",
  });
  // Past the MLP: no family the patch handles has a ReLU MLP, even Llama.
  assert.deepEqual(patchStatus({ ...base, depth: 'down' }, 'llama'), {
    applied: true,
    label: 'applied after linear',
    detail: 'applied by the patch after the linear layer, not past the MLP: no family the patch handles has a ReLU MLP',
  });
});

test("the plan: one entry per site per layer kind with the report's figures, rounded to the ns", async () => {
  const report = profile(await loadFixture('GPT-2'), getPreset('dimc'), DEFAULT_WORKLOAD);
  const kinds = report.layerKinds.map((k, i) =>
    i === 0 ? { ...k, sites: k.sites.map((s, j) => (j === 0 ? { ...s, savedUs: 1.23456 } : j === 1 ? { ...s, decision: 'keep' as const, savedUs: 0.0004 } : s)) } : k,
  );
  const plan = pytorchPlan({ ...report, layerKinds: kinds }, 'gen');
  assert.equal(plan.format, 'deferred-norm-plan/1');
  assert.equal(plan.family, 'gpt2');
  assert.equal(plan.generator, 'gen');
  assert.equal(plan.hardware, 'dimc');
  assert.equal(plan.model, 'GPT-2');
  assert.equal(plan.sites.length, kinds.reduce((n, k) => n + k.sites.length, 0));
  const [first, second] = plan.sites;
  assert.equal(first!.savedUs, 1.235);
  assert.equal(second!.savedUs, 0);
  assert.equal(second!.decision, 'keep');
  assert.equal(second!.depth, null, 'a kept site has no depth');
  assert.equal(first!.depth, kinds[0]!.sites[0]!.depth, 'a deferred site keeps its depth');
  assert.ok(first!.depth !== null);
  assert.equal(pytorchPlan(report).generator, 'deferred-norm');
  // The family: the report's, else its model_type, else a refusal naming both and the supported ones.
  assert.equal(pytorchPlan({ ...report, model: { ...report.model, family: 'gpt2-like', modelType: 'llama' } }).family, 'llama');
  assert.equal(pytorchPlan({ ...report, model: { ...report.model, family: 'qwen3', modelType: 'qwen3_custom' } }).family, 'qwen3');
  const refused = (family: string, modelType: string) => {
    try {
      pytorchPlan({ ...report, model: { ...report.model, family, modelType } });
    } catch (err) {
      assert.ok(err instanceof InputError);
      return err.message;
    }
    return assert.fail('not refused');
  };
  const both = refused('mystery', 'other');
  assert.ok(both.includes('"mystery" (model_type "other")') && both.includes('model_type') && both.includes(`a family the PyTorch patch supports (llama, mistral, qwen2, qwen3, gemma, gemma2, phi3, gpt_neox, gpt2)`), both);
  assert.ok(refused('mystery', 'mystery').includes('"mystery"') && !refused('mystery', 'mystery').includes('(model_type'));
  assert.ok(!refused('mystery', '').includes('(model_type'));
  assert.deepEqual(first!.layers, kinds[0]!.layers);
  for (const s of plan.sites) {
    const own = kinds.flatMap((k) => k.sites).find((x) => x.id === s.id)!;
    assert.deepEqual(s.linears, s.kind === 'softmax' ? [] : own.consumers, s.id);
    assert.equal(s.norm, own.norm, s.id);
  }
  assert.deepEqual(plan.sites.at(-1)!.layers, [report.model.layers], "the head's entry is the layer after the last");
});

test('the module: its header written out, PLAN holds every site, the runtime follows with its __future__ imports first', async () => {
  const r = profile(await loadFixture('GPT-2'), getPreset('dimc'), DEFAULT_WORKLOAD);
  // One site kept by hand, so the header's count is not simply every site.
  const report = { ...r, layerKinds: r.layerKinds.map((k, i) => (i === 0 ? { ...k, sites: k.sites.map((x, j) => (j === 0 ? { ...x, decision: 'keep' as const } : x)) } : k)) };
  const all = report.layerKinds.flatMap((k) => k.sites);
  const deferred = all.filter((x) => x.decision === 'defer').length;
  assert.ok(deferred > 0 && deferred < all.length);
  const runtime = 'import torch\n# from __future__ import nothing (a comment stays)\nfrom __future__ import annotations\n\ndef apply(model):\n    return model\n\n\n';
  const text = pytorchModule(report, runtime);
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 17), [
    '"""Deferred-norm PyTorch patch for GPT-2 (family gpt2).',
    '',
    'Generated by deferred-norm; do not edit it, generate it again.',
    `Hardware: dimc (${report.hardware.title})`,
    `Workload: ${planWorkload(report.workload)}`,
    `Sites: ${deferred} of ${all.length} deferred (one entry per site per layer kind).`,
    '',
    'Which sites to defer was decided from a simulated estimate of latency on that hardware',
    'and workload, not from a measurement. apply(model) rewrites the deferred sites of a loaded',
    "model, checks its outputs against the original, and restores it if they differ.",
    '',
    'Use:  import deferred_norm_patch; deferred_norm_patch.apply(model)',
    '  or: python deferred_norm_patch.py MODEL_FOLDER',
    '"""',
    'from __future__ import annotations',
    '',
    'PLAN = {',
  ]);
  assert.ok(text.includes('# from __future__ import nothing (a comment stays)\n'), 'only a line that starts with the import moves');
  assert.equal(lines.filter((l) => l.startsWith('from __future__')).length, 1, 'moved, not copied');
  // PLAN: the plan's fields and one entry per site, each with its id.
  assert.ok(text.includes('    "format": "deferred-norm-plan/1",\n') && text.includes('    "family": "gpt2",\n'));
  for (const x of all) assert.ok(text.includes(`            "id": "${x.id}",\n`), x.id);
  assert.equal((text.match(/"decision": "keep"/g) ?? []).length, all.length - deferred);
  assert.ok(text.indexOf('PLAN = {') < text.indexOf('import torch'), 'PLAN before the runtime');
  assert.ok(text.endsWith('def apply(model):\n    return model\n'), 'the runtime verbatim, one final newline');
  assert.ok(pytorchModule(report, runtime, 'gen 1.0').includes('\nGenerated by gen 1.0; do not edit it'));
});

test('formatPseudocode: banners of a fixed width, before/after per site, blocks only without a filter', () => {
  const site = (layerKind: string, id: string, name: string): PseudocodeSite => ({ site: id, name, decision: 'defer', layerKind, before: `${id} before`, after: `${id} after` });
  const sites = [site('decoder', 'attn-norm', 'input_layernorm → q_proj'), site('decoder', 'softmax', 'softmax → ·V'), site('head', 'final-norm', 'norm → lm_head')];
  const blocks: BlockText[] = [{ layerKind: 'decoder', baseline: 'B', deferred: 'D' }];
  const banner = (title: string) => `═══ ${title} ${'═'.repeat(Math.max(3, 76 - title.length))}`;
  const all = formatPseudocode(sites, blocks);
  assert.equal(
    all,
    [
      banner('decoder · attn-norm'), '── before ──', 'attn-norm before', '', '── after ──', 'attn-norm after', '',
      banner('decoder · softmax'), '── before ──', 'softmax before', '', '── after ──', 'softmax after', '',
      banner('head · final-norm'), '── before ──', 'final-norm before', '', '── after ──', 'final-norm after', '',
      banner('block decoder · baseline'), 'B', '', banner('block decoder · deferred'), 'D',
    ].join('\n') + '\n',
  );
  assert.equal(banner('decoder · softmax').length, 4 + 17 + 1 + 59, '76 − 17 rules after a 17-character title');
  assert.equal(banner('x'.repeat(80)).endsWith(' ═══'), true, 'a long title keeps three rules');
  const one = formatPseudocode(sites, blocks, ' head/final-norm ');
  assert.ok(one.includes('final-norm after') && !one.includes('attn-norm') && !one.includes('block decoder'));
  assert.ok(formatPseudocode(sites, blocks, 'softmax').includes('softmax after'));
  assert.ok(formatPseudocode(sites, blocks, 'Q_PROJ').includes('attn-norm after'), 'a name substring, case-insensitive');
  assert.throws(
    () => formatPseudocode(sites, blocks, 'nowhere'),
    (err: unknown) => err instanceof InputError && err.message.includes('--site') && err.message.includes('one of: attn-norm, softmax, final-norm'),
  );
  assert.throws(() => formatPseudocode(sites, blocks, '  '), InputError, 'an empty filter matches no name');
});
