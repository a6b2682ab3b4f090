/**
 * Compare Models (issue 20): runs of (model, workload, hardware) side by side. Expected figures come
 * from the report path (profile(), each run on its own) and, for the parameter counts, by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getPreset } from '../../src/core/hardware/presets';
import { compareHardware, compareRuns, formatRunsMarkdown, workloadVariants } from '../../src/core/report/compare';
import { workloadLine } from '../../src/core/report/formats';
import { profile } from '../../src/core/report/profile';
import { DEFAULT_WORKLOAD, type Workload } from '../../src/core/workload';
import { loadFixture } from './helpers/fixtures';

/** The Markdown table's cells of the row whose first cell is `label`. */
function row(md: string, label: string): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| ${label} |`));
  assert.ok(line, `no row ${label} in\n${md}`);
  return line.slice(2, -2).split(' | ');
}

test('two models side by side: one column each, with its own totals, and the second against the first', async () => {
  const big = await loadFixture('Llama-3.1-8B');
  const small = await loadFixture('Llama-3.2-1B-Instruct');
  const dimc = getPreset('dimc');
  const result = compareRuns([
    { spec: big, hardware: dimc, workload: DEFAULT_WORKLOAD },
    { spec: small, hardware: dimc, workload: DEFAULT_WORKLOAD },
  ]);
  assert.deepEqual(result.skipped, []);
  assert.deepEqual(result.rows.map((r) => r.model), ['Llama-3.1-8B', 'Llama-3.2-1B-Instruct']);
  // Each column is the report the model gets alone.
  const alone = [profile(big, dimc, DEFAULT_WORKLOAD).totals, profile(small, dimc, DEFAULT_WORKLOAD).totals];
  result.rows.forEach((r, i) => assert.equal(r.baselineUs, alone[i]!.baselineUs));
  result.rows.forEach((r, i) => assert.equal(r.savedPct, alone[i]!.savedPct));

  const md = formatRunsMarkdown(result);
  assert.deepEqual(row(md, 'Figure'), ['Figure', 'Run 1', 'Run 2', 'Run 2 vs 1']);
  assert.deepEqual(row(md, 'Model').slice(1, 3), ['Llama-3.1-8B', 'Llama-3.2-1B-Instruct']);
  // By hand. Llama-3.1-8B: 32 layers of (2·4096² + 2·4096·1024 + 3·4096·14336 + 2·4096) = 218,112,000,
  // embeddings and lm_head 2 × 128,256 × 4096, the final norm 4096: 8,030,261,248.
  const big8 = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096) + 2 * 128256 * 4096 + 4096;
  // Llama-3.2-1B, tied: 16 × (2·2048² + 2·2048·512 + 3·2048·8192 + 2·2048) + 128,256 × 2048 once + 2048: 1,235,814,400.
  const small1 = 16 * (2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048) + 128256 * 2048 + 2048;
  assert.deepEqual([big8, small1], [8_030_261_248, 1_235_814_400]);
  assert.deepEqual(row(md, 'Parameters'), ['Parameters', '8.03 B', '1.24 B', `×${(small1 / big8).toFixed(2)}`]);
  const b = alone.map((t) => t.baselineUs);
  assert.equal(row(md, 'Baseline µs')[3], `×${(b[1]! / b[0]!).toFixed(2)}`);
  const points = alone[1]!.savedPct - alone[0]!.savedPct;
  assert.equal(row(md, 'Saved')[3], `${points >= 0 ? '+' : '−'}${Math.abs(points).toFixed(1)} pp`);
  assert.match(md, /Simulated estimates, not measurements/);
});

test('one model at two workloads: each column states its workload; a run the machine cannot do is named, with why', async () => {
  const spec = await loadFixture('Llama-3.1-8B');
  const prefill: Workload = { ...DEFAULT_WORKLOAD, phase: 'prefill', seq: 512, batch: 1 };
  const h100 = getPreset('gpu-h100');
  const result = compareRuns([
    { spec, hardware: h100, workload: DEFAULT_WORKLOAD },
    { spec, hardware: h100, workload: prefill },
    // dimc has no fp32 matrix rate.
    { spec, hardware: getPreset('dimc'), workload: { ...DEFAULT_WORKLOAD, dtype: 'fp32' } },
  ]);
  assert.deepEqual(result.rows.map((r) => r.workload), [workloadLine(DEFAULT_WORKLOAD), workloadLine(prefill)]);
  assert.equal(result.rows[1]!.deferredUs, profile(spec, h100, prefill).totals.deferredUs);
  assert.equal(result.skipped.length, 1);
  assert.equal(result.skipped[0]!.hardware, 'dimc');
  assert.match(result.skipped[0]!.reason, /dtype/);
  const md = formatRunsMarkdown(result);
  // Two runs were simulated: their columns and the change between them; the third is listed below.
  assert.deepEqual(row(md, 'Figure'), ['Figure', 'Run 1', 'Run 2', 'Run 2 vs 1']);
  assert.match(md, /Not compared:\n\n- Llama-3\.1-8B, decode, context 2048, .* on dimc: .*dtype/);
});

test('compareHardware is compareRuns over the machines: the same figures, model and workload in every row', async () => {
  const spec = await loadFixture('Llama-2-7b-hf');
  const machines = [getPreset('dimc'), getPreset('gpu-h100')];
  const byHardware = compareHardware(spec, machines, DEFAULT_WORKLOAD);
  assert.deepEqual(byHardware.rows, compareRuns(machines.map((hardware) => ({ spec, hardware, workload: DEFAULT_WORKLOAD }))).rows);
  assert.ok(byHardware.rows.every((r) => r.model === spec.name && r.workload === workloadLine(DEFAULT_WORKLOAD)), JSON.stringify(byHardware.rows.map((r) => [r.model, r.workload])));
});

test('names from files cannot form markup in the side-by-side table', async () => {
  const spec = { ...(await loadFixture('Llama-3.2-1B-Instruct')), name: '<img src=x onerror=alert(1)>[link](javascript:x)' };
  const md = formatRunsMarkdown(compareRuns([{ spec, hardware: getPreset('dimc'), workload: DEFAULT_WORKLOAD }]));
  assert.ok(!md.includes('<img') && !md.includes('](javascript'), md);
});

test('workload variants: each changes one field of the workload, within the limits', () => {
  const decode = { ...DEFAULT_WORKLOAD, phase: 'decode' as const, batch: 32, seq: 512, context: 2048, tp: 1 };
  assert.deepEqual(
    workloadVariants(decode).map((v) => [v.label, v.workload.phase, v.workload.batch, v.workload.seq, v.workload.context, v.workload.tp]),
    [
      ['prefill of 512 tokens', 'prefill', 32, 512, 2048, 1],
      ['batch 1', 'decode', 1, 512, 2048, 1],
      ['batch 128', 'decode', 128, 512, 2048, 1],
      ['context 8192', 'decode', 32, 512, 8192, 1],
      ['tensor parallel 2', 'decode', 32, 512, 2048, 2],
    ],
  );
  const atLimits = { ...decode, phase: 'prefill' as const, batch: 1, seq: 1 << 23, tp: 1024 };
  assert.deepEqual(workloadVariants(atLimits).map((v) => v.label), ['decode, context 2048', 'batch 4']);
});
