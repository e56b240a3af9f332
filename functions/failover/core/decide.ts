import { best } from './elect.js';
import { isHealthy, matchesSelector } from './health.js';
import { type Labels, type Plan, type PodProblem, type PodView, type ServiceSettings, type ServiceWrite, type ServiceView, type SwitchReason } from './model.js';
import { MODE_VALUE, type Keys } from '../../../shared/keys.js';
import { impostorWrites, roleWrites } from './pod-labels.js';
import { releaseOrIgnore } from './release.js';
import { annotation, ownsRecord, readPriority, readSettings, savedSelector, userSelector } from './settings.js';
import { readRecord } from '../../../shared/record.js';
import { missingTargetReason, unfitTargetReason } from './switchover.js';

export interface DecideInput {
  readonly service: ServiceView;
  /** May include pods of other namespaces or selectors; they are filtered out here. */
  readonly pods: readonly PodView[];
  readonly keys: Keys;
  /** ms since epoch; must be a representable date (it is written as RFC 3339). */
  readonly now: number;
  /**
   * Label candidates `<prefix>/role: active|standby`. Off unless set, as BATON_ROLE_LABELS
   * is: candidates then get only their pod-id label, and a role label left from earlier
   * is removed.
   */
  readonly roleLabels?: boolean;
  /**
   * Pod uids that other opted-in Services in the namespace route to. With role labels on,
   * a pod active for any Service is labelled active, so two Services over the same pods
   * write the same role and never undo each other's label.
   */
  readonly activeElsewhere?: ReadonlySet<string>;
  /**
   * For a Service that follows another (`<prefix>/follow`): that Service as read, or
   * undefined when it does not exist. Ignored for a Service that elects its own active.
   */
  readonly leader?: ServiceView | undefined;
}

export interface Decision {
  readonly plan: Plan;
  readonly podProblems: PodProblem[];
}

interface Context {
  readonly service: ServiceView;
  readonly keys: Keys;
  readonly now: number;
  readonly roleLabels: boolean;
  readonly activeElsewhere: ReadonlySet<string>;
  readonly leader: ServiceView | undefined;
  readonly settings: ServiceSettings;
  readonly selector: Labels;
  readonly namespacePods: readonly PodView[];
  readonly candidates: readonly PodView[];
  readonly term: number;
  /** The candidate the Service records as active, if it is still a candidate. */
  readonly active: PodView | undefined;
  /** The Service selector routes to `active` alone (not just the annotations say so). */
  readonly pinned: boolean;
  /** Some active was recorded, even if it is gone now. */
  readonly recorded: boolean;
  readonly previous: { readonly name: string; readonly uid: string } | undefined;
}

/** The pod-id a Service selects while no pod has been chosen: no pod UID looks like it. */
export const NO_POD = 'none';

export function decide(input: DecideInput): Decision {
  const { service, pods, keys, now } = input;
  if (annotation(service.labels, keys.mode) !== MODE_VALUE) {
    return { plan: releaseOrIgnore(service, pods, keys), podProblems: [] };
  }

  const selector = userSelector(service, keys);
  const settings = readSettings(service, keys);
  const namespacePods = pods.filter((pod) => pod.namespace === service.namespace);
  const candidates = selector.ok
    ? namespacePods.filter((pod) => matchesSelector(pod.labels, selector.selector))
    : [];
  const podProblems = priorityProblems(candidates, keys);

  if (!selector.ok || !settings.ok) {
    const problems = [...(selector.ok ? [] : selector.problems), ...(settings.ok ? [] : settings.problems)];
    return { plan: { kind: 'invalid-config', problems }, podProblems };
  }

  const ctx = context(service, keys, now, settings.settings, selector.selector, namespacePods, candidates, input.roleLabels ?? false, input.activeElsewhere ?? new Set(), input.leader);
  return { plan: plan(ctx), podProblems };
}

function context(
  service: ServiceView,
  keys: Keys,
  now: number,
  settings: ServiceSettings,
  selector: Labels,
  namespacePods: readonly PodView[],
  candidates: readonly PodView[],
  roleLabels: boolean,
  activeElsewhere: ReadonlySet<string>,
  leader: ServiceView | undefined,
): Context {
  // The selector is what actually routes traffic, so it outranks the annotation; the
  // annotation only speaks when the selector lost baton's key (e.g. a manifest re-apply).
  const selected = annotation(service.selector, keys.podId);
  const selectedUid = selected === NO_POD ? undefined : selected;
  const annotatedUid = annotation(service.annotations, keys.activeUid);
  const recordedUid = selectedUid ?? annotatedUid;
  const active = recordedUid === undefined ? undefined : candidates.find((pod) => pod.uid === recordedUid);
  const recordedPod =
    recordedUid === undefined ? undefined : namespacePods.find((pod) => pod.uid === recordedUid);
  const annotatedName = annotation(service.annotations, keys.activePod);

  let previous: Context['previous'];
  if (recordedPod !== undefined) previous = { name: recordedPod.name, uid: recordedPod.uid };
  else if (annotatedName !== undefined && annotatedUid !== undefined) {
    previous = { name: annotatedName, uid: annotatedUid };
  }

  return {
    service,
    keys,
    now,
    roleLabels,
    activeElsewhere,
    leader,
    settings,
    selector,
    namespacePods,
    candidates,
    term: readRecord(service, keys).term ?? 0,
    active,
    pinned: active !== undefined && selectedUid === active.uid,
    recorded: recordedUid !== undefined,
    previous,
  };
}

