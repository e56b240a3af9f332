// Evidence of each decision: an audit CloudEvent (deterministic id, for subscribers)
// and a Kubernetes Event on the Service (for `kubectl describe`). Both are side
// channels: they are sent after the write, and a failure is logged, never thrown.
import { auditId, auditSubject, type FenceOutcome, type TermMark, COMPLETED, CONFIG_INVALID, FENCED, HOOK, PROMOTED, RELEASED, SWITCHOVER, SWITCHOVER_REFUSED, UNAVAILABLE, type AuditDraft } from '../../shared/audit/schemas.js';
import type { Emitter } from '../../shared/audit/emit.js';
import { evidenceSender } from '../../shared/audit/evidence.js';
import { createRepeatFilter } from '../../shared/audit/repeats.js';
import type { Cluster } from './cluster.js';
import type { Logger } from '../../shared/log.js';
import type { HookCall, Plan, PodProblem, ServiceView } from './core/model.js';
import type { HookOutcome } from './hooks.js';
import type { ConfigProblem } from '../../shared/audit/schemas.js';
import type { Keys } from '../../shared/keys.js';
import { readRecord } from '../../shared/record.js';

type Of<K extends Plan['kind']> = Extract<Plan, { kind: K }>;

export interface Completion {
  readonly term: number;
  readonly active: { readonly name: string; readonly uid: string };
  readonly decidedAt: number;
  readonly observedAt: number;
}

export interface FenceReport {
  readonly term: number;
  readonly pod: { readonly name: string; readonly uid: string };
  readonly outcome: FenceOutcome;
  readonly detail: string;
}

export interface HookReport {
  readonly call: HookCall;
  readonly result: HookOutcome;
  /** The time of the decision that asked for the call (the switch's `switched-at`). */
  readonly decidedAt: number;
  /** A failed demote under policy abort: the switch did not happen. */
  readonly aborted: boolean;
  /** What the failure meant for the switch, for the Event's message. */
  readonly effect: string;
}

export interface Reporter {
  /** A pod hook's call and its outcome (hooks.ts). */
  hook(service: ServiceView, hook: HookReport): Promise<void>;
  switched(service: ServiceView, plan: Of<'switch'>, now: number): Promise<void>;
  unavailable(service: ServiceView, plan: Of<'unavailable'>, candidates: number): Promise<void>;
  refused(service: ServiceView, plan: Of<'refuse-switchover'>): Promise<void>;
  /** `last`: the term the Service recorded before the release wrote its record away. */
  released(service: ServiceView, plan: Of<'release'>, last: TermMark): Promise<void>;
  completed(service: ServiceView, completion: Completion): Promise<void>;
  /** What fencing did to the pod the term's switch left (fence.ts). */
  fenced(service: ServiceView, fenced: FenceReport): Promise<void>;
  /**
   * Sends the term's promoted/switchover event again, rebuilt from what the Service
   * records. A switch whose PATCH was applied but whose reply was lost (timeout, reset)
   * is never reported by the instance that made it, and a redelivered event then finds
   * nothing to do; completion is level-triggered and recorded once per term, so
   * replaying there closes that gap. The id is the original's, so a subscriber that
   * already has it drops the copy. `from` is not recorded on the Service: null.
   */
  replayTransition(service: ServiceView, term: number): Promise<void>;
  /** Repeated reports of the same problems are suppressed for a while (the id is the same anyway). */
  invalidConfig(service: ServiceView, problems: readonly ConfigProblem[]): void;
  podProblems(service: ServiceView, problems: readonly PodProblem[]): void;
  /** Direct mode: slices of the Service that baton did not write (never changed; repeats held back). */
  foreignSlices(service: ServiceView, names: readonly string[]): void;
  /** Direct mode: baton's slice could not be written, and why (repeats held back). */
  sliceBlocked(service: ServiceView, why: string): void;
  /** Direct mode ended: baton deleted its slice; says how to route with a selector again. */
  sliceRemoved(service: ServiceView, name: string): void;
  /** The active stays on a cordoned Node: no healthy candidate runs elsewhere (repeats held back). */
  stuckOnCordon(service: ServiceView, active: string, node: string): void;
}

