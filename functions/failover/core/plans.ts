// What every path of a decision (decide.ts, follow.ts, switchover.ts) builds from: the
// facts of one Service read once, and the Service writes that record a switch, pin the
// placeholder, or repair baton's record.
import type { DemoteStep, Labels, Plan, PodView, ServiceSettings, ServiceView, ServiceWrite } from './model.js';
import { isHealthy } from './health.js';
import { hookCall } from './hooks.js';
import type { TransitionReason } from '../../../shared/audit/schemas.js';
import type { Keys } from '../../../shared/keys.js';
import { fenceMark, MAX_FENCE_PENDING, pendingFence, readRecord } from '../../../shared/record.js';
import { impostorWrites, roleWrites } from './pod-labels.js';
import { annotation, ownsRecord, savedSelector } from './settings.js';
import { sliceName } from './direct.js';

type SwitchPlan = Extract<Plan, { kind: 'switch' }>;

/** The pod-id a Service selects while no pod has been chosen: no pod UID looks like it. */
export const NO_POD = 'none';

export interface Context {
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
  /** Direct mode: the record is all baton writes on the Service; the slice follows it. */
  readonly direct: boolean;
  /** Names of the Nodes the API server reports cordoned (core/cordon.ts). */
  readonly cordoned: ReadonlySet<string>;
}

/**
 * The Service write's selector and mode marks. Selector mode: the user's selector plus
 * the pod-id key. Direct mode: no selector at all (a leftover pod-id key is removed, or
 * the EndpointSlice controller would route beside baton's slice), the name of baton's
 * slice recorded, and no saved selector to restore (opting out of direct mode restores
 * none). A mark of the other mode left on the Service is removed.
 */
function modeWrite(ctx: Context, podId: string): { selector: Record<string, string>; annotations: Record<string, string | null> } {
  const { keys, service } = ctx;
  const has = (key: string): boolean => Object.hasOwn(service.annotations, key);
  if (ctx.direct) {
    return { selector: {}, annotations: { [keys.endpointSlice]: sliceName(service), ...(has(keys.originalSelector) ? { [keys.originalSelector]: null } : {}) } };
  }
  return {
    selector: sortedLabels({ ...ctx.selector, [keys.podId]: podId }),
    annotations: { [keys.originalSelector]: JSON.stringify(sortedLabels(ctx.selector)), ...(has(keys.endpointSlice) ? { [keys.endpointSlice]: null } : {}) },
  };
}

