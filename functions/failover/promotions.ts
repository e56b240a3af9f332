// The promote hook, made level-triggered. Core asks for a promote whenever the active
// lacks an acknowledged one for the current term (core/hooks.ts promoteDue); here those
// calls are spaced out and their answers recorded:
// - one call at a time per (Service, term, pod), and after it none until a pause has
//   passed (after a failure, doubling up to PROMOTE_MAX_BACKOFF_MS), so a broken hook is
//   not hammered by every event that leads to a look, nor a working one called twice by
//   a look that read the Service just before the acknowledgement was written. The back-off is this instance's own memory: it only
//   spaces calls out, it decides nothing, and a new instance starts without it;
// - a 2xx answer is recorded on the Service (`<prefix>/promoted-term`), with a write
//   guarded by its resourceVersion, and only while the Service still names that pod as
//   the active of that term: an acknowledgement never outlives its term.
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import { readRecord } from '../../shared/record.js';
import type { Cluster } from './cluster.js';
import type { HookCall, ServiceView } from './core/model.js';
import { callHook } from './hooks.js';
import type { ReconcileDeps } from './reconcile.js';
import { report } from './report.js';
import { patchService } from './writes.js';

export const PROMOTE_FIRST_BACKOFF_MS = 5_000;
export const PROMOTE_MAX_BACKOFF_MS = 300_000;
/** Promotes remembered at most; the oldest is forgotten first (its next look may call again). */
export const PROMOTE_TRACKED = 10_000;

export interface PromoteGate {
  /** True when a call for `key` may start now (none running, no back-off pending); marks it running. */
  begin(key: string, now: number): boolean;
  /**
   * The call for `key` ended. After a success there is still a pause of
   * PROMOTE_FIRST_BACKOFF_MS: a look that read the Service before the acknowledgement was
   * written (or whose write failed) must not call the pod again at once. After a failure
   * the pause doubles with each one.
   */
  end(key: string, ok: boolean, now: number): void;
}

export function createPromoteGate(limit = PROMOTE_TRACKED): PromoteGate {
  const entries = new Map<string, { running: boolean; failures: number; nextAt: number }>();
  return {
    begin(key, now) {
      const e = entries.get(key);
      if (e && (e.running || now < e.nextAt)) return false;
      entries.delete(key);
      entries.set(key, { running: true, failures: e?.failures ?? 0, nextAt: e?.nextAt ?? now });
      while (entries.size > limit) entries.delete(entries.keys().next().value ?? '');
      return true;
    },
    end(key, ok, now) {
      const e = entries.get(key);
      if (ok || !e) {
        entries.set(key, { running: false, failures: 0, nextAt: now + PROMOTE_FIRST_BACKOFF_MS });
        return;
      }
      const failures = e.failures + 1;
      entries.set(key, { running: false, failures, nextAt: now + Math.min(PROMOTE_MAX_BACKOFF_MS, PROMOTE_FIRST_BACKOFF_MS * 2 ** (failures - 1)) });
    },
  };
}

// One gate per API connection, that is per function process (tests: per fake cluster).
const gates = new WeakMap<Cluster, PromoteGate>();
function gateOf(cluster: Cluster): PromoteGate {
  let gate = gates.get(cluster);
  if (!gate) gates.set(cluster, (gate = createPromoteGate()));
  return gate;
}

/**
 * Calls the promote hook unless the gate holds it back, reports the outcome, and records
 * a 2xx answer on the Service. Fire and forget: a look never waits for a pod.
 */
export function promote(deps: ReconcileDeps, service: ServiceView, call: HookCall, decidedAt: number, effect: string): void {
  const gate = gateOf(deps.cluster);
  const key = `${service.uid}/${call.body.term}/${call.pod.uid}`;
  if (!gate.begin(key, deps.now())) return;
  const done = callHook(call, deps.hooks).then(async (result) => {
    const ok = result.outcome === 'ok';
    gate.end(key, ok, deps.now());
    report(deps.reporter.hook(service, { call, result, decidedAt, aborted: false, effect }));
    if (ok) await acknowledge(deps, service, call);
  });
  report(done.catch((error: unknown) => {
    gate.end(key, false, deps.now());
    deps.logger.warn({ service: `${service.namespace}/${service.name}`, err: error instanceof Error ? error.message : String(error) }, 'could not record the promote; a later look calls it again');
  }));
}

/** Records `call`'s term as acknowledged, reading again after a lost race, while the Service still names its pod for it. */
async function acknowledge(deps: ReconcileDeps, service: ServiceView, call: HookCall): Promise<void> {
  let basis = service;
  for (let attempt = 0; attempt <= deps.conflictRetries; attempt++) {
    const record = readRecord(basis, deps.keys);
    if (record.term !== call.body.term || record.activeUid !== call.pod.uid || record.promotedTerm === call.body.term) return;
    try {
      await patchService(deps, basis, { selector: basis.selector, annotations: { [deps.keys.promotedTerm]: String(call.body.term) } }, false);
      return;
    } catch (error) {
      if (error instanceof NotFoundError) return;
      if (!(error instanceof ConflictError)) throw error;
      basis = await deps.cluster.getService(service.namespace, service.name);
    }
  }
}
