/**
 * The tests `MUTATE=hardware npm run mutate` runs against each mutant of src/core/hardware, in one
 * process (see graph-sim.suite.ts for why one process): the pointed mutation tests first, then the
 * hardware unit tests, and measure-shape.test.ts for the efficiency by GEMM shape. The simulator's
 * tests, which read every preset, are left out for time.
 */
import '../unit/mutation-hardware.test';
import '../unit/hardware-validate.test';
import '../unit/hardware-overrides.test';
import '../unit/hardware-schema.test';
import '../unit/hardware-presets.test';
import '../unit/measure-shape.test';
