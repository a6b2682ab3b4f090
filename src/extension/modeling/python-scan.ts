/**
 * Finds norm-module calls, their definitions and softmax → ·V in Python source with
 * tree-sitter's Python grammar. Runs in the editor worker (editor/worker.ts), loaded the first
 * time a Python file needs it, so neither the extension host's thread nor activation pays for it.
 */
import type * as WebTreeSitter from 'web-tree-sitter';
import type { FunctionDefinition, ModelingParser, ModelingScan, ModuleCall, ModuleDefinition, ParserWasmFiles, ScanResult, SoftmaxToValue, SourceSpan } from './scan-types';

// A plain require makes esbuild take the package's CommonJS build: its ESM build relies on
// import.meta, which a CJS bundle turns into {} (WEBVIEW.md, "the esbuild trap").
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TS = require('web-tree-sitter') as typeof WebTreeSitter;

type Node = WebTreeSitter.Node;

// `self.<name>` is captured once; whether it is called or assigned is read from its parent,
// which costs less than separate call and assignment patterns (each match crosses the wasm edge).
const QUERY = `
(attribute object: (identifier) @self attribute: (identifier) @attr (#eq? @self "self")) @self.attribute
(call function: [(identifier) @softmax.name (attribute attribute: (identifier) @softmax.name)] (#eq? @softmax.name "softmax")) @softmax
(function_definition name: (identifier) @function.name) @function
`;
const MATMUL_CALLEES = new Set(['matmul', 'bmm']);
/** Matches read between two looks at the stop callback (a few hundred microseconds of work). */
const STOP_CHECK_MATCHES = 64;

// Parser.init replaces the runtime's module: a second call would orphan every parser and
// language made before it, so the runtime starts once per process.
let runtime: Promise<void> | undefined;

export async function createModelingParser(files: ParserWasmFiles): Promise<ModelingParser> {
  let t = performance.now();
  runtime ??= TS.Parser.init({ locateFile: () => files.runtime }).catch((err: unknown) => {
    runtime = undefined; // a later request may try again
    throw err;
  });
  await runtime;
  const runtimeMs = performance.now() - t;
  t = performance.now();
  const language = await TS.Language.load(files.grammar);
  const grammarMs = performance.now() - t;
  t = performance.now();
  const query = new TS.Query(language, QUERY);
  const queryCompileMs = performance.now() - t;
  const parser = new TS.Parser();
  parser.setLanguage(language);
  function scan(source: string): ScanResult;
  function scan(source: string, stop: () => boolean): ScanResult | undefined;
  function scan(source: string, stop?: () => boolean): ScanResult | undefined {
    const t0 = performance.now();
    // tree-sitter calls the progress callback every few hundred steps; true abandons the parse or query.
    const progressCallback = stop && (() => stop());
    const tree = parser.parse(source, null, { progressCallback });
    if (!tree) {
      // A stopped parse would otherwise resume on the next call, whatever text that call passes.
      parser.reset();
      if (stop?.()) return undefined;
      throw new Error('tree-sitter returned no tree');
    }
    const t1 = performance.now();
    try {
      const found = scanTree(tree.rootNode, query, progressCallback);
      // A query stopped part way returns what it found so far: not a scan of the file.
      if (stop?.()) return undefined;
      return { scan: found, timings: { parseMs: t1 - t0, queryMs: performance.now() - t1 } };
    } finally {
      tree.delete(); // wasm memory is not garbage-collected
    }
  }
  return { initTimings: { runtimeMs, grammarMs, queryCompileMs }, scan };
}

const spanOf = (node: Node): SourceSpan => ({ start: node.startIndex, end: node.endIndex });

function enclosing(node: Node): { className: string | null; functionName: string | null; fn: Node | null } {
  let className: string | null = null;
  let functionName: string | null = null;
  let fn: Node | null = null;
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === 'function_definition' && fn === null) {
      fn = n;
      functionName = n.childForFieldName('name')?.text ?? null;
    } else if (n.type === 'class_definition') {
      className = n.childForFieldName('name')?.text ?? null;
      break;
    }
  }
  return { className, functionName, fn };
}

