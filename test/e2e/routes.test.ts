// Host routing end to end: the routes function under its shipped RBAC, fed by the real
// ApiServerSource adapter, turning Service annotations into Ingresses on the real API
// server (with the real garbage collector cleaning up after deleted Services).
import test from 'node:test';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../plane/paths.js';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { startRoutesPipeline } from './support/baton.js';
import { adminConfig, statusOf, testNamespace, testPlane } from './support/plane.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, serviceAccountUser, tally } from '../chaos/auditlog.js';
import { deliver, resourceEvent, type ObjectLike } from '../chaos/forge.js';

// Forged objects: any shape the test wants to claim.
const object = (o: Record<string, unknown> & { metadata: object }): ObjectLike => o;
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
// client-node returns class instances; compare their data.
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

test('routes: create, change, conflict, invalid, hand edits, remove and delete, through the real adapter', async (t) => {
  const ns = await testNamespace(t, 'routes');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const net = kc.makeApiClient(k8s.NetworkingV1Api);
  // No periodic pass during the test: every change below must arrive by event.
  const { sink, routes } = await startRoutesPipeline(t, ns, { BATON_INGRESS_CLASS: 'edge', BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });

  const service = async (name: string, annotations: Record<string, string>, ports: k8s.V1ServicePort[] = [{ name: 'http', port: 80 }], labels: Record<string, string> = {}): Promise<k8s.V1Service> =>
    core.createNamespacedService({ namespace: ns, body: { metadata: { name, annotations, labels }, spec: { selector: { app: name }, ports } } });
  const annotate = (name: string, annotations: Record<string, string | null>): Promise<k8s.V1Service> =>
    core.patchNamespacedService({ name, namespace: ns, body: { metadata: { annotations } } }, merge);
  const ingress = async (name: string): Promise<k8s.V1Ingress | undefined> =>
    net.readNamespacedIngress({ name, namespace: ns }).catch((e: unknown) => {
      if (statusOf(e) === 404) return undefined;
      throw e;
    });
  const ingressWhere = (what: string, name: string, ok: (i: k8s.V1Ingress) => boolean): Promise<k8s.V1Ingress> =>
    waitFor(what, async () => {
      const i = await ingress(name);
      return i && ok(i) ? i : undefined;
    }, { timeoutMs: 15_000 });
  const gone = (name: string): Promise<true> => waitFor(`Ingress ${name} to be gone`, async () => ((await ingress(name)) === undefined ? true : undefined), { timeoutMs: 20_000 });
  const warnings = async (name: string, reason: string): Promise<k8s.CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name},reason=${reason}` })).items;
  const rule = (i: k8s.V1Ingress) => i.spec!.rules![0]!;
  const audit = (type: string, subject: string, match: (data: Record<string, unknown>) => boolean = () => true) =>
    sink.waitFor(`${type} for ${subject}`, (e) => e.type === type && e.subject === `${ns}/${subject}` && match(e.data as Record<string, unknown>));

  // Create: the host routes to the only port, with the configured class, owned by the Service.
  const web = await service('web', { 'baton.dev/host': 'web.example.com' });
  const created = await ingressWhere('the Ingress for web', 'baton-web', () => true);
  assert.equal(rule(created).host, 'web.example.com');
  assert.deepEqual(plain(rule(created).http!.paths[0]), { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } });
  assert.equal(created.spec!.ingressClassName, 'edge');
  assert.deepEqual(created.metadata!.ownerReferences!.map((o) => [o.kind, o.name, o.uid, o.controller]), [['Service', 'web', web.metadata!.uid, true]]);
  assert.equal(created.metadata!.labels!['app.kubernetes.io/managed-by'], 'baton');
  assert.ok(created.metadata!.managedFields!.some((f) => f.manager === 'baton-routes' && f.operation === 'Apply'), 'written by server-side apply under baton-routes');
  const applied = await audit('dev.baton.route.applied', 'web');
  assert.equal(applied.source, 'baton.dev/routes');
  assert.equal((applied.data as { ingress: { uid: string } }).ingress.uid, created.metadata!.uid);
  // The claim time is the Ingress's own creationTimestamp, which no client can choose.
  assert.equal(Date.parse((applied.data as { claimedAt: string }).claimedAt), created.metadata!.creationTimestamp!.getTime());
  await waitFor('a RouteApplied Event on web', async () => ((await warnings('web', 'RouteApplied')).length > 0 ? true : undefined));

  // Change: TLS keeps the claim (same host and path); the Ingress is updated in place.
  await annotate('web', { 'baton.dev/tls-secret': 'web-tls' });
  const withTls = await ingressWhere('TLS on the Ingress', 'baton-web', (i) => i.spec?.tls?.[0]?.secretName === 'web-tls');
  assert.deepEqual(plain(withTls.spec!.tls![0]!.hosts), ['web.example.com']);
  assert.equal(withTls.metadata!.uid, created.metadata!.uid);

  // Conflict: a later Service asks for the same host and path.
  await service('rival', { 'baton.dev/host': 'web.example.com' });
  const conflict = await audit('dev.baton.route.conflict', 'rival');
  assert.deepEqual((conflict.data as { holder: unknown }).holder, { kind: 'Service', namespace: ns, name: 'web', uid: web.metadata!.uid });
  await waitFor('a RouteConflict warning on rival', async () => ((await warnings('rival', 'RouteConflict')).some((e) => e.type === 'Warning') ? true : undefined));
  assert.equal(await ingress('baton-rival'), undefined);
  assert.equal(rule((await ingress('baton-web'))!).host, 'web.example.com', 'the holder keeps its route');

  // Invalid: a bad host gets warnings and no Ingress; so does a legacy annotation whose
  // entry port matches none of a several-port Service's ports.
  await service('bad', { 'baton.dev/host': 'Not_A_Host', 'baton.dev/path': 'relative' });
  const invalid = await audit('dev.baton.route.invalid', 'bad');
  assert.deepEqual((invalid.data as { problems: Array<{ key: string }> }).problems.map((p) => p.key).sort(), ['baton.dev/host', 'baton.dev/path']);
  await service('grafana', { 'serviceloadbalancer/lb.host': 'grafana.example.com:30800' }, [{ name: 'http', port: 3000 }, { name: 'metrics', port: 9090 }]);
  const portProblem = await audit('dev.baton.route.invalid', 'grafana');
  assert.match(JSON.stringify(portProblem.data), /none is 30800, the old load balancer's entry port; add baton.dev\/port/);
  const [warning] = await waitFor('an InvalidRoute warning on grafana', async () => {
    const found = await warnings('grafana', 'InvalidRoute');
    return found.length > 0 ? found : undefined;
  });
  assert.equal(warning!.type, 'Warning');
  assert.equal(await ingress('baton-bad'), undefined);
  assert.equal(await ingress('baton-grafana'), undefined);
  // Naming a port the Service has routes it.
  await annotate('grafana', { 'serviceloadbalancer/lb.host': 'grafana.example.com:3000' });
  const grafana = await ingressWhere('the Ingress for grafana', 'baton-grafana', () => true);
  assert.deepEqual(plain(rule(grafana).http!.paths[0]!.backend.service), { name: 'grafana', port: { number: 3000 } });

  // A name taken by someone else's Ingress is never overwritten.
  await net.createNamespacedIngress({ namespace: ns, body: { metadata: { name: 'baton-taken' }, spec: { rules: [{ host: 'mine.example.com' }] } } });
  await service('taken', { 'baton.dev/host': 'taken.example.com' });
  const blocked = await audit('dev.baton.route.conflict', 'taken');
  assert.equal((blocked.data as { holder: { kind: string } }).holder.kind, 'Ingress');
  assert.equal(rule((await ingress('baton-taken'))!).host, 'mine.example.com');

  // Hand edits are undone: a changed backend port, and a deleted Ingress.
  await net.patchNamespacedIngress({ name: 'baton-grafana', namespace: ns, body: { spec: { rules: [{ host: 'grafana.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'grafana', port: { number: 9999 } } } }] } }] } } }, merge);
  await ingressWhere('the edited port to be put back', 'baton-grafana', (i) => rule(i).http!.paths[0]!.backend.service!.port!.number === 3000);
  await net.deleteNamespacedIngress({ name: 'baton-grafana', namespace: ns });
  await ingressWhere('the deleted Ingress to be recreated', 'baton-grafana', (i) => i.metadata!.uid !== grafana.metadata!.uid);

  // Remove: web gives the host up; rival, which waited, gets it in the same pass.
  await annotate('web', { 'baton.dev/host': null, 'baton.dev/tls-secret': null });
  await gone('baton-web');
  const removed = await audit('dev.baton.route.removed', 'web');
  assert.equal((removed.data as { reason: string }).reason, 'removed');
  const handed = await ingressWhere('rival to get the host', 'baton-rival', () => true);
  assert.equal(rule(handed).host, 'web.example.com');

  // Delete the Service: the garbage collector removes its Ingress (owner reference).
  await core.deleteNamespacedService({ name: 'rival', namespace: ns });
  await gone('baton-rival');
  const deleted = await audit('dev.baton.route.removed', 'rival', (d) => d.reason === 'service-deleted');
  assert.equal((deleted.data as { host: string }).host, 'web.example.com');

  // An active/standby Service routes like any other: the Ingress names the Service.
  await service('db', { 'baton.dev/host': 'db.example.com' }, [{ name: 'pg', port: 5432 }], { 'baton.dev/mode': 'active-standby' });
  const db = await ingressWhere('the Ingress for db', 'baton-db', () => true);
  assert.deepEqual(plain(rule(db).http!.paths[0]!.backend.service), { name: 'db', port: { number: 5432 } });

  // `baton routes` shows the same verdicts the function acted on.
  const table = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'routes', '-n', ns, '--host-policy', 'off'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(table.status, 0, table.stderr);
  t.diagnostic(table.stdout);
  const row = (name: string): string => table.stdout.split('\n').find((l) => l.startsWith(`${ns}  `) && l.split(/\s+/)[1] === name) ?? '';
  assert.match(row('db'), /http:\/\/db\.example\.com\/ → port 5432\s+baton-db\s+routed$/);
  assert.match(row('grafana'), /baton-grafana\s+routed$/);
  assert.match(row('bad'), /-\s+-\s+invalid: baton\.dev\/host: /);
  assert.match(row('taken'), /conflict: Ingress baton-taken is not baton's$/);
  assert.match(row('canary'), /^$/, 'a Service without routing annotations is not listed');

  // Nothing crashed and nothing asked for a redelivery.
  assert.equal(routes.process.exitCode, null);
  assert.ok(!routes.logs.some((l) => l.includes('"level":50')), routes.logs.filter((l) => l.includes('"level":50')).join('\n'));
});

test('routes cost: one new route is a read of the Service and of its Ingress name, and an apply; events that cannot change a route cost nothing', async (t) => {
  const ns = await testNamespace(t, 'routes-cost');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const net = kc.makeApiClient(k8s.NetworkingV1Api);
  const { routes } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });
  const plane = testPlane();
  const user = serviceAccountUser('baton-routes');
  const handledEvents = (): number => routes.logs.filter((l) => l.includes('"kind":"Service"') && l.includes('"outcome":')).length;

  let from = auditOffset(plane.dir);
  const started = performance.now();
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web', annotations: { 'baton.dev/host': 'web.example.com' } }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } });
  await waitFor('the Ingress', async () => ((await net.readNamespacedIngress({ name: 'baton-web', namespace: ns }).catch(() => undefined)) ? true : undefined), { intervalMs: 5 });
  t.diagnostic(`Service created -> Ingress readable: ${Math.round(performance.now() - started)} ms`);
  // The Ingress's own add event arrives after the write; give it time to be (not) acted on.
  await new Promise((r) => setTimeout(r, 500));
  const create = tally(requestsSince(plane.dir, from, user).map(describeRequest));
  t.diagnostic(`requests for one new route: ${JSON.stringify(create)}`);
  // No list: the event's pass reads only the Service, the claimants of its host the last
  // full pass saw (none here) and their Ingress names, so its cost does not grow with the cluster.
  // The Ingress's own add event can overtake the apply's reply; it is then not known as
  // baton's echo and costs one focused pass more (a read of the Service and the Ingress).
  const raced = create['get services'] === 2 && create['get ingresses'] === 1;
  const { 'get ingresses': _echoRead, ...rest } = create;
  assert.deepEqual(rest, { 'create events': 1, 'get ingresses 404': 1, 'get services': raced ? 2 : 1, 'patch ingresses': 1 });
  if (!raced) assert.equal(_echoRead, undefined);

  // Twenty events that cannot change any route: another Service without annotations,
  // and annotations on the routed Service that routing does not read (as failover writes them).
  from = auditOffset(plane.dir);
  const before = handledEvents();
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'plain' }, spec: { selector: { app: 'plain' }, ports: [{ port: 80 }] } } });
  for (let i = 0; i < 10; i++) {
    await core.patchNamespacedService({ name: 'plain', namespace: ns, body: { metadata: { annotations: { touch: String(i) } } } }, merge);
    await core.patchNamespacedService({ name: 'web', namespace: ns, body: { metadata: { annotations: { 'baton.dev/term': String(i) } } } }, merge);
  }
  await waitFor('the 21 events to be delivered', () => (handledEvents() - before >= 21 ? true : undefined), { timeoutMs: 15_000 });
  assert.deepEqual(requestsSince(plane.dir, from, user).map(describeRequest), [], 'irrelevant Service events cost API requests');
});

test('routes: malformed and forged events get a clear answer and change nothing', async (t) => {
  const ns = await testNamespace(t, 'routes-hostile');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const net = kc.makeApiClient(k8s.NetworkingV1Api);
  const { routes, sink } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });
  const web = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web', annotations: { 'baton.dev/host': 'web.example.com' } }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } });
  const real = await waitFor('the Ingress', async () => net.readNamespacedIngress({ name: 'baton-web', namespace: ns }).catch(() => undefined));
  // The route's own evidence is sent after the write; let it land before counting.
  await sink.waitFor('route.applied for web', (e) => e.type === 'dev.baton.route.applied' && e.subject === `${ns}/web`);
  await waitFor('the RouteApplied Event', async () => ((await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=RouteApplied' })).items.length > 0 ? true : undefined));
  const plane = testPlane();
  const from = auditOffset(plane.dir);
  const audited = sink.events.length;

  // Malformed deliveries: 4xx with a message, as for the other functions.
  const bad = await deliver(routes.url, { headers: { 'content-type': 'application/cloudevents+json' }, body: '{ not json' });
  assert.equal(bad.status, 400);
  assert.match(bad.error, /not valid JSON/);
  const wrongKind = await deliver(routes.url, resourceEvent('Ingress', 'update', object({ kind: 'Service', metadata: { name: 'x', namespace: ns } })));
  assert.equal(wrongKind.status, 400);
  assert.match(wrongKind.error, /does not match the kind extension "Ingress"/);

  // Forged: a Service that does not exist claims the host; a routed Service "drops" its
  // annotation; baton's Ingress is "deleted". Each causes at most a look at the truth.
  const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: '2020-01-01T00:00:00Z', ...extra });
  const forged = [
    resourceEvent('Service', 'add', object({ kind: 'Service', metadata: meta('ghost', { annotations: { 'baton.dev/host': 'web.example.com' } }), spec: { ports: [{ port: 80 }] } })),
    resourceEvent('Service', 'update', object({ kind: 'Service', metadata: { ...meta('web'), uid: web.metadata!.uid }, spec: { ports: [{ port: 80 }] } })),
    resourceEvent('Service', 'delete', object({ kind: 'Service', metadata: { ...meta('web'), uid: web.metadata!.uid }, spec: { ports: [{ port: 80 }] } })),
    resourceEvent('Ingress', 'delete', object({ kind: 'Ingress', metadata: { ...meta('baton-web'), uid: real.metadata!.uid, labels: { 'app.kubernetes.io/managed-by': 'baton' } } })),
  ];
  for (const wire of forged) {
    const answer = await deliver(routes.url, wire);
    assert.equal(answer.status, 200, `${answer.status} ${answer.error}`);
  }
  await new Promise((r) => setTimeout(r, 500));
  const writes = acceptedWrites(requestsSince(plane.dir, from, serviceAccountUser('baton-routes'))).map(describeRequest);
  t.diagnostic(`writes after forged events: ${JSON.stringify(writes)}`);
  assert.deepEqual(writes.filter((w) => w !== 'create events'), [], 'forged events led to Ingress writes');
  const after = await net.readNamespacedIngress({ name: 'baton-web', namespace: ns });
  assert.equal(after.metadata!.resourceVersion, real.metadata!.resourceVersion, 'the Ingress changed');
  assert.equal(await net.readNamespacedIngress({ name: 'baton-ghost', namespace: ns }).catch(() => undefined), undefined);
  assert.deepEqual(sink.events.slice(audited).map((e) => `${e.type} ${e.subject}`), [], 'forged events put something on the audit record');
  assert.equal(routes.process.exitCode, null);
});
