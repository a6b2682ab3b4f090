/**
 * What the Python scanner finds in a modeling file, as plain data: it crosses from the
 * editor worker's thread (editor/worker.ts) to the extension host's, so no tree-sitter
 * objects. Offsets are UTF-16 code units into the scanned text, as VS Code counts them.
 */

export interface SourceSpan {
  start: number;
  end: number;
}

/** Where a finding sits: the innermost class and function around it (null at module level). */
export interface Enclosing {
  className: string | null;
  functionName: string | null;
}

/** `self.<attribute>(...)`: a call of one of the module's submodules. */
export interface ModuleCall extends Enclosing {
  attribute: string;
  /** The attribute's name, the word a hover lands on. */
  nameSpan: SourceSpan;
  callSpan: SourceSpan;
}

/** `self.<attribute> = Ctor(...)`, usually in `__init__`. */
export interface ModuleDefinition extends Enclosing {
  attribute: string;
  nameSpan: SourceSpan;
  /** Every callee named on the right-hand side (`LlamaRMSNorm`, `nn.LayerNorm`, `nn.Identity`). */
  constructors: string[];
}

/** A softmax whose probabilities (directly or through dropout/casts) are multiplied with V. */
export interface SoftmaxToValue extends Enclosing {
  /** The word `softmax` in the call. */
  nameSpan: SourceSpan;
  callSpan: SourceSpan;
  /** The matmul that consumes the probabilities. */
  matmulSpan: SourceSpan;
}

/** A function definition (a method or a module-level function): CodeLens anchors. */
export interface FunctionDefinition extends Enclosing {
  name: string;
  nameSpan: SourceSpan;
  /** From `def` to the end of the body. */
  span: SourceSpan;
}

export interface ModelingScan {
  calls: ModuleCall[];
  definitions: ModuleDefinition[];
  softmaxes: SoftmaxToValue[];
  functions: FunctionDefinition[];
  /** Every `self.<name>` in the file: evidence that a site's consumers (`q_proj`, `lm_head`) live here. */
  names: string[];
}

export interface ScanTimings {
  parseMs: number;
  queryMs: number;
}

export interface ScanResult {
  scan: ModelingScan;
  timings: ScanTimings;
}

export interface ParserInitTimings {
  runtimeMs: number;
  grammarMs: number;
  queryCompileMs: number;
}

/** The wasm files the parser needs: the runtime's and the Python grammar's. */
export interface ParserWasmFiles {
  runtime: string;
  grammar: string;
}

export interface ModelingParser {
  readonly initTimings: ParserInitTimings;
  /** The scan of a text. */
  scan(source: string): ScanResult;
  /** The same, or undefined when `stop` said true part way (a newer version is wanted). */
  scan(source: string, stop: () => boolean): ScanResult | undefined;
}
