// The index: an in-memory copy of the opted-in Services, so that pod events nobody cares
// about cost no API call. It holds only what the API server returned to baton (lists,
// watches, gets and the replies to its own writes), never an event's body: a forged
// event can make baton look, but cannot put a Service in here, take one out, or make a
// copy look newer than it is. It may be stale; that is safe because every Service change
// arrives as an event that leads to a read, baton-labelled pods always get a look, and
// resync sweeps all. Which copies are baton's own writes is own-writes.ts's business.
import type { Cluster } from './cluster.js';
import { runWatchLoop, type WatchSource } from '../../shared/k8s/watch.js';
import type { Logger } from '../../shared/log.js';
import { matchesSelector } from './core/health.js';
import { type Labels, type Observed, type ServiceView } from './core/model.js';
import { MODE_VALUE, type Keys } from '../../shared/keys.js';
import { userSelector } from './core/settings.js';
import { isDirect } from './core/direct.js';

type Held = Observed<ServiceView>;

interface Entry {
  readonly service: Held;
  readonly selector: Labels | undefined;
}

export interface ServiceIndex {
  /** Opted-in Services in the pod's namespace whose own selector matches its labels. */
  selecting(namespace: string, labels: Labels): Held[];
  /**
   * Opted-in Services in the namespace whose selector pins one of these pod ids. A pod
   * relabelled out of its Service's selector is found here, so its Service still gets a
   * look at once instead of at the next resync.
   */
  naming(namespace: string, podIds: readonly string[]): Held[];
  /** Every opted-in Service known in the namespace. */
  inNamespace(namespace: string): Held[];
  /** Opted-in Services of the namespace that follow `leader` (`<prefix>/follow`). */
  followers(namespace: string, leader: string): Held[];
  get(namespace: string, name: string): Held | undefined;
  has(namespace: string): boolean;
  /** A copy the API server returned (a read, or the reply to a write); an older one is ignored. */
  observe(service: Held): void;
  forget(namespace: string, name: string): void;
  /** Re-lists opted-in Services (one request per configured namespace, or one for all). */
  refresh(): Promise<void>;
  /**
   * Follows the opted-in Services of each feed (one per configured namespace, or one for
   * all) with a list and a watch, until `signal` aborts. Resolves once every feed has
   * listed. Events reach only one function instance each; this is how every instance
   * still knows every opted-in Service within a watch's delay.
   */
  follow(feeds: readonly ServiceFeed[], signal: AbortSignal, failed: (error: unknown) => void): Promise<void>;
  readonly size: number;
  readonly refreshedAt: number | undefined;
}

