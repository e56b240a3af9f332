// How a function's runtime turns the metrics knobs into a registry and a route.
import type { Config } from '../config/env.js';
import type { ServerOptions } from '../http/server.js';
import type { RunningServer } from '../http/listen.js';
import { deliveryObserver, listenMetrics, metricsPage } from './http.js';
import { createMetrics, type Metrics } from './metrics.js';

/** The metrics of a function named like "baton-failover" (label function="failover"), or undefined when off. */
export function metricsFor(config: Config, processName: string): Metrics | undefined {
  if (!config.metrics) return undefined;
  return createMetrics({ function: processName.replace(/^baton-/, ''), serviceLabels: config.metricsServiceLabels, processMetrics: true });
}

/** What the event server adds: the delivery observer, and /metrics unless it has a port of its own. */
export function serverMetrics(config: Config, metrics: Metrics | undefined): Pick<ServerOptions, 'onDelivery' | 'metricsPage'> {
  if (metrics === undefined) return {};
  return { onDelivery: deliveryObserver(metrics), ...(config.metricsPort === undefined ? { metricsPage: metricsPage(metrics) } : {}) };
}

/** The metrics' own listener when BATON_METRICS_PORT asks for one. */
export async function metricsListener(config: Config, metrics: Metrics | undefined): Promise<RunningServer | undefined> {
  if (metrics === undefined || config.metricsPort === undefined) return undefined;
  return listenMetrics(metrics, config.host, config.metricsPort);
}
