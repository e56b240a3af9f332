// What a decision asks for, done: the guarded Service write of each plan, the pod labels
// around it, and the evidence after it. The Service as the write left it (or as read, when
// nothing was written) is handed back for what follows (direct mode's slice).
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import { labelsStillNeeded } from './core/release.js';
import type { Observed, Plan, PodLabelWrite, PodView, ServiceView } from './core/model.js';
import { readRecord } from '../../shared/record.js';
import { report, termMark } from './report.js';
import { labelPods, patchService } from './writes.js';
import type { ReconcileDeps, Result } from './reconcile.js';
import { directInForce } from './direct.js';
import { fence } from './fence.js';
import { callHook } from './hooks.js';
import { promote } from './promotions.js';

export interface Acted {
  readonly result: Result;
  /** The Service after the plan's write, or as it was read when nothing was written. */
  readonly service: Observed<ServiceView>;
  /** A switch in direct mode: its evidence, for the caller to send once the slice is written. */
  readonly evidence?: () => void;
}

export async function act(deps: ReconcileDeps, service: Observed<ServiceView>, plan: Plan, now: number, pods: readonly PodView[]): Promise<Acted> {
  const { cluster } = deps;
  switch (plan.kind) {
    case 'ignore':
      return { result: { outcome: 'ignored', detail: plan.why }, service };
    case 'invalid-config':
      deps.reporter.invalidConfig(service, plan.problems);
      return { result: { outcome: 'invalid', detail: plan.problems.map((p) => `${p.key}: ${p.message}`).join('; ') }, service };
    case 'steady': {
      const basis = plan.record ? await patchService(deps, service, plan.record) : service;
      labelPods(deps, basis, plan.podWrites);
      if (plan.promote) promote(deps, basis, plan.promote, now, UNACKNOWLEDGED);
      if (plan.active !== undefined && plan.cordonedNode !== undefined) deps.reporter.stuckOnCordon(basis, plan.active, plan.cordonedNode);
      // A fence left pending (its instance stopped after the completion) is finished here.
      void fence(deps, basis, plan.record !== undefined).catch((error: unknown) => deps.logger.warn({ service: `${service.namespace}/${service.name}`, error: String(error) }, 'fencing failed; a later look tries again'));
      return { result: { outcome: 'steady', detail: plan.record ? `${plan.why}; baton's record completed` : plan.why }, service: basis };
    }
    case 'hold':
      if (plan.promote) promote(deps, service, plan.promote, now, UNACKNOWLEDGED);
      return { result: { outcome: 'held', detail: plan.why, retryAfterMs: plan.retryAfterMs }, service };
    case 'switch': {
      // A planned switch asks the healthy active to step down first; under policy abort
      // a failure stops the switch here, before anything is written.
      const stopped = plan.demote === undefined ? undefined : await demote(deps, service, plan, now, pods);
      if (stopped !== undefined) return stopped;
      // The version each prerequisite write left its pod at: the guard of its role label.
      const relabelled = new Map<string, string | undefined>();
      for (const write of plan.prerequisites) {
        try {
          relabelled.set(write.pod, (await cluster.patchPodLabels(service.namespace, write.pod, write.labels)).resourceVersion);
        } catch (error) {
          // The chosen pod vanished between the list and now: decide again.
          if (error instanceof NotFoundError) throw new ConflictError(error.message, 404);
          throw error;
        }
      }
      const written = await patchService(deps, service, plan.service);
      const evidence = (): void => {
        report(deps.reporter.switched(written, plan, now));
        // The new active is told once the traffic moves to it (in direct mode, once its
        // slice is written), after the switch's own log line. Its answer never undoes the
        // switch: it is reported only.
        if (plan.promote !== undefined) promote(deps, written, plan.promote, now, 'the switch stands');
        deps.onSwitch?.(written, plan, pods, now);
        // The term this switch ends was never seen completed, so its own event may have
        // been lost with a reply; the Service as read still records it: replay it.
        const ended = plan.term - 1;
        if (ended >= 1 && readRecord(service, deps.keys).completedTerm !== ended) report(deps.reporter.replayTransition(service, ended));
      };
      // Direct mode: the slice write that moves the traffic goes out first, and the
      // evidence's requests (an Event, a CloudEvent) after it, not in its way.
      const deferred = directInForce(written, deps.keys);
      if (!deferred) evidence();
      // A pod labelled just above has moved past the version the plan read; that change
      // is our own, so its role label is guarded by the version our write left it at.
      labelPods(
        deps,
        written,
        plan.podWrites.map((w) => {
          if (!relabelled.has(w.pod)) return w;
          const after = relabelled.get(w.pod);
          return after ? { pod: w.pod, labels: w.labels, resourceVersion: after } : { pod: w.pod, labels: w.labels };
        }),
      );
      return { result: { outcome: 'switched', detail: `${plan.reason}: ${plan.from?.name ?? '(none)'} -> ${plan.to.name} (term ${plan.term})` }, service: written, ...(deferred ? { evidence } : {}) };
    }
    case 'unavailable': {
      const written = plan.service ? await patchService(deps, service, plan.service) : undefined;
      if (written) report(deps.reporter.unavailable(written, plan, pods.length));
      // A claimed pod is kept out of elections until its eviction is done: finish it here too.
      void fence(deps, written ?? service, written !== undefined).catch((error: unknown) => deps.logger.warn({ service: `${service.namespace}/${service.name}`, error: String(error) }, 'fencing failed; a later look tries again'));
      return { result: { outcome: 'unavailable', detail: `no healthy candidate; keeping ${plan.active ?? '(none)'}` }, service: written ?? service };
    }
    case 'refuse-switchover': {
      const written = await patchService(deps, service, plan.service);
      report(deps.reporter.refused(written, plan));
      return { result: { outcome: 'refused', detail: plan.why }, service: written };
    }
    case 'release': {
      const written = await patchService(deps, service, plan.service);
      report(deps.reporter.released(written, plan, termMark(service, deps.keys)));
      await unlabelReleased(deps, written, plan.podWrites, pods);
      const restored = Object.keys(plan.service.selector).length > 0;
      return { result: { outcome: 'released', detail: restored ? 'original selector restored' : 'baton\'s record removed; no selector to restore' }, service: written };
    }
  }
}

