import {
  auditId,
  auditSubject,
  parseAuditEvent,
  COMPLETED,
  CONFIG_INVALID,
  FENCED,
  HOOK,
  PROMOTED,
  RELEASED,
  SWITCHOVER,
  SWITCHOVER_REFUSED,
  UNAVAILABLE,
  ROUTE_APPLIED,
  ROUTE_CONFLICT,
  ROUTE_INVALID,
  ROUTE_REMOVED,
  type AuditDraft,
  type AuditEvent,
  type ServiceIdentity,
} from '../../../../shared/audit/schemas.js';

export const service: ServiceIdentity = { namespace: 'demo', name: 'web', uid: 'c7a2e5f1-4b3d-4e89-a016-9f8d2b6c3e17' };
const web0 = { name: 'web-0', uid: '8d3f4c2b-7a61-4e0f-b9d8-2c5e1a7f6b90' };
const web1 = { name: 'web-1', uid: '3e1b9f6a-2d4c-48e7-95a0-b7c6d8e2f415' };
const time = '2025-03-14T09:26:54.120Z';
const ingressRef = { name: 'baton-web', uid: '5b7c9d1e-3f2a-4b6c-8d0e-1f2a3b4c5d6e' };
const subject = auditSubject(service);

/** One valid draft per audit type, as baton's deciding code would produce them. */
export const drafts: readonly AuditDraft[] = [
  {
    type: PROMOTED,
    id: auditId({ type: PROMOTED, serviceUid: service.uid, term: 3, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: { service, term: 3, from: web0, to: web1, reason: 'failover', decidedAt: '2025-03-14T09:26:53.990Z' },
  },
  {
    type: SWITCHOVER,
    id: auditId({ type: SWITCHOVER, serviceUid: service.uid, term: 4, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: { service, term: 4, from: web1, to: web0, reason: 'switchover', decidedAt: time },
  },
  {
    type: SWITCHOVER_REFUSED,
    id: auditId({ type: SWITCHOVER_REFUSED, serviceUid: service.uid, term: 4, decidedAt: 1_790_000_000_000, requested: 'web-9' }),
    subject,
    time,
    data: { service, requested: 'web-9', reason: 'no such pod behind the Service' },
  },
  {
    type: UNAVAILABLE,
    id: auditId({ type: UNAVAILABLE, serviceUid: service.uid, term: 4, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: { service, term: 4, lastActive: web0, candidates: 0 },
  },
  {
    type: COMPLETED,
    id: auditId({ type: COMPLETED, serviceUid: service.uid, term: 3, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: {
      service,
      term: 3,
      active: web1,
      decidedAt: '2025-03-14T09:26:53.990Z',
      observedAt: '2025-03-14T09:26:54.017Z',
      latencyMs: 27,
    },
  },
  {
    type: RELEASED,
    id: auditId({ type: RELEASED, serviceUid: service.uid, term: 4, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: { service, restoredSelector: { app: 'web' } },
  },
  {
    type: FENCED,
    id: auditId({ type: FENCED, serviceUid: service.uid, podUid: 'b7f3a9e2-0c4d-4e5f-8a1b-2c3d4e5f6a7b', term: 13, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: { service, term: 13, pod: { name: 'web-0', uid: 'b7f3a9e2-0c4d-4e5f-8a1b-2c3d4e5f6a7b' }, outcome: 'refused', detail: 'Cannot evict pod as it would violate the pod\'s disruption budget.' },
  },
  {
    type: HOOK,
    id: auditId({ type: HOOK, serviceUid: service.uid, hook: 'demote', podUid: web0.uid, term: 5, decidedAt: 1_790_000_000_000 }),
    subject,
    time,
    data: { service, term: 5, hook: 'demote', pod: web0, outcome: 'timeout', status: null, attempts: 3, aborted: true, detail: 'POST http://10.244.1.7:8080/demote did not answer within 2000 ms' },
  },
  {
    type: CONFIG_INVALID,
    id: auditId({
      type: CONFIG_INVALID,
      serviceUid: service.uid,
      problems: [{ key: 'baton.dev/min-switch-interval', value: 'soon', message: 'not a duration' }],
    }),
    subject,
    time,
    data: { service, problems: [{ key: 'baton.dev/min-switch-interval', value: 'soon', message: 'not a duration' }] },
  },
  {
    type: ROUTE_APPLIED,
    id: auditId({ type: ROUTE_APPLIED, serviceUid: service.uid, ingressResourceVersion: '4711' }),
    subject,
    time,
    data: {
      service,
      ingress: ingressRef,
      route: { host: 'web.example.com', path: '/', port: 8080, tlsSecret: 'web-tls', ingressClass: null },
      claimedAt: time,
    },
  },
  {
    type: ROUTE_REMOVED,
    id: auditId({ type: ROUTE_REMOVED, serviceUid: service.uid, ingressUid: ingressRef.uid }),
    subject,
    time,
    data: { service, ingress: ingressRef, host: 'web.example.com', reason: 'removed' },
  },
  {
    type: ROUTE_CONFLICT,
    id: auditId({ type: ROUTE_CONFLICT, serviceUid: service.uid, host: 'web.example.com', path: '/', holderUid: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9' }),
    subject,
    time,
    data: { service, host: 'web.example.com', path: '/', holder: { kind: 'Service', namespace: 'other', name: 'web', uid: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9' } },
  },
  {
    type: ROUTE_INVALID,
    id: auditId({ type: ROUTE_INVALID, serviceUid: service.uid, problems: [{ key: 'baton.dev/path', value: 'api', message: 'expected an absolute path starting with "/"' }] }),
    subject,
    time,
    data: { service, problems: [{ key: 'baton.dev/path', value: 'api', message: 'expected an absolute path starting with "/"' }] },
  },
];

export function complete(draft: AuditDraft, source = 'baton.dev/failover'): AuditEvent {
  const parsed = parseAuditEvent({ ...draft, specversion: '1.0', source, datacontenttype: 'application/json' });
  if (!parsed.success) throw new Error(`sample ${draft.type} is invalid: ${parsed.error.message}`);
  return parsed.data;
}
