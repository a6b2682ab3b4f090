/**
 * `deferred-norm validate` in the extension (issue 19): its headline for the report panel, and its whole
 * table as a read-only document (Show Validation Report, the panel's validation link). Computed once per
 * session by the core from the repository's model fixtures, after the first report is drawn (it
 * simulates 27 published points). A checkout has the fixtures; a packaged extension does not, and the
 * panel then leaves the line out.
 */
import * as vscode from 'vscode';
import type { ValidationHeadline, ValidationResult } from '../core/validate/validate';
import { loadCore } from './core';
import { DOCUMENT_SCHEME } from './document-refs';
import { log } from './log';

let once: Promise<ValidationResult | null> | undefined;
let known: ValidationHeadline | null = null;
/** Why the validation could not be computed here (shown in the document instead of the table). */
let failure = '';

function validationOnce(): Promise<ValidationResult | null> {
  once ??= (async () => {
    const core = loadCore();
    try {
      const result = core.validate(await core.validationInputs());
      known = core.validationHeadline(result);
      return result;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
      log().info(`The panel's validation line is left out: ${failure}`);
      return null;
    }
  })();
  return once;
}

export async function validationHeadlineOnce(): Promise<ValidationHeadline | null> {
  await validationOnce();
  return known;
}

/** The headline if it has been computed, else null (the panel adds it when it is). */
export function knownValidationHeadline(): ValidationHeadline | null {
  return known;
}

/** The read-only document's address: the same scheme as the pseudo-code and comparisons, a path of its own. */
export const VALIDATION_URI = vscode.Uri.from({ scheme: DOCUMENT_SCHEME, path: '/deferred-norm validate.txt' });

/** What `deferred-norm validate` prints, or why it could not run here. */
export async function validationText(): Promise<string> {
  const result = await validationOnce();
  if (!result) return `The validation needs the repository's model fixtures (test/fixtures/configs), which this installation does not have: ${failure}\nRun \`deferred-norm validate\` in a checkout, or read docs/validation.md.\n`;
  return loadCore().formatValidation(result);
}

/** Show Validation Report: the simulator beside every published measurement, in a read-only editor. */
export async function showValidation(): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(VALIDATION_URI);
  return vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}
