import { RenderSignal } from '../render-signal';
import * as vscode from 'vscode';
import type { HardwareProfile } from '../../core/hardware/profile';
import type { ModelSpec } from '../../core/model/spec';
import type { NumericsResult } from '../../core/numerics/types';
import type { LatestMeasurements } from '../../common/panel-view';
import { makeNonce, panelHtml } from '../../common/report-html';
import { initialPanelState, panelReducer, showsChoice, shownSweep, type PanelEvent, type ReportPanelState } from '../../common/panel-state';
import { NO_KERNEL_OVERRIDES, parseWebviewMessage, type HostMessage, type KernelOverrides, type PanelState, type PanelSection, type PanelView, type SweepAxis, type SweepView, type WebviewMessage, type WorkloadInput } from '../../common/protocol';
import { loadCore } from '../core';
import { setChoice, type Choice } from '../choice';
import { hardwareChoices, resolveHardware } from '../hardware';
import { log, reportError, showErrorNotice, type ErrorNotice } from '../log';
import { modelTitle } from '../model-files';
import { openSiteSource } from '../commands/openSiteSource';
import { knownValidationHeadline, validationHeadlineOnce } from '../validation';

export const REPORT_VIEW_TYPE = 'deferredNorm.report';

/** What a panel needs from the extension to act on the webview's requests. */
export interface PanelActions {
  openDiff(panel: ReportPanel, layerKind: string, site: string | null): Thenable<unknown>;
  exportReport(panel: ReportPanel): Thenable<unknown>;
  exportPytorchPatch(panel: ReportPanel): Thenable<unknown>;
}

/**
 * One report panel per model. It owns the model's spec (read once), the hardware, kernel
 * choices and workload the controls show, and the numerics check (which depends on the
 * model only, so it runs once, after the first render).
 */
export class ReportPanel {
  private static readonly panels = new Map<string, ReportPanel>();
  private static actions: PanelActions | undefined;
  private static extensionUri: vscode.Uri;

  private spec: ModelSpec | undefined;
  private numerics: NumericsResult | null = null;
  private numericsRunning: Promise<NumericsResult | null> | undefined;
  /** The newest measurements beside the model, read once (undefined: not read yet; null: none). */
  private measurements: LatestMeasurements | null | undefined;
  /** Hardware, workload, kernel choices and the sweep shown, changed only through panelReducer (common/panel-state.ts). */
  private state: ReportPanelState;
  private view: PanelView | undefined;
  private ready = false;
  private pending: HostMessage[] = [];
  private disposed = false;
  /** The headline as the webview last reported it, and the messages it sent (for the extension-host tests). */
  readonly rendered = new RenderSignal();
  /** The message of the last failed profile, shown in the panel's error state. */
  lastError: string | undefined;
  /** The notification of that failure: closed when the panel profiles again, is closed, or fails anew. */
  errorNotice: ErrorNotice | undefined;
  readonly received: WebviewMessage[] = [];

  static init(extensionUri: vscode.Uri, actions: PanelActions): void {
    ReportPanel.extensionUri = extensionUri;
    ReportPanel.actions = actions;
  }

  /** Opens (or reveals) the panel of a model and profiles it. */
  static async show(modelPath: string, hardware: string, workload: WorkloadInput): Promise<ReportPanel> {
    const existing = ReportPanel.panels.get(modelPath);
    if (existing) {
      existing.panel.reveal();
      existing.dispatch({ type: 'choice', hardware, workload });
      await existing.refresh();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, titleOf(modelPath), vscode.ViewColumn.Active, webviewOptions(ReportPanel.extensionUri));
    const created = new ReportPanel(panel, modelPath, hardware, workload);
    await created.refresh();
    return created;
  }

  /** A panel VS Code restored after a reload, with the state its webview saved. */
  static async revive(panel: vscode.WebviewPanel, state: PanelState): Promise<ReportPanel> {
    // VS Code restores a panel with the options it was made with; setting them again only when they
    // differ (an older version of the extension) spares the page a reload racing the new HTML.
    const wanted = webviewOptions(ReportPanel.extensionUri);
    const roots = (o: vscode.WebviewOptions) => (o.localResourceRoots ?? []).map(String).join('|');
    if (!panel.webview.options.enableScripts || roots(panel.webview.options) !== roots(wanted)) panel.webview.options = wanted;
    const revived = new ReportPanel(panel, state.modelPath, state.hardware, state.workload, state.kernels);
    await revived.refresh();
    return revived;
  }

  /** The panel the user last looked at, if one is open. */
  static active(): ReportPanel | undefined {
    let best: ReportPanel | undefined;
    for (const p of ReportPanel.panels.values()) {
      if (p.panel.active) return p;
      if (p.panel.visible) best ??= p;
    }
    return best ?? [...ReportPanel.panels.values()].pop();
  }

  static all(): ReportPanel[] {
    return [...ReportPanel.panels.values()];
  }

