import { best } from './elect.js';
import { follow } from './follow.js';
import { isHealthy, matchesSelector } from './health.js';
import { type HookCall, type Labels, type Plan, type PodProblem, type PodView, type ServiceSettings, type ServiceView } from './model.js';
import { MODE_VALUE, type Keys } from '../../../shared/keys.js';
import { impostorWrites, roleWrites } from './pod-labels.js';
import { type Context, DEMOTE_ABORT_RETRY_MS, NO_POD, placeholderWrite, recordRepair, switchTo } from './plans.js';
import { releaseOrIgnore } from './release.js';
import { annotation, readPriority, readSettings, userSelector } from './settings.js';
import { pendingFence, readRecord } from '../../../shared/record.js';
import { switchover } from './switchover.js';
import { isDirect } from './direct.js';
import { onCordonedNode, preferSchedulable } from './cordon.js';
import { promoteDue } from './hooks.js';

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
  /**
   * Direct mode: the term baton's slice of the Service was written for. A switch counts on
   * from the higher of it and the record's term, so that its slice is never held back by
   * a slice stamped with a higher term (a record edited by hand).
   */
  readonly termFloor?: number;
  /**
   * Names of the Nodes the API server reports unschedulable (cordoned). An active on one
   * is moved to a healthy candidate on a schedulable Node (reason `cordon`), and no
   * election picks a pod on one while a healthy candidate elsewhere exists. Empty unless set.
   */
  readonly cordoned?: ReadonlySet<string>;
}

export interface Decision {
  readonly plan: Plan;
  readonly podProblems: PodProblem[];
}

export { NO_POD };

const NO_NODES: ReadonlySet<string> = new Set();

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

  const base = context(service, keys, now, settings.settings, selector.selector, namespacePods, candidates, input.roleLabels ?? false, input.activeElsewhere ?? new Set(), input.leader);
  const ctx = { ...base, term: Math.max(base.term, input.termFloor ?? 0), cordoned: input.cordoned ?? NO_NODES };
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
): Omit<Context, 'cordoned'> {
  // The selector is what actually routes traffic, so it outranks the annotation; the
  // annotation only speaks when the selector lost baton's key (e.g. a manifest re-apply).
  // In direct mode the record routes (the slice follows it) and a pod-id left in the
  // selector is not baton's any more: it is removed by pinning again.
  const direct = isDirect(service, keys);
  const selected = direct ? undefined : annotation(service.selector, keys.podId);
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
    pinned: active !== undefined && (direct ? !Object.hasOwn(service.selector, keys.podId) : selectedUid === active.uid),
    recorded: recordedUid !== undefined,
    previous,
    direct,
  };
}

function plan(ctx: Context): Plan {
  const { settings, active, keys } = ctx;
  if (settings.follow !== undefined) return follow(ctx, settings.follow);
  if (settings.switchoverTo !== undefined) return switchover(ctx, settings.switchoverTo);
  if (active !== undefined && isHealthy(active)) return keepActive(ctx, active);
  const top = best(electable(ctx), keys);
  if (top !== undefined) return switchTo(ctx, top, ctx.recorded ? 'failover' : 'initial');
  return unavailable(ctx);
}

/** The recorded active is healthy: it stays, unless failback prefers a better pod. */
function keepActive(ctx: Context, active: PodView): Plan {
  const { settings, keys } = ctx;
  // Annotations name a healthy active but the selector does not route to it alone
  // (its pod-id key was removed), so every matching pod is receiving traffic. Pin
  // the same pod again rather than pick a new one: nothing is wrong with it.
  if (!ctx.pinned) return switchTo(ctx, active, 'initial');

  // Its Node is cordoned: it will be drained. Move now, while it can still be demoted,
  // to the best healthy pod on a schedulable Node; never held by min-switch-interval (the
  // drain does not wait for it either). With no such pod it stays: it still serves.
  const cordoned = onCordonedNode(active, ctx.cordoned);
  if (cordoned) {
    const top = best(electable(ctx), keys);
    if (top !== undefined && !onCordonedNode(top, ctx.cordoned)) return afterDemoteFailure(ctx, active, top, 'the move off the cordoned node') ?? { ...switchTo(ctx, top, 'cordon'), note: `node ${active.nodeName ?? ''} of ${active.name} is cordoned` };
  }

  if (settings.failback) {
    const top = best(electable(ctx), keys);
    if (top !== undefined && priority(top, keys) > priority(active, keys)) {
      const waitMs = failbackWaitMs(ctx);
      if (waitMs > 0) {
        return {
          kind: 'hold',
          why: `failback from ${active.name} to ${top.name} waits for ${keys.minSwitchInterval}`,
          retryAfterMs: waitMs,
          ...due(ctx, active),
        };
      }
      return afterDemoteFailure(ctx, active, top, 'failback') ?? switchTo(ctx, top, 'failback');
    }
  }
  return {
    kind: 'steady',
    active: active.name,
    why: cordoned
      ? `${active.name} is active and healthy on cordoned node ${active.nodeName ?? ''}, and no healthy candidate runs on a schedulable node; it stays until one does`
      : settings.failback
        ? `${active.name} is active and healthy, and no healthy pod has a higher priority`
        : `${active.name} is active and healthy`,
    record: recordRepair(ctx),
    podWrites: ctx.direct ? [] : [...impostorWrites(ctx.candidates, keys), ...roleWrites(ctx.candidates, active.uid, keys, [], ctx.roleLabels, ctx.activeElsewhere)],
    ...due(ctx, active),
    ...(cordoned && active.nodeName !== undefined ? { cordonedNode: active.nodeName } : {}),
  };
}

