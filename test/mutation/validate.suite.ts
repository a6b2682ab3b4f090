/**
 * The tests `MUTATE=validate npm run mutate` runs against each mutant of src/core/validate, in one
 * process (see graph-sim.suite.ts for why one process). Left out: validate-measured.test.ts, whose
 * second test starts dist/cli.js (built from the unmutated source, and not in the sandbox);
 * mutation-validate.test.ts checks the measurements section in process instead.
 */
import '../unit/mutation-validate.test';
import '../unit/validate.test';
