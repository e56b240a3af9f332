// What baton costs the API server, counted by the API server itself (its audit log),
// not by the client: requests per irrelevant pod event (must be none) and per failover.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { auditOffset, describeRequest, requestsSince as auditedSince, serviceAccountUser } from '../chaos/auditlog.js';
import { startBaton } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { watchSlices } from './support/slices.js';
import { createDeployment, setPodReady } from './support/workloads.js';

const FAILOVER_USER = serviceAccountUser('baton-failover');

/** Completed requests by `user` since byte `from` of the audit log, as "verb resource" (" 409" appended when refused). */
function requestsSince(from: number, user: string): string[] {
  return auditedSince(testPlane().dir, from, user).map(describeRequest);
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('pod events that no opted-in Service cares about cost the API server nothing', async (t) => {
  const ns = await testNamespace(t, 'cost-noise');
  const kc = adminConfig();
  // A long index refresh keeps the periodic re-list out of the counting window.
  const baton = await startBaton(t, ns, { BATON_INDEX_REFRESH_MS: '3600000' });
  await createDeployment(kc, ns, 'noise', 3);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const pods = await waitFor('3 ready noise pods', async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=noise' });
    const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 3 ? ready.map((p) => p.metadata!.name!) : undefined;
  });
  await settle(500);
  const from = auditOffset(testPlane().dir);
  const handledBefore = baton.failover.logs.filter((l) => l.includes(`/namespaces/${ns}/pods/`)).length;
  const flips = 20;
  // Each flip toggles a pod, so every patch is a real change (a repeated value within
  // the same second would be a no-op that sends no event).
  const ready = new Map(pods.map((p) => [p, true]));
  for (let i = 0; i < flips; i++) {
    const pod = pods[i % 3]!;
    ready.set(pod, !ready.get(pod));
    await setPodReady(kc, ns, pod, ready.get(pod)!);
  }
  const handled = await waitFor(`${flips} pod events to reach baton`, () => {
    const lines = baton.failover.logs.filter((l) => l.includes(`/namespaces/${ns}/pods/`));
    return lines.length - handledBefore >= flips ? lines.slice(handledBefore) : undefined;
  });
  assert.ok(handled.every((l) => l.includes('"outcome":"ignored"')), handled.find((l) => !l.includes('"outcome":"ignored"')));
  await settle(300);
  const requests = requestsSince(from, FAILOVER_USER);
  t.diagnostic(`irrelevant pod events handled: ${handled.length}; API requests by baton-failover meanwhile: ${requests.length}`);
  assert.deepEqual(requests, []);
});

for (const roleLabels of [false, true]) {
test(`API requests per failover, counted at the server (role labels ${roleLabels ? 'on' : 'off'})`, async (t) => {
  const ns = await testNamespace(t, roleLabels ? 'cost-roles' : 'cost-failover');
  const kc = adminConfig();
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROLE_LABELS: String(roleLabels) });
  await createDeployment(kc, ns, 'app', 3);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await waitFor('3 ready pods', async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=app' });
    return list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
  });
  await core.patchNamespacedService({ name: 'app', namespace: ns, body: { metadata: { labels: { 'baton.dev/mode': 'active-standby' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  const svc = await waitFor('adoption', async () => {
    const s = await core.readNamespacedService({ name: 'app', namespace: ns });
    return s.metadata?.annotations?.['baton.dev/completed-term'] === '1' ? s : undefined;
  });
  await settle(1000);
  const active = svc.metadata!.annotations!['baton.dev/active']!;
  const from = auditOffset(testPlane().dir);
  await setPodReady(kc, ns, active, false);
  await waitFor('a new single ready endpoint', () => (slices.current('app').length === 1 && slices.current('app')[0] !== active ? true : undefined));
  await baton.sink.waitFor('completed term 2', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term: number }).term === 2);
  await settle(1000);
  const requests = requestsSince(from, FAILOVER_USER);
  const byKind = requests.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r]: (acc[r] ?? 0) + 1 }), {});
  t.diagnostic(`API requests per failover (all, incl. evidence and completion): ${requests.length} ${JSON.stringify(byKind)}`);
  // The switch itself is exactly one successful Service patch, the completion record one
  // more (another attempt may lose the race with 409); everything else is reads and evidence.
  assert.equal(requests.filter((r) => r === 'patch services').length, 2, `one switch + one completed-term record: ${JSON.stringify(byKind)}`);
  // Refused writes are only lost races: a completion record, or a role label written
  // under a resourceVersion guard after the pod changed.
  assert.ok(requests.every((r) => !r.endsWith(' 409') || r === 'patch services 409' || r === 'patch pods 409'), JSON.stringify(byKind));
  assert.ok(!requests.some((r) => r.startsWith('update ') || r.startsWith('delete ')), JSON.stringify(byKind));
  // The echoes of baton's own writes (its Service patches and completion record) cost
  // nothing: one list of pods for the decision. (An echo that overtakes its write's
  // reply waits for it.)
  assert.equal(byKind['list pods'], 1, `one list of pods for the decision: ${JSON.stringify(byKind)}`);
  // And the echoes of the two role-label writes, when they are on: their events show
  // the pods exactly as the guarded writes left them.
  // Measured: 7 (list pods, patch services x2, list endpointslices, get services for the
  // slice event of the old active, create events x2), plus the 2 label writes when on.
  const labelWrites = requests.filter((r) => r.startsWith('patch pods')).length;
  if (roleLabels) assert.ok(labelWrites <= 2, `one role label write per changed pod: ${JSON.stringify(byKind)}`);
  else assert.equal(labelWrites, 0, `no pod writes once the candidates carry their pod-id: ${JSON.stringify(byKind)}`);
  assert.ok(requests.length - labelWrites <= 9, `at most 9 requests per failover besides role labels: ${JSON.stringify(byKind)}`);
});
}
