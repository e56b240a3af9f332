// Host routing that tenants cannot bend, end to end (issue 18): the retired load
// balancer's annotation read as its users meant it, the cluster admin's host policy
// against a tenant under its own RBAC, and each defect a review found, shown through
// HTTP, the real adapter and the shipped RBAC on the local plane.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../plane/paths.js';
import { waitFor } from '../../plane/wait.js';
import { startRoutesPipeline } from './support/baton.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, statusOf, testNamespace, testPlane } from './support/plane.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, serviceAccountUser } from '../chaos/auditlog.js';
import { deliver, resourceEvent, type ObjectLike } from '../chaos/forge.js';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
// Forged objects: any shape the test wants to claim.
const object = (o: Record<string, unknown> & { metadata: object }): ObjectLike => o;
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;
const MANAGED = { 'app.kubernetes.io/managed-by': 'baton' };
const ROUTES_USER = serviceAccountUser('baton-routes');

function clients(kc: k8s.KubeConfig = adminConfig()) {
  return { core: kc.makeApiClient(k8s.CoreV1Api), net: kc.makeApiClient(k8s.NetworkingV1Api) };
}

function kubeconfigFrom(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

async function readIngress(namespace: string, name: string): Promise<k8s.V1Ingress | undefined> {
  return clients().net.readNamespacedIngress({ name, namespace }).catch((e: unknown) => {
    if (statusOf(e) === 404) return undefined;
    throw e;
  });
}

const ingressIn = (namespace: string, name: string, ok: (i: k8s.V1Ingress) => boolean = () => true): Promise<k8s.V1Ingress> =>
  waitFor(`Ingress ${namespace}/${name}`, async () => {
    const i = await readIngress(namespace, name);
    return i && ok(i) ? i : undefined;
  }, { timeoutMs: 20_000 });

async function events(namespace: string, name: string, reason: string): Promise<k8s.CoreV1Event[]> {
  return (await clients().core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},reason=${reason}` })).items;
}

const eventOn = (namespace: string, name: string, reason: string, match: RegExp = /./): Promise<k8s.CoreV1Event> =>
  waitFor(`a ${reason} Event on ${namespace}/${name}`, async () => (await events(namespace, name, reason)).find((e) => match.test(e.message ?? '')), { timeoutMs: 20_000 });

function service(namespace: string, name: string, annotations: Record<string, string>, ports: k8s.V1ServicePort[] = [{ name: 'http', port: 80 }], core = clients().core): Promise<k8s.V1Service> {
  return core.createNamespacedService({ namespace, body: { metadata: { name, annotations }, spec: { selector: { app: name }, ports } } });
}

/** Resolves once the function has listed Services `passes` more times: whole passes seen by the API server, not by a clock. */
async function passes(from: number, count: number, namespaces: number): Promise<void> {
  await waitFor(`${count} more routing passes`, () => (requestsSince(testPlane().dir, from, ROUTES_USER).filter((r) => describeRequest(r) === 'list services').length >= count * namespaces ? true : undefined), {
    timeoutMs: 30_000,
  });
}

const rule = (i: k8s.V1Ingress) => i.spec!.rules![0]!;

test('routes: the retired load balancer\'s lb.host annotation, read as its users meant it', async (t) => {
  const ns = await testNamespace(t, 'routes-legacy');
  const { sink } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });
  const { core } = clients();
  const audit = (type: string, subject: string) => sink.waitFor(`${type} for ${subject}`, (e) => e.type === type && e.subject === `${ns}/${subject}`);

  // The documented example's shape: one Service port (3000), the old entry port 30800.
  await service(ns, 'grafana', { 'serviceloadbalancer/lb.host': 'grafana.example.com:30800' }, [{ port: 3000 }]);
  const grafana = await ingressIn(ns, 'baton-grafana');
  assert.equal(rule(grafana).host, 'grafana.example.com');
  assert.deepEqual(plain(rule(grafana).http!.paths[0]!.backend.service), { name: 'grafana', port: { number: 3000 } });
  const applied = await audit('dev.baton.route.applied', 'grafana');
  assert.equal((applied.data as { legacyEntryPort?: number }).legacyEntryPort, 30800);
  await eventOn(ns, 'grafana', 'RouteApplied', /port 3000 \(lb\.host entry port 30800 is not carried over: the ingress controller's own ports now decide it\)/);

  // Several ports: the entry port picks one when the Service has it...
  await service(ns, 'multi', { 'serviceloadbalancer/lb.host': 'multi.example.com:9090' }, [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }]);
  const multi = await ingressIn(ns, 'baton-multi');
  assert.deepEqual(plain(rule(multi).http!.paths[0]!.backend.service), { name: 'multi', port: { number: 9090 } });
  // ...and otherwise the user is told which annotation to add.
  await service(ns, 'nomatch', { 'serviceloadbalancer/lb.host': 'nomatch.example.com:30800' }, [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }]);
  await eventOn(ns, 'nomatch', 'InvalidRoute', /none is 30800, the old load balancer's entry port; add baton\.dev\/port with the one to route to, e\.g\. baton\.dev\/port: http/);
  assert.equal(await readIngress(ns, 'baton-nomatch'), undefined);

  // The example's own host, with "_", stays invalid, and the message shows a corrected name.
  await service(ns, 'underscore', { 'serviceloadbalancer/lb.host': 'grafana.under.my_domain.name:30800' }, [{ port: 3000 }]);
  const warning = await eventOn(ns, 'underscore', 'InvalidRoute');
  assert.equal(warning.type, 'Warning');
  assert.match(warning.message!, /RFC 1123.*for example grafana\.under\.my-domain\.name/);
  assert.equal(await readIngress(ns, 'baton-underscore'), undefined);

  // `baton routes` shows what each lb.host became.
  const table = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'routes', '-n', ns, '--host-policy', 'off'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(table.status, 0, table.stderr);
  t.diagnostic(table.stdout);
  assert.match(table.stdout, new RegExp(`${ns}/grafana: grafana\\.example\\.com:30800 → Ingress baton-grafana: http://grafana\\.example\\.com/ → port 3000`));
  assert.match(table.stdout, new RegExp(`${ns}/nomatch: nomatch\\.example\\.com:30800 → no Ingress \\(see STATE\\)`));

  // Removing the annotation removes the route.
  await core.patchNamespacedService({ name: 'grafana', namespace: ns, body: { metadata: { annotations: { 'serviceloadbalancer/lb.host': null } } } }, merge);
  await waitFor('baton-grafana to be gone', async () => ((await readIngress(ns, 'baton-grafana')) === undefined ? true : undefined), { timeoutMs: 20_000 });
  const removed = await audit('dev.baton.route.removed', 'grafana');
  assert.equal((removed.data as { reason: string }).reason, 'removed');
});

