// The balancer's optional metrics hook: a set of callbacks the application wires to its
// own metrics library (shared/metrics/balancer.ts shows prom-client). The library itself
// depends on none; every callback is optional and runs synchronously on the balancer's
// path (next() included), so it must be cheap and must not throw.
import type { BalancerError } from './errors.js';

export interface BalancerMetrics {
  /** next() was called: an endpoint was returned (true) or it threw (false). */
  picked?(ok: boolean): void;
  /** The endpoints next() rotates over changed; how many there are now. */
  endpoints?(count: number): void;
  /** A failover hint from an audit event: "applied", or why it was not. */
  hint?(result: string): void;
  /** A request of the background sync failed (it retries on its own). */
  syncError?(error: BalancerError): void;
}

/**
 * The callbacks given, each made unable to throw into the balancer: a broken metrics
 * library must not take next() down with it. Absent callbacks stay absent (no call made).
 */
export function guardMetrics(metrics: BalancerMetrics | undefined): BalancerMetrics {
  if (metrics === undefined) return {};
  const guard =
    <A extends unknown[]>(fn: ((...args: A) => void) | undefined): ((...args: A) => void) | undefined =>
      fn === undefined
        ? undefined
        : (...args: A): void => {
            try {
              fn.apply(metrics, args);
            } catch {
              // A metrics failure is the application's to see in its metrics, not ours to raise.
            }
          };
  const guarded: { -readonly [K in keyof BalancerMetrics]: BalancerMetrics[K] } = {};
  const picked = guard(metrics.picked);
  const endpoints = guard(metrics.endpoints);
  const hint = guard(metrics.hint);
  const syncError = guard(metrics.syncError);
  if (picked) guarded.picked = picked;
  if (endpoints) guarded.endpoints = endpoints;
  if (hint) guarded.hint = hint;
  if (syncError) guarded.syncError = syncError;
  return guarded;
}
