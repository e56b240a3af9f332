// Routes' figures, taken where routes already reports: Ingresses applied and removed,
// conflicting and invalid claims, and how many Ingresses baton manages (the count the
// last full pass listed).
import type { Metrics } from '../../shared/metrics/metrics.js';
import type { RoutesApi } from './api.js';
import type { RouteReporter } from './report.js';

export function meteredRouteReporter(reporter: RouteReporter, metrics: Metrics): RouteReporter {
  return {
    ...reporter,
    applied: (service, ingress, route) => {
      metrics.routeApplied();
      return reporter.applied(service, ingress, route);
    },
    removed: (service, ingress, reason) => {
      metrics.routeRemoved();
      return reporter.removed(service, ingress, reason);
    },
    conflict: (service, route, holder) => {
      metrics.routeConflict(service);
      return reporter.conflict(service, route, holder);
    },
    invalid: (service, problems) => {
      metrics.routeInvalid(service);
      return reporter.invalid(service, problems);
    },
  };
}

/** The same port; a list of baton's Ingresses over the whole scope also sets the routes gauge. */
export function meteredRoutesApi(api: RoutesApi, metrics: Metrics): RoutesApi {
  return {
    ...api,
    get requestCount() {
      return api.requestCount;
    },
    listIngresses: async (namespaces) => {
      const ingresses = await api.listIngresses(namespaces);
      metrics.routes(ingresses.length);
      return ingresses;
    },
  };
}
