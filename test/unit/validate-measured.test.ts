/**
 * `validate --measurements` (issue 18): a measurements file's standard and deferred blocks become the
 * user's own points, in a section of their own with their own mean |ratio − 1|, never in the published
 * held-back figure. The simulated block times are derived by hand from the cpu preset's stated numbers;
 * a bad file is one line naming the file and the field, exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPreset } from '../../src/core/hardware/presets';
import { validateMeasurements } from '../../src/core/measure/types';
import { formatMeasuredSources, measuredSource } from '../../src/core/validate/measured';
import { fixturePath, loadFixture } from './helpers/fixtures';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

/** Measured 10th percentiles of the hand-written file (µs). */
const MEASURED = { standard: 150, deferred: 100 };

/** The file as the harness writes it: SmolLM2-135M's attn-norm block, decode at batch 32, fp32 on a CPU. */
function rawFile(modelPath: string) {
  const block = (variant: 'standard' | 'deferred', p10Us: number) => ({
    kind: 'block', site: 'attn-norm', layerKind: 'decoder', norm: 'input_layernorm', rows: 32, width: 576, consumers: ['q_proj', 'k_proj', 'v_proj'], variant,
    medianUs: 1.2 * p10Us, p10Us, p90Us: 1.5 * p10Us, samples: 9, inner: 1, timing: 'perf_counter',
  });
  return {
    schema: 'deferred-norm-measurements/1',
    provenance: { device: 'cpu', deviceName: 'Test CPU', torch: '1.13.0', python: '3.11', dtype: 'fp32', threads: 1, date: '2026-12-06T21:03:39Z' },
    model: { name: 'SmolLM2-135M', path: modelPath },
    workload: { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, m: 32 },
    quick: true,
    entries: [block('standard', MEASURED.standard), block('deferred', MEASURED.deferred)],
    skipped: [],
  };
}

/**
 * The block on the cpu preset under the harness's stack, by hand (ns). Its stated numbers: 3,000 ns to
 * start an elementwise kernel at 384 G elements/s, 5,000 ns a GEMM at 0.768 × 0.5 = 0.384 TFLOP/s,
 * 76.8 × 0.7 = 53.76 GB/s of DRAM, a statistic gathered over its 8 cores as a tree (2 · log2 8 = 6 hops of
 * 50 ns) at 100 GB/s. M = 32 rows of 576, fp32 (4 B).
 */
function handDerivedNs() {
  const GBPS = 76.8 * 0.7;
  const vec = (elements: number, bytes: number) => 3000 + Math.max(elements / 384, bytes / GBPS);
  const x = 32 * 576;
  // Hugging Face's eager RMSNorm: x², mean, gather, + ε, rsqrt (4 ops each), x·r, γ·; every kernel bound by its bytes.
  const gather = 6 * 50 + (32 * 4) / 100;
  const chain = vec(x, 2 * x * 4) + vec(x, x * 4 + 32 * 4) + gather + vec(32, 2 * 32 * 4) + (3000 + Math.max((32 * 4) / 384, (2 * 32 * 4) / GBPS)) + vec(x, 2 * x * 4 + 32 * 4) + vec(x, 2 * x * 4 + 576 * 4);
  // q (576 → 576), k and v (576 → 192), one after the other, compute-bound (q's weights take 24.7 µs to read, its FLOPs 55.3 µs).
  const gemms = 3 * 5000 + (2 * 32 * 576 * (576 + 192 + 192)) / 384;
  // Deferred: the statistic runs on the vector engine beside the GEMMs, and each output tile is scaled
  // as it is done; what is left after the last GEMM tile is the scale of v_proj's last quarter
  // (8 rows × 192: read and written, plus its 8 rows' factors), which pays no start of its own.
  const lastScale = (2 * 8 * 192 * 4 + 8 * 4) / GBPS;
  return { standard: chain + gemms, deferred: gemms + lastScale };
}

