// The balancer's figures in prom-client, for an application that uses both. Kept out of
// the balancer library (shared/balancer), which depends on no metrics library.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EndpointsBalancer } from '../balancer/balancer.js';
import type { BalancerMetrics } from '../balancer/metrics.js';

export interface PromBalancerMetrics {
  /** Pass as the balancer's `metrics` option: picks and hints. */
  readonly hooks: BalancerMetrics;
  /** Follows the balancer's endpoint changes and sync errors (its onChange and onError); returns an unsubscribe function. */
  follow(balancer: EndpointsBalancer): () => void;
}

/** One balancer's figures, registered in `registry`, labelled with its Service. */
export function promBalancerMetrics(registry: Registry, service: { namespace: string; name: string }): PromBalancerMetrics {
  const labels = { namespace: service.namespace, service: service.name };
  // Several balancers share one registry: the second finds the families the first made.
  const counter = (name: string, help: string, labelNames: string[]): Counter =>
    (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
  const picks = counter('baton_balancer_picks_total', 'next() calls, by result (endpoint or none).', ['namespace', 'service', 'result']);
  const hints = counter('baton_balancer_hints_total', 'Failover hints from audit events, by result.', ['namespace', 'service', 'result']);
  const errors = counter('baton_balancer_sync_errors_total', 'Failed requests of the background sync.', ['namespace', 'service']);
  const endpoints =
    (registry.getSingleMetric('baton_balancer_endpoints') as Gauge | undefined) ??
    new Gauge({ name: 'baton_balancer_endpoints', help: 'Endpoints the balancer rotates over.', labelNames: ['namespace', 'service'], registers: [registry] });
  return {
    hooks: {
      picked: (ok) => picks.inc({ ...labels, result: ok ? 'endpoint' : 'none' }),
      hint: (result) => hints.inc({ ...labels, result }),
    },
    follow: (balancer) => {
      const offChange = balancer.onChange((list) => endpoints.set(labels, list.length));
      const offError = balancer.onError(() => errors.inc(labels));
      return () => {
        offChange();
        offError();
      };
    },
  };
}
