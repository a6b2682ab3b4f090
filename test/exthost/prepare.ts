// What every way of running the extension-host suite shares: the compiled suite and a
// throw-away workspace of model fixtures (run.ts offline, electron.ts with a downloaded VS Code).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The repository root: the extension under development. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = ['Llama-3.1-8B', 'GPT-2', 'Llama-3.1-405B', 'Mixtral-8x7B-v0.1'] as const;
export const suiteOutDir = join(repoRoot, 'out/exthost');
const suiteSrcDir = join(repoRoot, 'test/exthost/suite');

/** Compiles the suite for the extension host; returns the path of the index to pass as extensionTestsPath. */
export async function buildSuite(): Promise<string> {
  rmSync(suiteOutDir, { recursive: true, force: true });
  const tests = readdirSync(suiteSrcDir).filter((f) => f.endsWith('.test.ts'));
  await build({
    entryPoints: ['index.ts', ...tests].map((f) => join(suiteSrcDir, f)),
    outdir: suiteOutDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    // mocha stays one instance shared by the index and the test files (its globals live there).
    external: ['vscode', 'mocha'],
    // As in esbuild.config.mjs: jsonc-parser's UMD build hides its requires from the bundler.
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  return join(suiteOutDir, 'index.js');
}

/** The extension's own bundle must exist: the suite tests what `npm run build` produced. */
export function assertExtensionBuilt(): void {
  if (!existsSync(join(repoRoot, 'dist/extension.js'))) {
    throw new Error('dist/extension.js is missing; run `node esbuild.config.mjs` first');
  }
}

/** Copies model fixture folders into a fresh temporary workspace the tests may write in. */
export function makeWorkspace(fixtures: readonly string[] = FIXTURES): string {
  const ws = mkdtempSync(join(tmpdir(), 'dnp-workspace-'));
  for (const name of fixtures) {
    const src = join(repoRoot, 'test/fixtures/configs', name);
    if (!existsSync(src)) throw new Error(`fixture ${src} is missing`);
    cpSync(src, join(ws, name), { recursive: true });
  }
  // Tests about other things pin the tensor-parallel degree; the ones about 'auto' (the default) set it back.
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'deferredNorm.tensorParallel': 1 }, null, 2));
  // Modeling code beside a config (test/fixtures/modeling/<family>: config.json + modeling_*.py).
  const modeling = join(repoRoot, 'test/fixtures/modeling');
  for (const family of existsSync(modeling) ? readdirSync(modeling) : []) cpSync(join(modeling, family), join(ws, `modeling-${family}`), { recursive: true });
  return ws;
}
