/**
 * dist/cli.js, the command: it compiles the command line's bundle (dist/cli-main.js, from main.ts) with
 * V8's code cache where the build left one (dist/cli-main.js.cache, scripts/cli-code-cache.mjs), and
 * runs it as if it were this file. A run's start-up was then mostly V8 parsing and compiling the
 * 600 KB bundle and the functions a command calls; from the cache it reads their bytecode instead
 * (docs/speed.md). A cache written for another bundle, another Node or other V8 flags is not used:
 * its header must name the bundle's size and modification time, and V8 checks the rest (its version,
 * its flags, the source's length) and rejects it otherwise; the bundle is then compiled as usual.
 */
import { readFileSync, statSync } from 'node:fs';
import { wrap } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

export const MAIN_BUNDLE = 'cli-main.js';
export const CODE_CACHE = 'cli-main.js.cache';

/** What the cache's first line says of the bundle it was made from. */
export interface CodeCacheHeader {
  size: number;
  mtimeMs: number;
}

/** The header a cache for the bundle at `path`, as it is now, carries. */
export function headerOf(path: string): CodeCacheHeader {
  const s = statSync(path);
  return { size: s.size, mtimeMs: s.mtimeMs };
}

/** The cache's V8 data, if the cache is there and was made from the bundle as it is now. */
function cachedDataFor(dir: string, header: CodeCacheHeader): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(join(dir, CODE_CACHE));
  } catch {
    return undefined;
  }
  const eol = file.indexOf(10);
  if (eol < 0) return undefined;
  try {
    const made = JSON.parse(file.subarray(0, eol).toString('utf8')) as Partial<CodeCacheHeader>;
    if (made.size !== header.size || made.mtimeMs !== header.mtimeMs) return undefined;
  } catch {
    return undefined;
  }
  return file.subarray(eol + 1);
}

/**
 * The bundle in `dir` compiled (with its code cache when `useCache`), as a CommonJS module function
 * of (exports, require, module, __filename, __dirname). The cache's writer compiles it the same way.
 */
export function compileMain(dir: string, useCache: boolean): { script: Script; run: (module: NodeModule, require: NodeJS.Require, filename: string) => unknown } {
  const path = join(dir, MAIN_BUNDLE);
  const header = headerOf(path);
  const source = readFileSync(path, 'utf8');
  const script = new Script(wrap(source), { filename: path, cachedData: useCache ? cachedDataFor(dir, header) : undefined });
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeModule, filename: string, dirname: string) => void;
  return {
    script,
    run: (module, require, filename) => {
      fn.call(module.exports, module.exports, require, module, filename, dir);
      return module.exports;
    },
  };
}

// Run as the command (or as the sweep's worker thread, which starts this file again): the bundle runs
// as this very module, so that its `require.main === module` and its __filename (the worker's script) hold.
if (require.main === module) compileMain(__dirname, true).run(module, require, __filename);