/**
 * A hold, while a demote of the active failed under `abort` less than
 * DEMOTE_ABORT_RETRY_MS ago (the record says when): an automatic planned switch is not
 * tried, demote included, at every look. Without it each look would call the failing
 * hook again, and the writes that follow a failure (the withdrawn promote and its renewal)
 * would bring another instance to look, and so on. A manual switchover is not held: it is
 * asked for once and consumed either way. Nor is anything once the policy is `continue`:
 * a failing demote no longer stops the switch.
 */
function afterDemoteFailure(ctx: Context, active: PodView, top: PodView, what: string): Plan | undefined {
  const failedAt = readRecord(ctx.service, ctx.keys).demoteFailedAt;
  if (failedAt === undefined || ctx.settings.hooks.demotePolicy !== 'abort') return undefined;
  const waitMs = Math.max(0, DEMOTE_ABORT_RETRY_MS - Math.max(0, ctx.now - failedAt));
  if (waitMs === 0) return undefined;
  return { kind: 'hold', why: `${what} from ${active.name} to ${top.name} waits: the demote hook of ${active.name} failed under ${ctx.keys.demotePolicy}: abort`, retryAfterMs: waitMs, ...due(ctx, active) };
}

/** The active's promote, when it is still due for the current term (core/hooks.ts). */
function due(ctx: Context, active: PodView): { promote?: HookCall } {
  const promote = promoteDue(ctx.settings.hooks, active, ctx.service, ctx.keys);
  return promote === undefined ? {} : { promote };
}

/**
 * The candidates an election may choose: all but a pod waiting to be fenced, which is
 * about to be evicted and must not be chosen back in the meantime — unless it is the
 * only healthy one: routing to it beats routing to nothing, and the switch to it takes
 * the mark off it.
 */
function electable(ctx: Context): readonly PodView[] {
  const pending = pendingFence(ctx.service, ctx.keys);
  // Of those, the ones on schedulable Nodes when any is healthy (core/cordon.ts).
  if (pending.uids.length === 0) return preferSchedulable(ctx.candidates, ctx.cordoned);
  // A claimed pod is being evicted right now: never, or the eviction takes the new active.
  const free = ctx.candidates.filter((p) => !pending.claimed.includes(p.uid));
  const others = free.filter((p) => !pending.uids.includes(p.uid));
  return preferSchedulable(others.some(isHealthy) ? others : free, ctx.cordoned);
}

/** No healthy candidate: keep the record, report once per term, and never route to every pod. */
function unavailable(ctx: Context): Plan {
  const { keys } = ctx;
  const reported = readRecord(ctx.service, keys).unavailableTerm === ctx.term;
  // Never adopted yet: the Service still selects every matching pod (placeholderWrite).
  // A Service in direct mode never does (its slice names at most the recorded pod), but
  // its placeholder write also records the name of the slice and takes a stray pod-id
  // out of the selector.
  const pinned = ctx.direct ? Object.hasOwn(ctx.service.annotations, keys.endpointSlice) && !Object.hasOwn(ctx.service.selector, keys.podId) : Object.hasOwn(ctx.service.selector, keys.podId);
  if (reported && pinned) return { kind: 'unavailable', active: ctx.previous?.name, term: ctx.term, service: undefined };
  return {
    kind: 'unavailable',
    active: ctx.previous?.name,
    term: ctx.term,
    service: pinned
      ? { selector: ctx.service.selector, annotations: { [keys.unavailableTerm]: String(ctx.term), [keys.recordOf]: ctx.service.uid } }
      : placeholderWrite(ctx),
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

function priority(pod: PodView, keys: Keys): number {
  return readPriority(pod, keys).priority;
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
