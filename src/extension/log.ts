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
