// baton's labels on a pod that no opted-in Service selects: left over when a label
// write landed after an opt-out had already cleaned up (the write was decided before
// the opt-out). Removed level-triggered, when the pod's own event comes in, so that
// "opting out removes what baton added" holds whatever the order of the writes.
import type { Cluster } from './cluster.js';
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import type { Keys } from '../../shared/keys.js';
import { labelsStillNeeded } from './core/release.js';

export interface LeftoverResult {
  readonly outcome: 'removed' | 'left' | 'gone';
  readonly detail: string;
}

/**
 * Call when the index knows no opted-in Service for a pod that an event says carries
 * baton's labels. The event is only a hint: the pod and the namespace's Services are
 * read, and the labels come off only if that read shows them and no Service needs them
 * (a Service being released right now, or one the index has not seen yet).
 */
export async function removeLeftoverLabels(cluster: Pick<Cluster, 'findPod' | 'listServices' | 'patchPodLabels'>, namespace: string, name: string, keys: Keys): Promise<LeftoverResult> {
  const left = (detail: string): LeftoverResult => ({ outcome: 'left', detail });
  const pod = await cluster.findPod(namespace, name);
  if (pod === undefined) return { outcome: 'gone', detail: 'pod is gone' };
  if (!Object.hasOwn(pod.labels, keys.podId) && !Object.hasOwn(pod.labels, keys.role)) return left('pod carries no baton labels');
  if (labelsStillNeeded(pod, await cluster.listServices('', namespace), keys)) return left('a Service still selects or names this pod; its labels stay');
  if (pod.resourceVersion === undefined) return left('no resourceVersion to guard the write; left alone');
  try {
    // Guarded: a pod that changed since it was read is looked at again on its next event.
    await cluster.patchPodLabels(namespace, name, { [keys.podId]: null, [keys.role]: null }, pod.resourceVersion);
    return { outcome: 'removed', detail: 'removed baton labels left over from an opt-out' };
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return left('pod changed or gone; left alone');
    throw error;
  }
}
