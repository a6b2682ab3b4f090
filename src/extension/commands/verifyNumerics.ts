import * as vscode from 'vscode';
import type { NumericsResult } from '../../core/numerics/types';
import { targetPanel } from '../targets';

/** Verify Numerics: runs the numerics check of the model and shows it in the panel. */
export async function verifyNumerics(uri?: vscode.Uri): Promise<NumericsResult | null> {
  const panel = await targetPanel(uri);
  if (!panel) return null;
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Deferred Norm: checking the numerics…' }, () => panel.runNumerics());
  panel.reveal('numerics');
  if (result) {
    const worse = result.entries.filter((e) => !e.withinBaseline);
    if (worse.length === 0) void vscode.window.showInformationMessage(`Deferred Norm: every deferred form is within ${result.tolerance}× of its baseline's error (${result.entries.length} checks).`);
    else void vscode.window.showWarningMessage(`Deferred Norm: ${worse.length} deferred form(s) exceed ${result.tolerance}× their baseline's error: ${worse.map((e) => `${e.site} ${e.dtype}`).join(', ')}.`);
  }
  return result;
}
