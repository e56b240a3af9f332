// The imperative shell around decide(): read the truth, decide, write with a
// resourceVersion precondition, and on 409 read again and decide again. Evidence
// (audit events, Kubernetes Events, role labels) follows a write and never blocks it.
import type { Cluster } from './cluster.js';
import { NotFoundError } from '../../shared/k8s/errors.js';
import { retryOnConflict } from '../../shared/k8s/retry.js';
import type { Logger } from '../../shared/log.js';
import { decide, type Decision } from './core/decide.js';
import { batonAnnotationKeys } from './core/release.js';
import { isServiceName, ownsRecord, userSelector } from './core/settings.js';
import { type Observed, type Plan, type PodView, type ServiceView } from './core/model.js';
import { MODE_VALUE, type Keys } from '../../shared/keys.js';
import type { ServiceRef } from '../../shared/k8s/views.js';
import type { Reporter } from './report.js';
import type { WriteObserver } from './writes.js';
import { act } from './act.js';
import type { HookDeps } from './hooks.js';
import { directInForce, removeOwnSlices, sliceUnwanted, slicesConcern, syncSlice } from './direct.js';
import { sliceTerm, type ObservedSlice } from './core/slice.js';

export interface ReconcileDeps {
  readonly cluster: Cluster;
  readonly keys: Keys;
  readonly logger: Logger;
  readonly reporter: Reporter;
  readonly conflictRetries: number;
  readonly now: () => number;
  /** Write `<prefix>/role` labels on candidates (BATON_ROLE_LABELS). Off unless set. */
  readonly roleLabels?: boolean;
  /**
   * Other opted-in Services of a namespace as last read from the API (the index). Used
   * only for role labels, so that Services over the same pods agree on them.
   */
  readonly peers?: (namespace: string) => readonly ServiceView[];
  /**
   * Told about every write this instance sends and what it left, so that their echoes
   * can be recognised (own-writes.ts). The resync sweep answers no events: NO_ECHOES.
   */
  readonly ownWrites: WriteObserver;
  /** How hook calls are made (hooks.ts); the global fetch unless a test injects its own. */
  readonly hooks?: HookDeps;
  /**
   * The Nodes the API server last reported cordoned (failover: its watch, cordons.ts;
   * resync: one list per sweep). Read at each decision; none when absent.
   */
  readonly cordoned?: () => ReadonlySet<string>;
  /** Told of each switch written, with the pods it was decided on (metrics); optional. */
  readonly onSwitch?: ((service: ServiceView, plan: Extract<Plan, { kind: 'switch' }>, pods: readonly PodView[], now: number) => void) | undefined;
}

export type Result =
  | { readonly outcome: 'gone' | 'ignored' | 'steady' | 'invalid' | 'switched' | 'unavailable' | 'refused' | 'released'; readonly detail: string }
  | { readonly outcome: 'held'; readonly detail: string; readonly retryAfterMs: number }
  | { readonly outcome: 'conflicted'; readonly detail: string };


/**
 * True when the Service carries anything baton would have to undo, written on this very
 * Service. A copy of another Service's record is not baton's to undo.
 */
export function hasBatonState(service: ServiceView, keys: Keys): boolean {
  if (!ownsRecord(service, keys)) return false;
  return keys.podId in service.selector || batonAnnotationKeys(keys).some((k) => k in service.annotations);
}

export function isOptedIn(service: ServiceView, keys: Keys): boolean {
  return service.labels[keys.mode] === MODE_VALUE;
}

async function podsFor(deps: ReconcileDeps, service: ServiceView): Promise<PodView[]> {
  const selector = userSelector(service, deps.keys);
  if (!selector.ok) return [];
  return deps.cluster.listPods(service.namespace, selector.selector);
}

/** A copy of the Service to start from, as the API server returned it. */
export interface Basis {
  readonly service: Observed<ServiceView>;
  /**
   * True when it was read for this very look (a get or a list just now). False for the
   * index's copy, which may lag arbitrarily and must be confirmed before anything but a
   * guarded write is based on it. Never an event's body: that is not a read at all.
   */
  readonly fresh: boolean;
}

/**
 * The Service a follower mirrors, read fresh for each decision (undefined when it does
 * not exist), so a follower never copies a stale choice for longer than one look.
 */
