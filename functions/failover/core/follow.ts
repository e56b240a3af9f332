// A Service that follows another (`<prefix>/follow`) routes to the active its leader
// chose instead of electing one.
import type { Plan } from './model.js';
import type { TransitionReason } from '../../../shared/audit/schemas.js';
import { MODE_VALUE } from '../../../shared/keys.js';
import { impostorWrites } from './pod-labels.js';
import { type Context, NO_POD, placeholderWrite, recordRepair, switchTo } from './plans.js';
import { annotation } from './settings.js';
import { readRecord } from '../../../shared/record.js';
import { isDirect } from './direct.js';

/**
 * A follower routes to whatever its leader routes to: it never elects, so the two can
 * name different pods only until the follower's next look, never by a decision. The
 * leader's health judgement is the only one; the follower copies its reason.
 */
export function follow(ctx: Context, leaderName: string): Plan {
  const { keys, leader } = ctx;
  const invalid = (message: string): Plan => ({ kind: 'invalid-config', problems: [{ key: keys.follow, value: leaderName, message }] });
  if (leader === undefined) return invalid(`no Service named ${leaderName} in namespace ${ctx.service.namespace}`);
  if (annotation(leader.labels, keys.mode) !== MODE_VALUE) return invalid(`${leaderName} is not labelled ${keys.mode}=${MODE_VALUE}`);
  if (annotation(leader.annotations, keys.follow) !== undefined) return invalid(`${leaderName} follows another Service itself; follow the Service that elects`);
  // A leader in direct mode routes to the pod its record names; one in selector mode, to its selector's.
  const pinned = isDirect(leader, keys) ? readRecord(leader, keys).activeUid : annotation(leader.selector, keys.podId);
  if (pinned === undefined || pinned === NO_POD) return leaderUndecided(ctx, leaderName);
  const target = ctx.candidates.find((pod) => pod.uid === pinned);
  if (target === undefined) {
    const name = annotation(leader.annotations, keys.activePod) ?? pinned;
    return invalid(`the active of ${leaderName} (${name}) is not one of the pods this Service selects`);
  }
  if (ctx.pinned && ctx.active?.uid === target.uid) {
    return {
      kind: 'steady',
      active: target.name,
      why: `${target.name} is the active of ${leaderName}`,
      record: recordRepair(ctx),
      podWrites: impostorWrites(ctx.candidates, keys),
    };
  }
  const recorded = readRecord(leader, keys).reason;
  const reason: TransitionReason = recorded === undefined ? 'initial' : recorded;
  return switchTo(ctx, target, reason);
}

/**
 * The leader has chosen nothing yet. A follower that routes to every pod is pinned to
 * nothing, as the leader is. One already pinned to a pod keeps it until the leader
 * chooses: taking a pinned Service back to the placeholder is what the admission
 * policy refuses, and one pod is still at most one.
 */
function leaderUndecided(ctx: Context, leaderName: string): Plan {
  const own = ctx.direct ? readRecord(ctx.service, ctx.keys).activeUid : annotation(ctx.service.selector, ctx.keys.podId);
  if (own !== undefined) {
    return { kind: 'steady', active: ctx.active?.name, why: `${leaderName} has no active yet; keeping what this Service routes to until it chooses`, record: recordRepair(ctx), podWrites: [] };
  }
  return { kind: 'unavailable', active: ctx.previous?.name, term: ctx.term, service: placeholderWrite(ctx) };
}
