// The V8 flags the functions run with, as the image sets them (Dockerfile, ENV
// NODE_OPTIONS). Local runs of the container entry point (e2e tests, the bench, the
// code cache written by scripts/bundle.mjs) use the same: a V8 code cache is only
// accepted under the flags it was made with, and the figures should be the image's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export function functionNodeOptions(): string {
  const dockerfile = readFileSync(join(repoRoot(), 'Dockerfile'), 'utf8');
  const match = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile);
  if (!match) throw new Error('Dockerfile: no ENV NODE_OPTIONS="..." line');
  return match[1]!;
}
