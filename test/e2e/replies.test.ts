// What a caller learns from a reply: the outcome and nothing else. A tenant who can
// reach the functions (any pod, without a NetworkPolicy) posts an event naming a
// Service in another namespace; the function looks, and the reply must not say what it
// saw there. What it saw goes to the function's log, where the test reads it back.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { deliver, ping, resourceEvent } from '../chaos/forge.js';
import { installRbac, loggedDetail, serviceAccountKubeconfig, startFunction } from './support/baton.js';
import { adminConfig, testNamespace } from './support/plane.js';

const OPT_IN = { 'baton.dev/mode': 'active-standby' };
// Distinctive names: any of them in a reply is a leak.
const PODS = ['ledger-primary-q7', 'ledger-replica-k2'];

test("a reply tells another namespace's caller the outcome only, never the pods, health or active it saw", async (t) => {
  const ns = await testNamespace(t, 'victim');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  for (const name of PODS) {
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: 'ledger' } }, spec: { containers: [{ name: 'app', image: 'example.com/ledger:1' }] } } });
  }
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'ledger', labels: OPT_IN }, spec: { selector: { app: 'ledger', 'baton.dev/pod-id': 'none' }, ports: [{ port: 5432 }] } } });
  await waitFor('both pods ready', async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns })).items;
    return pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === PODS.length ? true : undefined;
  });

  await installRbac();
  const env = { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), BATON_INDEX_REFRESH_MS: '3600000', BATON_RESYNC_INTERVAL_MS: '3600000' };
  const [failover, resync] = await Promise.all([startFunction('failover', env), startFunction('resync', env)]);
  t.after(() => failover.stop());
  t.after(() => resync.stop());
  await waitFor('resync to adopt the Service', async () => ((await core.readNamespacedService({ name: 'ledger', namespace: ns })).metadata?.annotations?.['baton.dev/term'] === '1' ? true : undefined));

  // The tenant knows a name and a namespace, nothing more: it forges the rest.
  const claimed = {
    metadata: { name: 'ledger', namespace: ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: OPT_IN },
    spec: { selector: { app: 'ledger' } },
  };
  const forged = resourceEvent('Service', 'update', claimed);
  const replies = [
    ['failover, a forged Service event', failover, await deliver(failover.url, forged)],
    ['resync, a forged PingSource tick', resync, await deliver(resync.url, ping())],
  ] as const;
  for (const [what, fn, answer] of replies) {
    assert.equal(answer.status, 200, `${what}: HTTP ${answer.status} ${answer.error}`);
    assert.ok(answer.outcome === 'handled' || answer.outcome === 'ignored', `${what}: Baton-Outcome ${answer.outcome}`);
    const told = `${answer.headers}\n${answer.body}`;
    for (const secret of [...PODS, ns, 'ledger', 'healthy', 'active']) {
      assert.ok(!told.includes(secret), `${what}: the reply reveals ${JSON.stringify(secret)}:\n${told}`);
    }
    // The function did look: what it saw is in its own log.
    const detail = await loggedDetail(fn, answer.requestId);
    t.diagnostic(`${what}: reply "${answer.status} ${answer.outcome}", logged detail "${detail.slice(0, 120)}"`);
    assert.notEqual(detail, '', `${what}: nothing logged`);
  }
  assert.ok(PODS.some((pod) => failover.logs.some((l) => l.includes(pod))), 'the log, not the reply, names the active');
});
