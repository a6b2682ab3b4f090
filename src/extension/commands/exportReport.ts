import * as vscode from 'vscode';
import { loadCore } from '../core';
import { resolveHardware } from '../hardware';
import type { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';
import { targetPanel } from '../targets';

type ExportFormat = 'html' | 'json' | 'csv' | 'md' | 'trace';

const FORMATS: { format: ExportFormat; label: string; description: string; extension: string; filter: string }[] = [
  { format: 'html', label: 'Stand-alone HTML', description: 'the panel as one self-contained file, to mail or attach to a pull request', extension: 'html', filter: 'HTML' },
  { format: 'json', label: 'JSON report', description: 'every figure, the numerics check and the rewritten code', extension: 'json', filter: 'JSON' },
  { format: 'md', label: 'Markdown', description: 'tables, numerics, rewritten code, assumptions and provenance', extension: 'md', filter: 'Markdown' },
  { format: 'csv', label: 'CSV', description: 'one row per layer', extension: 'csv', filter: 'CSV' },
  { format: 'trace', label: 'Chrome trace', description: 'engine timelines for Perfetto or chrome://tracing', extension: 'trace.json', filter: 'Trace' },
];

let extensionUri: vscode.Uri;

export function initExport(uri: vscode.Uri): void {
  extensionUri = uri;
}

/** Export Report: the panel's report, with the numerics and the code, in a format the user picks, through a save dialog. */
export async function exportReport(arg?: vscode.Uri | ReportPanel): Promise<vscode.Uri | undefined> {
  const panel = arg instanceof vscode.Uri || arg === undefined ? await targetPanel(arg) : arg;
  if (!panel) return undefined;
  const picked = await prompts().pickOne(FORMATS, { title: 'Export the report as…' });
  if (!picked) return undefined;
  const folder = exportFolder(panel.modelPath);
  const spec = await panel.modelSpec();
  const base = `${spec.name.replace(/[^\w.-]+/g, '_')}-${panel.hardware.replace(/[^\w.-]+/g, '_').slice(-40)}.${picked.extension}`;
  const target = await prompts().saveTo({ title: 'Export report', defaultUri: folder ? vscode.Uri.joinPath(folder, base) : undefined, filters: { [picked.filter]: [picked.extension.split('.').pop()!] } });
  if (!target) return undefined;
  const text = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Deferred Norm: exporting ${picked.label}…`, cancellable: true }, async (_progress, token) => {
    const rendered = await render(panel, picked.format);
    return token.isCancellationRequested ? undefined : rendered;
  });
  // Cancelled: nothing is written.
  if (text === undefined) return undefined;
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
  // Not awaited: the command is done when the file is written; the buttons act whenever they are pressed.
  void prompts()
    .notify(`Deferred Norm: exported ${vscode.workspace.asRelativePath(target)}`, [OPEN, REVEAL])
    .then((action) => openExported(target, picked.format, action));
  return target;
}

const OPEN = 'Open';
const REVEAL = 'Reveal';

/** Where the save dialog starts: the model's own folder when it is in the workspace, else the workspace's first folder. */
function exportFolder(modelPath: string): vscode.Uri | undefined {
  const model = vscode.Uri.file(modelPath);
  const inWorkspace = vscode.workspace.getWorkspaceFolder(model);
  if (inWorkspace) return modelPath.endsWith('.json') || modelPath.endsWith('.gguf') || modelPath.endsWith('.safetensors') ? vscode.Uri.joinPath(model, '..') : model;
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

/** Open: the HTML in the browser, any other format in an editor. Reveal: in the Explorer (the OS file manager outside the workspace). */
async function openExported(target: vscode.Uri, format: ExportFormat, action: string | undefined): Promise<void> {
  if (action === OPEN) {
    if (format === 'html') await vscode.env.openExternal(target);
    else await vscode.window.showTextDocument(target, { preview: false });
  } else if (action === REVEAL) {
    await vscode.commands.executeCommand(vscode.workspace.getWorkspaceFolder(target) ? 'revealInExplorer' : 'revealFileInOS', target);
  }
}

async function render(panel: ReportPanel, format: ExportFormat): Promise<string> {
  const core = loadCore();
  const spec = await panel.modelSpec();
  // The profile as chosen; the panel's kernel choices go on top of it (the HTML shows both).
  const profileHw = await resolveHardware(panel.hardware);
  if (format === 'html') {
    const numerics = await panel.runNumerics();
    const view = core.buildPanelView(spec, profileHw, panel.workload, { hardware: panel.hardware, hardwareChoices: panel.currentView()?.hardwareChoices ?? [], interactive: false, numerics, sweep: panel.currentView()?.sweep ?? null, kernels: panel.kernels });
    return core.standaloneHtml(view, await webviewAssets());
  }
  const hw = core.withKernelOverrides(profileHw, panel.kernels);
  const { report, simulation } = core.fullReport(spec, hw, core.workloadFor(spec, hw, panel.workload));
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2) + '\n';
    case 'csv':
      return core.formatCsv(report);
    case 'md':
      return core.formatMarkdown(report);
    case 'trace':
      return core.toChromeTrace(report, simulation) + '\n';
  }
}

/** The webview's own bundle, inlined by the HTML export so the file needs nothing else. */
async function webviewAssets(): Promise<{ script: string; style: string; codiconCss: string; codiconFont: Uint8Array }> {
  const dir = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  const read = (name: string) => vscode.workspace.fs.readFile(vscode.Uri.joinPath(dir, name));
  const text = async (name: string) => new TextDecoder().decode(await read(name));
  return { script: await text('report.js'), style: await text('report.css'), codiconCss: await text('codicon.css'), codiconFont: await read('codicon.ttf') };
}
