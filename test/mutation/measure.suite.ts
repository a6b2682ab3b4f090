/**
 * The tests `MUTATE=measure npm run mutate` runs against each mutant of src/core/measure, in one
 * process (see graph-sim.suite.ts for why one process). Left out: measure-run.test.ts and the second
 * half of validate-measured.test.ts, which start dist/cli.js (built from the unmutated source, and not
 * in the sandbox); mutation-measure.test.ts checks the same readers in process. The pointed tests
 * come first: the runner stops at the first failure, so a mutant they kill costs a fraction of the
 * calibrate tests' time.
 */
import '../unit/mutation-measure-fit.test';
import '../unit/mutation-measure.test';
import '../unit/measure-fit.test';
import '../unit/measure-shape.test';
import '../unit/measure-panel.test';