export function switchTo(ctx: Context, to: PodView, reason: TransitionReason): SwitchPlan {
  const { keys, service } = ctx;
  const term = ctx.term + 1;
  const mode = modeWrite(ctx, to.uid);
  const annotations: Record<string, string | null> = {
    ...mode.annotations,
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
  // The new term's promote is not acknowledged yet; an older term's mark would only mislead.
  if (Object.hasOwn(service.annotations, keys.promotedTerm)) annotations[keys.promotedTerm] = null;
  if (Object.hasOwn(service.annotations, keys.demoteFailedAt)) annotations[keys.demoteFailedAt] = null;
  // The pods to evict once the new active routes alone: the one this switch leaves, and
  // those earlier switches left whose fence has not happened yet (their connections are
  // just as open). Only a pod that is still there can be fenced; a pin of the same pod
  // leaves nothing, and the pod switched to is taken off.
  const fence = fenceTargets(ctx, to);
  if (fence !== null || Object.hasOwn(service.annotations, keys.fencePending)) annotations[keys.fencePending] = fence;

  // The Service must not select by a label the pod does not carry yet, or it would
  // route to nothing in between. A pod that carries another pod's id (a copy of a live
  // pod's labels) would be routed to beside the real one: its label is corrected first.
  // In direct mode no selector reads pod labels: baton writes none.
  const prerequisites = ctx.direct
    ? []
    : [...(annotation(to.labels, keys.podId) === to.uid ? [] : [{ pod: to.name, labels: { [keys.podId]: to.uid } }]), ...impostorWrites(ctx.candidates, keys)];

  return {
    kind: 'switch',
    reason,
    from: ctx.previous,
    to: { name: to.name, uid: to.uid },
    term,
    prerequisites,
    service: { selector: mode.selector, annotations },
    podWrites: ctx.direct ? [] : roleWrites(ctx.candidates, to.uid, keys, prerequisites, ctx.roleLabels, ctx.activeElsewhere),
    demote: demoteStep(ctx, to, reason, term),
    promote: hookCall(ctx.settings.hooks, 'promote', to, service, term),
  };
}

/** How long a failback held by a failed demote hook (under `abort`) waits before it is tried again. */
export const DEMOTE_ABORT_RETRY_MS = 10_000;

/**
 * The demote call due before a planned switch (a switchover, a failback, a move off a
 * cordoned Node) while the
 * active is healthy. A failover never demotes: its active is unhealthy or gone, and
 * waiting on it would only prolong the outage.
 */
function demoteStep(ctx: Context, to: PodView, reason: TransitionReason, term: number): DemoteStep | undefined {
  const { active, keys, service } = ctx;
  if (reason !== 'switchover' && reason !== 'failback' && reason !== 'cordon') return undefined;
  if (active === undefined || active.uid === to.uid || !isHealthy(active)) return undefined;
  const call = hookCall(ctx.settings.hooks, 'demote', active, service, term);
  if (call === undefined) return undefined;
  const policy = ctx.settings.hooks.demotePolicy;
  const onAbort: DemoteStep['onAbort'] =
    reason === 'switchover'
      ? { kind: 'refuse-switchover', requested: to.name, why: `the demote hook of ${active.name} failed (${keys.demotePolicy}: abort)`, service: { selector: service.selector, annotations: { [keys.switchoverTo]: null } } }
      : { kind: 'hold', why: `${reason === 'cordon' ? 'the move off the cordoned node' : 'failback'} from ${active.name} to ${to.name} waits: the demote hook of ${active.name} failed (${keys.demotePolicy}: abort)`, retryAfterMs: DEMOTE_ABORT_RETRY_MS };
  // The old active stays the active of the current term if the demote fails under abort.
  const current = readRecord(service, keys).term;
  const restore = policy === 'abort' && current !== undefined ? hookCall(ctx.settings.hooks, 'promote', active, service, current) : undefined;
  return { call, policy, onAbort, restore };
}

function fenceTargets(ctx: Context, to: PodView): string | null {
  if (ctx.settings.fence !== 'evict') return null;
  const earlier = pendingFence(ctx.service, ctx.keys);
  const wanted = [...earlier.uids, ...(ctx.previous === undefined ? [] : [ctx.previous.uid])];
  const present = new Set(ctx.candidates.map((p) => p.uid));
  const uids = [...new Set(wanted)].filter((uid) => uid !== to.uid && present.has(uid)).slice(-MAX_FENCE_PENDING);
  // A claim stays with its pod: the eviction under way is not undone by a new switch.
  return fenceMark(uids, earlier.claimed);
}

/**
 * Pins a Service that was never adopted to the placeholder pod-id, and records that
 * this term's unavailability was reported. Such a Service still selects every matching
 * pod, and each pod that turns ready before the next event would get traffic: routing
 * to nothing is safer than routing to everything until one is chosen.
 */
export function placeholderWrite(ctx: Context): ServiceWrite {
  const { keys } = ctx;
  // Direct mode routes to nothing until a pod is chosen: baton's slice names no pod.
  const mode = modeWrite(ctx, NO_POD);
  return { selector: mode.selector, annotations: { ...mode.annotations, [keys.unavailableTerm]: String(ctx.term), [keys.recordOf]: ctx.service.uid } };
}

/**
 * The record a steady Service still lacks: the uid it was written on (Services adopted
 * before baton recorded it), or a readable copy of the user's selector when the saved
 * one was damaged. Undefined when nothing is missing, so a steady Service costs no write.
 */
export function recordRepair(ctx: Context): ServiceWrite | undefined {
  const { keys, service } = ctx;
  const annotations: Record<string, string | null> = {};
  const has = (key: string): boolean => Object.hasOwn(service.annotations, key);
  if (!ownsRecord(service, keys)) {
    annotations[keys.recordOf] = service.uid;
    // A copied record's mark names pods another Service left, not this one.
    if (has(keys.fencePending)) annotations[keys.fencePending] = null;
  }
  if (ctx.direct) {
    if (service.annotations[keys.endpointSlice] !== sliceName(service)) annotations[keys.endpointSlice] = sliceName(service);
    if (has(keys.originalSelector)) annotations[keys.originalSelector] = null;
  } else {
    if (savedSelector(service, keys).kind !== 'valid') annotations[keys.originalSelector] = JSON.stringify(sortedLabels(ctx.selector));
    if (has(keys.endpointSlice)) annotations[keys.endpointSlice] = null;
  }
  if (Object.keys(annotations).length === 0) return undefined;
  return { selector: service.selector, annotations };
}

// Sorted keys make the saved JSON byte-stable, so an unchanged selector never shows
// up as an annotation change.
export function sortedLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) {
    const value = labels[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
