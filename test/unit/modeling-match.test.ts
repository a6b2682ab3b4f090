// Modeling code beside a config: the Python scanner (tree-sitter from node_modules) and the
// matching of its findings to the report's sites, on the Llama and GPT-2 fixtures. The
// expected matches are written by hand from the fixture files, not read back from the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { getPreset } from '../../src/core/hardware/presets';
import { loadModel } from '../../src/core/model/load';
import type { Report } from '../../src/core/report/types';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { hoverMarkdown, lensTitle } from '../../src/extension/modeling/hover-text';
import { candidatesOf, matchAt, matchSites, summarizeFunctions, type SiteMatch } from '../../src/extension/modeling/match';
import { createModelingParser } from '../../src/extension/modeling/python-scan';
import type { ModelingParser, ModelingScan } from '../../src/extension/modeling/scan-types';
import { buildPanelView, inputOf } from '../../src/common/panel-view';

const root = join(__dirname, '..', '..');
const fixture = (family: string, file: string) => join(root, 'test/fixtures/modeling', family, file);

let parser: ModelingParser;
before(async () => {
  parser = await createModelingParser({
    runtime: join(root, 'node_modules/web-tree-sitter/tree-sitter.wasm'),
    grammar: join(root, 'node_modules/tree-sitter-python/tree-sitter-python.wasm'),
  });
});

async function reportOf(family: string): Promise<Report> {
  const spec = await loadModel(fixture(family, 'config.json'));
  return buildPanelView(spec, getPreset('dimc'), inputOf(DEFAULT_WORKLOAD), { hardware: 'dimc', hardwareChoices: [], interactive: false, numerics: null, sweep: null }).report;
}

/** A match as "<line>:<kind> <text at the word> → <layerKind>/<site id>", 1-based lines. */
function describeMatch(source: string, m: SiteMatch): string {
  const line = source.slice(0, m.nameSpan.start).split('\n').length;
  return `${line}:${m.at} ${source.slice(m.nameSpan.start, m.nameSpan.end)} → ${m.sites.map((s) => `${s.layerKind}/${s.site.id}`).join(', ')}`;
}

const lineOf = (source: string, text: string, nth = 0): number => {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = source.indexOf(text, at + 1);
  assert.ok(at >= 0, `fixture has "${text}"`);
  return source.slice(0, at).split('\n').length;
};

