// The client-side balancer on the real plane: its own ServiceAccount with the RBAC the
// README documents, real EndpointSlices from the controllers, real HTTP requests to the
// pods through the loopback pod network (support/podnet.ts), baton running behind the
// real adapter for the failover.
import { type TestContext } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { EndpointsBalancer, type BalancerOptions } from '../../../shared/balancer/index.js';
import { waitFor } from '../../../plane/wait.js';
import { adminConfig } from './plane.js';
import { type Traffic } from './traffic.js';

export const OPT_IN = { 'baton.dev/mode': 'active-standby' };

export const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export interface PodInfo {
  readonly name: string;
  readonly ip: string;
}

export async function readyPods(ns: string, app: string, n: number, timeoutMs = 30_000): Promise<PodInfo[]> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  return waitFor(
    `${n} ready pods of ${app}`,
    async () => {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
      const ready = pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === n ? ready.map((p) => ({ name: p.metadata!.name!, ip: p.status!.podIP! })).sort((a, b) => a.name.localeCompare(b.name)) : undefined;
    },
    { timeoutMs },
  );
}

export function balancer(t: TestContext, options: BalancerOptions): EndpointsBalancer {
  const b = new EndpointsBalancer(options);
  t.after(() => b.shutdown());
  return b;
}

export function waitForEndpoints(b: EndpointsBalancer, what: string, check: (addresses: string[]) => boolean, timeoutMs = 20_000): Promise<string[]> {
  return waitFor(
    `${b.namespace}/${b.service} (port ${String(b.port)}): ${what} (now ${b.endpoints().length} endpoints)`,
    () => {
      const addresses = b.endpoints().map((e) => e.address);
      return check(addresses) ? addresses : undefined;
    },
    { timeoutMs, intervalMs: 10 },
  );
}

export async function scale(ns: string, name: string, replicas: number): Promise<void> {
  await adminConfig().makeApiClient(k8s.AppsV1Api).patchNamespacedDeploymentScale({ name, namespace: ns, body: { spec: { replicas } } }, merge);
}

export const errorOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
};

export interface Observed {
  at: number;
  seq: number;
}

/** Records the moment (and the client's next sequence number) the balancer stops offering `pod`. */

export function observeLeaving(b: EndpointsBalancer, traffic: Traffic, pod: string): { readonly value: Observed | undefined } {
  const box: { value: Observed | undefined } = { value: undefined };
  b.onChange((list) => {
    if (box.value === undefined && !list.some((e) => e.pod?.name === pod)) box.value = { at: Date.now(), seq: traffic.seq };
  });
  return box;
}
