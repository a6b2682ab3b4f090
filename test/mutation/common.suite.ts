/**
 * The tests `MUTATE=common npm run mutate` runs against each mutant of src/common, in one process
 * (see graph-sim.suite.ts for why one file). The most pointed first: the sweep, kernel overrides,
 * site sources, patch column and the protocol's limits; then the protocol, the panel's composition
 * the measured-blocks view, the panel's state reducer and the HTML documents (report-html.test.ts
 * reads webview/report.css, which stryker.config.mjs copies into the sandbox for it). Left out for
 * time: measure-run.test.ts and codegen-pytorch.test.ts, which start CLI and Python processes (the
 * Python finder's pure parts are in mutation-common.test.ts).
 */
import '../unit/mutation-common.test';
import '../unit/shared-protocol.test';
import '../unit/panel-view.test';
import '../unit/measure-panel.test';
import '../unit/panel-state.test';
import '../unit/report-html.test';
