// One pass: list the truth (Services and baton's Ingresses), plan, write with
// preconditions, report. On a conflict the whole pass starts again from a fresh list,
// as a controller would requeue (shared/k8s/retry.ts, the loop failover uses too).
import { ApiError, ConflictError, NotFoundError, TransientError } from '../../shared/k8s/errors.js';
import { retryOnConflict, stale, type Conflicted } from '../../shared/k8s/retry.js';
import type { RoutesApi } from './api.js';
import type { Logger } from '../../shared/log.js';
import { desiredIngress } from './core/ingress.js';
import type { RouteIndex } from './route-index.js';
import { ingressNameFor, type RouteIngress, type RouteKeys, type RouteService } from './core/model.js';
import type { HostPolicy } from './core/policy.js';
import { readClaim } from './core/claim.js';
import { claimKey, keyOf, planRoutes, type Apply, type RoutePlan } from './core/plan.js';
import type { RouteReporter } from './report.js';

export interface RoutesDeps {
  readonly api: RoutesApi;
  readonly keys: RouteKeys;
  readonly ingressClass: string | undefined;
  readonly policy: HostPolicy;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly index: RouteIndex;
  readonly reporter: RouteReporter;
  readonly logger: Logger;
  readonly conflictRetries: number;
  readonly now: () => number;
}

export interface PassResult {
  readonly outcome: 'passed';
  readonly applied: number;
  readonly removed: number;
  /** Services with a route problem: invalid, in conflict, or whose write failed. */
  readonly problems: number;
  /**
   * Writes for the Services in focus that failed for a reason that may pass (timeouts,
   * 5xx, 429). Only those: another route's trouble is no reason to redeliver this event.
   */
  readonly transientFailures: number;
  readonly attempts: number;
}

/** A pass, or every attempt lost a write race (the caller asks for redelivery). */
export type RoutesResult = PassResult | Conflicted;

/** Which Services' problems to report: the ones an event was about, or all (a sweep). */
export type Focus = ReadonlySet<string> | 'all';

const retryPolicy = (deps: RoutesDeps, again: string): Parameters<typeof retryOnConflict>[0] => ({
  attempts: deps.conflictRetries + 1,
  what: 'routes',
  onRetry: (attempt) => deps.logger.debug({ attempt }, `a route write lost a race; ${again}`),
});

/**
 * Lists, plans and writes. Each route's writes stand alone: a route the API server
 * refuses (422, a quota, a webhook, a namespace being deleted) is reported on its own
 * Service and the others proceed, so no one route can hold the cluster's routing up.
 * A lost resourceVersion race re-plans the pass from a fresh list, as a controller
 * would requeue; the routes already written are then no longer a difference.
 */
export async function reconcileRoutes(deps: RoutesDeps, focus: Focus, onListed?: () => void): Promise<RoutesResult> {
  let totals = { applied: 0, removed: 0 };
  return retryOnConflict<PassResult>(retryPolicy(deps, 'listing again'), async (attempt) => {
    const [services, ingresses] = await Promise.all([deps.api.listServices(deps.namespaces), deps.api.listIngresses(deps.namespaces)]);
    onListed?.();
    const plan = planRoutes({ services, ingresses, keys: deps.keys, ingressClass: deps.ingressClass, policy: deps.policy });
    const { written, removedUids, raced, ...result } = await execute(deps, plan, focus);
    totals = { applied: totals.applied + result.applied, removed: totals.removed + result.removed };
    // What the cluster holds now: the list, less what was removed, plus what was written.
    const now = new Map(ingresses.filter((i) => !removedUids.has(i.uid)).map((i) => [keyOf(i), i]));
    for (const w of written) now.set(keyOf(w), w);
    deps.index.settle(services, [...now.values()]);
    if (raced) return stale('a route write lost a race');
    return { outcome: 'passed', ...result, ...totals, attempts: attempt };
  });
}

/**
 * A pass over one Service's claims, whose cost does not grow with the cluster: the
 * Service, the Services the last full pass saw asking for the same host and path (or
 * for the one it held), and each one's Ingress, all read fresh by name; then the same
 * planner and writes as a full pass, limited to those claims. The index only says what
 * to read: every write is still decided on what the API server returned. A claimant the
 * index has not seen yet (created since the last full pass) has its own event, and the
 * periodic full pass settles anything a focused one could not see.
 * Before the first full pass there is no index, and it falls back to a full pass;
 * `gone` when the Service does not exist (a stale or forged event).
 */
