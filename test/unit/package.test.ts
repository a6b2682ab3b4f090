import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

test('the .vsix holds every file the extension loads at run time, and no sources, tests or dependencies', () => {
  const vsce = join(ROOT, 'node_modules', '.bin', 'vsce');
  const r = spawnSync(vsce, ['ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
  // What package.json's main, the lazy requires, the webviews and the parser read from disk.
  for (const needed of [
    'package.json',
    'README.md',
    'LICENSE',
    'media/icon.png',
    'schemas/hardware-profile.schema.json',
    // The PyTorch patch's runtime, which Export PyTorch Patch… reads (python/deferred_norm_patch.py).
    'python/deferred_norm_patch.py',
    'dist/extension.js',
    'dist/core.js',
    'dist/editor-worker.js',
    'dist/tree-sitter.wasm',
    'dist/tree-sitter-python.wasm',
    'dist/webview/report.js',
    'dist/webview/report.css',
    'dist/webview/model-viewer.js',
    'dist/webview/codicon.css',
    'dist/webview/codicon.ttf',
    // Measure on This Machine runs the CLI: the command and the bundle it starts (src/cli/start.ts).
    'dist/cli.js',
    'dist/cli-main.js',
  ]) {
    assert.ok(files.has(needed), `${needed} is missing from the package`);
  }
  // Every image the README shows is shipped beside it (the extension page reads them from the install folder).
  const readme = spawnSync('grep', ['-o', 'docs/images/[a-z0-9-]*\\.png', join(ROOT, 'README.md')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const image of new Set(readme)) assert.ok(files.has(image), `${image} (shown by the README) is missing from the package`);
  for (const file of files) assert.doesNotMatch(file, /^(src|test|webview|node_modules|scripts|out|\.vscode-test)\/|\.map$|\.ts$/, file);
});
