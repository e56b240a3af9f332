// Planned maintenance, first step: `kubectl cordon` marks the active's Node unschedulable,
// and baton moves the traffic to a healthy pod on a schedulable Node while the old active
// is still Ready and running (a planned switch, reason cordon), under the shipped RBAC,
// fed by the real adapter (which watches Nodes). The pods run on two kwok Nodes of the
// test's own, tainted so that no other test's pod lands there, so cordoning them disturbs
// nothing else on the plane.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { auditOffset, describeRequest, requestsSince, serviceAccountUser, tally } from '../chaos/auditlog.js';
import { startBaton } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { watchSlices } from './support/slices.js';
import { annotateService } from './support/workloads.js';

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const TAINT = 'baton.test/cordon';

const readyRunning = (p: k8s.V1Pod | undefined): boolean => p?.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && !p.metadata?.deletionTimestamp;

test('a cordon of the active\'s Node switches to a healthy pod on a schedulable Node before the pod goes, and an uncordon brings no switch back', async (t) => {
  const ns = await testNamespace(t, 'cordon');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // Two /24s well above those of the plane's own kwok nodes, in the same pod range.
  const base = (await core.readNode({ name: 'kwok-node-0' })).spec?.podCIDR?.split('.').slice(0, 2).join('.') ?? '198.18';
  const nodes = { a: `${ns}-a`, b: `${ns}-b` };
  for (const [i, name] of [nodes.a, nodes.b].entries()) {
    await core.createNode({
      body: {
        metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' }, labels: { type: 'kwok', 'kubernetes.io/hostname': name } },
        spec: { podCIDR: `${base}.${240 + i}.0/24`, taints: [{ key: TAINT, value: ns, effect: 'NoSchedule' }] },
      },
    });
  }
  const pods = { 'db-0': nodes.a, 'db-1': nodes.b, 'db-2': nodes.b };
  t.after(async () => {
    for (const name of Object.keys(pods)) await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
    for (const name of [nodes.a, nodes.b]) await core.deleteNode({ name }).catch(() => undefined);
  });
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  for (const [name, node] of Object.entries(pods)) {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        // db-0 ranks first, so it is the first active: on the Node that will be cordoned.
        metadata: { name, labels: { app: 'db' }, annotations: name === 'db-0' ? { 'baton.dev/priority': '10' } : {} },
        spec: { nodeName: node, tolerations: [{ key: TAINT, operator: 'Exists', effect: 'NoSchedule' }], containers: [{ name: 'db', image: 'example.com/db:1' }] },
      },
    });
  }
  await waitFor('3 ready pods on the test\'s nodes', async () => ((await core.listNamespacedPod({ namespace: ns })).items.filter(readyRunning).length === 3 ? true : undefined), { timeoutMs: 30_000 });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db', labels: { 'baton.dev/mode': 'active-standby' } }, spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] } } });
  await waitFor('adoption of db-0 completed', async () => {
    const s = await core.readNamespacedService({ name: 'db', namespace: ns });
    return s.metadata?.annotations?.['baton.dev/completed-term'] === '1' && s.metadata.annotations['baton.dev/active'] === 'db-0' ? true : undefined;
  });
  const adoptedAt = Date.now();
  await new Promise((r) => setTimeout(r, 500));

  // What `kubectl cordon` sends; from here the API server counts baton-failover's requests.
  const from = auditOffset(testPlane().dir);
  await core.patchNode({ name: nodes.a, body: { spec: { unschedulable: true } } }, merge);
  const next = await waitFor('traffic to move off the cordoned node', () => {
    const ready = slices.current('db');
    return ready.length === 1 && ready[0] !== 'db-0' ? ready[0] : undefined;
  });
  assert.equal(pods[next as keyof typeof pods], nodes.b);
  const moved = await baton.sink.waitFor('the switch event', (e) => e.type === 'dev.baton.failover.promoted' && (e.data as { term: number }).term === 2);
  const data = moved.data as { reason: string; from: { name: string }; to: { name: string } };
  assert.deepEqual([data.reason, data.from.name, data.to.name], ['cordon', 'db-0', next]);
  // A planned switch: the old active is still there, Ready and Running, not even terminating.
  assert.ok(readyRunning(await core.readNamespacedPod({ name: 'db-0', namespace: ns })), 'db-0 is still Ready and Running');
  const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=db,reason=MovedOffCordonedNode' });
  assert.match(events.items[0]?.message ?? '', new RegExp(`node ${nodes.a} of db-0 is cordoned`));
  await baton.sink.waitFor('completed term 2', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term: number }).term === 2);
  await new Promise((r) => setTimeout(r, 500));
  const requests = requestsSince(testPlane().dir, from, serviceAccountUser('baton-failover')).map(describeRequest);
  t.diagnostic(`API requests by baton-failover from the cordon to the completed switch: ${requests.length} ${JSON.stringify(tally(requests))}`);
  // The Node event is checked with one read of the Node unless the watch had it already.
  assert.ok((tally(requests)['get nodes'] ?? 0) <= 1, JSON.stringify(tally(requests)));
  assert.equal(tally(requests)['list pods'], 2, `one list of the pods on the Node, one of the candidates: ${JSON.stringify(tally(requests))}`);
  assert.equal(requests.filter((r) => r === 'patch services').length, 2, `the switch and its completion record: ${JSON.stringify(tally(requests))}`);

  // Uncordon, then make baton look: the Service stays where it is (failback is off).
  await core.patchNode({ name: nodes.a, body: { spec: { unschedulable: null } } }, merge);
  await waitFor('the node to be schedulable', async () => ((await core.readNode({ name: nodes.a })).spec?.unschedulable !== true ? true : undefined));
  for (let i = 0; i < 3; i++) {
    const seen = baton.failover.logs.length;
    await annotateService(kc, ns, 'db', { 'baton.test/poke': String(i) });
    await waitFor(`baton to look at db after poke ${i}`, () => (baton.failover.logs.slice(seen).some((l) => l.includes(`/namespaces/${ns}/services/db`) && l.includes('steady')) ? true : undefined));
  }
  const after = await core.readNamespacedService({ name: 'db', namespace: ns });
  assert.deepEqual([after.metadata?.annotations?.['baton.dev/term'], after.metadata?.annotations?.['baton.dev/active']], ['2', next]);
  assert.deepEqual(slices.current('db'), [next]);
  assert.deepEqual(slices.violations('db', adoptedAt), [], 'never two ready pods');
});

