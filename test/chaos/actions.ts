// What each scripted action does to the cluster, resolved at run time (e.g. "the active
// of svc-07"), and the failover timings the actions set off.
import * as k8s from '@kubernetes/client-node';
import { startAdapter } from '../../plane/adapter.js';
import { waitFor } from '../../plane/wait.js';
import { statusOf } from '../e2e/support/plane.js';
import { annotateService, setPodReady } from '../e2e/support/workloads.js';
import { restartApiserver } from './apiserver.js';
import type { Rig } from './rig.js';
import { ACTIVE, SWITCHOVER_TO, type Action, type Layout } from './script.js';

export interface ActorOptions {
  readonly namespace: string;
  readonly layout: readonly Layout[];
  readonly adapterDownMs: number;
  readonly log: (line: string) => void;
}

export interface Actor {
  /** false: the action found nothing to do (e.g. no unready pod to recover). */
  act(action: Action): Promise<boolean>;
  readonly apiserverRestarts: number[];
  readonly adapterRestarts: number[];
  readonly actionErrors: string[];
  /** Re-creations and the adapter's return: part of what must settle after the faults. */
  readonly background: Array<Promise<void>>;
  /**
   * Failover timers, kept apart from `background`: waiting for these before the faults
   * stop would let everything settle under faults and leave nothing for the
   * convergence check to time.
   */
  readonly timings: Array<Promise<void>>;
  /** Failover times under faults: Ready=False written → one other pod ready. */
  readonly failovers: number[];
  /** Failovers not done 30 s later (a later action may have failed the standby too). */
  stuck(): number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function isHealthy(pod: k8s.V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function createPod(core: k8s.CoreV1Api, ns: string, service: string, name: string): Promise<k8s.V1Pod> {
  return core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: service } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } } });
}

export function createActor(rig: Rig, options: ActorOptions): Actor {
  const { core, kc, watcher } = rig;
  const ns = options.namespace;
  const state = { apiserverRestarts: [] as number[], adapterRestarts: [] as number[], actionErrors: [] as string[], background: [] as Array<Promise<void>>, timings: [] as Array<Promise<void>>, failovers: [] as number[] };
  let stuck = 0;
  const podsOf = async (service: string): Promise<k8s.V1Pod[]> =>
    (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${service}` })).items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));

  const recreate = async (service: string, name: string): Promise<void> => {
    await waitFor(`pod ${name} to be gone before it is created again`, async () => {
      try {
        await core.readNamespacedPod({ name, namespace: ns });
        return undefined;
      } catch (error) {
        return statusOf(error) === 404 ? true : undefined;
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    // The apiserver may be restarting right now; a pod that never comes back would
    // shrink the Service for the rest of the run.
    await waitFor(`pod ${name} to be created again`, async () => {
      try {
        await createPod(core, ns, service, name);
        return true;
      } catch (error) {
        if (statusOf(error) === 409) return undefined;
        throw error;
      }
    }, { timeoutMs: 60_000, intervalMs: 250 });
  };

  // From the Ready=False write to the first slice update that routes to exactly one
  // other pod. Other actions may strike the same Service meanwhile; that is part of the
  // chaos, and a move that never comes is counted.
  const timeFailover = async (service: string, failedUid: string, written: number): Promise<void> => {
    const deadline = written + 30_000;
    while (Date.now() < deadline) {
      const moved = watcher.history(service).find((o) => o.at >= written && o.ready.length === 1 && o.ready[0]!.uid !== failedUid);
      if (moved) {
        state.failovers.push(moved.at - written);
        return;
      }
      await sleep(100);
    }
    stuck += 1;
  };

  const restartAdapter = async (): Promise<void> => {
    const down = Date.now();
    await rig.adapter.current?.stop();
    rig.adapter.current = undefined;
    // Actions go on while it is down: their events are never sent, only resync sees them.
    state.background.push(
      sleep(options.adapterDownMs).then(async () => {
        rig.adapter.current = await startAdapter(rig.adapter.options);
        state.adapterRestarts.push(Date.now() - down);
        options.log(`adapter restarted: down for ${Date.now() - down} ms`);
      }),
    );
  };

  const onService = async (action: Exclude<Action, { kind: 'restart-apiserver' | 'restart-adapter' }>): Promise<boolean> => {
    const layout = options.layout[action.service]!;
    const service = layout.name;
    const pods = await podsOf(service);
    switch (action.kind) {
      case 'fail-active': {
        const active = (await core.readNamespacedService({ name: service, namespace: ns })).metadata?.annotations?.[ACTIVE];
        const pod = pods.find((p) => p.metadata?.name === active);
        if (!pod || !isHealthy(pod)) return false;
        const standbys = pods.filter((p) => p !== pod && isHealthy(p)).length;
        const written = Date.now();
        await setPodReady(kc, ns, pod.metadata!.name!, false);
        if (standbys > 0) state.timings.push(timeFailover(service, pod.metadata!.uid!, written));
        return true;
      }
      case 'recover': {
        const pod = pods.find((p) => !isHealthy(p));
        if (!pod) return false;
        await setPodReady(kc, ns, pod.metadata!.name!, true);
        return true;
      }
      case 'flip': {
        const pod = pods[action.pod % Math.max(1, pods.length)];
        if (!pod) return false;
        await setPodReady(kc, ns, pod.metadata!.name!, !isHealthy(pod));
        return true;
      }
      case 'delete': {
        // Never the last pod: a Service without candidates tests nothing for the rest of the run.
        if (pods.length < 2) return false;
        const name = pods[action.pod % pods.length]!.metadata!.name!;
        await core.deleteNamespacedPod({ name, namespace: ns });
        if (layout.workload === 'pods') state.background.push(recreate(service, name).catch((e: Error) => void state.actionErrors.push(`recreate ${name}: ${e.message}`)));
        return true;
      }
      case 'switchover': {
        const pod = pods[action.pod % Math.max(1, pods.length)];
        if (!pod) return false;
        await annotateService(kc, ns, service, { [SWITCHOVER_TO]: pod.metadata!.name! });
        return true;
      }
    }
  };

  const act = async (action: Action): Promise<boolean> => {
    if (action.kind === 'restart-apiserver') {
      const { unavailableMs } = await restartApiserver(rig.plane.dir, { downMs: 1_000 });
      state.apiserverRestarts.push(unavailableMs);
      options.log(`kube-apiserver restarted: unavailable for ${unavailableMs} ms`);
      return true;
    }
    if (action.kind === 'restart-adapter') {
      await restartAdapter();
      return true;
    }
    return onService(action);
  };
  return { act, ...state, stuck: () => stuck };
}
