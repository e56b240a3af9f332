// The balancer against hostile or broken surroundings, on the real plane: forged
// failover hints sent over HTTP by someone who can read Services (pinning, black hole,
// term lock), hints after an opt-out and opt-in by the real baton, and an API
// connection that accepts and never answers (idle watches must not leak sockets).
//
// Every scenario compares with what the slices alone would give: a balancer without
// the events endpoint, following the same Service at the same time.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { EndpointsBalancer } from '../../shared/balancer/index.js';
import { waitFor } from '../../plane/wait.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { createDeployment } from './support/workloads.js';
import { readyPods, startApiProxy } from './support/balancer-trust.js';

test('an API connection that accepts and never answers: idle watches are aborted, and shutdown leaves no socket', async (t) => {
  const ns = await testNamespace(t, 'bal-hang');
  const kc = adminConfig();
  await createDeployment(kc, ns, 'quiet', 2);
  await readyPods(ns, 'quiet', 2);
  const account = new k8s.KubeConfig();
  account.loadFromFile(await clientKubeconfig(ns, 'app'));
  const proxy = await startApiProxy(new URL(account.getCurrentCluster()!.server));
  t.after(() => proxy.close());
  const proxied = new k8s.KubeConfig();
  proxied.loadFromOptions({ clusters: account.clusters.map((c) => ({ ...c, server: proxy.url })), users: account.users, contexts: account.contexts, currentContext: account.currentContext });

  const b = new EndpointsBalancer({ namespace: ns, service: 'quiet', port: 'http', kubeconfig: proxied, watchIdleMs: 300, requestTimeoutMs: 1_000, backoff: { initialMs: 20, maxMs: 50 } });
  let shutDown = false;
  t.after(() => (shutDown ? undefined : b.shutdown()));
  await b.startBackgroundSync();
  await waitFor('two endpoints', () => (b.endpoints().length === 2 ? true : undefined), { intervalMs: 10 });
  const healthy = proxy.open();

  proxy.hang();
  // Each idle period ends one watch attempt; twenty of them over the two watches.
  await waitFor('twenty watch attempts into the silent proxy', () => (proxy.acceptedWhileHung() >= 20 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
  // A socket being closed and its replacement being opened can overlap for a moment, so
  // "at most one per watch" is waited for, briefly; a leak only grows.
  const during = await waitFor('at most one socket per watch', () => (proxy.open() <= 2 ? proxy.open() : undefined), { timeoutMs: 2_000, intervalMs: 10 }).catch(() => proxy.open());
  const served = b.endpoints().length;
  const closing = b.shutdown();
  shutDown = true;
  await closing;
  const after = await waitFor('the sockets to close after shutdown()', () => (proxy.open() === 0 ? 0 : undefined), { timeoutMs: 3_000, intervalMs: 20 }).catch(() => proxy.open());
  t.diagnostic(`sockets open at the proxy: ${healthy} while healthy, ${during} after ${proxy.acceptedWhileHung()} attempts into the silent proxy, ${after} after shutdown() resolved`);
  assert.equal(served, 2, 'next() must keep the last known endpoints while the API is silent');
  assert.ok(during <= 2, `idle watches leaked sockets: ${during} open, at most one per watch (2) expected`);
  assert.equal(after, 0, 'shutdown() left sockets open');
});
