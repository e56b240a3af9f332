// Carries out fencing (core/fence.ts says when): claims each pod on the mark with a
// guarded write, evicts it through the Eviction API so that a PodDisruptionBudget still
// has the last word, then takes it off the mark with a guarded write. The mark is part of baton's record, so any
// look that finds a completed term still carrying it finishes the job: the completion
// itself, a later event, or the sweep. Only the instance whose write takes a pod off the
// mark reports what happened to that pod.
// The mark is a request, not a fact: each claim rests on a read of the namespace's
// Services made just before it, and spares a pod any of them routes to.
import type { Cluster } from './cluster.js';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError, TransientError } from '../../shared/k8s/errors.js';
import { retryOnConflict, stale } from '../../shared/k8s/retry.js';
import type { Keys } from '../../shared/keys.js';
import { evictionCheck, fenceStep, type FenceStep } from './core/fence.js';
import type { Observed, PodView, ServiceView } from './core/model.js';
import { fenceMark, pendingFence, readRecord } from '../../shared/record.js';
import { userSelector } from './core/settings.js';
import { report, type FenceReport, type Reporter } from './report.js';
import { patchService, type WriteObserver } from './writes.js';

export interface FenceDeps {
  readonly cluster: Cluster;
  readonly keys: Keys;
  readonly reporter: Reporter;
  readonly ownWrites: WriteObserver;
}

export type Fenced = FenceReport;

/**
 * Fences if the record asks for it. `justWritten`: the Service as a guarded write of this
 * instance just left it; any other copy (a read, the index) is read again first, so that
 * an eviction never rests on a record older than a moment. Resolves to what happened to
 * each pod tried; throws the first failure that leaves a pod on the mark for a later look.
 */
