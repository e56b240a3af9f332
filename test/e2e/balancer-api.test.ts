// The client-side balancer on the real plane: its own ServiceAccount with the RBAC the
// README documents, real EndpointSlices from the controllers, real HTTP requests to the
// pods through the loopback pod network (support/podnet.ts), baton running behind the
// real adapter for the failover.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApiRejectedError, ApiUnreachableError, BalancerClosedError, EndpointsBalancer, NoEndpointsError, ServiceNotFoundError, UnknownPortError, type BalancerError } from '../../shared/balancer/index.js';
import { restartApiserver } from '../chaos/apiserver.js';
import { kubeconfigYaml } from '../../plane/state.js';
import { freePort } from '../../plane/ports.js';
import { waitFor } from '../../plane/wait.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { createDeployment, createService, setPodReady } from './support/workloads.js';
import { merge, readyPods, balancer, waitForEndpoints, errorOf } from './support/balancer.js';

test('a renamed Service port: a balancer on the old name says so, on the number or the new name it keeps working', async (t) => {
  const ns = await testNamespace(t, 'bal-port');
  const kc = adminConfig();
  const account = await clientKubeconfig(ns, 'app');
  await createDeployment(kc, ns, 'ren', 2);
  await readyPods(ns, 'ren', 2);
  const byOldName = balancer(t, { namespace: ns, service: 'ren', port: 'http', kubeconfig: account });
  const byNumber = balancer(t, { namespace: ns, service: 'ren', port: 8080, kubeconfig: account });
  const byNewName = balancer(t, { namespace: ns, service: 'ren', port: 'web', kubeconfig: account });
  const byDefault = balancer(t, { namespace: ns, service: 'ren', kubeconfig: account });
  await Promise.all([byOldName, byNumber, byNewName, byDefault].map((b) => b.startBackgroundSync()));
  for (const b of [byOldName, byNumber, byDefault]) await waitForEndpoints(b, 'two endpoints', (a) => a.length === 2);
  const unknown = errorOf(() => byNewName.next());
  assert.ok(unknown instanceof UnknownPortError, `expected UnknownPortError, got ${String(unknown)}`);
  assert.match(unknown.message, /http=8080/);

  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedService({ name: 'ren', namespace: ns, body: { spec: { ports: [{ name: 'web', port: 80, targetPort: 8080 }] } } }, merge);
  await waitForEndpoints(byNewName, 'two endpoints under the new name', (a) => a.length === 2);
  await waitFor('the old name to be unknown', () => (errorOf(() => byOldName.next()) instanceof UnknownPortError ? true : undefined));
  assert.equal(byNumber.endpoints().length, 2);
  assert.equal(byDefault.endpoints().length, 2);
});

