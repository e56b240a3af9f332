// The failover function: CloudEvents from the ApiServerSource (Pods, EndpointSlices,
// Services) in; Service selector switches and audit events out.
import { createRuntime, serve } from '../../shared/runtime.js';
import { createInFlight, createPodEchoes } from '../../shared/failover/echo.js';
import { createRegistry } from '../../shared/failover/registry.js';
import { createReporter } from '../../shared/failover/report.js';
import { createFailoverHandler, echoObserver } from './handler.js';

export async function startFailover(env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; close(): Promise<void> }> {
  const runtime = await createRuntime('baton-failover', env);
  const { config, logger, cluster, keys, now } = runtime;
  const registry = createRegistry({ cluster, keys, namespaces: config.namespaces, logger, now });
  const reporter = createReporter({ cluster, emitter: runtime.emitter, logger, keys, now });
  const echoes = createPodEchoes();
  const inFlight = createInFlight();
  const observer = echoObserver(registry, echoes, inFlight);
  const handle = createFailoverHandler({
    cluster,
    keys,
    logger,
    reporter,
    registry,
    echoes,
    inFlight,
    observer,
    roleLabels: config.roleLabels,
    peers: (namespace) => registry.inNamespace(namespace),
    namespaces: config.namespaces,
    conflictRetries: config.conflictRetries,
    now,
  });
  let ready = false;
  const refresh = async (): Promise<void> => {
    try {
      await registry.refresh();
      ready = true;
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not refresh the index of opted-in services');
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh(), config.indexRefreshMs);
  timer.unref();
  const server = await serve(runtime, handle, () => ready, () => clearInterval(timer));
  return { url: server.url, close: () => (clearInterval(timer), server.close()) };
}
