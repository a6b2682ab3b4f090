// Runs the extension-host suite in a real VS Code extension host, offline: the VS Code server
// bundled in code-server plus Debian's Chromium (see workbench.ts).
//   node --import tsx test/exthost/run.ts                 the Mocha suite; exits with its result
//   node --import tsx test/exthost/run.ts --interactive   the workbench with the extension loaded, open until Ctrl-C
//                                                          (prints its URL; add --headed on a machine with a display)
// Options: --grep PATTERN (only matching tests), --verbose (every workbench and server log line),
//          --timeout SECONDS (the whole run; default 600),
//          --extension-path DIR (another extension folder, e.g. the unpacked .vsix's extension/).
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertExtensionBuilt, buildSuite, makeWorkspace, repoRoot } from './prepare';
import { openWorkbench, vscodeVersion, type Workbench } from './workbench';
import { OUTPUT_MARKER } from './suite/marker';

/**
 * Errors a bare VS Code server page always logs (EXTHOST.md): code-server serves no service
 * worker. Anything else the workbench logs as an error (a test file that fails to load, an
 * activation error) is printed.
 */
function isKnownNoise(text: string): boolean {
  return /^\[Service Worker\] registration\b/.test(text);
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const interactive = process.argv.includes('--interactive');
  const verbose = process.argv.includes('--verbose');
  const grep = option('--grep');
  const timeoutMs = Number(option('--timeout') ?? 600) * 1000;
  // The server passes its environment on to the extension host, and so to the suite.
  if (grep) process.env['DNP_EXTHOST_GREP'] = grep;
  process.env['DNP_EXTHOST_MARKED'] = '1';

  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  const extensionPath = option('--extension-path');
  if (!extensionPath) assertExtensionBuilt();
  const testsPath = interactive ? undefined : await buildSuite();
  const workspace = makeWorkspace();
  let wb: Workbench | undefined;
  const cleanup = async () => {
    await wb?.close();
    rmSync(workspace, { recursive: true, force: true });
  };
  process.on('exit', () => rmSync(workspace, { recursive: true, force: true }));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  }
  // One deadline over everything, start-up included; whatever hangs, the run fails.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>(
    (r) => (timer = setTimeout(() => r(`no result within ${timeoutMs / 1000} s`), interactive ? 2 ** 31 - 1 : timeoutMs)),
  );

  try {
    const version = vscodeVersion();
    console.log(
      `exthost: ${interactive ? 'opening' : 'running the suite in'} a real VS Code ${version} extension host ` +
        `(code-server's VS Code server on Node ${process.versions.node}; client: Debian Chromium via playwright-core)`,
    );
    console.log(`exthost: extension ${extensionPath ? resolve(extensionPath) : repoRoot}, workspace ${workspace}`);
    const opening = openWorkbench({
      folder: workspace,
      ...(extensionPath ? { extensionDevelopmentPath: resolve(extensionPath) } : {}),
      ...(testsPath ? { extensionTestsPath: testsPath } : {}),
      headless: !process.argv.includes('--headed'),
      onLog: (severity, text) => {
        if (text.startsWith(OUTPUT_MARKER)) console.log(text.slice(OUTPUT_MARKER.length));
        else if (verbose || (severity === 'error' && !isKnownNoise(text))) console.log(`  [workbench ${severity}] ${text}`);
      },
      ...(verbose ? { onServerOutput: (l: string) => console.log(`  [server] ${l}`) } : {}),
    });
    const opened = await Promise.race([opening, deadline]);
    if (typeof opened === 'string') {
      // Let a late start still be closed by cleanup().
      void opening.then((w) => w.close(), () => undefined);
      console.error(`exthost: FAILED, ${opened} (${seconds()} s)`);
      return 1;
    }
    wb = opened;
    if (interactive) {
      console.log(`exthost: workbench at ${wb.url}`);
      console.log('exthost: open until Ctrl-C');
      await new Promise<never>(() => undefined);
    }
    const page = wb.page;
    const outcome = await Promise.race([
      wb.exited,
      deadline,
      wb.serverExited,
      new Promise<string>((r) => page.once('close', () => r('the page closed before the workbench reported'))),
      new Promise<string>((r) => page.once('crash', () => r('the page crashed'))),
    ]);
    if (typeof outcome === 'number') {
      console.log(`exthost: the workbench reported exit code ${outcome} (VS Code ${version}, ${seconds()} s)`);
      return outcome;
    }
    console.error(`exthost: FAILED, ${outcome} (${seconds()} s)`);
    return 1;
  } finally {
    clearTimeout(timer);
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('exthost: FAILED,', err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
