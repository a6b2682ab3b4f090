/**
 * The extension host's side of the analysis worker (worker.ts): sends a document's text, awaits the
 * answer, cancels what is no longer wanted. The host thread only encodes the text and posts it; the
 * parse, the profile and every walk over the text happen in the worker. No vscode import: the unit
 * tests drive it in plain Node.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { HardwareProfile } from '../../core/hardware/profile';
import type { WorkloadInput } from '../../common/protocol';
import type { KeyAtOffset } from './config-keys';
import type { Report } from '../../core/report/types';
import type { ParserWasmFiles } from '../modeling/scan-types';
import type { AnalyzedText, CancelMessage, DocumentText, HostToWorker, WorkerToHost } from './worker-protocol';

/**
 * A job the worker has not answered in this long means it is stuck: the worker is replaced. Files are
 * capped at 16 MiB, which the worker parses and profiles in a second or two.
 */
export const JOB_LIMIT_MS = 30_000;

/** What a provider's cancellation token offers (vscode.CancellationToken fits). */
export interface CancelToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

/**
 * A document as the host holds it: its length, and its text read a range at a time (VS Code joins a
 * document's lines into one string on every getText(): for a 16 MB file, a stretch of the host's
 * thread that a range read of one piece never takes).
 */
export interface DocumentSnapshot {
  uri: string;
  version: number;
  path: string;
  length: number;
  /** The text in [start, end). */
  read(start: number, end: number): string;
  /** True once the document has changed since (its pieces would no longer make one text). */
  stale?(): boolean;
}

/** A snapshot of a text already in hand. */
export function snapshotOfText(uri: string, version: number, path: string, text: string): DocumentSnapshot {
  return { uri, version, path, length: text.length, read: (start, end) => text.slice(start, end) };
}

/**
 * The longest synchronous stretch the editor's analysis has spent on the host's thread, measured
 * around each piece of host-side work (read and look at the text, encode a piece, post, take the
 * answer). The extension-host tests read it beside a heartbeat that also sees VS Code's own work.
 */
export class HostStretches {
  longestMs = 0;
  /** What the longest stretch was doing. */
  longestWhat = '';

  time<T>(what: string, run: () => T): T {
    const started = performance.now();
    try {
      return run();
    } finally {
      const ms = performance.now() - started;
      if (ms > this.longestMs) {
        this.longestMs = ms;
        this.longestWhat = what;
      }
    }
  }
}

/**
 * Characters encoded per turn of the host's event loop: a few milliseconds each. Encoding a 16 MB
 * text at once held the extension host for 70–90 ms; a 256K piece took 14 ms on a quiet machine and
 * 65 ms with both cores busy, so pieces are a quarter of that.
 */
export const ENCODE_PIECE_CHARS = 64 * 1024;

/**
 * The text as UTF-8 in pieces of at most ENCODE_PIECE_CHARS characters (a surrogate pair is never
 * split), yielding to the event loop between pieces, so that no stretch of the host's thread grows
 * with the text. Undefined when the token is canceled or the document changes meanwhile.
 */
export async function encodeInPieces(doc: DocumentSnapshot, encoder: TextEncoder, token?: CancelToken, stretches = new HostStretches()): Promise<Uint8Array[] | undefined> {
  const pieces: Uint8Array[] = [];
  let start = 0;
  do {
    const from = start;
    const to = Math.min(doc.length, start + ENCODE_PIECE_CHARS);
    pieces.push(
      stretches.time('read and encode a piece', () => {
        let text = doc.read(from, to);
        const last = text.charCodeAt(text.length - 1);
        // A high surrogate last: its pair goes into this piece too.
        if (to < doc.length && last >= 0xd800 && last <= 0xdbff) text += doc.read(to, to + 1);
        start = from + text.length;
        return encoder.encode(text);
      }),
    );
    if (start < doc.length) {
      await new Promise((resolve) => setImmediate(resolve));
      if (token?.isCancellationRequested || doc.stale?.()) return undefined;
    }
  } while (start < doc.length);
  return pieces;
}

export interface WorkerOptions {
  /** The worker's script (dist/editor-worker.js in the extension). */
  script: string;
  /** Node options for the worker (the unit tests load the TypeScript source through tsx). */
  execArgv?: string[];
  jobLimitMs?: number;
  /** Where the host-side stretches are recorded. */
  stretches?: HostStretches;
}

interface Job {
  resolve(reply: WorkerToHost): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

type Answer<K extends WorkerToHost['kind']> = Extract<WorkerToHost, { kind: K }>;

export class AnalysisWorker {
  private worker: { thread: Worker; cancel: MessagePort } | undefined;
  private nextId = 1;
  private readonly jobs = new Map<number, Job>();
  private readonly encoder = new TextEncoder();
  /** Workers started so far (a stuck one is replaced). */
  started = 0;

  constructor(private readonly options: WorkerOptions) {}

  /** The analysis of a document's text; undefined when canceled. */
  async analyze(snapshot: DocumentSnapshot, hardware: HardwareProfile | null, hardwareError: string | null, input: WorkloadInput, token?: CancelToken): Promise<AnalyzedText | undefined> {
    const doc = await this.documentText(snapshot, token);
    const reply = doc && (await this.request((id) => ({ kind: 'analyze', id, doc, hardware, hardwareError, input }), 'analyzed', token));
    return reply?.result;
  }

  /** The key under an offset of the document's text (null: none); undefined when canceled. */
  async keyAt(snapshot: DocumentSnapshot, offset: number, token?: CancelToken): Promise<KeyAtOffset | null | undefined> {
    const doc = await this.documentText(snapshot, token);
    const reply = doc && (await this.request((id) => ({ kind: 'keyAt', id, doc, offset }), 'keyAt', token));
    return reply === undefined ? undefined : reply.key;
  }

