import * as vscode from 'vscode';
import { currentChoice } from './choice';
import { askHardwareOnFirstUse } from './commands/selectHardware';
import { isModelFileName } from './model-files';
import { ReportPanel } from './panel/reportPanel';
import { prompts } from './prompts';

/** The model file in the active editor or tab, if it is one. */
export function activeModelUri(): vscode.Uri | undefined {
  const candidates: (vscode.Uri | undefined)[] = [vscode.window.activeTextEditor?.document.uri];
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) candidates.push(input.uri);
  return candidates.find((uri) => uri && uri.scheme === 'file' && isModelFileName(uri.fsPath));
}

/** Opens the report of a model with the current choice of hardware and workload. */
export function openReport(modelPath: string): Promise<ReportPanel> {
  askHardwareOnFirstUse();
  const { hardware, workload } = currentChoice();
  return ReportPanel.show(modelPath, hardware, workload);
}

/**
 * The report a command acts on: the given file, else the panel in view, else the
 * active model file, else one the user picks. Undefined when the user cancels.
 */
export async function targetPanel(uri?: vscode.Uri): Promise<ReportPanel | undefined> {
  if (uri) return ReportPanel.forModel(uri.fsPath) ?? openReport(uri.fsPath);
  const open = ReportPanel.active();
  if (open) return open;
  const picked = activeModelUri() ?? (await prompts().pickModel());
  return picked ? openReport(picked.fsPath) : undefined;
}
