// Direct mode end to end: a Service without a selector names its pods with
// `baton.dev/pods`, and baton writes the Service's one EndpointSlice itself. The real
// adapter feeds the function, it runs under the RBAC knative/ ships, and an independent
// EndpointSlice watch checks every observation: never more than one endpoint.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { parseAuditEvent } from '../../shared/audit/schemas.js';
import { startBaton, type Baton } from './support/baton.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { watchSlices, type SliceWatcher } from './support/slices.js';
import { setPodReady } from './support/workloads.js';
import { balancer, waitForEndpoints } from './support/balancer.js';
import { createDirectService, createNamedPortDeployment, eventsWith, patchService, POD_IP_CHECK, readSlice, SLICE_MANAGER, sliceWhere, waitForEvent } from './support/direct.js';

interface World {
  readonly ns: string;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly baton: Baton;
  readonly slices: SliceWatcher;
}

async function world(t: TestContext, prefix: string): Promise<World> {
  const ns = await testNamespace(t, prefix);
  const kc = adminConfig();
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  return { ns, kc, core: kc.makeApiClient(k8s.CoreV1Api), baton, slices };
}

async function readyPods(w: World, app: string, n: number): Promise<k8s.V1Pod[]> {
  return waitFor(`${n} ready pods of ${app} with IPs`, async () => {
    const pods = await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: `app=${app}` });
    const ready = pods.items.filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === n ? ready : undefined;
  });
}

/** Every observation of the Service's slices held at most one endpoint, and at most one ready. */
function assertOneEndpoint(w: World, service: string): void {
  const counts = w.slices.endpointCounts(service);
  assert.ok(counts.every((n) => n <= 1), `${service}: endpoints per observation ${JSON.stringify(counts)}`);
  assert.deepEqual(w.slices.violations(service, 0), [], `${service}: ${JSON.stringify(w.slices.history(service))}`);
}

async function directWorld(t: TestContext, prefix: string): Promise<World & { active: string }> {
  const w = await world(t, prefix);
  await createNamedPortDeployment(w.kc, w.ns, 'web', 3);
  await readyPods(w, 'web', 3);
  await createDirectService(w.kc, w.ns, 'web', 'app=web');
  const slice = await sliceWhere(w.kc, w.ns, 'web', 'one ready endpoint', (s) => s.endpoints?.length === 1 && s.endpoints[0]?.conditions?.ready === true);
  return { ...w, active: slice.endpoints[0]!.targetRef!.name! };
}

