// One pass: list the truth (Services and baton's Ingresses), plan, write with
// preconditions, report. On a conflict the whole pass starts again from a fresh list,
// as a controller would requeue.
import { ConflictError, NotFoundError, TransientError } from '../k8s/errors.js';
import type { RoutesApi } from '../k8s/routes-api.js';
import type { Logger } from '../log.js';
import { desiredIngress } from './ingress.js';
import type { Known } from './known.js';
import { ingressNameFor, type RouteIngress, type RouteKeys } from './model.js';
import { keyOf, planRoutes, type Apply, type RoutePlan } from './plan.js';
import type { RouteReporter } from './report.js';

export interface RoutesDeps {
  readonly api: RoutesApi;
  readonly keys: RouteKeys;
  readonly ingressClass: string | undefined;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly known: Known;
  readonly reporter: RouteReporter;
  readonly logger: Logger;
  readonly conflictRetries: number;
  readonly now: () => number;
}

export interface PassResult {
  readonly applied: number;
  readonly removed: number;
  readonly problems: number;
  readonly attempts: number;
}

/** Which Services' problems to report: the ones an event was about, or all (a sweep). */
export type Focus = ReadonlySet<string> | 'all';

/** Every attempt lost a write race: transient, so the caller asks for redelivery. */
export class StillConflicting extends TransientError {}

export async function reconcileRoutes(deps: RoutesDeps, focus: Focus): Promise<PassResult> {
  for (let attempt = 1; attempt <= deps.conflictRetries + 1; attempt++) {
    const [services, ingresses] = await Promise.all([deps.api.listServices(deps.namespaces), deps.api.listIngresses(deps.namespaces)]);
    const plan = planRoutes({ services, ingresses, keys: deps.keys, ingressClass: deps.ingressClass, now: deps.now() });
    try {
      const { written, removedUids, ...result } = await execute(deps, plan, focus);
      // What the cluster holds now: the list, less what was removed, plus what was written.
      const now = new Map(ingresses.filter((i) => !removedUids.has(i.uid)).map((i) => [keyOf(i), i]));
      for (const w of written) now.set(keyOf(w), w);
      deps.known.settle(services, [...now.values()]);
      return { ...result, attempts: attempt };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      deps.logger.debug({ attempt, err: error.message }, 'route write lost a race; listing again');
    }
  }
  throw new StillConflicting(`routes still conflicting after ${deps.conflictRetries + 1} passes`, 409);
}

interface Executed extends Omit<PassResult, 'attempts'> {
  readonly written: readonly RouteIngress[];
  readonly removedUids: ReadonlySet<string>;
}

async function execute(deps: RoutesDeps, plan: RoutePlan, focus: Focus): Promise<Executed> {
  const { api, reporter } = deps;
  const pending: Array<Promise<void>> = [];
  const written: RouteIngress[] = [];
  const removedUids = new Set<string>();
  const touched = new Set<string>();
  for (const removal of plan.removals) {
    try {
      await api.deleteIngress(removal.ingress);
    } catch (error) {
      // Gone already (the garbage collector, or another instance): that was the goal.
      if (!(error instanceof NotFoundError)) throw error;
      continue;
    }
    deps.known.deleted(removal.ingress.uid);
    removedUids.add(removal.ingress.uid);
    if (removal.service) {
      touched.add(keyOf(removal.service));
      pending.push(reporter.removed(removal.service, removal.ingress, removal.reason));
    }
  }
  let applied = 0;
  let problems = 0;
  for (const apply of plan.applies) {
    const outcome = await applyOne(apply);
    if (outcome === 'applied') applied += 1;
    else problems += 1;
  }
  for (const [key, verdict] of plan.verdicts) {
    if (verdict.kind === 'routed' || (focus !== 'all' && !focus.has(key) && !touched.has(key))) continue;
    problems += 1;
    if (verdict.kind === 'invalid') pending.push(reporter.invalid(verdict.service, verdict.problems));
    else pending.push(reporter.conflict(verdict.service, verdict.route, { kind: 'Service', ...verdict.holder }));
  }
  await Promise.all(pending);
  return { applied, removed: removedUids.size, problems, written, removedUids };

  async function applyOne(a: Apply): Promise<'applied' | 'blocked'> {
    const name = ingressNameFor(a.service.name);
    if (a.current === undefined) {
      // The list only shows baton's Ingresses; the name may still be taken by someone else's.
      const holder = await api.getIngress(a.service.namespace, name);
      if (holder && !(holder.managed && holder.ownerUid === a.service.uid)) {
        await reporter.conflict(a.service, a.route, { kind: 'Ingress', namespace: a.service.namespace, name, uid: holder.uid });
        return 'blocked';
      }
      // Ours, but newer than the list: plan again from a list that has it.
      if (holder) throw new ConflictError(`ingress ${name} appeared after the list`, 409);
    }
    const ingress = await api.applyIngress(desiredIngress(a.service, a.route, a.claimedAt, deps.keys), a.current?.resourceVersion);
    deps.known.wrote(ingress);
    written.push(ingress);
    pending.push(reporter.applied(a.service, ingress, a.route, a.claimedAt));
    return 'applied';
  }
}