test('routes: a tenant who may only edit its own Services cannot claim a host outside its namespace\'s policy', async (t) => {
  const ns = await testNamespace(t, 'routes-tenant');
  const policy = `${ns}=*.${ns}.example.com`;
  const { sink } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: policy });
  // The tenant's own RBAC: Services in its namespace, nothing else.
  const tenant = clients(kubeconfigFrom(await clientKubeconfig(ns, 'tenant', { rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }] })));
  await assert.rejects(tenant.net.createNamespacedIngress({ namespace: ns, body: { metadata: { name: 'direct' }, spec: { rules: [{ host: 'shop.example.com' }] } } }), (e: unknown) => statusOf(e) === 403, 'the tenant may not write Ingresses itself');

  // Inside the policy: routed.
  await service(ns, 'mine', { 'baton.dev/host': `www.${ns}.example.com` }, undefined, tenant.core);
  await ingressIn(ns, 'baton-mine');
  // Outside it: refused, naming the policy, and no Ingress.
  await service(ns, 'grab', { 'baton.dev/host': 'shop.example.com' }, undefined, tenant.core);
  const refused = await eventOn(ns, 'grab', 'InvalidRoute');
  assert.match(refused.message!, new RegExp(`shop\\.example\\.com is outside the host policy for namespace ${ns} \\(BATON_ROUTE_HOSTS allows \\*\\.${ns}\\.example\\.com\\)`));
  const invalid = await sink.waitFor('route.invalid for grab', (e) => e.type === 'dev.baton.route.invalid' && e.subject === `${ns}/grab`);
  assert.match(JSON.stringify(invalid.data), /BATON_ROUTE_HOSTS/);
  assert.equal(await readIngress(ns, 'baton-grab'), undefined);
  // Editing an allowed route onto a foreign host takes the route away rather than moving it.
  await tenant.core.patchNamespacedService({ name: 'mine', namespace: ns, body: { metadata: { annotations: { 'baton.dev/host': 'shop.example.com' } } } }, merge);
  await waitFor('baton-mine to be removed', async () => ((await readIngress(ns, 'baton-mine')) === undefined ? true : undefined), { timeoutMs: 20_000 });

  const table = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'routes', '-n', ns, '--host-policy', policy], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(table.status, 0, table.stderr);
  t.diagnostic(table.stdout);
  assert.match(table.stdout, /grab\s+-\s+-\s+refused by host policy: shop\.example\.com is outside the host policy/);
});

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
