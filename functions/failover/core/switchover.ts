import type { Plan, PodView, ServiceView } from './model.js';
import { type Context, switchTo } from './plans.js';
import { pendingFence } from '../../../shared/record.js';
import { onCordonedNode } from './cordon.js';
import { isHealthy } from './health.js';

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

/** A manual request (`<prefix>/switchover-to`) to move the active to a named pod. */
export function switchover(ctx: Context, requested: string): Plan {
  const target = ctx.candidates.find((pod) => pod.name === requested);
  if (target === undefined) {
    return refuseSwitchover(ctx, requested, missingTargetReason(requested, ctx.service, ctx.namespacePods));
  }
  const why =
    unfitTargetReason(target) ??
    (target.uid === ctx.active?.uid ? `pod "${requested}" is already active` : undefined) ??
    (pendingFence(ctx.service, ctx.keys).uids.includes(target.uid) ? `pod "${requested}" is about to be evicted (${ctx.keys.fence})` : undefined) ??
    cordonedTargetReason(ctx, target);
  if (why !== undefined) return refuseSwitchover(ctx, requested, why);
  // A manual request skips min-switch-interval: the operator asked for this move now.
  return switchTo(ctx, target, 'switchover');
}

/**
 * A target on a cordoned Node is refused while a healthy candidate runs on a schedulable
 * one: the next look would move the traffic straight off it again (core/cordon.ts).
 */
function cordonedTargetReason(ctx: Context, target: PodView): string | undefined {
  if (!onCordonedNode(target, ctx.cordoned)) return undefined;
  if (!ctx.candidates.some((p) => isHealthy(p) && !onCordonedNode(p, ctx.cordoned))) return undefined;
  return `pod "${target.name}" runs on cordoned node ${target.nodeName ?? ''}`;
}

// The request is consumed either way, so a stale one cannot fire later by surprise
// when its target happens to become healthy.
function refuseSwitchover(ctx: Context, requested: string, why: string): Plan {
  return {
    kind: 'refuse-switchover',
    requested,
    why,
    service: { selector: ctx.service.selector, annotations: { [ctx.keys.switchoverTo]: null } },
  };
}
