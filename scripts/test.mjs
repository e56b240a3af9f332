// Runs the test suite with node's test runner. e2e tests share one real local control
// plane per run (started here, stopped at the end); each test takes its own namespace.
//   node scripts/test.mjs [all|unit|e2e] [--keep-plane] [--only=<part of a path under dist/test>]
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const which = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'all';
const keep = process.argv.includes('--keep-plane');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);

function testFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.test.js')) out.push(p);
    }
  };
  walk(join(root, 'dist', 'test', dir));
  return out;
}

const files = [...(which !== 'e2e' ? testFiles('unit') : []), ...(which !== 'unit' ? testFiles('e2e') : [])].filter((f) => !only || relative(join(root, 'dist', 'test'), f).includes(only));
if (files.length === 0) {
  console.error(`no compiled tests found for "${which}" (run \`npm run build\` first)`);
  process.exit(1);
}

let planeDir;
let stopPlane;
const needsPlane = files.some((f) => f.includes(`${join('test', 'e2e')}`));
if (needsPlane) {
  const plane = await import(join(root, 'dist', 'plane', 'plane.js'));
  stopPlane = plane.stopPlane;
  planeDir = mkdtempSync(join(tmpdir(), 'baton-test-plane-'));
  const started = Date.now();
  const say = (m) => console.error(`[plane ${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`);
  try {
    await plane.startPlane({ dir: planeDir, nodes: 2, auditLog: true, progress: say });
  } catch (error) {
    console.error(`could not start the local control plane: ${error.message}`);
    process.exit(1);
  }
  say(`ready (${planeDir})`);
}

let stopping = false;
async function cleanup() {
  if (stopping || !needsPlane) return;
  stopping = true;
  if (keep) console.error(`plane kept running: KUBECONFIG=${join(planeDir, 'kubeconfig')}`);
  else await stopPlane(planeDir);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)));

const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: { ...process.env, ...(planeDir ? { BATON_TEST_PLANE: planeDir } : {}) },
});
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
await cleanup();
process.exit(code);
