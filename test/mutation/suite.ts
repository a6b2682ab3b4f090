/**
 * The tests `npm run mutate` runs against each mutant of src/core/graph and src/core/sim, in one
 * process: starting node and tsx costs more than most of these files take to run, and a mutant
 * stops at its first failing test. The most pointed (and fastest) files come first.
 *
 * The unit tests that import the graph or the simulator, except two left out for time: sim.test.ts
 * (every fixture × preset × workload, ~35 s once instrumented, five times its plain time) and
 * codegen-block.test.ts (~15 s). A surviving mutant runs this whole file, so every second here is
 * paid once per survivor. Not a unit test file itself (no `.test.ts`): `npm run test:unit` runs the
 * files below on their own.
 */
import '../unit/mutation-graph.test';
import '../unit/mutation-sim.test';
import '../unit/graph-work.test';
import '../unit/sim-costs.test';
import '../unit/graph.test';
import '../unit/panel-view.test';
