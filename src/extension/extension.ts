import * as vscode from 'vscode';

// Placeholder while the glue is written: registers only the log command.
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Deferred Norm', { log: true });
  context.subscriptions.push(log, vscode.commands.registerCommand('deferredNorm.showLog', () => log.show()));
}

export function deactivate(): void {}
