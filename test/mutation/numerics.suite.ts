/**
 * The tests `MUTATE=numerics npm run mutate` runs against each mutant of src/core/numerics, in one
 * process (see graph-sim.suite.ts for why one file). The most pointed (and fastest) first: the
 * bookkeeping of the check (worst consumer, variance error, caps, validation), the kernels and the
 * folds, the bit-exact rounding, then the whole check and the deeper-deferral forms. Left out for
 * time: numerics-report.test.ts (every profiled fixture's check, ~7 s; it belongs to report/).
 */
import '../unit/mutation-numerics.test';
import '../unit/numerics-kernels.test';
import '../unit/numerics-check.test';
import '../unit/numerics-deep.test';
import '../unit/numerics-floats.test';