function scanTree(root: Node, query: WebTreeSitter.Query, progressCallback?: () => boolean): ModelingScan {
  const calls: ModuleCall[] = [];
  const definitions: ModuleDefinition[] = [];
  const softmaxes: SoftmaxToValue[] = [];
  const functions: FunctionDefinition[] = [];
  const names = new Set<string>();

  const matches = query.matches(root, { progressCallback });
  for (const [i, match] of matches.entries()) {
    // Reading the matches' nodes is most of a scan's time: it stops there too.
    if (progressCallback && i % STOP_CHECK_MATCHES === 0 && progressCallback()) break;
    const byName = new Map(match.captures.map((c) => [c.name, c.node]));
    const selfAttribute = byName.get('self.attribute');
    const softmax = byName.get('softmax');
    const fn = byName.get('function');
    if (selfAttribute) {
      const attr = byName.get('attr')!;
      names.add(attr.text);
      const parent = selfAttribute.parent;
      if (parent?.type === 'call' && parent.childForFieldName('function')?.equals(selfAttribute)) {
        const { className, functionName } = enclosing(parent);
        calls.push({ attribute: attr.text, nameSpan: spanOf(attr), callSpan: spanOf(parent), className, functionName });
      } else if (parent?.type === 'assignment' && parent.childForFieldName('left')?.equals(selfAttribute)) {
        const value = parent.childForFieldName('right');
        const { className, functionName } = enclosing(parent);
        definitions.push({ attribute: attr.text, nameSpan: spanOf(attr), constructors: value ? calleesIn(value) : [], className, functionName });
      }
    } else if (softmax) {
      const found = softmaxToValue(softmax, byName.get('softmax.name')!);
      if (found) softmaxes.push(found);
    } else if (fn) {
      const fnName = byName.get('function.name')!;
      const { className, functionName } = enclosing(fn);
      functions.push({ name: fnName.text, nameSpan: spanOf(fnName), span: spanOf(fn), className, functionName });
    }
  }
  return { calls, definitions, softmaxes, functions, names: [...names].sort() };
}

/** The dotted names of every call on a right-hand side: `nn.LayerNorm(…) if c else nn.Identity()`. */
function calleesIn(value: Node): string[] {
  const nodes = value.type === 'call' ? [value, ...value.descendantsOfType('call')] : value.descendantsOfType('call');
  const out: string[] = [];
  for (const c of nodes) {
    const f = c?.childForFieldName('function');
    if (f && (f.type === 'identifier' || f.type === 'attribute')) out.push(f.text);
  }
  return out;
}

/** The last segment of a callee: `torch.matmul` → `matmul`. */
function calleeName(call: Node): string | null {
  const f = call.childForFieldName('function');
  if (!f) return null;
  if (f.type === 'identifier') return f.text;
  if (f.type === 'attribute') return f.childForFieldName('attribute')?.text ?? null;
  return null;
}

/** The left operand of a matmul: the first argument of `matmul`/`bmm`, or the left of `@`. */
function matmulLeft(node: Node): Node | null {
  if (node.type === 'binary_operator') return node.childForFieldName('operator')?.text === '@' ? node.childForFieldName('left') : null;
  if (node.type === 'call' && MATMUL_CALLEES.has(calleeName(node) ?? '')) {
    const first = node.childForFieldName('arguments')?.namedChildren[0];
    return first && first.type !== 'keyword_argument' ? first : null;
  }
  return null;
}

const identifiersIn = (node: Node): string[] => (node.type === 'identifier' ? [node.text] : node.descendantsOfType('identifier').flatMap((n) => (n ? [n.text] : [])));

/**
 * Follows a softmax's result through its function in source order: the variable it is
 * assigned to, and any reassignment computed from it (dropout, a dtype cast), until a
 * matmul takes it as its left operand. Without such a matmul it is not a softmax → ·V site.
 */
function softmaxToValue(call: Node, word: Node): SoftmaxToValue | null {
  const { className, functionName, fn } = enclosing(call);
  const found = (matmul: Node): SoftmaxToValue => ({ nameSpan: spanOf(word), callSpan: spanOf(call), matmulSpan: spanOf(matmul), className, functionName });

  // torch.matmul(softmax(s), v): the probabilities go straight in.
  for (let n = call.parent; n && n !== fn; n = n.parent) {
    const left = matmulLeft(n);
    if (left && left.startIndex <= call.startIndex && call.endIndex <= left.endIndex) return found(n);
    if (n.type === 'assignment' || n.type === 'expression_statement') break;
  }

  // p = softmax(s)[.to(dtype)]; p = dropout(p); o = p @ v
  let assignment: Node | null = null;
  for (let n = call.parent; n && n !== fn; n = n.parent) {
    if (n.type === 'assignment') {
      assignment = n;
      break;
    }
  }
  const target = assignment?.childForFieldName('left');
  if (!fn || !assignment || target?.type !== 'identifier') return null;
  const aliases = new Set([target.text]);
  const body = fn.childForFieldName('body');
  if (!body) return null;
  const later = body
    .descendantsOfType(['assignment', 'call', 'binary_operator'])
    .filter((n): n is Node => n !== null && n.startIndex >= assignment.endIndex)
    .sort((a, b) => a.startIndex - b.startIndex);
  for (const n of later) {
    const left = matmulLeft(n);
    if (left && left.type === 'identifier' && aliases.has(left.text)) return found(n);
    if (n.type === 'assignment') {
      const lhs = n.childForFieldName('left');
      const rhs = n.childForFieldName('right');
      if (lhs?.type !== 'identifier' || !rhs) continue;
      const derived = identifiersIn(rhs).some((id) => aliases.has(id)) && !matmulLeft(rhs);
      if (derived) aliases.add(lhs.text);
      else aliases.delete(lhs.text);
    }
  }
  return null;
}
