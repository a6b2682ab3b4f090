/**
 * Modeling code beside a config: hovers on norm calls and softmax → ·V, a CodeLens above
 * each function that calls sites, and the command that opens a site's rewrite as a diff.
 * Registering costs nothing: the editor worker, and the parser in it (two wasm files), start the
 * first time a Python file inside a model folder is asked about.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { Report } from '../../core/report/types';
import { parseWorkloadInput, type WorkloadInput } from '../../common/protocol';
import { AnalysisWorker, HostStretches, type DocumentSnapshot } from '../editor/analysis-client';
import { loadCore } from '../core';
import { openPseudocodeDiff } from '../documents';
import { chosenHardware, chosenWorkload, onDidChangeChoice } from '../choice';
import { resolveHardware } from '../hardware';
import { log, reportError } from '../log';
import { modelTitle } from '../model-files';
import { hoverMarkdown, lensTitle } from './hover-text';
import { matchAt, matchSites, summarizeFunctions, type FunctionSummary, type SiteInLayerKind, type SiteMatch } from './match';
import type { ModelingScan, ParserWasmFiles } from './scan-types';

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

// ---- the worker: the config's report and the file's tree-sitter scan, off the host's thread ----

/**
 * The editor worker (editor/worker.ts) reads and profiles the config beside the code (as large or
 * absurd as any other file) and parses the Python file (1.6 MB: 0.9–5.7 s of parse and query on a busy 2-core machine): the
 * host only reads the text in pieces, posts it and matches the answer (issue 16).
 */
let worker: AnalysisWorker | undefined;
/** The longest stretch the modeling hints have held the host's thread (the extension-host tests read it). */
const stretches = new HostStretches();

const workerOf = (): AnalysisWorker => (worker ??= new AnalysisWorker({ script: join(__dirname, 'editor-worker.js'), stretches }));

/** web-tree-sitter's runtime and the Python grammar, copied beside the bundles (esbuild.config.mjs). */
const parserFiles = (): ParserWasmFiles => ({ runtime: join(__dirname, 'tree-sitter.wasm'), grammar: join(__dirname, 'tree-sitter-python.wasm') });

/**
 * Python files longer than this get no hints: real modeling files are 10–200 KB, and the worker's
 * parse grows with the text (0.9–5.7 s for 1.6 MB on a busy 2-core machine).
 */
export const MODELING_TEXT_CAP = 2 * 1024 * 1024;

/** The document, read a range at a time (never joined whole on the host's thread). */
function snapshotOf(doc: vscode.TextDocument): DocumentSnapshot {
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  const read = (start: number, stop: number): string => doc.getText(new vscode.Range(doc.positionAt(start), doc.positionAt(stop)));
  const version = doc.version;
  return { uri: doc.uri.toString(), version, path: doc.uri.fsPath, length: doc.offsetAt(end), read, stale: () => doc.version !== version };
}

/** Scans by document URI, one version each: the hover, lenses and quick fix of a version share one parse. */
const scans = new Map<string, { version: number; scan: Promise<ModelingScan | undefined>; cancel(): void }>();

