// The public contract of baton's audit CloudEvents (package export "baton/events").
// Subscribers parse with these schemas; baton validates against them before sending,
// so nothing leaves that a subscriber would reject. Keep this file free of baton's
// internals: it is imported by other people's code.
//
// Compatibility: unknown envelope attributes (e.g. extensions from K_CE_OVERRIDES) and
// unknown data fields are accepted and dropped, so adding a field is not a breaking change.
import { z } from 'zod';
import { COMPLETED, CONFIG_INVALID, FENCED, HOOK, PROMOTED, RELEASED, ROUTE_APPLIED, ROUTE_CONFLICT, ROUTE_INVALID, ROUTE_REMOVED, SWITCHOVER, SWITCHOVER_REFUSED, UNAVAILABLE } from './names.js';
import type { ServiceRef } from '../k8s/views.js';

export * from './names.js';
// Part of the published surface since 0.2.0, so re-exported here; derived in ids.ts.
export { auditId, type AuditIdParts, type TermMark } from './ids.js';

const isoTime = z.iso.datetime({ offset: true });

export const serviceRefSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  uid: z.string().min(1),
});

export const podRefSchema = z.object({
  name: z.string().min(1),
  uid: z.string().min(1),
});

// Why a switch happened, as recorded on the Service and in the event: initial (no active
// yet: adoption, or the previous active vanished before one was recorded), failover (the
// active is unhealthy or gone), failback (a healthy pod of higher priority, with failback
// on), switchover (a manual request), cordon (a planned move off the active's cordoned
// Node to a healthy pod on a schedulable one, before a drain evicts the active).
export const transitionReasonSchema = z.enum(['initial', 'failover', 'failback', 'switchover', 'cordon']);

export const transitionDataSchema = z.object({
  service: serviceRefSchema,
  term: z.number().int().min(1),
  from: podRefSchema.nullable(),
  to: podRefSchema,
  reason: transitionReasonSchema,
  decidedAt: isoTime,
});

export const switchoverRefusedDataSchema = z.object({
  service: serviceRefSchema,
  requested: z.string(),
  reason: z.string().min(1),
});

export const unavailableDataSchema = z.object({
  service: serviceRefSchema,
  // 0 when no pod was ever promoted.
  term: z.number().int().min(0),
  lastActive: podRefSchema.nullable(),
  candidates: z.number().int().min(0),
});

export const completedDataSchema = z.object({
  service: serviceRefSchema,
  term: z.number().int().min(1),
  active: podRefSchema,
  decidedAt: isoTime,
  observedAt: isoTime,
  latencyMs: z.number().min(0),
});

// What fencing did to the pod a switch left: evicted it (its connections end as it
// shuts down), was refused (a PodDisruptionBudget, most often; detail says), or found it
// gone already.
export const fenceOutcomeSchema = z.enum(['evicted', 'refused', 'gone']);

export const fencedDataSchema = z.object({
  service: serviceRefSchema,
  // The completed term the fence followed: its switch left the pod, or an earlier one
  // whose fence had not happened yet.
  term: z.number().int().min(1),
  pod: podRefSchema,
  outcome: fenceOutcomeSchema,
  detail: z.string(),
});

// A pod hook's call: promote (after a switch, on the new active) or demote (before a
// planned switch, on the old active). ok: a 2xx answer; failed: another status (a 3xx
// included: redirects are not followed), a refused connection, or no address to call;
// timeout: no answer in time. `status` and `attempts` are the last attempt's and the
// count. `aborted`: a failed demote under policy abort stopped the switch.
export const hookOutcomeSchema = z.enum(['ok', 'failed', 'timeout']);

export const hookDataSchema = z.object({
  service: serviceRefSchema,
  // The term the switch writes (or, aborted, would have written).
  term: z.number().int().min(1),
  hook: z.enum(['promote', 'demote']),
  pod: podRefSchema,
  outcome: hookOutcomeSchema,
  status: z.number().int().min(100).max(599).nullable(),
  attempts: z.number().int().min(0),
  aborted: z.boolean(),
  detail: z.string(),
});

