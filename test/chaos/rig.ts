// baton wired as in a cluster, with the fault injectors in its paths: N failover
// instances behind the relay (a misbehaving Broker stand-in), one resync instance, the
// real ApiServerSource adapter, every function reaching the apiserver through the
// fault-injecting proxy, an audit sink and the independent invariant watcher.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startAdapter, type AdapterOptions, type RunningAdapter } from '../../plane/adapter.js';
import { kubeconfigYaml, type PlaneState } from '../../plane/state.js';
import { waitFor } from '../../plane/wait.js';
import { installRbac, startFunction, type RunningFunction } from '../e2e/support/baton.js';
import { adminConfig, testPlane } from '../e2e/support/plane.js';
import { startSink, type Sink } from '../e2e/support/sink.js';
import { annotateService } from '../e2e/support/workloads.js';
import { startApiProxy, type ApiFaults, type ApiProxy } from './apiproxy.js';
import type { Cleanup } from './cleanup.js';
import { watchInvariant, type InvariantWatcher } from './invariant.js';
import { startRelay, type Relay, type RelayFaults } from './relay.js';

export interface RigOptions {
  readonly seed: number;
  readonly namespace: string;
  readonly instances: number;
  readonly apiTimeoutMs: number;
  readonly relayFaults?: Partial<RelayFaults> | undefined;
  readonly apiFaults?: Partial<ApiFaults> | undefined;
  readonly resyncIntervalMs?: number | undefined;
}

/** The adapter can be stopped and started again mid-run; `current` is undefined while it is down. */
export interface AdapterSlot {
  current: RunningAdapter | undefined;
  readonly options: AdapterOptions;
}

export interface Rig {
  readonly plane: PlaneState;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly sink: Sink;
  readonly proxy: ApiProxy;
  readonly relay: Relay;
  readonly watcher: InvariantWatcher;
  readonly functions: readonly RunningFunction[];
  readonly adapter: AdapterSlot;
}

/** A token for a baton-system ServiceAccount that outlives the longest soak. */
async function longToken(core: k8s.CoreV1Api, name: string): Promise<string> {
  const review = await core.createNamespacedServiceAccountToken({ name, namespace: 'baton-system', body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } } });
  const token = review.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${name}`);
  return token;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Everything started is registered with `cleanup`. Resolves once the adapter delivers. */
export async function startRig(options: RigOptions, cleanup: Cleanup): Promise<Rig> {
  const ns = options.namespace;
  const plane = testPlane();
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  await installRbac();
  const sink = await startSink();
  cleanup.add(() => sink.close());
  const proxy = await startApiProxy({ server: plane.server, caFile: plane.caFile, seed: options.seed, faults: { holdMs: options.apiTimeoutMs + 1_000, ...options.apiFaults } });
  cleanup.add(() => proxy.close());
  const accounts = join(plane.dir, 'accounts');
  mkdirSync(accounts, { recursive: true });
  const proxyKubeconfig = proxy.writeKubeconfig(join(accounts, `chaos-${ns}-failover.kubeconfig`), await longToken(core, 'baton-failover'), 'baton-failover');
  const sourceKubeconfig = join(accounts, `chaos-${ns}-source.kubeconfig`);
  writeFileSync(sourceKubeconfig, kubeconfigYaml(plane.server, plane.caFile, await longToken(core, 'baton-source'), 'baton-source'), { mode: 0o600 });
  const watcher = await watchInvariant(kc, ns);
  cleanup.add(() => watcher.close());
  const relay = await startRelay({ seed: options.seed, faults: options.relayFaults ?? {} });
  cleanup.add(() => relay.close());

  const env = {
    KUBECONFIG: proxyKubeconfig,
    K_SINK: sink.url,
    BATON_NAMESPACES: ns,
    BATON_API_TIMEOUT_MS: String(options.apiTimeoutMs),
    BATON_INDEX_REFRESH_MS: '5000',
    LOG_LEVEL: 'info',
  };
  const functions: RunningFunction[] = [];
  const starting = Array.from({ length: options.instances }, () => startFunction('failover', env));
  // Register every instance that did start, even if another one failed.
  for (const result of await Promise.allSettled(starting)) {
    if (result.status === 'fulfilled') {
      functions.push(result.value);
      cleanup.add(() => result.value.stop());
    }
  }
  if (functions.length !== options.instances) throw new Error(`only ${functions.length} of ${options.instances} failover instances started`);
  relay.setTargets(functions.map((i) => i.url));
  const resync = await startFunction('resync', { ...env, BATON_RESYNC_INTERVAL_MS: String(options.resyncIntervalMs ?? 2_000) });
  functions.push(resync);
  cleanup.add(() => resync.stop());

  const adapter: AdapterSlot = {
    current: undefined,
    options: {
      binary: plane.binaries.paths.apiserver_receive_adapter,
      kubeconfig: sourceKubeconfig,
      sink: relay.url,
      logDir: join(plane.dir, 'logs'),
      namespaces: [ns],
      name: `chaos-source-${ns}`,
    },
  };
  adapter.current = await startAdapter(adapter.options);
  cleanup.add(() => adapter.current?.stop());
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'canary' }, spec: { ports: [{ port: 1 }] } } });
  let touch = 0;
  await waitFor(
    'the adapter to deliver a first event to the relay',
    async () => {
      await annotateService(kc, ns, 'canary', { touch: String(touch++) });
      await sleep(200);
      return relay.seen(`/namespaces/${ns}/services/canary`) > 0 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return { plane, kc, core, apps, sink, proxy, relay, watcher, functions, adapter };
}
