// The balancer's optional metrics hook: callbacks the application wires to its own
// metrics library (shared/metrics/balancer.ts shows prom-client). The library itself
// depends on none. Endpoint changes and sync errors already have public callbacks
// (onChange, onError); these cover what does not: picks and hints. Each runs
// synchronously on the balancer's path (next() included), so it must be cheap.
import type { HintResult } from './balancer.js';

export interface BalancerMetrics {
  /** next() was called: an endpoint was returned (true) or it threw (false). */
  readonly picked?: (ok: boolean) => void;
  /** A failover hint from an audit event: "applied", or why it was not. */
  readonly hint?: (result: string) => void;
}

/**
 * The callbacks given, each made unable to throw into the balancer: a broken metrics
 * library must not take next() down with it. Absent callbacks stay absent (no call made).
 */
export function guardMetrics(metrics: BalancerMetrics | undefined): BalancerMetrics {
  const guard = <A extends unknown[]>(fn: ((...args: A) => void) | undefined): ((...args: A) => void) | undefined =>
    fn === undefined
      ? undefined
      : (...args: A): void => {
          try {
            fn(...args);
          } catch {
            // A metrics failure is the application's to see in its metrics, not ours to raise.
          }
        };
  const picked = guard(metrics?.picked);
  const hint = guard(metrics?.hint);
  return { ...(picked ? { picked } : {}), ...(hint ? { hint } : {}) };
}

/** Reports a hint's result and passes it on. */
export function hinted(metrics: BalancerMetrics, result: HintResult): HintResult {
  metrics.hint?.(result.applied ? 'applied' : result.reason);
  return result;
}
