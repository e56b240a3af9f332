// Echoes of baton's own pod label writes. Each role-label write is guarded by the
// resourceVersion the deciding reconcile read, so the pod at the version the write
// returns is exactly the pod that decision already looked at, plus labels that no
// decision reads (pod-id, role). Its event can carry nothing new for that Service, and
// answering it without a list saves the reads that used to follow every label write.
// The event must also show the very content the write returned (a genuine event at that
// version always does), so a forged copy claiming, say, unreadiness is still looked at.
// Only this instance's writes are known; an echo delivered elsewhere is looked at as usual.
import type { PodView } from './core/model.js';
import type { ServiceRef } from './reconcile.js';

export interface PodEchoes {
  /** A label write guarded by the version `service`'s reconcile read left the pod as `pod`. */
  remember(pod: PodView, service: ServiceRef): void;
  /**
   * True when the event's pod is the reply state of such a write, and every opted-in
   * Service that selects the pod is the one whose decision wrote it.
   */
  isEcho(pod: PodView, selecting: readonly ServiceRef[]): boolean;
  readonly size: number;
}

/** Everything decide() and the index read from a pod, in a comparable form. */
function content(pod: PodView): string {
  return JSON.stringify([pod.uid, pod.phase, pod.ready, pod.readySince ?? null, pod.createdAt, pod.deleting, sorted(pod.labels), sorted(pod.annotations)]);
}

function sorted(map: Readonly<Record<string, string>>): Array<[string, string]> {
  return Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function createPodEchoes(limit = 10_000): PodEchoes {
  const written = new Map<string, { readonly resourceVersion: string; readonly content: string; readonly service: string }>();
  const id = (namespace: string, name: string): string => `${namespace}/${name}`;
  return {
    get size() {
      return written.size;
    },
    remember(pod, service) {
      if (pod.resourceVersion === undefined) return;
      const key = id(pod.namespace, pod.name);
      written.delete(key);
      written.set(key, { resourceVersion: pod.resourceVersion, content: content(pod), service: id(service.namespace, service.name) });
      // Oldest first: a Map iterates in insertion order.
      while (written.size > limit) written.delete(written.keys().next().value!);
    },
    isEcho(pod, selecting) {
      const entry = written.get(id(pod.namespace, pod.name));
      if (entry === undefined || pod.resourceVersion === undefined || entry.resourceVersion !== pod.resourceVersion) return false;
      if (!selecting.every((s) => id(s.namespace, s.name) === entry.service)) return false;
      return entry.content === content(pod);
    },
  };
}

/**
 * Writes of this instance whose reply is not in yet, by object. An echo can arrive
 * before the reply that lets it be recognised; waiting for the reply costs that one
 * event a few milliseconds. The wait is short and bounded: the adapter sends the next
 * event of the watch only after this one is answered, and a readiness change must not
 * queue behind a write that hangs. Past the bound, the event is simply looked at.
 */
export interface InFlight {
  track(namespace: string, kind: 'Service' | 'Pod', name: string, done: Promise<unknown>): void;
  /** Settles when every write tracked for the object so far has its reply (or failed), or after `maxWaitMs`. */
  settled(namespace: string, kind: 'Service' | 'Pod', name: string): Promise<void> | undefined;
}

export function createInFlight(maxWaitMs = 250): InFlight {
  const writes = new Map<string, Set<Promise<unknown>>>();
  const id = (namespace: string, kind: string, name: string): string => `${kind}/${namespace}/${name}`;
  return {
    track(namespace, kind, name, done) {
      const key = id(namespace, kind, name);
      let set = writes.get(key);
      if (!set) writes.set(key, (set = new Set()));
      set.add(done);
      const forget = (): void => {
        set.delete(done);
        if (set.size === 0 && writes.get(key) === set) writes.delete(key);
      };
      done.then(forget, forget);
    },
    settled(namespace, kind, name) {
      const set = writes.get(id(namespace, kind, name));
      if (!set || set.size === 0) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
      return Promise.race([Promise.allSettled([...set]).then(() => undefined), bound]).finally(() => clearTimeout(timer));
    },
  };
}
