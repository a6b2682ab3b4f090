// Opens a real VS Code workbench on this machine, offline: the VS Code server bundled in
// code-server (a real Node extension host) plus Debian's Chromium as the client, driven by
// playwright-core. Used by run.ts (the Mocha suite) and by anything that drives the UI like a
// person (screenshots). Chromium runs headless, offline and without a sandbox (root in CI).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';
import { repoRoot } from './prepare';

export const codeServerVscode = join(repoRoot, '.vscode-test/code-server/node_modules/code-server/lib/vscode');
const serverMain = join(codeServerVscode, 'out/server-main.js');

export const chromiumPath = '/usr/bin/chromium';
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface WorkbenchOptions {
  /** Absolute path of the folder the workbench opens. */
  folder: string;
  /** Defaults to the repository root. */
  extensionDevelopmentPath?: string;
  /** Absolute path of a compiled test index exporting `run()`; omit to keep the workbench open. */
  extensionTestsPath?: string;
  /** Receives every line the workbench logs through `codeAutomationLog` and the page console. */
  onLog?: (severity: string, text: string) => void;
  /** Receives the server's own stdout/stderr lines (noisy; off by default). */
  onServerOutput?: (text: string) => void;
  headless?: boolean;
  viewport?: { width: number; height: number };
  /** The browser's preferred colour scheme (VS Code for the web starts in a matching theme). */
  colorScheme?: 'light' | 'dark';
  /** User settings the workbench starts with (e.g. a colour theme). */
  userSettings?: Record<string, unknown>;
  /** How long to wait for the server to listen. */
  serverStartTimeoutMs?: number;
}

export interface Workbench {
  page: Page;
  browser: Browser;
  port: number;
  url: string;
  /** VS Code version of the server build, from its product.json/package.json. */
  vscodeVersion: string;
  /** The temporary folder holding the server's user, server and extensions data. */
  runDir: string;
  /** Settles with the code the workbench passes to `codeAutomationExit` (test runs only). */
  exited: Promise<number>;
  /** Settles if the server process ends before close() (the workbench then never reports). */
  serverExited: Promise<string>;
  close(): Promise<void>;
}