/**
 * What the Service records of its current term (see TermMark): no readable term is 0,
 * and an unreadable switch time is 0; the next switch counts on from there.
 */
export function termMark(service: ServiceView, keys: Keys): TermMark {
  const record = readRecord(service, keys);
  return { term: record.term ?? 0, decidedAt: record.switchedAt ?? 0 };
}

/** Fire and forget: evidence must not delay the reply that lets the next event in. */
export function report(pending: Promise<void>): void {
  void pending.catch(() => undefined);
}

export const REASONS = {
  promoted: 'Promoted',
  failedOver: 'FailedOver',
  failedBack: 'FailedBack',
  movedOffCordonedNode: 'MovedOffCordonedNode',
  activeOnCordonedNode: 'ActiveOnCordonedNode',
  switchedOver: 'SwitchedOver',
  switchoverRefused: 'SwitchoverRefused',
  unavailable: 'NoHealthyPod',
  completed: 'TrafficSwitched',
  released: 'Released',
  fenced: 'Fenced',
  fenceRefused: 'FenceRefused',
  hookCalled: 'HookCalled',
  hookFailed: 'HookFailed',
  invalidConfig: 'InvalidConfig',
  invalidPodAnnotation: 'InvalidPodAnnotation',
  foreignSlice: 'ForeignEndpointSlice',
  sliceBlocked: 'EndpointSliceBlocked',
  sliceRemoved: 'EndpointSliceRemoved',
} as const;

