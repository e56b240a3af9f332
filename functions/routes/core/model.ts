// The host-routing domain, independent of any Kubernetes client library. The shell
// maps Services and Ingresses into these shapes; plan.ts sees nothing else.

import type { Labels } from '../../../shared/keys.js';
export type { Labels };

export interface ServicePort {
  readonly name: string | undefined;
  readonly port: number;
}

export interface RouteService {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** ms since epoch; orders claims that no route serves yet. */
  readonly createdAt: number;
  readonly annotations: Labels;
  readonly ports: readonly ServicePort[];
}

/** A Service port as the Ingress backend names it. */
export type PortRef = { readonly number: number } | { readonly name: string };

/** What one Ingress rule serves; equal routes need no write. */
export interface Route {
  readonly host: string;
  /** Absolute; matched as a prefix. */
  readonly path: string;
  readonly port: PortRef;
  readonly tlsSecret: string | undefined;
  readonly ingressClass: string | undefined;
  /**
   * The retired load balancer's entry port from `lb.host: host:port`, kept only to be
   * shown: an Ingress host carries no port, so it is never written or compared.
   */
  readonly legacyEntryPort?: number | undefined;
}

/** An Ingress that baton wrote (label app.kubernetes.io/managed-by=baton). */
export interface RouteIngress {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** The Service named in the Ingress's owner reference, if any. */
  readonly ownerUid: string | undefined;
  /** The route as the Ingress has it now; undefined when it is not one baton could have written. */
  readonly route: Route | undefined;
  /**
   * The Ingress's creationTimestamp as the API server set it, ms since epoch: when
   * this Ingress began to exist. No client can choose it, so it orders claims that
   * two Ingresses serve at once (a race, or a hand-made one).
   */
  readonly createdAt: number | undefined;
}

/** An annotation that failed validation: Warning Event, and no Ingress for the Service. */
export interface RouteProblem {
  readonly key: string;
  readonly value: string;
  readonly message: string;
  /** The host is valid, but the host policy does not let the namespace claim it. */
  readonly byPolicy?: true;
}

export interface RouteKeys {
  /** Service annotations the user writes. */
  readonly host: string;
  readonly path: string;
  readonly port: string;
  readonly tlsSecret: string;
  /** Accepted for Services written for the retired service-loadbalancer: `host[:port]`. */
  readonly legacyHost: string;
  /** On the Ingress: the Service it routes to (label). */
  readonly service: string;
}

export const LEGACY_HOST_KEY = 'serviceloadbalancer/lb.host';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'baton';

export function routeKeysFor(prefix: string): RouteKeys {
  const k = (name: string): string => `${prefix}/${name}`;
  return {
    host: k('host'),
    path: k('path'),
    port: k('port'),
    tlsSecret: k('tls-secret'),
    legacyHost: LEGACY_HOST_KEY,
    service: k('service'),
  };
}

/** The Ingress baton owns for a Service has a fixed name, so there is never a second one. */
export function ingressNameFor(service: string): string {
  return `baton-${service}`;
}

/**
 * True when the Ingress's route `current` already says what `desired` asks, field by
 * field for the fields baton sets. With no class configured baton sets none, and the
 * API server may fill in the cluster's default: that is not a difference.
 */
export function sameRoute(current: Route, desired: Route): boolean {
  const a = current;
  const b = desired;
  return (
    a.host === b.host &&
    a.path === b.path &&
    a.tlsSecret === b.tlsSecret &&
    (b.ingressClass === undefined || a.ingressClass === b.ingressClass) &&
    ('number' in a.port ? 'number' in b.port && a.port.number === b.port.number : 'name' in b.port && a.port.name === b.port.name)
  );
}

export function portText(port: PortRef): string {
  return 'number' in port ? String(port.number) : port.name;
}

/**
 * A Prefix path as ingress matching sees it: "/api" and "/api/" match the same requests
 * (prefixes are compared element by element, and a trailing "/" is ignored), so they
 * are one claim.
 */
export function matchedPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}
