// Events are hints, never facts. Each case is a finding of a review that attacked the
// failover function from inside the cluster and as a careless tenant; each goes through
// HTTP to the function, running as its own process under the shipped RBAC, on the real
// plane. What the function wrote meanwhile is counted by the apiserver's audit log.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, serviceAccountUser, tally } from '../chaos/auditlog.js';
import { deliver, ping, resourceEvent } from '../chaos/forge.js';
import { installRbac, serviceAccountKubeconfig, startFunction, type RunningFunction } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { podPath, raw, servicePath as svcPath, type Json } from './support/raw.js';
import { startSink, type Sink } from './support/sink.js';
import { annotateService, labelService, readyEndpoints, setPodReady } from './support/workloads.js';

const USER = serviceAccountUser('baton-failover');
const K = {
  mode: 'baton.dev/mode',
  podId: 'baton.dev/pod-id',
  role: 'baton.dev/role',
  term: 'baton.dev/term',
  completed: 'baton.dev/completed-term',
  switchoverTo: 'baton.dev/switchover-to',
  originalSelector: 'baton.dev/original-selector',
  activeUid: 'baton.dev/active-uid',
};
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface World {
  readonly t: TestContext;
  readonly ns: string;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly failover: RunningFunction;
  readonly resync: RunningFunction;
  readonly sink: Sink;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A namespace with pods db-0..db-2 (app=db, serving=true), the failover and resync
 * functions scoped to it (the index is never refreshed on a timer, and resync never
 * sweeps by itself: a healthy candidate must not need either), and audit events to a sink.
 */
async function world(t: TestContext, env: Record<string, string> = {}): Promise<World> {
  const ns = await testNamespace(t, 'trust');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (const name of ['db-0', 'db-1', 'db-2']) {
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: 'db', serving: 'true' } }, spec: { containers: [{ name: 'app', image: 'example.com/db:1' }] } } });
  }
  await waitFor('3 ready pods', async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns })).items;
    return pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
  });
  await installRbac();
  const sink = await startSink();
  t.after(() => sink.close());
  const fnEnv = { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), K_SINK: sink.url, BATON_NAMESPACES: ns, BATON_INDEX_REFRESH_MS: '3600000', BATON_RESYNC_INTERVAL_MS: '3600000', ...env };
  const [failover, resync] = await Promise.all([startFunction('failover', fnEnv), startFunction('resync', fnEnv)]);
  t.after(() => failover.stop());
  t.after(() => resync.stop());
  return { t, ns, kc, core, failover, resync, sink };
}

/** Creates an opted-in Service over the db pods and lets one resync sweep adopt it; returns the active pod. */
async function adopt(w: World, name: string, selector: Record<string, string> = { app: 'db', serving: 'true' }): Promise<string> {
  await w.core.createNamespacedService({ namespace: w.ns, body: { metadata: { name, labels: { [K.mode]: 'active-standby' } }, spec: { selector, ports: [{ port: 5432 }] } } });
  const active = await waitFor(`${name} to be adopted with one ready endpoint`, async () => {
    await deliver(w.resync.url, ping());
    const ready = (await readyEndpoints(w.kc, w.ns, name)).ready;
    const svc = await w.core.readNamespacedService({ name, namespace: w.ns });
    return ready.length === 1 && svc.metadata?.annotations?.[K.completed] === svc.metadata?.annotations?.[K.term] ? ready[0] : undefined;
  }, { timeoutMs: 30_000, intervalMs: 300 });
  // The event the adapter would have sent for the adopted Service.
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(svcPath(w.ns, name))))).status, 200);
  return active;
}

/** Delivers a genuine event for the pod as it is now, as the adapter would. */
async function podChanged(w: World, pod: string): Promise<void> {
  const answer = await deliver(w.failover.url, resourceEvent('Pod', 'update', await raw(podPath(w.ns, pod))));
  assert.equal(answer.status, 200, `pod event: HTTP ${answer.status} ${answer.error}`);
}

