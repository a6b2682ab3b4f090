/**
 * Export PyTorch Patch…: writes `deferred_norm_patch.py` (the plan of this report plus the Python
 * runtime shipped in the extension) beside the model, through the save dialog, and opens it. Then,
 * in a trusted workspace, looks for a Python that has torch and says how to apply the patch.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { NAME_ONE_EXTENSION, noTorchMessage } from '../../common/python-finder';
import type { WorkloadInput } from '../../common/protocol';
import { loadCore } from '../core';
import { chosenHardware, chosenWorkload } from '../choice';
import { resolveHardware } from '../hardware';
import { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';
import { findWorkspacePython } from '../python';
import { activeModelUri } from '../targets';

export const PATCH_FILE_NAME = 'deferred_norm_patch.py';

let extensionUri: vscode.Uri;
let generator = 'deferred-norm';

export function initPytorchExport(uri: vscode.Uri, version: string | undefined): void {
  extensionUri = uri;
  if (version) generator = `deferred-norm ${version}`;
}

/** What the patch is generated for: a panel's choices, or a model file with the chosen hardware and the settings' workload. */
interface PatchSource {
  modelPath: string;
  hardware: string;
  workload: WorkloadInput;
  kernels: ReportPanel['kernels'] | null;
}

function sourceOf(panel: ReportPanel): PatchSource {
  return { modelPath: panel.modelPath, hardware: panel.hardware, workload: panel.workload, kernels: panel.kernels };
}

async function pickSource(arg: vscode.Uri | ReportPanel | undefined): Promise<PatchSource | undefined> {
  if (arg instanceof vscode.Uri) {
    // A model file from the explorer or a modeling file's quick fix: its open panel's choices if it has one.
    const open = ReportPanel.forModel(arg.fsPath);
    return open ? sourceOf(open) : { modelPath: arg.fsPath, hardware: chosenHardware(), workload: chosenWorkload(), kernels: null };
  }
  if (arg) return sourceOf(arg);
  const active = ReportPanel.active();
  if (active) return sourceOf(active);
  const picked = activeModelUri() ?? (await prompts().pickModel());
  return picked ? pickSource(picked) : undefined;
}

/** The folder the model lives in (the model path itself when it is a folder). */
async function modelFolder(modelPath: string): Promise<string> {
  const info = await stat(modelPath).catch(() => undefined);
  return info?.isDirectory() ? modelPath : dirname(modelPath);
}

/** The module's text: the core's plan for this model, hardware and workload, then the runtime from the extension's folder. */
async function render(source: PatchSource): Promise<string> {
  const core = loadCore();
  const spec = await core.loadModel(source.modelPath);
  const profileHw = await resolveHardware(source.hardware);
  const hw = source.kernels ? core.withKernelOverrides(profileHw, source.kernels) : profileHw;
  const report = core.profile(spec, hw, core.workloadFor(spec, hw, source.workload));
  const runtime = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(extensionUri, 'python', PATCH_FILE_NAME)));
  return core.pytorchModule(report, runtime, generator);
}

export async function exportPytorchPatch(arg?: vscode.Uri | ReportPanel): Promise<vscode.Uri | undefined> {
  const source = await pickSource(arg);
  if (!source) return undefined;
  // Generated before the dialog: an unsupported family is said at once, not after a file name is chosen.
  const text = await render(source);
  const folder = await modelFolder(source.modelPath);
  const target = await prompts().saveTo({ title: 'Export PyTorch patch', defaultUri: vscode.Uri.file(`${folder}/${PATCH_FILE_NAME}`), filters: { Python: ['py'] } });
  if (!target) return undefined;
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  await vscode.window.showTextDocument(target, { preview: false });
  void adviseInterpreter(target, folder);
  return target;
}

// ---- which Python applies it ----

/** Says which Python has torch to apply the patch with (a terminal on request), or that none has. Runs nothing in an untrusted workspace. */
async function adviseInterpreter(target: vscode.Uri, folder: string): Promise<void> {
  const written = `Deferred Norm: wrote ${vscode.workspace.asRelativePath(target)}.`;
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showInformationMessage(`${written} Python is not looked for in an untrusted workspace.`);
    return;
  }
  const { found, tried } = await findWorkspacePython(target);
  if (!found) {
    void vscode.window.showWarningMessage(`${written} ${noTorchMessage(tried, NAME_ONE_EXTENSION)}`);
    return;
  }
  const run = 'Apply and Verify in Terminal';
  const answer = await vscode.window.showInformationMessage(`${written} ${found.path} has torch ${found.result.torch}: it can apply the patch to the model and verify it.`, run);
  if (answer !== run) return;
  // The interpreter is the terminal's process: no shell, so no quoting of the paths on any platform.
  const terminal = vscode.window.createTerminal({ name: 'Deferred Norm patch', cwd: folder, shellPath: found.path, shellArgs: [target.fsPath, folder] });
  terminal.show();
}
