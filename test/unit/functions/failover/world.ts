// Builders for the shell tests: a "demo" namespace shaped like the recorded adapter
// fixtures (prefix baton.dev, Service web, pods web-0/web-1), deps wired to a
// FakeCluster, a recording Emitter and a silent logger.
import type { Emitter, EmitResult } from '../../../../shared/audit/emit.js';
import type { AuditDraft, AuditEvent } from '../../../../shared/audit/schemas.js';
import type { ResourceEvent } from '../../../../shared/events/incoming.js';
import { objectSchemas, SERVICE_NAME_LABEL } from '../../../../shared/events/objects.js';
import { type Labels, type Observed, type PodView, type ServiceView } from '../../../../functions/failover/core/model.js';
import { keysFor, MODE_VALUE } from '../../../../shared/keys.js';
import type { ServiceIndex } from '../../../../functions/failover/service-index.js';
import { createReporter, type Reporter } from '../../../../functions/failover/report.js';
import { type ReconcileDeps } from '../../../../functions/failover/reconcile.js';
import { NO_ECHOES } from '../../../../functions/failover/writes.js';
import type { HandlerContext } from '../../../../shared/http/server.js';
import type { Cluster } from '../../../../functions/failover/cluster.js';
import type { SliceView } from '../../../../functions/failover/views.js';
import { createLogger, type Logger } from '../../../../shared/log.js';
import { createFailoverDeps, type FailoverDeps } from '../../../../functions/failover/handler.js';
import type { FakeCluster } from './fake-cluster.js';

export const KEYS = keysFor('baton.dev');
export const NS = 'demo';
export const APP: Labels = { app: 'web' };
/** Shortly after the recorded pod-update-not-ready event. */
export const T0 = Date.parse('2025-03-14T09:27:00.000Z');
export const SVC_UID = 'c7a2e5f1-4b3d-4e89-a016-9f8d2b6c3e17';
/** UIDs from the recorded fixtures. */
export const UID: Readonly<Record<string, string>> = {
  'web-0': '8d3f4c2b-7a61-4e0f-b9d8-2c5e1a7f6b90',
  'web-1': '3e1b9f6a-2d4c-48e7-95a0-b7c6d8e2f415',
  'web-2': '5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f',
};

export function uidOf(name: string): string {
  return UID[name] ?? `uid-${name}`;
}

export function silentLogger(): Logger {
  return createLogger({ level: 'error', name: 'shell-test', destination: { write: () => undefined } });
}

export const CONTEXT: HandlerContext = { requestId: 'test', logger: silentLogger() };

export class RecordingEmitter implements Emitter {
  readonly drafts: Array<AuditDraft | AuditEvent> = [];
  emit(event: AuditDraft | AuditEvent): Promise<EmitResult> {
    this.drafts.push(event);
    return Promise.resolve({ delivered: false, skipped: true });
  }
  types(): string[] {
    return this.drafts.map((d) => d.type);
  }
}

export interface PodOptions {
  readonly namespace?: string;
  readonly labels?: Labels;
  readonly ready?: boolean;
  readonly priority?: string;
  /** Carries baton's labels (pod-id = own uid) with this role. */
  readonly role?: 'active' | 'standby';
  /** Carries the pod-id label without a role. */
  readonly idLabel?: boolean;
  readonly deleting?: boolean;
}

export function makePod(name: string, options: PodOptions = {}): PodView {
  const uid = uidOf(name);
  const labels: Record<string, string> = { ...(options.labels ?? APP) };
  if (options.role !== undefined || options.idLabel === true) labels[KEYS.podId] = uid;
  if (options.role !== undefined) labels[KEYS.role] = options.role;
  const ready = options.ready ?? true;
  return {
    name,
    namespace: options.namespace ?? NS,
    uid,
    labels,
    annotations: options.priority === undefined ? {} : { [KEYS.priority]: options.priority },
    phase: 'Running',
    ready,
    readySince: ready ? T0 - 600_000 : undefined,
    createdAt: T0 - 3_600_000,
    deleting: options.deleting ?? false,
  };
}

export interface ServiceOptions {
  readonly name?: string;
  readonly namespace?: string;
  readonly optedIn?: boolean;
  readonly selector?: Labels;
  readonly annotations?: Labels;
  /** Recorded the way baton leaves a Service after a switch to this pod. */
  readonly active?: string;
  readonly term?: number;
  readonly completed?: boolean;
}

