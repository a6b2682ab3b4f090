// Shared by the extension-host tests (bundled into each compiled test file).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { outputPrefix } from './marker';

export { heartbeat } from '../../unit/helpers/heartbeat';

export const EXTENSION_ID = 'deferred-norm.deferred-norm-profiler';

/** The opened folder: a temporary copy of model fixtures that tests may write in. */
export function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the runner opens a workspace folder');
  return folder.uri;
}

/** A line for the runner's stdout, among the reporter's (unmarked console output is dropped). */
export function report(text: string): void {
  console.log(outputPrefix() + text);
}

/** Polls `probe` until it gives a value (undefined: not yet). */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
