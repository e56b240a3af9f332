// Start-up shared by every function: validated config, logger, API client, audit
// emitter, HTTP server and graceful shutdown. Functions supply only their handler.
import * as k8s from '@kubernetes/client-node';
import { createEmitter, type Emitter } from './audit/emit.js';
import { loadConfig, type Config } from './config/env.js';
import { ConfigError } from './config/errors.js';
import { createLogger, type Logger } from './log.js';
import type { Authenticator } from './http/auth.js';
import { listen, type RunningServer } from './http/listen.js';
import { createServer, type Handler } from './http/server.js';
import type { Metrics } from './metrics/metrics.js';
import { metricsFor, metricsListener, serverMetrics } from './metrics/setup.js';

export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  /** Each function opens its own API port on it. */
  readonly kubeConfig: k8s.KubeConfig;
  readonly emitter: Emitter;
  readonly now: () => number;
  /** How the container entry point loaded the code (functions/serve.ts), for the start-up log line. */
  readonly boot: string | undefined;
  /** Sender authentication (BATON_AUTH); undefined when off. */
  readonly authenticate: Authenticator | undefined;
  /** The function's metrics (BATON_METRICS); undefined when off. */
  readonly metrics: Metrics | undefined;
}

/** Reads config from the environment; a bad value ends the process with a message naming the variable. */
export function configOrExit(env: NodeJS.ProcessEnv): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`baton: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

export interface RuntimeIdentity {
  /** The process's name in logs and the component of its Kubernetes Events. */
  readonly name: string;
  /** The `source` of its audit events unless BATON_EVENT_SOURCE says otherwise. */
  readonly auditSource: string;
}

export async function createRuntime(identity: RuntimeIdentity, env: NodeJS.ProcessEnv = process.env, config: Config = configOrExit(env)): Promise<Runtime> {
  const { name } = identity;
  const logger = createLogger({ level: config.logLevel, name });
  const kubeConfig = new k8s.KubeConfig();
  // $KUBECONFIG when given; otherwise the pod's ServiceAccount, then ~/.kube/config.
  if (env.KUBECONFIG) kubeConfig.loadFromFile(env.KUBECONFIG);
  else kubeConfig.loadFromDefault();
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server || (env.KUBECONFIG === undefined && server === 'http://localhost:8080')) {
    throw new Error('no Kubernetes cluster configured: set KUBECONFIG, or run in a pod with a ServiceAccount');
  }
  const emitter = createEmitter({ sink: config.sink, source: config.eventSource ?? identity.auditSource, timeoutMs: config.apiTimeoutMs, logger, extensions: config.ceExtensions });
  const authenticate = await senderAuthentication(config, kubeConfig, logger);
  return { config, logger, kubeConfig, emitter, now: Date.now, boot: env.BATON_BOOT, authenticate, metrics: metricsFor(config, name) };
}

// The keys are fetched once now, so that a cluster without OIDC discovery (or a Role
// without access to it) shows in the start-up log rather than at the first delivery.
// Failing is not fatal: deliveries get 503 and are retried until the keys can be had.
//
// The modules (and jose) are loaded only when authentication is on, so a function
// without it neither evaluates them at start nor keeps them in its capped heap.
async function senderAuthentication(config: Config, kubeConfig: k8s.KubeConfig, logger: Logger): Promise<Authenticator | undefined> {
  if (config.authMode === 'off' || config.authAudience === undefined) return undefined;
  const [{ createAuthenticator }, { apiServerFetcher, createKeySource }] = await Promise.all([import('./http/auth.js'), import('./http/oidc.js')]);
  const keys = createKeySource({ fetchJson: apiServerFetcher(kubeConfig, config.apiTimeoutMs), logger });
  try {
    await keys.current();
  } catch (error) {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'cannot fetch the token signing keys from the API server; deliveries get 503 until it can');
  }
  logger.info({ mode: config.authMode, audience: config.authAudience, subjects: config.authSubjects }, 'sender authentication on');
  return createAuthenticator({ mode: config.authMode, audience: config.authAudience, subjects: config.authSubjects, keys });
}

/** Serves `handle` until SIGTERM/SIGINT, then drains in-flight requests and exits. */
export async function serve(runtime: Runtime, handle: Handler, ready: () => boolean, onStop: () => void = () => {}): Promise<RunningServer> {
  const app = createServer({ handle, logger: runtime.logger, bodyLimit: runtime.config.bodyLimit, ready, ...(runtime.authenticate ? { authenticate: runtime.authenticate } : {}), ...serverMetrics(runtime.config, runtime.metrics) });
  const server = await listen(app, { host: runtime.config.host, port: runtime.config.port });
  const metricsServer = await metricsListener(runtime.config, runtime.metrics);
  if (metricsServer) runtime.logger.info({ url: `${metricsServer.url}/metrics` }, 'metrics on their own port');
  runtime.logger.info({ url: server.url, ...(runtime.boot ? { boot: runtime.boot } : {}), uptimeMs: Math.round(process.uptime() * 1000) }, 'listening');
  const stop = (signal: string): void => {
    runtime.logger.info({ signal }, 'shutting down');
    onStop();
    void Promise.all([server.close(), metricsServer?.close()]).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (metricsServer === undefined) return server;
  // close() ends both listeners, so a test (or a caller) that stops the function stops all of it.
  return { ...server, get closing() { return server.closing; }, close: () => Promise.all([server.close(), metricsServer.close()]).then(() => undefined) };
}
