// The local plane behaves like Kubernetes where baton depends on it: the EndpointSlice
// controller follows readiness, writes honour resourceVersion preconditions,
// ServiceAccount tokens are authorised by RBAC, the real adapter delivers changes,
// and Knative CRDs validate manifests in a server-side dry run.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startAdapter } from '../../plane/adapter.js';
import { kubeconfigYaml } from '../../plane/state.js';
import { waitFor } from '../../plane/wait.js';
import { adminConfig, statusOf, testNamespace, testPlane } from './support/plane.js';
import { startSink } from './support/sink.js';
import { createDeployment, readyEndpoints, setPodReady } from './support/workloads.js';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

test('a Deployment of 3 behind a Service gives 3 ready endpoints, and an unready pod stays unready', async (t) => {
  const ns = await testNamespace(t, 'cp-slices');
  const kc = adminConfig();
  await createDeployment(kc, ns, 'web', 3);
  const ready = await waitFor('3 ready endpoints', async () => {
    const r = await readyEndpoints(kc, ns, 'web');
    return r.ready.length === 3 ? r : undefined;
  });
  const victim = ready.ready[0]!;
  await setPodReady(kc, ns, victim, false);
  await waitFor(`${victim} to be not ready in the EndpointSlice`, async () => {
    const r = await readyEndpoints(kc, ns, 'web');
    return r.notReady.includes(victim) && r.ready.length === 2 ? true : undefined;
  });
  // kwok's stages only act on pods without an IP: nothing may revert the status patch.
  await new Promise((r) => setTimeout(r, 1500));
  const after = await readyEndpoints(kc, ns, 'web');
  assert.deepEqual(after.notReady, [victim]);
  const pod = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedPod({ name: victim, namespace: ns });
  assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  assert.match(pod.status?.podIP ?? '', /^198\.18\./);
});

test('a PATCH with a stale resourceVersion gets 409 Conflict', async (t) => {
  const ns = await testNamespace(t, 'cp-cas');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const created = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c' }, data: { v: '1' } } });
  const stale = created.metadata!.resourceVersion!;
  await core.patchNamespacedConfigMap({ name: 'c', namespace: ns, body: { data: { v: '2' } } }, merge);
  const error = await core
    .patchNamespacedConfigMap({ name: 'c', namespace: ns, body: { metadata: { resourceVersion: stale }, data: { v: '3' } } }, merge)
    .then(() => undefined, (e: unknown) => e);
  assert.equal(statusOf(error), 409);
  const now = await core.readNamespacedConfigMap({ name: 'c', namespace: ns });
  assert.equal(now.data?.v, '2');
});

test('a ServiceAccount token is denied without RBAC and allowed after a Role and RoleBinding', async (t) => {
  const ns = await testNamespace(t, 'cp-rbac');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'bot' } } });
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } } });
  const token = await core.createNamespacedServiceAccountToken({ name: 'bot', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 600 } } });
  const dir = mkdtempSync(join(tmpdir(), 'baton-sa-'));
  const plane = testPlane();
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigYaml(plane.server, plane.caFile, token.status!.token, 'bot'));
  const botConfig = new k8s.KubeConfig();
  botConfig.loadFromFile(join(dir, 'kubeconfig'));
  const bot = botConfig.makeApiClient(k8s.CoreV1Api);
  const patch = (): Promise<unknown> => bot.patchNamespacedPod({ name: 'p', namespace: ns, body: { metadata: { labels: { touched: 'yes' } } } }, merge);

  assert.equal(statusOf(await patch().then(() => undefined, (e: unknown) => e)), 403);

  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'pods' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] }] } });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: { metadata: { name: 'bot-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pods' }, subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: ns }] },
  });
  // RBAC caches refresh quickly but not instantly.
  await waitFor('the RoleBinding to take effect', () => patch().then(() => true, () => undefined), { timeoutMs: 10_000 });
  const pod = await core.readNamespacedPod({ name: 'p', namespace: ns });
  assert.equal(pod.metadata?.labels?.touched, 'yes');
});