test('direct mode: baton writes one endpoint, the active, and fails over with one write', { timeout: 120_000 }, async (t) => {
  const w = await directWorld(t, 'direct');
  const svc = await w.core.readNamespacedService({ name: 'web', namespace: w.ns });
  const pod = await w.core.readNamespacedPod({ name: w.active, namespace: w.ns });
  const slice = (await readSlice(w.kc, w.ns, 'web-baton'))!;
  // What the EndpointSlice controller would have written for that one pod.
  assert.equal(slice.addressType, 'IPv4');
  assert.deepEqual(slice.metadata?.labels, { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': SLICE_MANAGER });
  assert.equal(slice.metadata?.annotations?.['baton.dev/term'], '1');
  assert.deepEqual(slice.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [['Service', 'web', svc.metadata?.uid, true]]);
  const endpoint = slice.endpoints[0]!;
  assert.match(endpoint.addresses[0] ?? '', POD_IP_CHECK);
  assert.deepEqual(endpoint.addresses, [pod.status?.podIP]);
  assert.deepEqual({ ...endpoint.conditions }, { ready: true, serving: true, terminating: false });
  assert.equal(endpoint.nodeName, pod.spec?.nodeName);
  assert.deepEqual([endpoint.targetRef?.kind, endpoint.targetRef?.name, endpoint.targetRef?.uid], ['Pod', w.active, pod.metadata?.uid]);
  // The named targetPort resolved from the pod's container port, as upstream does.
  assert.deepEqual(slice.ports?.map((p) => [p.name, p.port, p.protocol]), [['web', 8080, 'TCP']]);
  // The record is on the Service, and the Service still has no selector.
  assert.equal(svc.metadata?.annotations?.['baton.dev/active'], w.active);
  assert.equal(svc.metadata?.annotations?.['baton.dev/endpointslice'], 'web-baton');
  assert.equal(svc.spec?.selector, undefined);

  const before = Date.now();
  await setPodReady(w.kc, w.ns, w.active, false);
  const after = await sliceWhere(w.kc, w.ns, 'web', 'another pod, ready', (s) => s.endpoints?.[0]?.targetRef?.name !== w.active && s.endpoints?.[0]?.conditions?.ready === true);
  t.diagnostic(`direct failover: Ready=False written -> baton's slice names ${after.endpoints[0]!.targetRef!.name} after ${Date.now() - before} ms (polled)`);
  assert.equal(after.metadata?.annotations?.['baton.dev/term'], '2');
  const completed = await w.baton.sink.waitFor('completed term 2', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term?: number }).term === 2);
  assert.ok(parseAuditEvent({ ...completed.toJSON(), data: completed.data }).success);
  await waitFor('completed-term 2 recorded', async () => ((await w.core.readNamespacedService({ name: 'web', namespace: w.ns })).metadata?.annotations?.['baton.dev/completed-term'] === '2' ? true : undefined));
  // No controller slice appeared beside baton's: the Service has no selector.
  const all = await w.kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: w.ns, labelSelector: 'kubernetes.io/service-name=web' });
  assert.deepEqual(all.items.map((s) => s.metadata?.name), ['web-baton']);
  assertOneEndpoint(w, 'web');
});

test('direct mode follows the Service\'s port edits and the active\'s deletion', { timeout: 120_000 }, async (t) => {
  const w = await directWorld(t, 'direct-follow');
  // A numeric targetPort, then a name no container declares (that port is left out).
  await patchService(w.kc, w.ns, 'web', { spec: { ports: [{ name: 'web', port: 80, targetPort: 9090 }] } });
  await sliceWhere(w.kc, w.ns, 'web', 'port 9090', (s) => s.ports?.[0]?.port === 9090);
  // A merge patch replaces the list whole (baton writes the Service too, so no read-modify-replace).
  await patchService(w.kc, w.ns, 'web', { spec: { ports: [{ name: 'web', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 'metrics' }] } });
  await sliceWhere(w.kc, w.ns, 'web', 'only the resolvable port', (s) => JSON.stringify(s.ports?.map((p) => [p.name, p.port])) === JSON.stringify([['web', 8080]]));
  // The active is deleted: the slice goes to another pod (its own IP) at once.
  await readyPods(w, 'web', 3);
  await w.core.deleteNamespacedPod({ name: w.active, namespace: w.ns, gracePeriodSeconds: 0 });
  const next = await sliceWhere(w.kc, w.ns, 'web', 'a pod other than the deleted one', (s) => s.endpoints?.length === 1 && s.endpoints[0]?.targetRef?.name !== w.active && s.endpoints[0]?.conditions?.ready === true);
  // Any healthy pod will do, the ReplicaSet's replacement of the deleted one included (it
  // can be Ready before baton looks), so the address is checked against the pod named.
  const nextPod = await w.core.readNamespacedPod({ name: next.endpoints[0]!.targetRef!.name!, namespace: w.ns });
  assert.equal(next.endpoints[0]!.targetRef!.uid, nextPod.metadata?.uid);
  assert.deepEqual(next.endpoints[0]!.addresses, [nextPod.status?.podIP]);
  assertOneEndpoint(w, 'web');
});

