import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout root: the nearest folder above this file whose package.json is baton's. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'baton') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the baton checkout above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Where built binaries live: outside the repo, shared by every clone on the machine. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BATON_CACHE_DIR) return resolve(env.BATON_CACHE_DIR);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'baton');
}

/** Where `baton cluster up` keeps the running plane's data and state. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BATON_STATE_DIR) return resolve(env.BATON_STATE_DIR);
  return join(env.XDG_STATE_HOME ? resolve(env.XDG_STATE_HOME) : join(homedir(), '.local', 'state'), 'baton', 'cluster');
}
