// An in-memory index of opted-in Services, so that pod events nobody cares about cost
// no API call. It holds only what the API server returned to baton (lists, gets and the
// replies to its own writes), never an event's body: a forged event can make baton look,
// but cannot put a Service in here, take one out, or make a copy look newer than it is.
// It may be stale; that is safe because every Service change arrives as an event that
// leads to a read, baton-labelled pods always get a look, and resync sweeps all.
import type { Cluster } from './cluster.js';
import { runWatchLoop, type WatchSource } from '../../shared/k8s/watch.js';
import type { Logger } from '../../shared/log.js';
import { matchesSelector } from './core/health.js';
import { type Labels, type Observed, type ServiceView } from './core/model.js';
import { MODE_VALUE, type Keys } from '../../shared/keys.js';
import { userSelector } from './core/settings.js';

type Known = Observed<ServiceView>;

interface Entry {
  readonly service: Known;
  readonly selector: Labels | undefined;
  /** This copy is the reply to a write of this instance, not something it read. */
  readonly own: boolean;
}

export interface Registry {
  /** Opted-in Services in the pod's namespace whose own selector matches its labels. */
  selecting(namespace: string, labels: Labels): Known[];
  /**
   * Opted-in Services in the namespace whose selector pins one of these pod ids. A pod
   * relabelled out of its Service's selector is found here, so its Service still gets a
   * look at once instead of at the next resync.
   */
  naming(namespace: string, podIds: readonly string[]): Known[];
  /** Every opted-in Service known in the namespace. */
  inNamespace(namespace: string): Known[];
  /** Opted-in Services of the namespace that follow `leader` (`<prefix>/follow`). */
  followers(namespace: string, leader: string): Known[];
  get(namespace: string, name: string): Known | undefined;
  has(namespace: string): boolean;
  observe(service: Known): void;
  /** Like observe, for the reply to this instance's own guarded write (see WriteObserver). */
  wrote(service: Known, decided?: boolean): void;
  /**
   * True when the index holds the reply to this instance's own write at this very
   * resourceVersion, or a decision of its own at a later one. An event claiming such a
   * version is the echo of a state baton decided on (or an older state that decision
   * already saw, since the write was guarded by what it read), and says nothing new. A
   * write that only recorded completion decided nothing about older states, so it
   * covers its own version alone. It only ever spares a look, never causes a write.
   */
  isOwnWrite(namespace: string, name: string, resourceVersion: string | undefined): boolean;
  /** The Service as this instance's own last write left it, while no newer version is known. */
  ownCopy(namespace: string, name: string): Known | undefined;
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
  readonly source: WatchSource<Known>;
}

export function createRegistry(deps: { cluster: Cluster; keys: Keys; namespaces: readonly string[]; logger: Logger; now: () => number }): Registry {
  const { keys } = deps;
  let byNamespace = new Map<string, Map<string, Entry>>();
  let refreshedAt: number | undefined;
  const entry = (service: Known, own: boolean): Entry => {
    const s = userSelector(service, keys);
    return { service, selector: s.ok ? s.selector : undefined, own };
  };
  const put = (map: Map<string, Map<string, Entry>>, service: Known, own = false): void => {
    let names = map.get(service.namespace);
    if (!names) map.set(service.namespace, (names = new Map<string, Entry>()));
    names.set(service.name, entry(service, own));
  };
  // Versions are compared as numbers only when both are plain integers, as etcd's are;
  // anything else is never "at or before".
  const atOrBefore = (a: string, b: string): boolean => /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) <= BigInt(b);
  // A slower refresh must not overwrite what events taught us since it started.
  const newer = (a: ServiceView, b: ServiceView): boolean => /^\d+$/.test(a.resourceVersion) && /^\d+$/.test(b.resourceVersion) ? BigInt(a.resourceVersion) > BigInt(b.resourceVersion) : false;
  // What events taught each running refresh since it started listing, by namespace/name:
  // the Service as observed (opted in or not), or null once it was deleted. The list
  // may predate any of it, so a Service added, opted out or deleted meanwhile keeps
  // that state unless the list holds a newer resourceVersion.
  const pending = new Set<Map<string, Known | null>>();
  // The resourceVersion of this instance's last decision written to each Service: any
  // event at or before it shows a state that decision had already seen.
  const decisions = new Map<string, string>();
  const id = (namespace: string, name: string): string => `${namespace}/${name}`;
  const learned = (namespace: string, name: string, service: Known | null): void => {
    for (const seen of pending) seen.set(id(namespace, name), service);
  };

  const observe = (service: Known, own: boolean): void => {
    const current = byNamespace.get(service.namespace)?.get(service.name);
    if (current && newer(current.service, service)) return;
    // The event of our own write carries the same version: keep knowing it is ours.
    if (current?.own && current.service.resourceVersion === service.resourceVersion) return;
    learned(service.namespace, service.name, service);
    if (service.labels[keys.mode] === MODE_VALUE) put(byNamespace, service, own);
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
      const out: Known[] = [];
      for (const e of names.values()) if (e.selector && matchesSelector(labels, e.selector)) out.push(e.service);
      return out;
    },
    naming(namespace, podIds) {
      const names = byNamespace.get(namespace);
      if (!names) return [];
      const out: Known[] = [];
      for (const e of names.values()) {
        const pinned = e.service.selector[keys.podId];
        if (pinned !== undefined && podIds.includes(pinned)) out.push(e.service);
      }
      return out;
    },
    inNamespace: (namespace) => [...(byNamespace.get(namespace)?.values() ?? [])].map((e) => e.service),
    followers: (namespace, leader) => [...(byNamespace.get(namespace)?.values() ?? [])].map((e) => e.service).filter((s) => s.annotations[keys.follow] === leader && s.name !== leader),
    get: (namespace, name) => byNamespace.get(namespace)?.get(name)?.service,
    has: (namespace) => (byNamespace.get(namespace)?.size ?? 0) > 0,
    observe(service) {
      observe(service, false);
    },
    wrote(service, decided = true) {
      observe(service, true);
      const key = id(service.namespace, service.name);
      const last = decisions.get(key);
      if (decided && (last === undefined || atOrBefore(last, service.resourceVersion))) decisions.set(key, service.resourceVersion);
    },
    ownCopy(namespace, name) {
      const current = byNamespace.get(namespace)?.get(name);
      return current?.own ? current.service : undefined;
    },
    isOwnWrite(namespace, name, resourceVersion) {
      const current = byNamespace.get(namespace)?.get(name);
      if (current === undefined || resourceVersion === undefined || resourceVersion === '') return false;
      if (current.own && current.service.resourceVersion === resourceVersion) return true;
      const decided = decisions.get(id(namespace, name));
      return decided !== undefined && atOrBefore(resourceVersion, decided);
    },
    forget(namespace, name) {
      decisions.delete(id(namespace, name));
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
                for (const s of items) observe(s, false);
              },
              apply: (event) => {
                // A Service that stops matching the selector (opted out) arrives as DELETED.
                if (event.type === 'DELETED') this.forget(event.object.namespace, event.object.name);
                else observe(event.object, false);
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
      const seen = new Map<string, Known | null>();
      pending.add(seen);
      let lists: Known[][];
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
        if (known && (newer(known.service, s) || known.service.resourceVersion === s.resourceVersion)) put(next, known.service, known.own);
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
