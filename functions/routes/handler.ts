// Event in, one routing pass (or nothing) out. The event only says whether a look is
// worth its two lists; what to write is always planned from a fresh list.
import type { ResourceEvent } from '../../shared/events/incoming.js';
import { handled, ignored, retry, type Outcome } from '../../shared/http/outcome.js';
import type { Handler } from '../../shared/http/server.js';
import { resourceHandler } from '../../shared/http/resource-handler.js';
import { mentionsRoute } from './core/claim.js';
import { reconcileRoutes, reconcileService, type Focus, type RoutesResult, type RoutesDeps } from './reconcile.js';
import { isManaged, routeService } from './views.js';

function summary(result: RoutesResult): Outcome {
  // Every attempt lost a race: redelivery starts over from a fresh list.
  if (result.outcome === 'conflicted') return retry(1, result.detail);
  const text = `${result.applied} applied, ${result.removed} removed, ${result.problems} with problems`;
  // A write that failed for a passing reason is worth a redelivery; one the API server
  // refused outright is reported on its Service and left to the periodic pass.
  return result.transientFailures > 0 ? retry(1, `${text}; ${result.transientFailures} failed transiently`) : handled(text);
}

async function pass(deps: RoutesDeps, focus: Focus): Promise<Outcome> {
  return summary(await reconcileRoutes(deps, focus));
}

async function onService(deps: RoutesDeps, event: Extract<ResourceEvent, { kind: 'Service' }>): Promise<Outcome> {
  const service = routeService(event.object);
  const route = deps.index.routeOf(service.namespace, service.name);
  const asks = mentionsRoute(service.annotations, deps.keys);
  if (event.action === 'delete') {
    if (!route && !asks) return ignored('service had no route');
    // The garbage collector removes the Ingress; the pass hands the host to the next claimant.
    const outcome = await pass(deps, new Set());
    // Reported only when the fresh list agrees: the route baton kept was owned by this
    // very uid, and no Service with that uid is listed any more. A forged or stale
    // delete event (a made-up uid, or a Service that still exists) puts nothing on the
    // audit record.
    if (route && route.ownerUid === service.uid && !deps.index.listed(service.uid)) await deps.reporter.removed({ ...service, resourceVersion: '' }, route, 'service-deleted');
    return outcome;
  }
  if (!asks && !route) return ignored('service asks for no route');
  if (deps.index.unchanged(service)) return ignored('routing annotations and ports unchanged');
  const result = await reconcileService(deps, service.namespace, service.name);
  return result.outcome === 'gone' ? ignored('no such Service') : summary(result);
}

async function onIngress(deps: RoutesDeps, event: Extract<ResourceEvent, { kind: 'Ingress' }>): Promise<Outcome> {
  const meta = event.object.metadata;
  if (!isManaged(meta.labels)) return ignored('ingress is not managed by baton');
  if (deps.index.isEcho(meta, event.action === 'delete')) return ignored('echo of baton\'s own write');
  // Someone else changed or deleted a route: put it back as the Services declare.
  const owner = meta.ownerReferences?.find((o) => o.kind === 'Service' && o.controller === true);
  if (!owner?.name) return pass(deps, new Set());
  // The owner's name only says where to look; the focused pass reads it fresh.
  const result = await reconcileService(deps, meta.namespace, owner.name);
  return result.outcome === 'gone' ? pass(deps, new Set()) : summary(result);
}

export function createRoutesHandler(deps: RoutesDeps): Handler {
  return resourceHandler(deps.namespaces, async (event) => {
    switch (event.kind) {
      case 'Service':
        return await onService(deps, event);
      case 'Ingress':
        return await onIngress(deps, event);
      case 'Pod':
      case 'EndpointSlice':
      case 'Node':
        return ignored(`routes do not depend on ${event.kind}s`);
    }
  });
}
