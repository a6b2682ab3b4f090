/**
 * No module of src/ imports itself through others (issue 21): a cycle means two modules share a
 * vocabulary that belongs in a third (src/core/terms.ts). Type-only imports count too: they are the
 * same dependency in the reader's head. Imports are read with TypeScript's own pre-processor, so
 * comments and strings never count; only relative imports name a module of src/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The file a relative specifier names, as the bundler resolves it; null for a package or a non-TypeScript file. */
function resolveImport(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile() && /\.tsx?$/.test(candidate)) return candidate;
  }
  return null;
}

/** Each module's imports (static, type-only, re-exports and dynamic import()), as files of src/. */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles.map((f) => resolveImport(file, f.fileName)).filter((t): t is string => t !== null);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

test('the cycle finder finds a two-module cycle, a self-import and a longer loop, and nothing in a tree', () => {
  const g = new Map<string, string[]>([
    ['a', ['b']],
    ['b', ['a', 'c']],
    ['c', []],
    ['d', ['d']],
    ['e', ['f']],
    ['f', ['g']],
    ['g', ['e', 'c']],
  ]);
  assert.deepEqual(cyclesOf(g), [['a', 'b'], ['d'], ['e', 'f', 'g']]);
  assert.deepEqual(cyclesOf(new Map([['x', ['y', 'z']], ['y', ['z']], ['z', []]])), []);
});

test('the import reader sees type-only imports as well as value imports', () => {
  const graph = importGraph(sourceFiles(SRC));
  const core = (p: string) => join(SRC, 'core', p);
  // codegen/index.ts imports values from ./block and ./site, and only a type from ../graph/ops.
  const codegen = graph.get(core('codegen/index.ts')) ?? [];
  for (const dep of ['codegen/block.ts', 'codegen/site.ts', 'graph/ops.ts']) assert.ok(codegen.includes(core(dep)), `codegen/index.ts → ${dep}`);
  assert.ok(graph.size > 100, `${graph.size} modules read`);
});

test('no module of src/ imports itself through other modules', () => {
  const cycles = cyclesOf(importGraph(sourceFiles(SRC)));
  const shown = cycles.map((c) => c.map((f) => relative(SRC, f)).join(' ↔ '));
  assert.deepEqual(shown, [], `import cycles in src/:\n${shown.join('\n')}`);
});