export interface ServiceFeed {
  /** undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly source: WatchSource<Held>;
}

export function createServiceIndex(deps: { cluster: Cluster; keys: Keys; namespaces: readonly string[]; logger: Logger; now: () => number }): ServiceIndex {
  const { keys } = deps;
  let byNamespace = new Map<string, Map<string, Entry>>();
  let refreshedAt: number | undefined;
  const entry = (service: Held): Entry => {
    const s = userSelector(service, keys);
    return { service, selector: s.ok ? s.selector : undefined };
  };
  const put = (map: Map<string, Map<string, Entry>>, service: Held): void => {
    let names = map.get(service.namespace);
    if (!names) map.set(service.namespace, (names = new Map<string, Entry>()));
    names.set(service.name, entry(service));
  };
  // A slower refresh must not overwrite what events taught us since it started.
  const newer = (a: ServiceView, b: ServiceView): boolean => /^\d+$/.test(a.resourceVersion) && /^\d+$/.test(b.resourceVersion) ? BigInt(a.resourceVersion) > BigInt(b.resourceVersion) : false;
  // What events taught each running refresh since it started listing, by namespace/name:
  // the Service as observed (opted in or not), or null once it was deleted. The list
  // may predate any of it, so a Service added, opted out or deleted meanwhile keeps
  // that state unless the list holds a newer resourceVersion.
  const pending = new Set<Map<string, Held | null>>();
  const id = (namespace: string, name: string): string => `${namespace}/${name}`;
  const learned = (namespace: string, name: string, service: Held | null): void => {
    for (const seen of pending) seen.set(id(namespace, name), service);
  };

  const observe = (service: Held): void => {
    const current = byNamespace.get(service.namespace)?.get(service.name);
    if (current && newer(current.service, service)) return;
    learned(service.namespace, service.name, service);
    if (service.labels[keys.mode] === MODE_VALUE) put(byNamespace, service);
    else byNamespace.get(service.namespace)?.delete(service.name);
  };

  return {
    get size() {
      let n = 0;
      for (const names of byNamespace.values()) n += names.size;
      return n;
    },
    get refreshedAt() {
      return refreshedAt;
    },
    selecting(namespace, labels) {
      const names = byNamespace.get(namespace);
      if (!names) return [];
      const out: Held[] = [];
      for (const e of names.values()) if (e.selector && matchesSelector(labels, e.selector)) out.push(e.service);
      return out;
    },
    naming(namespace, podIds) {
      const names = byNamespace.get(namespace);
      if (!names) return [];
      const out: Held[] = [];
      for (const e of names.values()) {
        // Direct mode routes to the pod its record names; selector mode, to its selector's.
        const pinned = isDirect(e.service, keys) ? e.service.annotations[keys.activeUid] : e.service.selector[keys.podId];
        if (pinned !== undefined && podIds.includes(pinned)) out.push(e.service);
      }
      return out;
    },
    inNamespace: (namespace) => [...(byNamespace.get(namespace)?.values() ?? [])].map((e) => e.service),
    followers: (namespace, leader) => [...(byNamespace.get(namespace)?.values() ?? [])].map((e) => e.service).filter((s) => s.annotations[keys.follow] === leader && s.name !== leader),
    get: (namespace, name) => byNamespace.get(namespace)?.get(name)?.service,
    has: (namespace) => (byNamespace.get(namespace)?.size ?? 0) > 0,
    observe,
    forget(namespace, name) {
      learned(namespace, name, null);
      byNamespace.get(namespace)?.delete(name);
    },
    follow(feeds, signal, failed) {
      const listed = feeds.map(({ namespace, source }) =>
        new Promise<void>((resolve) => {
          void runWatchLoop(
            source,
            {
              replace: (items) => {
                // A list is the whole truth for its scope: what it lacks is gone or opted out.
                const present = new Set(items.map((s) => id(s.namespace, s.name)));
                for (const [ns, names] of [...byNamespace]) {
                  if (namespace !== undefined && ns !== namespace) continue;
                  for (const name of [...names.keys()]) if (!present.has(id(ns, name))) this.forget(ns, name);
                }
                for (const s of items) observe(s);
              },
              apply: (event) => {
                // A Service that stops matching the selector (opted out) arrives as DELETED.
                if (event.type === 'DELETED') this.forget(event.object.namespace, event.object.name);
                else observe(event.object);
              },
              failed,
            },
            { signal, onListed: resolve },
          );
        }),
      );
      return Promise.all(listed).then(() => {
        refreshedAt = deps.now();
      });
    },
    async refresh() {
      const selector = `${keys.mode}=${MODE_VALUE}`;
      const seen = new Map<string, Held | null>();
      pending.add(seen);
      let lists: Held[][];
      try {
        lists = deps.namespaces.length === 0 ? [await deps.cluster.listServices(selector)] : await Promise.all(deps.namespaces.map((ns) => deps.cluster.listServices(selector, ns)));
      } finally {
        pending.delete(seen);
      }
      const next = new Map<string, Map<string, Entry>>();
      const listed = new Set<string>();
      for (const s of lists.flat()) {
        listed.add(id(s.namespace, s.name));
        const event = seen.get(id(s.namespace, s.name));
        if (event === null) continue; // deleted since the list began
        if (event !== undefined && !newer(s, event)) {
          if (event.labels[keys.mode] === MODE_VALUE) put(next, event);
          continue;
        }
        const known = byNamespace.get(s.namespace)?.get(s.name);
        if (known && newer(known.service, s)) put(next, known.service);
        else put(next, s);
      }
      for (const [key, event] of seen) {
        if (event && !listed.has(key) && event.labels[keys.mode] === MODE_VALUE) put(next, event);
      }
      byNamespace = next;
      refreshedAt = deps.now();
      deps.logger.debug({ services: this.size }, 'index refreshed');
    },
  };
}
