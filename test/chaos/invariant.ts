// The independent judge of a chaos run. It trusts nothing baton says: it watches
// EndpointSlices and Services itself (admin credentials, its own connections) and
// records every update, so that it can tell afterwards
//   - whether any opted-in Service ever had more than one ready endpoint while baton
//     was responsible for it (zero-window Services: from creation on);
//   - which pods each Service routes to now, for the convergence check;
//   - which terms each Service went through, for the audit-event check.
// Its watches survive an apiserver restart: they resume from the last resourceVersion,
// or re-list when the server no longer has it (a "gap": states in between are unseen).
import * as k8s from '@kubernetes/client-node';

export interface ReadyEndpoint {
  readonly pod: string;
  readonly uid: string;
}

export interface Observation {
  readonly at: number;
  readonly ready: readonly ReadyEndpoint[];
}

export interface Violation {
  readonly at: number;
  readonly service: string;
  readonly ready: readonly string[];
}

export interface ObservedService {
  readonly name: string;
  readonly uid: string;
  readonly optedIn: boolean;
  readonly selector: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Every term seen on the Service, with the reason recorded for it. */
  readonly terms: ReadonlyMap<number, string>;
}

export interface InvariantWatcher {
  /** Slice updates recorded (events and re-list items). */
  readonly updates: number;
  /** Times a watch had to re-list because the server had lost its position. */
  readonly gaps: number;
  /** Watch connections re-established (each apiserver restart costs at least one per watch). */
  readonly reconnects: number;
  /** Holds the Service to the invariant from now on, whatever it looks like. */
  guard(service: string): void;
  violations(): readonly Violation[];
  ready(service: string): readonly ReadyEndpoint[];
  history(service: string): readonly Observation[];
  service(name: string): ObservedService | undefined;
  close(): void;
}

