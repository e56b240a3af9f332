// The imperative shell around decide(): read the truth, decide, write with a
// resourceVersion precondition, and on 409 read again and decide again. Evidence
// (audit events, Kubernetes Events, role labels) follows a write and never blocks it.
import type { Cluster } from './cluster.js';
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import { retryOnConflict } from '../../shared/k8s/retry.js';
import type { Logger } from '../../shared/log.js';
import { decide, type Decision } from './core/decide.js';
import { batonAnnotationKeys, labelsStillNeeded } from './core/release.js';
import { isServiceName, ownsRecord, userSelector } from './core/settings.js';
import { type Observed, type Plan, type PodLabelWrite, type PodView, type ServiceView } from './core/model.js';
import { MODE_VALUE, type Keys } from '../../shared/keys.js';
import type { ServiceRef } from '../../shared/k8s/views.js';
import { readRecord } from '../../shared/record.js';
import { report, termMark, type Reporter } from './report.js';
import { labelPods, patchService, type WriteObserver } from './writes.js';
import { fence } from './fence.js';

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
      const confirm = onCopy && needsConfirmation(decision.plan);
      if (confirm) {
        const fresh = await read();
        if (fresh === undefined) return gone;
        if (fresh.resourceVersion !== service.resourceVersion) {
          if (!concerned(fresh)) return notOptedIn;
          service = fresh;
          decision = await decideOn(deps, service);
        }
      }
      const { plan, podProblems, now, pods } = decision;
      // Warning Events go on a Service known to exist at this version: a read made for
      // this look, or (for a switch on the index's copy) the guarded write that just
      // succeeded on it.
      const reportProblems = (): void => {
        if (podProblems.length > 0) deps.reporter.podProblems(service, podProblems);
      };
      const readForThisLook = !onCopy || confirm;
      if (readForThisLook) reportProblems();
      try {
        const result = await act(deps, service, plan, now, pods);
        if (!readForThisLook) reportProblems();
        return result;
      } catch (error) {
        // The Service was deleted between the read and the write: a handled outcome.
        // (A vanished prerequisite pod arrives here as a ConflictError, not as this.)
        if (error instanceof NotFoundError) return gone;
        throw error;
      }
    },
  );
}

/** Anything but a switch without prerequisites writes more than the guarded Service write. */
function needsConfirmation(plan: Plan): boolean {
  return plan.kind !== 'switch' || plan.prerequisites.length > 0;
}

/** One decision on the Service as given: its pods listed, its leader read, decide() run. */
async function decideOn(deps: ReconcileDeps, service: ServiceView): Promise<Decision & { readonly now: number; readonly pods: readonly PodView[] }> {
  const { cluster, keys } = deps;
  const pods = await podsFor(deps, service);
  const now = deps.now();
  const others = activeElsewhere(deps, service);
  const leader = await leaderOf(deps, service);
  const roleLabels = deps.roleLabels ?? false;
  const decision = decide({ service, pods, keys, now, roleLabels, activeElsewhere: others, leader });
  const requested = decision.plan.kind === 'refuse-switchover' ? decision.plan.requested : undefined;
  if (requested !== undefined && !pods.some((p) => p.name === requested)) {
    // Only the selected pods were listed; a requested pod outside the selector exists
    // or not, and the refusal should say which. Looked up only on this rare path.
    const stranger = await cluster.findPod(service.namespace, requested);
    if (stranger) return { ...decide({ service, pods: [...pods, stranger], keys, now, roleLabels, activeElsewhere: others, leader }), now, pods };
  }
  return { ...decision, now, pods };
}

