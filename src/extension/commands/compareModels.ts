import * as vscode from 'vscode';
import { loadCore } from '../core';
import { documentUri } from '../documents';
import { chosenHardware, chosenWorkload } from '../choice';
import { prompts } from '../prompts';
import { ReportPanel } from '../panel/reportPanel';
import { activeModelUri } from '../targets';
import type { WorkloadInput } from '../../common/protocol';

type Choice = vscode.QuickPickItem & ({ compareWith: 'model' } | { compareWith: 'workload'; workload: WorkloadInput });

/**
 * Compare Models…: the panel's model (or the chosen one) at its workload beside a second config, or the
 * same model at another workload, on the same hardware; shown as Compare Hardware's is, a Markdown preview.
 */
export async function compareModels(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const panel = uri ? ReportPanel.forModel(uri.fsPath) : ReportPanel.active();
  const modelPath = uri?.fsPath ?? panel?.modelPath ?? activeModelUri()?.fsPath ?? (await prompts().pickModel())?.fsPath;
  if (!modelPath) return undefined;
  const workload = panel?.workload ?? chosenWorkload();
  const hardware = panel?.hardware ?? chosenHardware();
  const choices: Choice[] = [
    { compareWith: 'model', label: '$(file) Another model…', description: 'a config.json, model folder, .gguf or .safetensors, at the same workload' },
    ...loadCore()
      .workloadVariants(workload)
      .map((v): Choice => ({ compareWith: 'workload', label: `$(symbol-numeric) Same model, ${v.label}`, workload: v.workload })),
  ];
  const picked = await prompts().pickOne(choices, { title: 'Compare with', placeHolder: 'another model, or this one at another workload' });
  if (!picked) return undefined;
  const other = picked.compareWith === 'model' ? { modelPath: (await prompts().pickModel())?.fsPath, workload } : { modelPath, workload: picked.workload };
  if (!other.modelPath) return undefined;
  const kernels = panel && (panel.kernels.attention !== null || panel.kernels.norm !== null) ? { kernels: panel.kernels } : {};
  const doc = documentUri({ kind: 'models', modelPath, workload, hardware, ...kernels, other: { modelPath: other.modelPath, workload: other.workload } });
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Deferred Norm: comparing…' }, () => vscode.workspace.openTextDocument(doc));
  await vscode.commands.executeCommand('markdown.showPreview', doc);
  return doc;
}
