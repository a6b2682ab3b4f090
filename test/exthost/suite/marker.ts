/**
 * run.ts (offline, web workbench) gets the suite's output through the same codeAutomationLog
 * channel as the workbench's own log lines, so it asks (DNP_EXTHOST_MARKED=1) for every line
 * of the suite to carry this prefix. Under @vscode/test-electron the lines go to stdout as is.
 */
export const OUTPUT_MARKER = '[dnp-test] ';

export function outputPrefix(): string {
  return process.env['DNP_EXTHOST_MARKED'] === '1' ? OUTPUT_MARKER : '';
}
