// Planned maintenance, as `kubectl drain` does it: the active is evicted (a
// PodDisruptionBudget allowing one pod down lets it through; bare pods need minAvailable,
// as a budget's maxUnavailable needs a controller to count from), and baton moves traffic as
// soon as the pod is terminating, before it is gone. The pods sit on a Node no kubelet or
// kwok manages, and a finalizer of the test's own holds the evicted pod in Terminating,
// so "before it is gone" is a fact the test can check, not a race it hopes to win.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { startBaton } from './support/baton.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { watchSlices } from './support/slices.js';

const HOLD = 'baton.test/hold';
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

test('a drained active (evicted; a PodDisruptionBudget of minAvailable 2 lets one through) is switched away from while it is still terminating', async (t) => {
  const ns = await testNamespace(t, 'drain');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const node = `unmanaged-${ns}`;
  // No kwok annotation: nothing runs these pods, so nothing but the test changes them.
  await core.createNode({ body: { metadata: { name: node, labels: { 'kubernetes.io/hostname': node } } } });
  const pods = ['db-0', 'db-1', 'db-2'];
  t.after(async () => {
    for (const name of pods) await core.patchNamespacedPod({ name, namespace: ns, body: { metadata: { finalizers: null } } }, merge).catch(() => undefined);
    await core.deleteNode({ name: node }).catch(() => undefined);
  });
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  await kc.makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: 'db' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'db' } } } } });
  for (const [i, name] of pods.entries()) {
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: 'db' }, finalizers: [HOLD] }, spec: { nodeName: node, containers: [{ name: 'db', image: 'example.com/db:1' }] } } });
    const now = new Date();
    await core.patchNamespacedPodStatus(
      { name, namespace: ns, body: { status: { phase: 'Running', podIP: `198.18.251.${10 + i}`, podIPs: [{ ip: `198.18.251.${10 + i}` }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } } },
      strategic,
    );
  }
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db', labels: { 'baton.dev/mode': 'active-standby' } }, spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] } } });
  const svc = await waitFor('adoption completed', async () => {
    const s = await core.readNamespacedService({ name: 'db', namespace: ns });
    return s.metadata?.annotations?.['baton.dev/completed-term'] === '1' ? s : undefined;
  });
  const adoptedAt = Date.now();
  const old = svc.metadata!.annotations!['baton.dev/active']!;

  const policy = kc.makeApiClient(k8s.PolicyV1Api);
  await waitFor('the budget to allow one eviction', async () => ((await policy.readNamespacedPodDisruptionBudget({ name: 'db', namespace: ns })).status?.disruptionsAllowed === 1 ? true : undefined));
  // What `kubectl drain` sends for each pod of the node.
  await core.createNamespacedPodEviction({ name: old, namespace: ns, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: old, namespace: ns } } });
  const next = await waitFor('traffic to move to another pod', () => {
    const ready = slices.current('db');
    return ready.length === 1 && ready[0] !== old ? ready[0] : undefined;
  });
  const promoted = await baton.sink.waitFor('the failover event', (e) => e.type === 'dev.baton.failover.promoted' && (e.data as { term: number }).term === 2);
  assert.deepEqual([(promoted.data as { reason: string }).reason, (promoted.data as { from: { name: string } }).from.name, (promoted.data as { to: { name: string } }).to.name], ['failover', old, next]);
  // Still there, terminating: the switch did not wait for the pod to go.
  const terminating = await core.readNamespacedPod({ name: old, namespace: ns });
  assert.ok(terminating.metadata?.deletionTimestamp, `${old} is not terminating`);
  assert.deepEqual(slices.violations('db', adoptedAt), [], 'never two ready pods');

  // The budget now counts the terminating pod as down: a second drain eviction is refused,
  // so a drain cannot take the new active too while the old one is going.
  const second = await core.createNamespacedPodEviction({ name: next, namespace: ns, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: next, namespace: ns } } }).then(
    () => 'allowed',
    (error: unknown) => String((error as { code?: number }).code ?? error),
  );
  assert.equal(second, '429');
});
