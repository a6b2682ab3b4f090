/**
 * Measured beside simulated in the panel (issue 18, round 2): the newest measurements file beside the
 * model is read through the file edge, a bad one becomes one line naming the file and the field, and
 * the panel's view puts each measured block beside the simulated one, with the measurement's
 * provenance and notes on a different M or an uncalibrated profile. Expected times are the file's own
 * numbers and a hand-written sum of the GEMMs the synthetic machine was given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLatestMeasurements } from '../../src/common/measured-file';
import { buildPanelView, inputOf } from '../../src/common/panel-view';
import { DEFAULT_WORKLOAD } from '../../src/core/workload';
import { getPreset } from '../../src/core/hardware/presets';
import { calibrate } from '../../src/core/measure/fit';
import { validateMeasurements, type Entry, type Measurements } from '../../src/core/measure/types';
import { loadModel } from '../../src/core/model/load';
import { fixturePath } from './helpers/fixtures';

/** GEMMs at a rate by output width (TFLOP/s), 4 µs to start; blocks 10% slower than their GEMMs (as measured on a loaded CPU). */
const RATE: Record<number, number> = { 192: 0.08, 576: 0.04, 1536: 0.01 };
const gemmUs = (m: number, k: number, n: number) => (4000 + (2 * m * k * n) / (RATE[n]! * 1e3)) / 1000;
const t = (us: number) => ({ medianUs: us * 1.2, p10Us: us, p90Us: us * 1.5, samples: 9, inner: 1, timing: 'perf_counter' as const });
const QKV = gemmUs(32, 576, 576) + 2 * gemmUs(32, 576, 192);
const GATE_UP = 2 * gemmUs(32, 576, 1536);

/** The file as the harness writes it (the reader adds defaults that are not written back). */
function rawMeasurements(modelPath: string, deviceName: string) {
  const block = (site: string, consumers: string[], us: number, variant: 'standard' | 'deferred'): Entry => ({ kind: 'block', site, layerKind: 'decoder', norm: site === 'attn-norm' ? 'input_layernorm' : 'post_attention_layernorm', rows: 32, width: 576, consumers, variant, ...t(us) });
  return {
      schema: 'deferred-norm-measurements/1',
      provenance: { device: 'cpu', deviceName, torch: '1.13.0', python: '3.11', dtype: 'fp32', threads: 1, date: '2026-12-06T21:03:39Z' },
      model: { name: 'SmolLM2-135M', path: modelPath },
      workload: { phase: 'decode', batch: 32, seq: 2048, context: 2048, tp: 1, m: 32 },
      quick: true,
      entries: [
        { kind: 'launch', name: 'matrix', engine: 'matrix', ...t(4) },
        ...[31, 32, 33].flatMap((m) => [[576, 576], [576, 192], [576, 1536], [1536, 576]].map(([k, n]): Entry => ({ kind: 'gemm', name: 'g', m, k: k!, n: n!, ...t(gemmUs(m, k!, n!)) }))),
        block('attn-norm', ['q_proj', 'k_proj', 'v_proj'], 1.1 * QKV, 'standard'),
        block('attn-norm', ['q_proj', 'k_proj', 'v_proj'], 1.1 * QKV, 'deferred'),
        block('mlp-norm', ['gate_proj', 'up_proj'], 1.1 * GATE_UP, 'standard'),
        block('mlp-norm', ['gate_proj', 'up_proj'], 1.1 * GATE_UP, 'deferred'),
      ],
      skipped: [],
    };
}

