// Builders for the failover tests: a small world of pods behind one Service.
import { type Labels, type PodView, type ServiceView } from '../../../../../functions/failover/core/model.js';
import { keysFor, MODE_VALUE } from '../../../../../shared/keys.js';

export const keys = keysFor('baton.example.com');
export const NS = 'shop';
export const NOW = Date.parse('2024-05-01T12:00:00.000Z');
export const APP: Labels = { app: 'web' };

export interface PodOptions {
  readonly namespace?: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
  readonly priority?: string;
  readonly phase?: string;
  readonly ready?: boolean;
  readonly readySince?: number;
  readonly createdAt?: number;
  readonly deleting?: boolean;
  /** Already carries baton's labels: pod-id = uid and this role. */
  readonly role?: 'active' | 'standby';
}

export function uidOf(name: string): string {
  return `uid-${name}`;
}

export function pod(name: string, options: PodOptions = {}): PodView {
  const uid = uidOf(name);
  const ready = options.ready ?? true;
  const labels: Record<string, string> = { ...(options.labels ?? APP) };
  if (options.role !== undefined) {
    labels[keys.podId] = uid;
    labels[keys.role] = options.role;
  }
  const annotations: Record<string, string> = { ...(options.annotations ?? {}) };
  if (options.priority !== undefined) annotations[keys.priority] = options.priority;
  return {
    name,
    namespace: options.namespace ?? NS,
    uid,
    labels,
    annotations,
    phase: options.phase ?? 'Running',
    ready,
    readySince: ready ? (options.readySince ?? NOW - 60_000) : undefined,
    createdAt: options.createdAt ?? NOW - 3_600_000,
    deleting: options.deleting ?? false,
  };
}

export interface ServiceOptions {
  readonly optedIn?: boolean;
  readonly selector?: Labels;
  readonly annotations?: Labels;
  /** Records this pod as active the way baton leaves a Service after a switch. */
  readonly active?: PodView;
  readonly term?: number;
}

export function service(options: ServiceOptions = {}): ServiceView {
  const userSelector = options.selector ?? APP;
  const selector: Record<string, string> = { ...userSelector };
  const annotations: Record<string, string> = {};
  if (options.active !== undefined) {
    selector[keys.podId] = options.active.uid;
    annotations[keys.originalSelector] = JSON.stringify(userSelector);
    annotations[keys.activePod] = options.active.name;
    annotations[keys.activeUid] = options.active.uid;
    annotations[keys.term] = String(options.term ?? 1);
    annotations[keys.switchedAt] = new Date(NOW - 3_600_000).toISOString();
    annotations[keys.reason] = 'initial';
    annotations[keys.recordOf] = 'svc-uid';
  }
  Object.assign(annotations, options.annotations ?? {});
  return {
    name: 'web',
    namespace: NS,
    uid: 'svc-uid',
    resourceVersion: '42',
    labels: options.optedIn === false ? {} : { [keys.mode]: MODE_VALUE },
    annotations,
    selector,
  };
}
