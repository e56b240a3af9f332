// The balancer's metrics hook wired to prom-client, for an application that uses both.
// Kept out of the balancer library (shared/balancer), which depends on no metrics library.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BalancerMetrics } from '../balancer/metrics.js';

/** One balancer's figures, registered in `registry`; `service` becomes a constant label. */
export function promBalancerMetrics(registry: Registry, service: { namespace: string; name: string }): BalancerMetrics {
  const labels = { namespace: service.namespace, service: service.name };
  const find = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const picks = find('baton_balancer_picks_total', () => new Counter({ name: 'baton_balancer_picks_total', help: 'next() calls, by result (endpoint or none).', labelNames: ['namespace', 'service', 'result'], registers: [registry] }));
  const endpoints = find('baton_balancer_endpoints', () => new Gauge({ name: 'baton_balancer_endpoints', help: 'Endpoints the balancer rotates over.', labelNames: ['namespace', 'service'], registers: [registry] }));
  const hints = find('baton_balancer_hints_total', () => new Counter({ name: 'baton_balancer_hints_total', help: 'Failover hints from audit events, by result.', labelNames: ['namespace', 'service', 'result'], registers: [registry] }));
  const errors = find('baton_balancer_sync_errors_total', () => new Counter({ name: 'baton_balancer_sync_errors_total', help: 'Failed requests of the background sync.', labelNames: ['namespace', 'service'], registers: [registry] }));
  return {
    picked: (ok) => picks.inc({ ...labels, result: ok ? 'endpoint' : 'none' }),
    endpoints: (count) => endpoints.set(labels, count),
    hint: (result) => hints.inc({ ...labels, result }),
    syncError: () => errors.inc(labels),
  };
}
