// Lint for baton (`npm run lint`; `npm test` runs it after the build, before the tests).
// Beside typescript-eslint's type-checked recommendations it holds the architecture to
// account: the pure cores do no I/O and read no clock, shared/ depends on no function,
// functions depend on each other only through shared/, and no source file grows past
// 300 lines. It runs after the build: the example subscriber (knative/examples) is
// checked against the built package export "baton/events", as a user's project would be.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { CORE_GLOBS } from './scripts/cores.mjs';
import layers from './scripts/lint-layers.mjs';

const CORES = CORE_GLOBS;

// node:net's address checks are plain functions of a string; nothing else of node is.
const PURE_NET = ['isIP', 'isIPv4', 'isIPv6'];
const builtins = builtinModules.filter((name) => !name.startsWith('_') && name !== 'net');

const coreImports = {
  paths: [
    ...['net', 'node:net'].map((name) => ({ name, allowImportNames: PURE_NET, message: 'a pure core may use only the address checks of node:net, no sockets.' })),
    { name: '@kubernetes/client-node', allowTypeImports: true, message: 'a pure core works on plain values: import only types from the API client.' },
  ],
  patterns: [
    { group: ['express', 'express/*', 'cloudevents', 'cloudevents/*', 'pino', 'pino/*', 'jose', 'jose/*', 'commander', 'baton', 'baton/*'], message: 'a pure core does no I/O: this belongs in the shell.' },
    { regex: `^(${builtins.map((name) => name.replace(/[/]/g, '\\/')).join('|')})(\\/.*)?$`, message: 'a pure core does no I/O and reads no clock: pass what it needs as an argument.' },
    { regex: '^node:(?!net$)', message: 'a pure core does no I/O and reads no clock: pass what it needs as an argument.' },
  ],
};

const clockAndIo = ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask', 'fetch', 'process', 'require', 'console', 'crypto', 'performance', 'XMLHttpRequest', 'WebSocket'].map((name) => ({
  name,
  message: `a pure core does no I/O and reads no clock; ${name} belongs in the shell.`,
}));

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'plane/go/**', 'bench/results/**'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { baton: layers },
    rules: {
      'baton/layers': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Fakes implement the async ports with synchronous bodies on purpose.
      '@typescript-eslint/require-await': 'off',
      // node:test's test/describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
    },
  },
  {
    // Plain JavaScript outside the TypeScript project: the launcher, scripts, this file.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      parserOptions: { projectService: false },
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  {
    files: ['functions/**/*.ts', 'shared/**/*.ts', 'cli/**/*.ts', 'plane/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.mjs', 'bin/**/*.js'],
    rules: { 'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }] },
  },
  {
    files: CORES,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', coreImports],
      'no-restricted-globals': ['error', ...clockAndIo],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'a pure core reads no clock: take `now` as an argument.' },
        { object: 'Math', property: 'random', message: 'a pure core is deterministic: take randomness as an argument.' },
        { object: 'globalThis', message: 'a pure core reaches nothing through globalThis.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'NewExpression[callee.name="Date"][arguments.length=0]', message: 'a pure core reads no clock: `new Date()` is now; take `now` as an argument.' },
        { selector: 'ImportExpression', message: 'a pure core loads no code at run time.' },
      ],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: false, skipComments: false }],
    },
  },
);
