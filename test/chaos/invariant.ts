// The independent judge of a chaos run. It trusts nothing baton says: it watches
// EndpointSlices and Services itself (admin credentials, its own connections) and
// records every update, so that it can tell afterwards
//   - whether any opted-in Service ever had more than one ready endpoint while baton
//     was responsible for it (zero-window Services: from creation on);
//   - which pods each Service routes to now, for the convergence check;
//   - which terms each Service went through, for the audit-event check;
//   - how long each Service had no ready endpoint while one of its pods was healthy
//     (Running, Ready, not being deleted): the time traffic waited for a decision.
// Its watches survive an apiserver restart: they resume from the last resourceVersion,
// or re-list when the server no longer has it (a "gap": states in between are unseen).
import * as k8s from '@kubernetes/client-node';
import { healthy, readyOf, resilientWatch, SERVICE_NAME, type WatchedPod, type WatchedService, type WatchedSlice } from './watch.js';

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

/** A stretch of time in which a guarded Service routed nowhere though a candidate was healthy. */
export interface DarkWindow {
  readonly service: string;
  readonly from: number;
  /** Undefined while it lasts. */
  readonly to: number | undefined;
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
  /** Every dark window so far, the open ones included. */
  darkWindows(): readonly DarkWindow[];
  close(): void;
}

export async function watchInvariant(kc: k8s.KubeConfig, namespace: string, { modeLabel = 'baton.dev/mode', termAnnotation = 'baton.dev/term', reasonAnnotation = 'baton.dev/reason', podIdKey = 'baton.dev/pod-id' } = {}): Promise<InvariantWatcher> {
  const slices = new Map<string, Map<string, ReadyEndpoint[]>>();
  const histories = new Map<string, Observation[]>();
  const services = new Map<string, { name: string; uid: string; optedIn: boolean; selector: Record<string, string>; annotations: Record<string, string>; terms: Map<number, string> }>();
  const guarded = new Set<string>();
  const violations: Violation[] = [];
  const pods = new Map<string, { labels: Record<string, string>; healthy: boolean }>();
  const windows: Array<{ service: string; from: number; to: number | undefined }> = [];
  const open = new Map<string, { service: string; from: number; to: number | undefined }>();
  let updates = 0;

  // The selector the user gave: the live one without baton's key, else (direct mode) the
  // pods annotation, else the saved copy.
  const candidatesSelector = (s: { selector: Record<string, string>; annotations: Record<string, string> }): Record<string, string> | undefined => {
    const own = Object.fromEntries(Object.entries(s.selector).filter(([k]) => k !== podIdKey));
    if (Object.keys(own).length > 0) return own;
    const direct = s.annotations['baton.dev/pods'];
    if (direct !== undefined) return Object.fromEntries(direct.split(',').map((r) => r.split('=') as [string, string]));
    try {
      const saved = JSON.parse(s.annotations['baton.dev/original-selector'] ?? '') as unknown;
      return saved && typeof saved === 'object' ? (saved as Record<string, string>) : undefined;
    } catch {
      return undefined;
    }
  };
  /** Opens or closes the Service's dark window after any change that could affect it. */
  const judgeDark = (service: string): void => {
    const s = services.get(service);
    const selector = s && s.optedIn && isGuarded(service) ? candidatesSelector(s) : undefined;
    const readyPods = new Set([...(slices.get(service)?.values() ?? [])].flat().map((e) => e.uid));
    const candidate = selector !== undefined && [...pods.values()].some((p) => p.healthy && Object.entries(selector).every(([k, v]) => p.labels[k] === v));
    const dark = candidate && readyPods.size === 0;
    const current = open.get(service);
    if (dark && !current) {
      const w = { service, from: Date.now(), to: undefined };
      open.set(service, w);
      windows.push(w);
    } else if (!dark && current) {
      current.to = Date.now();
      open.delete(service);
    }
  };
  const judgeAll = (): void => {
    for (const name of services.keys()) judgeDark(name);
  };

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
    const distinct = new Set(ready.map((e) => e.uid));
    if (distinct.size > 1 && isGuarded(service)) violations.push({ at, service, ready: ready.map((e) => e.pod) });
    judgeDark(service);
  };

  const onSlice = (type: string, slice: WatchedSlice): void => {
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

  const onService = (type: string, svc: WatchedService): void => {
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
    judgeDark(name);
  };

  const onPod = (type: string, pod: WatchedPod): void => {
    const name = pod.metadata?.name;
    if (!name) return;
    if (type === 'DELETED') pods.delete(name);
    else pods.set(name, { labels: pod.metadata?.labels ?? {}, healthy: healthy(pod) });
    judgeAll();
  };

  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  // Services first, so adoption is known before the slices that follow from it.
  const serviceWatch = await resilientWatch<WatchedService>(
    kc,
    `/api/v1/namespaces/${namespace}/services`,
    async () => {
      const list = await core.listNamespacedService({ namespace });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    (items) => {
      const names = new Set(items.map((s) => s.metadata?.name));
      for (const name of [...services.keys()]) if (!names.has(name)) services.delete(name);
      for (const s of items) onService('ADDED', s);
    },
    onService,
  );
  const sliceWatch = await resilientWatch<WatchedSlice>(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    async () => {
      const list = await discovery.listNamespacedEndpointSlice({ namespace });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
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

  const podWatch = await resilientWatch<WatchedPod>(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    async () => {
      const list = await core.listNamespacedPod({ namespace });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    (items) => {
      pods.clear();
      for (const p of items) if (p.metadata?.name) pods.set(p.metadata.name, { labels: p.metadata.labels ?? {}, healthy: healthy(p) });
      judgeAll();
    },
    onPod,
  );

  return {
    get updates() {
      return updates;
    },
    get gaps() {
      return serviceWatch.relists + sliceWatch.relists + podWatch.relists;
    },
    get reconnects() {
      return serviceWatch.reconnects + sliceWatch.reconnects + podWatch.reconnects;
    },
    darkWindows: () => windows.map((w) => ({ ...w })),
    guard: (service) => void guarded.add(service),
    violations: () => violations,
    ready: (service) => [...(slices.get(service)?.values() ?? [])].flat(),
    history: (service) => histories.get(service) ?? [],
    service: (name) => services.get(name),
    close: () => {
      serviceWatch.stop();
      sliceWatch.stop();
      podWatch.stop();
    },
  };
}
