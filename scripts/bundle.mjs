// Build step after tsc: dist/functions/entry.js and everything it imports, in one
// CommonJS file (dist/bundle/entry.cjs), plus the V8 code cache that serve.js loads it
// with. One file instead of some 2,500 ES modules, and no compilation at start.
// The cache is only valid for the same Node binary and V8 flags: the Dockerfile makes
// it again in the final image, under the NODE_OPTIONS the functions run with.
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  entryPoints: [`${root}dist/functions/entry.js`],
  outfile: `${root}dist/bundle/entry.cjs`,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Less to read at start; names are kept, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: false,
  legalComments: 'none',
  // ASCII only (non-ASCII is escaped): serve.js reads it as latin1, with no UTF-8 decoding.
  charset: 'ascii',
  banner: { js: `// baton-bundle ${randomUUID()}` },
  logLevel: 'warning',
});
if (process.argv.includes('--no-code-cache')) process.exit(0);
// Under the flags the image runs the functions with (see plane/node-options.ts).
const { functionNodeOptions } = await import(`${root}dist/plane/node-options.js`);
const r = spawnSync(process.execPath, [`${root}dist/functions/serve.js`, '--write-code-cache'], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: functionNodeOptions() } });
if (r.status !== 0) {
  process.stderr.write('baton: could not write the code cache of the bundle\n');
  process.exit(r.status ?? 1);
}
