/**
 * A model's config.json in the editor: hovers on its keys, a CodeLens at the top, a status bar item,
 * diagnostics with quick fixes. VS Code glue only: the words come from hover-text.ts, the figures
 * from analysis.ts, run on a worker thread (worker.ts, dist/editor-worker.js; kept per document
 * version by config-insights.ts) so that no file, however large or absurd, blocks the extension host. Registering loads nothing: the core and the worker
 * start the first time a JSON document that names model keys is opened or hovered.
 */
import * as vscode from 'vscode';
import { onDidChangeChoice } from '../choice';
import { join } from 'node:path';
import type { ConfigProblem } from './analysis';
import { AnalysisWorkers, HostStretches } from './analysis-client';
import { ConfigInsights, guard, type Entry } from './config-insights';
import type { FieldRange } from './config-keys';
import { OPEN_REPORT_COMMAND, hoverText, lensTitle, statusText } from './hover-text';

const SELECTOR: vscode.DocumentSelector = [
  { language: 'json', scheme: 'file' },
  { language: 'jsonc', scheme: 'file' },
];
const DIAGNOSTIC_SOURCE = 'Deferred Norm';

type Feature = 'hover' | 'codeLens' | 'statusBar' | 'diagnostics';
const enabled = (feature: Feature): boolean => vscode.workspace.getConfiguration('deferredNorm').get<boolean>(`${feature}.enabled`, true);

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
