// Direct mode under attack: three instances racing behind a relay that duplicates,
// reorders and delays the real adapter's events (with a headless twin following in
// direct mode too), forged events, a pod whose IP changes, and a Service flipping
// between the two modes. An independent watch of the slices judges every observation.
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startAdapter } from '../../plane/adapter.js';
import { waitFor } from '../../plane/wait.js';
import { deliver, resourceEvent } from '../chaos/forge.js';
import { startRelay } from '../chaos/relay.js';
import { installRbac, serviceAccountKubeconfig, startBaton, startFunction } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { watchSlices } from './support/slices.js';
import { setPodReady } from './support/workloads.js';
import { createDirectService, createNamedPortDeployment, patchService, readSlice, sliceWhere } from './support/direct.js';

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// A merge patch replaces status.podIPs as a whole (a strategic one would add to it).
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

async function readyPodNames(core: k8s.CoreV1Api, ns: string, n: number): Promise<string[]> {
  return waitFor(`${n} ready pods with IPs`, async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    const ready = pods.items.filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === n ? ready.map((p) => p.metadata!.name!).sort() : undefined;
  });
}

/** The terms baton's slice of the Service was stamped with, in the order the watch saw them. */
async function watchTerms(kc: k8s.KubeConfig, ns: string, service: string, after: (f: () => void) => void): Promise<number[]> {
  const terms: number[] = [];
  const request = await new k8s.Watch(kc).watch(
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
    { fieldSelector: `metadata.name=${service}-baton` },
    (phase: string, slice: k8s.V1EndpointSlice) => {
      const term = Number(slice.metadata?.annotations?.['baton.dev/term'] ?? 'NaN');
      if (phase !== 'DELETED' && Number.isInteger(term)) terms.push(term);
    },
    () => undefined,
  );
  after(() => request.abort());
  return terms;
}

