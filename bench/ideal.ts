// The floor: a watcher living in the bench process that already holds every pod in
// memory and, the instant the watch shows the active pod not ready, sends one PATCH of
// the Service selector to another ready pod. No event hop, no read, no precondition,
// no evidence; no real design can be faster on this control plane.
import * as k8s from '@kubernetes/client-node';
import type { Api } from './api.js';
import { now } from './util.js';

/** The label that names a pod in the ideal's selectors (set by the bench at creation). */
export const IDEAL_POD_LABEL = 'bench.baton.dev/pod';

export interface IdealSwitch {
  readonly service: string;
  readonly from: string;
  readonly to: string;
  /** When the watch delivered the pod's not-ready state. */
  readonly seenAt: number;
  readonly patchSentAt: number;
  readonly patchAckAt: number;
}

export interface Ideal {
  /** Starts managing `service` (selector `app=<app>` plus the pod label) with `active` as its pod. */
  adopt(service: string, app: string, active: string): Promise<void>;
  active(service: string): string | undefined;
  readonly switches: readonly IdealSwitch[];
  readonly errors: readonly string[];
  stop(): void;
}

interface PodState {
  readonly app: string | undefined;
  readonly ready: boolean;
}

interface Managed {
  readonly app: string;
  active: string;
  switching: boolean;
}

function readyNow(pod: k8s.V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export async function startIdeal(kc: k8s.KubeConfig, api: Api, namespace: string): Promise<Ideal> {
  const pods = new Map<string, PodState>();
  const services = new Map<string, Managed>();
  const switches: IdealSwitch[] = [];
  const errors: string[] = [];

  const switchAway = (service: string, managed: Managed, seenAt: number): void => {
    const to = [...pods.entries()]
      .filter(([name, p]) => name !== managed.active && p.app === managed.app && p.ready)
      .map(([name]) => name)
      .sort()[0];
    if (!to) return;
    const from = managed.active;
    managed.switching = true;
    const patchSentAt = now();
    api
      .patch(`/api/v1/namespaces/${namespace}/services/${service}`, { spec: { selector: { [IDEAL_POD_LABEL]: to } } }, 'merge')
      .then(() => {
        managed.active = to;
        switches.push({ service, from, to, seenAt, patchSentAt, patchAckAt: now() });
      })
      .catch((error: unknown) => void errors.push(`${service}: ${String(error)}`))
      .finally(() => (managed.switching = false));
  };

  let stopped = false;
  let abort: AbortController | undefined;
  const start = async (): Promise<void> => {
    abort = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { allowWatchBookmarks: true },
      (phase: string, pod: k8s.V1Pod) => {
        const seenAt = now();
        const name = pod.metadata?.name;
        if (!name) return;
        if (phase === 'DELETED') pods.delete(name);
        else pods.set(name, { app: pod.metadata?.labels?.app, ready: readyNow(pod) });
        const state = pods.get(name);
        if (state?.ready) return;
        for (const [service, managed] of services) {
          if (managed.active === name && !managed.switching) switchAway(service, managed, seenAt);
        }
      },
      () => {
        if (!stopped) setTimeout(() => void start().catch((e: unknown) => void errors.push(`watch restart: ${String(e)}`)), 200);
      },
    );
  };
  await start();

  return {
    adopt: async (service, app, active) => {
      await api.patch(`/api/v1/namespaces/${namespace}/services/${service}`, { spec: { selector: { app, [IDEAL_POD_LABEL]: active } } }, 'merge');
      services.set(service, { app, active, switching: false });
    },
    active: (service) => services.get(service)?.active,
    switches,
    errors,
    stop: () => {
      stopped = true;
      abort?.abort();
    },
  };
}
