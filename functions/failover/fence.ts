// Carries out fencing (core/fence.ts says when): evicts the pod the last switch left,
// through the Eviction API so that a PodDisruptionBudget still has the last word, then
// removes the mark with a guarded write. The mark is part of baton's record, so any look
// that finds a completed term still carrying it finishes the job: the completion itself,
// a later event, or the sweep. Only the instance whose write removes the mark reports.
// The mark is a request, not a fact: the eviction rests on a read of the namespace's
// Services made just before it, and spares a pod any of them routes to.
import type { Cluster } from './cluster.js';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError, TransientError } from '../../shared/k8s/errors.js';
import { retryOnConflict, stale } from '../../shared/k8s/retry.js';
import type { Keys } from '../../shared/keys.js';
import { evictionCheck, fenceStep } from './core/fence.js';
import type { Observed, ServiceView } from './core/model.js';
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
 * an eviction never rests on a record older than a moment.
 */
export async function fence(deps: FenceDeps, copy: Observed<ServiceView>, justWritten = false): Promise<Fenced | undefined> {
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
  const outcome = step.kind === 'evict' ? await evict(deps, service, step.uid, step.term) : undefined;
  // The record changed since it was read: the newer record decides, on a later look.
  if (outcome === 'moved') return undefined;
  const result = outcome === 'spared' ? undefined : outcome;
  const cleared = await clearMark(deps, service, annotationOf(service, deps.keys));
  if (cleared && result) report(deps.reporter.fenced(cleared, result));
  return result;
}

function annotationOf(service: ServiceView, keys: Keys): string | undefined {
  return Object.hasOwn(service.annotations, keys.fencePending) ? service.annotations[keys.fencePending] : undefined;
}

async function evict(deps: FenceDeps, service: ServiceView, uid: string, term: number): Promise<Fenced | 'spared' | 'moved'> {
  const selector = userSelector(service, deps.keys);
  const pods = selector.ok ? await deps.cluster.listPods(service.namespace, selector.selector) : [];
  const pod = pods.find((p) => p.uid === uid);
  const ref = { name: pod?.name ?? '(unknown)', uid };
  if (pod === undefined) return { term, pod: ref, outcome: 'gone', detail: 'no pod the Service selects has this uid any more' };
  if (pod.deleting) return { term, pod: ref, outcome: 'gone', detail: 'the pod is already being deleted' };
  // Last, so that as little as one request separates this read from the eviction.
  const check = evictionCheck(service, uid, await deps.cluster.listServices('', service.namespace), deps.keys);
  if (check !== 'evict') return check;
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
    // Anything else leaves the mark in place, and a later look tries again.
    throw error;
  }
}

/** Removes the mark if it still reads `mark`; the Service as this write left it, or undefined when someone else did. */
async function clearMark(deps: FenceDeps, start: Observed<ServiceView>, mark: string | undefined): Promise<Observed<ServiceView> | undefined> {
  const result = await retryOnConflict({ attempts: 3, what: 'service' }, async (attempt) => {
    let service = start;
    if (attempt > 1) {
      try {
        service = await deps.cluster.getService(start.namespace, start.name);
      } catch (error) {
        if (error instanceof NotFoundError) return { outcome: 'done' as const, service: undefined };
        throw error;
      }
    }
    if (annotationOf(service, deps.keys) !== mark || mark === undefined) return { outcome: 'done' as const, service: undefined };
    try {
      const written = await patchService(deps, service, { selector: service.selector, annotations: { [deps.keys.fencePending]: null } }, false);
      return { outcome: 'done' as const, service: written };
    } catch (error) {
      if (error instanceof ConflictError) return stale(error.message);
      if (error instanceof NotFoundError) return { outcome: 'done' as const, service: undefined };
      throw error;
    }
  });
  return result.outcome === 'done' ? result.service : undefined;
}
