// "completed": the EndpointSlices show the decided pod as the only ready endpoint.
// Reported once per term, recorded on the Service with a precondition so that many
// instances seeing the same slice update produce one report.
import type { Cluster } from './cluster.js';
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import type { SliceView } from './views.js';
import type { Observed, ServiceView } from './core/model.js';
import type { Keys } from '../../shared/keys.js';
import { readRecord } from '../../shared/record.js';
import { retryOnConflict, stale } from '../../shared/k8s/retry.js';
import { patchService, type WriteObserver } from './writes.js';
import { fence } from './fence.js';
import type { ServiceRef } from '../../shared/k8s/views.js';
import type { Completion, Reporter } from './report.js';
import { isDirect } from './core/direct.js';

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
  // Selector mode routes by the pod-id in the selector; direct mode by the record, which
  // its slice follows.
  const activeUid = isDirect(service, keys) ? record.activeUid : service.selector[keys.podId];
  if (!activeUid || decidedAt === undefined) return undefined;
  const ready = slices.flatMap((s) => s.endpoints.filter((e) => e.ready));
  if (readyPods(slices).size !== 1 || ready[0]?.podUid !== activeUid) return undefined;
  return { term, active: { name: record.activePod ?? ready[0].podName ?? '', uid: activeUid }, decidedAt, observedAt: now };
}

/**
 * Writes the completion mark, guarded by the Service's resourceVersion, and reports it.
 * A record only: it decided nothing about the rest of the Service as read.
 */
export async function recordCompletion(
  deps: { cluster: Cluster; keys: Keys; reporter: Reporter; ownWrites: WriteObserver },
  service: Observed<ServiceView>,
  completion: Completion,
): Promise<Observed<ServiceView>> {
  const written = await patchService(deps, service, { selector: service.selector, annotations: { [deps.keys.completedTerm]: String(completion.term) } }, false);
  void deps.reporter.replayTransition(written, completion.term).catch(() => undefined);
  void deps.reporter.completed(written, completion).catch(() => undefined);
  // The new active routes alone: the pod the switch left may be fenced now. A
  // failure leaves the mark, and a later look finishes it.
  void fence(deps, written, true).catch(() => undefined);
  return written;
}

/** What a completion check found; `detail` says why when it is not `completed`. */
export interface CompletionResult {
  readonly outcome: 'completed' | 'not-yet' | 'gone';
  readonly detail: string;
}

/**
 * Records the current term as completed when the slices show its pod alone. At most two
 * attempts: the first may start from `basis`, the Service as this instance's own last
 * write left it (in place of a GET); when that copy turns out stale (its record write
 * gets 409, or it cannot explain what the slices show), one more attempt on a fresh
 * read. A 409 on a fresh read means another instance recorded it, or a newer decision
 * superseded this term: not-yet, and the newer version brings its own event.
 */
export async function checkCompletion(
  deps: { cluster: Cluster; keys: Keys; reporter: Reporter; now: () => number; ownWrites: WriteObserver },
  ref: ServiceRef,
  basis?: Observed<ServiceView>,
): Promise<CompletionResult> {
  const notYet = (detail: string): CompletionResult => ({ outcome: 'not-yet', detail });
  const gone: CompletionResult = { outcome: 'gone', detail: `service ${ref.namespace}/${ref.name} no longer exists` };
  const result = await retryOnConflict<CompletionResult>(
    // The second attempt follows a stale copy of our own, not a race between equals:
    // there is nobody to spread out from, so it reads again at once.
    { attempts: basis ? 2 : 1, what: 'service', pauseMs: 0 },
    async (attempt) => {
      const own = attempt === 1 ? basis : undefined;
      let service: Observed<ServiceView>;
      if (own) service = own;
      else {
        try {
          service = await deps.cluster.getService(ref.namespace, ref.name);
        } catch (error) {
          if (error instanceof NotFoundError) return gone;
          throw error;
        }
      }
      const record = readRecord(service, deps.keys);
      if (!record.optedIn || record.term === undefined || record.completed) {
        return own ? stale('our copy has no term left to complete') : notYet('no term left to complete');
      }
      const slices = await deps.cluster.listEndpointSlices(ref.namespace, ref.name);
      const completion = completionDue(service, slices, deps.keys, deps.now());
      if (!completion) {
        // With 0 or several ready pods no version of the Service is complete. One ready pod
        // that our copy does not name may be a newer decision's: look at the real Service.
        if (own && readyPods(slices).size === 1) return stale('one ready pod that our copy does not name');
        return notYet('the slices do not show the term\'s pod alone');
      }
      try {
        await recordCompletion(deps, service, completion);
        return { outcome: 'completed', detail: `term ${completion.term}` };
      } catch (error) {
        // Our own copy was overtaken: decide on a fresh read instead.
        if (error instanceof ConflictError && own) return stale(error.message);
        // Someone else recorded it, or a newer decision superseded this term.
        if (error instanceof ConflictError) return notYet('the Service moved on since it was read');
        // Deleted between the read and the write.
        if (error instanceof NotFoundError) return gone;
        throw error;
      }
    },
  );
  // Cannot happen with the attempts above (only the copy of our own is ever stale), but a
  // check that gave up has recorded nothing.
  return result.outcome === 'conflicted' ? notYet(result.detail) : result;
}
