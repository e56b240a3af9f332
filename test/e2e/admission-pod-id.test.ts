// The admission policies in knative/base/admission.yaml, on the real API server, with
// baton running behind the real adapter and an independent EndpointSlice watch.
//
// The shipped bindings are cluster-wide; other e2e tests in the same run remove the
// pod-id key on purpose (to test re-pinning), so each test here binds the shipped
// policy, under a name of its own, to its own namespace only.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { startBaton } from './support/baton.js';
import { adminConfig, statusOf, testNamespace } from './support/plane.js';
import { watchSlices } from './support/slices.js';
import { createDeployment, setPodReady } from './support/workloads.js';
import { OPT_IN, POD_ID, merge, shipped, enforce, podProbe, refused, readyPods, adopted, copyOf, UUID, Verdict, verdict } from './support/admission.js';

test('pod-id policy: a pod carrying another pod\'s UID is refused at create and at update; baton\'s own labels pass', async (t) => {
  const ns = await testNamespace(t, 'adm-pod');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await enforce(t, ns, shipped('baton-pod-id'), podProbe(core, ns));
  const slices = await watchSlices(t, ns);
  await startBaton(t, ns);
  // Every pod-id label baton writes from here on goes through the policy.
  await createDeployment(kc, ns, 'db', 2, { serviceLabels: OPT_IN });
  await readyPods(core, ns, 'db', 2);
  const { active, uid, since } = await adopted(core, slices, ns, 'db');
  const activePod = await core.readNamespacedPod({ name: active, namespace: ns });

  // CREATE: the copy of the active, with its labels, is refused, and the message shows
  // that metadata.uid was already filled in when validating admission ran.
  const atCreate = await refused('a copy carrying the active\'s pod-id', () =>
    core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'db-copy', { ...activePod.metadata!.labels! }) }),
  );
  t.diagnostic(`refused at create (${atCreate.code}): ${atCreate.message}`);
  assert.equal(atCreate.code, 422);
  assert.match(atCreate.message, /ValidatingAdmissionPolicy 'baton-pod-id-/);
  assert.match(atCreate.message, /Remove baton\.dev\/pod-id from the pod template or manifest; baton sets it itself/);
  const uidAtCreate = new RegExp(`pod's own UID \\((${UUID.source})\\), not ${uid}`).exec(atCreate.message);
  assert.ok(uidAtCreate, `object.metadata.uid is set during validating admission at CREATE: ${atCreate.message}`);
  assert.notEqual(uidAtCreate[1], uid);
  await assert.rejects(core.readNamespacedPod({ name: 'db-copy', namespace: ns }), (e: unknown) => statusOf(e) === 404);

  // UPDATE: a pod made without the label cannot be given the active's UID later, may
  // carry its own (the write baton makes), and may drop it again.
  const bystander = await core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'bystander', { app: 'db' }) });
  const atUpdate = await refused('relabelling a pod with the active\'s pod-id', () =>
    core.patchNamespacedPod({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: uid } } } }, merge),
  );
  assert.equal(atUpdate.code, 422);
  assert.match(atUpdate.message, new RegExp(`pod's own UID \\(${bystander.metadata!.uid}\\), not ${uid}`));
  // A status write can change labels too (pods/status is in the policy's rules).
  const viaStatus = await refused('relabelling through pods/status', () =>
    core.patchNamespacedPodStatus({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: uid } } } }, merge),
  );
  assert.equal(viaStatus.code, 422);
  await core.patchNamespacedPod({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: bystander.metadata!.uid! } } } }, merge);
  await core.patchNamespacedPod({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: null } } } }, merge);

  // A workload whose template carries the label: its ReplicaSet reports the refusal.
  await createDeployment(kc, ns, 'copied', 1, { podLabels: { app: 'copied', [POD_ID]: uid }, service: false });
  const failed = await waitFor('a FailedCreate event that says what to do', async () => {
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=FailedCreate' });
    return events.items.find((e) => /Remove baton\.dev\/pod-id from the pod template/.test(e.message ?? ''));
  });
  assert.equal(failed.involvedObject.kind, 'ReplicaSet');

  // baton's own writes under the policy: a failover labels the standby and moves the
  // selector; every pod of the Deployment ends up with its own UID.
  await setPodReady(kc, ns, active, false);
  const next = await waitFor('a failover', () => {
    const now = slices.current('db');
    return now.length === 1 && now[0] !== active ? now[0] : undefined;
  });
  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=db' })).items;
  assert.ok(
    pods.filter((p) => p.metadata?.name !== 'bystander').every((p) => p.metadata?.labels?.[POD_ID] === p.metadata?.uid),
    JSON.stringify(pods.map((p) => [p.metadata?.name, p.metadata?.uid, p.metadata?.labels?.[POD_ID]])),
  );
  assert.equal((await core.readNamespacedService({ name: 'db', namespace: ns })).metadata?.annotations?.['baton.dev/active'], next);
  assert.deepEqual(slices.violations('db', since), [], JSON.stringify(slices.history('db')));
});

