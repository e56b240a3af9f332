// The failover function end to end: the real adapter feeds it cluster events, it runs
// under the RBAC that knative/ ships, and an independent EndpointSlice watch checks
// that an opted-in Service never routes to two pods.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { parseAuditEvent } from '../../shared/audit/schemas.js';
import { waitFor } from '../../plane/wait.js';
import { startBaton, type Baton } from './support/baton.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { watchSlices, type SliceWatcher } from './support/slices.js';
import { annotateService, createDeployment, createService, createStatefulSet, labelService, setPodReady } from './support/workloads.js';

const OPT_IN = { 'baton.dev/mode': 'active-standby' };

interface World {
  readonly ns: string;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly baton: Baton;
  readonly slices: SliceWatcher;
}

async function world(t: TestContext, prefix: string, env: Record<string, string> = {}): Promise<World> {
  const ns = await testNamespace(t, prefix);
  const kc = adminConfig();
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns, env);
  return { ns, kc, core: kc.makeApiClient(k8s.CoreV1Api), baton, slices };
}

async function readyPods(w: World, app: string, n: number): Promise<string[]> {
  return waitFor(`${n} ready pods of ${app}`, async () => {
    const pods = await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: `app=${app}` });
    const ready = pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((p) => p.metadata!.name!);
    return ready.length === n ? ready.sort() : undefined;
  });
}

async function service(w: World, name: string): Promise<k8s.V1Service> {
  return w.core.readNamespacedService({ name, namespace: w.ns });
}

/**
 * Waits until baton has adopted the Service (term recorded, slices show one ready pod)
 * and returns the active pod and the moment from which the invariant must hold.
 */
async function adopted(w: World, svc: string): Promise<{ active: string; since: number }> {
  const active = await waitFor(`baton to adopt ${svc}`, async () => {
    const s = await service(w, svc);
    const current = w.slices.current(svc);
    return s.metadata?.annotations?.['baton.dev/term'] && current.length === 1 ? current[0] : undefined;
  });
  return { active, since: Date.now() };
}

function assertSafe(w: World, service: string, since: number): void {
  assert.deepEqual(w.slices.violations(service, since), [], `${service} had more than one ready endpoint: ${JSON.stringify(w.slices.history(service))}`);
}

/** Ready=False written -> the slices show only another pod: the latency users care about. */
async function failOver(w: World, svc: string, active: string): Promise<{ next: string; ms: number }> {
  const before = Date.now();
  await setPodReady(w.kc, w.ns, active, false);
  const seen = await waitFor(`${svc} to fail over from ${active}`, () => {
    const h = w.slices.history(svc);
    const last = h[h.length - 1];
    return last && last.at >= before && last.ready.length === 1 && last.ready[0] !== active ? last : undefined;
  });
  return { next: seen.ready[0]!, ms: seen.at - before };
}