/** The scan of the document's current version; undefined when it is too long, or a newer version replaced it. */
function scanOf(document: vscode.TextDocument): Promise<ModelingScan | undefined> {
  const key = document.uri.toString();
  const kept = scans.get(key);
  if (kept && kept.version === document.version) return kept.scan;
  // A newer version: the older one's parse stops where it is, in the worker.
  kept?.cancel();
  const snapshot = stretches.time('measure the text', () => snapshotOf(document));
  if (snapshot.length > MODELING_TEXT_CAP) return Promise.resolve(undefined);
  const source = new vscode.CancellationTokenSource();
  const scan = workerOf()
    .scan(snapshot, parserFiles(), source.token)
    .then((answer) => {
      if (!answer) return undefined;
      const { timings: t, init } = answer;
      if (init) log().info(`Python parser ready in the editor worker (runtime ${init.runtimeMs.toFixed(0)} ms, grammar ${init.grammarMs.toFixed(0)} ms, query compile ${init.queryCompileMs.toFixed(0)} ms)`);
      log().debug(`${vscode.workspace.asRelativePath(document.uri)} v${snapshot.version}: parse ${t.parseMs.toFixed(1)} ms, query ${t.queryMs.toFixed(1)} ms (editor worker)`);
      return answer.scan;
    })
    .finally(() => source.dispose());
  const entry = { version: snapshot.version, scan, cancel: () => source.cancel() };
  scans.set(key, entry);
  // Neither a canceled nor a failed scan is kept: the next request for the version tries again.
  const drop = (): void => {
    if (scans.get(key) === entry) scans.delete(key);
  };
  scan.then((found) => found ?? drop(), drop);
  return scan;
}