test('direct mode: no healthy pod keeps the last active, not ready; opting out removes baton\'s slice and says how to go back', { timeout: 120_000 }, async (t) => {
  const w = await directWorld(t, 'direct-out');
  const pods = await readyPods(w, 'web', 3);
  for (const p of pods) await setPodReady(w.kc, w.ns, p.metadata!.name!, false);
  const kept = await sliceWhere(w.kc, w.ns, 'web', 'one endpoint, not ready', (s) => s.endpoints?.length === 1 && s.endpoints[0]?.conditions?.ready === false);
  assert.ok(pods.some((p) => p.metadata?.name === kept.endpoints[0]!.targetRef!.name));
  await waitForEvent(w.core, w.ns, 'web', 'NoHealthyPod');
  for (const p of pods) await setPodReady(w.kc, w.ns, p.metadata!.name!, true);
  await sliceWhere(w.kc, w.ns, 'web', 'ready again', (s) => s.endpoints?.[0]?.conditions?.ready === true);

  // The label goes: the slice goes, the record goes, and no selector is invented.
  await patchService(w.kc, w.ns, 'web', { metadata: { labels: { 'baton.dev/mode': null } } });
  await waitFor('baton\'s slice deleted', async () => ((await readSlice(w.kc, w.ns, 'web-baton')) === undefined ? true : undefined));
  const removed = await waitForEvent(w.core, w.ns, 'web', 'EndpointSliceRemoved');
  assert.match(removed.message ?? '', /set spec\.selector/);
  const svc = await waitFor('the record removed', async () => {
    const s = await w.core.readNamespacedService({ name: 'web', namespace: w.ns });
    return s.metadata?.annotations?.['baton.dev/term'] === undefined ? s : undefined;
  });
  assert.equal(svc.spec?.selector, undefined);
  assert.equal(svc.metadata?.annotations?.['baton.dev/endpointslice'], undefined);
  assertOneEndpoint(w, 'web');

  // Opted in again, then the annotation goes while the label stays: the slice goes too.
  await patchService(w.kc, w.ns, 'web', { metadata: { labels: { 'baton.dev/mode': 'active-standby' } } });
  await sliceWhere(w.kc, w.ns, 'web', 'back', (s) => s.endpoints?.length === 1);
  await patchService(w.kc, w.ns, 'web', { metadata: { annotations: { 'baton.dev/pods': null } } });
  await waitFor('baton\'s slice deleted again', async () => ((await readSlice(w.kc, w.ns, 'web-baton')) === undefined ? true : undefined));
  assertOneEndpoint(w, 'web');
});

