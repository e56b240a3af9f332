// The routes function: Service and Ingress CloudEvents in; Ingresses for Services that
// declare a host, and audit events, out.
import { connectRoutes } from './api.js';
import { createRuntime, serve } from '../../shared/runtime.js';
import { DEFAULT_ROUTES_SOURCE } from '../../shared/audit/schemas.js';
import { createRouteIndex } from './route-index.js';
import { routeKeysFor } from './core/model.js';
import { reconcileRoutes, type RoutesDeps } from './reconcile.js';
import { createRouteReporter } from './report.js';
import { DENY_ALL } from '../../shared/config/host-policy.js';
import { createRoutesHandler } from './handler.js';
import { apiObserver } from '../../shared/metrics/http.js';
import { meteredRouteReporter, meteredRoutesApi } from './metered.js';

export async function startRoutes(env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; close(): Promise<void> }> {
  const runtime = await createRuntime({ name: 'baton-routes', auditSource: DEFAULT_ROUTES_SOURCE }, env);
  const { config, logger, now } = runtime;
  const keys = routeKeysFor(config.prefix);
  const { metrics } = runtime;
  const connected = await connectRoutes({ kubeConfig: runtime.kubeConfig, timeoutMs: config.apiTimeoutMs, component: 'baton-routes', keys, onRequest: metrics && apiObserver(metrics) });
  const api = metrics ? meteredRoutesApi(connected, metrics) : connected;
  const reported = createRouteReporter({ recordEvent: api.recordEvent, emitter: runtime.emitter, logger, now });
  const reporter = metrics ? meteredRouteReporter(reported, metrics) : reported;
  const deps: RoutesDeps = { api, keys, ingressClass: config.ingressClass, policy: config.routeHosts ?? DENY_ALL, namespaces: config.namespaces, index: createRouteIndex(keys), reporter, logger, conflictRetries: config.conflictRetries, now };
  let ready = false;
  // A full pass at start and then periodically: events say where to look sooner, but
  // a lost event must never leave a route wrong for longer than one period. Ready once
  // a pass has listed (the API answers and RBAC allows): the writes of a first pass over
  // thousands of routes must not hold readiness, nor keep the server from answering
  // liveness probes, so the server listens first and the pass runs beside it.
  const listed = (): void => void (ready = true);
  let running = false;
  const sweep = async (): Promise<void> => {
    // One pass at a time: a slow pass (many writes) must not overlap the next period's.
    if (running) return;
    running = true;
    const started = performance.now();
    try {
      const result = await reconcileRoutes(deps, 'all', listed);
      const ms = Math.round(performance.now() - started);
      if (result.outcome === 'conflicted') logger.warn({ ms }, `routes pass gave up: ${result.detail}; retrying at the next period`);
      else if (result.applied + result.removed > 0) logger.info({ ...result, ms }, 'routes pass changed Ingresses');
      else logger.debug({ ...result, ms }, 'routes pass');
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'routes pass failed; retrying at the next period');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), config.indexRefreshMs);
  timer.unref();
  const server = await serve(runtime, createRoutesHandler(deps), () => ready, () => clearInterval(timer));
  void sweep();
  return { url: server.url, close: () => (clearInterval(timer), server.close()) };
}
