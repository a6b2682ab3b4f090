/**
 * dist/cli.js starts the command line's bundle (dist/cli-main.js) from V8's code cache that the build
 * wrote (src/cli/start.ts, scripts/cli-code-cache.mjs). The cache must be used where it was made for
 * the bundle as it is, never where it was made for another, and a command's output must not depend on
 * it. Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from './helpers/fixtures';

const DIST = join(__dirname, '..', '..', 'dist');

interface Start {
  compileMain(dir: string, useCache: boolean): { script: { cachedDataRejected?: boolean } };
  headerOf(path: string): { size: number; mtimeMs: number };
  CODE_CACHE: string;
  MAIN_BUNDLE: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const start = require(join(DIST, 'cli.js')) as Start;

/** A copy of the command and its bundle in a folder of its own, with `cache` as its code cache (none: null). */
function copyOfDist(cache: Buffer | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'dn-code-cache-'));
  copyFileSync(join(DIST, 'cli.js'), join(dir, 'cli.js'));
  copyFileSync(join(DIST, start.MAIN_BUNDLE), join(dir, start.MAIN_BUNDLE));
  if (cache) writeFileSync(join(dir, start.CODE_CACHE), cache);
  return dir;
}

/** The cache file for the bundle in `dir` as it is now, with `data` as V8's part. */
function cacheFor(dir: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(start.headerOf(join(dir, start.MAIN_BUNDLE))) + '\n'), data]);
}

const builtData = (): Buffer => {
  const file = readFileSync(join(DIST, start.CODE_CACHE));
  return file.subarray(file.indexOf(10) + 1);
};

const run = (cli: string, ...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('the code cache the build wrote is the one V8 accepts for the bundle', () => {
  assert.equal(start.compileMain(DIST, true).script.cachedDataRejected, false);
});

test('a command prints the same with the cache, without it, and with a cache made for another bundle', () => {
  const args = ['profile', fixturePath('Llama-3.1-8B'), '--format', 'csv'];
  const expected = run(join(DIST, 'cli.js'), ...args);
  assert.equal(expected.status, 0, expected.stderr);
  // V8 data that does not belong to this bundle under a header that does: V8 must reject it.
  const foreign = copyOfDist(null);
  writeFileSync(join(foreign, start.CODE_CACHE), cacheFor(foreign, Buffer.from('not V8 code cache data')));
  // The build's cache under a header for another modification time: the loader must not pass it on.
  const stale = copyOfDist(null);
  writeFileSync(join(stale, start.CODE_CACHE), cacheFor(stale, builtData()));
  utimesSync(join(stale, start.MAIN_BUNDLE), new Date(), new Date(Date.now() + 60_000));
  const none = copyOfDist(null);
  try {
    for (const dir of [foreign, stale, none]) {
      const r = run(join(dir, 'cli.js'), ...args);
      assert.equal(r.status, 0, `${dir}: ${r.stderr}`);
      assert.equal(r.stdout, expected.stdout, dir);
    }
    // What the loader hands V8 in each case (undefined: no cache at all, so nothing to reject).
    assert.equal(start.compileMain(foreign, true).script.cachedDataRejected, true);
    assert.equal(start.compileMain(stale, true).script.cachedDataRejected, undefined);
    assert.equal(start.compileMain(none, true).script.cachedDataRejected, undefined);
  } finally {
    for (const dir of [foreign, stale, none]) rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input through the cached bundle is still one line and exit 2', () => {
  const r = run(join(DIST, 'cli.js'), 'profile', fixturePath('Llama-3.1-8B'), '--batch', 'zero');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^deferred-norm: --batch: .+\n$/);
});