export function vscodeVersion(): string {
  const product = JSON.parse(readFileSync(join(codeServerVscode, 'product.json'), 'utf8')) as { version?: string };
  if (product.version) return product.version;
  const pkg = JSON.parse(readFileSync(join(codeServerVscode, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls the server's HTTP root until it answers, or fails if the process dies first. */
async function waitForListening(proc: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`VS Code server exited early (code ${proc.exitCode}, signal ${proc.signalCode})`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/version`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {
      await sleep(150);
    }
  }
  throw new Error(`VS Code server did not listen on port ${port} within ${timeoutMs} ms`);
}

/** Kills the server's whole process group (it forks the extension host and file watchers). */
function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

function groupAlive(proc: ChildProcess): boolean {
  if (proc.pid === undefined) return false;
  try {
    process.kill(-proc.pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lines(text: string): string[] {
  return text.replace(/\r/g, '').replace(/\n$/, '').split('\n');
}

/** Renders what the workbench passes to codeAutomationLog: strings as is, the rest as JSON. */
function formatArgs(args: unknown): string {
  const list = Array.isArray(args) ? args : [args];
  return list.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
}

export async function openWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  if (!existsSync(serverMain)) {
    throw new Error(`${serverMain} is missing: run bash scripts/setup-exthost.sh`);
  }
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run bash scripts/setup-exthost.sh`);
  const extPath = options.extensionDevelopmentPath ?? repoRoot;
  const runDir = mkdtempSync(join(tmpdir(), 'dnp-exthost-'));
  const dirs = { user: join(runDir, 'user-data'), server: join(runDir, 'server-data'), ext: join(runDir, 'extensions') };
  // The extensions folder must exist or the extension under development is not found.
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  if (options.userSettings) {
    mkdirSync(join(dirs.user, 'User'), { recursive: true });
    writeFileSync(join(dirs.user, 'User', 'settings.json'), JSON.stringify(options.userSettings, null, 2));
  }

  const port = await freePort();
  const server = spawn(
    process.execPath,
    [
      serverMain,
      '--host', '127.0.0.1',
      '--port', String(port),
      '--without-connection-token',
      '--accept-server-license-terms',
      '--enable-smoke-test-driver',
      '--user-data-dir', dirs.user,
      '--server-data-dir', dirs.server,
      '--extensions-dir', dirs.ext,
      '--disable-telemetry',
      '--disable-workspace-trust',
      '--force-disable-user-env',
    ],
    {
      cwd: runDir,
      // Own process group, so one kill reaches the extension host and watchers it forks.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EXTENSIONS_GALLERY: '{}', VSCODE_CLI: '1' },
    },
  );
  const serverLog: string[] = [];
  const onServer = (chunk: Buffer) => {
    for (const l of lines(chunk.toString())) {
      serverLog.push(l);
      if (serverLog.length > 200) serverLog.shift();
      options.onServerOutput?.(l);
    }
  };
  const serverExited = new Promise<string>((r) =>
    server.once('exit', (code, signal) => r(`VS Code server exited (code ${code}, signal ${signal})`)),
  );
  server.stdout?.on('data', onServer);
  server.stderr?.on('data', onServer);

  // Whatever happens to this process, the server group and its files must not outlive it.
  const killOnExit = () => {
    killGroup(server, 'SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);

  let browser: Browser | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await browser?.close().catch(() => undefined);
    killGroup(server, 'SIGTERM');
    for (let i = 0; i < 20 && groupAlive(server); i++) await sleep(100);
    if (groupAlive(server)) killGroup(server, 'SIGKILL');
    process.off('exit', killOnExit);
    rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    await waitForListening(server, port, options.serverStartTimeoutMs ?? 60_000);
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}\n--- server output ---\n${serverLog.join('\n')}`);
  }

  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: options.headless ?? true,
      args: chromiumArgs,
      // Playwright's own handlers would exit the process before the caller's clean-up ran.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
    const page = await context.newPage();

    let settle: (code: number) => void = () => undefined;
    const exited = new Promise<number>((r) => (settle = r));
    // Both must exist before the workbench loads: it looks them up once at start-up.
    await page.exposeFunction('codeAutomationLog', (severity: unknown, args: unknown) => {
      options.onLog?.(String(severity), formatArgs(args));
    });
    await page.exposeFunction('codeAutomationExit', (code: unknown) => {
      settle(typeof code === 'number' ? code : 1);
    });
    page.on('console', (msg) => options.onLog?.(`console.${msg.type()}`, msg.text()));
    page.on('pageerror', (err) => options.onLog?.('pageerror', String(err)));

    const remote = (p: string) => `vscode-remote://127.0.0.1:${port}${p}`;
    const payload: [string, string][] = [
      ['extensionDevelopmentPath', remote(extPath)],
      ['skipWelcome', 'true'],
    ];
    if (options.extensionTestsPath) payload.push(['extensionTestsPath', remote(options.extensionTestsPath)]);
    const url =
      `http://127.0.0.1:${port}/?folder=${encodeURIComponent(options.folder)}` +
      `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    return { page, browser, port, url, vscodeVersion: vscodeVersion(), runDir, exited, serverExited, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Waits until the workbench has rendered its explorer with the opened folder. */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: timeoutMs });
}

/**
 * Opens a picker with its keys, as a person does, and returns its input. Under load the workbench may
 * drop a key pressed right after start-up or a theme change, so the keys are pressed again (at most
 * five times) until the input shows.
 */
async function openPicker(page: Page, keys: readonly string[]): Promise<Locator> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input[type="text"]');
  // A picker that is still closing (Quick Open just before) would take the keys and the typing with it.
  await widget.waitFor({ state: 'hidden' });
  for (let attempt = 1; ; attempt++) {
    for (const key of keys) await page.keyboard.press(key);
    if (await input.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false)) return input;
    if (attempt === 5) throw new Error(`no picker opened after pressing ${keys.join(' ')} ${attempt} times`);
  }
}

/** Runs a command the way a person does: F1, type its title, Enter. */
export async function runFromCommandPalette(page: Page, title: string): Promise<void> {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  for (let attempt = 1; ; attempt++) {
    const input = await openPicker(page, ['F1']);
    await input.fill(`>${title}`);
    // The first row is the best match once the list has filtered to the title.
    if (await row.waitFor({ timeout: 10_000 }).then(() => true, () => false)) break;
    if (attempt === 3) throw new Error(`command palette: no row "${title}" after ${attempt} tries`);
    await page.keyboard.press('Escape');
  }
  await page.keyboard.press('Enter');
}

/** Quick Open (Ctrl+P) a workspace file by its path, as a person does; resolves when its tab is active. */
export async function quickOpen(page: Page, path: string, tabTitle = path.split('/').pop() ?? path): Promise<void> {
  const input = await openPicker(page, ['Control+P']);
  await input.fill(path);
  await page.locator('.quick-input-list .monaco-list-row').first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.tab.active', { hasText: tabTitle }).waitFor();
}

/** Preferences: Color Theme (Ctrl+K Ctrl+T), as a person picks one. */
export async function chooseTheme(page: Page, label: string): Promise<void> {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  // Right after start-up the workbench may not take chords yet: press again until the picker shows.
  for (let i = 0; i < 10 && !(await row.isVisible()); i++) {
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+T');
    await row.waitFor({ timeout: 2000 }).catch(() => undefined);
  }
  await page.keyboard.type(label);
  await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: label }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/** The workbenches and workspace folders a test file opens, closed and removed once its tests end. */
/**
 * The webview document that holds `selector` (a webview is frames within frames; the one with the
 * page's content is found by what it shows), waited for up to `timeoutMs`.
 */
export async function webviewFrame(page: Page, selector: string, what: string, timeoutMs = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if ((await frame.locator(selector).count().catch(() => 0)) > 0) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no webview frame with ${what} appeared`);
}

/** A test workspace's .vscode/settings.json: no start-up editor, then `settings`. */
export function writeWorkspaceSettings(folder: string, settings: Record<string, unknown> = {}): void {
  mkdirSync(join(folder, '.vscode'), { recursive: true });
  writeFileSync(join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'workbench.startupEditor': 'none', ...settings }));
}

export class OpenedForTests {
  private readonly workbenches: Workbench[] = [];
  private readonly folders: string[] = [];

  workbench(w: Workbench): Workbench {
    this.workbenches.push(w);
    return w;
  }

  workspace(folder: string): string {
    this.folders.push(folder);
    return folder;
  }

  async closeAll(): Promise<void> {
    for (const w of this.workbenches) await w.close();
    for (const folder of this.folders) rmSync(folder, { recursive: true, force: true });
  }
}