  static forModel(modelPath: string): ReportPanel | undefined {
    return ReportPanel.panels.get(modelPath);
  }

  /** Every panel shows the current choice (choice.ts): those that differ take it and re-profile. */
  static followChoice(choice: Choice): Promise<unknown> {
    return Promise.all(ReportPanel.all().map((p) => p.follow(choice)));
  }

  /** The re-profile that took the latest choice (awaited by whoever changed it). */
  private following: Promise<unknown> = Promise.resolve();

  private follow(choice: Choice): Promise<unknown> {
    if (showsChoice(this.state, choice)) return this.following;
    this.dispatch({ type: 'choice', hardware: choice.hardware, workload: choice.workload });
    this.following = this.refresh();
    return this.following;
  }

  private dispatch(event: PanelEvent): void {
    this.state = panelReducer(this.state, event);
  }

  /** The chosen hardware: a preset name or a profile file's URI. */
  get hardware(): string {
    return this.state.hardware;
  }

  get workload(): WorkloadInput {
    return this.state.workload;
  }

  /** The panel's kernel choices over the hardware profile's own (kept when the hardware changes). */
  get kernels(): KernelOverrides {
    return this.state.kernels;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    readonly modelPath: string,
    hardware: string,
    workload: WorkloadInput,
    kernels: KernelOverrides = { ...NO_KERNEL_OVERRIDES },
  ) {
    this.state = initialPanelState({ hardware, workload, kernels });
    ReportPanel.panels.set(modelPath, this);
    panel.iconPath = vscode.Uri.joinPath(ReportPanel.extensionUri, 'media', 'icon.png');
    panel.webview.html = this.html();
    panel.webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw));
    panel.onDidDispose(() => {
      this.disposed = true;
      this.closeErrorNotice();
      ReportPanel.panels.delete(modelPath);
    });
    // A hidden webview may be unloaded (messages to it are dropped) or kept: either way post as usual;
    // a reloaded page says "ready" again and gets the latest view.
  }

  /** Reads the measurements beside the model again (Measure on This Machine saved one) and re-profiles. */
  async reloadMeasurements(): Promise<void> {
    this.measurements = undefined;
    await this.refresh();
  }

  private closeErrorNotice(): void {
    this.errorNotice?.close();
    this.errorNotice = undefined;
  }

  /** Reads the model again (its file changed) and re-profiles. */
  async reloadModel(): Promise<void> {
    this.spec = undefined;
    this.numerics = null;
    this.numericsRunning = undefined;
    await this.refresh();
  }

  /** Profiles with the panel's hardware and workload and sends the view; errors become the panel's error state. */
  async refresh(): Promise<PanelView | undefined> {
    this.post({ type: 'busy', label: 'Profiling…' });
    try {
      const core = loadCore();
      this.spec ??= await core.loadModel(this.modelPath);
      const hw = await resolveHardware(this.hardware);
      if (this.measurements === undefined) this.measurements = await core.readLatestMeasurements(this.modelPath);
      const view = core.buildPanelView(this.spec, hw, this.workload, {
        hardware: this.hardware,
        hardwareChoices: await hardwareChoices(),
        interactive: true,
        numerics: this.numerics,
        sweep: shownSweep(this.state),
        kernels: this.kernels,
        measurements: this.measurements,
        validation: knownValidationHeadline(),
      });
      this.view = view;
      // An override equal to the profile's own choice is none: the controls show the profile's.
      this.dispatch({ type: 'profiled', kernels: view.kernels });
      this.lastError = undefined;
      this.closeErrorNotice();
      this.post({ type: 'view', view });
      if (!this.numerics) void this.runNumerics();
      if (!view.validation) void this.addValidation(view);
      return view;
    } catch (err) {
      this.closeErrorNotice();
      this.errorNotice = showErrorNotice(err, `Profiling ${this.modelPath}`);
      this.lastError = this.errorNotice.message;
      this.post({ type: 'error', message: this.lastError });
      return undefined;
    } finally {
      this.post({ type: 'busy', label: null });
    }
  }

  /** The validation's headline, once computed (a tick after the first render), added to the view shown. */
  private async addValidation(view: PanelView): Promise<void> {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    const validation = await validationHeadlineOnce();
    if (!validation || this.view !== view) return;
    view.validation = validation;
    this.post({ type: 'validation', validation });
  }

  /** The numerics check of this model, run once (a tick after the first render, so it never delays it). */
  runNumerics(): Promise<NumericsResult | null> {
    this.numericsRunning ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      try {
        if (!this.spec) return null;
        const started = Date.now();
        this.numerics = loadCore().numericsFor(this.spec, 1);
        log().info(`Numerics check of ${this.modelPath}: ${Date.now() - started} ms`);
        if (this.view) this.view.report.numerics = this.numerics;
        this.post({ type: 'numerics', numerics: this.numerics });
        return this.numerics;
      } catch (err) {
        reportError(err, `Numerics check of ${this.modelPath}`);
        return null;
      }
    });
    return this.numericsRunning;
  }

  async runSweep(axis: SweepAxis): Promise<SweepView | undefined> {
    this.post({ type: 'busy', label: `Sweeping ${axis}…` });
    try {
      const core = loadCore();
      this.spec ??= await core.loadModel(this.modelPath);
      const hw = await resolveHardware(this.hardware);
      const sweep = core.buildSweepView(this.spec, hw, this.hardware, this.workload, axis, this.kernels);
      this.dispatch({ type: 'swept', sweep });
      if (this.view) this.view.sweep = sweep;
      this.post({ type: 'sweep', sweep });
      this.reveal('sweep');
      return sweep;
    } catch (err) {
      this.post({ type: 'error', message: reportError(err, `Sweep of ${this.modelPath}`) });
      return undefined;
    } finally {
      this.post({ type: 'busy', label: null });
    }
  }

  reveal(section: PanelSection): void {
    this.panel.reveal(undefined, true);
    this.post({ type: 'reveal', section });
  }

  /** The hardware profile this panel simulates: the chosen one with the panel's kernel choices applied. */
  async hardwareProfile(): Promise<HardwareProfile> {
    return loadCore().withKernelOverrides(await resolveHardware(this.hardware), this.kernels);
  }

  /** The current view (after a refresh), with the numerics if they are done. */
  currentView(): PanelView | undefined {
    return this.view;
  }

  async modelSpec(): Promise<ModelSpec> {
    this.spec ??= await loadCore().loadModel(this.modelPath);
    return this.spec;
  }

  /** Resolves on the next "rendered" report from the webview. */
  nextRender(): Promise<string> {
    return this.rendered.next();
  }


  /** Lets tests send what the webview would, through the same validation. */
  receive(raw: unknown): Promise<void> {
    return this.onMessage(raw);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    if (!message) {
      log().warn(`Dropped a malformed message from the report webview of ${this.modelPath}: ${preview(raw)}`);
      return;
    }
    this.received.push(message);
    switch (message.type) {
      case 'ready':
        this.ready = true;
        this.flush();
        if (this.view) this.post({ type: 'view', view: this.view });
        return;
      case 'rendered':
        this.rendered.fire(message.headline);
        return;
      case 'profile': {
        // Kernel choices are the panel's own; hardware and workload are everyone's (choice.ts).
        const choiceChanged = !showsChoice(this.state, message);
        this.dispatch({ type: 'controls', hardware: message.hardware, workload: message.workload, kernels: message.kernels });
        if (!choiceChanged) {
          await this.refresh();
          return;
        }
        // This panel shows the new choice already; every other panel follows it.
        const choice = await setChoice({ hardware: message.hardware, workload: message.workload });
        this.following = this.refresh();
        await ReportPanel.followChoice(choice);
        return;
      }
      case 'sweep':
        await this.runSweep(message.axis);
        return;
      case 'verify':
        await this.runNumerics();
        this.reveal('numerics');
        return;
      case 'openSiteSource':
        await openSiteSource(this.view, message.layerKind, message.site);
        return;
      case 'openDiff':
        await ReportPanel.actions?.openDiff(this, message.layerKind, message.site);
        return;
      case 'export':
        await ReportPanel.actions?.exportReport(this);
        return;
      case 'exportPytorchPatch':
        await ReportPanel.actions?.exportPytorchPatch(this);
        return;
      case 'showValidation':
        await vscode.commands.executeCommand('deferredNorm.showValidation');
        return;
    }
  }

  private post(message: HostMessage): void {
    if (this.disposed) return;
    if (!this.ready) {
      // Until the page says it is ready only the latest of each kind matters.
      this.pending = this.pending.filter((m) => m.type !== message.type);
      this.pending.push(message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private flush(): void {
    const queued = this.pending;
    this.pending = [];
    for (const m of queued) if (m.type !== 'view') void this.panel.webview.postMessage(m);
  }

  private html(): string {
    const webview = this.panel.webview;
    const dist = vscode.Uri.joinPath(ReportPanel.extensionUri, 'dist', 'webview');
    return panelHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'report.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'report.css')).toString(),
      codiconUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'codicon.css')).toString(),
      title: titleOf(this.modelPath),
    });
  }
}

function titleOf(modelPath: string): string {
  return `Deferred Norm: ${modelTitle(modelPath)}`;
}

/**
 * Scripts on, and nothing loadable but the webview bundle's own folder. The page is kept while its
 * tab is hidden: switching back shows it as it was (scroll, chosen layer, open tooltips) without
 * reloading and redrawing a report of a hundred layers.
 */
function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, enableFindWidget: true, retainContextWhenHidden: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
}

function preview(raw: unknown): string {
  try {
    const text = JSON.stringify(raw) ?? String(raw);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return typeof raw;
  }
}
