// Mutation testing of the graph builder and the simulator (`npm run mutate`; not in CI): each mutant
// of src/core/graph and src/core/sim is run against the unit tests that exercise them
// (test/mutation/suite.ts). Reports: reports/mutation/ (HTML, JSON) and the console.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: ['src/core/graph/**/*.ts', 'src/core/sim/**/*.ts'],
  testRunner: 'tap',
  tap: {
    // One file that imports the unit tests that exercise the graph and the simulator (see its header
    // for which and why), run in one process: node's own runner, TAP out, TypeScript through tsx's
    // require hook (a fifth of a second less per process than `--import tsx`, which starts a loader
    // thread). Not `node --test`, which would fork a child the coverage hook cannot see.
    testFiles: ['test/mutation/suite.ts'],
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
  // Copy only what the tests read into the sandbox (not .vscode-test, dist, out or docs).
  ignorePatterns: ['/*', '!/src', '!/test', '!/types', '!/package.json', '!/tsconfig*.json'],
  reporters: ['clear-text', 'html', 'json', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 80, low: 60, break: null },
};
