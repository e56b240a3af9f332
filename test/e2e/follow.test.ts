// One active per workload: a ClusterIP Service and its headless twin (the documented way
// to find the active by DNS) over the same pods, the twin following the ClusterIP
// Service. Three failover instances behind a relay that duplicates, reorders and delays
// the real adapter's events; readiness blips of the active, many times over. After each
// blip has settled, both Services name the same pod, and neither ever had two ready
// endpoints.
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startAdapter } from '../../plane/adapter.js';
import { waitFor } from '../../plane/wait.js';
import { watchInvariant } from '../chaos/invariant.js';
import { startRelay } from '../chaos/relay.js';
import { installRbac, serviceAccountKubeconfig, startFunction } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { createStatefulSet, readyEndpoints, setPodReady } from './support/workloads.js';

const FOLLOW = 'baton.dev/follow';
const MODE = 'baton.dev/mode';
const POD_ID = 'baton.dev/pod-id';
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a headless twin that follows its ClusterIP Service names the same active after every blip, with three instances', { timeout: 240_000 }, async (t) => {
  const ns = await testNamespace(t, 'follow');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await createStatefulSet(kc, ns, 'db', 3);
  await waitFor('3 ready pods', async () => ((await core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined));
  const watcher = await watchInvariant(kc, ns);
  t.after(() => watcher.close());

  await installRbac();
  const relay = await startRelay({ seed: 15, faults: { drop: 0, duplicate: 0.2, reorder: 0.2, delay: 0.2, maxDelayMs: 800 } });
  t.after(() => relay.close());
  const env = { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), BATON_NAMESPACES: ns, BATON_RESYNC_INTERVAL_MS: '3600000' };
  const instances = await Promise.all([0, 1, 2].map(() => startFunction('failover', env)));
  for (const i of instances) t.after(() => i.stop());
  relay.setTargets(instances.map((i) => i.url));
  const plane = testPlane();
  const adapter = await startAdapter({ binary: plane.binaries.paths.apiserver_receive_adapter, kubeconfig: await serviceAccountKubeconfig('baton-source'), sink: relay.url, logDir: join(plane.dir, 'logs'), namespaces: [ns] });
  t.after(() => adapter.stop());

  const selector = { app: 'db', [POD_ID]: 'none' };
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db', labels: { [MODE]: 'active-standby' } }, spec: { selector, ports: [{ port: 5432 }] } } });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db-headless', labels: { [MODE]: 'active-standby' }, annotations: { [FOLLOW]: 'db' } }, spec: { selector, clusterIP: 'None', ports: [{ port: 5432 }] } } });
  watcher.guard('db');
  watcher.guard('db-headless');

  const agreed = async (what: string): Promise<string> =>
    waitFor(`${what}: both Services route to the same single pod`, async () => {
      const [a, b] = await Promise.all([readyEndpoints(kc, ns, 'db'), readyEndpoints(kc, ns, 'db-headless')]);
      return a.ready.length === 1 && b.ready.join() === a.ready.join() ? a.ready[0] : undefined;
    }, { timeoutMs: 20_000, intervalMs: 50 });

  let active = await agreed('adoption');
  const seen: string[] = [active];
  for (let round = 0; round < 12; round++) {
    // A short blip: the active goes unready and, half the time, comes back at once.
    await setPodReady(kc, ns, active, false);
    if (round % 2 === 0) await setPodReady(kc, ns, active, true);
    await settle(300);
    await relay.drain(10_000);
    const now = await agreed(`after blip ${round + 1} of ${active}`);
    relay.setFaults(true);
    if (round % 2 === 1) await setPodReady(kc, ns, active, true);
    active = now;
    seen.push(active);
  }
  t.diagnostic(`actives: ${seen.join(' → ')}; relay: ${JSON.stringify(relay.counts)}`);
  assert.deepEqual(watcher.violations(), [], 'a Service had two ready endpoints');
  for (const name of ['db', 'db-headless']) {
    const svc = await core.readNamespacedService({ name, namespace: ns });
    assert.ok(svc.spec?.selector?.[POD_ID] && svc.spec.selector[POD_ID] !== 'none', `${name} is pinned`);
  }
  assert.ok(new Set(seen).size > 1, 'the blips moved the active at least once');
});