async function leaderOf(deps: ReconcileDeps, service: ServiceView): Promise<ServiceView | undefined> {
  const name = service.annotations[deps.keys.follow];
  if (name === undefined || !isOptedIn(service, deps.keys) || !isServiceName(name) || name === service.name) return undefined;
  try {
    return await deps.cluster.getService(service.namespace, name);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The uids other opted-in Services of the namespace route to (for role labels). */
function activeElsewhere(deps: ReconcileDeps, service: ServiceView): Set<string> {
  const out = new Set<string>();
  if (!deps.roleLabels || !deps.peers) return out;
  for (const peer of deps.peers(service.namespace)) {
    const uid = peer.selector[deps.keys.podId];
    if (peer.name !== service.name && uid !== undefined) out.add(uid);
  }
  return out;
}

/**
 * Brings one Service to the state decide() asks for. A guarded write needs no fresh
 * read: its precondition rejects a stale basis with 409, which is answered by reading
 * again and deciding again.
 */
export async function reconcile(deps: ReconcileDeps, ref: ServiceRef, basis?: Basis): Promise<Result> {
  const { cluster, keys, logger } = deps;
  const gone: Result = { outcome: 'gone', detail: `service ${ref.namespace}/${ref.name} no longer exists` };
  const notOptedIn: Result = { outcome: 'ignored', detail: 'not opted in' };
  const concerned = (service: ServiceView): boolean => isOptedIn(service, keys) || hasBatonState(service, keys);
  const read = async (): Promise<Observed<ServiceView> | undefined> => {
    try {
      return await cluster.getService(ref.namespace, ref.name);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  };
  return retryOnConflict<Result>(
    {
      attempts: deps.conflictRetries + 1,
      what: 'service',
      onRetry: (attempt, why) => logger.debug({ service: `${ref.namespace}/${ref.name}`, attempt, why }, 'conflict; reading again'),
    },
    async (attempt) => {
      // The copy handed in serves the first attempt only; after a lost race, read afresh.
      const first = attempt === 1 ? basis : undefined;
      const start = first?.service ?? (await read());
      if (start === undefined) return gone;
      if (!concerned(start)) return notOptedIn;
      let service = start;
      let decision = await decideOn(deps, service);
      // Only the Service write is checked against the truth by the server (its
      // precondition); anything else — including labelling a pod before that write — is
      // confirmed first when the basis is the index's copy. An unchanged resourceVersion
      // means the decision stands; otherwise it is made again on the fresh read.
      const onCopy = first !== undefined && !first.fresh;
      // Deleting baton's slice is such a write too: a copy that lags a move back to direct
      // mode must not take the slice away.
      const confirm = onCopy && (needsConfirmation(decision.plan) || (decision.slices !== undefined && sliceUnwanted(service, keys)));
      if (confirm) {
        const fresh = await read();
        if (fresh === undefined) return gone;
        if (fresh.resourceVersion !== service.resourceVersion) {
          if (!concerned(fresh)) return notOptedIn;
          service = fresh;
          decision = await decideOn(deps, service);
        }
      }
      const { plan, podProblems, now, pods, slices } = decision;
      // Warning Events go on a Service known to exist at this version: a read made for
      // this look, or (for a switch on the index's copy) the guarded write that just
      // succeeded on it.
      const reportProblems = (): void => {
        if (podProblems.length > 0) deps.reporter.podProblems(service, podProblems);
      };
      const readForThisLook = !onCopy || confirm;
      if (readForThisLook) reportProblems();
      try {
        // Leaving direct mode: baton's slice goes before the record does, so that no
        // slice of baton's outlives the record that says it exists.
        if (slices !== undefined && sliceUnwanted(service, keys)) await removeOwnSlices(deps, service, slices);
        const acted = await act(deps, service, plan, now, pods);
        if (!readForThisLook) reportProblems();
        // Direct mode: the slice follows the record as this look left it, whatever the plan,
        // except a bad configuration (which changes nothing).
        try {
          if (slices !== undefined && plan.kind !== 'invalid-config' && directInForce(acted.service, keys)) {
            const done = await syncSlice(deps, acted.service, pods, slices);
            return { ...acted.result, detail: `${acted.result.detail}; ${done}` };
          }
          return acted.result;
        } finally {
          // A switch's evidence, held back until its slice was written (or failed to be).
          acted.evidence?.();
        }
      } catch (error) {
        // The Service was deleted between the read and the write: a handled outcome.
        // (A vanished prerequisite pod arrives here as a ConflictError, not as this.)
        if (error instanceof NotFoundError) return gone;
        throw error;
      }
    },
  );
}

/**
 * Anything but a switch without prerequisites writes more than the guarded Service write;
 * a demote call is not guarded by any precondition either.
 */
function needsConfirmation(plan: Plan): boolean {
  return plan.kind !== 'switch' || plan.prerequisites.length > 0 || plan.demote !== undefined;
}

interface Decided extends Decision {
  readonly now: number;
  readonly pods: readonly PodView[];
  /** The Service's slices, listed beside the pods when direct mode concerns it (direct.ts). */
  readonly slices: ReadonlyArray<Observed<ObservedSlice>> | undefined;
}

/** One decision on the Service as given: its pods (and in direct mode its slices) listed, its leader read, decide() run. */
async function decideOn(deps: ReconcileDeps, service: ServiceView): Promise<Decided> {
  const { cluster, keys } = deps;
  const [pods, slices] = await Promise.all([podsFor(deps, service), slicesConcern(service, keys) ? cluster.listSlices(service.namespace, service.name) : undefined]);
  const now = deps.now();
  const others = activeElsewhere(deps, service);
  const leader = await leaderOf(deps, service);
  const roleLabels = deps.roleLabels ?? false;
  const termFloor = slices === undefined ? undefined : sliceTerm(slices, service, keys);
  const cordoned = deps.cordoned?.() ?? new Set<string>();
  const decision = decide({ service, pods, keys, now, roleLabels, activeElsewhere: others, leader, cordoned, ...(termFloor !== undefined ? { termFloor } : {}) });
  const requested = decision.plan.kind === 'refuse-switchover' ? decision.plan.requested : undefined;
  if (requested !== undefined && !pods.some((p) => p.name === requested)) {
    // Only the selected pods were listed; a requested pod outside the selector exists
    // or not, and the refusal should say which. Looked up only on this rare path.
    const stranger = await cluster.findPod(service.namespace, requested);
    if (stranger) return { ...decide({ service, pods: [...pods, stranger], keys, now, roleLabels, activeElsewhere: others, leader, cordoned }), now, pods, slices };
  }
  return { ...decision, now, pods, slices };
}
