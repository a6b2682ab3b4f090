// Writes dist/cli-main.js.cache, V8's code cache for the command line's bundle (src/cli/start.ts reads
// it): compiles the bundle as dist/cli.js does, runs a few commands in this process so that V8 compiles
// the functions they call (the model readers, the simulator, the report, the numerics check, the
// rewritten code, a sweep), and saves the bytecode of all of them. Run by esbuild.config.mjs after a
// build; commands whose fixture is missing are skipped. Usage: node scripts/cli-code-cache.mjs
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const dist = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'dist');
const fixture = (name) => join(dist, '..', 'test', 'fixtures', 'configs', name);
const start = require(join(dist, 'cli.js'));
const { script, run } = start.compileMain(dist, false);
// A module of its own, so that the bundle does not take itself for the command and run.
const mod = { exports: {}, id: 'cli-code-cache', filename: join(dist, 'cli.js'), loaded: false, children: [], paths: [] };
const { main } = run(mod, require, join(dist, 'cli.js'));

const commands = [
  ['profile', fixture('Llama-3.1-405B'), '--format', 'json'],
  ['profile', fixture('DeepSeek-V3')],
  ['sweep', fixture('Llama-3.1-8B'), '--batch', '1,8', '--set-range', 'collective.hopLatencyNs=0,50'],
];
const write = process.stdout.write;
for (const argv of commands) {
  if (!existsSync(argv[1])) continue;
  process.stdout.write = () => true;
  try {
    await main(argv);
  } finally {
    process.stdout.write = write;
  }
}
const header = JSON.stringify(start.headerOf(join(dist, start.MAIN_BUNDLE)));
writeFileSync(join(dist, start.CODE_CACHE), Buffer.concat([Buffer.from(header + '\n'), script.createCachedData()]));
