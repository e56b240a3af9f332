// The referee: one cluster-wide EndpointSlice watch of its own, independent of every
// approach under test. A failover counts as finished when this watch, not the
// approach, sees the Service's ready set become exactly one pod other than the old one.
import * as k8s from '@kubernetes/client-node';
import { now } from './util.js';

export interface Observation {
  readonly at: number;
  readonly ready: readonly string[];
}

export type ReadyPredicate = (ready: readonly string[]) => boolean;

export interface SliceWatch {
  ready(namespace: string, service: string): readonly string[];
  /**
   * Resolves with the first observation made at or after `since` whose ready set
   * satisfies `predicate`, whether it already happened or is still to come.
   */
  until(namespace: string, service: string, what: string, predicate: ReadyPredicate, since: number, timeoutMs: number): Promise<Observation>;
  /** Times the watch had to be re-established (a figure would be suspect if this moves mid-scenario). */
  readonly restarts: number;
  stop(): void;
}

interface Waiter {
  readonly predicate: ReadyPredicate;
  readonly since: number;
  readonly resolve: (o: Observation) => void;
}

// Enough for any single scenario step; older observations are never consulted.
const HISTORY = 64;

export async function watchSlices(kc: k8s.KubeConfig): Promise<SliceWatch> {
  const slices = new Map<string, Map<string, string[]>>();
  const histories = new Map<string, Observation[]>();
  const waiters = new Map<string, Set<Waiter>>();
  const readyOf = (key: string): string[] => [...(slices.get(key)?.values() ?? [])].flat().sort();

  const record = (key: string, at: number): void => {
    const ready = readyOf(key);
    const history = histories.get(key) ?? [];
    const last = history[history.length - 1];
    if (last && last.ready.join(',') === ready.join(',')) return;
    const observation = { at, ready };
    history.push(observation);
    if (history.length > HISTORY) history.shift();
    histories.set(key, history);
    for (const w of waiters.get(key) ?? []) {
      if (at >= w.since && w.predicate(ready)) w.resolve(observation);
    }
  };

  let stopped = false;
  let restarts = 0;
  let abort: AbortController | undefined;
  let synced!: () => void;
  const firstEvent = new Promise<void>((resolve) => (synced = resolve));
  const start = async (): Promise<void> => {
    // A restarted watch replays every slice as ADDED, so the state is rebuilt from scratch.
    slices.clear();
    abort = await new k8s.Watch(kc).watch(
      '/apis/discovery.k8s.io/v1/endpointslices',
      { allowWatchBookmarks: true },
      (phase: string, slice: k8s.V1EndpointSlice) => {
        const at = now();
        synced();
        const service = slice.metadata?.labels?.['kubernetes.io/service-name'];
        const name = slice.metadata?.name;
        const namespace = slice.metadata?.namespace;
        if (!service || !name || !namespace) return;
        const key = `${namespace}/${service}`;
        const bySlice = slices.get(key) ?? new Map<string, string[]>();
        // As the EndpointSlice API says: an absent ready condition means ready.
        if (phase === 'DELETED') bySlice.delete(name);
        else bySlice.set(name, (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? e.addresses[0] ?? '?'));
        slices.set(key, bySlice);
        record(key, at);
      },
      () => {
        if (stopped) return;
        restarts += 1;
        setTimeout(() => void start().catch(() => undefined), 200);
      },
    );
  };
  await start();
  // The plane always has the kubernetes Service's slice or soon will; without any
  // slice yet there is nothing to wait for, so do not insist.
  await Promise.race([firstEvent, new Promise((r) => setTimeout(r, 1_000))]);

  return {
    ready: (namespace, service) => readyOf(`${namespace}/${service}`),
    until: (namespace, service, what, predicate, since, timeoutMs) => {
      const key = `${namespace}/${service}`;
      const seen = (histories.get(key) ?? []).find((o) => o.at >= since && predicate(o.ready));
      if (seen) return Promise.resolve(seen);
      return new Promise<Observation>((resolve, reject) => {
        const set = waiters.get(key) ?? new Set<Waiter>();
        waiters.set(key, set);
        const waiter: Waiter = {
          predicate,
          since,
          resolve: (o) => {
            clearTimeout(timer);
            set.delete(waiter);
            resolve(o);
          },
        };
        const timer = setTimeout(() => {
          set.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${key} to have ${what} (ready now: [${readyOf(key).join(', ')}])`));
        }, timeoutMs);
        set.add(waiter);
      });
    },
    get restarts() {
      return restarts;
    },
    stop: () => {
      stopped = true;
      abort?.abort();
    },
  };
}

export const exactlyOneOtherThan =
  (old: string): ReadyPredicate =>
  (ready) =>
    ready.length === 1 && ready[0] !== old;

export const exactly =
  (pods: readonly string[]): ReadyPredicate =>
  (ready) =>
    ready.join(',') === [...pods].sort().join(',');