export async function reconcileService(deps: RoutesDeps, namespace: string, name: string): Promise<RoutesResult | Gone> {
  const focus = new Set([`${namespace}/${name}`]);
  if (!deps.index.indexed) return reconcileRoutes(deps, focus);
  const { api, index } = deps;
  let totals = { applied: 0, removed: 0 };
  return retryOnConflict<PassResult | Gone>(retryPolicy(deps, 'reading again'), async (attempt) => {
    const service = await api.getService(namespace, name);
    if (!service) return { outcome: 'gone', detail: `no Service ${namespace}/${name}` };
    const claims = new Set<string>();
    const claim = readClaim(service, deps.keys, deps.ingressClass, deps.policy);
    if (claim.kind === 'route') claims.add(claimKey(claim.route));
    const held = index.routeOf(namespace, name)?.route;
    if (held) claims.add(claimKey(held));
    const peers = [...new Set([...claims].flatMap((c) => index.claimants(c)))].filter((k) => !focus.has(k));
    const read = await Promise.all(peers.map((k) => api.getService(k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1))));
    const services = [service, ...read.filter((s) => s !== undefined)];
    const ingresses = (await Promise.all(services.map((s) => api.readIngress(s.namespace, ingressNameFor(s.name))))).filter((i) => i !== undefined);
    const full = planRoutes({ services, ingresses, keys: deps.keys, ingressClass: deps.ingressClass, policy: deps.policy });
    // New routes only for the claims looked at: elsewhere this small world may not hold
    // everyone who asks (removals are a Service's own business, or lost to someone seen).
    const plan: RoutePlan = { ...full, applies: full.applies.filter((a) => claims.has(claimKey(a.route))) };
    const { written, removedUids, raced, ...result } = await execute(deps, plan, focus, { namesRead: true });
    totals = { applied: totals.applied + result.applied, removed: totals.removed + result.removed };
    const now = new Map(ingresses.filter((i) => !removedUids.has(i.uid)).map((i) => [keyOf(i), i]));
    for (const w of written) now.set(keyOf(w), w);
    index.absorb(services, [...now.values()]);
    if (raced) return stale('a route write lost a race');
    return { outcome: 'passed', ...result, ...totals, attempts: attempt };
  });
}

/** The Service a focused pass was asked about does not exist (a stale or forged event). */
export interface Gone {
  readonly outcome: 'gone';
  readonly detail: string;
}

interface Executed extends Omit<PassResult, 'attempts' | 'outcome'> {
  readonly written: readonly RouteIngress[];
  readonly removedUids: ReadonlySet<string>;
  /** Some write lost a resourceVersion race: the pass must be planned again. */
  readonly raced: boolean;
}

/** namesRead: the plan's Ingresses were read by name, labelled or not, so a missing one is free. */
async function execute(deps: RoutesDeps, plan: RoutePlan, focus: Focus, { namesRead = false } = {}): Promise<Executed> {
  const { api, reporter } = deps;
  const pending: Array<Promise<void>> = [];
  const written: RouteIngress[] = [];
  const removedUids = new Set<string>();
  const touched = new Set<string>();
  const failedKeys = new Set<string>();
  let raced = false;
  let transientFailures = 0;
  // One route's failure: a race re-plans; anything else is that route's alone.
  const failed = (service: RouteService, what: string, error: unknown): void => {
    if (error instanceof ConflictError) {
      raced = true;
      return;
    }
    if (!(error instanceof ApiError)) throw error;
    if (error instanceof TransientError && (focus === 'all' || focus.has(keyOf(service)))) transientFailures += 1;
    failedKeys.add(keyOf(service));
    deps.logger.warn({ service: keyOf(service), status: error.status, err: error.message }, `route ${what} failed`);
    pending.push(reporter.failed(service, what, error.message));
  };
  for (const removal of plan.removals) {
    try {
      await api.deleteIngress(removal.ingress);
    } catch (error) {
      // Gone already (the garbage collector, or another instance): that was the goal.
      if (error instanceof NotFoundError) continue;
      if (removal.service) failed(removal.service, `removal of Ingress ${removal.ingress.name}`, error);
      else if (error instanceof ConflictError) raced = true;
      continue;
    }
    deps.index.deleted(removal.ingress.uid);
    removedUids.add(removal.ingress.uid);
    if (removal.service) {
      touched.add(keyOf(removal.service));
      pending.push(reporter.removed(removal.service, removal.ingress, removal.reason));
    }
  }
  let applied = 0;
  for (const apply of plan.applies) {
    try {
      if (await applyOne(apply)) applied += 1;
    } catch (error) {
      failed(apply.service, `write of Ingress ${ingressNameFor(apply.service.name)}`, error);
    }
  }
  let problems = failedKeys.size;
  for (const [key, verdict] of plan.verdicts) {
    if (verdict.kind === 'routed' || (focus !== 'all' && !focus.has(key) && !touched.has(key))) continue;
    problems += 1;
    if (verdict.kind === 'invalid') pending.push(reporter.invalid(verdict.service, verdict.problems));
    else pending.push(reporter.conflict(verdict.service, verdict.route, verdict.holder));
  }
  await Promise.all(pending);
  return { applied, removed: removedUids.size, problems, transientFailures, written, removedUids, raced };

  /** false: the name is taken by an Ingress that is not this Service's (reported). */
  async function applyOne(a: Apply): Promise<boolean> {
    const name = ingressNameFor(a.service.name);
    if (a.current === undefined && !namesRead) {
      // The list only shows Ingresses with baton's label; the name may still be taken by an unlabelled one.
      const holder = await api.getIngress(a.service.namespace, name);
      if (holder && !(holder.managed && holder.ownerUid === a.service.uid)) {
        failedKeys.add(keyOf(a.service));
        await reporter.conflict(a.service, a.route, { kind: 'Ingress', namespace: a.service.namespace, name, uid: holder.uid });
        return false;
      }
      // Ours, but newer than the list: plan again from a list that has it.
      if (holder) throw new ConflictError(`ingress ${name} appeared after the list`, 409);
    }
    const ingress = await api.applyIngress(desiredIngress(a.service, a.route, deps.keys), a.current?.resourceVersion);
    deps.index.wrote(ingress);
    written.push(ingress);
    pending.push(reporter.applied(a.service, ingress, a.route));
    return true;
  }
}
