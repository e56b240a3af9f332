// The failover function: CloudEvents from the ApiServerSource (Pods, EndpointSlices,
// Services) in; Service selector switches and audit events out.
import { createRuntime, serve } from '../../shared/runtime.js';
import { createReporter } from './report.js';
import { createFailoverDeps, createFailoverHandler } from './handler.js';
import { DEFAULT_AUDIT_SOURCE } from '../../shared/audit/schemas.js';
import { keysFor, MODE_VALUE } from '../../shared/keys.js';
import { connect, serviceFeed } from './cluster.js';
import { apiObserver } from '../../shared/metrics/http.js';
import { meteredReporter, switchMetrics } from './metered.js';
import { cordonedNodeFeed } from './cordons.js';

export async function startFailover(env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; close(): Promise<void> }> {
  const runtime = await createRuntime({ name: 'baton-failover', auditSource: DEFAULT_AUDIT_SOURCE }, env);
  const { config, logger, now } = runtime;
  const { metrics } = runtime;
  const cluster = await connect({ kubeConfig: runtime.kubeConfig, timeoutMs: config.apiTimeoutMs, component: 'baton-failover', onRequest: metrics && apiObserver(metrics) });
  const keys = keysFor(config.prefix);
  const reported = createReporter({ cluster, emitter: runtime.emitter, logger, keys, now });
  const reporter = metrics ? meteredReporter(reported, metrics, keys) : reported;
  const deps = createFailoverDeps({ cluster, keys, logger, reporter, namespaces: config.namespaces, conflictRetries: config.conflictRetries, roleLabels: config.roleLabels, now, onSwitch: metrics && switchMetrics(metrics) });
  const { index } = deps;
  metrics?.knownServices(() => index.size);
  const handle = createFailoverHandler(deps);
  let ready = false;
  const refresh = async (): Promise<void> => {
    try {
      await index.refresh();
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not refresh the index of opted-in services');
    }
  };
  // The index follows the opted-in Services with a watch per configured namespace (or one
  // for all); the periodic re-list stays as a backstop for a watch that went quiet.
  const following = new AbortController();
  const selector = `${keys.mode}=${MODE_VALUE}`;
  const feeds = (config.namespaces.length === 0 ? [undefined] : config.namespaces).map((namespace) => ({
    namespace,
    source: serviceFeed({ kubeConfig: runtime.kubeConfig, labelSelector: selector, namespace, requestTimeoutMs: config.apiTimeoutMs }),
  }));
  const followed = index.follow(feeds, following.signal, (error) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'index watch failed; retrying'));
  // Which Nodes are cordoned: every decision reads it (cordons.ts), so no request is spent
  // on it per look. Readiness waits for the index only: without this list (say, RBAC
  // without `nodes`, logged at each retry) failover still works, short of cordon moves.
  const cordonsListed = deps.cordons.follow(cordonedNodeFeed({ kubeConfig: runtime.kubeConfig, requestTimeoutMs: config.apiTimeoutMs }), following.signal, (error) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'cordoned-node watch failed; retrying'));
  void followed.then(() => (ready = true));
  await Promise.race([Promise.all([followed, cordonsListed]), new Promise((resolve) => setTimeout(resolve, config.apiTimeoutMs).unref())]);
  const timer = setInterval(() => void refresh(), config.indexRefreshMs);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    following.abort();
  };
  const server = await serve(runtime, handle, () => ready, stop);
  return { url: server.url, close: () => (stop(), server.close()) };
}
