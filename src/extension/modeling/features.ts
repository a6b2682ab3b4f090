/**
 * Modeling code beside a config: hovers on norm calls and softmax → ·V, a CodeLens above
 * each function that calls sites, and the command that opens a site's rewrite as a diff.
 * Registering costs nothing: the parser (dist/modeling.js and two wasm files) loads the
 * first time a Python file inside a model folder is asked about.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { Report } from '../../core/report/types';
import { parseWorkloadInput, type WorkloadInput } from '../../common/protocol';
import { AnalysisWorker } from '../editor/analysis-client';
import { loadCore } from '../core';
import { openPseudocodeDiff } from '../documents';
import { chosenHardware, chosenWorkload, onDidChangeChoice } from '../choice';
import { resolveHardware } from '../hardware';
import { log, reportError } from '../log';
import { modelTitle } from '../model-files';
import { hoverMarkdown, lensTitle } from './hover-text';
import { matchAt, matchSites, summarizeFunctions, type SiteInLayerKind, type SiteMatch } from './match';
import type { ModelingParser, ModelingParserModule, ModelingScan } from './scan-types';

export const SHOW_SITE_REWRITE = 'deferredNorm.showSiteRewrite';

/** What the command takes: enough to rebuild the diff without the hover that offered it. */
export interface SiteRewriteArgs {
  modelPath: string;
  layerKind: string;
  /** A site id, or null for the whole layer kind's listing. */
  site: string | null;
  hardware: string;
  workload: WorkloadInput;
  label: string;
}

function parseSiteRewriteArgs(v: unknown): SiteRewriteArgs | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
  const workload = parseWorkloadInput(r['workload']);
  if (!str(r['modelPath']) || !str(r['layerKind']) || !str(r['hardware']) || !workload) return null;
  const site = r['site'];
  if (!(site === null || str(site))) return null;
  return { modelPath: r['modelPath'], layerKind: r['layerKind'], site, hardware: r['hardware'], workload, label: str(r['label']) ? r['label'] : r['layerKind'] };
}

// ---- the parser, loaded once on first need ----

let parser: Promise<ModelingParser> | undefined;

function loadParser(): Promise<ModelingParser> {
  parser ??= (async () => {
    const started = performance.now();
    // A computed path keeps esbuild from pulling the parser into the activation bundle.
    const module = require(join(__dirname, 'modeling.js')) as ModelingParserModule;
    const loaded = await module.createModelingParser({ runtime: join(__dirname, 'tree-sitter.wasm'), grammar: join(__dirname, 'tree-sitter-python.wasm') });
    const t = loaded.initTimings;
    log().info(`Python parser ready in ${(performance.now() - started).toFixed(0)} ms (runtime ${t.runtimeMs.toFixed(0)} ms, grammar ${t.grammarMs.toFixed(0)} ms, query compile ${t.queryCompileMs.toFixed(0)} ms)`);
    return loaded;
  })();
  // A failed load may be retried by the next request rather than poisoning the session.
  parser.catch(() => (parser = undefined));
  return parser;
}

// ---- caches: scans by document URI + version, reports by config file state + hardware + workload ----

const scans = new Map<string, { version: number; scan: ModelingScan }>();

async function scanOf(document: vscode.TextDocument): Promise<ModelingScan> {
  const key = document.uri.toString();
  const cached = scans.get(key);
  if (cached && cached.version === document.version) return cached.scan;
  const { scan, timings } = (await loadParser()).scan(document.getText());
  log().debug(`${vscode.workspace.asRelativePath(document.uri)} v${document.version}: parse ${timings.parseMs.toFixed(1)} ms, query ${timings.queryMs.toFixed(1)} ms`);
  scans.set(key, { version: document.version, scan });
  return scan;
}

const REPORT_CACHE_SIZE = 8;
const reports = new Map<string, Promise<Report | null>>();

/** The nearest config.json from the file's folder up to its workspace folder's root. */
async function configBeside(uri: vscode.Uri): Promise<{ path: string; mtimeMs: number } | undefined> {
  if (uri.scheme !== 'file') return undefined;
  const root = vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath;
  for (let dir = dirname(uri.fsPath); ; dir = dirname(dir)) {
    const path = join(dir, 'config.json');
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile()) return { path, mtimeMs: info.mtimeMs };
    if (!root || dir === root || !dir.startsWith(root) || dirname(dir) === dir) return undefined;
  }
}

/**
 * Read and profiled on the editor's worker thread (editor/worker.ts), not the extension host's: the
 * config beside the code may be as large or absurd as any other file (issue 16).
 */