test('StatefulSet of 3: one active, failover on unready, no failback by default, events and audit trail', async (t) => {
  const w = await world(t, 'fo-sts', { BATON_ROLE_LABELS: 'true' });
  // The container entry point ran the bundle with its code cache (scripts/bundle.mjs).
  const listening = w.baton.failover.logs.find((l) => l.includes('"msg":"listening"'));
  assert.match(listening ?? '', /"boot":"bundle [^"]+, code cache used"/, listening);
  await createStatefulSet(w.kc, w.ns, 'db', 3);
  await readyPods(w, 'db', 3);
  await createService(w.kc, w.ns, 'db', { app: 'db' }, { labels: OPT_IN });

  const { active: first, since } = await adopted(w, 'db');
  // Longest ready, then oldest, then name: the StatefulSet's pods start together, so the order is by readiness time or name.
  const adoptedSvc = await service(w, 'db');
  assert.equal(adoptedSvc.metadata?.annotations?.['baton.dev/active'], first);
  assert.equal(adoptedSvc.metadata?.annotations?.['baton.dev/term'], '1');
  assert.deepEqual(JSON.parse(adoptedSvc.metadata?.annotations?.['baton.dev/original-selector'] ?? '{}'), { app: 'db' });
  const activePod = await w.core.readNamespacedPod({ name: first, namespace: w.ns });
  assert.equal(adoptedSvc.spec?.selector?.['baton.dev/pod-id'], activePod.metadata?.uid);

  const { next, ms } = await failOver(w, 'db', first);
  t.diagnostic(`failover latency (Ready=False written -> slice shows only ${next}): ${ms} ms`);
  assert.notEqual(next, first);

  // The old active recovers: sticky, so traffic stays where it is.
  await setPodReady(w.kc, w.ns, first, true);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(w.slices.current('db'), [next]);
  assert.equal((await service(w, 'db')).metadata?.annotations?.['baton.dev/term'], '2');

  // Audit events: documented types, deterministic ids, valid against the published schemas.
  const uid = adoptedSvc.metadata.uid!;
  // An id names the Service, the term and the time of its switch (as the Service records it).
  const idOf = (term: number, kind: string, decidedAt: unknown): string => `${uid}.${term}-${Date.parse(String(decidedAt))}.${kind}`;
  const promoted1 = await w.baton.sink.waitFor('promoted term 1', (e) => e.type === 'dev.baton.failover.promoted' && (e.data as { term?: number }).term === 1);
  const promoted2 = await w.baton.sink.waitFor('promoted term 2', (e) => e.type === 'dev.baton.failover.promoted' && (e.data as { term?: number }).term === 2);
  const completed2 = await w.baton.sink.waitFor('completed term 2', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term?: number }).term === 2);
  assert.equal(promoted1.id, idOf(1, 'promoted', (promoted1.data as { decidedAt: string }).decidedAt));
  assert.equal(promoted2.id, idOf(2, 'promoted', (promoted2.data as { decidedAt: string }).decidedAt));
  assert.equal(completed2.id, idOf(2, 'completed', (completed2.data as { decidedAt: string }).decidedAt));
  for (const e of [promoted1, promoted2, completed2]) {
    const parsed = parseAuditEvent({ ...e.toJSON(), data: e.data });
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(e.subject, `${w.ns}/db`);
  }
  assert.deepEqual((promoted2.data as { reason: string; from: { name: string }; to: { name: string } }).reason, 'failover');
  assert.equal((promoted2.data as { from: { name: string } }).from.name, first);
  assert.equal((promoted2.data as { to: { name: string } }).to.name, next);
  t.diagnostic(`completed latency reported by baton: ${(completed2.data as { latencyMs: number }).latencyMs} ms`);

  // Kubernetes Events on the Service, for `kubectl describe`.
  const events = await waitFor('FailedOver event on the Service', async () => {
    const list = await w.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: `involvedObject.name=db,involvedObject.kind=Service` });
    return list.items.some((e) => e.reason === 'FailedOver') ? list.items : undefined;
  });
  assert.ok(events.some((e) => e.reason === 'Promoted' && e.type === 'Normal'));

  // Role labels for humans (BATON_ROLE_LABELS=true here).
  await waitFor('role labels', async () => {
    const pods = await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: 'app=db' });
    const roles = Object.fromEntries(pods.items.map((p) => [p.metadata!.name!, p.metadata?.labels?.['baton.dev/role']]));
    return roles[next] === 'active' && Object.values(roles).filter((r) => r === 'standby').length === 2 ? true : undefined;
  });
  assertSafe(w, 'db', since);
});

