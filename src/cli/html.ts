/**
 * `profile --format html`: the panel's view of a report as one stand-alone file,
 * with the webview bundle (dist/webview/, built beside dist/cli.js) inlined.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors';
import { listPresets } from '../core/hardware/presets';
import type { HardwareProfile } from '../core/hardware/profile';
import type { ModelSpec } from '../core/model/spec';
import { numericsFor } from '../core/report/numerics';
import type { Workload } from '../core/workload';
import { buildPanelView, buildSweepView, inputOf } from '../common/panel-view';
import type { HardwareChoice } from '../common/protocol';
import { standaloneHtml, type StandaloneAssets } from '../common/report-html';
import { shortened } from '../core/text';

/** The built webview next to the CLI bundle (dist/cli.js → dist/webview/). */
export function webviewAssets(distDir: string = __dirname): StandaloneAssets {
  const dir = join(distDir, 'webview');
  const script = join(dir, 'report.js');
  const style = join(dir, 'report.css');
  for (const file of [script, style]) {
    if (!existsSync(file)) throw new InputError(file, '', 'the built report webview for --format html (run `npm run build`)', 'no such file');
  }
  return { script: readFileSync(script, 'utf8'), style: readFileSync(style, 'utf8') };
}

/** The stand-alone report: the panel's view, read-only, with the numerics check and a sweep along the pass's length. */
export function htmlReport(spec: ModelSpec, hw: HardwareProfile, hardwareId: string, workload: Workload, seed: number, assets: StandaloneAssets = webviewAssets()): string {
  const presets: HardwareChoice[] = listPresets().map((p) => ({ id: p.name, label: p.name, description: p.title, source: 'preset' }));
  const choices = presets.some((c) => c.id === hardwareId) ? presets : [...presets, { id: hardwareId, label: shortened(hw.name), description: shortened(hw.title), source: 'workspace' as const }];
  const input = inputOf(workload);
  const axis = workload.phase === 'prefill' ? 'seq' : 'context';
  const view = buildPanelView(spec, hw, input, {
    hardware: hardwareId,
    hardwareChoices: choices,
    interactive: false,
    numerics: numericsFor(spec, seed),
    sweep: buildSweepView(spec, hw, hardwareId, input, axis),
  });
  return standaloneHtml(view, assets);
}