export function createReporter(deps: { cluster: Cluster; emitter: Emitter; logger: Logger; keys: Keys; now: () => number }): Reporter {
  const { cluster, emitter, logger } = deps;
  const fresh = createRepeatFilter(deps.now);
  // What the Service records of its current term; see TermMark.
  const mark = (s: ServiceView): TermMark => termMark(s, deps.keys);
  const ref = (s: ServiceView): { namespace: string; name: string; uid: string } => ({ namespace: s.namespace, name: s.name, uid: s.uid });

  const send = evidenceSender({ emitter, logger, recordEvent: (service, note) => cluster.recordEvent(service, note) });

  return {
    switched: (service, plan, now) => {
      const type = plan.reason === 'switchover' ? SWITCHOVER : PROMOTED;
      const reason = { initial: REASONS.promoted, failover: REASONS.failedOver, failback: REASONS.failedBack, switchover: REASONS.switchedOver, cordon: REASONS.movedOffCordonedNode }[plan.reason];
      const from = plan.from && plan.from.uid !== plan.to.uid ? ` (was ${plan.from.name})` : '';
      return send(
        service,
        {
          id: auditId({ type, serviceUid: service.uid, term: plan.term, decidedAt: now }),
          type,
          subject: auditSubject(service),
          time: new Date(now).toISOString(),
          data: { service: ref(service), term: plan.term, from: plan.from ?? null, to: plan.to, reason: plan.reason, decidedAt: new Date(now).toISOString() },
        },
        { type: 'Normal', reason, message: `${plan.to.name} is now the active pod${from}; reason ${plan.reason}${plan.note === undefined ? '' : ` (${plan.note})`}, term ${plan.term}` },
      );
    },
    unavailable: (service, plan, candidates) =>
      send(
        service,
        {
          id: auditId({ type: UNAVAILABLE, serviceUid: service.uid, ...mark(service), term: plan.term }),
          type: UNAVAILABLE,
          subject: auditSubject(service),
          time: new Date(deps.now()).toISOString(),
          data: {
            service: ref(service),
            term: plan.term,
            lastActive: plan.active ? { name: plan.active, uid: service.annotations[deps.keys.activeUid] ?? 'unknown' } : null,
            candidates,
          },
        },
        { type: 'Warning', reason: REASONS.unavailable, message: `no healthy pod among ${candidates} candidate(s); traffic stays on ${plan.active ?? 'nothing'} until one is ready` },
      ),
    refused: (service, plan) => {
      return send(
        service,
        {
          id: auditId({ type: SWITCHOVER_REFUSED, serviceUid: service.uid, ...mark(service), requested: plan.requested }),
          type: SWITCHOVER_REFUSED,
          subject: auditSubject(service),
          time: new Date(deps.now()).toISOString(),
          data: { service: ref(service), requested: plan.requested, reason: plan.why },
        },
        { type: 'Warning', reason: REASONS.switchoverRefused, message: `switchover to ${plan.requested} refused: ${plan.why}` },
      );
    },
    released: (service, plan, last) =>
      send(
        service,
        {
          id: auditId({ type: RELEASED, serviceUid: service.uid, ...last }),
          type: RELEASED,
          subject: auditSubject(service),
          time: new Date(deps.now()).toISOString(),
          data: { service: ref(service), restoredSelector: { ...plan.service.selector } },
        },
        { type: 'Normal', reason: REASONS.released, message: `opted out: selector restored to ${JSON.stringify(plan.service.selector)}` },
      ),
    replayTransition: async (service, term) => {
      const { reason, activePod, activeUid, switchedAt: decidedAt } = readRecord(service, deps.keys);
      if (reason === undefined || activePod === undefined || activeUid === undefined || decidedAt === undefined) return;
      const to = { name: activePod, uid: activeUid };
      const type = reason === 'switchover' ? SWITCHOVER : PROMOTED;
      const draft: AuditDraft = {
        id: auditId({ type, serviceUid: service.uid, term, decidedAt }),
        type,
        subject: auditSubject(service),
        time: new Date(decidedAt).toISOString(),
        data: { service: ref(service), term, from: null, to, reason, decidedAt: new Date(decidedAt).toISOString() },
      };
      const result = await emitter.emit(draft);
      if (!result.delivered && !('skipped' in result)) logger.warn({ service: `${service.namespace}/${service.name}`, term, error: result.error }, 'replayed audit event not delivered');
    },
    completed: (service, c) =>
      send(
        service,
        {
          id: auditId({ type: COMPLETED, serviceUid: service.uid, term: c.term, decidedAt: c.decidedAt }),
          type: COMPLETED,
          subject: auditSubject(service),
          time: new Date(c.observedAt).toISOString(),
          data: {
            service: ref(service),
            term: c.term,
            active: c.active,
            decidedAt: new Date(c.decidedAt).toISOString(),
            observedAt: new Date(c.observedAt).toISOString(),
            latencyMs: Math.max(0, c.observedAt - c.decidedAt),
          },
        },
        { type: 'Normal', reason: REASONS.completed, message: `EndpointSlices show only ${c.active.name} ready (term ${c.term}, ${Math.max(0, c.observedAt - c.decidedAt)} ms after the decision)` },
      ),
    fenced: (service, f) =>
      send(
        service,
        {
          id: auditId({ type: FENCED, serviceUid: service.uid, podUid: f.pod.uid, ...mark(service), term: f.term }),
          type: FENCED,
          subject: auditSubject(service),
          time: new Date(deps.now()).toISOString(),
          data: { service: ref(service), term: f.term, pod: f.pod, outcome: f.outcome, detail: f.detail },
        },
        f.outcome === 'refused'
          ? { type: 'Warning', reason: REASONS.fenceRefused, message: `eviction of ${f.pod.name}, the pod term ${f.term} left, was refused; its open connections stay: ${f.detail}` }
          : { type: 'Normal', reason: REASONS.fenced, message: `${f.pod.name}, the pod term ${f.term} left: ${f.outcome === 'evicted' ? 'evicted, so its open connections end' : `nothing to evict (${f.detail})`}` },
      ),
    hook: (service, h) => {
      const { call, result } = h;
      const ok = result.outcome === 'ok';
      const tries = `${result.attempts} attempt${result.attempts === 1 ? '' : 's'}`;
      return send(
        service,
        {
          id: auditId({ type: HOOK, serviceUid: service.uid, hook: call.hook, podUid: call.pod.uid, term: call.body.term, decidedAt: h.decidedAt }),
          type: HOOK,
          subject: auditSubject(service),
          time: new Date(deps.now()).toISOString(),
          data: { service: ref(service), term: call.body.term, hook: call.hook, pod: { ...call.pod }, outcome: result.outcome, status: result.status, attempts: result.attempts, aborted: h.aborted, detail: result.detail },
        },
        ok
          ? { type: 'Normal', reason: REASONS.hookCalled, message: `${call.hook} hook of ${call.pod.name} answered ${result.status ?? ''} (term ${call.body.term}, ${tries})` }
          : { type: 'Warning', reason: REASONS.hookFailed, message: `${call.hook} hook of ${call.pod.name} ${result.outcome === 'timeout' ? 'timed out' : 'failed'} (term ${call.body.term}, ${tries}): ${result.detail}; ${h.effect}` },
      );
    },
    invalidConfig: (service, problems) => {
      const id = auditId({ type: CONFIG_INVALID, serviceUid: service.uid, problems });
      if (!fresh(id)) return;
      report(
        send(
          service,
          { id, type: CONFIG_INVALID, subject: auditSubject(service), time: new Date(deps.now()).toISOString(), data: { service: ref(service), problems: problems.map((p) => ({ ...p })) } },
          { type: 'Warning', reason: REASONS.invalidConfig, message: `left unchanged: ${problems.map((p) => `${p.key}=${JSON.stringify(p.value.slice(0, 80))}: ${p.message}`).join('; ')}` },
        ),
      );
    },
    foreignSlices: (service, names) => {
      if (!fresh(`${service.uid}/foreign/${names.join(',')}`)) return;
      // The EndpointSlice controller leaves its slices behind when a selector is removed.
      const leftover = names.some((n) => n.includes('(managed by endpointslice-controller.k8s.io)'))
        ? `; the controller's are left from a selector this Service had: kubectl delete endpointslice -n ${service.namespace} -l kubernetes.io/service-name=${service.name},endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io`
        : '';
      const message = `EndpointSlice(s) ${names.join(', ')} also route this Service, and baton did not write them: it never changes or deletes them, and cannot keep traffic to one pod while they list ready endpoints. Delete them, or take the Service out of direct mode${leftover}`;
      logger.warn({ service: `${service.namespace}/${service.name}`, slices: names }, message);
      report(cluster.recordEvent(service, { type: 'Warning', reason: REASONS.foreignSlice, message }));
    },
    sliceBlocked: (service, why) => {
      if (!fresh(`${service.uid}/blocked/${why}`)) return;
      logger.warn({ service: `${service.namespace}/${service.name}` }, why);
      report(cluster.recordEvent(service, { type: 'Warning', reason: REASONS.sliceBlocked, message: `baton's EndpointSlice not written: ${why}` }));
    },
    sliceRemoved: (service, name) => {
      const now = Object.keys(service.selector).length > 0 ? 'the Service\'s own selector routes it now' : 'the Service routes to no pod';
      const message = `direct mode ended: baton deleted its EndpointSlice ${name}, and ${now}. To route with a selector, set spec.selector to your pods' labels (with the label ${deps.keys.mode}=active-standby, baton then routes it to one of them)`;
      report(cluster.recordEvent(service, { type: 'Normal', reason: REASONS.sliceRemoved, message }));
    },
    stuckOnCordon: (service, active, node) => {
      if (!fresh(`${service.uid}/cordon/${active}/${node}`)) return;
      const message = `${active} stays the active on cordoned node ${node}: no healthy candidate runs on a schedulable node. It moves as soon as one is ready, or fails over when it is drained`;
      logger.warn({ service: `${service.namespace}/${service.name}`, pod: active, node }, message);
      report(cluster.recordEvent(service, { type: 'Warning', reason: REASONS.activeOnCordonedNode, message }));
    },
    podProblems: (service, problems) => {
      for (const p of problems) {
        if (!fresh(`${service.uid}/${p.pod}/${p.key}/${p.value}`)) continue;
        const message = `pod ${p.pod}: ${p.key}=${JSON.stringify(p.value.slice(0, 80))}: ${p.message}; ranked with the default`;
        logger.warn({ service: `${service.namespace}/${service.name}`, pod: p.pod }, message);
        report(cluster.recordEvent(service, { type: 'Warning', reason: REASONS.invalidPodAnnotation, message }));
      }
    },
  };
}