test('pod-id policy off (the old behaviour): a pod carrying the active\'s UID becomes a second endpoint', async (t) => {
  const ns = await testNamespace(t, 'adm-pod-off');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  await createDeployment(kc, ns, 'db', 2, { serviceLabels: OPT_IN });
  await readyPods(core, ns, 'db', 2);
  const { active, uid, since } = await adopted(core, slices, ns, 'db');
  const activePod = await core.readNamespacedPod({ name: active, namespace: ns });
  // The labels the Service selects (a copy that also kept pod-template-hash would be
  // adopted by the ReplicaSet, which would then delete one of its pods).
  const impostor = { app: 'db', [POD_ID]: uid };

  // With baton's event feed up, baton relabels a candidate it sees with the wrong id;
  // whether the copy is a second endpoint first is a race with its readiness. Recorded.
  const created = Date.now();
  await core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'db-copy', impostor) });
  const relabelled = await waitFor('baton to give the copy its own pod-id', async () => {
    const p = await core.readNamespacedPod({ name: 'db-copy', namespace: ns });
    return p.metadata?.labels?.[POD_ID] === p.metadata?.uid ? Date.now() : undefined;
  });
  const raced = slices.violations('db', since).filter((o) => o.ready.includes('db-copy'));
  t.diagnostic(`feed up: baton relabelled the copy within ${relabelled - created} ms of the create call; second endpoint seen ${raced.length} time(s)`);

  // With the feed down (an adapter restart, or the events it drops), nothing stands in
  // the way until the next sweep: the copy serves next to the active.
  await baton.adapter.stop();
  const mark = Date.now();
  await core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'db-copy-2', impostor) });
  const two = await waitFor('the second copy to be a second ready endpoint', () => slices.violations('db', mark).find((o) => o.ready.includes('db-copy-2') && o.ready.includes(active)));
  t.diagnostic(`feed down: [${two.ready.join(',')}] ready behind one pod-id, ${two.at - mark} ms after the create`);
});

test('pod-id policy, decision table: dry-run writes judged by the API server', async (t) => {
  const ns = await testNamespace(t, 'adm-pod-table');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const spec = { containers: [{ name: 'c', image: 'example.com/app:1' }] };
  const other = '0b6c6f1e-0000-4000-8000-000000000000';
  // Made before the policy: one plain pod, one that already carries a wrong pod-id.
  const plain = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'plain' }, spec } });
  const own = plain.metadata!.uid!;
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'old', labels: { [POD_ID]: other } }, spec } });
  await enforce(t, ns, shipped('baton-pod-id'), podProbe(core, ns));
  const create = (labels: Record<string, string>) => () => core.createNamespacedPod({ namespace: ns, dryRun: 'All', body: { metadata: { generateName: 'row-', labels }, spec } });
  const label = (name: string, labels: Record<string, string | null>) => () => core.patchNamespacedPod({ name, namespace: ns, dryRun: 'All', body: { metadata: { labels } } }, merge);
  const status = (name: string, labels: Record<string, string | null>) => () => core.patchNamespacedPodStatus({ name, namespace: ns, dryRun: 'All', body: { metadata: { labels } } }, merge);
  const rows: Array<[string, () => Promise<unknown>, Verdict]> = [
    ['create without the label', create({ app: 'x' }), 'allowed'],
    ['create with a made-up value', create({ [POD_ID]: 'x' }), 'refused'],
    ['create with another pod\'s UID', create({ [POD_ID]: own }), 'refused'],
    ['create with the placeholder', create({ [POD_ID]: 'none' }), 'refused'],
    ['create with a label of another prefix', create({ 'example.com/pod-id': 'x' }), 'allowed'],
    ['update: add its own UID (baton\'s write)', label('plain', { [POD_ID]: own }), 'allowed'],
    ['update: add another UID', label('plain', { [POD_ID]: other }), 'refused'],
    ['update: add an empty value', label('plain', { [POD_ID]: '' }), 'refused'],
    ['status: add another UID', status('plain', { [POD_ID]: other }), 'refused'],
    ['status: unrelated label', status('plain', { x: '1' }), 'allowed'],
    ['old wrong value: unrelated label', label('old', { x: '1' }), 'allowed'],
    ['old wrong value: status write', status('old', { x: '1' }), 'allowed'],
    ['old wrong value: changed to another wrong one', label('old', { [POD_ID]: own }), 'refused'],
    ['old wrong value: removed', label('old', { [POD_ID]: null }), 'allowed'],
  ];
  const got: Array<[string, Verdict]> = [];
  for (const [name, write] of rows) got.push([name, await verdict(write)]);
  assert.deepEqual(got, rows.map(([name, , want]) => [name, want]));
});
