/**
 * A model's config.json in the editor: hovers on its keys, a CodeLens at the top, a status bar item,
 * diagnostics with quick fixes. VS Code glue only: the words come from hover-text.ts, the figures
 * from analysis.ts, run on a worker thread (worker.ts, dist/editor-worker.js) so that no file, however
 * large or absurd, blocks the extension host. Registering loads nothing: the core and the worker
 * start the first time a JSON document that names model keys is opened or hovered.
 */
import * as vscode from 'vscode';
import { askHardwareOnFirstUse } from '../commands/selectHardware';
import { loadCore } from '../core';
import { chosenHardware, chosenWorkload, onDidChangeChoice } from '../choice';
import { resolveHardware } from '../hardware';
import { isInputError, log } from '../log';
import { join } from 'node:path';
import type { HardwareProfile } from '../../core/hardware/profile';
import type { WorkloadInput } from '../../common/protocol';
import type { ConfigAnalysis, ConfigProblem } from './analysis';
import { AnalysisWorkers, HostStretches, LARGE_TEXT_CHARS, type DocumentSnapshot } from './analysis-client';
import type { FieldRange, KeyAtOffset } from './config-keys';
import type { AnalyzedText } from './worker-protocol';
import { OPEN_REPORT_COMMAND, hoverText, lensTitle, statusText } from './hover-text';
import { mightBeModelConfig } from './markers';

const SELECTOR: vscode.DocumentSelector = [
  { language: 'json', scheme: 'file' },
  { language: 'jsonc', scheme: 'file' },
];
/** Edits re-profile this long after the last keystroke. */
const DEBOUNCE_MS = 300;
const DIAGNOSTIC_SOURCE = 'Deferred Norm';

type Feature = 'hover' | 'codeLens' | 'statusBar' | 'diagnostics';
const enabled = (feature: Feature): boolean => vscode.workspace.getConfiguration('deferredNorm').get<boolean>(`${feature}.enabled`, true);

/** What every analysis is run against: the chosen hardware and the settings' workload. */
interface Setting {
  hardwareLabel: string;
  /** Null when the chosen profile file is broken: every model then says why instead of a figure. */
  hardware: HardwareProfile | null;
  hardwareError: string | null;
  input: WorkloadInput;
  /** The most characters of a config the core reads (its file cap); a longer text is not analyzed. */
  maxChars: number;
}

interface Entry {
  /** The version whose text was analyzed: the problems' ranges are offsets into it. */
  version: number;
  /** The last version looked at: later than `version` while the JSON is invalid mid-edit. */
  seenVersion: number;
  analysis: ConfigAnalysis;
  ranges: (FieldRange | null)[];
  hardwareLabel: string;
}

/** A preset's name, or a profile file's base name. */
function hardwareLabelOf(id: string): string {
  return loadCore().isPresetName(id) ? id : decodeURIComponent(id.split('/').pop() ?? id);
}

/** The document, read a range at a time (never joined whole on the host's thread). */
function snapshotOf(doc: vscode.TextDocument): DocumentSnapshot {
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  const read = (start: number, stop: number): string => doc.getText(new vscode.Range(doc.positionAt(start), doc.positionAt(stop)));
  const version = doc.version;
  return { uri: doc.uri.toString(), version, path: doc.uri.fsPath, length: doc.offsetAt(end), read, stale: () => doc.version !== version };
}

/**
 * One cache of analyses keyed by document URI and version. Settings or a hardware pick invalidate it.
 * An edit schedules a re-profile after the debounce; until then the last good answer stands. The
 * analysis itself runs in a worker (analysis-client.ts; large texts in a second one): the host thread
 * only reads the text, looks for a model key in it and hands it over. A newer version cancels the run
 * of an older one.
 */
