import { routeKeysFor, type RouteIngress, type RouteService } from '../../../../../functions/routes/core/model.js';

export const keys = routeKeysFor('baton.dev');

export function svc(name: string, annotations: Record<string, string> = {}, extra: Partial<RouteService> = {}): RouteService {
  return { namespace: 'demo', name, uid: `uid-${name}`, resourceVersion: '1', createdAt: 1000, annotations, ports: [{ name: 'http', port: 8080 }], ...extra };
}

/** `createdAt`: the Ingress's creationTimestamp, as the API server would have set it. */
export function ingress(service: RouteService, host: string, createdAt: number | undefined, extra: Partial<RouteIngress> = {}): RouteIngress {
  return {
    namespace: service.namespace,
    name: `baton-${service.name}`,
    uid: `ing-${service.name}`,
    resourceVersion: '10',
    ownerUid: service.uid,
    route: { host, path: '/', port: { number: 8080 }, tlsSecret: undefined, ingressClass: undefined },
    createdAt,
    ...extra,
  };
}
