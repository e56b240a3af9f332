// An in-memory index of opted-in Services, so that pod events nobody cares about cost
// no API call. It may be stale; that is safe because every Service change arrives as
// an event of its own, baton-labelled pods always get a look, and resync sweeps all.
import type { Cluster } from '../k8s/cluster.js';
import type { Logger } from '../log.js';
import { matchesSelector } from './health.js';
import { MODE_VALUE, type Keys, type Labels, type ServiceView } from './model.js';
import { userSelector } from './settings.js';

interface Entry {
  readonly service: ServiceView;
  readonly selector: Labels | undefined;
}

export interface Registry {
  /** Opted-in Services in the pod's namespace whose own selector matches its labels. */
  selecting(namespace: string, labels: Labels): ServiceView[];
  get(namespace: string, name: string): ServiceView | undefined;
  has(namespace: string): boolean;
  observe(service: ServiceView): void;
  forget(namespace: string, name: string): void;
  /** Re-lists opted-in Services (one request per configured namespace, or one for all). */
  refresh(): Promise<void>;
  readonly size: number;
  readonly refreshedAt: number | undefined;
}

export function createRegistry(deps: { cluster: Cluster; keys: Keys; namespaces: readonly string[]; logger: Logger; now: () => number }): Registry {
  const { keys } = deps;
  let byNamespace = new Map<string, Map<string, Entry>>();
  let refreshedAt: number | undefined;
  const entry = (service: ServiceView): Entry => {
    const s = userSelector(service, keys);
    return { service, selector: s.ok ? s.selector : undefined };
  };
  const put = (map: Map<string, Map<string, Entry>>, service: ServiceView): void => {
    let names = map.get(service.namespace);
    if (!names) map.set(service.namespace, (names = new Map()));
    names.set(service.name, entry(service));
  };
  // A slower refresh must not overwrite what events taught us since it started.
  const newer = (a: ServiceView, b: ServiceView): boolean => /^\d+$/.test(a.resourceVersion) && /^\d+$/.test(b.resourceVersion) ? BigInt(a.resourceVersion) > BigInt(b.resourceVersion) : false;

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
      const out: ServiceView[] = [];
      for (const e of names.values()) if (e.selector && matchesSelector(labels, e.selector)) out.push(e.service);
      return out;
    },
    get: (namespace, name) => byNamespace.get(namespace)?.get(name)?.service,
    has: (namespace) => (byNamespace.get(namespace)?.size ?? 0) > 0,
    observe(service) {
      const current = byNamespace.get(service.namespace)?.get(service.name);
      if (current && newer(current.service, service)) return;
      if (service.labels[keys.mode] === MODE_VALUE) put(byNamespace, service);
      else byNamespace.get(service.namespace)?.delete(service.name);
    },
    forget(namespace, name) {
      byNamespace.get(namespace)?.delete(name);
    },
    async refresh() {
      const selector = `${keys.mode}=${MODE_VALUE}`;
      const lists = deps.namespaces.length === 0 ? [await deps.cluster.listServices(selector)] : await Promise.all(deps.namespaces.map((ns) => deps.cluster.listServices(selector, ns)));
      const next = new Map<string, Map<string, Entry>>();
      for (const s of lists.flat()) {
        const known = byNamespace.get(s.namespace)?.get(s.name)?.service;
        put(next, known && newer(known, s) ? known : s);
      }
      byNamespace = next;
      refreshedAt = deps.now();
      deps.logger.debug({ services: this.size }, 'index refreshed');
    },
  };
}