interface MetaLike {
  readonly name?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

interface SliceLike {
  readonly metadata?: MetaLike;
  readonly endpoints?: ReadonlyArray<{
    readonly addresses?: readonly string[];
    readonly conditions?: { readonly ready?: boolean | null };
    readonly targetRef?: { readonly name?: string; readonly uid?: string };
  }> | null;
}

interface ServiceLike {
  readonly metadata?: MetaLike;
  readonly spec?: { readonly selector?: Record<string, string> };
}

interface StatusLike {
  readonly code?: number;
}

const SERVICE_NAME = 'kubernetes.io/service-name';

interface ResilientWatch {
  readonly reconnects: number;
  readonly relists: number;
  stop(): void;
}

/**
 * A watch that lists first, then follows events, and on any disconnect resumes from
 * the last resourceVersion it saw (bookmarks keep it fresh); on 410 Gone it re-lists.
 */
async function resilientWatch<T extends { metadata?: MetaLike }>(
  kc: k8s.KubeConfig,
  path: string,
  list: () => Promise<{ items: T[]; resourceVersion: string }>,
  onList: (items: readonly T[]) => void,
  onEvent: (type: string, object: T) => void,
): Promise<ResilientWatch> {
  const watch = new k8s.Watch(kc);
  let stopped = false;
  let resourceVersion = '';
  let controller: AbortController | undefined;
  let reconnects = 0;
  let relists = 0;

  const relist = async (): Promise<void> => {
    const result = await list();
    resourceVersion = result.resourceVersion;
    onList(result.items);
  };

  /** Resolves when the connection ends; true when it delivered anything at all. */
  const connect = async (): Promise<boolean> => {
    let gone = false;
    let delivered = false;
    await new Promise<void>((resolve) => {
      void watch
        .watch(
          path,
          { allowWatchBookmarks: true, resourceVersion },
          (type: string, object: T | StatusLike) => {
            delivered = true;
            if (type === 'ERROR') {
              if ((object as StatusLike).code === 410) gone = true;
              return;
            }
            const rv = (object as T).metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            if (type !== 'BOOKMARK') onEvent(type, object as T);
          },
          (error: unknown) => {
            if (error && typeof error === 'object' && 'statusCode' in error && error.statusCode === 410) gone = true;
            resolve();
          },
        )
        .then((c) => {
          controller = c;
          if (stopped) c.abort();
        })
        .catch(() => resolve());
    });
    if (gone) resourceVersion = '';
    return delivered;
  };

  const loop = async (): Promise<void> => {
    let barren = 0;
    while (!stopped) {
      barren = (await connect()) ? 0 : barren + 1;
      if (stopped) return;
      reconnects += 1;
      // A position the server keeps refusing without saying 410 is as good as lost.
      if (barren >= 20) resourceVersion = '';
      // Back off a little: while the apiserver restarts every attempt fails at once.
      await new Promise((r) => setTimeout(r, 200));
      if (resourceVersion === '') {
        try {
          await relist();
          relists += 1;
        } catch {
          // Still down; the next round tries again.
        }
      }
    }
  };

  await relist();
  void loop();
  return {
    get reconnects() {
      return reconnects;
    },
    get relists() {
      return relists;
    },
    stop: () => {
      stopped = true;
      controller?.abort();
    },
  };
}

function readyOf(slice: SliceLike): ReadyEndpoint[] {
  // Unset `ready` means "unknown", which consumers such as kube-proxy treat as ready.
  return (slice.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => ({ pod: e.targetRef?.name ?? e.addresses?.[0] ?? '?', uid: e.targetRef?.uid ?? e.addresses?.[0] ?? '?' }));
}

export async function watchInvariant(kc: k8s.KubeConfig, namespace: string, { modeLabel = 'baton.dev/mode', termAnnotation = 'baton.dev/term', reasonAnnotation = 'baton.dev/reason', podIdKey = 'baton.dev/pod-id' } = {}): Promise<InvariantWatcher> {
  const slices = new Map<string, Map<string, ReadyEndpoint[]>>();
  const histories = new Map<string, Observation[]>();
  const services = new Map<string, { name: string; uid: string; optedIn: boolean; selector: Record<string, string>; annotations: Record<string, string>; terms: Map<number, string> }>();
  const guarded = new Set<string>();
  const violations: Violation[] = [];
  let updates = 0;

  const isGuarded = (service: string): boolean => {
    if (guarded.has(service)) return true;
    const s = services.get(service);
    // Adopted: baton has written a term, or pinned the selector to a pod-id (placeholder included).
    return s !== undefined && s.optedIn && (termAnnotation in s.annotations || podIdKey in s.selector);
  };

  const record = (service: string): void => {
    const ready = [...(slices.get(service)?.values() ?? [])].flat().sort((a, b) => a.pod.localeCompare(b.pod));
    const h = histories.get(service) ?? [];
    histories.set(service, h);
    const last = h[h.length - 1];
    const key = (r: readonly ReadyEndpoint[]): string => r.map((e) => e.uid).join(',');
    if (last && key(last.ready) === key(ready)) return;
    const at = Date.now();
    h.push({ at, ready });
    // Counted in pods, not endpoints: a dual-stack Service lists each pod once per family.
    const pods = new Set(ready.map((e) => e.uid));
    if (pods.size > 1 && isGuarded(service)) violations.push({ at, service, ready: ready.map((e) => e.pod) });
  };

  const onSlice = (type: string, slice: SliceLike): void => {
    const service = slice.metadata?.labels?.[SERVICE_NAME];
    const name = slice.metadata?.name;
    if (!service || !name) return;
    updates += 1;
    const bySlice = slices.get(service) ?? new Map<string, ReadyEndpoint[]>();
    slices.set(service, bySlice);
    if (type === 'DELETED') bySlice.delete(name);
    else bySlice.set(name, readyOf(slice));
    record(service);
  };

  const onService = (type: string, svc: ServiceLike): void => {
    const name = svc.metadata?.name;
    if (!name) return;
    if (type === 'DELETED') {
      services.delete(name);
      return;
    }
    const annotations = svc.metadata?.annotations ?? {};
    const previous = services.get(name);
    const terms = previous && previous.uid === svc.metadata?.uid ? previous.terms : new Map<number, string>();
    const term = Number(annotations[termAnnotation]);
    if (Number.isInteger(term) && term > 0 && !terms.has(term)) terms.set(term, annotations[reasonAnnotation] ?? '?');
    services.set(name, { name, uid: svc.metadata?.uid ?? '', optedIn: svc.metadata?.labels?.[modeLabel] === 'active-standby', selector: svc.spec?.selector ?? {}, annotations, terms });
  };

  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  // Services first, so adoption is known before the slices that follow from it.
  const serviceWatch = await resilientWatch<ServiceLike>(
    kc,
    `/api/v1/namespaces/${namespace}/services`,
    async () => {
      const list = await core.listNamespacedService({ namespace });
      return { items: list.items as ServiceLike[], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    (items) => {
      const names = new Set(items.map((s) => s.metadata?.name));
      for (const name of [...services.keys()]) if (!names.has(name)) services.delete(name);
      for (const s of items) onService('ADDED', s);
    },
    onService,
  );
  const sliceWatch = await resilientWatch<SliceLike>(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    async () => {
      const list = await discovery.listNamespacedEndpointSlice({ namespace });
      return { items: list.items as SliceLike[], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    (items) => {
      // A re-list replaces everything at once (slices deleted while we were blind are
      // gone), so no half-updated mix of old and new slices is ever judged.
      const next = new Map<string, Map<string, ReadyEndpoint[]>>();
      for (const s of items) {
        const service = s.metadata?.labels?.[SERVICE_NAME];
        const name = s.metadata?.name;
        if (!service || !name) continue;
        updates += 1;
        const bySlice = next.get(service) ?? new Map<string, ReadyEndpoint[]>();
        next.set(service, bySlice);
        bySlice.set(name, readyOf(s));
      }
      const affected = new Set([...slices.keys(), ...next.keys()]);
      slices.clear();
      for (const [service, bySlice] of next) slices.set(service, bySlice);
      for (const service of affected) record(service);
    },
    onSlice,
  );

  return {
    get updates() {
      return updates;
    },
    get gaps() {
      return serviceWatch.relists + sliceWatch.relists;
    },
    get reconnects() {
      return serviceWatch.reconnects + sliceWatch.reconnects;
    },
    guard: (service) => void guarded.add(service),
    violations: () => violations,
    ready: (service) => [...(slices.get(service)?.values() ?? [])].flat(),
    history: (service) => histories.get(service) ?? [],
    service: (name) => services.get(name),
    close: () => {
      serviceWatch.stop();
      sliceWatch.stop();
    },
  };
}

export interface AuditRecord {
  readonly id: string;
  readonly type: string;
}

export interface AuditCheck {
  /** Terms (as `<service>#<term>`) with neither a promoted nor a switchover event. */
  readonly lost: readonly string[];
  /** Terms with both kinds: two different decisions claimed the same term. */
  readonly conflicting: readonly string[];
  /** Events for terms the Service never reached: reported but never written. */
  readonly phantom: readonly string[];
  readonly termChanges: number;
  readonly unique: number;
}

/**
 * Terms only ever grow by one per switch (each is written with a resourceVersion
 * precondition on top of the previous one), so a Service at term T has been through
 * terms 1..T, and each of them must have exactly one promoted-or-switchover event.
 */
export function checkAudit(services: ReadonlyArray<{ name: string; uid: string; term: number }>, events: readonly AuditRecord[]): AuditCheck {
  const ids = new Set(events.map((e) => e.id));
  const lost: string[] = [];
  const conflicting: string[] = [];
  const phantom: string[] = [];
  let termChanges = 0;
  for (const s of services) {
    termChanges += s.term;
    for (let term = 1; term <= s.term; term++) {
      const promoted = ids.has(`${s.uid}.${term}.promoted`);
      const switchover = ids.has(`${s.uid}.${term}.switchover`);
      if (!promoted && !switchover) lost.push(`${s.name}#${term}`);
      if (promoted && switchover) conflicting.push(`${s.name}#${term}`);
    }
    for (const id of ids) {
      const match = /^(.+)\.(\d+)\.(promoted|switchover)$/.exec(id);
      if (match && match[1] === s.uid && Number(match[2]) > s.term) phantom.push(`${s.name}#${match[2]}`);
    }
  }
  return { lost, conflicting, phantom, termChanges, unique: ids.size };
}
