// The client-side balancer on the real plane: its own ServiceAccount with the RBAC the
// README documents, real EndpointSlices from the controllers, real HTTP requests to the
// pods through the loopback pod network (support/podnet.ts), baton running behind the
// real adapter for the failover.
import test from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as k8s from '@kubernetes/client-node';
import { balancerEvents, DETAIL_HEADER, OUTCOME_HEADER } from '../../shared/balancer/index.js';
import { waitFor } from '../../plane/wait.js';
import { startBaton } from './support/baton.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { startPodNetwork, type PodServer } from './support/podnet.js';
import { startTraffic, type Traffic } from './support/traffic.js';
import { createDeployment, createService, readyEndpoints, setPodReady } from './support/workloads.js';
import { OPT_IN, merge, readyPods, balancer, waitForEndpoints, scale, observeLeaving } from './support/balancer.js';

test('failover under continuous traffic: the balancer follows baton, and no request reaches the old active after it saw the switch', async (t) => {
  const ns = await testNamespace(t, 'bal-fo');
  const kc = adminConfig();
  const podnet = await startPodNetwork();
  t.after(() => podnet.close());
  const account = await clientKubeconfig(ns, 'app');
  const plain = balancer(t, { namespace: ns, service: 'web', port: 'http', kubeconfig: account });
  const hinted = balancer(t, { namespace: ns, service: 'web', port: 'http', kubeconfig: account });

  // The application's own endpoint for baton's audit events (K_SINK points here).
  const deliveries: Array<{ at: number; type: string; outcome: string; detail: string }> = [];
  const app = express();
  app.use((req, res, next) => {
    res.on('finish', () => deliveries.push({ at: Date.now(), type: String(req.headers['ce-type'] ?? 'structured'), outcome: String(res.getHeader(OUTCOME_HEADER) ?? res.statusCode), detail: String(res.getHeader(DETAIL_HEADER) ?? '') }));
    next();
  });
  app.use('/baton-events', balancerEvents(hinted));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());
  await startBaton(t, ns, { K_SINK: `http://127.0.0.1:${(server.address() as AddressInfo).port}/baton-events` });

  await createDeployment(kc, ns, 'web', 3, { serviceLabels: OPT_IN });
  const pods = await readyPods(ns, 'web', 3);
  const servers = new Map<string, PodServer>();
  for (const p of pods) servers.set(p.name, await podnet.addPod(p.name, p.ip, 8080));
  const active = await waitFor('baton to adopt web', async () => {
    const svc = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedService({ name: 'web', namespace: ns });
    const { ready } = await readyEndpoints(kc, ns, 'web');
    return svc.metadata?.annotations?.['baton.dev/term'] && ready.length === 1 ? ready[0] : undefined;
  });
  const activeIp = pods.find((p) => p.name === active)!.ip;
  await Promise.all([plain.startBackgroundSync(), hinted.startBackgroundSync()]);
  for (const b of [plain, hinted]) await waitForEndpoints(b, `only the active ${active}`, (a) => a.length === 1 && a[0] === activeIp);

  const clients = { plain: startTraffic(plain, podnet, 'plain'), hinted: startTraffic(hinted, podnet, 'hinted') };
  const observed = { plain: observeLeaving(plain, clients.plain, active), hinted: observeLeaving(hinted, clients.hinted, active) };
  await waitFor('traffic to flow', () => (clients.plain.sent.length > 20 && clients.hinted.sent.length > 20 ? true : undefined));

  const t0 = Date.now();
  servers.get(active)!.fail();
  await setPodReady(kc, ns, active, false);
  const okAfter = (c: Traffic): number => c.sent.filter((s) => s.at >= t0 && s.ok && s.chosen !== active).length;
  await waitFor('both clients to be served by the new active', () => (okAfter(clients.plain) >= 30 && okAfter(clients.hinted) >= 30 ? true : undefined), { timeoutMs: 30_000 });
  await Promise.all([clients.plain.stop(), clients.hinted.stop()]);

  const next = await readyEndpoints(kc, ns, 'web');
  assert.equal(next.ready.length, 1);
  assert.notEqual(next.ready[0], active);
  for (const [name, c] of Object.entries(clients) as Array<[keyof typeof clients, Traffic]>) {
    // Answered before the pod was failed; one in flight at that moment may rightly get 503.
    const before = c.sent.filter((s) => s.done < t0);
    assert.deepEqual(before.filter((s) => !s.ok), [], `${name}: requests failed before the failover, so the pod network is broken`);
    const seen = observed[name].value;
    assert.ok(seen, `${name}: the balancer never stopped offering ${active}`);
    const chosenAfter = c.sent.filter((s) => s.seq >= seen.seq && s.chosen === active);
    assert.deepEqual(chosenAfter, [], `${name}: chose the old active after it saw the switch`);
    const reached = servers.get(active)!.received.filter((r) => r.client === name && r.seq >= seen.seq);
    assert.deepEqual(reached, [], `${name}: a request reached the old active after the balancer saw the switch`);
    const during = c.sent.filter((s) => s.done >= t0);
    const failed = during.filter((s) => !s.ok);
    const recovered = during.find((s) => s.ok && s.chosen !== active);
    assert.equal(recovered?.chosen, next.ready[0]);
    const byReason = failed.reduce<Record<string, number>>((m, s) => ({ ...m, [s.why ?? '?']: (m[s.why ?? '?'] ?? 0) + 1 }), {});
    t.diagnostic(
      `${name}: ${during.length} requests after Ready=False, ${failed.length} failed ${JSON.stringify(byReason)}; ` +
        `balancer dropped the old active ${seen.at - t0} ms after the write; first success on ${recovered?.chosen} after ${(recovered?.at ?? t0) - t0} ms`,
    );
  }
  const applied = deliveries.filter((d) => d.outcome === 'applied');
  t.diagnostic(`audit events delivered to the application: ${deliveries.map((d) => `${d.type.replace('dev.baton.failover.', '')}=${d.outcome}${d.detail ? `(${d.detail})` : ''} +${d.at - t0} ms`).join(', ')}`);
  assert.ok(applied.length >= 1, `no failover event was applied by the hinted balancer: ${JSON.stringify(deliveries)}`);
});

