// Runs baton as a cluster would: the functions as their own processes with
// ServiceAccount tokens bound to the RBAC in knative/base/rbac.yaml, fed by the real
// ApiServerSource adapter (itself under its own least-privilege account).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startAdapter, type RunningAdapter, type WatchedResource } from '../../../plane/adapter.js';
import { kubeconfigYaml } from '../../../plane/state.js';
import { functionNodeOptions } from '../../../plane/node-options.js';
import { repoRoot } from '../../../plane/paths.js';
import { freePort } from '../../../plane/ports.js';
import { waitFor } from '../../../plane/wait.js';
import { adminConfig, statusOf, testPlane } from './plane.js';
import { startSink, type Sink } from './sink.js';

const SYSTEM_NAMESPACE = 'baton-system';

/** Applies knative/base/rbac.yaml (idempotent: existing objects are kept). */
export async function installRbac(): Promise<void> {
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: SYSTEM_NAMESPACE } } }).catch((e: unknown) => {
    if (statusOf(e) !== 409) throw e;
  });
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const doc of k8s.loadAllYaml(readFileSync(join(repoRoot(), 'knative', 'base', 'rbac.yaml'), 'utf8')) as k8s.KubernetesObject[]) {
    await objects.create(doc).catch((e: unknown) => {
      if (statusOf(e) !== 409) throw e;
    });
  }
}

/** A kubeconfig that authenticates as a ServiceAccount of baton-system. */
export async function serviceAccountKubeconfig(name: string): Promise<string> {
  const plane = testPlane();
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const token = await core.createNamespacedServiceAccountToken({ name, namespace: SYSTEM_NAMESPACE, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const dir = join(plane.dir, 'accounts');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${process.pid}.kubeconfig`);
  writeFileSync(path, kubeconfigYaml(plane.server, plane.caFile, token.status!.token, name), { mode: 0o600 });
  return path;
}

export interface RunningFunction {
  readonly url: string;
  readonly logs: string[];
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The function as its container runs it (`node dist/functions/serve.js <fn>`: the bundle
 * and its code cache), in a child process; resolves once /readyz answers 200. The
 * resync also sweeps on its own timer, as `baton run resync` does.
 */
export async function startFunction(fn: 'failover' | 'resync' | 'routes', env: Record<string, string>): Promise<RunningFunction> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'functions', 'serve.js'), fn], {
    env: { ...process.env, NODE_OPTIONS: functionNodeOptions(), PORT: String(port), BATON_HOST: '127.0.0.1', BATON_RESYNC_TICK: 'true', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const collect = (d: Buffer): void => void logs.push(...d.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `baton ${fn} to be ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`baton ${fn} exited (${child.exitCode}):\n${logs.slice(-20).join('\n')}`);
      const r = await fetch(`${url}/readyz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    },
    { timeoutMs: 20_000 },
  ).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\n--- baton ${fn} output ---\n${logs.slice(-20).join('\n')}`);
  });
  return {
    url,
    logs,
    process: child,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      // Kept beside the plane's logs for diagnosing failures (npm test -- --keep-plane).
      writeFileSync(join(testPlane().dir, 'logs', `baton-${fn}-${child.pid}.log`), logs.join('\n'));
    },
  };
}

/**
 * What the function logged about one request (its `detail`, or the `reason` an event was
 * ignored for): replies carry only the outcome, so this is where a test reads the rest.
 */
export async function loggedDetail(fn: RunningFunction, requestId: string | null): Promise<string> {
  if (requestId === null) throw new Error('the reply has no X-Request-Id');
  const line = await waitFor(
    `the log line of request ${requestId}`,
    () => fn.logs.find((l) => l.includes('"msg":"request"') && l.includes(`"requestId":${JSON.stringify(requestId)}`)),
    { timeoutMs: 5_000, intervalMs: 20 },
  );
  const entry = JSON.parse(line) as { detail?: unknown; reason?: unknown };
  return typeof entry.detail === 'string' ? entry.detail : typeof entry.reason === 'string' ? entry.reason : '';
}

export interface Baton {
  readonly sink: Sink;
  readonly failover: RunningFunction;
  readonly adapter: RunningAdapter;
}

/**
 * The whole pipeline for one test namespace: adapter -> failover function -> audit
 * sink. Resolves once a change in the namespace has travelled end to end.
 */
export async function startBaton(t: Pick<TestContext, 'after'>, namespace: string, env: Record<string, string> = {}): Promise<Baton> {
  const { sink, fn, adapter } = await startPipeline(t, namespace, { fn: 'failover', account: 'baton-failover', env });
  return { sink, failover: fn, adapter };
}

/** adapter (under baton-source) -> one function (under `account`) -> audit sink, for one namespace. */
async function startPipeline(
  t: Pick<TestContext, 'after'>,
  namespace: string,
  options: { fn: 'failover' | 'routes'; account: string; env: Record<string, string>; resources?: readonly WatchedResource[] },
): Promise<{ sink: Sink; fn: RunningFunction; adapter: RunningAdapter }> {
  await installRbac();
  const plane = testPlane();
  const sink = await startSink();
  t.after(() => sink.close());
  const fn = await startFunction(options.fn, { KUBECONFIG: await serviceAccountKubeconfig(options.account), K_SINK: sink.url, ...options.env });
  t.after(() => fn.stop());
  const adapter = await startAdapter({
    binary: plane.binaries.paths.apiserver_receive_adapter,
    kubeconfig: await serviceAccountKubeconfig('baton-source'),
    sink: fn.url,
    logDir: join(plane.dir, 'logs'),
    namespaces: [namespace],
    ...(options.resources ? { resources: options.resources, name: `baton-${options.fn}-source` } : {}),
  });
  t.after(() => adapter.stop());
  await awaitDelivery(fn, namespace);
  return { sink, fn, adapter };
}

/** The adapter's informers start asynchronously; touch a canary Service until its event reaches `fn`. */
export async function awaitDelivery(fn: RunningFunction, namespace: string): Promise<void> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedService({ namespace, body: { metadata: { name: 'canary' }, spec: { ports: [{ port: 1 }] } } });
  let n = 0;
  await waitFor(
    'the adapter to deliver events to the function',
    async () => {
      await core.patchNamespacedService({ name: 'canary', namespace, body: { metadata: { annotations: { touch: String(n++) } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      await new Promise((r) => setTimeout(r, 150));
      return fn.logs.some((l) => l.includes(`/namespaces/${namespace}/services/canary`)) ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
}

/** What the routes function watches: Services, and only the Ingresses baton labels as its own. */
export const ROUTES_RESOURCES: readonly WatchedResource[] = [
  { group: '', version: 'v1', resource: 'services' },
  { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', selector: 'app.kubernetes.io/managed-by=baton' },
];

export interface Routes {
  readonly sink: Sink;
  readonly routes: RunningFunction;
  readonly adapter: RunningAdapter;
}

/** adapter -> routes function -> audit sink, for one namespace, under the shipped RBAC. */
export async function startRoutesPipeline(t: Pick<TestContext, 'after'>, namespace: string, env: Record<string, string> = {}): Promise<Routes> {
  const { sink, fn, adapter } = await startPipeline(t, namespace, { fn: 'routes', account: 'baton-routes', env: { BATON_NAMESPACES: namespace, ...env }, resources: ROUTES_RESOURCES });
  return { sink, routes: fn, adapter };
}
