/**
 * The read-only custom editor of .gguf and .safetensors files: their header (metadata, tensors),
 * the parameter count and the profile's headline on the chosen hardware and workload, instead of
 * binary noise. Only headers are read (the core's bounded edge), so a 50 GB file opens at once.
 */
import { RenderSignal } from '../render-signal';
import * as vscode from 'vscode';
import { makeNonce } from '../../common/report-html';
import { loadCore } from '../core';
import { chosenHardware, chosenWorkload, onDidChangeChoice } from '../choice';
import { resolveHardware } from '../hardware';
import { log, logError } from '../log';
import { parseViewerMessage, viewerHtml, type ViewerContent, type ViewerMessage, type ViewerProfile } from './page';

export const MODEL_VIEWER_TYPE = 'deferredNorm.modelFile';

/** The hardware and workload a headline was computed for: a change re-renders the viewer. */
function profileKey(): string {
  return JSON.stringify([chosenHardware(), chosenWorkload()]);
}

async function viewerContent(path: string): Promise<ViewerContent> {
  const core = loadCore();
  const content: ViewerContent = { fileName: path.replace(/\\/g, '/').split('/').pop() ?? path, fileBytes: null, header: null, headerError: null, profile: null, profileError: null };
  let read: Awaited<ReturnType<typeof core.readModelFileHeader>>;
  try {
    read = await core.readModelFileHeader(path);
    content.header = read.header;
    content.fileBytes = read.fileBytes;
  } catch (err) {
    content.headerError = logError(err, `Reading the header of ${path}`);
    return content;
  }
  try {
    const hw = await resolveHardware(chosenHardware());
    // The same reading of the model as the report panel (a config.json beside weights wins), from the header read above.
    const spec = await read.spec();
    const report = core.profileChecked(spec, hw, core.workloadOf(chosenWorkload()));
    const profile: ViewerProfile = {
      figures: core.headlineFigures(report),
      hardwareName: report.hardware.name,
      hardwareTitle: report.hardware.title,
      workload: core.workloadLine(report.workload),
      estimate: report.estimate,
      params: { total: report.model.params.total, active: report.model.params.active },
    };
    content.profile = profile;
  } catch (err) {
    content.profileError = logError(err, `Profiling ${path}`);
  }
  return content;
}

/** One open viewer. */
export class ModelViewer {
  private static readonly open = new Set<ModelViewer>();
  /** The text the page last reported drawing, and every message it sent (extension-host tests). */
  readonly rendered = new RenderSignal();
  readonly received: ViewerMessage[] = [];
  private renderedKey: string | undefined;
  /** How long the last render took to read the header and profile (ms), page loading aside. */
  contentMs: number | undefined;

  static all(): ModelViewer[] {
    return [...ModelViewer.open];
  }

  constructor(
    readonly uri: vscode.Uri,
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
  ) {
    ModelViewer.open.add(this);
    const dist = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    panel.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    panel.webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw));
    panel.onDidDispose(() => ModelViewer.open.delete(this));
    // Select Hardware Profile keeps its choice in workspace state (no event): check when shown again.
    panel.onDidChangeViewState(() => {
      if (panel.active && this.renderedKey !== profileKey()) void this.render();
    });
  }

  async render(): Promise<void> {
    this.renderedKey = profileKey();
    const started = Date.now();
    const content = await viewerContent(this.uri.fsPath);
    this.contentMs = Date.now() - started;
    log().info(`Model viewer: ${this.uri.fsPath} read and profiled in ${this.contentMs} ms`);
    const webview = this.panel.webview;
    webview.html = viewerHtml(content, {
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'model-viewer.js')).toString(),
    });
  }

  /** Resolves on the next text the page reports drawing. */
  nextRender(): Promise<string> {
    return this.rendered.next();
  }


  private async onMessage(raw: unknown): Promise<void> {
    const message = parseViewerMessage(raw);
    if (!message) {
      log().warn(`Dropped a malformed message from the model viewer of ${this.uri.fsPath}`);
      return;
    }
    this.received.push(message);
    if (message.type === 'rendered') {
      this.rendered.fire(message.text);
    } else {
      await vscode.commands.executeCommand('deferredNorm.profileModel', this.uri);
    }
  }
}

class ModelViewerProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(private readonly extensionUri: vscode.Uri) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    await new ModelViewer(document.uri, panel, this.extensionUri).render();
  }
}

export function registerModelViewer(extensionUri: vscode.Uri): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.window.registerCustomEditorProvider(MODEL_VIEWER_TYPE, new ModelViewerProvider(extensionUri), { supportsMultipleEditorsPerDocument: true }),
    // A new choice of hardware or workload (choice.ts; a changed setting makes one) changes every headline.
    onDidChangeChoice(() => {
      for (const viewer of ModelViewer.all()) void viewer.render();
    }),
  );
}
