// The resync function: any CloudEvent (in a cluster, a PingSource tick) triggers one
// sweep; run locally, it also ticks on its own every BATON_RESYNC_INTERVAL_MS.
import { createRuntime, serve } from '../../../shared/runtime.js';
import { DEFAULT_AUDIT_SOURCE } from '../../../shared/audit/schemas.js';
import { keysFor } from '../../../shared/keys.js';
import { connect } from '../cluster.js';
import { createReporter } from '../report.js';
import { handled, retry } from '../../../shared/http/outcome.js';
import { sweep, type SweepSummary } from './sweep.js';
import { NO_ECHOES } from '../writes.js';
import { apiObserver } from '../../../shared/metrics/http.js';
import { meteredReporter, switchMetrics } from '../metered.js';

export async function startResync(env: NodeJS.ProcessEnv = process.env, { tick = false }: { tick?: boolean } = {}): Promise<{ url: string; close(): Promise<void> }> {
  // Resync decides as failover does, so its audit events share failover's source.
  const runtime = await createRuntime({ name: 'baton-resync', auditSource: DEFAULT_AUDIT_SOURCE }, env);
  const { config, logger, now } = runtime;
  const { metrics } = runtime;
  const cluster = await connect({ kubeConfig: runtime.kubeConfig, timeoutMs: config.apiTimeoutMs, component: 'baton-resync', onRequest: metrics && apiObserver(metrics) });
  const keys = keysFor(config.prefix);
  const reported = createReporter({ cluster, emitter: runtime.emitter, logger, keys, now });
  const reporter = metrics ? meteredReporter(reported, metrics, keys) : reported;
  const deps = { cluster, keys, logger, reporter, namespaces: config.namespaces, conflictRetries: config.conflictRetries, roleLabels: config.roleLabels, now, concurrency: 4, ownWrites: NO_ECHOES, onSwitch: metrics && switchMetrics(metrics) };
  // Ticks that arrive while a sweep runs share it instead of stacking up.
  let running: Promise<SweepSummary> | undefined;
  const once = (): Promise<SweepSummary> => {
    running ??= sweep(deps).finally(() => (running = undefined));
    return running;
  };
  const describe = (s: SweepSummary): string => `${s.services} services in ${s.durationMs} ms: ${JSON.stringify(s.outcomes)}${s.errors.length ? `; ${s.errors.length} errors: ${s.errors.slice(0, 3).join('; ')}` : ''}`;
  const handle = async (): Promise<ReturnType<typeof handled>> => {
    try {
      const summary = await once();
      logger.info({ ...summary, errors: summary.errors.slice(0, 10) }, 'sweep done');
      return handled(describe(summary));
    } catch (error) {
      return retry(5, `sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if (tick) {
    timer = setInterval(() => void handle(), config.resyncIntervalMs);
    timer.unref();
    void handle();
  }
  const server = await serve(runtime, handle, () => true, () => timer && clearInterval(timer));
  return { url: server.url, close: () => (timer && clearInterval(timer), server.close()) };
}
