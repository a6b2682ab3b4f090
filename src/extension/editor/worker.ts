/**
 * The analysis worker (dist/editor-worker.js, a worker_threads Worker started by analysis-client.ts):
 * parses and profiles a model config, and finds keys and problem ranges in its text, off the
 * extension host's thread, so that no file, however large or absurd, stalls every extension's
 * hovers and commands; and, for the modeling-code hints, reads and profiles the config beside a Python
 * file and parses the file with tree-sitter (a 1.6 MB file takes 0.9–5.7 s). Jobs run
 * in order (a report's file read may let the next one start); a job whose id arrives on the
 * cancellation port stops at the next stage boundary, or within milliseconds inside a tree-sitter parse.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Node } from 'jsonc-parser';
import { InputError } from '../../core/errors';
import { DEFAULT_HARDWARE, getPreset } from '../../core/hardware/presets';
import { loadModel } from '../../core/model/load';
import { buildPanelView } from '../../common/panel-view';
import { analyzeConfigText } from './analysis';
import { fieldRangeIn, keyAtIn, treeOf } from './config-keys';
import { mightBeModelConfig } from './markers';
import { candidatesOf } from '../modeling/match';
import type { ModelingParser, ParserWasmFiles } from '../modeling/scan-types';
import type { AnalyzedText, CancelMessage, DocumentText, HostToWorker, WorkerToHost } from './worker-protocol';

/** Syntax trees kept for hovers: the last version of this many documents. */
const TREES_KEPT = 4;

const port = parentPort;
if (!port) throw new Error('editor-worker.js runs as a worker thread');
const cancelPort = (workerData as { cancelPort: MessagePort }).cancelPort;

const canceled = new Set<number>();
const trees = new Map<string, { version: number; tree: Node | undefined }>();
const decoder = new TextDecoder();

class Canceled extends Error {}

function readCancellations(): void {
  for (let m = receiveMessageOnPort(cancelPort); m; m = receiveMessageOnPort(cancelPort)) canceled.add((m.message as CancelMessage).id);
}

/** Reads the cancellations posted so far, and stops the job if it is one of them. */
function checkpoint(id: number): void {
  readCancellations();
  if (canceled.delete(id)) throw new Canceled();
}

/** How often a tree-sitter parse looks at the cancellation port: its callback runs far more often than that. */
const PARSE_POLL_MS = 2;

/** For tree-sitter's progress callback: true once the job is canceled (and from then on). */
function cancellationOf(id: number): () => boolean {
  let lastPoll = performance.now();
  return () => {
    const now = performance.now();
    if (now - lastPoll >= PARSE_POLL_MS) {
      lastPoll = now;
      readCancellations();
    }
    return canceled.has(id);
  };
}

// The Python parser is loaded on the first scan only: the config features never pay for it.
let parser: Promise<ModelingParser> | undefined;
let parserStarted = false;

function loadParser(files: ParserWasmFiles): Promise<ModelingParser> {
  parser ??= (async () => {
    // A require inside the function: esbuild bundles the module but runs it on this first call only.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require('../modeling/python-scan') as typeof import('../modeling/python-scan');
    return module.createModelingParser(files);
  })();
  // A failed load may be retried by the next scan.
  parser.catch(() => (parser = undefined));
  return parser;
}

function textOf(doc: DocumentText): string {
  return doc.utf8.map((piece) => decoder.decode(piece)).join('');
}

/** The document's syntax tree, parsed once per version. */
function treeOfDocument(doc: DocumentText, text: string): Node | undefined {
  const kept = trees.get(doc.uri);
  if (kept && kept.version === doc.version) return kept.tree;
  const tree = treeOf(text);
  trees.delete(doc.uri);
  trees.set(doc.uri, { version: doc.version, tree });
  while (trees.size > TREES_KEPT) trees.delete(trees.keys().next().value!);
  return tree;
}

async function handle(message: HostToWorker): Promise<WorkerToHost | undefined> {
  switch (message.kind) {
    case 'report': {
      checkpoint(message.id);
      try {
        const spec = await loadModel(message.configPath);
        checkpoint(message.id);
        const view = buildPanelView(spec, message.hardware, message.workload, { hardware: message.hardwareId, hardwareChoices: [], interactive: false, numerics: null, sweep: null });
        return { kind: 'report', id: message.id, report: view.report, error: null };
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        return { kind: 'report', id: message.id, report: null, error: err.message };
      }
    }
    case 'scan': {
      checkpoint(message.id);
      const loaded = await loadParser(message.parser);
      const init = parserStarted ? null : loaded.initTimings;
      parserStarted = true;
      checkpoint(message.id);
      const stop = cancellationOf(message.id);
      const result = loaded.scan(textOf(message.doc), stop);
      canceled.delete(message.id);
      if (!result) throw new Canceled();
      return { kind: 'scanned', id: message.id, scan: candidatesOf(result.scan), timings: result.timings, init };
    }
    case 'forget':
      trees.delete(message.uri);
      return undefined;
    case 'keyAt': {
      checkpoint(message.id);
      const text = textOf(message.doc);
      return { kind: 'keyAt', id: message.id, key: keyAtIn(treeOfDocument(message.doc, text), message.offset) ?? null };
    }
    case 'analyze': {
      checkpoint(message.id);
      const { doc } = message;
      const text = textOf(doc);
      // The host looks for a model key only in texts under LARGE_TEXT_CHARS; the rest are looked at here.
      if (!mightBeModelConfig(text)) return { kind: 'analyzed', id: message.id, result: { outcome: { kind: 'not-a-model' }, ranges: [] } };
      const outcome = analyzeConfigText(text, doc.path, message.hardware ?? getPreset(DEFAULT_HARDWARE), message.input);
      let result: AnalyzedText = { outcome, ranges: [] };
      if (outcome.kind === 'model') {
        const { analysis } = outcome;
        if (message.hardwareError !== null) {
          // A broken hardware profile file: every model says so instead of a figure.
          result = { outcome: { kind: 'model', analysis: { ...analysis, figures: null, error: { message: message.hardwareError, field: '', kind: 'invalid', inFile: false } } }, ranges: [] };
        }
        if (analysis.problems.length > 0) {
          checkpoint(message.id);
          const tree = treeOfDocument(doc, text);
          result.ranges = analysis.problems.map((p) => fieldRangeIn(tree, p.path, text));
        }
      }
      return { kind: 'analyzed', id: message.id, result };
    }
  }
}

port.on('message', async (message: HostToWorker) => {
  let reply: WorkerToHost | undefined;
  try {
    reply = await handle(message);
  } catch (err) {
    if (message.kind === 'forget') return;
    reply = err instanceof Canceled ? { kind: 'canceled', id: message.id } : { kind: 'failed', id: message.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  if (reply) port.postMessage(reply);
});