type Switch = Extract<Plan, { kind: 'switch' }>;

/**
 * Calls the old active's demote hook and reports it. Resolves to what was done instead of
 * the switch when the call failed under policy abort (a switchover refused, its request
 * consumed; a failback held for a later look), or undefined: go on with the switch.
 */
async function demote(deps: ReconcileDeps, service: Observed<ServiceView>, plan: Switch, now: number, pods: readonly PodView[]): Promise<Acted | undefined> {
  const step = plan.demote;
  if (step === undefined) return undefined;
  const result = await callHook(step.call, deps.hooks);
  const failed = result.outcome !== 'ok';
  const aborted = failed && step.policy === 'abort';
  const effect = !failed ? '' : !aborted ? `switching anyway (${deps.keys.demotePolicy}: continue)` : step.onAbort.kind === 'refuse-switchover' ? `the switchover is refused (${deps.keys.demotePolicy}: abort)` : `the planned switch waits for a later look (${deps.keys.demotePolicy}: abort)`;
  report(deps.reporter.hook(service, { call: step.call, result, decidedAt: now, aborted, effect }));
  if (!aborted) return undefined;
  // The demote may have reached the pod all the same: its promote is no longer taken as
  // acknowledged, and it is told again that it is the active of the current term. The
  // failure's time is recorded too: automatic planned switches wait a while after it
  // (core/decide.ts afterDemoteFailure), so a failing hook is not called at every look.
  // Both go with the refusal's guarded write, or, for a hold, in one of their own.
  const { keys } = deps;
  const withdrawn = { [keys.demoteFailedAt]: new Date(now).toISOString(), ...(Object.hasOwn(service.annotations, keys.promotedTerm) ? { [keys.promotedTerm]: null } : {}) };
  const why = `${step.onAbort.why}: ${result.detail}`;
  const acted =
    step.onAbort.kind === 'refuse-switchover'
      ? await act(deps, service, { ...step.onAbort, why, service: { ...step.onAbort.service, annotations: { ...step.onAbort.service.annotations, ...withdrawn } } }, now, pods)
      : await act(deps, await patchService(deps, service, { selector: service.selector, annotations: withdrawn }), { ...step.onAbort, why }, now, pods);
  if (step.restore !== undefined) promote(deps, acted.service, step.restore, now, 'the old active stays the active: its demote failed and the switch did not happen');
  return acted;
}

/** The effect reported for a promote repeated at a later look. */
const UNACKNOWLEDGED = 'called again: the active has not acknowledged its promote for this term';

/**
 * After a release: baton's labels come off the released Service's pods, except where
 * another Service still needs them (a fresh list of the namespace's Services says so),
 * each write guarded by the version the pod was read at.
 */
async function unlabelReleased(deps: ReconcileDeps, released: ServiceView, writes: readonly PodLabelWrite[], pods: readonly PodView[]): Promise<void> {
  if (writes.length === 0) return;
  const services = await deps.cluster.listServices('', released.namespace);
  const keep = new Set(pods.filter((p) => labelsStillNeeded(p, services, deps.keys, released)).map((p) => p.name));
  labelPods(deps, released, writes.filter((w) => !keep.has(w.pod)));
}
