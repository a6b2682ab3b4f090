import * as vscode from 'vscode';

/**
 * Every question the extension asks the user, behind one seam: tests in the
 * extension host answer pickers and dialogs by replacing these (see the test API
 * that activate() returns).
 */
export interface Prompts {
  pickModel(): Thenable<vscode.Uri | undefined>;
  pickOne<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Thenable<T | undefined>;
  saveTo(options: vscode.SaveDialogOptions): Thenable<vscode.Uri | undefined>;
  /** A notification with buttons; resolves with the button pressed (undefined: dismissed). */
  notify(message: string, actions: readonly string[]): Thenable<string | undefined>;
}

const interactive: Prompts = {
  pickModel: async () =>
    (
      await vscode.window.showOpenDialog({
        title: 'Profile a model',
        openLabel: 'Profile',
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: false,
        filters: { 'Model files': ['json', 'gguf', 'safetensors'] },
      })
    )?.[0],
  pickOne: (items, options) => vscode.window.showQuickPick(items, options),
  saveTo: (options) => vscode.window.showSaveDialog(options),
  notify: (message, actions) => vscode.window.showInformationMessage(message, ...actions),
};

let current: Prompts = interactive;

export function prompts(): Prompts {
  return current;
}

/** Replaces some of the prompts (tests); null restores the interactive ones. */
export function setPrompts(replacement: Partial<Prompts> | null): void {
  current = replacement ? { ...interactive, ...replacement } : interactive;
}
