// The routes index: what this instance last saw of routes, so that events which cannot
// change a route cost no API call. Only ever used to skip a look or to say what to read:
// every write is decided on a fresh read, and the periodic full pass corrects anything
// this missed.
//
// It is not failover's index (service-index.ts) and does not share it: failover keeps
// whole opted-in Services, follows them with a watch and answers pod events by
// selector; routes keep, for every Service in scope, a digest of its routing
// annotations, its claim, and the Ingress it owns, replaced by each full pass. What the
// two do share is the rule for their own writes' echoes (own-writes.ts): an event is an
// echo only at exactly the version a write of this instance returned (for Ingresses,
// also their deletion), remembered in a bounded memory (shared/bounded.ts). A routes
// pass is not one decision guarded by one read version, so no "at or before" applies.
import { createHash } from 'node:crypto';
import { mentionsRoute, readClaim } from './core/claim.js';
import type { RouteIngress, RouteKeys, RouteService } from './core/model.js';
import { claimKey, keyOf } from './core/plan.js';
import { boundedMap } from '../../shared/bounded.js';

export interface RouteIndex {
  /** True when the Service looks exactly as it did at the last successful pass. */
  unchanged(service: RouteService): boolean;
  /** The Ingress baton keeps for the Service, as last seen. */
  routeOf(namespace: string, name: string): RouteIngress | undefined;
  /** Whether the last successful pass listed a Service with this uid. */
  listed(uid: string): boolean;
  /** Replaces everything with what a successful pass listed and wrote. */
  settle(services: readonly RouteService[], ingresses: readonly RouteIngress[]): void;
  /** True once a full pass has settled: only then can claimants() narrow a look. */
  readonly indexed: boolean;
  /**
   * The Services (keys) that asked for this host and path when last seen. Only ever
   * names what to read fresh; never a fact a write is decided on.
   */
  claimants(key: string): string[];
  /** What a focused pass read fresh and wrote, for those Services only. */
  absorb(services: readonly RouteService[], ingresses: readonly RouteIngress[]): void;
  /** An Ingress version or deletion that baton itself produced; its event is an echo. */
  wrote(ingress: Pick<RouteIngress, 'uid' | 'resourceVersion'>): void;
  deleted(uid: string): void;
  isEcho(ingress: Pick<RouteIngress, 'uid' | 'resourceVersion'>, deletion: boolean): boolean;
}

const MAX_ECHOES = 10_000;

export function createRouteIndex(keys: RouteKeys): RouteIndex {
  let fingerprints = new Map<string, string>();
  let routes = new Map<string, RouteIngress>();
  let uids = new Set<string>();
  let claims = new Map<string, string>();
  let indexed = false;
  const claimOf = (service: RouteService): string | undefined => {
    const claim = readClaim(service, keys, undefined);
    return claim.kind === 'route' ? claimKey(claim.route) : undefined;
  };
  const echoes = boundedMap<true>(MAX_ECHOES);
  const remember = (token: string): void => echoes.set(token, true);
  // A digest of everything about a Service that a route depends on.
  const fingerprint = (service: RouteService): string => {
    const relevant = [keys.host, keys.legacyHost, keys.path, keys.port, keys.tlsSecret].map((k) => (Object.hasOwn(service.annotations, k) ? service.annotations[k] : null));
    return createHash('sha256').update(JSON.stringify([service.uid, relevant, service.ports])).digest('base64url');
  };
  return {
    get indexed() {
      return indexed;
    },
    claimants: (key) => [...claims].filter(([, claimed]) => claimed === key).map(([service]) => service),
    absorb(services, ingresses) {
      for (const service of services) {
        const key = keyOf(service);
        uids.add(service.uid);
        const claimed = claimOf(service);
        if (claimed === undefined) claims.delete(key);
        else claims.set(key, claimed);
        if (mentionsRoute(service.annotations, keys)) fingerprints.set(key, fingerprint(service));
        else fingerprints.delete(key);
        const own = ingresses.find((i) => i.ownerUid === service.uid);
        if (own) routes.set(key, own);
        else routes.delete(key);
      }
    },
    unchanged: (service) => fingerprints.get(keyOf(service)) === fingerprint(service),
    routeOf: (namespace, name) => routes.get(`${namespace}/${name}`),
    listed: (uid) => uids.has(uid),
    settle(services, ingresses) {
      uids = new Set(services.map((s) => s.uid));
      claims = new Map();
      for (const service of services) {
        const claimed = claimOf(service);
        if (claimed !== undefined) claims.set(keyOf(service), claimed);
      }
      indexed = true;
      const byUid = new Map(services.map((s) => [s.uid, s]));
      fingerprints = new Map(services.filter((s) => mentionsRoute(s.annotations, keys)).map((s) => [keyOf(s), fingerprint(s)]));
      routes = new Map();
      for (const ingress of ingresses) {
        const owner = ingress.ownerUid ? byUid.get(ingress.ownerUid) : undefined;
        if (owner) {
          routes.set(keyOf(owner), ingress);
          fingerprints.set(keyOf(owner), fingerprint(owner));
        }
      }
    },
    wrote: (ingress) => remember(`${ingress.uid}@${ingress.resourceVersion}`),
    deleted: (uid) => remember(`${uid}@deleted`),
    isEcho: (ingress, deletion) => echoes.has(deletion ? `${ingress.uid}@deleted` : `${ingress.uid}@${ingress.resourceVersion}`),
  };
}
