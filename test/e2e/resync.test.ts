// Without any event at all, the resync sweep adopts opted-in Services and fails over
// from unhealthy actives: what heals events the adapter never sent or dropped.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../plane/paths.js';
import { waitFor } from '../../plane/wait.js';
import { installRbac, loggedDetail, serviceAccountKubeconfig, startFunction } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { startSink } from './support/sink.js';
import { watchSlices } from './support/slices.js';
import { createDeployment, setPodReady } from './support/workloads.js';
import { createDirectService, createNamedPortDeployment, sliceWhere } from './support/direct.js';

test('resync adopts and fails over with no event delivered, and baton status shows the result', async (t) => {
  const ns = await testNamespace(t, 'resync');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const slices = await watchSlices(t, ns);
  await createDeployment(kc, ns, 'app', 3, { serviceLabels: { 'baton.dev/mode': 'active-standby' } });
  await waitFor('3 ready pods', async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=app' });
    return list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
  });

  await installRbac();
  const sink = await startSink();
  t.after(() => sink.close());
  // No adapter: the only trigger is the sweep's own schedule.
  const resync = await startFunction('resync', {
    KUBECONFIG: await serviceAccountKubeconfig('baton-failover'),
    K_SINK: sink.url,
    BATON_RESYNC_INTERVAL_MS: '1000',
    BATON_NAMESPACES: ns,
  });
  t.after(() => resync.stop());

  const active = await waitFor('the sweep to adopt the Service', () => (slices.current('app').length === 1 ? slices.current('app')[0] : undefined), { timeoutMs: 20_000 });
  await sink.waitFor('promoted term 1', (e) => e.type === 'dev.baton.failover.promoted' && (e.data as { term: number }).term === 1);
  const since = Date.now();
  await setPodReady(kc, ns, active, false);
  const next = await waitFor('the sweep to fail over', () => {
    const now = slices.current('app');
    return now.length === 1 && now[0] !== active ? now[0] : undefined;
  }, { timeoutMs: 20_000 });
  const promoted = await sink.waitFor('promoted term 2', (e) => e.type === 'dev.baton.failover.promoted' && (e.data as { term: number }).term === 2);
  assert.equal((promoted.data as { reason: string }).reason, 'failover');
  assert.deepEqual(slices.violations('app', since), []);

  // A sweep is also triggered by any CloudEvent (a PingSource tick in a cluster).
  const tick = await fetch(resync.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-id': 'tick-1', 'ce-source': '/apis/v1/namespaces/baton-system/pingsources/resync', 'ce-type': 'dev.knative.sources.ping', 'ce-specversion': '1.0' },
    body: '{}',
  });
  assert.equal(tick.status, 200);
  assert.match(await loggedDetail(resync, tick.headers.get('x-request-id')), /1 services in \d+ ms/);

  const status = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'status', '-n', ns], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(status.status, 0, status.stderr);
  const row = status.stdout.split('\n').find((l) => l.startsWith(`${ns} `));
  assert.ok(row, status.stdout);
  assert.match(row, new RegExp(`${ns}\\s+app\\s+${next}\\s+2\\s+1/2\\s+\\d+s ago\\s+failover`));
});

test('resync in direct mode: adopts with no event, repairs baton\'s slice edited by hand, and baton status shows the mode', async (t) => {
  const ns = await testNamespace(t, 'resync-direct');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  await createNamedPortDeployment(kc, ns, 'web', 2);
  const pods = await waitFor('2 ready pods with IPs', async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    const ready = list.items.filter((p) => p.status?.podIP && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 2 ? ready : undefined;
  });
  await createDirectService(kc, ns, 'web', 'app=web');
  await installRbac();
  const resync = await startFunction('resync', { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), BATON_RESYNC_INTERVAL_MS: '1000', BATON_NAMESPACES: ns });
  t.after(() => resync.stop());

  const adopted = await sliceWhere(kc, ns, 'web', 'adopted by the sweep', (s) => s.endpoints?.[0]?.conditions?.ready === true, 20_000);
  const active = adopted.endpoints[0]!.targetRef!.name!;
  const other = pods.find((p) => p.metadata?.name !== active)!;
  // Someone edits baton's slice to route to the other pod: the next sweep puts it back.
  await discovery.replaceNamespacedEndpointSlice({
    name: 'web-baton',
    namespace: ns,
    body: { ...adopted, endpoints: [{ addresses: [other.status!.podIP!], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: ns, name: other.metadata!.name!, uid: other.metadata!.uid! } }] },
  });
  const repaired = await sliceWhere(kc, ns, 'web', `back on ${active}`, (s) => s.endpoints?.length === 1 && s.endpoints[0]?.targetRef?.name === active, 20_000);
  assert.equal(repaired.metadata?.annotations?.['baton.dev/term'], '1');

  const status = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'status', '-n', ns], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(status.status, 0, status.stderr);
  const row = status.stdout.split('\n').find((l) => l.startsWith(`${ns} `));
  assert.match(row ?? '', new RegExp(`${ns}\\s+web\\s+${active}\\s+1\\s+1/1\\s+\\d+s ago\\s+initial\\s+direct`), status.stdout);
});
