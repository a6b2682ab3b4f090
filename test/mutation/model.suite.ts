/**
 * The tests `MUTATE=model npm run mutate` runs against each mutant of src/core/model, in one process
 * (see graph-sim.suite.ts for why one process). The pointed mutation tests first, then the readers'
 * own files, then model-viewer.test.ts (the only test of file-header.ts; last, since it also builds
 * the viewer's page and a report). Left out: the CLI tests (they start dist/cli.js, which is built from
 * the unmutated source and is not in the sandbox) and the fuzz and hostile-input files (~12 s each).
 * model-summary.test.ts imports its fixtures statically: a dynamic import does not resolve under the
 * runner's tsx/cjs hook.
 */
import '../unit/mutation-model.test';
import '../unit/model-config.test';
import '../unit/model-gguf.test';
import '../unit/model-safetensors.test';
import '../unit/model-load.test';
import '../unit/model-summary.test';
import '../unit/model-viewer.test';
