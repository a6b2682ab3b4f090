/**
 * Activation registers commands, the panel serializer and the document provider;
 * nothing heavy. The core (dist/core.js) loads the first time a command needs it.
 */
import * as vscode from 'vscode';
import { parsePanelState } from '../common/protocol';
import { compareHardware } from './commands/compareHardware';
import { compareModels } from './commands/compareModels';
import { exportReport, initExport } from './commands/exportReport';
import { exportPytorchPatch, initPytorchExport } from './commands/exportPytorchPatch';
import { newHardwareProfile } from './commands/newHardwareProfile';
import { profileActiveFile } from './commands/profileActiveFile';
import { profileModel } from './commands/profileModel';
import { selectHardware } from './commands/selectHardware';
import { openDiffFor, showPseudocode } from './commands/showPseudocode';
import { sweep } from './commands/sweep';
import { verifyNumerics } from './commands/verifyNumerics';
import { measureOnThisMachine } from './commands/measure';
import { ReadonlyDocuments } from './documents';
import { DOCUMENT_SCHEME } from './document-refs';
import type { HostStretches } from './editor/analysis-client';
import { registerEditorFeatures } from './editor/config-features';
import { currentChoice, initChoice, onDidChangeChoice, resetChoice, type Choice } from './choice';
import { log, reportError } from './log';
import { showValidation } from './validation';
import { registerProfileTool } from './lm/profileTool';
import { isModelFileName } from './model-files';
import { registerModelingFeatures } from './modeling/features';
import { ModelViewer, registerModelViewer } from './model-viewer/provider';
import { REPORT_VIEW_TYPE, ReportPanel } from './panel/reportPanel';
import { setPrompts, type Prompts } from './prompts';

/** What activate() returns: a seam for the extension-host tests, not an API for other extensions. */
export interface TestApi {
  setPrompts(replacement: Partial<Prompts> | null): void;
  panels(): readonly ReportPanel[];
  /** What the serializer does with a panel VS Code restores after a reload. */
  restorePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void>;
  /** The open .gguf/.safetensors viewers (custom editors), with what each page reported drawing. */
  modelViewers(): readonly ModelViewer[];
  /** The longest stretch the config.json features have held the host's thread (issue 16). */
  editorHostStretches: HostStretches;
  /** The same for the modeling-code hints (hovers, lenses and quick fixes in Python files). */
  modelingHostStretches: HostStretches;
  /** The current choice of hardware and workload (choice.ts), and a way back to the settings' one. */
  currentChoice(): Choice;
  resetChoice(): Promise<unknown>;
}

async function restorePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
  const parsed = parsePanelState(state);
  if (!parsed) {
    log().warn('A report panel could not be restored: its saved state is missing or malformed.');
    panel.dispose();
    return;
  }
  await ReportPanel.revive(panel, parsed);
}

export function activate(context: vscode.ExtensionContext): TestApi {
  context.subscriptions.push(initChoice(context));
  initExport(context.extensionUri);
  initPytorchExport(context.extensionUri, (context.extension.packageJSON as { version?: string }).version);
  // The panel's button: a refusal (an unsupported family) is one notification, as from the palette.
  const exportPatchFromPanel = (panel: ReportPanel) => exportPytorchPatch(panel).catch((err: unknown) => reportError(err, 'deferredNorm.exportPytorchPatch'));
  ReportPanel.init(context.extensionUri, { openDiff: openDiffFor, exportReport, exportPytorchPatch: exportPatchFromPanel });

  // Each command reports its own failures: one notification with Show Log, never an unhandled rejection.
  const command = <A extends unknown[]>(id: string, run: (...args: A) => Thenable<unknown> | unknown) =>
    vscode.commands.registerCommand(id, async (...args: A) => {
      try {
        return await run(...args);
      } catch (err) {
        reportError(err, id);
        return undefined;
      }
    });
  const uriArg = (arg: unknown): vscode.Uri | undefined => (arg instanceof vscode.Uri ? arg : undefined);

  context.subscriptions.push(
    command('deferredNorm.profileModel', (arg?: unknown) => profileModel(uriArg(arg))),
    command('deferredNorm.profileActiveFile', (arg?: unknown) => profileActiveFile(uriArg(arg))),
    command('deferredNorm.selectHardware', selectHardware),
    command('deferredNorm.compareHardware', (arg?: unknown) => compareHardware(uriArg(arg))),
    command('deferredNorm.compareModels', (arg?: unknown) => compareModels(uriArg(arg))),
    command('deferredNorm.sweep', (arg?: unknown) => sweep(uriArg(arg))),
    command('deferredNorm.showPseudocode', (arg?: unknown) => showPseudocode(uriArg(arg))),
    command('deferredNorm.exportReport', (arg?: unknown) => exportReport(uriArg(arg))),
    command('deferredNorm.exportPytorchPatch', (arg?: unknown) => exportPytorchPatch(uriArg(arg))),
    command('deferredNorm.newHardwareProfile', newHardwareProfile),
    command('deferredNorm.verifyNumerics', (arg?: unknown) => verifyNumerics(uriArg(arg))),
    command('deferredNorm.showLog', () => log().show()),
    command('deferredNorm.showValidation', showValidation),
    command('deferredNorm.measure', (arg?: unknown) => measureOnThisMachine(context.extensionUri, uriArg(arg))),
    vscode.workspace.registerTextDocumentContentProvider(DOCUMENT_SCHEME, new ReadonlyDocuments()),
    vscode.window.registerWebviewPanelSerializer(REPORT_VIEW_TYPE, { deserializeWebviewPanel: restorePanel }),
    vscode.workspace.onDidSaveTextDocument((doc) => onSaved(doc.uri)),
    // A choice made anywhere (a setting, Select Hardware, a panel's controls) shows in every panel.
    onDidChangeChoice((choice) => void ReportPanel.followChoice(choice)),
  );
  const modelingHostStretches = registerModelingFeatures(context);
  context.subscriptions.push(registerModelViewer(context.extensionUri), registerProfileTool());
  const editorHostStretches = registerEditorFeatures(context);
  const reset = async (): Promise<unknown> => ReportPanel.followChoice(await resetChoice());
  return { setPrompts, panels: () => ReportPanel.all(), restorePanel, modelViewers: () => ModelViewer.all(), editorHostStretches, modelingHostStretches, currentChoice, resetChoice: reset };
}

/** A saved hardware profile re-profiles the panels that use it; a saved model file reloads its panels. */
function onSaved(uri: vscode.Uri): void {
  const id = uri.toString();
  for (const panel of ReportPanel.all()) {
    if (panel.hardware === id) void panel.refresh();
    else if (isModelFileName(uri.fsPath) && (panel.modelPath === uri.fsPath || uri.fsPath.startsWith(panel.modelPath + '/'))) void panel.reloadModel();
  }
}

export function deactivate(): void {}