test('deletions and slice splits: 120 pods span several EndpointSlices, next() covers all, removed ones never come back', async (t) => {
  const ns = await testNamespace(t, 'bal-split');
  const kc = adminConfig();
  const account = await clientKubeconfig(ns, 'app');
  await createDeployment(kc, ns, 'many', 120);
  const pods = await readyPods(ns, 'many', 120, 120_000);
  const b = balancer(t, { namespace: ns, service: 'many', port: 8080, kubeconfig: account });
  await b.startBackgroundSync();
  await waitForEndpoints(b, '120 endpoints', (a) => a.length === 120, 60_000);
  const slices = await kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=many' });
  t.diagnostic(`EndpointSlices: ${slices.items.map((s) => s.endpoints?.length ?? 0).join(' + ')} endpoints`);
  assert.ok(slices.items.length >= 2, 'the controller should have split 120 endpoints over more than one slice');
  const round = new Set(Array.from({ length: 120 }, () => b.next().address));
  assert.deepEqual([...round].sort(), pods.map((p) => p.ip).sort(), 'one round of next() visits every pod once');

  await scale(ns, 'many', 30);
  const remaining = new Set((await readyPods(ns, 'many', 30, 60_000)).map((p) => p.ip));
  await waitForEndpoints(b, 'the 30 remaining pods', (a) => a.length === 30 && a.every((ip) => remaining.has(ip)), 60_000);
  for (let i = 0; i < 300; i++) {
    const ip = b.next().address;
    assert.ok(remaining.has(ip), `${ip} belongs to a deleted pod`);
  }

  // Hand-written slices of a selector-less Service: a whole slice deleted, an endpoint dropped from another.
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  await createService(kc, ns, 'manual', {});
  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedService({ name: 'manual', namespace: ns, body: { spec: { selector: null } } }, merge);
  const manualSlice = (name: string, ips: string[]): k8s.V1EndpointSlice => ({
    metadata: { name, labels: { 'kubernetes.io/service-name': 'manual', 'endpointslice.kubernetes.io/managed-by': 'baton-test' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  });
  await discovery.createNamespacedEndpointSlice({ namespace: ns, body: manualSlice('manual-a', ['198.19.1.1', '198.19.1.2']) });
  await discovery.createNamespacedEndpointSlice({ namespace: ns, body: manualSlice('manual-b', ['198.19.2.1', '198.19.2.2']) });
  const m = balancer(t, { namespace: ns, service: 'manual', port: 'http', kubeconfig: account });
  await m.startBackgroundSync();
  await waitForEndpoints(m, 'both hand-written slices', (a) => a.length === 4);
  await discovery.deleteNamespacedEndpointSlice({ name: 'manual-a', namespace: ns });
  await discovery.replaceNamespacedEndpointSlice({ name: 'manual-b', namespace: ns, body: { ...manualSlice('manual-b', ['198.19.2.2']), metadata: { ...manualSlice('manual-b', []).metadata, resourceVersion: (await discovery.readNamespacedEndpointSlice({ name: 'manual-b', namespace: ns })).metadata?.resourceVersion } } });
  await waitForEndpoints(m, 'only 198.19.2.2', (a) => a.join() === '198.19.2.2');
  for (let i = 0; i < 20; i++) assert.equal(m.next().address, '198.19.2.2');
});
