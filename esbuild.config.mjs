// Three bundles from one source tree: the extension host (Node, CommonJS, `vscode`
// left to the host), the command line (Node), and the report's webview (browser).
// An entry whose source does not exist yet is skipped, so each feature adds its own.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  legalComments: 'none',
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build does not.
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};

const bundles = [
  {
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    // The core the extension loads on first use, so activation stays light (src/extension/core.ts).
    entryPoints: ['src/extension/core-api.ts'],
    outfile: 'dist/core.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
  {
    // The config analysis of the editor features and the Python parse of the modeling hints, on a
    // worker thread so that no file stalls the extension host (src/extension/editor/analysis-client.ts
    // starts it); the parser is a lazy import in it, its wasm files are copied beside it below.
    entryPoints: ['src/extension/editor/worker.ts'],
    outfile: 'dist/editor-worker.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
  {
    // The command line's bundle, which dist/cli.js (below) compiles with V8's code cache.
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli-main.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
  {
    // The command: a few lines that start dist/cli-main.js from its code cache (src/cli/start.ts).
    entryPoints: ['src/cli/start.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    sourcemap: false,
  },
  {
    // One script and one stylesheet (report.js, report.css from the CSS it imports), so the
    // HTML export can inline both; iife because the export inlines it as a classic script.
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview/report.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    // The components' sources are ESM; their `module` field is what tree-shakes.
    mainFields: ['browser', 'module', 'main'],
    // The webview is small enough that a source map would double what the panel loads.
    sourcemap: false,
  },
  {
    // The binary-model viewer's one small script (its page is static HTML from the extension).
    entryPoints: ['webview/model-viewer/main.ts'],
    outfile: 'dist/webview/model-viewer.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: false,
  },
].filter((b) => existsSync(b.entryPoints[0]));

// Codicons for the webview: the stylesheet and its font must sit side by side (WEBVIEW.md).
function copyCodicons() {
  if (!existsSync('webview/main.ts')) return;
  mkdirSync('dist/webview', { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) copyFileSync(`node_modules/@vscode/codicons/dist/${file}`, `dist/webview/${file}`);
}
copyCodicons();

// web-tree-sitter's runtime and the Python grammar, found by the parser beside dist/editor-worker.js (WEBVIEW.md).
function copyPythonParserWasm() {
  if (!existsSync('src/extension/modeling/python-scan.ts')) return;
  mkdirSync('dist', { recursive: true });
  copyFileSync('node_modules/web-tree-sitter/tree-sitter.wasm', 'dist/tree-sitter.wasm');
  copyFileSync('node_modules/tree-sitter-python/tree-sitter-python.wasm', 'dist/tree-sitter-python.wasm');
}
copyPythonParserWasm();

if (watch) {
  const { context } = await import('esbuild');
  for (const b of bundles) await (await context({ ...common, ...b })).watch();
} else {
  await Promise.all(bundles.map((b) => build({ ...common, ...b })));
  writeCliCodeCache();
}

// V8's code cache of the command line's bundle, made by running a few commands (docs/speed.md). A
// failure leaves no cache: the command then compiles its bundle as usual, only slower to start.
function writeCliCodeCache() {
  if (!existsSync('dist/cli-main.js') || !existsSync('dist/cli.js')) return;
  const made = spawnSync(process.execPath, ['scripts/cli-code-cache.mjs'], { encoding: 'utf8' });
  if (made.status !== 0) console.warn(`The CLI's code cache was not written: ${(made.stderr || made.stdout).trim().split('\n')[0]}`);
}
