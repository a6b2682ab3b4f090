/**
 * The tests `MUTATE=report npm run mutate` runs against each mutant of src/core/report, in one
 * process (see graph-sim.suite.ts for why one file). The most pointed first: the totals, exports and
 * numerics verdict on hand-set figures, the text helpers, brief, sweep, timeline and end-to-end
 * figures on hand-set or independently simulated values, then the headline figures, memory,
 * comparisons, tensor parallelism 'auto' and the sanitizing of names in the views. Left out for time: numerics-report.test.ts (every profiled
 * fixture's numerics check, ~7 s; its site-kind test is what it adds), sim.test.ts and
 * sim-speed-equivalence.test.ts (every fixture and sweep, tens of seconds instrumented). Left out
 * because it cannot run here: model-summary.test.ts, whose dynamic import('./helpers/fixtures')
 * does not resolve under the tsx/cjs hook this runner uses.
 */
import '../unit/mutation-report.test';
import '../unit/mutation-report-formats.test';
import '../unit/report-figures.test';
import '../unit/report-memory.test';
import '../unit/report-compare.test';
import '../unit/tensor-parallel.test';
import '../unit/text-sanitize.test';
