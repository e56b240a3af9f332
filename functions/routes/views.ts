// API objects (client-node's, or an event's parsed `data`) into the routing model.
import { time, type MetaLike, type ServiceLike } from '../../shared/k8s/views.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type PortRef, type Route, type RouteIngress, type RouteKeys, type RouteService } from './core/model.js';

interface BackendLike {
  readonly service?: { readonly name?: string | undefined; readonly port?: { readonly name?: string | undefined; readonly number?: number | undefined } | undefined } | undefined;
}
export interface IngressLike {
  readonly metadata?: MetaLike | undefined;
  readonly spec?:
    | {
        readonly ingressClassName?: string | undefined;
        readonly tls?: ReadonlyArray<{ readonly hosts?: readonly string[] | undefined; readonly secretName?: string | undefined }> | undefined;
        readonly rules?: ReadonlyArray<{
          readonly host?: string | undefined;
          readonly http?: { readonly paths?: ReadonlyArray<{ readonly path?: string | undefined; readonly pathType?: string | undefined; readonly backend?: BackendLike | undefined }> | undefined } | undefined;
        }> | undefined;
      }
    | undefined;
}

/**
 * With `keys`, only the routing annotations are kept: a pass holds every Service in
 * scope, and the rest (last-applied configuration, other tools' notes) is most of a
 * Service's size and none of routing's business.
 */
export function routeService(service: ServiceLike, keys?: RouteKeys): RouteService {
  const m = service.metadata;
  const all = m?.annotations ?? {};
  const annotations = keys ? Object.fromEntries([keys.host, keys.legacyHost, keys.path, keys.port, keys.tlsSecret].filter((k) => Object.hasOwn(all, k)).map((k) => [k, all[k]!])) : all;
  return {
    namespace: m?.namespace ?? '',
    name: m?.name ?? '',
    uid: m?.uid ?? '',
    resourceVersion: m?.resourceVersion ?? '',
    createdAt: time(m?.creationTimestamp) ?? 0,
    annotations,
    ports: (service.spec?.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({ name: p.name || undefined, port: p.port! })),
  };
}

export function isManaged(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** The one rule baton writes, read back; anything else (edited by hand) reads as undefined and is rewritten. */
function routeOf(ingress: IngressLike): Route | undefined {
  const rules = ingress.spec?.rules ?? [];
  const paths = rules[0]?.http?.paths ?? [];
  if (rules.length !== 1 || paths.length !== 1) return undefined;
  const rule = rules[0]!;
  const entry = paths[0]!;
  const port = entry.backend?.service?.port;
  const ref: PortRef | undefined = port?.number !== undefined ? { number: port.number } : port?.name ? { name: port.name } : undefined;
  if (!rule.host || !entry.path || entry.pathType !== 'Prefix' || ref === undefined) return undefined;
  const tls = ingress.spec?.tls ?? [];
  if (tls.length > 1) return undefined;
  return { host: rule.host, path: entry.path, port: ref, tlsSecret: tls[0]?.secretName, ingressClass: ingress.spec?.ingressClassName };
}

export function routeIngress(ingress: IngressLike): RouteIngress {
  const m = ingress.metadata;
  const owner = m?.ownerReferences?.find((o) => o.kind === 'Service' && o.controller === true);
  return {
    namespace: m?.namespace ?? '',
    name: m?.name ?? '',
    uid: m?.uid ?? '',
    resourceVersion: m?.resourceVersion ?? '',
    ownerUid: owner?.uid,
    route: routeOf(ingress),
    createdAt: time(m?.creationTimestamp),
  };
}
