/// <reference types="mocha" />
// Measure on This Machine in a real extension host (issue 18): the command runs the bundled CLI on a
// workspace model (quick mode, picked through the prompts seam), its progress reaches the log, and it
// resolves with a measurements file under .deferred-norm/measurements beside the model, run by the
// interpreter the deferredNorm.python setting names (the extension chooses it and passes it with
// --python); the model's report then shows that measurement beside its simulated blocks. Skipped, with the reason reported, where the host finds no Python with torch.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TestApi } from '../../../src/extension/extension';
import type { ReportPanel } from '../../../src/extension/panel/reportPanel';
import { EXTENSION_ID, report, workspaceRoot } from './helpers';

function torchPython(): string | undefined {
  return ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { timeout: 60_000 }).status === 0);
}

suite('Measure on This Machine', () => {
  test('measures GPT-2 in quick mode with the deferredNorm.python interpreter and saves the measurements beside the model', async function () {
    this.timeout(5 * 60_000);
    const python = torchPython();
    if (!python) {
      report('      skipped: no Python with torch in this host');
      this.skip();
    }
    // An interpreter that notes each run, then is the Python with torch: the setting's choice, seen working.
    const dir = mkdtempSync(path.join(tmpdir(), 'dn-measure-python-'));
    const calls = path.join(dir, 'calls.txt');
    const wrapper = path.join(dir, 'python-wrapper');
    writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${calls}'\nexec ${python} "$@"\n`, { mode: 0o755 });
    const config = vscode.workspace.getConfiguration('deferredNorm');
    await config.update('python', wrapper, vscode.ConfigurationTarget.Workspace);
    const api = await vscode.extensions.getExtension<TestApi>(EXTENSION_ID)!.activate();
    api.setPrompts({ pickOne: async <T extends vscode.QuickPickItem>(items: readonly T[]) => items.find((i) => i.label === 'Quick') });
    try {
      const model = vscode.Uri.joinPath(workspaceRoot(), 'GPT-2', 'config.json');
      const file = await vscode.commands.executeCommand<string | undefined>('deferredNorm.measure', model);
      assert.ok(file, 'the command resolves with the measurements file');
      assert.equal(path.dirname(file), path.join(workspaceRoot().fsPath, 'GPT-2', '.deferred-norm', 'measurements'));
      const data = JSON.parse(readFileSync(file, 'utf8')) as { schema: string; quick: boolean; entries: { kind: string; norm?: string }[] };
      assert.equal(data.schema, 'deferred-norm-measurements/1');
      assert.equal(data.quick, true);
      // GPT-2's norms are LayerNorms, timed as F.layer_norm and as the eager chain.
      assert.ok(data.entries.some((e) => e.kind === 'norm' && e.norm === 'layernorm'));
      assert.ok(data.entries.some((e) => e.kind === 'gemm'));
      // The harness beside the JSON ran under the wrapper: the CLI was told --python.
      const ran = readFileSync(calls, 'utf8').split('\n');
      assert.ok(ran.some((line) => line.startsWith(`${file.replace(/\.json$/, '.py')} --out ${file}`)), ran.join('\n'));
      // The report of that model reads the measurement beside it and shows it beside the simulated blocks
      // (GPT-2's norms are LayerNorms: no RMSNorm block was timed, which the view says).
      api.setPrompts({ pickModel: async () => model });
      const panel = await vscode.commands.executeCommand<ReportPanel>('deferredNorm.profileModel');
      const measured = panel.currentView()?.measured ?? (await panel.refresh())?.measured;
      assert.ok(measured && !('error' in measured), JSON.stringify(measured));
      assert.equal(measured.file, path.basename(file));
      assert.equal(measured.device, (JSON.parse(readFileSync(file, 'utf8')) as { provenance: { deviceName: string } }).provenance.deviceName);
      assert.deepEqual(measured.blocks, []);
      assert.ok(measured.notes.some((n) => /no norm → projection blocks/.test(n)), measured.notes.join(' | '));
    } finally {
      api.setPrompts(null);
      await config.update('python', undefined, vscode.ConfigurationTarget.Workspace);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
