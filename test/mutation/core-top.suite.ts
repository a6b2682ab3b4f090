/**
 * The tests `MUTATE=core-top npm run mutate` runs against each mutant of the top-level files of
 * src/core (errors, files, json, own, terms, text, workload), in one process (see graph-sim.suite.ts for why
 * one process). Left out: the fuzz and hostile-input files (~12 s each, and they start dist/cli.js,
 * which is not in the sandbox); mutation-core-top.test.ts checks the same edges in process.
 */
import '../unit/mutation-core-top.test';
import '../unit/text-sanitize.test';
