// Fencing on the local plane, under the shipped RBAC: with `baton.dev/fence: evict` the pod
// a failover leaves is evicted once the new active routes alone; a PodDisruptionBudget
// that forbids it wins and is reported; without the setting the pod stays. The slices
// never show two ready pods. (Connections themselves are measured on the real node:
// test/e2e/real-node.test.ts.)
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { startBaton, type Baton } from './support/baton.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { watchSlices, type SliceWatcher } from './support/slices.js';
import { createDeployment, setPodReady } from './support/workloads.js';

const FENCED = 'dev.baton.failover.fenced';
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Setup {
  readonly ns: string;
  readonly core: k8s.CoreV1Api;
  readonly baton: Baton;
  readonly slices: SliceWatcher;
  readonly active: string;
  readonly activeUid: string;
  readonly adoptedAt: number;
}

async function optedIn(t: TestContext, name: string, annotations: Record<string, string>, before?: (ns: string) => Promise<void>): Promise<Setup> {
  const ns = await testNamespace(t, name);
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  await createDeployment(kc, ns, 'app', 3);
  await before?.(ns);
  await waitFor('3 ready pods', async () => ((await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=app' })).items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined));
  await core.patchNamespacedService({ name: 'app', namespace: ns, body: { metadata: { labels: { 'baton.dev/mode': 'active-standby' }, annotations } } }, merge);
  const svc = await waitFor('adoption completed', async () => {
    const s = await core.readNamespacedService({ name: 'app', namespace: ns });
    return s.metadata?.annotations?.['baton.dev/completed-term'] === '1' ? s : undefined;
  });
  return { ns, core, baton, slices, active: svc.metadata!.annotations!['baton.dev/active']!, activeUid: svc.metadata!.annotations!['baton.dev/active-uid']!, adoptedAt: Date.now() };
}

/** Fails the active over and waits for the term to complete; returns the new active. */
async function failover(s: Setup): Promise<string> {
  await setPodReady(adminConfig(), s.ns, s.active, false);
  const done = await s.baton.sink.waitFor('completed term 2', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term: number }).term === 2);
  return (done.data as { active: { name: string } }).active.name;
}

async function podState(core: k8s.CoreV1Api, ns: string, name: string): Promise<'running' | 'deleting' | 'gone'> {
  try {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    return p.metadata?.deletionTimestamp ? 'deleting' : 'running';
  } catch {
    return 'gone';
  }
}

test('fence=evict: the pod a failover leaves is evicted once the new active routes alone', async (t) => {
  const s = await optedIn(t, 'fence-evict', { 'baton.dev/fence': 'evict' });
  const next = await failover(s);
  assert.notEqual(next, s.active);
  const event = await s.baton.sink.waitFor('the fenced event', (e) => e.type === FENCED);
  assert.deepEqual({ ...(event.data as Record<string, unknown>), detail: undefined }, {
    service: { namespace: s.ns, name: 'app', uid: (event.data as { service: { uid: string } }).service.uid },
    term: 2,
    pod: { name: s.active, uid: s.activeUid },
    outcome: 'evicted',
    detail: undefined,
  });
  await waitFor(`${s.active} to be evicted`, async () => ((await podState(s.core, s.ns, s.active)) !== 'running' ? true : undefined));
  assert.equal(await podState(s.core, s.ns, next), 'running', 'the new active is never touched');
  const svc = await s.core.readNamespacedService({ name: 'app', namespace: s.ns });
  assert.equal(svc.metadata?.annotations?.['baton.dev/fence-pending'], undefined, 'the mark is removed');
  assert.equal(svc.metadata?.annotations?.['baton.dev/active'], next);
  const events = await s.core.listNamespacedEvent({ namespace: s.ns, fieldSelector: 'involvedObject.name=app,reason=Fenced' });
  assert.equal(events.items.length, 1, 'one Fenced Event');
  assert.deepEqual(s.slices.violations('app', s.adoptedAt), [], 'never two ready pods');
});

test('fence=evict with a PodDisruptionBudget that forbids it: refused, reported, and the pod stays', async (t) => {
  const s = await optedIn(t, 'fence-pdb', { 'baton.dev/fence': 'evict' }, async (ns) => {
    await adminConfig().makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: 'app' }, spec: { minAvailable: 3, selector: { matchLabels: { app: 'app' } } } } });
  });
  await failover(s);
  const event = await s.baton.sink.waitFor('the fenced event', (e) => e.type === FENCED);
  assert.equal((event.data as { outcome: string }).outcome, 'refused');
  assert.match((event.data as { detail: string }).detail, /disruption budget/);
  const warning = await waitFor('a FenceRefused Warning', async () => (await s.core.listNamespacedEvent({ namespace: s.ns, fieldSelector: 'involvedObject.name=app,reason=FenceRefused' })).items[0]);
  assert.equal(warning.type, 'Warning');
  assert.equal(await podState(s.core, s.ns, s.active), 'running');
  const svc = await s.core.readNamespacedService({ name: 'app', namespace: s.ns });
  assert.equal(svc.metadata?.annotations?.['baton.dev/fence-pending'], undefined, 'the mark is removed: no retry loop against the budget');
  assert.deepEqual(s.slices.violations('app', s.adoptedAt), []);
});

test('without fencing the pod a failover leaves keeps running; a bad fence value is a Warning and changes nothing', async (t) => {
  const s = await optedIn(t, 'fence-off', {});
  await failover(s);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(await podState(s.core, s.ns, s.active), 'running');
  assert.ok(!s.baton.sink.events.some((e) => e.type === FENCED));

  await s.core.patchNamespacedService({ name: 'app', namespace: s.ns, body: { metadata: { annotations: { 'baton.dev/fence': 'yes' } } } }, merge);
  const invalid = await s.baton.sink.waitFor('config.invalid', (e) => e.type === 'dev.baton.config.invalid');
  assert.deepEqual((invalid.data as { problems: unknown[] }).problems, [{ key: 'baton.dev/fence', value: 'yes', message: 'expected "evict" or "off"' }]);
  await waitFor('an InvalidConfig Warning', async () => (await s.core.listNamespacedEvent({ namespace: s.ns, fieldSelector: 'involvedObject.name=app,reason=InvalidConfig' })).items[0]);
  assert.deepEqual(s.slices.violations('app', s.adoptedAt), []);
});