test('the panel shows the newest measurement beside the model, its blocks beside the simulated ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dn-measured-'));
  try {
    const model = join(dir, 'SmolLM2-135M');
    cpSync(join(fixturePath('SmolLM2-135M'), '..'), model, { recursive: true });
    assert.equal(await readLatestMeasurements(model), null, 'no folder: nothing');
    const folder = join(model, '.deferred-norm', 'measurements');
    mkdirSync(folder, { recursive: true });
    const raw = rawMeasurements(model, 'Test <b>CPU</b>');
    const m: Measurements = validateMeasurements(raw, 'm.json');
    // An older broken file and the newer good one (by the name's time stamp, not the name's order).
    writeFileSync(join(folder, 'zz-SmolLM2-135M-cpu-2026-12-05T10-00-00Z.json'), '{"schema": "other"}');
    writeFileSync(join(folder, 'SmolLM2-135M-cpu-2026-12-06T21-03-39Z.json'), JSON.stringify(raw));
    const latest = await readLatestMeasurements(model);
    assert.ok(latest && 'measurements' in latest, JSON.stringify(latest));
    assert.equal(latest.file, join(folder, 'SmolLM2-135M-cpu-2026-12-06T21-03-39Z.json'));

    const spec = await loadModel(model);
    const calibrated = calibrate([{ file: 'm.json', measurements: m, spec }], getPreset('cpu'), 'mine', 'cpu', 'p10').profile;
    const input = inputOf({ ...DEFAULT_WORKLOAD, phase: 'decode', batch: 32, seq: 2048, context: 2048 });
    const options = { hardware: 'mine', hardwareChoices: [], interactive: false, numerics: null, sweep: null, measurements: latest };
    const view = buildPanelView(spec, calibrated, input, options).measured;
    assert.ok(view && !('error' in view));
    // Provenance as the file says it, markup and all as text (the webview sets textContent only).
    assert.equal(view.device, 'Test <b>CPU</b>');
    assert.equal(view.file, 'SmolLM2-135M-cpu-2026-12-06T21-03-39Z.json');
    assert.equal(view.statistic, 'p10');
    assert.deepEqual(view.blocks.map((b) => b.site), ['attn-norm', 'mlp-norm']);
    const [attn, mlp] = view.blocks;
    // Measured: the file's 10th percentiles.
    assert.ok(Math.abs(attn!.measuredStandardUs - 1.1 * QKV) < 1e-6);
    assert.ok(Math.abs(mlp!.measuredDeferredUs - 1.1 * GATE_UP) < 1e-6);
    // Simulated on the calibrated profile: the GEMMs at the rates the machine was given, plus the norm's few µs.
    for (const [b, gemms] of [[attn!, QKV], [mlp!, GATE_UP]] as const) {
      for (const sim of [b.simulatedStandardUs, b.simulatedDeferredUs]) assert.ok(sim >= gemms * 0.99 && sim <= gemms * 1.05, `${b.site}: simulated ${sim} µs against GEMMs of ${gemms} µs`);
    }
    assert.deepEqual(view.notes, [], 'same M, a profile calibrated on this device');

    // Another M and a profile not calibrated here: both said.
    const other = buildPanelView(spec, getPreset('cpu'), { ...input, batch: 8 }, { ...options, hardware: 'cpu' }).measured;
    assert.ok(other && !('error' in other));
    assert.match(other.notes[0]!, /^Measured at M = 32 \(decode, batch 32\); the report above is at M = 8/);
    assert.match(other.notes[1]!, /The "cpu" profile was not calibrated on Test <b>CPU<\/b>/);
    // The report on the calibrated profile at M = 8 says its matrix efficiency is extrapolated.
    const report = buildPanelView(spec, calibrated, { ...input, batch: 8 }, options).report;
    assert.ok(report.model.notes.some((n) => n.includes('M = 8 is outside the measured shapes (M 31–33)')));

    // The newest file broken: one line naming it and the field, no exception.
    writeFileSync(join(folder, 'SmolLM2-135M-cpu-2026-12-07T00-00-00Z.json'), JSON.stringify({ ...raw, entries: [] }));
    const bad = await readLatestMeasurements(model);
    assert.ok(bad && 'error' in bad);
    const shown = buildPanelView(spec, calibrated, input, { ...options, measurements: bad }).measured;
    assert.ok(shown && 'error' in shown);
    assert.equal(shown.file, 'SmolLM2-135M-cpu-2026-12-07T00-00-00Z.json');
    assert.match(shown.error, /SmolLM2-135M-cpu-2026-12-07T00-00-00Z\.json: entries: expected at least one measurement/);

    // A file that reads but does not fit the model (blocks of a layer kind it has not): one line, no exception.
    const otherKind = { ...m, entries: m.entries.map((e) => (e.kind === 'block' ? { ...e, layerKind: 'moe' } : e)) };
    const misfit = buildPanelView(spec, calibrated, input, { ...options, measurements: { file: join(folder, 'x.json'), measurements: otherKind } }).measured;
    assert.deepEqual(misfit, { file: 'x.json', error: `x.json: entries: expected blocks of the layer kinds of ${spec.name} (decoder), found "moe"` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
