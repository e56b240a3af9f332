// baton's writes, each reported to the own-write tracker (own-writes.ts) as it is sent
// and when its reply is in, so that its echo is recognised and costs no request.
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import type { ServiceRef } from '../../shared/k8s/views.js';
import type { Logger } from '../../shared/log.js';
import type { Cluster } from './cluster.js';
import type { Observed, PodLabelWrite, PodView, ServiceView, ServiceWrite } from './core/model.js';

export type WriteTarget = 'Service' | 'Pod' | 'EndpointSlice';

export interface WriteObserver {
  /**
   * A write to this Service or pod was sent; `done` settles when its reply is in. Its
   * echo can overtake the reply, so the handler waits for `done` before judging it.
   */
  writing(namespace: string, kind: WriteTarget, name: string, done: Promise<unknown>): void;
  /**
   * The Service as a guarded write of baton left it (the reply of the PATCH). `decided`:
   * the write followed a decision on the whole Service as read; false for a write that
   * only records something (completion), which decided nothing about the rest.
   */
  serviceWritten(service: Observed<ServiceView>, decided: boolean): void;
  /** The pod as a label write guarded by the resourceVersion `service`'s reconcile read left it. */
  podLabelled(service: ServiceRef, pod: Observed<PodView>): void;
  /** Direct mode: baton's slice as its write left it (create or guarded replace). */
  sliceWritten(namespace: string, name: string, resourceVersion: string): void;
}

/** For a caller that answers no events (the resync sweep): echoes are nobody's concern. */
export const NO_ECHOES: WriteObserver = { writing: () => undefined, serviceWritten: () => undefined, podLabelled: () => undefined, sliceWritten: () => undefined };

export interface WriteDeps {
  readonly cluster: Cluster;
  readonly logger: Logger;
  readonly ownWrites: WriteObserver;
}

/** The guarded Service write, reported to the observer when it succeeds. */
export async function patchService(deps: Pick<WriteDeps, 'cluster' | 'ownWrites'>, service: ServiceView, write: ServiceWrite, decided = true): Promise<Observed<ServiceView>> {
  const pending = deps.cluster.patchService(service, write);
  deps.ownWrites.writing(service.namespace, 'Service', service.name, pending);
  const written = await pending;
  deps.ownWrites.serviceWritten(written, decided);
  return written;
}

/** Role labels are for humans; failures are logged and the next reconcile repairs them. */
export function labelPods(deps: WriteDeps, service: ServiceView, writes: readonly PodLabelWrite[]): void {
  for (const write of writes) {
    const guard = write.resourceVersion;
    const pending = deps.cluster.patchPodLabels(service.namespace, write.pod, write.labels, guard);
    if (guard !== undefined) deps.ownWrites.writing(service.namespace, 'Pod', write.pod, pending);
    pending.then((after) => {
      // Only a guarded write is known to have changed nothing but the labels.
      if (guard !== undefined && after.resourceVersion !== undefined) deps.ownWrites.podLabelled(service, after);
    }, (error: unknown) => {
      // Gone, or changed since it was read: a newer decision owns its labels now.
      if (error instanceof NotFoundError || error instanceof ConflictError) return;
      deps.logger.warn({ service: `${service.namespace}/${service.name}`, pod: write.pod, err: error instanceof Error ? error.message : String(error) }, 'could not label pod');
    });
  }
}