export const releasedDataSchema = z.object({
  service: serviceRefSchema,
  restoredSelector: z.record(z.string(), z.string()),
});

export const configProblemSchema = z.object({
  key: z.string().min(1),
  value: z.string(),
  message: z.string().min(1),
});

export const configInvalidDataSchema = z.object({
  service: serviceRefSchema,
  problems: z.array(configProblemSchema).min(1),
});

const ingressRefSchema = z.object({
  name: z.string().min(1),
  uid: z.string().min(1),
});

export const routeSchema = z.object({
  host: z.string().min(1),
  path: z.string().startsWith('/'),
  // A number, or the name of one of the Service's ports.
  port: z.union([z.number().int().min(1).max(65535), z.string().min(1)]),
  tlsSecret: z.string().min(1).nullable(),
  ingressClass: z.string().min(1).nullable(),
});

export const routeAppliedDataSchema = z.object({
  service: serviceRefSchema,
  ingress: ingressRefSchema,
  route: routeSchema,
  claimedAt: isoTime,
  // From `serviceloadbalancer/lb.host: host:port`: the retired load balancer's entry
  // port. Shown only; the ingress controller's own ports now decide what clients dial.
  legacyEntryPort: z.number().int().min(1).max(65535).optional(),
});

export const routeRemovalReasonSchema = z.enum(['removed', 'invalid', 'conflict', 'stale', 'service-deleted']);

export const routeRemovedDataSchema = z.object({
  service: serviceRefSchema,
  ingress: ingressRefSchema,
  // The host the Ingress served, when it was one baton could read.
  host: z.string().min(1).nullable(),
  reason: routeRemovalReasonSchema,
});

export const routeConflictDataSchema = z.object({
  service: serviceRefSchema,
  host: z.string().min(1),
  path: z.string().startsWith('/'),
  // Who has the host and path: the Service whose claim won, or an Ingress baton does not manage.
  holder: z.object({ kind: z.enum(['Service', 'Ingress']), namespace: z.string().min(1), name: z.string().min(1), uid: z.string().min(1) }),
});

export const routeInvalidDataSchema = z.object({
  service: serviceRefSchema,
  problems: z.array(configProblemSchema).min(1),
});

const baseEnvelope = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  subject: z.string().min(1),
  time: isoTime,
  datacontenttype: z.literal('application/json'),
});

const subjectNamesService = (event: { subject: string; data: { service: ServiceIdentity } }): boolean =>
  event.subject === auditSubject(event.data.service);
const subjectIssue = { message: 'subject must be "<namespace>/<name>" of data.service', path: ['subject'] };

