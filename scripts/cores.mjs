// The pure cores: decisions on plain values, no I/O, no clock. One list for the three
// tools that care: the linter keeps these files pure (eslint.config.js), `npm run
// mutate` mutates them (stryker.config.mjs) and `npm run coverage` measures them.
export const CORE_DIRS = ['functions/failover/core', 'functions/routes/core'];
/** Pure files of shared/: the balancer's model and hints, baton's record, the host policy grammar. */
export const SHARED_CORE_FILES = ['shared/balancer/model.ts', 'shared/balancer/hint.ts', 'shared/record.ts', 'shared/config/host-policy.ts'];
/** Where the unit tests of the cores live (compiled: under <out>/test/unit/...). */
export const CORE_TEST_GLOBS = [
  'test/unit/functions/failover/core/*.test',
  'test/unit/functions/routes/core/*.test',
  'test/unit/shared/balancer/*.test',
  'test/unit/shared/record.test',
  'test/unit/shared/config/host-policy.test',
];
/** Globs of every core source file. */
export const CORE_GLOBS = [...CORE_DIRS.map((dir) => `${dir}/**/*.ts`), ...SHARED_CORE_FILES];
