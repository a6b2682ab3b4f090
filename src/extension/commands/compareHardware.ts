import * as vscode from 'vscode';
import { documentUri } from '../documents';
import { prompts } from '../prompts';
import { ReportPanel } from '../panel/reportPanel';
import { chosenWorkload } from '../choice';
import { activeModelUri } from '../targets';

/**
 * Compare Hardware Profiles: one model on every preset and workspace profile, side by side,
 * as a read-only Markdown document shown in VS Code's preview.
 */
export async function compareHardware(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const panel = uri ? undefined : ReportPanel.active();
  const modelPath = uri?.fsPath ?? panel?.modelPath ?? activeModelUri()?.fsPath ?? (await prompts().pickModel())?.fsPath;
  if (!modelPath) return undefined;
  const doc = documentUri({ kind: 'comparison', modelPath, workload: chosenWorkload() });
  const cancelled = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Deferred Norm: comparing hardware profiles…', cancellable: true }, async (_progress, token) => {
    await vscode.workspace.openTextDocument(doc);
    return token.isCancellationRequested;
  });
  if (cancelled) return undefined;
  await vscode.commands.executeCommand('markdown.showPreview', doc);
  return doc;
}
