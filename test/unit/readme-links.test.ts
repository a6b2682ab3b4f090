import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(__dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

test('every in-page link of the README names a heading or an explicit anchor', () => {
  const anchors = new Set<string>();
  for (const m of README.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) anchors.add(slug(m[1]!));
  for (const m of README.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(m[1]!);
  // Checked by hand against GitHub: "#### The headline's figures" is #the-headlines-figures.
  assert.equal(slug("The headline's figures"), 'the-headlines-figures');
  assert.equal(slug('From the estimate to PyTorch (`pytorch`)'), 'from-the-estimate-to-pytorch-pytorch');
  const links = [...README.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
  assert.ok(links.length > 0);
  const dangling = [...new Set(links)].filter((l) => !anchors.has(l));
  assert.deepEqual(dangling, [], `README links to ${dangling.map((d) => '#' + d).join(', ')}, which no heading or <a id> defines`);
});

test('every docs/ file the README links to exists', () => {
  const files = [...README.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!);
  assert.ok(files.includes('docs/validation.md'));
  for (const f of new Set(files)) assert.ok(existsSync(join(ROOT, f)), `README links to ${f}, which does not exist`);
});