/** Waits (without any resync) until `service` routes to one ready pod other than `old`. */
async function failedOverFrom(w: World, service: string, old: string): Promise<string> {
  return waitFor(`${service} to route to one ready pod other than ${old}, without a resync`, async () => {
    const ready = (await readyEndpoints(w.kc, w.ns, service)).ready;
    return ready.length === 1 && ready[0] !== old ? ready[0] : undefined;
  }, { timeoutMs: 10_000, intervalMs: 50 });
}

function writesSince(from: number): string[] {
  return acceptedWrites(requestsSince(testPlane().dir, from, USER)).map(describeRequest);
}

test('finding 1: a forged Service event rewrites no Service, opted in or not', { timeout: 120_000 }, async (t) => {
  const w = await world(t);
  await adopt(w, 'db');
  // A plain Service over the same pods, as a DNS name for every replica would be.
  await w.core.createNamespacedService({ namespace: w.ns, body: { metadata: { name: 'dns' }, spec: { selector: { app: 'db' }, clusterIP: 'None', ports: [{ port: 5432 }] } } });
  const dns = await raw(svcPath(w.ns, 'dns'));
  const from = auditOffset(testPlane().dir);
  const forged: Array<[string, Json]> = [
    // Its current resourceVersion, baton's term annotation, no mode label, a selector matching nothing.
    ['release to an empty selector', { ...dns, metadata: { ...dns.metadata, annotations: { [K.term]: '4', [K.originalSelector]: '{"app":"nothing"}' } }, spec: { ...dns.spec, selector: { app: 'nothing', [K.podId]: 'x' } } }],
    // The mode label and another selector.
    ['pin to the placeholder', { ...dns, metadata: { ...dns.metadata, labels: { [K.mode]: 'active-standby' } }, spec: { ...dns.spec, selector: { app: 'elsewhere' } } }],
  ];
  for (const [name, body] of forged) {
    const answer = await deliver(w.failover.url, resourceEvent('Service', 'update', body));
    assert.equal(answer.status, 200, `${name}: HTTP ${answer.status}`);
  }
  await settle(1_000);
  const after = await raw(svcPath(w.ns, 'dns'));
  assert.equal(after.metadata.resourceVersion, dns.metadata.resourceVersion, 'the plain Service was not written');
  assert.equal((await readyEndpoints(w.kc, w.ns, 'dns')).ready.length, 3, 'the plain Service still routes to every pod');
  assert.deepEqual(writesSince(from), []);
});

test('finding 2: a Service event with a huge resourceVersion does not poison the index', { timeout: 120_000 }, async (t) => {
  const w = await world(t);
  const active = await adopt(w, 'db');
  const svc = await raw(svcPath(w.ns, 'db'));
  // The Service as it was, claimed at a version far in the future, and selecting nothing.
  const poisoned = { ...svc, metadata: { ...svc.metadata, resourceVersion: '999999999999' }, spec: { ...svc.spec, selector: { app: 'nothing' } } };
  for (let i = 0; i < 3; i++) assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', poisoned))).status, 200);
  // The active fails; its genuine event must still lead to a failover at once.
  await setPodReady(w.kc, w.ns, active, false);
  await podChanged(w, active);
  await failedOverFrom(w, 'db', active);
});

test('finding 3: relabelling the active out of rotation fails over at once', { timeout: 120_000 }, async (t) => {
  const w = await world(t);
  const active = await adopt(w, 'db');
  // The usual way to take a pod out of a Service: a label the Service selects and the workload does not.
  await w.core.patchNamespacedPod({ name: active, namespace: w.ns, body: { metadata: { labels: { serving: 'false' } } } }, merge);
  await podChanged(w, active);
  await failedOverFrom(w, 'db', active);
});

