// baton's labels on a pod that no opted-in Service selects: left over when a label
// write landed after an opt-out had already cleaned up (the write was decided before
// the opt-out). Removed level-triggered, when the pod's own event comes in, so that
// "opting out removes what baton added" holds whatever the order of the writes.
import type { Cluster } from '../k8s/cluster.js';
import { ConflictError, NotFoundError } from '../k8s/errors.js';
import type { Keys, PodView } from './model.js';

/**
 * Call only after a fresh list found no opted-in Service selecting the pod. Any
 * Service whose selector still names the pod's id (one being released right now, say)
 * keeps the label: removing it first would cut that Service's traffic.
 */
export async function removeLeftoverLabels(cluster: Pick<Cluster, 'listServices' | 'patchPodLabels'>, pod: PodView, keys: Keys): Promise<string> {
  const id = pod.labels[keys.podId];
  if (id !== undefined && (await cluster.listServices('', pod.namespace)).some((s) => s.selector[keys.podId] === id)) {
    return 'a Service selector still names this pod; its labels stay';
  }
  if (pod.resourceVersion === undefined) return 'no resourceVersion to guard the write; left alone';
  try {
    // Guarded: a pod that changed since this event was read is looked at again on its next event.
    await cluster.patchPodLabels(pod.namespace, pod.name, { [keys.podId]: null, [keys.role]: null }, pod.resourceVersion);
    return 'removed baton labels left over from an opt-out';
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return 'pod changed or gone; left alone';
    throw error;
  }
}
