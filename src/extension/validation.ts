/**
 * `deferred-norm validate`'s headline for the report panel (issue 19), computed once per session by the
 * core from the repository's model fixtures, after the first report is drawn (it simulates 27 published
 * points). A checkout has the fixtures; a packaged extension does not, and the panel then leaves the line out.
 */
import type { ValidationHeadline } from '../core/validate/validate';
import { loadCore } from './core';
import { log } from './log';

let once: Promise<ValidationHeadline | null> | undefined;
let known: ValidationHeadline | null = null;

export function validationHeadlineOnce(): Promise<ValidationHeadline | null> {
  once ??= (async () => {
    const core = loadCore();
    try {
      known = core.validationHeadline(core.validate(await core.validationInputs()));
    } catch (err) {
      log().info(`The panel's validation line is left out: ${err instanceof Error ? err.message : String(err)}`);
    }
    return known;
  })();
  return once;
}

/** The headline if it has been computed, else null (the panel adds it when it is). */
export function knownValidationHeadline(): ValidationHeadline | null {
  return known;
}