test('direct mode: a bad pods annotation, a foreign slice and a selector beside the annotation are reported, and change nothing', { timeout: 120_000 }, async (t) => {
  const w = await directWorld(t, 'direct-bad');
  const discovery = w.kc.makeApiClient(k8s.DiscoveryV1Api);

  // Malformed: a Warning, and the slice stays on the active even when it fails.
  await patchService(w.kc, w.ns, 'web', { metadata: { annotations: { 'baton.dev/pods': 'app!=web' } } });
  const invalid = await waitForEvent(w.core, w.ns, 'web', 'InvalidConfig');
  assert.match(invalid.message ?? '', /baton\.dev\/pods/);
  await setPodReady(w.kc, w.ns, w.active, false);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal((await readSlice(w.kc, w.ns, 'web-baton'))?.endpoints?.[0]?.targetRef?.name, w.active, 'the slice was not moved while the annotation is bad');
  await setPodReady(w.kc, w.ns, w.active, true);
  await patchService(w.kc, w.ns, 'web', { metadata: { annotations: { 'baton.dev/pods': 'app=web' } } });

  // Someone else's slice for the Service (not ready, so that the watch's invariant stays
  // about baton): reported, never merged, never deleted.
  const pods = await readyPods(w, 'web', 3);
  const other = pods.find((p) => p.metadata?.name !== w.active)!;
  await discovery.createNamespacedEndpointSlice({
    namespace: w.ns,
    body: {
      metadata: { name: 'web-manual', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'someone-else' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [other.status!.podIP!], conditions: { ready: false }, targetRef: { kind: 'Pod', name: other.metadata!.name!, namespace: w.ns, uid: other.metadata!.uid! } }],
      ports: [{ name: 'web', port: 8080 }],
    },
  });
  const foreign = await waitForEvent(w.core, w.ns, 'web', 'ForeignEndpointSlice');
  assert.match(foreign.message ?? '', /web-manual/);
  const manual = await discovery.readNamespacedEndpointSlice({ name: 'web-manual', namespace: w.ns });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await discovery.readNamespacedEndpointSlice({ name: 'web-manual', namespace: w.ns })).metadata?.resourceVersion, manual.metadata?.resourceVersion);
  assert.equal((await readSlice(w.kc, w.ns, 'web-baton'))?.endpoints?.length, 1);
  // (The foreign slice's own endpoint counts among all endpoints; never two ready.)
  assert.deepEqual(w.slices.violations('web', 0), []);

  // A selector beside the annotation: ambiguous, reported, baton's slice left as it was.
  // The EndpointSlice controller routes by that selector at once (the user's write), and
  // leaves its slices behind when the selector goes again: baton names them and never
  // touches them.
  await patchService(w.kc, w.ns, 'web', { spec: { selector: { app: 'web' } } });
  await waitFor('an InvalidConfig naming the selector', async () => ((await eventsWith(w.core, w.ns, 'web', 'InvalidConfig')).some((e) => /also has spec\.selector/.test(e.message ?? '')) ? true : undefined));
  assert.equal((await readSlice(w.kc, w.ns, 'web-baton'))?.endpoints?.[0]?.targetRef?.name, w.active, 'baton\'s slice is left as it was');
  await patchService(w.kc, w.ns, 'web', { spec: { selector: null } });
  const leftover = await waitFor('the controller\'s leftover slices reported', async () => (await eventsWith(w.core, w.ns, 'web', 'ForeignEndpointSlice')).find((e) => /endpointslice-controller/.test(e.message ?? '')), { timeoutMs: 15_000 });
  t.diagnostic(leftover.message ?? '');
  const controllers = await discovery.listNamespacedEndpointSlice({ namespace: w.ns, labelSelector: 'kubernetes.io/service-name=web,endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io' });
  assert.ok(controllers.items.length > 0, 'the controller\'s slices are still there: baton did not delete them');
});

test('direct mode: a slice name taken before opt-in is left alone and reported', { timeout: 120_000 }, async (t) => {
  const w = await world(t, 'direct-squat');
  await createNamedPortDeployment(w.kc, w.ns, 'web', 2);
  await readyPods(w, 'web', 2);
  await w.kc.makeApiClient(k8s.DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: w.ns,
    body: { metadata: { name: 'web-baton', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': SLICE_MANAGER } }, addressType: 'IPv4', endpoints: [], ports: [] },
  });
  await createDirectService(w.kc, w.ns, 'web', 'app=web');
  const blocked = await waitForEvent(w.core, w.ns, 'web', 'EndpointSliceBlocked');
  assert.match(blocked.message ?? '', /did not write/);
  assert.deepEqual((await readSlice(w.kc, w.ns, 'web-baton'))?.endpoints ?? [], []);
});

test('direct mode: the balancer library follows baton\'s slice to the new active', { timeout: 120_000 }, async (t) => {
  const w = await directWorld(t, 'direct-bal');
  const b = balancer(t, { namespace: w.ns, service: 'web', port: 'web', kubeconfig: w.kc });
  await b.startBackgroundSync();
  const ipOf = async (pod: string): Promise<string> => (await w.core.readNamespacedPod({ name: pod, namespace: w.ns })).status!.podIP!;
  const first = await ipOf(w.active);
  assert.equal(b.next().address, first);
  assert.equal(b.next().port, 8080, 'the named targetPort as baton resolved it');
  await setPodReady(w.kc, w.ns, w.active, false);
  const [after] = await waitForEndpoints(b, 'one endpoint other than the old active', (addresses) => addresses.length === 1 && addresses[0] !== first);
  const slice = await readSlice(w.kc, w.ns, 'web-baton');
  assert.equal(after, slice?.endpoints?.[0]?.addresses[0]);
  assertOneEndpoint(w, 'web');
});