async function act(deps: ReconcileDeps, service: Observed<ServiceView>, plan: Plan, now: number, pods: readonly PodView[]): Promise<Result> {
  const { cluster } = deps;
  switch (plan.kind) {
    case 'ignore':
      return { outcome: 'ignored', detail: plan.why };
    case 'invalid-config':
      deps.reporter.invalidConfig(service, plan.problems);
      return { outcome: 'invalid', detail: plan.problems.map((p) => `${p.key}: ${p.message}`).join('; ') };
    case 'steady': {
      const basis = plan.record ? await patchService(deps, service, plan.record) : service;
      labelPods(deps, basis, plan.podWrites);
      // A fence left pending (its instance stopped after the completion) is finished here.
      void fence(deps, basis, plan.record !== undefined).catch((error: unknown) => deps.logger.warn({ service: `${service.namespace}/${service.name}`, error: String(error) }, 'fencing failed; a later look tries again'));
      return { outcome: 'steady', detail: plan.record ? `${plan.why}; baton's record completed` : plan.why };
    }
    case 'hold':
      return { outcome: 'held', detail: plan.why, retryAfterMs: plan.retryAfterMs };
    case 'switch': {
      // The version each prerequisite write left its pod at: the guard of its role label.
      const relabelled = new Map<string, string | undefined>();
      for (const write of plan.prerequisites) {
        try {
          relabelled.set(write.pod, (await cluster.patchPodLabels(service.namespace, write.pod, write.labels)).resourceVersion);
        } catch (error) {
          // The chosen pod vanished between the list and now: decide again.
          if (error instanceof NotFoundError) throw new ConflictError(error.message, 404);
          throw error;
        }
      }
      const written = await patchService(deps, service, plan.service);
      report(deps.reporter.switched(written, plan, now));
      deps.onSwitch?.(written, plan, pods, now);
      // The term this switch ends was never seen completed, so its own event may have
      // been lost with a reply; the Service as read still records it: replay it.
      const ended = plan.term - 1;
      if (ended >= 1 && readRecord(service, deps.keys).completedTerm !== ended) report(deps.reporter.replayTransition(service, ended));
      // A pod labelled just above has moved past the version the plan read; that change
      // is our own, so its role label is guarded by the version our write left it at.
      labelPods(
        deps,
        written,
        plan.podWrites.map((w) => {
          if (!relabelled.has(w.pod)) return w;
          const after = relabelled.get(w.pod);
          return after ? { pod: w.pod, labels: w.labels, resourceVersion: after } : { pod: w.pod, labels: w.labels };
        }),
      );
      return { outcome: 'switched', detail: `${plan.reason}: ${plan.from?.name ?? '(none)'} -> ${plan.to.name} (term ${plan.term})` };
    }
    case 'unavailable': {
      const written = plan.service ? await patchService(deps, service, plan.service) : undefined;
      if (written) report(deps.reporter.unavailable(written, plan, pods.length));
      // A claimed pod is kept out of elections until its eviction is done: finish it here too.
      void fence(deps, written ?? service, written !== undefined).catch((error: unknown) => deps.logger.warn({ service: `${service.namespace}/${service.name}`, error: String(error) }, 'fencing failed; a later look tries again'));
      return { outcome: 'unavailable', detail: `no healthy candidate; keeping ${plan.active ?? '(none)'}` };
    }
    case 'refuse-switchover': {
      const written = await patchService(deps, service, plan.service);
      report(deps.reporter.refused(written, plan));
      return { outcome: 'refused', detail: plan.why };
    }
    case 'release': {
      const written = await patchService(deps, service, plan.service);
      report(deps.reporter.released(written, plan, termMark(service, deps.keys)));
      await unlabelReleased(deps, written, plan.podWrites, pods);
      return { outcome: 'released', detail: 'original selector restored' };
    }
  }
}

/**
 * After a release: baton's labels come off the released Service's pods, except where
 * another Service still needs them (a fresh list of the namespace's Services says so),
 * each write guarded by the version the pod was read at.
 */
async function unlabelReleased(deps: ReconcileDeps, released: ServiceView, writes: readonly PodLabelWrite[], pods: readonly PodView[]): Promise<void> {
  if (writes.length === 0) return;
  const services = await deps.cluster.listServices('', released.namespace);
  const keep = new Set(pods.filter((p) => labelsStillNeeded(p, services, deps.keys, released)).map((p) => p.name));
  labelPods(deps, released, writes.filter((w) => !keep.has(w.pod)));
}