function plan(ctx: Context): Plan {
  const { settings, active, keys } = ctx;
  if (settings.follow !== undefined) return follow(ctx, settings.follow);
  if (settings.switchoverTo !== undefined) return switchover(ctx, settings.switchoverTo);

  if (active !== undefined && isHealthy(active)) {
    // Annotations name a healthy active but the selector does not route to it alone
    // (its pod-id key was removed), so every matching pod is receiving traffic. Pin
    // the same pod again rather than pick a new one: nothing is wrong with it.
    if (!ctx.pinned) return switchTo(ctx, active, 'initial');

    if (settings.failback) {
      const top = best(ctx.candidates, keys);
      if (top !== undefined && priority(top, keys) > priority(active, keys)) {
        const waitMs = failbackWaitMs(ctx);
        if (waitMs > 0) {
          return {
            kind: 'hold',
            why: `failback from ${active.name} to ${top.name} waits for ${keys.minSwitchInterval}`,
            retryAfterMs: waitMs,
          };
        }
        return switchTo(ctx, top, 'failback');
      }
    }
    return {
      kind: 'steady',
      active: active.name,
      why: settings.failback
        ? `${active.name} is active and healthy, and no healthy pod has a higher priority`
        : `${active.name} is active and healthy`,
      record: recordRepair(ctx),
      podWrites: [...impostorWrites(ctx.candidates, keys), ...roleWrites(ctx.candidates, active.uid, keys, [], ctx.roleLabels, ctx.activeElsewhere)],
    };
  }

  const top = best(ctx.candidates, keys);
  if (top !== undefined) return switchTo(ctx, top, ctx.recorded ? 'failover' : 'initial');

  const reported = readRecord(ctx.service, keys).unavailableTerm === ctx.term;
  // Never adopted yet: the Service still selects every matching pod, and each pod that
  // turns ready before the next event would get traffic. Pin the selector to a pod-id
  // no pod carries, so it routes to nothing rather than everything until one is chosen.
  const pinned = Object.hasOwn(ctx.service.selector, keys.podId);
  if (reported && pinned) return { kind: 'unavailable', active: ctx.previous?.name, term: ctx.term, service: undefined };
  return {
    kind: 'unavailable',
    active: ctx.previous?.name,
    term: ctx.term,
    service: pinned
      ? { selector: ctx.service.selector, annotations: { [keys.unavailableTerm]: String(ctx.term), [keys.recordOf]: ctx.service.uid } }
      : {
          selector: sortedLabels({ ...ctx.selector, [keys.podId]: NO_POD }),
          annotations: {
            [keys.unavailableTerm]: String(ctx.term),
            [keys.originalSelector]: JSON.stringify(sortedLabels(ctx.selector)),
            [keys.recordOf]: ctx.service.uid,
          },
        },
  };
}

/**
 * A follower routes to whatever its leader routes to: it never elects, so the two can
 * name different pods only until the follower's next look, never by a decision. The
 * leader's health judgement is the only one; the follower copies its reason.
 */
function follow(ctx: Context, leaderName: string): Plan {
  const { keys, leader } = ctx;
  const invalid = (message: string): Plan => ({ kind: 'invalid-config', problems: [{ key: keys.follow, value: leaderName, message }] });
  if (leader === undefined) return invalid(`no Service named ${leaderName} in namespace ${ctx.service.namespace}`);
  if (annotation(leader.labels, keys.mode) !== MODE_VALUE) return invalid(`${leaderName} is not labelled ${keys.mode}=${MODE_VALUE}`);
  if (annotation(leader.annotations, keys.follow) !== undefined) return invalid(`${leaderName} follows another Service itself; follow the Service that elects`);
  const pinned = annotation(leader.selector, keys.podId);
  if (pinned === undefined || pinned === NO_POD) {
    // The leader has chosen nothing yet. A follower that routes to every pod is pinned to
    // nothing, as the leader is. One already pinned to a pod keeps it until the leader
    // chooses: taking a pinned Service back to the placeholder is what the admission
    // policy refuses, and one pod is still at most one.
    const own = annotation(ctx.service.selector, keys.podId);
    if (own !== undefined) {
      return { kind: 'steady', active: ctx.active?.name, why: `${leaderName} has no active yet; keeping what this Service routes to until it chooses`, record: recordRepair(ctx), podWrites: [] };
    }
    return {
      kind: 'unavailable',
      active: ctx.previous?.name,
      term: ctx.term,
      service: {
        selector: sortedLabels({ ...ctx.selector, [keys.podId]: NO_POD }),
        annotations: { [keys.unavailableTerm]: String(ctx.term), [keys.originalSelector]: JSON.stringify(sortedLabels(ctx.selector)), [keys.recordOf]: ctx.service.uid },
      },
    };
  }
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
  const reason: SwitchReason = recorded === undefined ? 'initial' : recorded;
  return switchTo(ctx, target, reason);
}

