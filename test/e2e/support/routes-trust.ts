// Host routing that tenants cannot bend, end to end (issue 18): the retired load
// balancer's annotation read as its users meant it, the cluster admin's host policy
// against a tenant under its own RBAC, and each defect a review found, shown through
// HTTP, the real adapter and the shipped RBAC on the local plane.
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../../plane/wait.js';
import { adminConfig, statusOf, testPlane } from './plane.js';
import { describeRequest, requestsSince, serviceAccountUser } from '../../chaos/auditlog.js';
import { type ObjectLike } from '../../chaos/forge.js';

export const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

// Forged objects: any shape the test wants to claim.
export const object = (o: Record<string, unknown> & { metadata: object }): ObjectLike => o;

export const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

export const MANAGED = { 'app.kubernetes.io/managed-by': 'baton' };

export const ROUTES_USER = serviceAccountUser('baton-routes');

export function clients(kc: k8s.KubeConfig = adminConfig()) {
  return { core: kc.makeApiClient(k8s.CoreV1Api), net: kc.makeApiClient(k8s.NetworkingV1Api) };
}

export function kubeconfigFrom(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export async function readIngress(namespace: string, name: string): Promise<k8s.V1Ingress | undefined> {
  return clients().net.readNamespacedIngress({ name, namespace }).catch((e: unknown) => {
    if (statusOf(e) === 404) return undefined;
    throw e;
  });
}

export const ingressIn = (namespace: string, name: string, ok: (i: k8s.V1Ingress) => boolean = () => true): Promise<k8s.V1Ingress> =>
  waitFor(`Ingress ${namespace}/${name}`, async () => {
    const i = await readIngress(namespace, name);
    return i && ok(i) ? i : undefined;
  }, { timeoutMs: 20_000 });

export async function events(namespace: string, name: string, reason: string): Promise<k8s.CoreV1Event[]> {
  return (await clients().core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},reason=${reason}` })).items;
}

export const eventOn = (namespace: string, name: string, reason: string, match: RegExp = /./): Promise<k8s.CoreV1Event> =>
  waitFor(`a ${reason} Event on ${namespace}/${name}`, async () => (await events(namespace, name, reason)).find((e) => match.test(e.message ?? '')), { timeoutMs: 20_000 });

export function service(namespace: string, name: string, annotations: Record<string, string>, ports: k8s.V1ServicePort[] = [{ name: 'http', port: 80 }], core = clients().core): Promise<k8s.V1Service> {
  return core.createNamespacedService({ namespace, body: { metadata: { name, annotations }, spec: { selector: { app: name }, ports } } });
}

/** Resolves once the function has listed Services `passes` more times: whole passes seen by the API server, not by a clock. */

export async function passes(from: number, count: number, namespaces: number): Promise<void> {
  await waitFor(`${count} more routing passes`, () => (requestsSince(testPlane().dir, from, ROUTES_USER).filter((r) => describeRequest(r) === 'list services').length >= count * namespaces ? true : undefined), {
    timeoutMs: 30_000,
  });
}

export const rule = (i: k8s.V1Ingress) => i.spec!.rules![0]!;
