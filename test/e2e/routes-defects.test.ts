// Host routing that tenants cannot bend, end to end (issue 18): the retired load
// balancer's annotation read as its users meant it, the cluster admin's host policy
// against a tenant under its own RBAC, and each defect a review found, shown through
// HTTP, the real adapter and the shipped RBAC on the local plane.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { startRoutesPipeline } from './support/baton.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, statusOf, testNamespace, testPlane } from './support/plane.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince } from '../chaos/auditlog.js';
import { deliver, resourceEvent } from '../chaos/forge.js';
import { object, MANAGED, ROUTES_USER, clients, kubeconfigFrom, readIngress, ingressIn, eventOn, service, passes } from './support/routes-trust.js';

test('routes defect: one route the API server refuses does not stop the others (or readiness)', async (t) => {
  const ns = await testNamespace(t, 'routes-isolate');
  // A second namespace where admission refuses baton's Ingress (as a webhook, a quota or
  // a namespace being deleted would); its keys sort first, so its route is written first
  // in every pass.
  const blocked = await testNamespace(t, `${ns}-q`);
  const admission = adminConfig().makeApiClient(k8s.AdmissionregistrationV1Api);
  const name = `baton-e2e-refuse-${randomBytes(3).toString('hex')}`;
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: ['networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['ingresses'] }] },
        validations: [{ expression: "!has(object.spec.rules) || object.spec.rules.all(r, !has(r.host) || r.host != 'refused.example.com')", message: 'refused.example.com may not be routed here' }],
      },
    },
  });
  t.after(async () => {
    await admission.deleteValidatingAdmissionPolicy({ name }).catch(() => undefined);
  });
  await admission.createValidatingAdmissionPolicyBinding({
    body: { metadata: { name }, spec: { policyName: name, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': blocked } } } } },
  });
  t.after(async () => {
    await admission.deleteValidatingAdmissionPolicyBinding({ name }).catch(() => undefined);
  });
  const { net } = clients();
  // Policies take effect asynchronously: probe with a dry run until one is refused.
  await waitFor('the admission policy to be in force', async () => {
    const probe = { metadata: { name: 'probe' }, spec: { rules: [{ host: 'refused.example.com' }] } };
    return net.createNamespacedIngress({ namespace: blocked, body: probe, dryRun: 'All' }).then(
      () => undefined,
      (e: unknown) => (statusOf(e) === 403 || statusOf(e) === 422 ? true : undefined),
    );
  }, { timeoutMs: 20_000 });
  await service(blocked, 'aaa', { 'baton.dev/host': 'refused.example.com' });
  await service(ns, 'web', { 'baton.dev/host': 'web.example.com' });
  // The function starts with both routes to write: the refused one must neither abort the
  // start-up pass (readiness) nor the other route.
  await startRoutesPipeline(t, ns, { BATON_NAMESPACES: `${ns},${blocked}`, BATON_INDEX_REFRESH_MS: '1000', BATON_ROUTE_HOSTS: 'off' });
  await ingressIn(ns, 'baton-web');
  const failed = await eventOn(blocked, 'aaa', 'RouteFailed', /refused\.example\.com may not be routed here/);
  assert.equal(failed.type, 'Warning');
  assert.equal(await readIngress(blocked, 'baton-aaa'), undefined);
  // An encoded "/" in a path, which the API server would refuse, is caught before any write.
  await service(ns, 'encoded', { 'baton.dev/host': 'enc.example.com', 'baton.dev/path': '/a%2fb' });
  await eventOn(ns, 'encoded', 'InvalidRoute', /encoded "\/"/);
  // Later routes still get through.
  await service(ns, 'later', { 'baton.dev/host': 'later.example.com' });
  await ingressIn(ns, 'baton-later');
});

test('routes defect: a hand-made Ingress with a forged claim time does not take a served host', async (t) => {
  const ns = await testNamespace(t, 'routes-victim');
  const thiefNs = await testNamespace(t, 'routes-thief');
  const from = auditOffset(testPlane().dir);
  await startRoutesPipeline(t, ns, { BATON_NAMESPACES: `${ns},${thiefNs}`, BATON_INDEX_REFRESH_MS: '1000', BATON_ROUTE_HOSTS: 'off' });
  await service(ns, 'web', { 'baton.dev/host': 'shop.example.com' });
  const served = await ingressIn(ns, 'baton-web');

  // The thief may create Services and Ingresses in its own namespace, nothing more.
  const thief = clients(kubeconfigFrom(await clientKubeconfig(thiefNs, 'thief', {
    rules: [
      { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'create', 'update', 'patch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'create', 'update', 'patch'] },
    ],
  })));
  // Creation times have a resolution of one second; the victim's route is older than
  // the theft by at least that, as it would be in life.
  const servedAt = served.metadata!.creationTimestamp!.getTime();
  await waitFor('the clock to pass the victim\'s creation second', () => (Date.now() >= servedAt + 1_100 ? true : undefined));
  const decoy = await service(thiefNs, 'web', { 'baton.dev/host': 'shop.example.com' }, undefined, thief.core);
  await thief.net.createNamespacedIngress({
    namespace: thiefNs,
    body: {
      metadata: {
        name: 'baton-web',
        labels: MANAGED,
        annotations: { 'baton.dev/claimed-at': '2000-01-01T00:00:00.000Z' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: decoy.metadata!.uid!, controller: true }],
      },
      spec: { rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    },
  });
  const mark = auditOffset(testPlane().dir);
  await passes(mark, 3, 2);
  const after = await readIngress(ns, 'baton-web');
  assert.equal(after?.metadata?.uid, served.metadata!.uid, 'the victim keeps its Ingress');
  const deletes = acceptedWrites(requestsSince(testPlane().dir, from, ROUTES_USER)).filter((r) => r.verb === 'delete').map((r) => `${r.namespace}/${r.name}`);
  assert.ok(!deletes.includes(`${ns}/baton-web`), `baton deleted the victim's Ingress: ${deletes.join(', ')}`);
  await eventOn(thiefNs, 'web', 'RouteConflict', new RegExp(`it belongs to Service ${ns}/web`));
});

test('routes defect: /api and /api/ on one host are one claim', async (t) => {
  const ns = await testNamespace(t, 'routes-slash');
  await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });
  await service(ns, 'first', { 'baton.dev/host': 'h.example.com', 'baton.dev/path': '/api' });
  await ingressIn(ns, 'baton-first');
  await service(ns, 'second', { 'baton.dev/host': 'h.example.com', 'baton.dev/path': '/api/' });
  await eventOn(ns, 'second', 'RouteConflict', new RegExp(`no route for h\\.example\\.com/api/: it belongs to Service ${ns}/first`));
  assert.equal(await readIngress(ns, 'baton-second'), undefined);
});