describe('modeling code: Llama', () => {
  const source = readFileSync(fixture('llama', 'modeling_llama.py'), 'utf8');
  let scan: ModelingScan;
  let report: Report;
  before(async () => {
    scan = parser.scan(source).scan;
    report = await reportOf('llama');
  });

  it('finds the submodule calls, definitions, the eager softmax → ·V and the functions', () => {
    const calls = scan.calls.map((c) => `${c.className}.${c.functionName}: ${c.attribute}`);
    for (const expected of ['LlamaDecoderLayer.forward: input_layernorm', 'LlamaDecoderLayer.forward: post_attention_layernorm', 'LlamaModel.forward: norm', 'LlamaAttention.forward: q_proj', 'LlamaMLP.forward: gate_proj']) {
      assert.ok(calls.includes(expected), `${expected} in ${calls.join('; ')}`);
    }
    const norms = scan.definitions.filter((d) => d.constructors.includes('LlamaRMSNorm')).map((d) => `${d.className}.${d.attribute}`);
    assert.deepEqual(norms, ['LlamaDecoderLayer.input_layernorm', 'LlamaDecoderLayer.post_attention_layernorm', 'LlamaModel.norm']);
    assert.equal(scan.softmaxes.length, 1);
    const sm = scan.softmaxes[0]!;
    assert.equal(source.slice(sm.matmulSpan.start, sm.matmulSpan.end), 'torch.matmul(attn_weights, value_states)');
    assert.equal(`${sm.className}.${sm.functionName}`, 'LlamaAttention.forward');
  });

  it('matches each norm call and definition to its site by name, and the softmax to softmax → ·V', () => {
    const got = matchSites(scan, report).map((m) => describeMatch(source, m));
    assert.deepEqual(got, [
      `${lineOf(source, 'self.input_layernorm = ')}:definition input_layernorm → decoder/attn-norm`,
      `${lineOf(source, 'self.post_attention_layernorm = ')}:definition post_attention_layernorm → decoder/mlp-norm`,
      `${lineOf(source, 'self.input_layernorm(')}:call input_layernorm → decoder/attn-norm`,
      `${lineOf(source, 'self.post_attention_layernorm(')}:call post_attention_layernorm → decoder/mlp-norm`,
      `${lineOf(source, 'self.norm = ')}:definition norm → head/final-norm`,
      `${lineOf(source, 'self.norm(')}:call norm → head/final-norm`,
    ].concat([`${lineOf(source, 'nn.functional.softmax(')}:softmax softmax → decoder/softmax`]).sort((a, b) => parseInt(a) - parseInt(b)));
  });

  it('answers an offset inside a matched call, and nothing on an unmatched call', () => {
    const matches = matchSites(scan, report);
    const onNorm = matchAt(matches, source.indexOf('self.input_layernorm(') + 'self.'.length + 3);
    assert.equal(onNorm?.sites[0]?.site.name, 'input_layernorm → q_proj, k_proj, v_proj');
    assert.equal(matchAt(matches, source.indexOf('self.mlp(hidden_states)') + 6), undefined);
    assert.equal(matchAt(matches, source.indexOf('self.q_proj(hidden_states)') + 6), undefined);
  });

  it('sums the sites of each function that calls them, for the CodeLens', () => {
    const summaries = summarizeFunctions(scan, matchSites(scan, report));
    const got = summaries.map((s) => `${s.fn.className}.${s.fn.name}: ${s.layerKinds.map((k) => `${k.layerKind} ${k.sites.map((x) => x.id).join('+')}`).join('; ')}`);
    assert.deepEqual(got, ['LlamaAttention.forward: decoder softmax', 'LlamaDecoderLayer.forward: decoder attn-norm+mlp-norm', 'LlamaModel.forward: head final-norm']);
    const layer = summaries[1]!;
    const attn = report.layerKinds[0]!.sites.find((s) => s.id === 'attn-norm')!;
    const mlp = report.layerKinds[0]!.sites.find((s) => s.id === 'mlp-norm')!;
    assert.equal(attn.decision, 'defer');
    assert.equal(mlp.decision, 'defer');
    const expectedSum = attn.savedUs + mlp.savedUs;
    assert.equal(lensTitle(layer, 'dimc'), `Deferred norm: 2 sites deferred, −${expectedSum.toFixed(2)} µs per layer on dimc`);
  });

  it('hover text: decision, per-layer and per-pass saving, before/after code and the diff link', () => {
    const matches = matchSites(scan, report);
    const call = matches.find((m) => m.at === 'call' && m.moduleName === 'input_layernorm')!;
    const site = report.layerKinds[0]!.sites.find((s) => s.id === 'attn-norm')!;
    const md = hoverMarkdown(call, { report, workloadLine: 'decode', diffLink: (s) => `command:x?${s.site.id}` });
    assert.match(md, /`input_layernorm → q_proj, k_proj, v_proj` · \*\*deferred\*\*/);
    assert.ok(md.includes(`${site.savedUs.toFixed(2)} µs per layer`));
    assert.ok(md.includes(`${(site.savedUs * 32).toFixed(1)} µs per pass`), 'per pass = 32 layers × per layer');
    assert.ok(md.includes('simulated estimate'));
    assert.match(md, /Before:\n\n```python\n[^]*h = x \* r \* input_layernorm\.weight/);
    assert.match(md, /After:\n\n```python\n[^]*q_proj\.weight′ = q_proj\.weight \* γ/);
    assert.ok(md.includes('](command:x?attn-norm)'));
  });
});