test('a readiness change reaches an HTTP sink as a resource.update CloudEvent from the real adapter', async (t) => {
  const ns = await testNamespace(t, 'cp-adapter');
  const kc = adminConfig();
  const plane = testPlane();
  const sink = await startSink();
  t.after(() => sink.close());
  const adapter = await startAdapter({ binary: plane.binaries.paths.apiserver_receive_adapter, kubeconfig: plane.kubeconfig, sink: sink.url, logDir: join(plane.dir, 'logs'), namespaces: [ns] });
  t.after(() => adapter.stop());
  await createDeployment(kc, ns, 'app', 1);
  const { ready } = await waitFor('1 ready endpoint', async () => {
    const r = await readyEndpoints(kc, ns, 'app');
    return r.ready.length === 1 ? r : undefined;
  });
  const pod = ready[0]!;
  await setPodReady(kc, ns, pod, false);
  const event = await sink.waitFor(`an update event showing ${pod} Ready=False`, (e) => {
    if (e.type !== 'dev.knative.apiserver.resource.update' || e.subject !== `/apis/v1/namespaces/${ns}/pods/${pod}`) return false;
    const data = e.data as { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined;
    return data?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False') === true;
  });
  assert.equal(event['kind'], 'Pod');
  assert.equal((event.data as { metadata: { name: string } }).metadata.name, pod);
  assert.equal(event.source, plane.server);
});

test('server-side dry runs accept Knative manifests and reject malformed ones', async (t) => {
  const ns = await testNamespace(t, 'cp-crds');
  const plane = testPlane();
  const dir = mkdtempSync(join(tmpdir(), 'baton-dry-'));
  const good = `
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: { name: watch-pods, namespace: ${ns} }
spec:
  mode: Resource
  serviceAccountName: source
  resources: [{ apiVersion: v1, kind: Pod }]
  sink: { ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default } }
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: { name: fn, namespace: ${ns} }
spec:
  template:
    spec:
      containers: [{ image: example.com/fn:1 }]
`;
  const bad = `
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: { name: broken, namespace: ${ns} }
spec:
  resources: "not-a-list"
`;
  const kubectl = (file: string, body: string): ReturnType<typeof spawnSync> => {
    writeFileSync(join(dir, file), body);
    return spawnSync(plane.binaries.paths.kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '--dry-run=server', '-f', join(dir, file)], { encoding: 'utf8' });
  };
  const ok = kubectl('good.yaml', good);
  assert.equal(ok.status, 0, String(ok.stderr));
  assert.match(String(ok.stdout), /apiserversource.sources.knative.dev\/watch-pods created \(server dry run\)/);
  assert.match(String(ok.stdout), /service.serving.knative.dev\/fn created \(server dry run\)/);
  const rejected = kubectl('bad.yaml', bad);
  assert.notEqual(rejected.status, 0);
  assert.match(String(rejected.stderr), /spec\.resources/);
  const core = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  const list: unknown = await core.listNamespacedCustomObject({ group: 'sources.knative.dev', version: 'v1', namespace: ns, plural: 'apiserversources' });
  assert.equal((list as { items: unknown[] }).items.length, 0, 'a dry run must not create anything');
});

test('the Knative CRDs keep upstream\'s schema: a Trigger keeps its filter attributes', async (t) => {
  const ns = await testNamespace(t, 'cp-crd-schema');
  const custom = adminConfig().makeApiClient(k8s.CustomObjectsApi);
  // The attributes are an open map only through x-kubernetes-preserve-unknown-fields; a
  // schema without it prunes them to {} on write.
  await custom.createNamespacedCustomObject({
    group: 'eventing.knative.dev',
    version: 'v1',
    namespace: ns,
    plural: 'triggers',
    body: {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'kept' },
      spec: { broker: 'default', filter: { attributes: { type: 'dev.baton.failover.promoted' } }, subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'sub' } } },
    },
  });
  const read = (await custom.getNamespacedCustomObject({ group: 'eventing.knative.dev', version: 'v1', namespace: ns, plural: 'triggers', name: 'kept' })) as { spec: { filter: { attributes: Record<string, string> } } };
  assert.deepEqual(read.spec.filter.attributes, { type: 'dev.baton.failover.promoted' });
});
