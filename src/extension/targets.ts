import * as vscode from 'vscode';
import { chosenHardware } from './hardware';
import { log } from './log';
import { isModelFileName } from './model-files';
import { ReportPanel } from './panel/reportPanel';
import { prompts } from './prompts';
import { workloadFromSettings } from './settings';
import type { WorkloadInput } from '../common/protocol';

/** The model file in the active editor or tab, if it is one. */
export function activeModelUri(): vscode.Uri | undefined {
  const candidates: (vscode.Uri | undefined)[] = [vscode.window.activeTextEditor?.document.uri];
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) candidates.push(input.uri);
  return candidates.find((uri) => uri && uri.scheme === 'file' && isModelFileName(uri.fsPath));
}

/** The workload of the deferredNorm.* settings; unusable values are logged and replaced by defaults. */
export function settingsWorkload(): WorkloadInput {
  const config = vscode.workspace.getConfiguration('deferredNorm');
  const { workload, ignored } = workloadFromSettings((key) => config.get(key));
  for (const line of ignored) log().warn(`Setting ignored: ${line}`);
  return workload;
}

/** Opens the report of a model with the chosen hardware and the settings' workload. */
export function openReport(modelPath: string): Promise<ReportPanel> {
  return ReportPanel.show(modelPath, chosenHardware(), settingsWorkload());
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
