// What a caller may configure on an EndpointsBalancer, the checks that keep every bound
// meaningful, and where the kubeconfig comes from by default.
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import type { Backoff } from '../k8s/watch.js';
import type { PortSelector } from './model.js';
import type { BalancerMetrics } from './metrics.js';

// The balancer takes its metrics hook with its other options.
export { guardMetrics, hinted, type BalancerMetrics } from './metrics.js';

export interface BalancerOptions {
  readonly namespace: string;
  readonly service: string;
  /** See PortSelector: a Service port name, or the number of the port on the pods. Default: the only port. */
  readonly port?: PortSelector;
  /**
   * A kubeconfig file or a loaded KubeConfig. Default: the pod's ServiceAccount when
   * running in a cluster (KUBERNETES_SERVICE_HOST is set), else $KUBECONFIG or ~/.kube/config.
   */
  readonly kubeconfig?: string | k8s.KubeConfig;
  /** Deadline of each list/read request. Default 5000. */
  readonly requestTimeoutMs?: number;
  /** The server ends each watch after this long and the balancer resumes it. Default 300. */
  readonly watchTimeoutSeconds?: number;
  /** A watch silent for this long (no event, no bookmark) is presumed dead. Default 90000. */
  readonly watchIdleMs?: number;
  /** Retry delays after failed requests. Default 100 ms doubling to 5 s, jittered. */
  readonly backoff?: Backoff;
  /**
   * The longest a failover hint may act, from its arrival: narrow traffic to its pod, or
   * (a hint the Service record confirms) hold traffic back until that pod shows in the
   * slices. After it the slices alone decide. Default 2000, at most 10000.
   */
  readonly hintTimeoutMs?: number;
  /** baton's label and annotation prefix (its BATON_PREFIX), where the balancer reads the Service's term. Default "baton.dev". */
  readonly prefix?: string;
  /** Optional callbacks for the application's metrics (see metrics.ts); none by default. */
  readonly metrics?: BalancerMetrics;
}

/** The longest hintTimeoutMs accepted: the bound on what a forged hint can do must stay short whatever the configuration. */
const MAX_HINT_TIMEOUT_MS = 10_000;

const durations = z.object({
  requestTimeoutMs: z.number().int().positive().optional(),
  watchTimeoutSeconds: z.number().int().positive().optional(),
  watchIdleMs: z.number().int().positive().optional(),
  hintTimeoutMs: z.number().int().min(0).max(MAX_HINT_TIMEOUT_MS).optional(),
  // A DNS subdomain, as a label prefix must be.
  prefix: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
    .optional(),
});

/** Rejects options that would make a bound meaningless (NaN, negative, a hint window without end). */
export function checkOptions(options: BalancerOptions): void {
  const parsed = durations.safeParse(options);
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  const name = issue.path.join('.');
  throw new RangeError(`EndpointsBalancer option ${name}: ${issue.message} (got ${String((options as unknown as Record<string, unknown>)[name])})`);
}

export function loadKubeConfig(source: string | k8s.KubeConfig | undefined): k8s.KubeConfig {
  if (source instanceof k8s.KubeConfig) return source;
  const kc = new k8s.KubeConfig();
  if (typeof source === 'string') kc.loadFromFile(source);
  else if (process.env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}
