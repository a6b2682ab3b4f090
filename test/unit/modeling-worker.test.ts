// The modeling hints' parse off the host's thread (issue 16): the editor worker scans a Python text
// with tree-sitter, a stopped parse ends without an answer and leaves the parser ready for the next
// text. The expected calls are found by a regular expression over the fixture, not by the scanner.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { AnalysisWorker, snapshotOfText } from '../../src/extension/editor/analysis-client';
import { createModelingParser } from '../../src/extension/modeling/python-scan';
import type { ModelingParser, ParserWasmFiles } from '../../src/extension/modeling/scan-types';
import { cancelSource } from './helpers/cancel';

const root = join(import.meta.dirname, '..', '..');
const WORKER_SCRIPT = join(root, 'src', 'extension', 'editor', 'worker.ts');
const PARSER_FILES: ParserWasmFiles = {
  runtime: join(root, 'node_modules/web-tree-sitter/tree-sitter.wasm'),
  grammar: join(root, 'node_modules/tree-sitter-python/tree-sitter-python.wasm'),
};
const llama = readFileSync(join(root, 'test/fixtures/modeling/llama/modeling_llama.py'), 'utf8');
/** About 1.6 MB: the size of the host test's generated file. */
const COPIES = 300;

/** The `self.<name>(` calls of a text, by a regular expression: [name, offset of the name]. */
function selfCallsByRegex(text: string): [string, number][] {
  return [...text.matchAll(/self\.(\w+)\(/g)].map((m) => [m[1]!, m.index + 'self.'.length]);
}

/** The same, of the attributes the text assigns a *Norm* constructor (`self.norm = LlamaRMSNorm(`): what the worker sends. */
function normCallsByRegex(text: string): [string, number][] {
  const norms = new Set([...text.matchAll(/self\.(\w+) = [\w.]*Norm\w*\(/g)].map((m) => m[1]!));
  return selfCallsByRegex(text).filter(([name]) => norms.has(name));
}

let parser: ModelingParser;
before(async () => {
  parser = await createModelingParser(PARSER_FILES);
});

test('a parse stopped part way gives no scan, and the next text is scanned whole (not the rest of the stopped one)', () => {
  const big = llama.repeat(COPIES);
  let asked = 0;
  // Stop on the tenth look: tree-sitter asks while parsing, not only before and after.
  assert.equal(parser.scan(big, () => ++asked >= 10), undefined);
  assert.ok(asked >= 10, `the progress callback was asked ${asked} times`);
  const small = `# another text\n${llama}`;
  const found = parser.scan(small, () => false);
  assert.ok(found);
  assert.deepEqual(found.scan.calls.map((c) => [c.attribute, c.nameSpan.start]), selfCallsByRegex(small));
});

test('the editor worker scans a 1.6 MB modeling file; a scan canceled while it parses ends without an answer', async () => {
  const worker = new AnalysisWorker({ script: WORKER_SCRIPT, execArgv: ['--require', 'tsx/cjs'] });
  const big = llama.repeat(COPIES);
  const path = '/models/llama/modeling_llama.py';
  try {
    const first = await worker.scan(snapshotOfText(`file://${path}`, 1, path, big), PARSER_FILES);
    assert.ok(first);
    assert.ok(first.init, 'the first scan starts the parser and says how long it took');
    // Every norm call of every copy, at its offset in the whole text (three a copy: the two layer norms and the final one).
    assert.deepEqual(first.scan.calls.map((c) => [c.attribute, c.nameSpan.start]), normCallsByRegex(big));
    assert.equal(first.scan.calls.length, 3 * COPIES);
    const fullMs = first.timings.parseMs + first.timings.queryMs;

    // Canceled a third of a full scan's time after it was sent: within the parse or the query.
    const source = cancelSource();
    const started = performance.now();
    const second = worker.scan(snapshotOfText(`file://${path}`, 2, path, big), PARSER_FILES, source.token);
    setTimeout(() => source.cancel(), fullMs / 3);
    assert.equal(await second, undefined);
    const canceledMs = performance.now() - started;

    // The next version is scanned whole, by the same worker.
    const edited = `# edited\n${big}`;
    const third = await worker.scan(snapshotOfText(`file://${path}`, 3, path, edited), PARSER_FILES);
    assert.ok(third);
    assert.equal(third.init, null, 'the parser started once');
    assert.deepEqual(third.scan.calls.map((c) => [c.attribute, c.nameSpan.start]), normCallsByRegex(edited));
    assert.equal(worker.started, 1);
    console.log(
      `# ${(big.length / 1e6).toFixed(2)} MB (${big.split('\n').length} lines) in the worker: parse ${first.timings.parseMs.toFixed(0)} ms, query ${first.timings.queryMs.toFixed(0)} ms; ` +
        `canceled at ${(fullMs / 3).toFixed(0)} ms, answered after ${canceledMs.toFixed(0)} ms`,
    );
  } finally {
    worker.dispose();
  }
});