test('a cordon with no healthy pod on a schedulable Node leaves the active where it is', async (t) => {
  const ns = await testNamespace(t, 'cordon-only');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const base = (await core.readNode({ name: 'kwok-node-0' })).spec?.podCIDR?.split('.').slice(0, 2).join('.') ?? '198.18';
  const node = `${ns}-a`;
  await core.createNode({
    body: {
      metadata: { name: node, annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' }, labels: { type: 'kwok', 'kubernetes.io/hostname': node } },
      spec: { podCIDR: `${base}.242.0/24`, taints: [{ key: TAINT, value: ns, effect: 'NoSchedule' }] },
    },
  });
  t.after(async () => {
    await core.deleteNamespacedPod({ name: 'db-0', namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
    await core.deleteNode({ name: node }).catch(() => undefined);
  });
  const baton = await startBaton(t, ns);
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'db-0', labels: { app: 'db' } }, spec: { nodeName: node, tolerations: [{ key: TAINT, operator: 'Exists', effect: 'NoSchedule' }], containers: [{ name: 'db', image: 'example.com/db:1' }] } } });
  await waitFor('db-0 ready', async () => (readyRunning(await core.readNamespacedPod({ name: 'db-0', namespace: ns })) ? true : undefined), { timeoutMs: 30_000 });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db', labels: { 'baton.dev/mode': 'active-standby' } }, spec: { selector: { app: 'db' }, ports: [{ port: 5432 }] } } });
  await waitFor('adoption', async () => ((await core.readNamespacedService({ name: 'db', namespace: ns })).metadata?.annotations?.['baton.dev/active'] === 'db-0' ? true : undefined));
  const seen = baton.failover.logs.length;
  await core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, merge);
  const line = await waitFor('baton to look at the cordoned node', () => baton.failover.logs.slice(seen).find((l) => l.includes(`node ${node} is cordoned`)));
  assert.match(line, /steady \(db-0 is active and healthy on cordoned node/);
  const warning = await waitFor('the Warning Event', async () => (await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=db,reason=ActiveOnCordonedNode' })).items[0]);
  assert.equal(warning.type, 'Warning');
  assert.match(warning.message ?? '', new RegExp(`db-0 stays the active on cordoned node ${node}`));
  const svc = await core.readNamespacedService({ name: 'db', namespace: ns });
  assert.deepEqual([svc.metadata?.annotations?.['baton.dev/term'], svc.metadata?.annotations?.['baton.dev/active']], ['1', 'db-0']);
});
