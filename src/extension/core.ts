import { join } from 'node:path';
import type * as CoreApi from './core-api';

export type Core = typeof CoreApi;

let core: Core | undefined;

/** The core, loaded the first time a command needs it (dist/core.js beside dist/extension.js). */
export function loadCore(): Core {
  // A computed path keeps esbuild from inlining the core into the activation bundle.
  core ??= require(join(__dirname, 'core.js')) as Core;
  return core;
}