test('Deployment of 3 with failback: priority wins back when it recovers', async (t) => {
  const w = await world(t, 'fo-deploy');
  await createDeployment(w.kc, w.ns, 'web', 3);
  const pods = await readyPods(w, 'web', 3);
  // Deployment pods share a template, so priorities are set on the pods directly.
  const preferred = pods[1]!;
  await w.core.patchNamespacedPod({ name: preferred, namespace: w.ns, body: { metadata: { annotations: { 'baton.dev/priority': '10' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  await annotateService(w.kc, w.ns, 'web', { 'baton.dev/failback': 'true' });
  await labelService(w.kc, w.ns, 'web', OPT_IN);
  await w.slices.waitForReady('web', [preferred]);
  const { since } = await adopted(w, 'web');

  const { next } = await failOver(w, 'web', preferred);
  assert.notEqual(next, preferred);
  await setPodReady(w.kc, w.ns, preferred, true);
  await w.slices.waitForReady('web', [preferred]);
  const svc = await service(w, 'web');
  assert.equal(svc.metadata?.annotations?.['baton.dev/reason'], 'failback');
  assert.equal(svc.metadata?.annotations?.['baton.dev/term'], '3');
  // Role labels are off by default: the pods carry their pod-id and nothing else of baton's.
  const labelled = (await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: 'app=web' })).items;
  assert.ok(labelled.every((p) => p.metadata?.labels?.['baton.dev/role'] === undefined && p.metadata?.labels?.['baton.dev/pod-id'] === p.metadata?.uid), JSON.stringify(labelled.map((p) => p.metadata?.labels)));
  assertSafe(w, 'web', since);
});

test('manual switchover: accepted to a healthy pod, refused for an unknown one; the request is cleared', async (t) => {
  const w = await world(t, 'fo-switch');
  await createDeployment(w.kc, w.ns, 'api', 3, { serviceLabels: OPT_IN });
  const pods = await readyPods(w, 'api', 3);
  const { active, since } = await adopted(w, 'api');
  const target = pods.find((p) => p !== active)!;

  await annotateService(w.kc, w.ns, 'api', { 'baton.dev/switchover-to': target });
  await w.slices.waitForReady('api', [target]);
  const after = await service(w, 'api');
  assert.equal(after.metadata?.annotations?.['baton.dev/switchover-to'], undefined);
  assert.equal(after.metadata?.annotations?.['baton.dev/reason'], 'switchover');
  await w.baton.sink.waitFor('switchover event', (e) => e.type === 'dev.baton.failover.switchover' && (e.data as { to: { name: string } }).to.name === target);

  await annotateService(w.kc, w.ns, 'api', { 'baton.dev/switchover-to': 'no-such-pod' });
  const refused = await w.baton.sink.waitFor('refused event', (e) => e.type === 'dev.baton.failover.switchover.refused');
  assert.equal((refused.data as { requested: string }).requested, 'no-such-pod');
  await waitFor('the refused request to be cleared', async () => ((await service(w, 'api')).metadata?.annotations?.['baton.dev/switchover-to'] === undefined ? true : undefined));
  await waitFor('a SwitchoverRefused Warning event', async () => {
    const list = await w.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: 'involvedObject.name=api' });
    return list.items.some((e) => e.reason === 'SwitchoverRefused' && e.type === 'Warning') ? true : undefined;
  });
  assert.deepEqual(w.slices.current('api'), [target]);
  assertSafe(w, 'api', since);
});

test('no healthy pod: unavailable is published, the last active is kept, and the first pod to recover takes over', async (t) => {
  const w = await world(t, 'fo-unavail');
  await createDeployment(w.kc, w.ns, 'q', 2, { serviceLabels: OPT_IN });
  const pods = await readyPods(w, 'q', 2);
  const { active, since } = await adopted(w, 'q');
  const other = pods.find((p) => p !== active)!;
  await setPodReady(w.kc, w.ns, other, false);
  await setPodReady(w.kc, w.ns, active, false);
  // Term 0 may have its own unavailable event: created with its Deployment, the Service
  // can be seen before any pod is ready. The one wanted here follows the adoption.
  const event = await w.baton.sink.waitFor('unavailable after adoption', (e) => e.type === 'dev.baton.failover.unavailable' && (e.data as { term: number }).term >= 1);
  assert.equal((event.data as { candidates: number }).candidates, 2);
  const svc = await service(w, 'q');
  assert.equal(svc.metadata?.annotations?.['baton.dev/active'], active);
  await setPodReady(w.kc, w.ns, other, true);
  await w.slices.waitForReady('q', [other]);
  assertSafe(w, 'q', since);
});

test('opt-out restores the original selector and removes what baton added', async (t) => {
  const w = await world(t, 'fo-optout');
  await createDeployment(w.kc, w.ns, 'svc', 3, { serviceLabels: OPT_IN });
  const pods = await readyPods(w, 'svc', 3);
  await adopted(w, 'svc');
  await labelService(w.kc, w.ns, 'svc', { 'baton.dev/mode': null });
  await w.slices.waitForReady('svc', pods);
  const svc = await service(w, 'svc');
  assert.deepEqual(svc.spec?.selector, { app: 'svc' });
  assert.deepEqual(Object.keys(svc.metadata?.annotations ?? {}).filter((k) => k.startsWith('baton.dev/')), []);
  await waitFor('pod labels removed', async () => {
    const list = await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: 'app=svc' });
    return list.items.every((p) => !Object.keys(p.metadata?.labels ?? {}).some((k) => k.startsWith('baton.dev/'))) ? true : undefined;
  });
  await w.baton.sink.waitFor('released event', (e) => e.type === 'dev.baton.failover.released');
});

test('a headless Service lists only the active, so DNS discovery finds one pod', async (t) => {
  const w = await world(t, 'fo-headless');
  await createDeployment(w.kc, w.ns, 'h', 3, { headless: true });
  await readyPods(w, 'h', 3);
  await labelService(w.kc, w.ns, 'h', OPT_IN);
  const { active, since } = await adopted(w, 'h');
  const slices = await w.kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: w.ns, labelSelector: 'kubernetes.io/service-name=h' });
  const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
  assert.deepEqual(endpoints.map((e) => e.targetRef?.name), [active]);
  const { next } = await failOver(w, 'h', active);
  assert.notEqual(next, active);
  assertSafe(w, 'h', since);
});