function forgetScan(uri: vscode.Uri): void {
  const key = uri.toString();
  scans.get(key)?.cancel();
  scans.delete(key);
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

/** The report of a config, or null when the config is not a model the core reads (logged once per file state). */
function reportOf(configPath: string, mtimeMs: number, hardware: string, workload: WorkloadInput): Promise<Report | null> {
  const key = JSON.stringify([configPath, mtimeMs, hardware, workload]);
  let report = reports.get(key);
  if (!report) {
    report = (async () => {
      try {
        const answer = await workerOf().report(configPath, await resolveHardware(hardware), hardware, workload);
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

/** The matches of a scan against a report, worked out once per pair. */
const matchesOfScan = new WeakMap<ModelingScan, { report: Report; matches: SiteMatch[] }>();

function matchesOf(scan: ModelingScan, report: Report): SiteMatch[] {
  const kept = matchesOfScan.get(scan);
  if (kept?.report === report) return kept.matches;
  const matches = stretches.time('match the sites', () => matchSites(scan, report));
  matchesOfScan.set(scan, { report, matches });
  return matches;
}

/** Everything a hover or lens needs for one document, or undefined when it is not modeling code of a model (or the ask was canceled). */
async function analyze(document: vscode.TextDocument, token?: vscode.CancellationToken): Promise<Analysis | undefined> {
  const config = await configBeside(document.uri);
  if (!config || token?.isCancellationRequested) return undefined;
  const hardware = chosenHardware();
  const workload = chosenWorkload();
  const report = await reportOf(config.path, config.mtimeMs, hardware, workload);
  if (!report || token?.isCancellationRequested) return undefined;
  const scan = await scanOf(document);
  if (!scan || token?.isCancellationRequested) return undefined;
  return { configPath: config.path, hardware, workload, report, scan, matches: matchesOf(scan, report) };
}

/**
 * Where a modeling file calls a site of `report` (a norm module's call, or the softmax multiplied with V),
 * or undefined: no such call, or a file over MODELING_TEXT_CAP. The report panel's site links use it.
 */
export async function siteCallIn(document: vscode.TextDocument, report: Report, layerKind: string, site: string): Promise<vscode.Range | undefined> {
  // scanOf leaves out a file over MODELING_TEXT_CAP, and a scan canceled by a newer version.
  const scan = await scanOf(document);
  if (!scan) return undefined;
  const matches = matchSites(scan, report);
  const call = matches.find((m) => m.at !== 'definition' && m.sites.some((s) => s.layerKind === layerKind && s.site.id === site));
  return call && rangeOf(document, call.span);
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
  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    if (!enabled('hover')) return undefined;
    try {
      const a = await analyze(document, token);
      if (!a) return undefined;
      return stretches.time('write the hover', () => {
        const match = matchAt(a.matches, document.offsetAt(position));
        if (!match) return undefined;
        const md = new vscode.MarkdownString(hoverMarkdown(match, { report: a.report, workloadLine: loadCore().workloadLine(a.report.workload), diffLink: (s) => commandLink(argsFor(a, s)) }));
        md.isTrusted = { enabledCommands: [SHOW_SITE_REWRITE] };
        return new vscode.Hover(md, rangeOf(document, match.nameSpan));
      });
    } catch (err) {
      // One file's failure stays with that file; the log has the details.
      log().error(`Modeling hover in ${document.uri.toString()}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return undefined;
    }
  }
}

/** A lens whose command is written when VS Code shows it (resolveCodeLens): a large file has thousands. */
class SiteLens extends vscode.CodeLens {
  constructor(
    range: vscode.Range,
    readonly commandOf: () => vscode.Command,
  ) {
    super(range);
  }
}

class ModelingCodeLensProvider implements vscode.CodeLensProvider<SiteLens> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<SiteLens[]> {
    if (!enabled('codeLens')) return [];
    try {
      const a = await analyze(document, token);
      if (!a) return [];
      const summaries = stretches.time('summarize for the lenses', () => summarizeFunctions(a.scan, a.matches));
      return (await lensesOf(document, a, summaries, token)) ?? [];
    } catch (err) {
      log().error(`Modeling CodeLens in ${document.uri.toString()}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return [];
    }
  }

  resolveCodeLens(lens: SiteLens): SiteLens {
    lens.command = stretches.time('write a lens', lens.commandOf);
    return lens;
  }
}

/** Functions whose lenses are placed in one turn of the host's event loop (a 1.6 MB file has 900). */
const LENS_CHUNK = 100;

/** Two lenses per function, placed a chunk per turn; undefined when the ask is canceled meanwhile. */
async function lensesOf(document: vscode.TextDocument, a: Analysis, summaries: FunctionSummary[], token: vscode.CancellationToken): Promise<SiteLens[] | undefined> {
  const lenses: SiteLens[] = [];
  for (let from = 0; from < summaries.length; from += LENS_CHUNK) {
    if (from > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (token.isCancellationRequested) return undefined;
    }
    stretches.time('place the lenses', () => {
      for (const summary of summaries.slice(from, from + LENS_CHUNK)) {
        const range = rangeOf(document, summary.fn.nameSpan);
        lenses.push(new SiteLens(range, () => ({ title: lensTitle(summary, a.report.hardware.name), command: 'deferredNorm.profileModel', arguments: [vscode.Uri.file(a.configPath)], tooltip: 'Open the report of this model' })));
        // One site: its own rewrite; several: the whole layer as one listing, where they sit together.
        const kind = summary.layerKinds[0]!;
        const target = kind.sites.length === 1 ? { layerKind: kind.layerKind, layerKindLabel: kind.layerKindLabel, layerCount: kind.layerCount, site: kind.sites[0]! } : { layerKind: kind.layerKind, site: null, label: `${kind.layerKind} layer` };
        lenses.push(new SiteLens(range, () => ({ title: 'Show rewrite', command: SHOW_SITE_REWRITE, arguments: [argsFor(a, target)], tooltip: 'Open the baseline and deferred code side by side' })));
      }
    });
  }
  return lenses;
}

export const EXPORT_PYTORCH_PATCH = 'deferredNorm.exportPytorchPatch';

/** A quick fix on a site the file calls or defines: export the PyTorch patch of the model beside it. */
class ModelingCodeActionProvider implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  async provideCodeActions(document: vscode.TextDocument, range: vscode.Range | vscode.Selection, _context: vscode.CodeActionContext, token: vscode.CancellationToken): Promise<vscode.CodeAction[]> {
    try {
      const a = await analyze(document, token);
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

/** Registers the modeling-code hover, CodeLens and command; called once from activate(). Returns the host-thread stretches it records. */
export function registerModelingFeatures(context: vscode.ExtensionContext): HostStretches {
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
    vscode.workspace.onDidCloseTextDocument((doc) => forgetScan(doc.uri)),
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
  return stretches;
}
