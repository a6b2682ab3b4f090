import * as vscode from 'vscode';
import { loadCore } from '../core';
import { setChoice } from '../choice';
import { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';

/**
 * New Hardware Profile: a preset written as an editable *.hardware.json (the schema is
 * registered for that name), opened, and chosen, so that saving it re-profiles the panels.
 */
export async function newHardwareProfile(): Promise<vscode.Uri | undefined> {
  const core = loadCore();
  const presets = core.listPresets().map((p) => ({ label: p.name, description: p.title, detail: p.description, name: p.name }));
  const picked = await prompts().pickOne(presets, { title: 'Start the new hardware profile from…' });
  if (!picked) return undefined;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await prompts().saveTo({ title: 'New hardware profile', defaultUri: folder ? vscode.Uri.joinPath(folder, `my-${picked.name}.hardware.json`) : undefined, filters: { 'Hardware profile': ['json'] } });
  if (!target) return undefined;
  if (!target.path.endsWith('.hardware.json')) {
    void vscode.window.showWarningMessage('Deferred Norm: the file name should end in .hardware.json for VS Code to check it against the schema.');
  }
  // The presets' $schema points inside the extension; a saved copy is checked by its file name.
  const { $schema: _schema, ...portable } = core.getPreset(picked.name);
  const profile = { ...portable, name: `my-${picked.name}`, title: `${portable.title} (edited copy)` };
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(JSON.stringify(profile, null, 2) + '\n'));
  const choice = await setChoice({ hardware: target.toString() });
  // Beside an open report, so that the panel stays in view and re-profiles as the file is saved.
  await vscode.window.showTextDocument(target, { viewColumn: ReportPanel.all().length > 0 ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active });
  await ReportPanel.followChoice(choice);
  return target;
}