/** A Service as the API would return it (tests play the API server here). */
export function makeService(options: ServiceOptions = {}): Observed<ServiceView> {
  const user = options.selector ?? APP;
  const selector: Record<string, string> = { ...user };
  const annotations: Record<string, string> = {};
  if (options.active !== undefined) {
    const term = String(options.term ?? 1);
    selector[KEYS.podId] = uidOf(options.active);
    Object.assign(annotations, {
      [KEYS.originalSelector]: JSON.stringify(user),
      [KEYS.activePod]: options.active,
      [KEYS.activeUid]: uidOf(options.active),
      [KEYS.term]: term,
      [KEYS.switchedAt]: new Date(T0 - 3_600_000).toISOString(),
      [KEYS.reason]: 'initial',
      [KEYS.recordOf]: (options.name ?? 'web') === 'web' ? SVC_UID : `svc-uid-${options.name ?? 'web'}`,
    });
    if (options.completed !== false) annotations[KEYS.completedTerm] = term;
  }
  Object.assign(annotations, options.annotations ?? {});
  const name = options.name ?? 'web';
  return {
    name,
    namespace: options.namespace ?? NS,
    uid: name === 'web' ? SVC_UID : `svc-uid-${name}`,
    resourceVersion: '1',
    labels: options.optedIn === false ? { app: 'web' } : { app: 'web', [KEYS.mode]: MODE_VALUE },
    annotations,
    selector,
  } as ServiceView as Observed<ServiceView>;
}

export function slice(endpoints: ReadonlyArray<{ readonly pod: string; readonly ready: boolean }>): SliceView {
  return { name: 'web-x7k2p', endpoints: endpoints.map((e) => ({ podName: e.pod, podUid: uidOf(e.pod), ready: e.ready })) };
}

export interface Rig {
  readonly cluster: FakeCluster;
  readonly emitter: RecordingEmitter;
  readonly reporter: Reporter;
  readonly index: ServiceIndex;
  readonly deps: FailoverDeps;
  /** Advances with every call, from T0. */
  readonly clock: { now: number };
}

/**
 * Failover deps over a fake cluster, built by the same factory as main.ts's, so the
 * index and own-write recognition run as in production. Role labels are off unless
 * asked for, as BATON_ROLE_LABELS is.
 */
export function rig(cluster: FakeCluster, options: { namespaces?: readonly string[]; conflictRetries?: number; roleLabels?: boolean } = {}): Rig {
  const logger = silentLogger();
  const emitter = new RecordingEmitter();
  const clock = { now: T0 };
  const now = (): number => clock.now;
  const reporter = createReporter({ cluster, emitter, logger, keys: KEYS, now });
  const deps = createFailoverDeps({
    cluster,
    keys: KEYS,
    logger,
    reporter,
    namespaces: options.namespaces ?? [],
    conflictRetries: options.conflictRetries ?? 3,
    roleLabels: options.roleLabels ?? false,
    now,
  });
  return { cluster, emitter, reporter, index: deps.index, deps, clock };
}

/** Deps as the resync sweep has them: no index, no events to answer. */
export function reconcileDeps(cluster: Cluster, reporter: Reporter, conflictRetries = 3, now: () => number = () => T0, roleLabels = false): ReconcileDeps {
  return { cluster, keys: KEYS, logger: silentLogger(), reporter, conflictRetries, now, roleLabels, ownWrites: NO_ECHOES };
}

/** Lets fire-and-forget promises (evidence, role labels) run to completion. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

// ---- events, built through the same zod schemas the parser uses ----

const meta = (kind: string, action: string): { id: string; type: string; source: string } => ({
  id: `test-${kind}-${action}`,
  type: `dev.knative.apiserver.resource.${action}`,
  source: 'https://127.0.0.1:6443',
});

export function podEvent(pod: PodView, action: 'add' | 'update' | 'delete' = 'update', resourceVersion = '500'): ResourceEvent {
  const object = objectSchemas.Pod.parse({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion,
      creationTimestamp: new Date(pod.createdAt).toISOString(),
      labels: { ...pod.labels },
      annotations: { ...pod.annotations },
      ...(pod.deleting ? { deletionTimestamp: new Date(T0).toISOString() } : {}),
    },
    status: {
      phase: pod.phase,
      conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False', lastTransitionTime: new Date(pod.readySince ?? T0).toISOString() }],
    },
  });
  return { ...meta('Pod', action), action, kind: 'Pod', object };
}

export function serviceEvent(service: ServiceView, action: 'add' | 'update' | 'delete' = 'update'): ResourceEvent {
  const object = objectSchemas.Service.parse({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: service.name,
      namespace: service.namespace,
      uid: service.uid,
      resourceVersion: service.resourceVersion,
      creationTimestamp: new Date(T0 - 7_200_000).toISOString(),
      labels: { ...service.labels },
      annotations: { ...service.annotations },
    },
    spec: { selector: { ...service.selector } },
  });
  return { ...meta('Service', action), action, kind: 'Service', object };
}

export function sliceEvent(namespace: string, service: string, endpoints: ReadonlyArray<{ readonly pod: string; readonly ready: boolean }>, action: 'add' | 'update' | 'delete' = 'update'): ResourceEvent {
  const object = objectSchemas.EndpointSlice.parse({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${service}-x7k2p`,
      namespace,
      uid: 'slice-uid',
      resourceVersion: '600',
      creationTimestamp: new Date(T0 - 7_200_000).toISOString(),
      labels: { [SERVICE_NAME_LABEL]: service },
    },
    endpoints: endpoints.map((e) => ({ addresses: ['10.0.0.1'], conditions: { ready: e.ready }, targetRef: { kind: 'Pod', name: e.pod, uid: uidOf(e.pod), namespace } })),
  });
  return { ...meta('EndpointSlice', action), action, kind: 'EndpointSlice', object };
}
