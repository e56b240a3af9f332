// The routing decision: every Service in scope and every Ingress baton wrote in, the
// Ingress writes that make them agree out. Pure and total, so it can be re-run after
// any event or conflict and always lands on the same answer for the same world.
import { readClaim } from './claim.js';
import { ingressNameFor, sameRoute, type Route, type RouteIngress, type RouteKeys, type RouteProblem, type RouteService } from './model.js';

export interface World {
  readonly services: readonly RouteService[];
  readonly ingresses: readonly RouteIngress[];
  readonly keys: RouteKeys;
  readonly ingressClass: string | undefined;
  readonly now: number;
}

export type RemovalReason = 'removed' | 'invalid' | 'conflict' | 'stale';

export interface Apply {
  readonly service: RouteService;
  readonly route: Route;
  readonly claimedAt: number;
  /** The Service's own Ingress as read; the write is guarded by its resourceVersion. */
  readonly current: RouteIngress | undefined;
}

export interface Removal {
  readonly ingress: RouteIngress;
  /** The Service the Ingress was for, when it still exists. */
  readonly service: RouteService | undefined;
  readonly reason: RemovalReason;
}

export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type Verdict = { readonly service: RouteService } & (
  | { readonly kind: 'routed'; readonly route: Route }
  | { readonly kind: 'invalid'; readonly problems: readonly RouteProblem[] }
  | { readonly kind: 'conflict'; readonly route: Route; readonly holder: ServiceRef }
);

export interface RoutePlan {
  /** Run first: frees names and hosts before anything is applied. */
  readonly removals: readonly Removal[];
  readonly applies: readonly Apply[];
  /** Every Service that asks for a route, keyed "namespace/name". */
  readonly verdicts: ReadonlyMap<string, Verdict>;
}

export const keyOf = (o: { readonly namespace: string; readonly name: string }): string => `${o.namespace}/${o.name}`;
const claimKey = (route: Route): string => `${route.host}\u0000${route.path}`;
const byName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }): number => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0);

interface Candidate {
  readonly service: RouteService;
  readonly route: Route;
  readonly own: RouteIngress | undefined;
}

/** Serves this very host and path now: the claim it made is established. */
const incumbent = (c: Candidate): boolean => c.own?.route !== undefined && c.own.route.host === c.route.host && c.own.route.path === c.route.path;

/**
 * The oldest claim wins. A claim that a route already serves dates from when it was
 * made (recorded on the Ingress), so a new claimant never takes a working host away;
 * among claims nobody serves yet the oldest Service wins. Names break ties, so the
 * answer never depends on the order things were listed in.
 */
export function winnerOf(candidates: readonly Candidate[]): Candidate {
  const serving = candidates.filter(incumbent);
  const pool = serving.length > 0 ? serving : candidates;
  const age = (c: Candidate): number => (serving.length > 0 ? (c.own?.claimedAt ?? Number.MAX_SAFE_INTEGER) : c.service.createdAt);
  return [...pool].sort((a, b) => age(a) - age(b) || byName(a.service, b.service))[0]!;
}

export function planRoutes(world: World): RoutePlan {
  const ingressByName = new Map(world.ingresses.map((i) => [keyOf(i), i]));
  const removals: Removal[] = [];
  const applies: Apply[] = [];
  const verdicts = new Map<string, Verdict>();
  const candidates = new Map<string, Candidate[]>();

  for (const service of [...world.services].sort(byName)) {
    const named = ingressByName.get(`${service.namespace}/${ingressNameFor(service.name)}`);
    // An Ingress under this Service's name but owned by an earlier Service of the same
    // name (deleted and recreated before the garbage collector got to it) is in the way.
    const own = named?.ownerUid === service.uid ? named : undefined;
    if (named && !own) removals.push({ ingress: named, service, reason: 'stale' });
    const claim = readClaim(service, world.keys, world.ingressClass);
    switch (claim.kind) {
      case 'none':
        if (own) removals.push({ ingress: own, service, reason: 'removed' });
        break;
      case 'invalid':
        verdicts.set(keyOf(service), { service, kind: 'invalid', problems: claim.problems });
        if (own) removals.push({ ingress: own, service, reason: 'invalid' });
        break;
      case 'route': {
        const key = claimKey(claim.route);
        candidates.set(key, [...(candidates.get(key) ?? []), { service, route: claim.route, own }]);
        break;
      }
    }
  }

  for (const group of candidates.values()) {
    const winner = winnerOf(group);
    const holder: ServiceRef = { namespace: winner.service.namespace, name: winner.service.name, uid: winner.service.uid };
    for (const c of group) {
      if (c === winner) continue;
      verdicts.set(keyOf(c.service), { service: c.service, kind: 'conflict', route: c.route, holder });
      if (c.own) removals.push({ ingress: c.own, service: c.service, reason: 'conflict' });
    }
    verdicts.set(keyOf(winner.service), { service: winner.service, kind: 'routed', route: winner.route });
    if (winner.own?.route && sameRoute(winner.own.route, winner.route) && winner.own.claimedAt !== undefined) continue;
    applies.push({ service: winner.service, route: winner.route, claimedAt: incumbent(winner) ? (winner.own!.claimedAt ?? world.now) : world.now, current: winner.own });
  }
  // Moves before creations: a Service that changed its host gives the old host up in
  // the same pass that may hand it to the next claimant.
  applies.sort((a, b) => Number(a.current === undefined) - Number(b.current === undefined));
  return { removals, applies, verdicts };
}
