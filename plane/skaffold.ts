// skaffold, built from its Go module so CI can check skaffold.yaml without a release
// download or a Docker engine. Same cache and rules as the plane's binaries; built only
// when something asks for it (the deploy test), not by `baton cluster up`.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CacheError, ensureComponent } from './binaries.js';
import type { Component, Progress } from './components.js';

const MODULE_PATH = 'github.com/GoogleContainerTools/skaffold/v2';

const SKAFFOLD: Component<'skaffold'> = {
  module: 'skaffold',
  modulePath: MODULE_PATH,
  binaries: [{ name: 'skaffold', pkg: `${MODULE_PATH}/cmd/skaffold` }],
  // Release builds stamp the version this way; without it `skaffold version` prints
  // nothing, which makes a failure report harder to read.
  ldflags: (version) => `-X ${MODULE_PATH}/pkg/skaffold/version.version=${version}`,
};

export interface Skaffold {
  readonly path: string;
  readonly version: string;
}

/**
 * The path of a skaffold binary: BATON_SKAFFOLD if set (an existing install), else the
 * cached build of the pinned version, building it first (several minutes, once).
 */
export async function ensureSkaffold(progress: Progress = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<Skaffold> {
  if (env.BATON_SKAFFOLD) {
    try {
      accessSync(env.BATON_SKAFFOLD, constants.X_OK);
    } catch {
      throw new CacheError(`BATON_SKAFFOLD=${env.BATON_SKAFFOLD} is not an executable file; unset it to build skaffold from its Go module`);
    }
    return { path: env.BATON_SKAFFOLD, version: 'BATON_SKAFFOLD' };
  }
  const dir = await ensureComponent(SKAFFOLD, progress, env);
  return { path: join(dir, 'skaffold'), version: dir.split('skaffold-')[1]?.split('-')[0] ?? 'unknown' };
}