export const promotedEventSchema = baseEnvelope
  .extend({ type: z.literal(PROMOTED), data: transitionDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const switchoverEventSchema = baseEnvelope
  .extend({ type: z.literal(SWITCHOVER), data: transitionDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const switchoverRefusedEventSchema = baseEnvelope
  .extend({ type: z.literal(SWITCHOVER_REFUSED), data: switchoverRefusedDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const unavailableEventSchema = baseEnvelope
  .extend({ type: z.literal(UNAVAILABLE), data: unavailableDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const completedEventSchema = baseEnvelope
  .extend({ type: z.literal(COMPLETED), data: completedDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const releasedEventSchema = baseEnvelope
  .extend({ type: z.literal(RELEASED), data: releasedDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const fencedEventSchema = baseEnvelope
  .extend({ type: z.literal(FENCED), data: fencedDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const hookEventSchema = baseEnvelope
  .extend({ type: z.literal(HOOK), data: hookDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const configInvalidEventSchema = baseEnvelope
  .extend({ type: z.literal(CONFIG_INVALID), data: configInvalidDataSchema })
  .refine(subjectNamesService, subjectIssue);

export const routeAppliedEventSchema = baseEnvelope
  .extend({ type: z.literal(ROUTE_APPLIED), data: routeAppliedDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const routeRemovedEventSchema = baseEnvelope
  .extend({ type: z.literal(ROUTE_REMOVED), data: routeRemovedDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const routeConflictEventSchema = baseEnvelope
  .extend({ type: z.literal(ROUTE_CONFLICT), data: routeConflictDataSchema })
  .refine(subjectNamesService, subjectIssue);
export const routeInvalidEventSchema = baseEnvelope
  .extend({ type: z.literal(ROUTE_INVALID), data: routeInvalidDataSchema })
  .refine(subjectNamesService, subjectIssue);

export const auditEvent = z.discriminatedUnion('type', [
  promotedEventSchema,
  switchoverEventSchema,
  switchoverRefusedEventSchema,
  unavailableEventSchema,
  completedEventSchema,
  releasedEventSchema,
  fencedEventSchema,
  hookEventSchema,
  configInvalidEventSchema,
  routeAppliedEventSchema,
  routeRemovedEventSchema,
  routeConflictEventSchema,
  routeInvalidEventSchema,
]);

/** Which Service an audit event is about, down to its uid (one Service under one name). */
export type ServiceIdentity = z.infer<typeof serviceRefSchema>;
export type PodRef = z.infer<typeof podRefSchema>;
export type TransitionReason = z.infer<typeof transitionReasonSchema>;
export type TransitionData = z.infer<typeof transitionDataSchema>;
export type SwitchoverRefusedData = z.infer<typeof switchoverRefusedDataSchema>;
export type UnavailableData = z.infer<typeof unavailableDataSchema>;
export type CompletedData = z.infer<typeof completedDataSchema>;
export type ReleasedData = z.infer<typeof releasedDataSchema>;
export type FenceOutcome = z.infer<typeof fenceOutcomeSchema>;
export type FencedData = z.infer<typeof fencedDataSchema>;
export type HookOutcomeKind = z.infer<typeof hookOutcomeSchema>;
export type HookData = z.infer<typeof hookDataSchema>;
export type ConfigProblem = z.infer<typeof configProblemSchema>;
export type ConfigInvalidData = z.infer<typeof configInvalidDataSchema>;

export type PromotedEvent = z.infer<typeof promotedEventSchema>;
export type SwitchoverEvent = z.infer<typeof switchoverEventSchema>;
export type SwitchoverRefusedEvent = z.infer<typeof switchoverRefusedEventSchema>;
export type UnavailableEvent = z.infer<typeof unavailableEventSchema>;
export type CompletedEvent = z.infer<typeof completedEventSchema>;
export type ReleasedEvent = z.infer<typeof releasedEventSchema>;
export type FencedEvent = z.infer<typeof fencedEventSchema>;
export type HookEvent = z.infer<typeof hookEventSchema>;
export type ConfigInvalidEvent = z.infer<typeof configInvalidEventSchema>;
export type RouteData = z.infer<typeof routeSchema>;
export type RouteAppliedData = z.infer<typeof routeAppliedDataSchema>;
export type RouteRemovedData = z.infer<typeof routeRemovedDataSchema>;
export type RouteConflictData = z.infer<typeof routeConflictDataSchema>;
export type RouteInvalidData = z.infer<typeof routeInvalidDataSchema>;
export type RouteAppliedEvent = z.infer<typeof routeAppliedEventSchema>;
export type RouteRemovedEvent = z.infer<typeof routeRemovedEventSchema>;
export type RouteConflictEvent = z.infer<typeof routeConflictEventSchema>;
export type RouteInvalidEvent = z.infer<typeof routeInvalidEventSchema>;
export type AuditEvent = z.infer<typeof auditEvent>;

type EnvelopeConstant = 'specversion' | 'source' | 'datacontenttype';
/** What baton's deciding code produces; the emitter adds the constant envelope attributes. */
export type AuditDraft = AuditEvent extends infer E ? (E extends AuditEvent ? Omit<E, EnvelopeConstant> : never) : never;

export function parseAuditEvent(input: unknown): z.ZodSafeParseResult<AuditEvent> {
  return auditEvent.safeParse(input);
}

export function auditSubject(service: ServiceRef): string {
  return `${service.namespace}/${service.name}`;
}
