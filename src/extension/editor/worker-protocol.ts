/**
 * The messages between the extension host and the analysis worker (worker.ts), one discriminated
 * union each way. Everything in them is plain data (structured-cloned); a document's text travels as
 * UTF-8 bytes in transferred buffers, so handing it over costs the host an encode, not a copy.
 */
import type { HardwareProfile } from '../../core/hardware/profile';
import type { WorkloadInput } from '../../common/protocol';
import type { AnalysisOutcome } from './analysis';
import type { FieldRange, KeyAtOffset } from './config-keys';
import type { Report } from '../../core/report/types';
import type { ModelingScan, ParserInitTimings, ParserWasmFiles, ScanTimings } from '../modeling/scan-types';

/** A document as the worker sees it: its identity, version and text. */
export interface DocumentText {
  uri: string;
  version: number;
  /** The file's path, as the core names it in messages. */
  path: string;
  /** The text as UTF-8, in pieces (analysis-client.ts encodes it a piece per turn; transferred, not copied). */
  utf8: Uint8Array[];
}

export type HostToWorker =
  | {
      kind: 'analyze';
      id: number;
      doc: DocumentText;
      /** The chosen hardware, or null when its profile file is broken (hardwareError says why). */
      hardware: HardwareProfile | null;
      hardwareError: string | null;
      input: WorkloadInput;
    }
  | { kind: 'keyAt'; id: number; doc: DocumentText; offset: number }
  /** The report of a model config on disk, for the modeling-code hints beside it (modeling/features.ts). */
  | { kind: 'report'; id: number; configPath: string; hardware: HardwareProfile; hardwareId: string; workload: WorkloadInput }
  /** The tree-sitter scan of a Python modeling file (modeling/features.ts); `parser` locates its wasm files. */
  | { kind: 'scan'; id: number; doc: DocumentText; parser: ParserWasmFiles }
  /** The document was closed: drop what is kept of it. */
  | { kind: 'forget'; uri: string };

/** On the cancellation port, read between the stages of a job (receiveMessageOnPort). */
export interface CancelMessage {
  kind: 'cancel';
  id: number;
}

/** An analysis, with where each problem sits in the text (null: not in the text). */
export interface AnalyzedText {
  outcome: AnalysisOutcome;
  /** One per problem of a model outcome, in order. */
  ranges: (FieldRange | null)[];
}

export type WorkerToHost =
  | { kind: 'analyzed'; id: number; result: AnalyzedText }
  | { kind: 'keyAt'; id: number; key: KeyAtOffset | null }
  /** The report, or why there is none (the core's one line). */
  | { kind: 'report'; id: number; report: Report | null; error: string | null }
  /** The scan's candidates for matching (modeling/match.ts candidatesOf); `init` is the parser's start-up, on the job that started it (null after). */
  | { kind: 'scanned'; id: number; scan: ModelingScan; timings: ScanTimings; init: ParserInitTimings | null }
  | { kind: 'canceled'; id: number }
  | { kind: 'failed'; id: number; message: string };