  /** The report of a model config on disk (null with the core's message when it reads none); undefined when canceled. */
  async report(configPath: string, hardware: HardwareProfile, hardwareId: string, workload: WorkloadInput, token?: CancelToken): Promise<{ report: Report | null; error: string | null } | undefined> {
    const reply = await this.request((id) => ({ kind: 'report', id, configPath, hardware, hardwareId, workload }), 'report', token);
    return reply && { report: reply.report, error: reply.error };
  }

  /** The tree-sitter scan of a Python file's text, with the worker's timings; undefined when canceled. */
  async scan(snapshot: DocumentSnapshot, parser: ParserWasmFiles, token?: CancelToken): Promise<Omit<Answer<'scanned'>, 'kind' | 'id'> | undefined> {
    const doc = await this.documentText(snapshot, token);
    const reply = doc && (await this.request((id) => ({ kind: 'scan', id, doc, parser }), 'scanned', token));
    return reply && { scan: reply.scan, timings: reply.timings, init: reply.init };
  }

  forget(uri: string): void {
    this.worker?.thread.postMessage({ kind: 'forget', uri } satisfies HostToWorker);
  }

  dispose(): void {
    this.stop(new Error('the analysis worker was disposed'));
  }

  /** The snapshot as the worker takes it: its text as UTF-8 pieces; undefined when canceled meanwhile. */
  private async documentText(doc: DocumentSnapshot, token?: CancelToken): Promise<DocumentText | undefined> {
    const utf8 = await encodeInPieces(doc, this.encoder, token, this.options.stretches);
    return utf8 && { uri: doc.uri, version: doc.version, path: doc.path, utf8 };
  }

  private request<K extends WorkerToHost['kind']>(message: (id: number) => HostToWorker & { id: number }, answer: K, token?: CancelToken): Promise<Answer<K> | undefined> {
    if (token?.isCancellationRequested) return Promise.resolve(undefined);
    const worker = this.start();
    const id = this.nextId++;
    const sent = message(id);
    const transfer = 'doc' in sent ? sent.doc.utf8.map((piece) => piece.buffer as ArrayBuffer) : [];
    return new Promise<Answer<K> | undefined>((resolve, reject) => {
      const onCancel = token?.onCancellationRequested(() => worker.cancel.postMessage({ kind: 'cancel', id } satisfies CancelMessage));
      const done = (): void => {
        clearTimeout(this.jobs.get(id)?.timer);
        this.jobs.delete(id);
        onCancel?.dispose();
      };
      const timer = setTimeout(() => {
        // Stuck (should not happen: the inputs are capped); a fresh worker takes the next job.
        this.stop(new Error(`the analysis of a document took over ${(this.options.jobLimitMs ?? JOB_LIMIT_MS) / 1000} s; the worker was restarted`));
      }, this.options.jobLimitMs ?? JOB_LIMIT_MS);
      this.jobs.set(id, {
        timer,
        reject: (err) => {
          done();
          reject(err);
        },
        resolve: (reply) => {
          done();
          if (reply.kind === 'canceled') resolve(undefined);
          else if (reply.kind === 'failed') reject(new Error(reply.message));
          else if (reply.kind === answer) resolve(reply as Answer<K>);
          else reject(new Error(`the analysis worker answered ${reply.kind} to a ${sent.kind} request`));
        },
      });
      const post = (): void => worker.thread.postMessage(sent, transfer);
      if (this.options.stretches) this.options.stretches.time('post to the worker', post);
      else post();
    });
  }

  private start(): { thread: Worker; cancel: MessagePort } {
    if (this.worker) return this.worker;
    const channel = new MessageChannel();
    const thread = new Worker(this.options.script, { workerData: { cancelPort: channel.port2 }, transferList: [channel.port2], execArgv: this.options.execArgv });
    const worker = { thread, cancel: channel.port1 };
    thread.on('message', (reply: WorkerToHost) => this.jobs.get(reply.id)?.resolve(reply));
    thread.on('error', (err) => this.stop(err));
    thread.on('exit', (code) => {
      if (this.worker === worker) this.stop(new Error(`the analysis worker exited (code ${code})`));
    });
    // The worker never keeps the host's process alive by itself.
    thread.unref();
    this.worker = worker;
    this.started++;
    return worker;
  }

  /** Ends the worker and fails the jobs it held; the next request starts a new one. */
  private stop(err: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const job of [...this.jobs.values()]) job.reject(err);
    if (worker) {
      worker.cancel.close();
      void worker.thread.terminate();
    }
  }
}

/**
 * Texts longer than this go to a worker of their own: parsing a 16 MB file takes a second or more,
 * and the hovers of ordinary configs (1–100 KB) must not queue behind it.
 */
export const LARGE_TEXT_CHARS = 1024 * 1024;

/** Two workers, each started on its first job: one for large texts, one for the rest. */
export class AnalysisWorkers {
  readonly small: AnalysisWorker;
  readonly large: AnalysisWorker;

  constructor(options: WorkerOptions) {
    this.small = new AnalysisWorker(options);
    this.large = new AnalysisWorker(options);
  }

  for(doc: DocumentSnapshot): AnalysisWorker {
    return doc.length > LARGE_TEXT_CHARS ? this.large : this.small;
  }

  forget(uri: string): void {
    this.small.forget(uri);
    this.large.forget(uri);
  }

  dispose(): void {
    this.small.dispose();
    this.large.dispose();
  }
}