describe('modeling code: GPT-2', () => {
  const source = readFileSync(fixture('gpt2', 'modeling_gpt2.py'), 'utf8');
  let scan: ModelingScan;
  let report: Report;
  before(async () => {
    scan = parser.scan(source).scan;
    report = await reportOf('gpt2');
  });

  it('matches ln_1, ln_2, ln_f (definitions and calls inside other calls) and the softmax in _attn', () => {
    const got = matchSites(scan, report).map((m) => describeMatch(source, m));
    assert.deepEqual(got, [
      `${lineOf(source, 'nn.functional.softmax(')}:softmax softmax → decoder/softmax`,
      `${lineOf(source, 'self.ln_1 = ')}:definition ln_1 → decoder/attn-norm`,
      `${lineOf(source, 'self.ln_2 = ')}:definition ln_2 → decoder/mlp-norm`,
      `${lineOf(source, 'self.ln_1(')}:call ln_1 → decoder/attn-norm`,
      `${lineOf(source, 'self.ln_2(')}:call ln_2 → decoder/mlp-norm`,
      `${lineOf(source, 'self.ln_f = ')}:definition ln_f → head/final-norm`,
      `${lineOf(source, 'self.ln_f(')}:call ln_f → head/final-norm`,
    ]);
    const sm = scan.softmaxes[0]!;
    assert.equal(source.slice(sm.matmulSpan.start, sm.matmulSpan.end), 'torch.matmul(attn_weights, value)', 'through .type() and dropout');
  });

  it('the innermost match wins inside nested calls; lenses on _attn, GPT2Block.forward and GPT2Model.forward', () => {
    const matches = matchSites(scan, report);
    const inner = source.indexOf('self.ln_1(hidden_states)') + 'self.ln_1(hid'.length;
    assert.equal(matchAt(matches, inner)?.moduleName, 'ln_1');
    assert.equal(matchAt(matches, source.indexOf('self.attn(self.ln_1') + 6), undefined, 'self.attn is not a site');
    const got = summarizeFunctions(scan, matches).map((s) => `${s.fn.className}.${s.fn.name}: ${s.layerKinds.map((k) => k.sites.map((x) => x.id).join('+')).join('; ')}`);
    assert.deepEqual(got, ['GPT2Attention._attn: softmax', 'GPT2Block.forward: attn-norm+mlp-norm', 'GPT2Model.forward: final-norm']);
  });
});

describe('modeling code: saying nothing rather than guessing', () => {
  it('a norm name of the config in code that never defines it as a norm, or lacks its consumers, is not matched', async () => {
    const report = await reportOf('llama');
    const unrelated = [
      'class Trainer:',
      '    def __init__(self):',
      '        self.norm = Clipper(1.0)          # not a norm module',
      '        self.input_layernorm = nn.LayerNorm(8)',
      '    def step(self, x):',
      '        x = self.norm(x)',
      '        return self.input_layernorm(x)  # no q_proj/k_proj/v_proj anywhere in this file',
      '    def attend(self, s, v):',
      '        p = torch.softmax(s, dim=-1)',
      '        p = p.sum(-1)                     # reduced, then a matmul with something else',
      '        q = s.mean(-1)',
      '        return q @ v',
      '',
    ].join('\n');
    const { scan } = parser.scan(unrelated);
    assert.deepEqual(matchSites(scan, report), []);
  });

  it('offsets are UTF-16 code units, as VS Code counts them', () => {
    const text = 'class A:\n    def forward(self, x):\n        s = "µ→γ"; p = softmax(x); return torch.matmul(p, v)\n';
    const { scan } = parser.scan(text);
    const sm = scan.softmaxes[0]!;
    assert.equal(text.slice(sm.nameSpan.start, sm.nameSpan.end), 'softmax');
  });

  it('parse and query times (printed, not asserted)', () => {
    const big = readFileSync(fixture('llama', 'modeling_llama.py'), 'utf8').repeat(20);
    const { timings } = parser.scan(big);
    console.log(`# parser init: runtime ${parser.initTimings.runtimeMs.toFixed(1)} ms, grammar ${parser.initTimings.grammarMs.toFixed(1)} ms, query compile ${parser.initTimings.queryCompileMs.toFixed(1)} ms; ${big.split('\n').length} lines: parse ${timings.parseMs.toFixed(1)} ms, query ${timings.queryMs.toFixed(1)} ms`);
  });
});

