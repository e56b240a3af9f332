// Own writes: how this instance recognises the events its own writes cause, so that
// they cost no request. One mechanism for Services and pods, always on (production and
// the unit rig are wired by the same factory, handler.ts's createFailoverDeps).
//
// The rule: an event is an echo when it carries exactly the resourceVersion one of this
// instance's writes returned, or (for a Service) a version at or before the last write
// that followed a decision. Such a write was guarded by the version its decision read,
// so what the event shows is a state that decision had already seen. A write that only
// recorded completion decided nothing about older states, so it covers its own version
// alone. A pod's label write must also have left the very content the event shows (a
// genuine event at that version always does), so a forged copy claiming, say,
// unreadiness is still looked at.
//
// Security: nothing here is ever a fact. Only the API server's replies are remembered,
// never an event's body, and a match only spares a look; it never causes a write. Only
// this instance's writes are known: an echo delivered to another instance is looked at.
import type { Observed, PodView, ServiceView } from './core/model.js';
import type { ServiceRef } from '../../shared/k8s/views.js';
import type { ServiceIndex } from './service-index.js';
import type { WriteObserver, WriteTarget } from './writes.js';
import { boundedMap } from '../../shared/bounded.js';

export interface OwnWrites extends WriteObserver {
  /**
   * Settles when every write of this instance to the object sent so far has its reply
   * (or failed), or after the bound; undefined when none is out. An echo can overtake the
   * reply that lets it be recognised, so the handler waits for it; the wait is short and
   * bounded, since the adapter sends the next event of the watch only after this one is
   * answered, and a readiness change must not queue behind a write that hangs.
   */
  settled(namespace: string, kind: WriteTarget, name: string): Promise<void> | undefined;
  /** The Service event at this version is the echo of this instance's own write. */
  isServiceEcho(namespace: string, name: string, resourceVersion: string | undefined): boolean;
  /**
   * The pod event shows the reply state of this instance's guarded label write, and
   * every opted-in Service that selects the pod is the one whose decision wrote it.
   */
  isPodEcho(pod: PodView, selecting: readonly ServiceRef[]): boolean;
  /** The slice event shows exactly the version this instance's own last write of that slice left. */
  isSliceEcho(namespace: string, name: string, resourceVersion: string | undefined): boolean;
  /** The Service as this instance's last write left it, while the index holds no newer version. */
  ownCopy(namespace: string, name: string): Observed<ServiceView> | undefined;
  /** Objects remembered (each memory is bounded; the oldest are forgotten first). */
  readonly size: number;
}

export interface OwnWritesOptions {
  /** Objects remembered per kind. */
  readonly limit?: number;
  /** The longest an echo waits for the reply of the write it echoes. */
  readonly maxWaitMs?: number;
}

// Versions are compared as numbers only when both are plain integers, as etcd's are;
// anything else is never "at or before".
const atOrBefore = (a: string, b: string): boolean => /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) <= BigInt(b);

/** Everything decide() and the index read from a pod, in a comparable form. */
function content(pod: PodView): string {
  return JSON.stringify([pod.uid, pod.phase, pod.ready, pod.readySince ?? null, pod.createdAt, pod.deleting, sorted(pod.labels), sorted(pod.annotations)]);
}

function sorted(map: Readonly<Record<string, string>>): Array<[string, string]> {
  return Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function createOwnWrites(index: ServiceIndex, options: OwnWritesOptions = {}): OwnWrites {
  const limit = options.limit ?? 10_000;
  const maxWaitMs = options.maxWaitMs ?? 250;
  const id = (namespace: string, name: string): string => `${namespace}/${name}`;
  // Per Service: the reply to this instance's last write, and the version of its last
  // write that followed a decision.
  const replies = boundedMap<Observed<ServiceView>>(limit);
  const decisions = boundedMap<string>(limit);
  // Per pod: the version and content a guarded label write left, and for which Service.
  const pods = boundedMap<{ readonly resourceVersion: string; readonly content: string; readonly service: string }>(limit);
  // Per slice (direct mode): the version this instance's last write of it left.
  const slices = boundedMap<string>(limit);
  // Writes whose reply is not in yet, per object.
  const inFlight = new Map<string, Set<Promise<unknown>>>();
  const flightKey = (namespace: string, kind: WriteTarget, name: string): string => `${kind}/${namespace}/${name}`;

  const ownCopy = (namespace: string, name: string): Observed<ServiceView> | undefined => {
    const reply = replies.get(id(namespace, name));
    return reply !== undefined && index.get(namespace, name)?.resourceVersion === reply.resourceVersion ? reply : undefined;
  };

  return {
    get size() {
      return replies.size + pods.size + slices.size;
    },
    writing(namespace, kind, name, done) {
      const key = flightKey(namespace, kind, name);
      let set = inFlight.get(key);
      if (!set) inFlight.set(key, (set = new Set()));
      set.add(done);
      const forget = (): void => {
        set.delete(done);
        if (set.size === 0 && inFlight.get(key) === set) inFlight.delete(key);
      };
      done.then(forget, forget);
    },
    serviceWritten(service, decided) {
      index.observe(service);
      const key = id(service.namespace, service.name);
      const last = replies.get(key);
      // A late reply to an older write does not replace a newer one.
      if (last === undefined || atOrBefore(last.resourceVersion, service.resourceVersion)) replies.set(key, service);
      const lastDecision = decisions.get(key);
      if (decided && (lastDecision === undefined || atOrBefore(lastDecision, service.resourceVersion))) decisions.set(key, service.resourceVersion);
    },
    podLabelled(service, pod) {
      if (pod.resourceVersion === undefined) return;
      pods.set(id(pod.namespace, pod.name), { resourceVersion: pod.resourceVersion, content: content(pod), service: id(service.namespace, service.name) });
    },
    sliceWritten(namespace, name, resourceVersion) {
      slices.set(id(namespace, name), resourceVersion);
    },
    isSliceEcho(namespace, name, resourceVersion) {
      return resourceVersion !== undefined && resourceVersion !== '' && slices.get(id(namespace, name)) === resourceVersion;
    },
    settled(namespace, kind, name) {
      const set = inFlight.get(flightKey(namespace, kind, name));
      if (!set || set.size === 0) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
      return Promise.race([Promise.allSettled([...set]).then(() => undefined), bound]).finally(() => clearTimeout(timer));
    },
    isServiceEcho(namespace, name, resourceVersion) {
      // A Service the index does not hold is not opted in as far as this instance knows:
      // its event is judged on its own content.
      if (index.get(namespace, name) === undefined || resourceVersion === undefined || resourceVersion === '') return false;
      if (ownCopy(namespace, name)?.resourceVersion === resourceVersion) return true;
      const decided = decisions.get(id(namespace, name));
      return decided !== undefined && atOrBefore(resourceVersion, decided);
    },
    isPodEcho(pod, selecting) {
      const entry = pods.get(id(pod.namespace, pod.name));
      if (entry === undefined || pod.resourceVersion === undefined || entry.resourceVersion !== pod.resourceVersion) return false;
      if (!selecting.every((s) => id(s.namespace, s.name) === entry.service)) return false;
      return entry.content === content(pod);
    },
    ownCopy,
  };
}
