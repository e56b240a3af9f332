// baton on the plane's Knative, deployed the way knative/README tells a user: `skaffold
// run -p plane` builds the image, pushes it to the plane's registry and applies
// knative/overlays/plane; Knative's own Ready conditions say when it is up. Shared by
// `baton demo --knative`, the bench's Broker column and the e2e tests.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { apiGet, apiWrite } from '../api.js';
import type { Progress } from '../components.js';
import { REAL_NODE_GATEWAY, REGISTRY_HOST } from '../node/network.js';
import { repoRoot } from '../paths.js';
import { ensureSkaffold } from '../skaffold.js';
import type { PlaneState } from '../state.js';
import { waitFor } from '../wait.js';

/** Where knative/ puts baton: the functions, the source, the Broker and its Triggers. */
export const BATON_SYSTEM = 'baton-system';
/** The one namespace knative/overlays/local lets baton act in (scope.yaml, BATON_NAMESPACES). */
export const LOCAL_APP_NAMESPACE = 'default';

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly message?: string;
}

/** The fields of Knative objects (Services, Brokers, Triggers, sources) read here and in tests. */
export interface KnativeObject {
  metadata?: { name?: string; generation?: number; resourceVersion?: string };
  spec?: { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } };
  status?: { observedGeneration?: number; conditions?: Condition[]; url?: string; address?: { url?: string }; latestReadyRevisionName?: string; latestCreatedRevisionName?: string };
}

export const ready = (o: KnativeObject): boolean => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

type Plane = Pick<PlaneState, 'server' | 'adminToken' | 'caFile'>;

/** GET of a namespaced Knative object; undefined when it does not exist (yet). */
export async function getKnative(state: Plane, group: string, plural: string, name: string, namespace = BATON_SYSTEM): Promise<KnativeObject | undefined> {
  const r = await apiGet(state, `/apis/${group}/v1/namespaces/${namespace}/${plural}/${name}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET ${plural}/${name}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as KnativeObject;
}

/** Waits for Knative's Ready condition on one object; a timeout names its last conditions. */
export async function readyKnative(state: Plane, group: string, plural: string, name: string, namespace = BATON_SYSTEM, timeoutMs = 180_000): Promise<KnativeObject> {
  let last: KnativeObject | undefined;
  return waitFor(`${plural}/${name} to be Ready`, async () => {
    last = await getKnative(state, group, plural, name, namespace);
    // Ready as of the object's current spec, not the one before the last write.
    return last && ready(last) && last.status?.observedGeneration === last.metadata?.generation ? last : undefined;
  }, { timeoutMs, intervalMs: 500 }).catch((e: Error) => {
    throw new Error(`${e.message}; its conditions: ${JSON.stringify(last?.status?.conditions)}`);
  });
}

/** The environment skaffold deploys with: the plane's kubeconfig, and its kubectl first on PATH. */
export function skaffoldEnv(state: Pick<PlaneState, 'kubeconfig' | 'binaries'>): NodeJS.ProcessEnv {
  return { KUBECONFIG: state.kubeconfig, PATH: [dirname(state.binaries.paths.kubectl), process.env.PATH ?? ''].join(delimiter) };
}

/**
 * The skaffold built here, run in the repository as a user runs it. A private HOME keeps
 * skaffold's global config (telemetry prompt) out of the user's; update checks and prompts
 * are off. Its output goes to `logFile` when given, else to this process's.
 */
export async function runSkaffold(args: readonly string[], progress: Progress, env: NodeJS.ProcessEnv = {}, logFile?: string): Promise<void> {
  const skaffold = await ensureSkaffold(progress);
  const home = mkdtempSync(join(tmpdir(), 'baton-skaffold-home-'));
  const fd = logFile ? openSync(logFile, 'a') : undefined;
  try {
    const all = [...args, '--update-check=false', '--interactive=false'];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(skaffold.path, all, { cwd: repoRoot(), env: { ...process.env, ...env, HOME: home, SKAFFOLD_UPDATE_CHECK: 'false' }, stdio: fd === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', fd, fd] });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`skaffold ${all.join(' ')} failed (exit ${code})${logFile ? `; its output is in ${logFile}` : ''}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(home, { recursive: true, force: true });
  }
}

/** Everything knative/ makes, as [group, plural, name]: Ready on all of it means baton is up. */
export const BATON_OBJECTS: ReadonlyArray<readonly [string, string, string]> = [
  ...['baton-failover', 'baton-resync', 'baton-routes', 'baton-dead-letter'].map((n) => ['serving.knative.dev', 'services', n] as const),
  ['sources.knative.dev', 'apiserversources', 'baton-cluster'],
  ['sources.knative.dev', 'pingsources', 'baton-resync'],
  ['sources.knative.dev', 'sinkbindings', 'baton-audit'],
  ['eventing.knative.dev', 'brokers', 'baton'],
  ['eventing.knative.dev', 'triggers', 'baton-failover'],
  ['eventing.knative.dev', 'triggers', 'baton-routes'],
];

/**
 * `skaffold run -p plane` against the plane, then Knative's Ready on every object baton
 * deploys. Each run builds the image afresh (skaffold's cache lives in its private HOME),
 * and a new digest is a new revision of each function.
 */
export async function deployBaton(state: PlaneState, progress: Progress, { logFile }: { logFile?: string } = {}): Promise<void> {
  if (!state.knative) throw new Error('baton on Knative needs a plane with Knative: baton cluster up --real-node --knative');
  progress(`skaffold run -p plane: building the image, pushing it to ${REGISTRY_HOST}, applying knative/overlays/plane${logFile ? ` (output in ${logFile})` : ''}…`);
  await runSkaffold(['run', '-p', 'plane', `--default-repo=${REGISTRY_HOST}`, '--status-check=false'], progress, skaffoldEnv(state), logFile);
  progress('waiting for the functions, the source, the Broker and the Triggers to be Ready…');
  for (const [group, plural, name] of BATON_OBJECTS) await readyKnative(state, group, plural, name);
}

/**
 * A Trigger on baton's Broker that delivers every `dev.baton.failover.*` event to `url`,
 * as knative/examples does for a user's subscriber: here a server of this machine that
 * listens on HOST_SINK_ADDRESS. Replaces a Trigger of the same name.
 */
export async function subscribeHost(state: Plane, name: string, url: string): Promise<void> {
  const path = `/apis/eventing.knative.dev/v1/namespaces/${BATON_SYSTEM}/triggers`;
  await removeTrigger(state, name);
  const r = await apiWrite(state, 'POST', path, {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name },
    spec: { broker: 'baton', filters: [{ prefix: { type: 'dev.baton.failover.' } }], subscriber: { uri: url } },
  });
  if (r.status !== 201) throw new Error(`creating Trigger ${name}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  try {
    await readyKnative(state, 'eventing.knative.dev', 'triggers', name, BATON_SYSTEM, 60_000);
  } catch (error) {
    await removeTrigger(state, name).catch(() => undefined);
    throw error;
  }
}

export async function removeTrigger(state: Plane, name: string): Promise<void> {
  const r = await apiWrite(state, 'DELETE', `/apis/eventing.knative.dev/v1/namespaces/${BATON_SYSTEM}/triggers/${name}`, {});
  if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new Error(`deleting Trigger ${name}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
}

/** The host address pods reach this machine on: the real node's bridge. Servers for Triggers listen here. */
export const HOST_SINK_ADDRESS = REAL_NODE_GATEWAY;
