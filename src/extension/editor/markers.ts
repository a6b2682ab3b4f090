/**
 * The cheap first look at a JSON document: does it name any key a model config has? Runs in the
 * activation bundle on every JSON file the user opens, so it must not load the core (dist/core.js):
 * it only needs the core's alias chains (families/common.ts, a few hundred bytes).
 */
import { KEYS } from '../../core/model/families/common';

/** Keys whose presence marks a JSON object as a model config. */
export const MODEL_MARKER_KEYS: readonly string[] = ['model_type', 'architectures', ...KEYS.hidden, ...KEYS.layers];

const MARKER_KEY = new RegExp(`"(?:${MODEL_MARKER_KEYS.join('|')})"\\s*:`);

/** True when the text has a marker key written as a key; the core then decides (analysis.ts). */
export function mightBeModelConfig(text: string): boolean {
  return MARKER_KEY.test(text);
}
