/**
 * The tests `npm run mutate` runs against each mutant of src/core/graph and src/core/sim, in one
 * process: starting node and tsx costs more than most of these files take to run, and a mutant
 * stops at its first failing test. The most pointed (and fastest) files come first.
 *
 * The unit tests that import the graph or the simulator directly and check their figures. Left out
 * for time, since a surviving mutant runs this whole file: sim.test.ts (every fixture × preset ×
 * workload, ~35 s once instrumented), sim-speed-equivalence.test.ts (~7 s, sweeps and a CLI
 * process), codegen-block.test.ts (~15 s) and panel-view.test.ts (1.7 s of the 2.4 s this took,
 * for the panel's composition of reports); mutation-sim.test.ts states the invariants of the first
 * two on a tiny model. Not a unit test file itself (no `.test.ts`): `npm run test:unit` runs the
 * files below on their own.
 */
import '../unit/mutation-graph.test';
import '../unit/mutation-sim.test';
import '../unit/graph-work.test';
import '../unit/sim-costs.test';
import '../unit/graph.test';
import '../unit/graph-depth.test';