class ConfigInsights implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  /** URIs whose current text is known not to be a model config (by version). */
  private readonly notModels = new Map<string, number>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, { version: number; run: Promise<Entry | undefined>; cancel: vscode.CancellationTokenSource }>();
  private setting: Promise<Setting> | undefined;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fires when a document's answer changed (lenses, status bar, diagnostics follow). */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly workers: AnalysisWorkers,
    private readonly stretches: HostStretches,
  ) {}

  /** The answer for a document: cached, stale while an edit is debounced, or computed now (first time). */
  async get(doc: vscode.TextDocument): Promise<Entry | undefined> {
    const key = doc.uri.toString();
    if (this.notModels.get(key) === doc.version) return undefined;
    const entry = this.entries.get(key);
    if (entry && (entry.seenVersion === doc.version || this.pending.has(key))) return entry;
    return this.analyze(doc);
  }

  /** Re-profiles the document now (one run per version however many providers ask); returns what stands afterwards. */
  analyze(doc: vscode.TextDocument): Promise<Entry | undefined> {
    const key = doc.uri.toString();
    const current = this.running.get(key);
    if (current?.version === doc.version) return current.run;
    // An older version's run is no longer wanted.
    current?.cancel.cancel();
    const cancel = new vscode.CancellationTokenSource();
    const run = this.analyzeNow(doc, cancel.token).finally(() => {
      if (this.running.get(key)?.run === run) this.running.delete(key);
      cancel.dispose();
    });
    this.running.set(key, { version: doc.version, run, cancel });
    return run;
  }

  private async analyzeNow(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<Entry | undefined> {
    const key = doc.uri.toString();
    const version = doc.version;
    const snapshot = this.stretches.time('measure the text', () => snapshotOf(doc));
    // Other JSON never loads the core or reaches the worker. A large text is looked at by the worker:
    // here it would be joined whole on the host's thread.
    const small = snapshot.length <= LARGE_TEXT_CHARS;
    if (small && !this.stretches.time('look for a model key', () => mightBeModelConfig(doc.getText()))) return this.forget(key, version);
    const settingRun = this.currentSetting();
    const setting = await settingRun;
    if (snapshot.length > setting.maxChars) return this.forget(key, version);
    const result = await this.workers.for(snapshot).analyze(snapshot, setting.hardware, setting.hardwareError, setting.input, token);
    // Settings or the hardware changed meanwhile: this answer is for the old ones.
    const current = this.setting === settingRun;
    return this.stretches.time('take the answer', () => this.take(doc, version, setting, current ? result : undefined));
  }

  /** The worker's answer for a version (undefined: canceled or outdated): what stands afterwards. */
  private take(doc: vscode.TextDocument, version: number, setting: Setting, result: AnalyzedText | undefined): Entry | undefined {
    const key = doc.uri.toString();
    const previous = this.entries.get(key);
    if (!result) return previous;
    const { outcome } = result;
    if (outcome.kind === 'invalid-json') {
      // Mid-edit: keep the last good answer (and say nothing new) until the JSON parses again.
      if (previous) previous.seenVersion = version;
      return previous;
    }
    if (outcome.kind === 'not-a-model') return this.forget(key, version);
    const entry: Entry = { version, seenVersion: version, analysis: outcome.analysis, ranges: result.ranges, hardwareLabel: setting.hardwareLabel };
    this.entries.set(key, entry);
    this.notModels.delete(key);
    askHardwareOnFirstUse();
    this.changed.fire(doc.uri);
    return entry;
  }

  /** The key under a position, found by the worker in the document's text; undefined for none or when canceled. */
  async keyAt(doc: vscode.TextDocument, offset: number, token: vscode.CancellationToken): Promise<KeyAtOffset | undefined> {
    const snapshot = snapshotOf(doc);
    return (await this.workers.for(snapshot).keyAt(snapshot, offset, token)) ?? undefined;
  }

  private forget(key: string, version: number): undefined {
    const had = this.entries.delete(key);
    this.notModels.set(key, version);
    if (had) this.changed.fire(vscode.Uri.parse(key));
    return undefined;
  }

  /** An edit: re-profile after the debounce. */
  schedule(doc: vscode.TextDocument, run: (entry: Entry | undefined) => void): void {
    const key = doc.uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        guard(`re-profiling ${doc.uri.fsPath}`, async () => run(await this.analyze(doc)));
      }, DEBOUNCE_MS),
    );
  }

  /** Settings or hardware changed: every answer is recomputed on demand. */
  invalidate(): void {
    this.setting = undefined;
    for (const { cancel } of this.running.values()) cancel.cancel();
    this.running.clear();
    this.entries.clear();
    this.notModels.clear();
  }

  close(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.delete(key);
    this.running.get(key)?.cancel.cancel();
    this.running.delete(key);
    this.entries.delete(key);
    this.notModels.delete(key);
    this.workers.forget(key);
  }

  private currentSetting(): Promise<Setting> {
    this.setting ??= (async (): Promise<Setting> => {
      const core = loadCore();
      const id = chosenHardware();
      const hardwareLabel = hardwareLabelOf(id);
      const input = chosenWorkload();
      const maxChars = core.FILE_CAPS.config.bytes;
      try {
        return { hardwareLabel, hardware: await resolveHardware(id), hardwareError: null, input, maxChars };
      } catch (err) {
        if (!isInputError(err)) throw err;
        return { hardwareLabel, hardware: null, hardwareError: err.message, input, maxChars };
      }
    })();
    // A failure is not cached: the next request tries again.
    this.setting.catch(() => (this.setting = undefined));
    return this.setting;
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    for (const { cancel } of this.running.values()) cancel.cancel();
    this.changed.dispose();
    this.workers.dispose();
  }
}

