import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** The "Deferred Norm" log, created on first use. */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Deferred Norm', { log: true });
  return channel;
}

/** A bad-input error carries one line for the user (file, field, what was expected); anything else is a bug. */
export function isInputError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'InputError';
}

/** The user-facing line of an error: the core's own message for bad input, never a stack trace. */
export function messageOf(err: unknown): string {
  if (isInputError(err)) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  return `Internal error: ${message} (details in the Deferred Norm log)`;
}

/** Logs an error (with its stack for bugs) and returns its user-facing line, for views that show it themselves. */
export function logError(err: unknown, doing: string): string {
  if (isInputError(err)) log().warn(`${doing}: ${err.message}`);
  else log().error(`${doing}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return messageOf(err);
}

/** Logs an error (with its stack for bugs) and shows a notification with a Show Log action. */
export function reportError(err: unknown, doing: string): string {
  const message = messageOf(err);
  if (isInputError(err)) log().warn(`${doing}: ${message}`);
  else log().error(`${doing}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  void vscode.window.showErrorMessage(`Deferred Norm: ${message}`, 'Show Log').then((choice) => {
    if (choice === 'Show Log') log().show(true);
  });
  return message;
}

/** An error notification the extension can take back: close() dismisses it. */
export interface ErrorNotice {
  readonly message: string;
  close(): void;
}

/**
 * Shows an error that stands only while the problem does (issue 20: toasts stayed after the file was
 * fixed). VS Code cannot close a plain error message, so this is a notification with progress, which
 * closes when its owner calls close(): when the file profiles again, or a newer error replaces it.
 */
export function showErrorNotice(err: unknown, doing: string): ErrorNotice {
  const message = logError(err, doing);
  let close = (): void => {};
  const closed = new Promise<void>((resolve) => (close = resolve));
  void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Deferred Norm: ${message}` }, () => closed);
  return { message, close: () => close() };
}
