// The plane's record of itself (<dir>/state.json), which lets another process find and
// stop it, and the kubeconfig that points at it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Binaries } from './binaries.js';
import type { NodeBinaryName } from './components.js';
import type { KnativeInstall } from './knative/install.js';
import type { RealNodeState } from './node/node.js';
import type { ProcessRecord } from './processes.js';

export interface PlaneState {
  readonly version: 1;
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly adminToken: string;
  readonly caFile: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly processes: readonly ProcessRecord[];
  readonly binaries: Binaries;
  readonly startedAt: string;
  readonly readyMs: number;
  /** Present when the plane runs a real node; `stopPlane` undoes it from this record. */
  readonly realNode?: RealNodeState;
  readonly nodeBinaries?: Readonly<Record<NodeBinaryName, string>>;
  /** Present when Knative was installed (`--knative`): its pinned images and install times. */
  readonly knative?: KnativeInstall;
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export function readState(dir: string): PlaneState | undefined {
  const path = statePath(dir);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PlaneState;
  } catch {
    return undefined;
  }
}

export function kubeconfigYaml(server: string, caFile: string, token: string, user = 'admin'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: baton-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: baton-local',
    '  context:',
    '    cluster: baton-local',
    `    user: ${user}`,
    '    namespace: default',
    'current-context: baton-local',
    '',
  ].join('\n');
}