test('a bad annotation leaves the Service as it is and says why', async (t) => {
  const w = await world(t, 'fo-badcfg');
  await createDeployment(w.kc, w.ns, 'b', 2, { serviceLabels: OPT_IN });
  await readyPods(w, 'b', 2);
  const { active } = await adopted(w, 'b');
  const before = await service(w, 'b');
  await annotateService(w.kc, w.ns, 'b', { 'baton.dev/min-switch-interval': '-5s' });
  const invalid = await w.baton.sink.waitFor('config.invalid', (e) => e.type === 'dev.baton.config.invalid');
  assert.match(JSON.stringify(invalid.data), /min-switch-interval/);
  await waitFor('an InvalidConfig Warning event', async () => {
    const list = await w.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: 'involvedObject.name=b' });
    return list.items.some((e) => e.reason === 'InvalidConfig' && e.type === 'Warning') ? true : undefined;
  });
  // Even a failure of the active does not move traffic while the config is invalid.
  await setPodReady(w.kc, w.ns, active, false);
  await new Promise((r) => setTimeout(r, 1000));
  const after = await service(w, 'b');
  assert.deepEqual(after.spec?.selector, before.spec?.selector);
  assert.equal(after.metadata?.annotations?.['baton.dev/term'], before.metadata?.annotations?.['baton.dev/term']);
});

test('hook annotations with a host, a port out of range or a timeout above 30s are refused: a Warning, a config.invalid event, and the Service as it was', async (t) => {
  const w = await world(t, 'fo-badhook');
  await createDeployment(w.kc, w.ns, 'k', 2, { serviceLabels: OPT_IN });
  await readyPods(w, 'k', 2);
  const { active } = await adopted(w, 'k');
  const others = (await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: 'app=k' })).items.map((p) => p.metadata?.name).filter((n) => n !== active);
  const before = await service(w, 'k');
  const bad = { 'baton.dev/promote-hook': 'evil.example:80/x', 'baton.dev/demote-hook': '70000/demote', 'baton.dev/hook-timeout': '1m' };
  // A switchover asked in the same write must not happen while the hooks are invalid.
  await annotateService(w.kc, w.ns, 'k', { ...bad, 'baton.dev/switchover-to': others[0] ?? '' });
  const invalid = await w.baton.sink.waitFor('config.invalid', (e) => e.type === 'dev.baton.config.invalid');
  const problems = (invalid.data as { problems: Array<{ key: string; value: string }> }).problems;
  assert.deepEqual(problems.map((p) => [p.key, p.value]).sort(), Object.entries(bad).sort());
  await waitFor('an InvalidConfig Warning event naming the hooks', async () => {
    const list = await w.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: 'involvedObject.name=k' });
    return list.items.some((e) => e.reason === 'InvalidConfig' && e.type === 'Warning' && /promote-hook=.*<port>\/<path>/.test(e.message ?? '')) ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const after = await service(w, 'k');
  assert.deepEqual(after.spec?.selector, before.spec?.selector);
  assert.equal(after.metadata?.annotations?.['baton.dev/term'], before.metadata?.annotations?.['baton.dev/term']);
  assert.ok(!w.baton.sink.events.some((e) => e.type === 'dev.baton.failover.hook' && (e.data as { term: number }).term > 1), 'a hook was called under a bad configuration');
});

test('a Service created with the placeholder pod-id is never seen routing to more than one pod', async (t) => {
  const w = await world(t, 'fo-zero');
  const since = Date.now();
  // The documented zero-window opt-in: the selector names no pod until baton picks one.
  await createService(w.kc, w.ns, 'z', { app: 'z', 'baton.dev/pod-id': 'none' }, { labels: OPT_IN });
  await createDeployment(w.kc, w.ns, 'z-pods', 3, { podLabels: { app: 'z' }, service: false });
  const { active } = await adopted(w, 'z');
  const svc = await service(w, 'z');
  assert.deepEqual(JSON.parse(svc.metadata?.annotations?.['baton.dev/original-selector'] ?? '{}'), { app: 'z' });
  assert.equal(svc.metadata?.annotations?.['baton.dev/reason'], 'initial');
  const { next } = await failOver(w, 'z', active);
  assert.notEqual(next, active);
  assertSafe(w, 'z', since);
});
