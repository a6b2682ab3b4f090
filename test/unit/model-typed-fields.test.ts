/**
 * Issue 21: what the readers know is stated in typed fields, not recovered from strings later. The
 * MLP's activation is parsed once, when the model is read, into the type the graph switches on;
 * whether a model was read by its family or, for an unknown model_type, by its fields is a field
 * of the spec (the editor used to look for the note's wording).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildLayerGraph } from '../../src/core/graph/layer';
import { layerSites } from '../../src/core/graph/sites';
import { getPreset } from '../../src/core/hardware/presets';
import { specFromConfig } from '../../src/core/model/config';
import { parseActivation } from '../../src/core/model/families/activation';
import type { Activation, ModelSpec } from '../../src/core/model/spec';
import { graphContext } from '../../src/core/sim/simulate';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { fixturePath } from './helpers/fixtures';

const configOf = (name: string): Record<string, unknown> => JSON.parse(readFileSync(fixturePath(name), 'utf8')) as Record<string, unknown>;
const read = (config: unknown): ModelSpec => specFromConfig(config, { path: '/models/test/config.json', format: 'config.json' });

test('activation names: plain ReLU, other ReLU forms, GELU forms, SiLU/Swish, anything else; case and spaces aside', () => {
  const expected: [string, Activation][] = [
    ['relu', 'relu'],
    ['ReLU', 'relu'],
    [' relu\n', 'relu'],
    ['relu2', 'relu-like'],
    ['leaky_relu', 'relu-like'],
    ['relu6', 'relu-like'],
    ['gelu', 'gelu'],
    ['GELU', 'gelu'],
    ['gelu_new', 'gelu'],
    ['gelu_pytorch_tanh', 'gelu'],
    ['quick_gelu', 'gelu'],
    ['silu', 'silu'],
    ['Swish', 'silu'],
    ['tanh', 'other'],
    ['hasOwnProperty', 'other'],
    ['', 'other'],
  ];
  for (const [name, kind] of expected) assert.equal(parseActivation(name), kind, JSON.stringify(name));
});

test('the readers parse each fixture\'s activation once, and keep its name for display', () => {
  // From the configs' own fields: OPT activation_function "relu"; T5 feed_forward_proj "relu"; GPT-2
  // activation_function "gelu_new"; Gemma hidden_act "gelu"; Llama hidden_act "silu"; Flan-T5 "gated-gelu"
  // runs dense_act_fn "gelu_new" in a gated MLP.
  const expected: [string, string, Activation][] = [
    ['OPT-125m', 'relu', 'relu'],
    ['t5-small', 'relu', 'relu'],
    ['GPT-2', 'gelu_new', 'gelu'],
    ['Gemma-2b', 'gelu', 'gelu'],
    ['Llama-3.1-8B', 'silu', 'silu'],
    ['flan-t5-small', 'gelu_new', 'gelu'],
  ];
  for (const [fixture, name, kind] of expected) {
    for (const k of read(configOf(fixture)).layerKinds) {
      assert.deepEqual([k.mlp.activation, k.mlp.activationKind], [name, kind], `${fixture} ${k.id}`);
    }
  }
});

test('a gated MLP: ReLU in any case lets the norm\'s scale reach the down projection; another ReLU form does not', () => {
  // Llama-3.1-8B's MLP has no biases and a down projection: relu(r·g) ⊙ (r·u) = r²·(relu(g) ⊙ u) holds for r > 0.
  const mlpSite = (act: string) => {
    const spec = read({ ...configOf('Llama-3.1-8B'), hidden_act: act });
    return layerSites(spec.layerKinds[0]!, 'eager', spec.positions).find((s) => s.id === 'mlp-norm')!;
  };
  assert.deepEqual(mlpSite(' ReLU ').depths, ['linear', 'down']);
  // relu2 is relu(x)²: r²·… on one branch, r on the other; not modelled, so the scale stops, and says why by the config's name.
  const squared = mlpSite('relu2');
  assert.deepEqual(squared.depths, ['linear']);
  assert.match(squared.depthLimit ?? '', /^relu2 is not positively homogeneous/);
});

test('the activation op\'s exponentials follow the parsed type: none for ReLU, one per value for SiLU, GELU and an unknown name', () => {
  // Decode, batch 4, tensor parallel 1: the activation runs over 4 rows × Llama-3.1-8B's intermediate_size 14336.
  const values = 4 * 14336;
  const workload = { ...DEFAULT_WORKLOAD, batch: 4, tp: 1 };
  const exps = (act: string) => {
    const spec = read({ ...configOf('Llama-3.1-8B'), hidden_act: act });
    const ctx = graphContext(getPreset('dimc'), workload, 'bf16');
    const op = buildLayerGraph(spec, spec.layerKinds[0]!, ctx, () => null).ops.find((o) => o.role === 'activation')!;
    assert.equal(op.work.kind, 'vector');
    return op.work.kind === 'vector' ? op.work.exps : NaN;
  };
  assert.equal(exps('relu'), 0);
  assert.equal(exps('leaky_relu'), 0);
  assert.equal(exps('silu'), values); // x / (1 + e^−x)
  assert.equal(exps('gelu_pytorch_tanh'), values); // tanh through one exponential
  assert.equal(exps('tanh'), values); // a name no rule knows is priced as SiLU
});

test('how a model was read is a field: its family\'s reader, or its fields for an unknown model_type', () => {
  assert.equal(read(configOf('Llama-3.1-8B')).readAs, 'family');
  assert.equal(read(configOf('GPT-2')).readAs, 'family');
  assert.equal(read(configOf('t5-small')).readAs, 'family');
  const unknown = read({ ...configOf('Llama-3.1-8B'), model_type: 'acme_lm', architectures: ['AcmeForCausalLM'] });
  assert.equal(unknown.readAs, 'fields');
  // The user still reads it in a note.
  assert.ok(unknown.notes.some((n) => n.includes('"acme_lm"') && n.includes('Llama-style decoder')));
});
