// A kubeconfig for an application's own ServiceAccount with only what the balancer needs
// in its namespace: the RBAC the README documents for baton/balancer users.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { kubeconfigYaml } from '../../../plane/state.js';
import { adminConfig, testPlane } from './plane.js';

export const BALANCER_RULES: k8s.V1PolicyRule[] = [
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
];

/** Creates ServiceAccount `name` in `namespace`, bound to BALANCER_RULES there (or to nothing), and returns a kubeconfig path. */
export async function clientKubeconfig(namespace: string, name: string, { rules = BALANCER_RULES }: { rules?: k8s.V1PolicyRule[] } = {}): Promise<string> {
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  if (rules.length > 0) {
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ kind: 'ServiceAccount', name, namespace }] },
    });
  }
  const token = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const plane = testPlane();
  const dir = join(plane.dir, 'accounts');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${namespace}-${name}.kubeconfig`);
  writeFileSync(path, kubeconfigYaml(plane.server, plane.caFile, token.status!.token, name), { mode: 0o600 });
  return path;
}
