import * as vscode from 'vscode';
import type { ReportPanel } from '../panel/reportPanel';
import { activeModelUri, openReport } from '../targets';

/** Profile Active File: like Profile Model…, without asking. */
export async function profileActiveFile(uri?: vscode.Uri): Promise<ReportPanel | undefined> {
  const target = uri ?? activeModelUri();
  if (!target) {
    void vscode.window.showWarningMessage('Deferred Norm: the active editor is not a model file (config.json, .gguf or .safetensors). Use "Profile Model…" to pick one.');
    return undefined;
  }
  return openReport(target.fsPath);
}
