import type { PodView, ServiceView } from './model.js';

// Refusal messages name the pod so the event explains itself without a lookup.

export function missingTargetReason(
  requested: string,
  service: ServiceView,
  namespacePods: readonly PodView[],
): string {
  return namespacePods.some((pod) => pod.name === requested)
    ? `pod "${requested}" does not match the selector of Service ${service.name}`
    : `no pod named "${requested}" in namespace ${service.namespace}`;
}

/** Why the target cannot take traffic, or undefined when it can. */
export function unfitTargetReason(target: PodView): string | undefined {
  if (target.deleting) return `pod "${target.name}" is being deleted`;
  if (target.phase !== 'Running') return `pod "${target.name}" is ${target.phase}, not Running`;
  if (!target.ready) return `pod "${target.name}" is not ready`;
  return undefined;
}
