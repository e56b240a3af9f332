// "completed": the EndpointSlices show the decided pod as the only ready endpoint.
// Reported once per term, recorded on the Service with a precondition so that many
// instances seeing the same slice update produce one report.
import type { Cluster } from './cluster.js';
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import type { SliceView } from './views.js';
import type { Observed, ServiceView } from './core/model.js';
import type { Keys } from '../../shared/keys.js';
import { readRecord } from '../../shared/record.js';
import { isOptedIn, patchService, type ServiceRef, type WriteObserver } from './reconcile.js';
import type { Completion, Reporter } from './report.js';

/**
 * Pods with a ready endpoint. A dual-stack Service has one slice per address family,
 * each listing the same pod: count ready pods, not ready endpoints. An endpoint
 * without a pod counts on its own.
 */
export function readyPods(slices: readonly SliceView[]): Set<string> {
  const ready = slices.flatMap((s) => s.endpoints.filter((e) => e.ready));
  return new Set(ready.map((e, i) => e.podUid ?? `endpoint #${i}`));
}

/** The Service records its current term as completed. */
export function isCompleted(service: ServiceView, keys: Keys): boolean {
  return readRecord(service, keys).completed;
}

export function completionDue(service: ServiceView, slices: readonly SliceView[], keys: Keys, now: number): Completion | undefined {
  const record = readRecord(service, keys);
  const { term, switchedAt: decidedAt } = record;
  if (!record.optedIn || term === undefined || record.completed) return undefined;
  const activeUid = service.selector[keys.podId];
  if (!activeUid || decidedAt === undefined) return undefined;
  const ready = slices.flatMap((s) => s.endpoints.filter((e) => e.ready));
  if (readyPods(slices).size !== 1 || ready[0]?.podUid !== activeUid) return undefined;
  return { term, active: { name: record.activePod ?? ready[0].podName ?? '', uid: activeUid }, decidedAt, observedAt: now };
}

export async function checkCompletion(
  deps: { cluster: Cluster; keys: Keys; reporter: Reporter; now: () => number; observer?: WriteObserver | undefined },
  ref: ServiceRef,
  /**
   * The Service as this instance's own last write left it, in place of a GET. The
   * completion record is guarded by its resourceVersion; if that is stale the write
   * gets 409 and the check is done again on a fresh read.
   */
  basis?: Observed<ServiceView>,
): Promise<'completed' | 'not-yet' | 'gone'> {
  let service: Observed<ServiceView>;
  if (basis) service = basis;
  else {
    try {
      service = await deps.cluster.getService(ref.namespace, ref.name);
    } catch (error) {
      if (error instanceof NotFoundError) return 'gone';
      throw error;
    }
  }
  const term = service.annotations[deps.keys.term];
  if (!isOptedIn(service, deps.keys) || !term || service.annotations[deps.keys.completedTerm] === term) return basis ? checkCompletion(deps, ref) : 'not-yet';
  const slices = await deps.cluster.listEndpointSlices(ref.namespace, ref.name);
  const completion = completionDue(service, slices, deps.keys, deps.now());
  if (!completion) {
    // With 0 or several ready pods no version of the Service is complete. One ready pod
    // that our copy does not name may be a newer decision's: look at the real Service.
    if (basis && readyPods(slices).size === 1) return checkCompletion(deps, ref);
    return 'not-yet';
  }
  try {
    // A record only: it decided nothing about the rest of the Service as read.
    const written = await patchService(deps, service, { selector: service.selector, annotations: { [deps.keys.completedTerm]: String(completion.term) } }, false);
    void deps.reporter.replayTransition(written, completion.term).catch(() => undefined);
    void deps.reporter.completed(written, completion).catch(() => undefined);
    return 'completed';
  } catch (error) {
    // Our own copy was overtaken: decide on a fresh read instead.
    if (error instanceof ConflictError && basis) return checkCompletion(deps, ref);
    // Someone else recorded it, or a newer decision superseded this term.
    if (error instanceof ConflictError) return 'not-yet';
    // Deleted between the read and the write.
    if (error instanceof NotFoundError) return 'gone';
    throw error;
  }
}