test('routes defect: no endless re-applies when the API server fills in the default IngressClass', async (t) => {
  const ns = await testNamespace(t, 'routes-defclass');
  const className = `baton-e2e-default-${randomBytes(3).toString('hex')}`;
  const net = clients().net;
  await net.createIngressClass({ body: { metadata: { name: className, annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'example.com/none' } } });
  t.after(async () => {
    await net.deleteIngressClass({ name: className }).catch(() => undefined);
  });
  await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '1000', BATON_ROUTE_HOSTS: 'off' });
  await service(ns, 'web', { 'baton.dev/host': 'web.example.com' });
  const created = await ingressIn(ns, 'baton-web', (i) => i.spec?.ingressClassName !== undefined);
  assert.equal(created.spec!.ingressClassName, className, 'the API server filled in the default class');
  // The first apply's own evidence (its Kubernetes Event) is written after the Ingress;
  // wait for it, so that the count below covers only the passes that follow.
  await eventOn(ns, 'web', 'RouteApplied');
  const from = auditOffset(testPlane().dir);
  await passes(from, 5, 1);
  const writes = acceptedWrites(requestsSince(testPlane().dir, from, ROUTES_USER)).map(describeRequest);
  assert.deepEqual(writes, [], 'passes over an unchanged route wrote something');
  assert.equal((await readIngress(ns, 'baton-web'))!.metadata!.resourceVersion, created.metadata!.resourceVersion);
});

test('routes defect: a forged Service delete with a made-up uid puts nothing on the audit record', async (t) => {
  const ns = await testNamespace(t, 'routes-forgedel');
  const { routes, sink } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });
  await service(ns, 'web', { 'baton.dev/host': 'web.example.com' });
  const real = await ingressIn(ns, 'baton-web');
  await sink.waitFor('route.applied for web', (e) => e.type === 'dev.baton.route.applied' && e.subject === `${ns}/web`);
  const audited = sink.events.length;
  const forged = object({ kind: 'Service', metadata: { name: 'web', namespace: ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: '2020-01-01T00:00:00Z', annotations: { 'baton.dev/host': 'web.example.com' } }, spec: { ports: [{ port: 80 }] } });
  const answer = await deliver(routes.url, resourceEvent('Service', 'delete', forged));
  assert.equal(answer.status, 200, `${answer.status} ${answer.error}`);
  // The delivery is answered after the look at the truth and any evidence is sent.
  assert.deepEqual(sink.events.slice(audited).map((e) => `${e.type} ${e.subject}`), [], 'a forged delete put something on the audit record');
  assert.equal((await readIngress(ns, 'baton-web'))!.metadata!.uid, real.metadata!.uid);
});

test('routes defect: an Ingress named baton-<svc> that baton did not make is never deleted', async (t: TestContext) => {
  const ns = await testNamespace(t, 'routes-gitops');
  const { net } = clients();
  const from = auditOffset(testPlane().dir);
  await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '1000', BATON_ROUTE_HOSTS: 'off' });
  // Exported from a cluster to a GitOps repository and applied back: baton's name and
  // label, no owner reference.
  const exported = await net.createNamespacedIngress({
    namespace: ns,
    body: { metadata: { name: 'baton-web', labels: MANAGED }, spec: { rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } },
  });
  await service(ns, 'web', { 'baton.dev/host': 'web.example.com' });
  await eventOn(ns, 'web', 'RouteConflict', /Ingress .*baton-web, which baton does not manage/);
  await passes(auditOffset(testPlane().dir), 3, 1);
  const kept = await readIngress(ns, 'baton-web');
  assert.equal(kept?.metadata?.uid, exported.metadata!.uid);
  assert.equal(kept?.metadata?.resourceVersion, exported.metadata!.resourceVersion, 'baton changed an Ingress it did not make');
  assert.deepEqual(acceptedWrites(requestsSince(testPlane().dir, from, ROUTES_USER)).filter((r) => r.resource === 'ingresses').map(describeRequest), []);
});
