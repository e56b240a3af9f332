// Evidence of routing decisions: an audit CloudEvent with a deterministic id and a
// Kubernetes Event on the Service. Side channels: sent after the write, failures
// logged, never thrown.
import { auditId, auditSubject, ROUTE_APPLIED, ROUTE_CONFLICT, ROUTE_INVALID, ROUTE_REMOVED, type RouteData } from '../../shared/audit/schemas.js';
import type { Emitter } from '../../shared/audit/emit.js';
import { evidenceSender } from '../../shared/audit/evidence.js';
import { createRepeatFilter } from '../../shared/audit/repeats.js';
import type { EventNote, InvolvedService } from '../../shared/k8s/service-events.js';
import type { Logger } from '../../shared/log.js';
import { portText, type Route, type RouteIngress, type RouteProblem } from './core/model.js';
import type { Holder, RemovalReason } from './core/plan.js';

export const ROUTE_REASONS = {
  applied: 'RouteApplied',
  removed: 'RouteRemoved',
  conflict: 'RouteConflict',
  invalid: 'InvalidRoute',
  failed: 'RouteFailed',
} as const;

export interface RouteReporter {
  /** claimedAt: the Ingress's creationTimestamp as the API server returned it. */
  applied(service: InvolvedService, ingress: RouteIngress, route: Route): Promise<void>;
  removed(service: InvolvedService, ingress: RouteIngress, reason: RemovalReason | 'service-deleted'): Promise<void>;
  /** Repeats of the same conflict or problems are let through once per window. */
  conflict(service: InvolvedService, route: Route, holder: Holder): Promise<void>;
  invalid(service: InvolvedService, problems: readonly RouteProblem[]): Promise<void>;
  /** The API server refused this route's write; a Warning Event on the Service only (repeats once per window). */
  failed(service: InvolvedService, what: string, message: string): Promise<void>;
}

/** The one line that tells a legacy user where their old entry port went. */
export function legacyNote(route: Route): string {
  return route.legacyEntryPort === undefined ? '' : ` (lb.host entry port ${route.legacyEntryPort} is not carried over: the ingress controller's own ports now decide it)`;
}

export function describeRoute(route: Route): string {
  return `${route.tlsSecret ? 'https' : 'http'}://${route.host}${route.path} → port ${portText(route.port)}`;
}

function routeData(route: Route): RouteData {
  return { host: route.host, path: route.path, port: 'number' in route.port ? route.port.number : route.port.name, tlsSecret: route.tlsSecret ?? null, ingressClass: route.ingressClass ?? null };
}

const REMOVED_BECAUSE: Readonly<Record<RemovalReason | 'service-deleted', string>> = {
  removed: 'the Service no longer asks for a route',
  invalid: 'the Service\'s routing annotations are invalid',
  conflict: 'another Service holds the host and path',
  'service-deleted': 'the Service was deleted',
};

export function createRouteReporter(deps: {
  recordEvent: (service: InvolvedService, note: EventNote) => Promise<void>;
  emitter: Emitter;
  logger: Logger;
  now: () => number;
}): RouteReporter {
  const { emitter, logger } = deps;
  const fresh = createRepeatFilter(deps.now);
  const ref = (s: InvolvedService): { namespace: string; name: string; uid: string } => ({ namespace: s.namespace, name: s.name, uid: s.uid });
  const time = (): string => new Date(deps.now()).toISOString();

  const send = evidenceSender({ emitter, logger, recordEvent: deps.recordEvent });

  return {
    applied: (service, ingress, route) =>
      send(
        service,
        {
          id: auditId({ type: ROUTE_APPLIED, serviceUid: service.uid, ingressResourceVersion: ingress.resourceVersion }),
          type: ROUTE_APPLIED,
          subject: auditSubject(service),
          time: time(),
          data: {
            service: ref(service),
            ingress: { name: ingress.name, uid: ingress.uid },
            route: routeData(route),
            claimedAt: new Date(ingress.createdAt ?? deps.now()).toISOString(),
            ...(route.legacyEntryPort !== undefined ? { legacyEntryPort: route.legacyEntryPort } : {}),
          },
        },
        { type: 'Normal', reason: ROUTE_REASONS.applied, message: `Ingress ${ingress.name} routes ${describeRoute(route)}${legacyNote(route)}` },
      ),
    removed: (service, ingress, reason) =>
      send(
        service,
        {
          id: auditId({ type: ROUTE_REMOVED, serviceUid: service.uid, ingressUid: ingress.uid }),
          type: ROUTE_REMOVED,
          subject: auditSubject(service),
          time: time(),
          data: { service: ref(service), ingress: { name: ingress.name, uid: ingress.uid }, host: ingress.route?.host ?? null, reason },
        },
        { type: 'Normal', reason: ROUTE_REASONS.removed, message: `Ingress ${ingress.name} removed: ${REMOVED_BECAUSE[reason]}` },
      ),
    conflict: async (service, route, holder) => {
      const id = auditId({ type: ROUTE_CONFLICT, serviceUid: service.uid, host: route.host, path: route.path, holderUid: holder.uid });
      if (!fresh(id)) return;
      const who = holder.kind === 'Service' ? `Service ${holder.namespace}/${holder.name}, which holds it` : `Ingress ${holder.namespace}/${holder.name}, which baton does not manage`;
      await send(
        service,
        { id, type: ROUTE_CONFLICT, subject: auditSubject(service), time: time(), data: { service: ref(service), host: route.host, path: route.path, holder: { ...holder } } },
        { type: 'Warning', reason: ROUTE_REASONS.conflict, message: `no route for ${route.host}${route.path}: it belongs to ${who}` },
      );
    },
    invalid: async (service, problems) => {
      const id = auditId({ type: ROUTE_INVALID, serviceUid: service.uid, problems });
      if (!fresh(id)) return;
      await send(
        service,
        { id, type: ROUTE_INVALID, subject: auditSubject(service), time: time(), data: { service: ref(service), problems: problems.map((p) => ({ ...p })) } },
        { type: 'Warning', reason: ROUTE_REASONS.invalid, message: `no route: ${problems.map((p) => `${p.key}=${JSON.stringify(p.value.slice(0, 80))}: ${p.message}`).join('; ')}` },
      );
    },
    failed: async (service, what, message) => {
      const key = `${service.uid}.failed.${what}.${message}`;
      if (!fresh(key)) return;
      try {
        await deps.recordEvent(service, { type: 'Warning', reason: ROUTE_REASONS.failed, message: `${what}: ${message.slice(0, 600)}; other routes are unaffected, and this one is retried at the next pass` });
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not record the RouteFailed Event');
      }
    },
  };
}
