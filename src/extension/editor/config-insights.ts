/**
 * The editor's analyses of config.json documents, one per document version: cached, debounced after
 * an edit, run on the worker threads (analysis-client.ts), dropped when settings or the hardware
 * change. The providers in config-features.ts read them.
 */
import * as vscode from 'vscode';
import { askHardwareOnFirstUse } from '../commands/selectHardware';
import { loadCore } from '../core';
import { chosenHardware, chosenWorkload } from '../choice';
import { resolveHardware } from '../hardware';
import { isInputError, log } from '../log';
import type { HardwareProfile } from '../../core/hardware/profile';
import type { WorkloadInput } from '../../common/protocol';
import type { ConfigAnalysis } from './analysis';
import { AnalysisWorkers, HostStretches, LARGE_TEXT_CHARS, type DocumentSnapshot } from './analysis-client';
import type { FieldRange, KeyAtOffset } from './config-keys';
import type { AnalyzedText } from './worker-protocol';
import { mightBeModelConfig } from './markers';

/** Edits re-profile this long after the last keystroke. */
const DEBOUNCE_MS = 300;

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

/** One document's analysis as the providers read it. */
export interface Entry {
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
export class ConfigInsights implements vscode.Disposable {
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
export async function guard<T>(doing: string, run: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    log().error(`${doing}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return undefined;
  }
}
