#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm install` (prepare) or `npm run build` creates it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('baton: the CLI is not built yet; run `npm run build` in the baton checkout first.\n');
  process.exit(2);
}
await import(main.href);
