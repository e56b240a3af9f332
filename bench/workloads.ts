// The objects each scenario puts on the plane. Pods get a label naming themselves at
// creation time where an approach selects single pods (the ideal watcher), so no
// setup write happens inside a measured window.
import type { Api, PodLike } from './api.js';
import { isReady } from './api.js';
import { mapLimit, poll } from './util.js';

export async function createNamespace(api: Api, name: string): Promise<void> {
  await api.create('/api/v1/namespaces', { metadata: { name, labels: { 'bench.baton.dev/run': 'true' } } });
}

/** A Deployment of `replicas` pods labelled app=<name>; resolves with their names once all are ready. */
export async function createDeployment(api: Api, namespace: string, name: string, replicas: number, timeoutMs = 60_000): Promise<string[]> {
  await api.create(`/apis/apps/v1/namespaces/${namespace}/deployments`, {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } },
    },
  });
  return waitReadyPods(api, namespace, `app=${name}`, replicas, timeoutMs);
}

export async function waitReadyPods(api: Api, namespace: string, selector: string, count: number, timeoutMs: number): Promise<string[]> {
  return poll(
    `${count} ready pods (${selector}) in ${namespace}`,
    async () => {
      const list = await api.get<{ items: PodLike[] }>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
      const ready = list.items.filter(isReady).map((p) => p.metadata.name).sort();
      return ready.length === count ? ready : undefined;
    },
    timeoutMs,
    100,
  );
}

/** Bare pods (no controller): cheaper than Deployments when hundreds are needed. */
export async function createPods(api: Api, namespace: string, pods: ReadonlyArray<{ name: string; labels: Record<string, string> }>, concurrency = 16): Promise<void> {
  await mapLimit(pods, concurrency, (p) =>
    api.create(`/api/v1/namespaces/${namespace}/pods`, {
      metadata: { name: p.name, labels: p.labels },
      spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] },
    }),
  );
}

export async function createService(
  api: Api,
  namespace: string,
  name: string,
  selector: Record<string, string>,
  labels: Record<string, string> = {},
): Promise<void> {
  await api.create(`/api/v1/namespaces/${namespace}/services`, {
    metadata: { name, labels },
    spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

export async function labelPod(api: Api, namespace: string, pod: string, labels: Record<string, string>): Promise<void> {
  await api.patch(`/api/v1/namespaces/${namespace}/pods/${pod}`, { metadata: { labels } }, 'merge');
}
