/**
 * Measure on This Machine: runs `deferred-norm measure` (the bundled CLI, under VS Code's own Node) on a
 * model with the settings' workload and the Python the extension chose (src/extension/python.ts, passed
 * with --python), its lines in the Deferred Norm log, a cancellable progress
 * notification (cancel stops the CLI, which stops the harness), and then offers to calibrate a hardware
 * profile from the measurements (`deferred-norm calibrate`).
 */
import { spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { NAME_ONE_EXTENSION, noTorchMessage } from '../../common/python-finder';
import { log, reportError } from '../log';
import { ReportPanel } from '../panel/reportPanel';
import { prompts } from '../prompts';
import { findWorkspacePython } from '../python';
import { chosenWorkload } from '../choice';
import { activeModelUri } from '../targets';

/** What one CLI run ended with. */
interface CliResult {
  code: number | null;
  stdout: string;
  /** The CLI's last line on stderr: its one-line error when it fails. */
  lastError: string;
}

/** Runs the bundled CLI; each stderr line goes to the log and to `onLine`; a cancelled token sends it Ctrl+C. */
function runCli(extensionUri: vscode.Uri, args: string[], token: vscode.CancellationToken, onLine: (line: string) => void): Promise<CliResult> {
  const cli = vscode.Uri.joinPath(extensionUri, 'dist', 'cli.js').fsPath;
  return new Promise((resolve) => {
    // VS Code's executable runs as plain Node with ELECTRON_RUN_AS_NODE.
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let carry = '';
    let lastError = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      const parts = (carry + c.toString('utf8')).split('\n');
      carry = parts.pop() ?? '';
      for (const line of parts) {
        log().info(line);
        if (line.startsWith('deferred-norm:')) lastError = line.replace(/^deferred-norm: /, '');
        onLine(line);
      }
    });
    const cancel = token.onCancellationRequested(() => child.kill('SIGINT'));
    child.on('error', (err) => {
      cancel.dispose();
      resolve({ code: null, stdout, lastError: err.message });
    });
    child.on('close', (code) => {
      cancel.dispose();
      resolve({ code, stdout, lastError });
    });
  });
}

function workloadArgs(): string[] {
  const w = chosenWorkload();
  return ['--phase', w.phase, '--batch', `${w.batch}`, '--seq', `${w.seq}`, '--context', `${w.context}`, '--tp', `${w.tp}`];
}

/** Measure on This Machine; resolves with the measurements file, or undefined when cancelled or failed. */
export async function measureOnThisMachine(extensionUri: vscode.Uri, uri?: vscode.Uri): Promise<string | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Deferred Norm: measuring runs a Python interpreter on this machine; trust the workspace first.');
    return undefined;
  }
  const target = uri ?? activeModelUri() ?? (await prompts().pickModel());
  if (!target) return undefined;
  const model = target.fsPath;
  const mode = await prompts().pickOne(
    [
      { label: 'Quick', description: 'M ± 1, fewer samples, no output projection: about a minute on a CPU', quick: true },
      { label: 'Full', description: 'M ± 1 and the next tile size ± 1, the output projection, more samples: several minutes on a CPU', quick: false },
    ],
    { title: `Measure ${basename(model)} on this machine` },
  );
  if (!mode) return undefined;
  log().info(`Measure on this machine: ${model}${mode.quick ? ' (quick)' : ''}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Deferred Norm: measuring ${basename(model)} on this machine`, cancellable: true },
    async (progress, token) => {
      // The interpreter is chosen here, as for Export PyTorch Patch…, and named to the CLI.
      progress.report({ message: 'looking for a Python with torch' });
      const { found, tried } = await findWorkspacePython(target);
      if (!found) return { noTorch: noTorchMessage(tried, NAME_ONE_EXTENSION) } as const;
      if (token.isCancellationRequested) return { cancelled: true } as const;
      let last = 0;
      const args = ['measure', model, '--python', found.path, ...workloadArgs(), ...(mode.quick ? ['--quick'] : [])];
      const r = await runCli(extensionUri, args, token, (line) => {
        // "[harness] round 3/7": the share of rounds done is the share of the run done.
        const round = /^\[harness\] round (\d+)\/(\d+)/.exec(line);
        if (round) {
          const done = (100 * Number(round[1])) / Number(round[2]);
          progress.report({ message: `round ${round[1]} of ${round[2]}`, increment: done - last });
          last = done;
        } else if (line.startsWith('[harness] prepare')) progress.report({ message: line.replace(/^\[harness\] /, '') });
      });
      return { ...r, cancelled: token.isCancellationRequested };
    },
  );
  if ('noTorch' in result) {
    void vscode.window.showErrorMessage(`Deferred Norm: cannot measure: ${result.noTorch}`, 'Show Log').then((c) => c && log().show(true));
    return undefined;
  }
  if (result.cancelled) {
    void vscode.window.showInformationMessage('Deferred Norm: measurement cancelled.');
    return undefined;
  }
  if (result.code !== 0) {
    void vscode.window.showErrorMessage(`Deferred Norm: ${result.lastError || `measure failed (exit ${result.code})`}`, 'Show Log').then((c) => c && log().show(true));
    return undefined;
  }
  const file = result.stdout.trim();
  // An open report of this model shows the new measurement beside its simulated blocks.
  void ReportPanel.forModel(model)?.reloadMeasurements();
  // The offer does not hold the command: it resolves with the file at once.
  void vscode.window.showInformationMessage(`Deferred Norm: measurements saved to ${file}.`, 'Calibrate a Hardware Profile', 'Show Log').then(async (choice) => {
    if (choice === 'Show Log') log().show(true);
    if (choice === 'Calibrate a Hardware Profile') await calibrateFrom(extensionUri, file);
  }).then(undefined, (err: unknown) => reportError(err, 'deferredNorm.measure: calibrate'));
  return file;
}

/** Fits a hardware profile to a measurements file; writes NAME.hardware.json in the workspace (or beside the model). */
export async function calibrateFrom(extensionUri: vscode.Uri, measurements: string): Promise<vscode.Uri | undefined> {
  const name = await vscode.window.showInputBox({
    title: 'Name of the calibrated hardware profile',
    value: 'this-machine',
    validateInput: (v) => (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) ? null : 'Letters, digits, ".", "_" or "-"'),
  });
  if (!name) return undefined;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? dirname(dirname(dirname(measurements)));
  const out = join(folder, `${name}.hardware.json`);
  const none = new vscode.CancellationTokenSource();
  const r = await runCli(extensionUri, ['calibrate', measurements, '--out', out], none.token, () => undefined);
  none.dispose();
  if (r.code !== 0) {
    void vscode.window.showErrorMessage(`Deferred Norm: ${r.lastError || `calibrate failed (exit ${r.code})`}`, 'Show Log').then((c) => c && log().show(true));
    return undefined;
  }
  // The fit and the held-back blocks' error, as calibrate printed them.
  for (const line of r.stdout.split('\n')) log().info(line);
  const heldBack = /Held back \(never fitted\): [^:]*: (n \d+, mean [^,]+, max [\d.]+%)/.exec(r.stdout)?.[1];
  const profile = vscode.Uri.file(out);
  const open = await vscode.window.showInformationMessage(
    `Deferred Norm: wrote ${name}.hardware.json${heldBack ? ` (error on the held-back blocks: ${heldBack})` : ''}.`,
    'Open Profile',
    'Show Log',
  );
  if (open === 'Open Profile') await vscode.window.showTextDocument(profile);
  if (open === 'Show Log') log().show(true);
  return profile;
}