test('finding 4: releasing or copying a Service never strips the labels another Service routes by', { timeout: 150_000 }, async (t) => {
  const w = await world(t);
  const active = await adopt(w, 'db');
  const uidOfActive = (await raw(podPath(w.ns, active))).metadata['uid'] as string;
  // A copy of the adopted Service, as `kubectl get svc db -o yaml` edited and applied
  // under another name, without the opt-in label.
  const db = await raw(svcPath(w.ns, 'db'));
  const { [K.mode]: _mode, ...copyLabels } = db.metadata.labels ?? {};
  await w.core.createNamespacedService({
    namespace: w.ns,
    body: { metadata: { name: 'db-copy', labels: copyLabels, annotations: db.metadata.annotations ?? {} }, spec: { selector: (db.spec?.['selector'] ?? {}) as Record<string, string>, ports: [{ port: 5432 }] } },
  });
  const copy = await raw(svcPath(w.ns, 'db-copy'));
  // A second opted-in Service over the same pods, then opted out.
  const second = await adopt(w, 'db-ro', { app: 'db' });
  const from = auditOffset(testPlane().dir);
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'add', copy))).status, 200);
  await labelService(w.kc, w.ns, 'db-ro', { [K.mode]: null });
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(svcPath(w.ns, 'db-ro'))))).status, 200);
  await waitFor('db-ro to be released', async () => (((await raw(svcPath(w.ns, 'db-ro'))).spec?.['selector'] as Record<string, string>)[K.podId] === undefined ? true : undefined));
  await settle(1_000);
  const pod = await raw(podPath(w.ns, active));
  assert.equal(pod.metadata.labels?.[K.podId], uidOfActive, `${active} keeps the id label db routes by`);
  assert.deepEqual((await readyEndpoints(w.kc, w.ns, 'db')).ready, [active]);
  assert.equal((await raw(svcPath(w.ns, 'db-copy'))).metadata.resourceVersion, copy.metadata.resourceVersion, 'the copy was never written');
  const writes = writesSince(from);
  t.diagnostic(`writes: ${JSON.stringify(tally(writes))} (db-ro's active was ${second})`);
  assert.ok(!writes.some((w2) => w2.includes('db-copy')), JSON.stringify(writes));
});

test('finding 5: Services that do not exist never enter the index', { timeout: 120_000 }, async (t) => {
  const w = await world(t);
  const active = await adopt(w, 'db');
  for (let i = 0; i < 50; i++) {
    const ghost: Json = { apiVersion: 'v1', kind: 'Service', metadata: { name: `ghost-${i}`, namespace: w.ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: { [K.mode]: 'active-standby' } }, spec: { selector: { app: 'db' } } };
    assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'add', ghost))).status, 200);
  }
  const standby = ['db-0', 'db-1', 'db-2'].find((p) => p !== active)!;
  await setPodReady(w.kc, w.ns, standby, false);
  const from = auditOffset(testPlane().dir);
  await podChanged(w, standby);
  await settle(500);
  const requests = requestsSince(testPlane().dir, from, USER).map(describeRequest);
  t.diagnostic(`requests for one pod event after 50 forged Services: ${JSON.stringify(tally(requests))}`);
  assert.ok(requests.length <= 4, `one pod event cost ${requests.length} requests: ${JSON.stringify(tally(requests))}`);
});

test('finding 6: role labels settle when two Services over the same pods name different actives', { timeout: 150_000 }, async (t) => {
  const w = await world(t, { BATON_ROLE_LABELS: 'true' });
  const first = await adopt(w, 'db');
  await adopt(w, 'db-ro', { app: 'db' });
  const other = ['db-0', 'db-1', 'db-2'].find((p) => p !== first)!;
  await annotateService(w.kc, w.ns, 'db-ro', { [K.switchoverTo]: other });
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(svcPath(w.ns, 'db-ro'))))).status, 200);
  await waitFor('db-ro to route to another pod', async () => ((await readyEndpoints(w.kc, w.ns, 'db-ro')).ready.join() === other ? true : undefined));
  // Feed every pod's current event a few times over, as the adapter would after each label write.
  const round = async (): Promise<string[]> => {
    const from = auditOffset(testPlane().dir);
    for (const p of ['db-0', 'db-1', 'db-2']) await podChanged(w, p);
    await settle(300);
    return writesSince(from).filter((r) => r.startsWith('patch pods'));
  };
  for (let i = 0; i < 3; i++) await round();
  const last = await round();
  assert.deepEqual(last, [], 'role labels keep being rewritten');
  const roles = Object.fromEntries((await w.core.listNamespacedPod({ namespace: w.ns })).items.map((p) => [p.metadata!.name!, p.metadata?.labels?.[K.role]]));
  assert.equal(roles[first], 'active');
  assert.equal(roles[other], 'active');
});

