import * as k8s from '@kubernetes/client-node';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

/** A Deployment of `replicas` pods labelled app=<name>, and a Service selecting them. */
export async function createDeployment(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  replicas: number,
  {
    serviceLabels = {},
    headless = false,
    podLabels = { app: name },
    service = true,
  }: { serviceLabels?: Record<string, string>; headless?: boolean; podLabels?: Record<string, string>; service?: boolean } = {},
): Promise<void> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: podLabels },
        template: { metadata: { labels: podLabels }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } },
      },
    },
  });
  if (service) await createService(kc, namespace, name, podLabels, { labels: serviceLabels, headless });
}

export async function createStatefulSet(kc: k8s.KubeConfig, namespace: string, name: string, replicas: number): Promise<void> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  await apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        serviceName: name,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } },
      },
    },
  });
}

export async function createService(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  selector: Record<string, string>,
  { labels = {}, headless = false }: { labels?: Record<string, string>; headless?: boolean } = {},
): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).createNamespacedService({
    namespace,
    body: {
      metadata: { name, labels },
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...(headless ? { clusterIP: 'None' } : {}) },
    },
  });
}

/** Sets the pod's Ready condition as a kubelet's readiness probe would. */
export async function setPodReady(kc: k8s.KubeConfig, namespace: string, name: string, ready: boolean): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedPodStatus(
    {
      name,
      namespace,
      body: { status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date() }] } },
    },
    strategic,
  );
}

export async function labelService(kc: k8s.KubeConfig, namespace: string, name: string, labels: Record<string, string | null>): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedService({ name, namespace, body: { metadata: { labels } } }, merge);
}

export async function annotateService(kc: k8s.KubeConfig, namespace: string, name: string, annotations: Record<string, string | null>): Promise<void> {
  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedService({ name, namespace, body: { metadata: { annotations } } }, merge);
}

/** Pod names behind a Service, split by the EndpointSlice `ready` condition. */
export async function readyEndpoints(kc: k8s.KubeConfig, namespace: string, service: string): Promise<{ ready: string[]; notReady: string[] }> {
  const slices = await kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
  const ready: string[] = [];
  const notReady: string[] = [];
  for (const slice of slices.items) {
    for (const e of slice.endpoints ?? []) {
      const name = e.targetRef?.name ?? e.addresses[0] ?? '?';
      (e.conditions?.ready === true ? ready : notReady).push(name);
    }
  }
  return { ready: ready.sort(), notReady: notReady.sort() };
}
