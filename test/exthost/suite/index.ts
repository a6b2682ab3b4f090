// Entry the extension host loads (extensionTestsPath): runs every compiled *.test.js beside it
// in one Mocha instance and rejects on failures, which the host turns into its exit code.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';
import { outputPrefix } from './marker';

export async function run(): Promise<void> {
  // The host forwards each console.log call with its format arguments unapplied: format here,
  // one call per line, so every line reaches the runner whole and can carry the prefix.
  const prefix = outputPrefix();
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => {
    for (const line of format(...args).split('\n')) console.log(prefix + line);
  };
  const mocha = new Mocha({ ui: 'tdd', reporter: 'spec', timeout: 60_000, color: false });
  const grep = process.env['DNP_EXTHOST_GREP'];
  if (grep) mocha.grep(grep);
  for (const file of readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(join(__dirname, file));
  }
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} extension-host test(s) failed`);
}
