import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, startProcess, stopProcess, tail, type ProcessRecord } from './processes.js';
import { waitFor } from './wait.js';

export interface WatchedResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly selector?: string;
}

/** What baton's functions consume: Pods, EndpointSlices, Services and Nodes (cordons; cluster-scoped, so watched whatever the namespaces). */
export const BATON_RESOURCES: readonly WatchedResource[] = [
  { group: '', version: 'v1', resource: 'pods' },
  { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
  { group: '', version: 'v1', resource: 'services' },
  { group: '', version: 'v1', resource: 'nodes' },
];

export interface AdapterOptions {
  readonly binary: string;
  readonly kubeconfig: string;
  readonly sink: string;
  readonly logDir: string;
  /** Namespaces to watch; empty or absent = all namespaces. */
  readonly namespaces?: readonly string[];
  readonly resources?: readonly WatchedResource[];
  readonly name?: string;
  /** Extra environment (e.g. K_SINK_TIMEOUT). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RunningAdapter {
  readonly record: ProcessRecord;
  stop(): Promise<void>;
}

/** The adapter's K_SOURCE_CONFIG: its Go struct has no JSON tags on the GVR, hence the capitals. */
export function sourceConfig(namespaces: readonly string[], resources: readonly WatchedResource[]): string {
  return JSON.stringify({
    namespaces: [...namespaces],
    allNamespaces: namespaces.length === 0,
    resources: resources.map((r) => ({
      gvr: { Group: r.group, Version: r.version, Resource: r.resource },
      ...(r.selector ? { selector: r.selector } : {}),
    })),
    mode: 'Resource',
  });
}

/**
 * Runs the real Knative ApiServerSource receive adapter out of cluster, in Resource
 * mode, sending to `sink`. Resolves once its watches are established (it logs that),
 * so callers know that later changes will be delivered.
 */
export async function startAdapter(options: AdapterOptions): Promise<RunningAdapter> {
  mkdirSync(options.logDir, { recursive: true });
  const name = options.name ?? 'baton-source';
  const log = join(options.logDir, `${name}-${Date.now()}.log`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: options.kubeconfig,
    NAME: name,
    NAMESPACE: 'default',
    K_SINK: options.sink,
    K_SOURCE_CONFIG: sourceConfig(options.namespaces ?? [], options.resources ?? BATON_RESOURCES),
    K_LOGGING_CONFIG: '{}',
    K_OBSERVABILITY_CONFIG: '{}',
    ...options.env,
  };
  const record = startProcess(name, options.binary, [], { log, env });
  try {
    await waitFor(
      'the ApiServerSource adapter to start its watches',
      () => {
        if (!isAlive(record)) throw new Error(`the adapter exited:\n${tail(log)}`);
        return /Starting|started|Informer|watch/i.test(tail(log, 200)) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (error) {
    await stopProcess(record, 2_000);
    throw error;
  }
  return { record, stop: () => stopProcess(record, 5_000) };
}
