// The routing decision: every Service in scope and every Ingress baton wrote in, the
// Ingress writes that make them agree out. Pure and total, so it can be re-run after
// any event or conflict and always lands on the same answer for the same world.
import { readClaim } from './claim.js';
import { ingressNameFor, matchedPath, sameRoute, type Route, type RouteIngress, type RouteKeys, type RouteProblem, type RouteService } from './model.js';
import type { HostPolicy } from './policy.js';

export interface World {
  readonly services: readonly RouteService[];
  readonly ingresses: readonly RouteIngress[];
  readonly keys: RouteKeys;
  readonly ingressClass: string | undefined;
  /** Hosts each namespace may claim; a claim outside it is invalid. */
  readonly policy: HostPolicy;
}

export type RemovalReason = 'removed' | 'invalid' | 'conflict';

export interface Apply {
  readonly service: RouteService;
  readonly route: Route;
  /** The Service's own Ingress as read; the write is guarded by its resourceVersion. */
  readonly current: RouteIngress | undefined;
}

export interface Removal {
  readonly ingress: RouteIngress;
  /** The Service the Ingress was for, when it still exists. */
  readonly service: RouteService | undefined;
  readonly reason: RemovalReason;
}

/** What keeps a Service from its route: an older claim, or an Ingress baton did not make. */
export interface Holder {
  readonly kind: 'Service' | 'Ingress';
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type Verdict = { readonly service: RouteService } & (
  | { readonly kind: 'routed'; readonly route: Route }
  | { readonly kind: 'invalid'; readonly problems: readonly RouteProblem[] }
  | { readonly kind: 'conflict'; readonly route: Route; readonly holder: Holder }
);

export interface RoutePlan {
  /** Run first: frees names and hosts before anything is applied. */
  readonly removals: readonly Removal[];
  readonly applies: readonly Apply[];
  /** Every Service that asks for a route, keyed "namespace/name". */
  readonly verdicts: ReadonlyMap<string, Verdict>;
}

export const keyOf = (o: { readonly namespace: string; readonly name: string }): string => `${o.namespace}/${o.name}`;
/** One claim: a host and a path as ingress matching sees it. */
export const claimKey = (route: Pick<Route, 'host' | 'path'>): string => `${route.host}\u0000${matchedPath(route.path)}`;
const byName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }): number => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0);

interface Candidate {
  readonly service: RouteService;
  readonly route: Route;
  readonly own: RouteIngress | undefined;
}

/** Serves this very host and path (as ingress matching sees it) now: the claim is established. */
const incumbent = (c: Candidate): boolean =>
  c.own?.route !== undefined && c.own.route.host === c.route.host && matchedPath(c.own.route.path) === matchedPath(c.route.path);

const LATEST = Number.MAX_SAFE_INTEGER;

/**
 * A route that serves keeps its host: a new claimant never takes it away. Only when
 * several Ingresses serve one claim at once (two instances raced, or one was made by
 * hand) is one chosen, the Ingress the API server created first. Among claims nobody
 * serves yet the oldest Service wins. Every time compared is one the API server set
 * (creationTimestamp), never a value a tenant can write; names break ties, so the
 * answer never depends on the order things were listed in.
 */
export function winnerOf(candidates: readonly Candidate[]): Candidate {
  const serving = candidates.filter(incumbent);
  const pool = serving.length > 0 ? serving : candidates;
  const since = (c: Candidate): number => (serving.length > 0 ? (c.own?.createdAt ?? LATEST) : 0);
  return [...pool].sort((a, b) => since(a) - since(b) || a.service.createdAt - b.service.createdAt || byName(a.service, b.service))[0]!;
}

export function planRoutes(world: World): RoutePlan {
  const ingressByName = new Map(world.ingresses.map((i) => [keyOf(i), i]));
  const removals: Removal[] = [];
  const applies: Apply[] = [];
  const verdicts = new Map<string, Verdict>();
  const candidates = new Map<string, Candidate[]>();

  for (const service of [...world.services].sort(byName)) {
    const named = ingressByName.get(`${service.namespace}/${ingressNameFor(service.name)}`);
    // Baton's Ingress for a Service is the one whose controller owner is that Service's
    // uid as the API returned it. Anything else under the name, even with baton's label
    // (an earlier Service's, which the garbage collector will remove; one re-applied
    // from exported YAML), is someone else's: it blocks the route and is never touched.
    const own = named?.ownerUid === service.uid ? named : undefined;
    const blocker = named && !own ? named : undefined;
    const claim = readClaim(service, world.keys, world.ingressClass, world.policy);
    switch (claim.kind) {
      case 'none':
        if (own) removals.push({ ingress: own, service, reason: 'removed' });
        break;
      case 'invalid':
        verdicts.set(keyOf(service), { service, kind: 'invalid', problems: claim.problems });
        if (own) removals.push({ ingress: own, service, reason: 'invalid' });
        break;
      case 'route': {
        if (blocker) {
          verdicts.set(keyOf(service), { service, kind: 'conflict', route: claim.route, holder: { kind: 'Ingress', namespace: blocker.namespace, name: blocker.name, uid: blocker.uid } });
          break;
        }
        const key = claimKey(claim.route);
        candidates.set(key, [...(candidates.get(key) ?? []), { service, route: claim.route, own }]);
        break;
      }
    }
  }

  for (const group of candidates.values()) {
    const winner = winnerOf(group);
    const holder: Holder = { kind: 'Service', namespace: winner.service.namespace, name: winner.service.name, uid: winner.service.uid };
    for (const c of group) {
      if (c === winner) continue;
      verdicts.set(keyOf(c.service), { service: c.service, kind: 'conflict', route: c.route, holder });
      if (c.own) removals.push({ ingress: c.own, service: c.service, reason: 'conflict' });
    }
    verdicts.set(keyOf(winner.service), { service: winner.service, kind: 'routed', route: winner.route });
    if (winner.own?.route && sameRoute(winner.own.route, winner.route)) continue;
    applies.push({ service: winner.service, route: winner.route, current: winner.own });
  }
  // Moves before creations: a Service that changed its host gives the old host up in
  // the same pass that may hand it to the next claimant.
  applies.sort((a, b) => Number(a.current === undefined) - Number(b.current === undefined));
  return { removals, applies, verdicts };
}