test('typed errors, aborted requests and a second shutdown', async (t) => {
  const ns = await testNamespace(t, 'bal-err');
  const kc = adminConfig();
  const account = await clientKubeconfig(ns, 'app');

  const missing = balancer(t, { namespace: ns, service: 'nope', kubeconfig: account });
  await assert.rejects(missing.sync(), ServiceNotFoundError);
  assert.ok(errorOf(() => missing.next()) instanceof ServiceNotFoundError);

  // Created later: the background sync notices, and an empty Service is "no endpoints", not "missing".
  const later = balancer(t, { namespace: ns, service: 'later', kubeconfig: account });
  await later.startBackgroundSync();
  assert.ok(errorOf(() => later.next()) instanceof ServiceNotFoundError);
  await createService(kc, ns, 'later', { app: 'nothing' });
  await waitFor('later to exist for the balancer', () => {
    const e = errorOf(() => later.next());
    return e instanceof NoEndpointsError && e.reason === 'none-ready' ? true : undefined;
  });

  const denied = balancer(t, { namespace: ns, service: 'later', kubeconfig: await clientKubeconfig(ns, 'nobody', { rules: [] }) });
  const rejected = await denied.sync().then(() => undefined, (e: unknown) => e);
  assert.ok(rejected instanceof ApiRejectedError && rejected.status === 403, `expected a 403 ApiRejectedError, got ${String(rejected)}`);

  const plane = testPlane();
  const closedPort = await freePort();
  const nowhere = join(plane.dir, 'accounts', `nowhere-${closedPort}.kubeconfig`);
  writeFileSync(nowhere, kubeconfigYaml(`https://127.0.0.1:${closedPort}`, plane.caFile, 'x'));
  const unreachable = balancer(t, { namespace: ns, service: 'later', kubeconfig: nowhere, backoff: { initialMs: 20, maxMs: 50 } });
  await assert.rejects(unreachable.sync(), ApiUnreachableError);
  const errors: BalancerError[] = [];
  unreachable.onError((e) => errors.push(e));
  await assert.rejects(unreachable.startBackgroundSync(), ApiUnreachableError);
  await waitFor('the background sync to keep retrying', () => (errors.length >= 3 ? true : undefined));
  assert.ok(errorOf(() => unreachable.next()) instanceof ApiUnreachableError);

  // An API server that accepts connections and never answers: shutdown must not wait for the deadline.
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => silent.close());
  const silentConfig = join(plane.dir, 'accounts', `silent-${process.pid}.kubeconfig`);
  writeFileSync(silentConfig, kubeconfigYaml(`https://127.0.0.1:${(silent.address() as AddressInfo).port}`, plane.caFile, 'x'));
  const hanging = new EndpointsBalancer({ namespace: ns, service: 'later', kubeconfig: silentConfig, requestTimeoutMs: 120_000 });
  const pending = hanging.sync().then(() => 'resolved', (e: unknown) => e);
  const bg = hanging.startBackgroundSync().then(() => 'resolved', (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all([hanging.shutdown(), hanging.shutdown()]);
  await hanging.shutdown();
  const outcome = await waitFor('the in-flight sync to be aborted', async () => Promise.race([pending, new Promise((r) => setTimeout(() => r(undefined), 50))]), { timeoutMs: 10_000 });
  assert.ok(outcome instanceof BalancerClosedError, `in-flight sync ended with ${String(outcome)}`);
  assert.notEqual(await bg, 'resolved');
  assert.ok(errorOf(() => hanging.next()) instanceof BalancerClosedError);
  await assert.rejects(hanging.startBackgroundSync(), BalancerClosedError);
  await assert.rejects(hanging.sync(), BalancerClosedError);
});

test('apiserver restart: the balancer keeps serving what it knows and its watch resumes', async (t) => {
  const ns = await testNamespace(t, 'bal-restart');
  const kc = adminConfig();
  const account = await clientKubeconfig(ns, 'app');
  await createDeployment(kc, ns, 'rs', 3);
  const pods = await readyPods(ns, 'rs', 3);
  const b = balancer(t, { namespace: ns, service: 'rs', port: 'http', kubeconfig: account, backoff: { initialMs: 100, maxMs: 1_000 } });
  const errors: BalancerError[] = [];
  b.onError((e) => errors.push(e));
  await b.startBackgroundSync();
  await waitForEndpoints(b, 'three endpoints', (a) => a.length === 3);

  let servedWhileDown = 0;
  let failedWhileDown = 0;
  const restarting = restartApiserver(testPlane().dir);
  const poll = setInterval(() => {
    if (errorOf(() => b.next()) === undefined) servedWhileDown++;
    else failedWhileDown++;
  }, 5);
  const restart = await restarting.finally(() => clearInterval(poll));
  assert.equal(failedWhileDown, 0, 'next() must keep using the last known endpoints while the API is away');

  const gone = pods[0]!;
  const written = Date.now();
  // The controllers reconnect too; retry the write until the API takes it.
  await waitFor('the readiness write after the restart', async () => {
    await setPodReady(kc, ns, gone.name, false);
    return true;
  });
  const seen = await waitForEndpoints(b, `${gone.name} to leave`, (a) => a.length === 2 && !a.includes(gone.ip), 60_000);
  t.diagnostic(
    `apiserver unavailable ${restart.unavailableMs} ms; next() answered ${servedWhileDown} times meanwhile; ` +
      `${errors.length} watch errors (${[...new Set(errors.map((e) => e.name))].join(', ')}); change after the restart seen ${Date.now() - written} ms after the write`,
  );
  assert.equal(seen.length, 2);
});
