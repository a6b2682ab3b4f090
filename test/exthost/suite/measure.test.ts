/// <reference types="mocha" />
// Measure on This Machine in a real extension host (issue 18): the command runs the bundled CLI on a
// workspace model (quick mode, picked through the prompts seam), its progress reaches the log, and it
// resolves with a measurements file under .deferred-norm/measurements beside the model. Skipped, with
// the reason reported, where the host finds no Python with torch.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TestApi } from '../../../src/extension/extension';
import { EXTENSION_ID, report, workspaceRoot } from './helpers';

function hasTorch(): boolean {
  return ['/usr/bin/python3', 'python3'].some((py) => spawnSync(py, ['-c', 'import torch'], { timeout: 60_000 }).status === 0);
}

suite('Measure on This Machine', () => {
  test('measures GPT-2 in quick mode and saves the measurements beside the model', async function () {
    this.timeout(5 * 60_000);
    if (!hasTorch()) {
      report('      skipped: no Python with torch in this host');
      this.skip();
    }
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
    } finally {
      api.setPrompts(null);
    }
  });
});