test('a measurements file adds its blocks as the user\'s points: measured, simulated by hand, ratio, mean', async () => {
  const spec = await loadFixture('SmolLM2-135M');
  const measurements = validateMeasurements(rawFile(spec.source.path), 'mine.json');
  const source = measuredSource({ file: 'mine.json', measurements, spec }, getPreset('cpu'));
  const sim = handDerivedNs();
  assert.deepEqual(source.rows.map((r) => [r.site, r.variant, r.rows]), [['attn-norm', 'standard', 32], ['attn-norm', 'deferred', 32]]);
  const [std, def] = source.rows;
  assert.equal(std!.measuredMs, MEASURED.standard / 1000);
  assert.equal(def!.measuredMs, MEASURED.deferred / 1000);
  const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual / expected - 1) < 1e-9, `${what}: ${actual} against ${expected}`);
  near(std!.simulatedMs, sim.standard / 1e6, 'standard simulated');
  near(def!.simulatedMs, sim.deferred / 1e6, 'deferred simulated');
  const ratios = [sim.standard / 1000 / MEASURED.standard, sim.deferred / 1000 / MEASURED.deferred];
  near(std!.ratio, ratios[0]!, 'standard ratio');
  near(def!.ratio, ratios[1]!, 'deferred ratio');
  const mean = (Math.abs(ratios[0]! - 1) + Math.abs(ratios[1]! - 1)) / 2;
  near(source.summary.meanAbsError, mean, 'mean |ratio − 1|');
  assert.equal(source.summary.n, 2);

  // Provenance and its own section; the cpu preset was not calibrated on this device, and says so.
  assert.equal(source.title, 'your measurements: mine.json on Test CPU, 2026-12-06T21:03:39Z');
  assert.equal(source.hardware, 'cpu');
  assert.equal(source.calibratedHere, false);
  const text = formatMeasuredSources([source]);
  assert.match(text, /^\nYour measurements: mine\.json on Test CPU, 2026-12-06T21:03:39Z \(torch 1\.13\.0, fp32, 1 thread; the p10 of each entry\)/);
  assert.ok(text.includes(`Your measurements (mine.json): mean |ratio−1| ${(100 * mean).toFixed(1)}% over 2 blocks`), text);
  assert.match(text, /The "cpu" profile was not calibrated on Test CPU/);
  assert.equal(formatMeasuredSources([]), '');

  // A file without blocks (GPT-2's LayerNorms: the harness times RMSNorm blocks only) says so, with no mean of nothing.
  const empty = measuredSource({ file: 'none.json', measurements: { ...measurements, entries: [] }, spec }, getPreset('cpu'));
  const emptyText = formatMeasuredSources([empty]);
  assert.ok(emptyText.includes('The file has no standard and deferred norm → projection blocks to compare.'), emptyText);
  assert.ok(!emptyText.includes('mean |ratio−1|'), emptyText);
});

test('validate --measurements: its own section and mean line, the published held-back figure unchanged; a bad file is exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-validate-'));
  try {
    const file = join(dir, 'mine.json');
    writeFileSync(file, JSON.stringify(rawFile(fixturePath('SmolLM2-135M'))));
    const plain = spawnSync(process.execPath, [CLI, 'validate', '--format', 'json'], { encoding: 'utf8' });
    assert.equal(plain.status, 0, plain.stderr);
    const withMine = spawnSync(process.execPath, [CLI, 'validate', '--measurements', file, '--format', 'json'], { encoding: 'utf8' });
    assert.equal(withMine.status, 0, withMine.stderr);
    const a = JSON.parse(plain.stdout) as { heldBack: unknown; rows: unknown[]; measured: unknown[] };
    const b = JSON.parse(withMine.stdout) as { heldBack: unknown; rows: unknown[]; measured: { file: string; rows: { ratio: number }[]; summary: { n: number } }[] };
    assert.deepEqual(b.heldBack, a.heldBack, 'the published held-back figure is the same with and without the user\'s file');
    assert.equal(b.rows.length, a.rows.length);
    assert.deepEqual(a.measured, []);
    assert.equal(b.measured.length, 1);
    assert.equal(b.measured[0]!.file, file);
    assert.equal(b.measured[0]!.summary.n, 2);
    const sim = handDerivedNs();
    assert.ok(Math.abs(b.measured[0]!.rows[0]!.ratio - sim.standard / 1000 / MEASURED.standard) < 1e-9);

    const table = spawnSync(process.execPath, [CLI, 'validate', '--measurements', file], { encoding: 'utf8' });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^Held-back error: mean \|ratio−1\|/, 'the published headline stays first');
    assert.match(table.stdout, /\nYour measurements \(.*mine\.json\): mean \|ratio−1\| \d+\.\d% over 2 blocks/);

    // A file that is not a measurements file: one line naming it and the field, exit 2.
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...rawFile(fixturePath('SmolLM2-135M')), entries: [{ kind: 'block' }] }));
    const r = spawnSync(process.execPath, [CLI, 'validate', '--measurements', bad], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(`${bad}: entries[0].medianUs: expected a time in µs`), r.stderr);
    // A file naming a model that is not there: the file and model.path.
    const gone = join(dir, 'gone.json');
    writeFileSync(gone, JSON.stringify(rawFile(join(dir, 'no-such-model'))));
    const g = spawnSync(process.execPath, [CLI, 'validate', '--measurements', gone], { encoding: 'utf8' });
    assert.equal(g.status, 2);
    assert.ok(g.stderr.includes(`${gone}: model.path: expected the model the measurements were taken for`), g.stderr);
    // Arguments after "validate" without --measurements are a mistake, said as one.
    const stray = spawnSync(process.execPath, [CLI, 'validate', file], { encoding: 'utf8' });
    assert.equal(stray.status, 2);
    assert.match(stray.stderr, /nothing after "validate" but its options/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
