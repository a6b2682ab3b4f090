import * as vscode from 'vscode';
import type { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';
import { activeModelUri, openReport } from '../targets';

/** Profile Model…: the file the command was run on, the active model file, or one the user picks. */
export async function profileModel(uri?: vscode.Uri): Promise<ReportPanel | undefined> {
  const target = uri ?? activeModelUri() ?? (await prompts().pickModel());
  return target ? openReport(target.fsPath) : undefined;
}