describe('modeling code: many functions', () => {
  const within = (outer: { start: number; end: number }, inner: { start: number; end: number }): boolean => outer.start <= inner.start && inner.end <= outer.end;

  /** The lenses' grouping by its definition: every function against every call, skipping calls inside a function nested in it. */
  function sitesPerFunctionByDefinition(scan: ModelingScan, matches: readonly SiteMatch[]): string[] {
    return scan.functions.flatMap((fn) => {
      const calls = matches.filter((m) => m.at !== 'definition' && within(fn.span, m.span) && !scan.functions.some((f) => f !== fn && within(fn.span, f.span) && within(f.span, m.span)));
      const ids = [...new Set(calls.flatMap((m) => m.sites.map((s) => s.site.id)))].sort();
      return calls.length > 0 ? [`${fn.span.start}: ${ids.join('+')}`] : [];
    });
  }

  it('a 40-copy file with nested functions: each call is summarized in the innermost function around it, once', async () => {
    const report = await reportOf('llama');
    const nested = [
      'class Extra(nn.Module):',
      '    def forward(self, hidden_states):',
      '        def inner(x):',
      '            return self.input_layernorm(x)',
      '        h = self.post_attention_layernorm(hidden_states)',
      '        return inner(h)',
      '',
    ].join('\n');
    const copy = readFileSync(fixture('llama', 'modeling_llama.py'), 'utf8');
    const text = Array.from({ length: 40 }, () => `${copy}\n${nested}`).join('\n');
    const scan = parser.scan(text).scan;
    const matches = matchSites(scan, report);
    const summaries = summarizeFunctions(scan, matches);
    // Per copy: the fixture's three forwards, Extra.forward and inner.
    assert.equal(summaries.length, 40 * 5);
    for (const s of summaries.filter((x) => x.fn.name === 'inner')) assert.deepEqual(s.layerKinds.flatMap((k) => k.sites.map((x) => x.id)), ['attn-norm']);
    for (const s of summaries.filter((x) => x.fn.className === 'Extra' && x.fn.name === 'forward')) assert.deepEqual(s.layerKinds.flatMap((k) => k.sites.map((x) => x.id)), ['mlp-norm']);
    const got = summaries.map((s) => `${s.fn.span.start}: ${s.layerKinds.flatMap((k) => k.sites.map((x) => x.id)).sort().join('+')}`);
    assert.deepEqual(got, sitesPerFunctionByDefinition(scan, matches));
  });

  it("the worker's candidates match and summarize as the whole scan does (Llama, GPT-2, nested functions), in less", async () => {
    const nested = 'class Extra(nn.Module):\n    def forward(self, h):\n        def inner(x):\n            return self.input_layernorm(x)\n        return inner(self.post_attention_layernorm(h))\n';
    for (const [family, file, extra] of [['llama', 'modeling_llama.py', nested], ['gpt2', 'modeling_gpt2.py', '']] as const) {
      const report = await reportOf(family);
      const scan = parser.scan(`${readFileSync(fixture(family, file), 'utf8')}\n${extra}`).scan;
      const candidates = candidatesOf(scan);
      const matches = matchSites(scan, report);
      assert.ok(matches.length > 0);
      assert.deepEqual(matchSites(candidates, report), matches);
      assert.deepEqual(summarizeFunctions(candidates, matchSites(candidates, report)), summarizeFunctions(scan, matches));
      assert.ok(candidates.calls.length < scan.calls.length && candidates.functions.length < scan.functions.length, `${family}: fewer calls and functions`);
    }
  });
});
