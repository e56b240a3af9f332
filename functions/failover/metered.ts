// Failover's figures, taken where the evidence is already produced: a Reporter that counts
// what it reports (switches, refusals, unavailable terms, completions), and the switch
// hook that times detection from the pods the decision was made on. Only what the API
// server returned is used: the Service as written, and the pods as listed.
import type { Keys } from '../../shared/keys.js';
import { readRecord } from '../../shared/record.js';
import type { Metrics } from '../../shared/metrics/metrics.js';
import type { Plan, PodView, ServiceView } from './core/model.js';
import type { Reporter } from './report.js';

type SwitchPlan = Extract<Plan, { kind: 'switch' }>;


/** The same reports, each also counted (switches, refusals, unavailable terms, hook calls, completions). A report is counted once it is due, whether or not its delivery succeeds. */
export function meteredReporter(reporter: Reporter, metrics: Metrics, keys: Keys): Reporter {
  return {
    ...reporter,
    switched: (service, plan, now) => {
      metrics.switched(plan.reason, service);
      return reporter.switched(service, plan, now);
    },
    refused: (service, plan) => {
      metrics.refused(service);
      return reporter.refused(service, plan);
    },
    unavailable: (service, plan, candidates) => {
      metrics.unavailable(service);
      return reporter.unavailable(service, plan, candidates);
    },
    hook: (service, h) => {
      metrics.hookCalled(h.call.hook, h.result.outcome);
      return reporter.hook(service, h);
    },
    completed: (service, completion) => {
      // Completion is recorded once per term on the Service (a guarded write), so of all
      // the instances that see it, exactly one gets here for each term.
      metrics.completed(readRecord(service, keys).reason ?? 'unknown', (completion.observedAt - completion.decidedAt) / 1000, service);
      return reporter.completed(service, completion);
    },
  };
}

/**
 * For a failover: how long traffic had no ready active while a healthy candidate existed,
 * up to the decision. That span starts at the later of the old active turning not ready
 * and the new active turning ready (both from the pods' Ready conditions as listed), and
 * ends at `now`, the decision. Undefined when it cannot be told: not a failover, the old
 * active gone from the list or still ready (deleted, failed), or a condition without a
 * time. The API server keeps those times to the second, so this is up to 1 s long.
 */
export function detectionMs(plan: SwitchPlan, pods: readonly PodView[], now: number): number | undefined {
  if (plan.reason !== 'failover' || plan.from === undefined) return undefined;
  const from = plan.from;
  const old = pods.find((p) => p.uid === from.uid);
  const next = pods.find((p) => p.uid === plan.to.uid);
  if (old === undefined || old.ready || old.readyChangedAt === undefined) return undefined;
  const start = Math.max(old.readyChangedAt, next?.readySince ?? old.readyChangedAt);
  return Math.max(0, now - start);
}

export function switchMetrics(metrics: Metrics): (service: ServiceView, plan: SwitchPlan, pods: readonly PodView[], now: number) => void {
  return (service, plan, pods, now) => {
    const ms = detectionMs(plan, pods, now);
    if (ms !== undefined) metrics.detected(ms / 1000, service);
  };
}
