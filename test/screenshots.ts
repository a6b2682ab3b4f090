/**
 * Where tests write their screenshots: the README's docs/images (tracked) only when
 * DNP_UPDATE_SCREENSHOTS=1, otherwise out/screenshots (ignored by git), so that running the
 * tests leaves the working tree as it was.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const UPDATE_SCREENSHOTS = process.env.DNP_UPDATE_SCREENSHOTS === '1';

/** The folder, made if missing. */
export function screenshotDir(repoRoot: string): string {
  const dir = UPDATE_SCREENSHOTS ? join(repoRoot, 'docs', 'images') : join(repoRoot, 'out', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
