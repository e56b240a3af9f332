// promtool, built from the Prometheus Go module so the tests can check the alert rules
// (knative/observability/) and a real scrape of a function without a release download.
// Same cache and rules as the plane's binaries; built only when a test asks for it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureComponent } from './binaries.js';
import type { Component, Progress } from './components.js';

const MODULE_PATH = 'github.com/prometheus/prometheus';

const PROMTOOL: Component<'promtool'> = {
  module: 'promtool',
  modulePath: MODULE_PATH,
  binaries: [{ name: 'promtool', pkg: `${MODULE_PATH}/cmd/promtool` }],
  // Prometheus's own build tag that leaves out every service-discovery plugin (the
  // cloud SDKs are most of the compile); checking rules and scrapes needs none of them.
  tags: 'remove_all_sd',
  // Release builds stamp the version this way; `promtool --version` names the pin then.
  ldflags: (version) => `-X github.com/prometheus/common/version.Version=${version}`,
};

/** The path of the cached promtool of the pinned version, building it first (minutes, once). */
export async function ensurePromtool(progress: Progress = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = await ensureComponent(PROMTOOL, progress, env);
  return join(dir, 'promtool');
}

export interface PromtoolResult {
  readonly ok: boolean;
  /** stdout and stderr together: promtool reports problems on either. */
  readonly output: string;
}

/** Runs promtool with `args`, feeding `stdin`; bounded in time so a hang fails the caller. */
export function runPromtool(path: string, args: readonly string[], stdin?: string): PromtoolResult {
  const r = spawnSync(path, [...args], { input: stdin ?? '', encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}
