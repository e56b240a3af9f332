// The Ingress baton declares for a routed Service: one rule, one path, owned by the
// Service so that deleting the Service deletes the route. No claim time is written: one
// read back from an object others can write would be theirs to forge (plan.ts orders
// claims by creation times the API server sets).
import type { V1Ingress } from '@kubernetes/client-node';
import { ingressNameFor, MANAGED_BY_LABEL, MANAGED_BY_VALUE, type Route, type RouteKeys, type RouteService } from './model.js';

export function desiredIngress(service: RouteService, route: Route, keys: RouteKeys): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: ingressNameFor(service.name),
      namespace: service.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [keys.service]: service.name },
      // No blockOwnerDeletion: it would need update rights on services/finalizers, and
      // nothing is gained by holding up a Service's deletion for its route.
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: service.name, uid: service.uid, controller: true }],
    },
    spec: {
      ...(route.ingressClass ? { ingressClassName: route.ingressClass } : {}),
      ...(route.tlsSecret ? { tls: [{ hosts: [route.host], secretName: route.tlsSecret }] } : {}),
      rules: [
        {
          host: route.host,
          http: { paths: [{ path: route.path, pathType: 'Prefix', backend: { service: { name: service.name, port: route.port } } }] },
        },
      ],
    },
  };
}
