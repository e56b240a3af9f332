// `npm run mutate`: StrykerJS over the pure cores (stryker.config.mjs), timed, then the
// dated results file written from Stryker's JSON report (scripts/mutation-report.mjs).
//   node scripts/mutate.mjs [--force]   --force: ignore the incremental file, test every mutant
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const force = process.argv.includes('--force');
const incrementalFile = join(root, 'reports', 'mutation', 'stryker-incremental.json');
const mode = !force && existsSync(incrementalFile) ? 'incremental' : 'cold';
const loadAtStart = os.loadavg()[0];

const started = Date.now();
// The compiled tests must exist before Stryker reads the project: its incremental mode
// knows a test file unchanged only from its content.
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.mutate.json')], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('mutate: compiling the cores and their tests failed');
  process.exit(tsc.status ?? 1);
}
const stryker = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', ...(force ? ['--force'] : [])], {
  cwd: root,
  stdio: 'inherit',
});
const seconds = Math.round((Date.now() - started) / 1000);
if (stryker.status !== 0) {
  console.error(`mutate: Stryker failed (exit ${stryker.status}) after ${seconds} s`);
  process.exit(stryker.status ?? 1);
}
const report = spawnSync(
  process.execPath,
  [join(root, 'scripts/mutation-report.mjs'), `--seconds=${seconds}`, `--mode=${mode}`, `--load=${loadAtStart.toFixed(2)}`],
  { cwd: root, stdio: 'inherit' },
);
process.exit(report.status ?? 1);