test('finding 8: a damaged original-selector does not freeze failover', { timeout: 120_000 }, async (t) => {
  const w = await world(t);
  const active = await adopt(w, 'db');
  await annotateService(w.kc, w.ns, 'db', { [K.originalSelector]: '{"app": db' });
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(svcPath(w.ns, 'db'))))).status, 200);
  await setPodReady(w.kc, w.ns, active, false);
  await podChanged(w, active);
  await failedOverFrom(w, 'db', active);
  const saved = (await raw(svcPath(w.ns, 'db'))).metadata.annotations?.[K.originalSelector];
  assert.deepEqual(JSON.parse(saved ?? 'null'), { app: 'db', serving: 'true' }, 'the switch wrote a readable copy back');
});

test('finding 9: audit ids never repeat, whatever happened to the term', { timeout: 150_000 }, async (t) => {
  const w = await world(t);
  let active = await adopt(w, 'db');
  const fail = async (): Promise<void> => {
    await setPodReady(w.kc, w.ns, active, false);
    await podChanged(w, active);
    const next = await failedOverFrom(w, 'db', active);
    await setPodReady(w.kc, w.ns, active, true);
    active = next;
  };
  await fail();
  // Someone damages the term; the count restarts, the ids must not.
  await annotateService(w.kc, w.ns, 'db', { [K.term]: 'seven' });
  await fail();
  // Opt out and back in: terms restart at 1.
  await labelService(w.kc, w.ns, 'db', { [K.mode]: null });
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(svcPath(w.ns, 'db'))))).status, 200);
  await waitFor('db released', async () => ((await raw(svcPath(w.ns, 'db'))).metadata.annotations?.[K.term] === undefined ? true : undefined));
  await labelService(w.kc, w.ns, 'db', { [K.mode]: 'active-standby' });
  assert.equal((await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(svcPath(w.ns, 'db'))))).status, 200);
  await waitFor('db adopted again', async () => ((await readyEndpoints(w.kc, w.ns, 'db')).ready.length === 1 ? true : undefined));
  active = (await readyEndpoints(w.kc, w.ns, 'db')).ready[0]!;
  await fail();
  await settle(1_000);
  const byId = new Map<string, string>();
  for (const e of w.sink.events) {
    const body = JSON.stringify([e.type, e.data]);
    const seen = byId.get(e.id);
    // The same id may be sent twice (a replay), but only ever for the same content.
    if (seen !== undefined && e.type !== 'dev.baton.failover.completed') assert.equal((JSON.parse(seen) as [string])[0], e.type, `id ${e.id} reused across types`);
    if (seen !== undefined) assert.deepEqual((JSON.parse(seen) as [string, { to?: unknown; term?: unknown }])[1].to, (e.data as { to?: unknown }).to, `id ${e.id} names two decisions`);
    byId.set(e.id, body);
  }
  const promoted = w.sink.events.filter((e) => e.type === 'dev.baton.failover.promoted');
  const decisions = new Set(promoted.map((e) => JSON.stringify((e.data as { decidedAt?: unknown }).decidedAt)));
  assert.equal(new Set(promoted.map((e) => e.id)).size, decisions.size, 'one id per decision');
  assert.ok(decisions.size >= 5, `expected at least 5 decisions, saw ${decisions.size}`);
});
