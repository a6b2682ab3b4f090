// The same Mocha suite under @vscode/test-electron, in a desktop VS Code: for machines that can
// download VS Code from Microsoft's update server (this project's own machines cannot; run.ts is
// the offline way). `npm run test:exthost:electron`; set VSCODE_EXECUTABLE to use an installed
// VS Code instead of downloading, VSCODE_VERSION to pick one (default: the newest stable).
// Options: --grep PATTERN.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { assertExtensionBuilt, buildSuite, makeWorkspace, repoRoot } from './prepare';

async function main(): Promise<number> {
  assertExtensionBuilt();
  const extensionTestsPath = await buildSuite();
  const workspace = makeWorkspace();
  const grepAt = process.argv.indexOf('--grep');
  const grep = grepAt >= 0 ? process.argv[grepAt + 1] : undefined;
  const executable = process.env['VSCODE_EXECUTABLE'];
  try {
    return await runTests({
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath,
      extensionTestsEnv: grep ? { DNP_EXTHOST_GREP: grep } : {},
      ...(executable ? { vscodeExecutablePath: executable } : { version: process.env['VSCODE_VERSION'] ?? 'stable' }),
      // Downloads stay in the git-ignored .vscode-test/ (test-electron makes a throw-away profile itself).
      cachePath: join(repoRoot, '.vscode-test'),
      launchArgs: [
        workspace,
        '--disable-extensions', // only the extension under development
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
      ],
    });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('exthost (electron): FAILED,', err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
