// Container entry point: one image serves every function; the first argument (or
// BATON_FUNCTION) says which. Kept apart from the CLI, which carries local test tooling.
//
// Start-up time is module loading: @kubernetes/client-node alone is some 2,000 ES
// modules (every generated API model), and Node 20 has no compile cache for them. The
// build (scripts/bundle.mjs) therefore puts entry.ts and everything it imports into one
// CommonJS file with a V8 code cache made for it; this file runs that bundle when it is
// there and falls back to the plain modules when it is not (or the cache does not fit).
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

import { FUNCTIONS, isFunctionName } from './names.js';

type Entry = typeof import('./entry.js');

const here = dirname(fileURLToPath(import.meta.url));
export const BUNDLE = join(here, '..', 'bundle', 'entry.cjs');
export const CODE_CACHE = `${BUNDLE}.cache`;
/** The bundle's first line names its build; a cache is used only with the build it was made for. */
const BUILD_LINE = /^\/\/ baton-bundle (\S+)\n/;

interface Loaded {
  readonly entry: Entry;
  readonly script: Script;
  readonly build: string;
  readonly cacheRejected: boolean;
}

function loadBundle(useCache: boolean): Loaded | undefined {
  // A bundle older than the last compile (tsc without scripts/bundle.mjs) is stale:
  // the modules are the truth then. An image has no .tsbuildinfo.
  const compiled = statSync(join(here, '..', '.tsbuildinfo'), { throwIfNoEntry: false })?.mtimeMs;
  const bundled = statSync(BUNDLE, { throwIfNoEntry: false })?.mtimeMs;
  if (bundled === undefined || (compiled !== undefined && compiled > bundled)) return undefined;
  let source: string;
  try {
    source = readFileSync(BUNDLE, 'latin1');
  } catch {
    return undefined;
  }
  const build = BUILD_LINE.exec(source)?.[1];
  if (build === undefined) return undefined;
  let cachedData: Buffer | undefined;
  if (useCache) {
    try {
      const cache = readFileSync(CODE_CACHE);
      const header = Buffer.from(`${build}\n`);
      // V8 checks a cache against the source's length only: the build id guards the rest.
      if (cache.subarray(0, header.length).equals(header)) cachedData = cache.subarray(header.length);
    } catch {
      // No cache: compile.
    }
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE, ...(cachedData ? { cachedData } : {}) });
  const module = { exports: {} as Entry };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  return { entry: module.exports, script, build, cacheRejected: cachedData === undefined || script.cachedDataRejected === true };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--write-code-cache') {
    // Build step: compile and evaluate the bundle (starting nothing), then keep what V8 compiled.
    const loaded = loadBundle(false);
    if (!loaded) throw new Error(`no bundle at ${BUNDLE}: run scripts/bundle.mjs first`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(CODE_CACHE, Buffer.concat([Buffer.from(`${loaded.build}\n`), loaded.script.createCachedData()]));
    return;
  }
  const name = process.argv[2] ?? process.env.BATON_FUNCTION;
  if (!isFunctionName(name)) {
    process.stderr.write(`baton: say which function to serve: ${FUNCTIONS.join(' | ')} (argument or BATON_FUNCTION; got ${JSON.stringify(name ?? null)})\n`);
    process.exit(64);
  }
  try {
    const loaded = process.env.BATON_BUNDLE === 'false' ? undefined : loadBundle(true);
    const entry = loaded?.entry ?? (await import('./entry.js'));
    const boot = loaded ? `bundle ${loaded.build}, code cache ${loaded.cacheRejected ? 'not used' : 'used'}` : 'modules';
    await entry.start(name, { ...process.env, BATON_BOOT: boot });
  } catch (error) {
    process.stderr.write(`baton ${name}: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

await main();