function switchover(ctx: Context, requested: string): Plan {
  const target = ctx.candidates.find((pod) => pod.name === requested);
  if (target === undefined) {
    return refuseSwitchover(ctx, requested, missingTargetReason(requested, ctx.service, ctx.namespacePods));
  }
  const why =
    unfitTargetReason(target) ??
    (target.uid === ctx.active?.uid ? `pod "${requested}" is already active` : undefined);
  if (why !== undefined) return refuseSwitchover(ctx, requested, why);
  // A manual request skips min-switch-interval: the operator asked for this move now.
  return switchTo(ctx, target, 'switchover');
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

/**
 * Remaining anti-flap wait before a failback. Only failback is ever held: a failover
 * replaces an active that is unhealthy or gone, and delaying it would only prolong an
 * outage. Debouncing a flapping pod is the readiness probe's job, not this interval's.
 */
function failbackWaitMs(ctx: Context): number {
  const interval = ctx.settings.minSwitchIntervalMs;
  if (interval <= 0) return 0;
  const switchedAt = readRecord(ctx.service, ctx.keys).switchedAt;
  // An unreadable timestamp must not block failback forever: treat it as long ago.
  if (switchedAt === undefined) return 0;
  // A timestamp ahead of `now` (clock skew) counts as "just switched", never longer.
  const elapsed = Math.max(0, ctx.now - switchedAt);
  return Math.max(0, interval - elapsed);
}

function switchTo(ctx: Context, to: PodView, reason: SwitchReason): Plan {
  const { keys, service } = ctx;
  const term = ctx.term + 1;
  const annotations: Record<string, string | null> = {
    [keys.originalSelector]: JSON.stringify(sortedLabels(ctx.selector)),
    [keys.activePod]: to.name,
    [keys.activeUid]: to.uid,
    [keys.term]: String(term),
    [keys.switchedAt]: new Date(ctx.now).toISOString(),
    [keys.reason]: reason,
    [keys.unavailableTerm]: null,
    // A term is completed only once its own slices are seen; a completion left from an
    // earlier count (terms restart after an opt-out) must not stand for this one.
    [keys.completedTerm]: null,
    [keys.recordOf]: service.uid,
  };
  if (Object.hasOwn(service.annotations, keys.switchoverTo)) annotations[keys.switchoverTo] = null;

  // The Service must not select by a label the pod does not carry yet, or it would
  // route to nothing in between. A pod that carries another pod's id (a copy of a live
  // pod's labels) would be routed to beside the real one: its label is corrected first.
  const prerequisites = [
    ...(annotation(to.labels, keys.podId) === to.uid ? [] : [{ pod: to.name, labels: { [keys.podId]: to.uid } }]),
    ...impostorWrites(ctx.candidates, keys),
  ];

  return {
    kind: 'switch',
    reason,
    from: ctx.previous,
    to: { name: to.name, uid: to.uid },
    term,
    prerequisites,
    service: { selector: sortedLabels({ ...ctx.selector, [keys.podId]: to.uid }), annotations },
    podWrites: roleWrites(ctx.candidates, to.uid, keys, prerequisites, ctx.roleLabels, ctx.activeElsewhere),
  };
}

/**
 * The record a steady Service still lacks: the uid it was written on (Services adopted
 * before baton recorded it), or a readable copy of the user's selector when the saved
 * one was damaged. Undefined when nothing is missing, so a steady Service costs no write.
 */
function recordRepair(ctx: Context): ServiceWrite | undefined {
  const { keys, service } = ctx;
  const annotations: Record<string, string> = {};
  if (!ownsRecord(service, keys)) annotations[keys.recordOf] = service.uid;
  if (savedSelector(service, keys).kind !== 'valid') annotations[keys.originalSelector] = JSON.stringify(sortedLabels(ctx.selector));
  if (Object.keys(annotations).length === 0) return undefined;
  return { selector: service.selector, annotations };
}

function priority(pod: PodView, keys: Keys): number {
  return readPriority(pod, keys).priority;
}

// Sorted keys make the saved JSON byte-stable, so an unchanged selector never shows
// up as an annotation change.
function sortedLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) {
    const value = labels[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function priorityProblems(candidates: readonly PodView[], keys: Keys): PodProblem[] {
  const seen = new Map<string, PodProblem>();
  for (const pod of candidates) {
    const { problem } = readPriority(pod, keys);
    if (problem !== undefined) seen.set(JSON.stringify([problem.pod, problem.value]), problem);
  }
  return [...seen.values()].sort((a, b) =>
    a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0,
  );
}