export async function fence(deps: FenceDeps, copy: Observed<ServiceView>, justWritten = false): Promise<readonly Fenced[] | undefined> {
  if (fenceStep(copy, deps.keys).kind === 'none') return undefined;
  let service = copy;
  if (!justWritten) {
    try {
      service = await deps.cluster.getService(copy.namespace, copy.name);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
  const step = fenceStep(service, deps.keys);
  if (step.kind === 'none') return undefined;
  if (step.kind === 'clear') {
    await takeOff(deps, service, 'all');
    return undefined;
  }
  const tried = await evictAll(deps, service, step);
  const taken = await takeOff(deps, tried.latest ?? service, [...step.drop, ...tried.handled]);
  for (const result of tried.results) {
    if (taken && taken.removed.includes(result.pod.uid)) report(deps.reporter.fenced(taken.service, result));
  }
  if (tried.failure !== undefined) throw tried.failure;
  return tried.results;
}

function annotationOf(service: ServiceView, keys: Keys): string | undefined {
  return Object.hasOwn(service.annotations, keys.fencePending) ? service.annotations[keys.fencePending] : undefined;
}

interface Tried {
  /** Pods done with: evicted, refused, gone, or spared because a Service routes to them. */
  readonly handled: string[];
  readonly results: Fenced[];
  readonly failure: Error | undefined;
  /** The Service as this instance's last claim left it, to take pods off the mark from. */
  readonly latest: Observed<ServiceView> | undefined;
}

async function evictAll(deps: FenceDeps, service: ServiceView, step: Extract<FenceStep, { kind: 'evict' }>): Promise<Tried> {
  const selector = userSelector(service, deps.keys);
  const pods = selector.ok ? await deps.cluster.listPods(service.namespace, selector.selector) : [];
  const tried: Tried = { handled: [], results: [], failure: undefined, latest: undefined };
  let failure: Error | undefined;
  const claims: { latest?: Observed<ServiceView> } = {};
  const work = [...step.resume.map((uid) => ({ uid, claimed: true })), ...step.claim.map((uid) => ({ uid, claimed: false }))];
  for (const { uid, claimed } of work) {
    try {
      const outcome = await evictOne(deps, service, pods.find((p) => p.uid === uid), { uid, claimed, term: step.term }, claims);
      // The record changed since it was read: the newer record decides, on a later look.
      if (outcome === 'moved') continue;
      tried.handled.push(uid);
      if (outcome !== 'spared') tried.results.push(outcome);
    } catch (error) {
      // Left on the mark; the others are still tried.
      failure ??= error instanceof Error ? error : new Error(String(error));
    }
  }
  return { ...tried, failure, latest: claims.latest };
}

async function evictOne(
  deps: FenceDeps,
  service: ServiceView,
  pod: PodView | undefined,
  entry: { uid: string; claimed: boolean; term: number },
  claims: { latest?: Observed<ServiceView> },
): Promise<Fenced | 'spared' | 'moved'> {
  const { uid, term } = entry;
  const ref = { name: pod?.name ?? '(unknown)', uid };
  if (pod === undefined) return { term, pod: ref, outcome: 'gone', detail: 'no pod the Service selects has this uid any more' };
  if (pod.deleting) return { term, pod: ref, outcome: 'gone', detail: 'the pod is already being deleted' };
  // Read for each pod, just before its claim and eviction.
  const check = evictionCheck(service, uid, entry.claimed, await deps.cluster.listServices('', service.namespace), deps.keys);
  if (check.verdict !== 'evict') return check.verdict;
  if (!entry.claimed) {
    const claimed = await claim(deps, check.fresh, uid);
    if (claimed === undefined) return 'moved';
    claims.latest = claimed;
  }
  try {
    await deps.cluster.evictPod(service.namespace, pod.name, pod.uid);
    return { term, pod: ref, outcome: 'evicted', detail: 'evicted; it ends its connections as it shuts down' };
  } catch (error) {
    // 429: a PodDisruptionBudget forbids it now. Not retried: the pod keeps running as
    // a standby and its connections stay, which the report says.
    if (error instanceof TransientError && error.status === 429) return { term, pod: ref, outcome: 'refused', detail: error.message };
    // Gone, or replaced under the same name (the uid precondition failed).
    if (error instanceof NotFoundError || error instanceof ConflictError) return { term, pod: ref, outcome: 'gone', detail: error.message };
    // Refused for good (RBAC without pods/eviction, an admission webhook's denial): the
    // same answer on every look, so it is reported once and not tried again.
    if (error instanceof ForbiddenError || error instanceof InvalidError) return { term, pod: ref, outcome: 'refused', detail: error.message };
    // Anything else leaves the pod on the mark, and a later look tries again.
    throw error;
  }
}

/**
 * Marks the pod claimed with a write guarded by the version the check read: no election
 * of this Service can choose it from then on, and one decided before fails on its
 * precondition. Undefined when the Service changed since (the newer record decides).
 */
async function claim(deps: FenceDeps, fresh: ServiceView, uid: string): Promise<Observed<ServiceView> | undefined> {
  const pending = pendingFence(fresh, deps.keys);
  try {
    return await patchService(deps, fresh, { selector: fresh.selector, annotations: { [deps.keys.fencePending]: fenceMark(pending.uids, [...pending.claimed, uid]) } }, false);
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return undefined;
    throw error;
  }
}

interface TakenOff {
  readonly service: Observed<ServiceView>;
  /** The pods this very write took off the mark. */
  readonly removed: readonly string[];
}

/**
 * Takes `uids` off the mark (`all`: removes it, if it still reads as `start` has it), with
 * a guarded write; undefined when there was nothing of it left to take off.
 */
async function takeOff(deps: FenceDeps, start: Observed<ServiceView>, uids: readonly string[] | 'all'): Promise<TakenOff | undefined> {
  const result = await retryOnConflict({ attempts: 3, what: 'service' }, async (attempt) => {
    let service = start;
    if (attempt > 1) {
      try {
        service = await deps.cluster.getService(start.namespace, start.name);
      } catch (error) {
        if (error instanceof NotFoundError) return { outcome: 'done' as const, taken: undefined };
        throw error;
      }
    }
    const mark = annotationOf(service, deps.keys);
    if (mark === undefined) return { outcome: 'done' as const, taken: undefined };
    const current = readRecord(service, deps.keys).fencePending;
    const claimed = readRecord(service, deps.keys).fenceClaimed;
    let removed: readonly string[];
    let rest: string | null;
    if (uids === 'all') {
      if (mark !== annotationOf(start, deps.keys)) return { outcome: 'done' as const, taken: undefined };
      removed = current;
      rest = null;
    } else {
      removed = current.filter((uid) => uids.includes(uid));
      if (removed.length === 0) return { outcome: 'done' as const, taken: undefined };
      rest = fenceMark(current.filter((uid) => !uids.includes(uid)), claimed);
    }
    try {
      const written = await patchService(deps, service, { selector: service.selector, annotations: { [deps.keys.fencePending]: rest } }, false);
      return { outcome: 'done' as const, taken: { service: written, removed } };
    } catch (error) {
      if (error instanceof ConflictError) return stale(error.message);
      if (error instanceof NotFoundError) return { outcome: 'done' as const, taken: undefined };
      throw error;
    }
  });
  return result.outcome === 'done' ? result.taken : undefined;
}
