// Kubernetes Events about a Service: what the functions record for `kubectl describe
// service` (a switch, a bad annotation, a route conflict).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { ServiceRef } from './views.js';

export interface EventNote {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** What a Kubernetes Event about a Service needs to know of it (its involvedObject). */
export interface InvolvedService extends ServiceRef {
  readonly uid: string;
  readonly resourceVersion: string;
}

const instance = `${hostname()}-${process.pid}`.slice(0, 128);

/** An Event whose involved object is the Service, as `kubectl describe service` shows it. */
export function serviceEvent(service: InvolvedService, note: EventNote, component: string): k8s.CoreV1Event {
  const now = new Date();
  return {
    metadata: { name: `${service.name}.${randomBytes(8).toString('hex')}`, namespace: service.namespace },
    involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: service.namespace, name: service.name, uid: service.uid, resourceVersion: service.resourceVersion },
    type: note.type,
    reason: note.reason,
    message: note.message.slice(0, 1024),
    source: { component },
    reportingComponent: component,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}
