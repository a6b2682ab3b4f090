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

/** A document as the host holds it. */
export interface DocumentSnapshot {
  uri: string;
  version: number;
  path: string;
  text: string;
}

export interface WorkerOptions {
  /** The worker's script (dist/editor-worker.js in the extension). */
  script: string;
  /** Node options for the worker (the unit tests load the TypeScript source through tsx). */
  execArgv?: string[];
  jobLimitMs?: number;
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
  async analyze(doc: DocumentSnapshot, hardware: HardwareProfile | null, hardwareError: string | null, input: WorkloadInput, token?: CancelToken): Promise<AnalyzedText | undefined> {
    const reply = await this.request((id) => ({ kind: 'analyze', id, doc: this.documentText(doc), hardware, hardwareError, input }), 'analyzed', token);
    return reply?.result;
  }

  /** The key under an offset of the document's text (null: none); undefined when canceled. */
  async keyAt(doc: DocumentSnapshot, offset: number, token?: CancelToken): Promise<KeyAtOffset | null | undefined> {
    const reply = await this.request((id) => ({ kind: 'keyAt', id, doc: this.documentText(doc), offset }), 'keyAt', token);
    return reply === undefined ? undefined : reply.key;
  }

  forget(uri: string): void {
    this.worker?.thread.postMessage({ kind: 'forget', uri } satisfies HostToWorker);
  }

  dispose(): void {
    this.stop(new Error('the analysis worker was disposed'));
  }

  private documentText(doc: DocumentSnapshot): DocumentText {
    return { uri: doc.uri, version: doc.version, path: doc.path, utf8: this.encoder.encode(doc.text) };
  }

  private request<K extends WorkerToHost['kind']>(message: (id: number) => HostToWorker & { id: number }, answer: K, token?: CancelToken): Promise<Answer<K> | undefined> {
    if (token?.isCancellationRequested) return Promise.resolve(undefined);
    const worker = this.start();
    const id = this.nextId++;
    const sent = message(id);
    const transfer = 'doc' in sent ? [sent.doc.utf8.buffer as ArrayBuffer] : [];
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
      worker.thread.postMessage(sent, transfer);
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
