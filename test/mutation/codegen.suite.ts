/**
 * The tests `MUTATE=codegen npm run mutate` runs against each mutant of src/core/codegen, in one
 * process (see graph-sim.suite.ts for why one file). The most pointed first: the PyTorch plan's
 * literals and site statuses and formatPseudocode on hand-set inputs; then every site's listing
 * (codegen-sites) and the whole blocks (codegen-block, ~15 s). Left out for time:
 * codegen-pytorch.test.ts, which starts Python and CLI processes.
 */
import '../unit/mutation-codegen.test';
import '../unit/codegen-sites.test';
import '../unit/codegen-block.test';