test('direct mode with three instances behind a duplicating, reordering relay: one endpoint at every observation, terms never go back', { timeout: 240_000 }, async (t) => {
  const ns = await testNamespace(t, 'direct-race');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await createNamedPortDeployment(kc, ns, 'web', 3);
  await readyPodNames(core, ns, 3);
  const slices = await watchSlices(t, ns);
  const terms = await watchTerms(kc, ns, 'web', (f) => t.after(f));

  await installRbac();
  const relay = await startRelay({ seed: 16, faults: { drop: 0, duplicate: 0.2, reorder: 0.2, delay: 0.2, maxDelayMs: 800 } });
  t.after(() => relay.close());
  const env = { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), BATON_NAMESPACES: ns, BATON_RESYNC_INTERVAL_MS: '3600000' };
  const instances = await Promise.all([0, 1, 2].map(() => startFunction('failover', env)));
  for (const i of instances) t.after(() => i.stop());
  relay.setTargets(instances.map((i) => i.url));
  const plane = testPlane();
  const adapter = await startAdapter({ binary: plane.binaries.paths.apiserver_receive_adapter, kubeconfig: await serviceAccountKubeconfig('baton-source'), sink: relay.url, logDir: join(plane.dir, 'logs'), namespaces: [ns] });
  t.after(() => adapter.stop());

  await createDirectService(kc, ns, 'web', 'app=web');
  // A headless twin in direct mode that follows it: DNS names the same single pod.
  await core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'web-headless', labels: { 'baton.dev/mode': 'active-standby' }, annotations: { 'baton.dev/pods': 'app=web', 'baton.dev/follow': 'web' } }, spec: { clusterIP: 'None', ports: [{ name: 'web', port: 80, targetPort: 'http' }] } },
  });
  const agreed = (what: string): Promise<string> =>
    waitFor(`${what}: both slices name the same single ready pod`, () => {
      const [a, b] = [slices.current('web'), slices.current('web-headless')];
      return a.length === 1 && a.join() === b.join() ? a[0] : undefined;
    }, { timeoutMs: 20_000, intervalMs: 25 }).catch(async (error: unknown) => {
      // Say what each Service records and routes to, so that a failure explains itself.
      const state = await Promise.all(['web', 'web-headless'].map(async (name) => {
        const svc = await core.readNamespacedService({ name, namespace: ns });
        const record = Object.fromEntries(Object.entries(svc.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('baton.dev/')));
        return `${name}: ready [${slices.current(name).join(',')}], record ${JSON.stringify(record)}`;
      }));
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${state.join('\n')}\nfunction logs: ${instances.map((i) => i.logs.filter((l) => l.includes('"msg":"request"')).slice(-5).join('\n')).join('\n---\n')}`);
    });

  let active = await agreed('adoption');
  relay.setFaults(true);
  const seen = [active];
  for (let round = 0; round < 10; round++) {
    await setPodReady(kc, ns, active, false);
    if (round % 2 === 0) await setPodReady(kc, ns, active, true);
    await settle(300);
    await relay.drain(10_000);
    const now = await agreed(`after blip ${round + 1} of ${active}`);
    if (round % 2 === 1) await setPodReady(kc, ns, active, true);
    active = now;
    seen.push(active);
  }
  t.diagnostic(`actives: ${seen.join(' → ')}; slice terms seen: ${terms.join(',')}; relay: ${JSON.stringify(relay.counts)}`);
  for (const name of ['web', 'web-headless']) {
    assert.ok(slices.endpointCounts(name).every((n) => n <= 1), `${name}: endpoints per observation ${JSON.stringify(slices.endpointCounts(name))}`);
    assert.deepEqual(slices.violations(name, 0), []);
  }
  assert.deepEqual(terms, [...terms].sort((a, b) => a - b), 'a slice was stamped with a lower term after a higher one');
  assert.ok(new Set(seen).size > 1, 'the blips moved the active at least once');
});

test('direct mode: forged events change nothing; a pod\'s new IP is followed; a Service flips between the modes', { timeout: 180_000 }, async (t) => {
  const ns = await testNamespace(t, 'direct-forge');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  await createNamedPortDeployment(kc, ns, 'web', 3);
  const pods = await readyPodNames(core, ns, 3);
  await createDirectService(kc, ns, 'web', 'app=web');
  const first = await sliceWhere(kc, ns, 'web', 'one ready endpoint', (s) => s.endpoints?.[0]?.conditions?.ready === true);
  const active = first.endpoints[0]!.targetRef!.name!;
  await settle(500);
  const sliceBefore = (await readSlice(kc, ns, 'web-baton'))!;
  const svcBefore = await core.readNamespacedService({ name: 'web', namespace: ns });

  // Forged: the active claims to be unready; baton's slice claims another pod; the
  // Service claims another pods annotation. Each can cause a look, and a look reads.
  const activePod = await core.readNamespacedPod({ name: active, namespace: ns });
  const unready = { ...activePod, status: { ...activePod.status, conditions: [{ type: 'Ready', status: 'False' }] } };
  const other = pods.find((p) => p !== active)!;
  const forgedSlice = { ...sliceBefore, metadata: { ...sliceBefore.metadata, resourceVersion: '999999999' }, endpoints: [{ ...sliceBefore.endpoints[0]!, targetRef: { kind: 'Pod', namespace: ns, name: other, uid: 'forged' } }] };
  const forgedService = { ...svcBefore, metadata: { ...svcBefore.metadata, annotations: { ...svcBefore.metadata!.annotations, 'baton.dev/pods': 'app=elsewhere' } } };
  for (const [kind, body] of [['Pod', unready], ['EndpointSlice', forgedSlice], ['Service', forgedService]] as const) {
    const answer = await deliver(baton.failover.url, resourceEvent(kind, 'update', body));
    assert.equal(answer.status, 200, `${kind}: HTTP ${answer.status}`);
  }
  await settle(1_000);
  assert.equal((await readSlice(kc, ns, 'web-baton'))?.metadata?.resourceVersion, sliceBefore.metadata?.resourceVersion, 'the slice was not written');
  assert.equal((await core.readNamespacedService({ name: 'web', namespace: ns })).metadata?.resourceVersion, svcBefore.metadata?.resourceVersion, 'the Service was not written');

  // The active's IP changes (as a status write would show it): the slice follows.
  await core.patchNamespacedPodStatus({ name: active, namespace: ns, body: { status: { podIP: '10.77.0.9', podIPs: [{ ip: '10.77.0.9' }] } } }, merge).catch((e: unknown) => t.diagnostic(`pod IP not writable here: ${String(e)}`));
  const ip = (await core.readNamespacedPod({ name: active, namespace: ns })).status?.podIP;
  if (ip === '10.77.0.9') await sliceWhere(kc, ns, 'web', 'the new IP', (s) => s.endpoints?.[0]?.addresses[0] === '10.77.0.9');
  else t.diagnostic(`the plane's fake kubelet kept the pod IP (${ip}); the IP change was not exercised`);

  // Direct -> selector: the user sets a selector and removes the annotation in one write.
  // baton pins its active in the selector and deletes its own slice.
  await patchService(kc, ns, 'web', { metadata: { annotations: { 'baton.dev/pods': null } }, spec: { selector: { app: 'web' } } });
  await waitFor('baton\'s slice gone, the selector pinned', async () => {
    const svc = await core.readNamespacedService({ name: 'web', namespace: ns });
    return (await readSlice(kc, ns, 'web-baton')) === undefined && svc.spec?.selector?.['baton.dev/pod-id'] ? svc : undefined;
  });
  await waitFor('the controller\'s slice shows one ready pod', () => (slices.current('web').length === 1 ? true : undefined));
  assert.equal((await core.readNamespacedService({ name: 'web', namespace: ns })).metadata?.annotations?.['baton.dev/endpointslice'], undefined);

  // Selector -> direct: the user removes the selector and sets the annotation. The
  // controller's slice stays behind (upstream leaves it); baton writes its own beside it
  // and reports the leftover instead of deleting it.
  await patchService(kc, ns, 'web', { metadata: { annotations: { 'baton.dev/pods': 'app=web' } }, spec: { selector: null } });
  await sliceWhere(kc, ns, 'web', 'baton\'s slice back', (s) => s.endpoints?.length === 1);
  await waitFor('the leftover reported', async () => {
    const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=web,involvedObject.kind=Service' });
    return list.items.some((e) => e.reason === 'ForeignEndpointSlice') ? true : undefined;
  });
  t.diagnostic(`ready-set history of web: ${JSON.stringify(slices.history('web').map((o) => o.ready))}`);
});
