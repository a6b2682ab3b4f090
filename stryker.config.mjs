// Mutation testing, one part of the code at a time (`npm run mutate`; not in CI). MUTATE names the part:
// a folder of src/core (`MUTATE=model npm run mutate`), `common` for src/common, `core-top` for the
// top-level files of src/core, or `graph-sim` (the default) for src/core/graph and src/core/sim together. Each mutant runs against that part's suite,
// test/mutation/<part>.suite.ts: the unit tests that check its figures directly, in one process.
// Reports: reports/mutation/<part>/ (HTML, JSON) and the console.
const part = process.env.MUTATE || 'graph-sim';
if (!/^[a-z-]+$/.test(part)) throw new Error(`MUTATE=${part}: expected a folder name such as model or graph-sim`);
const mutate =
  part === 'graph-sim' ? ['src/core/graph/**/*.ts', 'src/core/sim/**/*.ts']
  : part === 'common' ? ['src/common/**/*.ts']
  // The top-level files of src/core (errors, files, json, own, terms, text, workload), not its folders.
  : part === 'core-top' ? ['src/core/*.ts']
  : [`src/core/${part}/**/*.ts`];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate,
  testRunner: 'tap',
  tap: {
    // One file that imports the unit tests that exercise the part (see its header for which and why), run in one process: node's own runner, TAP out, TypeScript through tsx's
    // require hook (a fifth of a second less per process than `--import tsx`, which starts a loader
    // thread). Not `node --test`, which would fork a child the coverage hook cannot see.
    testFiles: [`test/mutation/${part}.suite.ts`],
    nodeArgs: ['-r', '{{hookFile}}', '-r', 'tsx/cjs', '--test-reporter=tap', '{{testFile}}'],
    // Stop a run at its first failing test.
    forceBail: true,
  },
  // Mutants no test reaches are reported as such without a run.
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // A mutant that loops (e.g. in the scheduler) is cut off after 1.5× the covering files' own time plus
  // this (a loop that passes through the mutated code stops sooner, at 100× its hit count of the dry run).
  timeoutMS: 4000,
  // Copy only what the tests read into the sandbox (not .vscode-test, dist, out or docs); webview/ for
  // report-html.test.ts, which checks the export's theme against the page's stylesheet.
  ignorePatterns: ['/*', '!/src', '!/test', '!/types', '!/schemas', '!/webview', '!/package.json', '!/tsconfig*.json'],
  reporters: ['clear-text', 'html', 'json', 'progress'],
  htmlReporter: { fileName: `reports/mutation/${part}/index.html` },
  jsonReporter: { fileName: `reports/mutation/${part}/mutation.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  // With `--reporters …,event-recorder`, each mutant's result as it is tested (to read survivors during a long run).
  eventReporter: { baseDir: `reports/mutation/${part}/events` },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 80, low: 60, break: null },
};