/** Runs one provider call; a failure goes to the log and never disables the provider for other files. */
async function guard<T>(doing: string, run: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    log().error(`${doing}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return undefined;
  }
}

function rangeOf(doc: vscode.TextDocument, start: number, end: number): vscode.Range {
  return new vscode.Range(doc.positionAt(start), doc.positionAt(end));
}

const SEVERITY: Record<ConfigProblem['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
};

/** Where a problem sits (found by the worker): its field's range, or the first line when the field is not in the text. */
function problemRange(doc: vscode.TextDocument, found: FieldRange | null | undefined): { range: vscode.Range; value: vscode.Range | null } {
  if (!found) return { range: doc.lineAt(0).range, value: null };
  return { range: rangeOf(doc, found.property.start, found.property.end), value: rangeOf(doc, found.value.start, found.value.end) };
}

function diagnosticsOf(doc: vscode.TextDocument, entry: Entry): vscode.Diagnostic[] {
  return entry.analysis.problems.map((problem, i) => {
    const diagnostic = new vscode.Diagnostic(problemRange(doc, entry.ranges[i]).range, problem.message, SEVERITY[problem.severity]);
    diagnostic.source = DIAGNOSTIC_SOURCE;
    return diagnostic;
  });
}

class HoverProvider implements vscode.HoverProvider {
  constructor(private readonly insights: ConfigInsights) {}

  provideHover(doc: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    return guard(`hover in ${doc.uri.fsPath}`, async () => {
      if (!enabled('hover')) return undefined;
      const entry = await this.insights.get(doc);
      if (!entry) return undefined;
      const at = await this.insights.keyAt(doc, doc.offsetAt(position), token);
      if (!at) return undefined;
      const field = entry.analysis.fields.find((f) => f.path.length === at.path.length && f.path.every((s, i) => s === at.path[i]));
      if (!field) return undefined;
      const markdown = hoverText({ role: field.role, key: field.key, analysis: entry.analysis, hardwareLabel: entry.hardwareLabel, uriJson: doc.uri });
      if (!markdown) return undefined;
      const content = new vscode.MarkdownString(markdown);
      // The link may run the one command that opens the report, and nothing else.
      content.isTrusted = { enabledCommands: [OPEN_REPORT_COMMAND] };
      return new vscode.Hover(content, rangeOf(doc, at.start, at.end));
    });
  }
}

class LensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  constructor(private readonly insights: ConfigInsights) {}

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[] | undefined> {
    return guard(`CodeLens in ${doc.uri.fsPath}`, async () => {
      if (!enabled('codeLens')) return undefined;
      const entry = await this.insights.get(doc);
      if (!entry) return undefined;
      const top = doc.lineAt(0).range;
      const open = { command: OPEN_REPORT_COMMAND, arguments: [doc.uri] };
      return [
        new vscode.CodeLens(top, { ...open, title: lensTitle(entry.analysis, entry.hardwareLabel), tooltip: entry.analysis.error?.message ?? 'Simulated estimate: open the report' }),
        new vscode.CodeLens(top, { ...open, title: 'Open report' }),
      ];
    });
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Quick fixes: set a count that must divide another to its nearest divisors. */
class QuickFixes implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];
  constructor(private readonly insights: ConfigInsights) {}

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[] | undefined> {
    return guard(`quick fixes in ${doc.uri.fsPath}`, async () => {
      const ours = context.diagnostics.filter((d) => d.source === DIAGNOSTIC_SOURCE);
      if (ours.length === 0) return undefined;
      const entry = await this.insights.get(doc);
      // The fixes replace offsets of the analyzed text: only while it is the document's text.
      if (!entry || entry.version !== doc.version) return undefined;
      const actions: vscode.CodeAction[] = [];
      for (const diagnostic of ours) {
        const index = entry.analysis.problems.findIndex((p) => p.message === diagnostic.message && p.fixes.length > 0);
        const problem = entry.analysis.problems[index];
        const where = problem && problemRange(doc, entry.ranges[index]).value;
        if (!problem || !where) continue;
        const key = String(problem.path[problem.path.length - 1]);
        problem.fixes.forEach((value, i) => {
          const action = new vscode.CodeAction(`Set ${key} to ${value}`, vscode.CodeActionKind.QuickFix);
          action.edit = new vscode.WorkspaceEdit();
          action.edit.replace(doc.uri, where, String(value));
          action.diagnostics = [diagnostic];
          action.isPreferred = i === 0;
          actions.push(action);
        });
      }
      return actions;
    });
  }
}

/** Registers the config.json features; extension.ts calls it once from activate(). */
export function registerEditorFeatures(context: vscode.ExtensionContext): HostStretches {
  const stretches = new HostStretches();
  const insights = new ConfigInsights(new AnalysisWorkers({ script: join(__dirname, 'editor-worker.js'), stretches }), stretches);
  const lenses = new LensProvider(insights);
  const diagnostics = vscode.languages.createDiagnosticCollection('deferredNorm');
  const status = vscode.window.createStatusBarItem('deferredNorm.saving', vscode.StatusBarAlignment.Right, 100);
  status.name = 'Deferred Norm: saving';

  const showDiagnostics = (doc: vscode.TextDocument, entry: Entry | undefined): void => {
    if (!enabled('diagnostics') || !entry) diagnostics.delete(doc.uri);
    // Ranges are offsets into the analyzed version: a later text (invalid mid-edit) keeps what is shown.
    else if (entry.version === doc.version) stretches.time('set diagnostics', () => diagnostics.set(doc.uri, diagnosticsOf(doc, entry)));
  };

  const updateStatus = (): Promise<unknown> =>
    guard('status bar', async () => {
      const doc = vscode.window.activeTextEditor?.document;
      const entry = doc && enabled('statusBar') && vscode.languages.match(SELECTOR, doc) > 0 ? await insights.get(doc) : undefined;
      if (!doc || !entry) {
        status.hide();
        return;
      }
      const { text, tooltip } = statusText(entry.analysis, entry.hardwareLabel);
      status.text = text;
      status.tooltip = tooltip;
      status.command = { title: 'Open report', command: OPEN_REPORT_COMMAND, arguments: [doc.uri] };
      status.show();
    });

  /** A model document opened or changed now: diagnostics, lenses and status follow. */
  const refreshNow = (doc: vscode.TextDocument): Promise<unknown> =>
    guard(`profiling ${doc.uri.fsPath}`, async () => {
      if (vscode.languages.match(SELECTOR, doc) === 0) return;
      showDiagnostics(doc, await insights.get(doc));
    });

  const refreshAll = (): void => {
    insights.invalidate();
    for (const doc of vscode.workspace.textDocuments) void refreshNow(doc);
    lenses.refresh();
    void updateStatus();
  };

  context.subscriptions.push(
    insights,
    lenses,
    diagnostics,
    status,
    vscode.languages.registerHoverProvider(SELECTOR, new HoverProvider(insights)),
    vscode.languages.registerCodeLensProvider(SELECTOR, lenses),
    vscode.languages.registerCodeActionsProvider(SELECTOR, new QuickFixes(insights), { providedCodeActionKinds: QuickFixes.kinds }),
    insights.onDidChange(() => {
      lenses.refresh();
      void updateStatus();
    }),
    vscode.workspace.onDidOpenTextDocument((doc) => void refreshNow(doc)),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length === 0 || vscode.languages.match(SELECTOR, e.document) === 0) return;
      insights.schedule(e.document, (entry) => showDiagnostics(e.document, entry));
    }),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      insights.close(doc.uri);
      diagnostics.delete(doc.uri);
    }),
    vscode.window.onDidChangeActiveTextEditor(() => void updateStatus()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('deferredNorm')) refreshAll();
    }),
    onDidChangeChoice(() => refreshAll()),
  );
  // Model configs already open when the extension activates (onLanguage:json fires for them).
  for (const doc of vscode.workspace.textDocuments) void refreshNow(doc);
  void updateStatus();
  return stretches;
}