let worker: AnalysisWorker | undefined;

/** Python files longer than this get no hints: parsing is on the host's thread (real modeling files are 10–200 KB). */
export const MODELING_TEXT_CAP = 2 * 1024 * 1024;

/** The report of a config, or null when the config is not a model the core reads (logged once per file state). */
function reportOf(configPath: string, mtimeMs: number, hardware: string, workload: WorkloadInput): Promise<Report | null> {
  const key = JSON.stringify([configPath, mtimeMs, hardware, workload]);
  let report = reports.get(key);
  if (!report) {
    report = (async () => {
      try {
        worker ??= new AnalysisWorker({ script: join(__dirname, 'editor-worker.js') });
        const answer = await worker.report(configPath, await resolveHardware(hardware), hardware, workload);
        if (answer?.report) return answer.report;
        log().info(`Modeling hints: ${configPath} gives no report (${answer?.error ?? 'canceled'})`);
        return null;
      } catch (err) {
        log().info(`Modeling hints: ${configPath} gives no report (${err instanceof Error ? err.message : String(err)})`);
        return null;
      }
    })();
    reports.set(key, report);
    while (reports.size > REPORT_CACHE_SIZE) reports.delete(reports.keys().next().value!);
  }
  return report;
}

interface Analysis {
  configPath: string;
  hardware: string;
  workload: WorkloadInput;
  report: Report;
  scan: ModelingScan;
  matches: SiteMatch[];
}

/** Everything a hover or lens needs for one document, or undefined when it is not modeling code of a model. */
async function analyze(document: vscode.TextDocument): Promise<Analysis | undefined> {
  if (document.getText().length > MODELING_TEXT_CAP) return undefined;
  const config = await configBeside(document.uri);
  if (!config) return undefined;
  const hardware = chosenHardware();
  const workload = chosenWorkload();
  const report = await reportOf(config.path, config.mtimeMs, hardware, workload);
  if (!report) return undefined;
  const scan = await scanOf(document);
  return { configPath: config.path, hardware, workload, report, scan, matches: matchSites(scan, report) };
}

function rangeOf(document: vscode.TextDocument, span: { start: number; end: number }): vscode.Range {
  return new vscode.Range(document.positionAt(span.start), document.positionAt(span.end));
}

function argsFor(a: Analysis, entry: SiteInLayerKind | { layerKind: string; site: null; label: string }): SiteRewriteArgs {
  const title = modelTitle(a.configPath);
  if ('layerCount' in entry) return { modelPath: a.configPath, layerKind: entry.layerKind, site: entry.site.id, hardware: a.hardware, workload: a.workload, label: `${title} · ${entry.site.name}` };
  return { modelPath: a.configPath, layerKind: entry.layerKind, site: null, hardware: a.hardware, workload: a.workload, label: `${title} · ${entry.label}` };
}

const commandLink = (args: SiteRewriteArgs): string => `command:${SHOW_SITE_REWRITE}?${encodeURIComponent(JSON.stringify([args]))}`;

const enabled = (setting: 'hover' | 'codeLens'): boolean => vscode.workspace.getConfiguration('deferredNorm').get<boolean>(`${setting}.enabled`) !== false;

