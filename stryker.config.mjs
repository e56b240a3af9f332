// Mutation testing of the pure cores: `npm run mutate`. Not part of `npm test`.
//
// Speed on 2 cores comes from three choices:
// - The sandbox is compiled once (buildCommand, tsc without type checking) and the tap
//   runner then runs the compiled unit tests of the cores only, one node process per
//   test file; Stryker activates each mutant through an environment variable, so
//   nothing is recompiled per mutant.
// - perTest coverage: each test file counts as one test, and a mutant runs only the
//   files that executed it, stopping at the first failure (forceBail).
// - incremental: a re-run reuses the results of mutants whose code and tests did not
//   change (reports/mutation/stryker-incremental.json, not committed). Stryker compares
//   the test files it reads from the project, so scripts/mutate.mjs compiles them into
//   .mutate-build before Stryker starts, and .mutate-build is not ignored here.
// scripts/mutation-report.mjs turns the JSON report into bench/results/<date>-mutation.md.
import { CORE_GLOBS, CORE_TEST_GLOBS } from './scripts/cores.mjs';

export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/tap-runner'],
  testRunner: 'tap',
  mutate: CORE_GLOBS,
  buildCommand: 'tsc -p tsconfig.mutate.json',
  tap: {
    testFiles: CORE_TEST_GLOBS.map((glob) => `.mutate-build/${glob}.js`),
    // Node 20 prints TAP when stdout is a pipe; saying so keeps that true on newer Nodes.
    nodeArgs: ['--test-reporter=tap'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  concurrency: 2,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['json', 'progress', 'clear-text'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false, reportScoreTable: true },
  // Nothing outside these is needed to compile the cores and their tests.
  ignorePatterns: ['dist', '.coverage-build*', 'reports', '.baton', '.smoke', 'bench', 'plane', 'cli', 'docs', 'deploy'],
  tempDirName: '.stryker-tmp',
  thresholds: { high: 95, low: 90, break: null },
};
