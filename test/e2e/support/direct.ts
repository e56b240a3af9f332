// Direct mode on the local plane: a Deployment whose containers name their port, and a
// Service without a selector that names its pods with `baton.dev/pods`.
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../../plane/wait.js';

export const POD_IP_CHECK = /^\d+\.\d+\.\d+\.\d+$/;
export const SLICE_MANAGER = 'baton.dev';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** `replicas` pods labelled app=<name>, each container declaring port 8080 as "http". */
export async function createNamedPortDeployment(kc: k8s.KubeConfig, namespace: string, name: string, replicas: number): Promise<void> {
  await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ name: 'http', containerPort: 8080 }] }] } },
      },
    },
  });
}

/** A Service in direct mode: no selector, the opt-in label, `baton.dev/pods`. */
export async function createDirectService(kc: k8s.KubeConfig, namespace: string, name: string, pods: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; selector?: Record<string, string> } = {}): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).createNamespacedService({
    namespace,
    body: {
      metadata: { name, labels: { 'baton.dev/mode': 'active-standby', ...(extra.labels ?? {}) }, annotations: { 'baton.dev/pods': pods, ...(extra.annotations ?? {}) } },
      spec: { ports: [{ name: 'web', port: 80, targetPort: 'http' }], ...(extra.selector ? { selector: extra.selector } : {}) },
    },
  });
}

export async function readSlice(kc: k8s.KubeConfig, namespace: string, name: string): Promise<k8s.V1EndpointSlice | undefined> {
  return kc.makeApiClient(k8s.DiscoveryV1Api).readNamespacedEndpointSlice({ name, namespace }).catch((e: unknown) => {
    if (e && typeof e === 'object' && 'code' in e && e.code === 404) return undefined;
    throw e;
  });
}

/** Waits until baton's slice of the Service shows `check` true; returns it. */
export function sliceWhere(kc: k8s.KubeConfig, namespace: string, service: string, what: string, check: (s: k8s.V1EndpointSlice) => boolean, timeoutMs = 15_000): Promise<k8s.V1EndpointSlice> {
  return waitFor(
    `${service}-baton: ${what}`,
    async () => {
      const s = await readSlice(kc, namespace, `${service}-baton`);
      return s && check(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 25 },
  );
}

export async function patchService(kc: k8s.KubeConfig, namespace: string, name: string, body: object): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedService({ name, namespace, body }, merge);
}

export async function eventsWith(core: k8s.CoreV1Api, namespace: string, service: string, reason: string): Promise<k8s.CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${service},involvedObject.kind=Service` });
  return list.items.filter((e) => e.reason === reason);
}

export function waitForEvent(core: k8s.CoreV1Api, namespace: string, service: string, reason: string): Promise<k8s.CoreV1Event> {
  return waitFor(`a ${reason} Event on ${service}`, async () => (await eventsWith(core, namespace, service, reason))[0], { timeoutMs: 15_000 });
}
