// An independent observer of EndpointSlices: it watches the API itself (not baton's
// events) and records, for each Service, every change of its set of ready pods. Tests
// use it for the safety invariant (never two ready endpoints once baton has adopted a
// Service) and to time failovers.
import type { TestContext } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../../plane/wait.js';
import { adminConfig } from './plane.js';

export interface Observation {
  readonly at: number;
  readonly ready: readonly string[];
}

export interface SliceWatcher {
  /** Every distinct ready set of the Service, in order. */
  history(service: string): readonly Observation[];
  current(service: string): readonly string[];
  /** Waits until the Service's ready set equals `pods` exactly; returns when it was seen. */
  waitForReady(service: string, pods: readonly string[], timeoutMs?: number): Promise<Observation>;
  /** Observations at or after `since` (when the test saw baton adopt the Service) with more than one ready pod. */
  violations(service: string, since: number): readonly Observation[];
  /** Every endpoint (ready or not) across the Service's slices, at each change of any of its slices. */
  endpointCounts(service: string): readonly number[];
}

export async function watchSlices(t: TestContext, namespace: string, kc: k8s.KubeConfig = adminConfig()): Promise<SliceWatcher> {
  const slices = new Map<string, Map<string, string[]>>();
  const histories = new Map<string, Observation[]>();
  const everyEndpoint = new Map<string, Map<string, number>>();
  const counts = new Map<string, number[]>();
  const readyOf = (service: string): string[] => [...(slices.get(service)?.values() ?? [])].flat().sort();
  const record = (service: string): void => {
    const ready = readyOf(service);
    const h = histories.get(service) ?? [];
    const last = h[h.length - 1];
    if (!last || last.ready.join(',') !== ready.join(',')) h.push({ at: Date.now(), ready });
    histories.set(service, h);
  };
  const watch = new k8s.Watch(kc);
  let synced = false;
  const request = await watch.watch(
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    { allowWatchBookmarks: true },
    (phase: string, slice: k8s.V1EndpointSlice) => {
      synced = true;
      const service = slice.metadata?.labels?.['kubernetes.io/service-name'];
      const name = slice.metadata?.name;
      if (!service || !name) return;
      const bySlice = slices.get(service) ?? new Map<string, string[]>();
      if (phase === 'DELETED') bySlice.delete(name);
      else bySlice.set(name, (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? e.addresses[0] ?? '?'));
      slices.set(service, bySlice);
      const all = everyEndpoint.get(service) ?? new Map<string, number>();
      if (phase === 'DELETED') all.delete(name);
      else all.set(name, (slice.endpoints ?? []).length);
      everyEndpoint.set(service, all);
      counts.set(service, [...(counts.get(service) ?? []), [...all.values()].reduce((a, b) => a + b, 0)]);
      record(service);
    },
    (err: unknown) => {
      if (err && !stopped) throw new Error(`EndpointSlice watch ended: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
    },
  );
  let stopped = false;
  t.after(() => {
    stopped = true;
    request.abort();
  });
  void synced;
  return {
    history: (service) => histories.get(service) ?? [],
    current: (service) => readyOf(service),
    waitForReady: (service, pods, timeoutMs = 15_000) => {
      const want = [...pods].sort().join(',');
      return waitFor(
        `${service} to have exactly [${want}] ready (now [${readyOf(service).join(',')}])`,
        () => (histories.get(service) ?? []).findLast((o) => o.ready.join(',') === want && readyOf(service).join(',') === want),
        { timeoutMs, intervalMs: 10 },
      );
    },
    violations: (service, since) => (histories.get(service) ?? []).filter((o) => o.at >= since && o.ready.length > 1),
    endpointCounts: (service) => counts.get(service) ?? [],
  };
}
