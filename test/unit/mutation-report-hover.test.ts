/**
 * The editor hover's MLP share (issue 21 names it among the wrong answers no test caught): the hover
 * text on figures set by hand, and the simulated share itself against a count of multiply-adds done
 * here. The hover is pure text over the analysis (src/extension/editor/hover-text.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeConfigText, type ConfigAnalysis } from '../../src/extension/editor/analysis';
import { hoverText } from '../../src/extension/editor/hover-text';
import { getPreset } from '../../src/core/hardware/presets';
import type { WorkloadInput } from '../../src/common/protocol';

const LLAMA = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'configs', 'Llama-3.1-8B', 'config.json'), 'utf8');
const PREFILL: WorkloadInput = { phase: 'prefill', batch: 1, seq: 2048, context: 2048, tp: 1, dtype: null, softmaxOffset: 'online', deferDepth: 'deepest' };

function analysis(hw: string, input: WorkloadInput): ConfigAnalysis {
  const outcome = analyzeConfigText(LLAMA, '/m/config.json', getPreset(hw), input);
  assert.equal(outcome.kind, 'model');
  return (outcome as { analysis: ConfigAnalysis }).analysis;
}

function ffnHover(a: ConfigAnalysis): string {
  const text = hoverText({ role: 'ffn', key: 'intermediate_size', analysis: a, hardwareLabel: 'h', uriJson: { scheme: 'file', path: '/m/config.json' } });
  assert.ok(text);
  return text;
}

test("the hover's MLP share of the matrix-engine time is the layer's MLP time over its matrix time (hand-set figures)", () => {
  const a = analysis('gpu-h100', PREFILL);
  const layer = { ...a.figures!.layer, mlpMatrixUs: 30, matrixUs: 120 };
  const text = ffnHover({ ...a, figures: { ...a.figures!, layer } });
  // 30 of 120 µs = 25%.
  assert.ok(text.includes('25.0% of the simulated matrix-engine time (30.00 µs of 120.00 µs, baseline)'), text);
  // Llama's gated MLP: 3 × 4096 × 14336 of the layer's 3 × 4096 × 14336 + 2 × 4096² + 2 × 4096 × 1024 weights = 80.8%.
  assert.ok(text.includes('**80.8% of the weights**'), text);
  const none = ffnHover({ ...a, figures: { ...a.figures!, layer: { ...layer, mlpMatrixUs: 0, matrixUs: 0 } } });
  assert.ok(none.includes('0.0% of the simulated matrix-engine time'), 'no matrix time: a share of 0, not NaN');
});

test("Llama-3.1-8B prefill: the MLP's share of matrix time follows its share of the multiply-adds", () => {
  // Multiply-adds per token and layer: q and o 4096², k and v 4096 × 1024 (41.9 M); the MLP
  // 3 × 4096 × 14336 (176.2 M); attention q·Kᵀ and P·V, 32 heads × 128 over the keys: 16.8 M for all
  // 2048 keys, 8.4 M over the causal half. The MLP's share: 75.0% (all keys) to 77.8% (causal); a
  // compute-bound prefill's matrix time follows it, within start latencies and tile rounding (±1.5).
  const linears = 2 * 4096 * 4096 + 2 * 4096 * 1024;
  const mlp = 3 * 4096 * 14336;
  const attention = 2 * 32 * 128 * 2048;
  const low = mlp / (linears + mlp + attention);
  const high = mlp / (linears + mlp + attention / 2);
  for (const hw of ['gpu-h100', 'dimc']) {
    const l = analysis(hw, PREFILL).figures!.layer;
    const share = l.mlpMatrixUs / l.matrixUs;
    assert.ok(share > low - 0.015 && share < high + 0.015, `${hw}: MLP ${l.mlpMatrixUs} of ${l.matrixUs} µs = ${share}, expected ${low}…${high}`);
  }
});