class ModelingHoverProvider implements vscode.HoverProvider {
  async provideHover(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    if (!enabled('hover')) return undefined;
    try {
      const a = await analyze(document);
      const match = a && matchAt(a.matches, document.offsetAt(position));
      if (!a || !match) return undefined;
      const md = new vscode.MarkdownString(hoverMarkdown(match, { report: a.report, workloadLine: loadCore().workloadLine(a.report.workload), diffLink: (s) => commandLink(argsFor(a, s)) }));
      md.isTrusted = { enabledCommands: [SHOW_SITE_REWRITE] };
      return new vscode.Hover(md, rangeOf(document, match.nameSpan));
    } catch (err) {
      // One file's failure stays with that file; the log has the details.
      log().error(`Modeling hover in ${document.uri.toString()}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return undefined;
    }
  }
}

class ModelingCodeLensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (!enabled('codeLens')) return [];
    try {
      const a = await analyze(document);
      if (!a) return [];
      const lenses: vscode.CodeLens[] = [];
      for (const summary of summarizeFunctions(a.scan, a.matches)) {
        const range = rangeOf(document, summary.fn.nameSpan);
        lenses.push(new vscode.CodeLens(range, { title: lensTitle(summary, a.report.hardware.name), command: 'deferredNorm.profileModel', arguments: [vscode.Uri.file(a.configPath)], tooltip: 'Open the report of this model' }));
        // One site: its own rewrite; several: the whole layer as one listing, where they sit together.
        const kind = summary.layerKinds[0]!;
        const target = kind.sites.length === 1 ? { layerKind: kind.layerKind, layerKindLabel: kind.layerKindLabel, layerCount: kind.layerCount, site: kind.sites[0]! } : { layerKind: kind.layerKind, site: null, label: `${kind.layerKind} layer` };
        lenses.push(new vscode.CodeLens(range, { title: 'Show rewrite', command: SHOW_SITE_REWRITE, arguments: [argsFor(a, target)], tooltip: 'Open the baseline and deferred code side by side' }));
      }
      return lenses;
    } catch (err) {
      log().error(`Modeling CodeLens in ${document.uri.toString()}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return [];
    }
  }
}

export const EXPORT_PYTORCH_PATCH = 'deferredNorm.exportPytorchPatch';

/** A quick fix on a site the file calls or defines: export the PyTorch patch of the model beside it. */
class ModelingCodeActionProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  async provideCodeActions(document: vscode.TextDocument, range: vscode.Range | vscode.Selection): Promise<vscode.CodeAction[]> {
    try {
      const a = await analyze(document);
      if (!a) return [];
      const start = document.offsetAt(range.start);
      const end = document.offsetAt(range.end);
      const here = a.matches.find((m) => m.at !== 'softmax' && m.span.start <= end && start <= m.span.end);
      if (!here) return [];
      const action = new vscode.CodeAction(`Export PyTorch patch for ${modelTitle(a.configPath)} (deferred_norm_patch.py)`, vscode.CodeActionKind.QuickFix);
      action.command = { command: EXPORT_PYTORCH_PATCH, title: 'Export PyTorch Patch…', arguments: [vscode.Uri.file(a.configPath)] };
      return [action];
    } catch (err) {
      log().error(`Modeling code action in ${document.uri.toString()}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return [];
    }
  }
}

/** The command: from a hover's or lens's arguments, else the site under the cursor. */
async function showSiteRewrite(arg?: unknown): Promise<void> {
  let args = arg === undefined ? null : parseSiteRewriteArgs(arg);
  if (arg !== undefined && !args) throw new Error(`${SHOW_SITE_REWRITE}: unexpected arguments ${JSON.stringify(arg)}`);
  if (!args) {
    const editor = vscode.window.activeTextEditor;
    const a = editor && editor.document.languageId === 'python' ? await analyze(editor.document) : undefined;
    const match = a && editor && matchAt(a.matches, editor.document.offsetAt(editor.selection.active));
    if (!a || !match) {
      void vscode.window.showInformationMessage('Deferred Norm: put the cursor on a norm call or softmax in modeling code beside a model config.');
      return;
    }
    args = argsFor(a, match.sites[0]!);
  }
  await openPseudocodeDiff({ modelPath: args.modelPath, hardware: args.hardware, workload: args.workload, layerKind: args.layerKind, site: args.site }, args.label);
}

/** Registers the modeling-code hover, CodeLens and command; called once from activate(). */
export function registerModelingFeatures(context: vscode.ExtensionContext): void {
  const selector: vscode.DocumentSelector = { language: 'python', scheme: 'file' };
  const lenses = new ModelingCodeLensProvider();
  context.subscriptions.push(
    vscode.languages.registerHoverProvider(selector, new ModelingHoverProvider()),
    vscode.languages.registerCodeLensProvider(selector, lenses),
    vscode.languages.registerCodeActionsProvider(selector, new ModelingCodeActionProvider(), { providedCodeActionKinds: ModelingCodeActionProvider.kinds }),
    vscode.commands.registerCommand(SHOW_SITE_REWRITE, async (arg?: unknown) => {
      try {
        await showSiteRewrite(arg);
      } catch (err) {
        reportError(err, SHOW_SITE_REWRITE);
      }
    }),
    vscode.workspace.onDidCloseTextDocument((doc) => scans.delete(doc.uri.toString())),
    { dispose: () => worker?.dispose() },
    // Lenses follow the current choice (hardware and workload), and a saved config or hardware profile.
    onDidChangeChoice(() => lenses.refresh()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('deferredNorm')) lenses.refresh();
    }),
    vscode.workspace.onDidSaveTextDocument((doc) => {
      const name = doc.uri.fsPath.toLowerCase();
      if (name.endsWith('config.json') || name.endsWith('.hardware.json')) {
        reports.clear(); // a hardware profile file is keyed by its URI, not its contents
        lenses.refresh();
      }
    }),
  );
}
