// Line coverage of each pure-core file by the cores' unit tests, with Node's own test
// coverage: `npm run coverage`.
//
// The cores and their tests are compiled to a temporary folder in the project (so
// their imports resolve in node_modules), without source maps:
// Node 20's coverage crashes on compiled files that carry a sourceMappingURL ("Cannot
// read properties of undefined (reading 'line')"). Figures are therefore for the
// compiled JavaScript lines, as in earlier coverage tables of this project.
//
// Every core file is listed. One that no test loads shows as such: a file with only
// types compiles to nothing and is never loaded at run time; any other unloaded file
// counts as 0 % and fails the run.
//   node scripts/coverage.mjs [--markdown]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { CORE_DIRS, CORE_TEST_GLOBS, SHARED_CORE_FILES } from './cores.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const markdown = process.argv.includes('--markdown');


function tsFiles(dir) {
  return readdirSync(join(root, dir))
    .filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'))
    .sort()
    .map((n) => `${dir}/${n}`);
}

function walk(dir, suffix) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, suffix));
    else if (name.endsWith(suffix)) out.push(p);
  }
  return out;
}

const cores = [...CORE_DIRS.flatMap(tsFiles), ...SHARED_CORE_FILES];
const out = mkdtempSync(join(root, '.coverage-build-'));
try {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.mutate.json'), '--outDir', out], { stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('compiling the cores and their tests failed');
  // A glob ending in "*.test" is every test of a folder; anything else is one file.
  const tests = CORE_TEST_GLOBS.flatMap((glob) => (glob.endsWith('/*.test') ? walk(join(out, glob.slice(0, -'/*.test'.length)), '.test.js') : [join(out, `${glob}.js`)]));
  const lcov = join(out, 'lcov.info');
  const run = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=1', '--experimental-test-coverage', '--test-reporter=dot', '--test-reporter-destination=stderr', '--test-reporter=lcov', `--test-reporter-destination=${lcov}`, ...tests],
    { cwd: out, stdio: 'inherit' },
  );
  if (run.status !== 0) throw new Error(`the unit tests failed (exit ${run.status})`);

  const records = new Map();
  for (const block of readFileSync(lcov, 'utf8').split('end_of_record')) {
    const sf = /^SF:(.*)$/m.exec(block);
    if (!sf) continue;
    const n = (tag) => Number(new RegExp(`^${tag}:(\\d+)$`, 'm').exec(block)?.[1] ?? 0);
    const uncovered = [...block.matchAll(/^DA:(\d+),0$/gm)].map((m) => Number(m[1]));
    records.set(isAbsolute(sf[1]) ? relative(out, sf[1]) : sf[1], { lf: n('LF'), lh: n('LH'), brf: n('BRF'), brh: n('BRH'), fnf: n('FNF'), fnh: n('FNH'), uncovered });
  }

  const pct = (hit, found) => (found === 0 ? '–' : ((100 * hit) / found).toFixed(2));
  const rows = [];
  let missing = 0;
  for (const file of cores) {
    const js = file.replace(/\.ts$/, '.js');
    const r = records.get(js);
    if (r) {
      rows.push([file, pct(r.lh, r.lf), `${r.lh}/${r.lf}`, pct(r.brh, r.brf), pct(r.fnh, r.fnf), ranges(r.uncovered)]);
      continue;
    }
    const typesOnly = /^(export \{\};\s*)?$/.test(readFileSync(join(out, js), 'utf8').replace(/\/\/.*$/gm, '').trim());
    if (typesOnly) rows.push([file, '–', '0/0', '–', '–', 'types only: compiles to no code']);
    else {
      missing += 1;
      rows.push([file, '0.00', 'not loaded', '–', '–', 'NO TEST LOADS THIS FILE']);
    }
  }
  const head = ['file', 'lines %', 'lines hit', 'branches %', 'functions %', 'uncovered lines (compiled JS)'];
  if (markdown) {
    console.log(`| ${head.join(' | ')} |`);
    console.log(`|${head.map(() => '---').join('|')}|`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } else {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
    console.log(line(head));
    for (const r of rows) console.log(line(r));
  }
  if (missing > 0) throw new Error(`${missing} core file(s) are not loaded by any test`);
} catch (error) {
  console.error(`coverage: ${error.message}`);
  process.exitCode = 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}

function ranges(lines) {
  const out = [];
  for (const n of lines) {
    const last = out[out.length - 1];
    if (last && last[1] === n - 1) last[1] = n;
    else out.push([n, n]);
  }
  return out.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(' ');
}
