// Hostile input for both functions, as separate processes under their own
// ServiceAccount: malformed deliveries, absurd annotations on a real opted-in Service,
// and forged events. What the functions wrote meanwhile is counted by the apiserver's
// audit log, not by the functions.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, tally, WRITE_VERBS } from '../chaos/auditlog.js';
import { deliver, ping, resourceEvent, type Wire } from '../chaos/forge.js';
import { loggedDetail } from './support/baton.js';
import { testPlane } from './support/plane.js';
import { annotateService, readyEndpoints } from './support/workloads.js';
import { USER, SVC, K, Json, settle, raw, servicePath, podPath, world, forgedService, corpus, check, warnings } from './support/hostile.js';

test('hostile input, absurd annotations and forged events: clear 4xx or Warning Event, the process stays up, no write', { timeout: 240_000 }, async (t) => {
  const w = await world(t);
  const planeDir = testPlane().dir;
  const outcomes: string[] = [];

  await t.test('malformed deliveries: each a 4xx with a JSON message (or 200 ignored for unrelated events), and no API write', async () => {
    const from = auditOffset(planeDir);
    const pod = await raw(podPath(w.ns, w.active));
    for (const c of corpus(pod)) {
      for (const [fn, expected] of [[w.failover, c.failover], [w.resync, c.resync]] as const) {
        const which = fn === w.failover ? 'failover' : 'resync';
        const answer = await deliver(fn.url, c.wire(), { method: c.method ?? 'POST', path: c.path ?? '/' });
        check(answer, expected, `${which}: ${c.name}`);
        outcomes.push(`${which.padEnd(8)} ${c.name.padEnd(40)} ${answer.status} ${answer.status >= 400 ? answer.error.slice(0, 90) : (answer.outcome ?? '')}`);
      }
    }
    // Still serving: a genuine event to each is answered as usual.
    const valid = await deliver(w.failover.url, resourceEvent('Service', 'update', await raw(servicePath(w.ns))));
    assert.equal(valid.status, 200);
    assert.match(await loggedDetail(w.failover, valid.requestId), /steady/);
    assert.equal((await deliver(w.resync.url, ping())).status, 200);
    assert.equal(w.failover.process.exitCode, null);
    assert.equal(w.resync.process.exitCode, null);
    await settle(500);
    const requests = requestsSince(planeDir, from, USER);
    // Not even an attempt: garbage must not get as far as a decision.
    assert.deepEqual(requests.filter((r) => WRITE_VERBS.has(r.verb)).map(describeRequest), [], 'writes by baton while it was fed garbage');
    t.diagnostic(`API requests meanwhile (all reads, from the resync sweeps): ${JSON.stringify(tally(requests.map(describeRequest)))}`);
  });

  await t.test('forged events: no switch and no write', async () => {
    const before = await w.core.readNamespacedService({ name: SVC, namespace: w.ns });
    const from = auditOffset(planeDir);
    const activePod = await raw(podPath(w.ns, w.active));
    const unready = structuredClone(activePod) as Json & { status?: { conditions?: Array<Record<string, unknown>> } };
    unready.status = { ...(unready.status ?? {}), conditions: (unready.status?.conditions ?? []).map((c) => (c['type'] === 'Ready' ? { ...c, status: 'False' } : c)) };
    const ghostPod = (app: string): Json => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `ghost-${app}`, namespace: w.ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: { app, [K.podId]: randomUUID() } },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const ghostService = (app: string): Json => forgedService(w.ns, app);
    const ghostSlice: Json = { kind: 'EndpointSlice', metadata: { name: 'ghost-abc', namespace: w.ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: { 'kubernetes.io/service-name': 'ghost' } }, endpoints: [] };
    const forged: Array<[string, Wire]> = [
      ['the healthy active claimed unready', resourceEvent('Pod', 'update', unready)],
      ['the healthy active claimed deleted', resourceEvent('Pod', 'delete', unready)],
      ['a pod that does not exist, matching the Service', resourceEvent('Pod', 'add', ghostPod(SVC))],
      ['a pod that does not exist, baton-labelled, no Service', resourceEvent('Pod', 'update', ghostPod('nobody'))],
      ['a pod in a namespace out of scope', resourceEvent('Pod', 'update', { ...ghostPod(SVC), metadata: { ...ghostPod(SVC).metadata, namespace: 'kube-system' } })],
      ['the Service at an old resourceVersion (term 1, naming the former active)', resourceEvent('Service', 'update', w.termOne)],
      ['the active Pod at an old resourceVersion (when it was the standby)', resourceEvent('Pod', 'update', w.oldActivePod)],
      ['a Service that does not exist, selecting the real pods', resourceEvent('Service', 'add', ghostService(SVC))],
      ['a slice of a Service that does not exist', resourceEvent('EndpointSlice', 'update', ghostSlice)],
    ];
    for (const [name, wire] of forged) {
      const answer = await deliver(w.failover.url, wire);
      assert.equal(answer.status, 200, `${name}: HTTP ${answer.status} ${answer.error}`);
      outcomes.push(`failover forged: ${name.padEnd(50)} ${answer.status} ${answer.outcome ?? ''} ${await loggedDetail(w.failover, answer.requestId)}`.slice(0, 160));
      const now = await w.core.readNamespacedService({ name: SVC, namespace: w.ns });
      assert.equal(now.metadata?.resourceVersion, before.metadata?.resourceVersion, `${name}: the Service changed`);
      assert.deepEqual(now.spec?.selector, before.spec?.selector, `${name}: the selector changed`);
    }
    // Label writes after a decision are fire-and-forget: give them time to show up.
    await settle(1_000);
    const requests = requestsSince(planeDir, from, USER);
    // Refused attempts (404 for a Service that does not exist, 409 for a stale basis) are
    // the resourceVersion guard doing its job; only an accepted write would be a change.
    assert.deepEqual(acceptedWrites(requests).map(describeRequest), [], `writes caused by forged events; all requests: ${JSON.stringify(tally(requests.map(describeRequest)))}`);
    t.diagnostic(`API requests caused by the forged events: ${JSON.stringify(tally(requests.map(describeRequest)))}`);
    assert.deepEqual((await readyEndpoints(w.kc, w.ns, SVC)).ready, [w.active]);
  });

  await t.test(
    'forged event for a Service that does not exist, selecting pods baton never labelled: no write',
    async () => {
      const from = auditOffset(planeDir);
      const answer = await deliver(w.failover.url, resourceEvent('Service', 'add', forgedService(w.ns, 'other')));
      assert.equal(answer.status, 200);
      outcomes.push(`failover forged: ${'a Service that does not exist, selecting an unlabelled pod'.padEnd(50)} ${answer.status} ${answer.outcome ?? ''} ${await loggedDetail(w.failover, answer.requestId)}`.slice(0, 160));
      await settle(1_000);
      const writes = acceptedWrites(requestsSince(planeDir, from, USER)).map(describeRequest);
      outcomes.push(`  … and the writes it caused: ${JSON.stringify(tally(writes))}`);
      assert.deepEqual(writes, []);
    },
  );

  let strangerRefusal = '';
  await t.test('absurd annotations: a Warning Event each, the Service left as it is, and only the writes that report it', async () => {
    const from = auditOffset(planeDir);
    const long = (c: string): string => c.repeat(10 * 1024);
    const cases: Array<{ name: string; service?: Record<string, string>; pod?: Record<string, string>; reason: string; message: RegExp }> = [
      { name: 'negative min-switch-interval', service: { [K.minSwitchInterval]: '-5s' }, reason: 'InvalidConfig', message: /min-switch-interval=.*negative duration/ },
      { name: '10 kB min-switch-interval', service: { [K.minSwitchInterval]: long('9') }, reason: 'InvalidConfig', message: /min-switch-interval=.*longer than 64 characters/ },
      { name: '10 kB failback', service: { [K.failback]: long('y') }, reason: 'InvalidConfig', message: /failback=.*expected "true" or "false"/ },
      { name: '10 kB switchover-to', service: { [K.switchoverTo]: long('a') }, reason: 'InvalidConfig', message: /switchover-to=.*expected a pod name/ },
      // A damaged original-selector is no longer a reason to stop: the live selector is
      // enough, and baton writes a readable copy back (test/e2e/trust.test.ts, finding 8).
      { name: 'switchover-to an unknown pod', service: { [K.switchoverTo]: 'no-such-pod-7f3a' }, reason: 'SwitchoverRefused', message: /no pod named "no-such-pod-7f3a"/ },
      // The accurate reason is checked separately below.
      { name: "switchover-to another app's pod", service: { [K.switchoverTo]: 'stranger' }, reason: 'SwitchoverRefused', message: /switchover to stranger refused/ },
      { name: 'pod priority beyond ±1,000,000', pod: { [K.priority]: '99999999999' }, reason: 'InvalidPodAnnotation', message: /priority=.*between -1000000 and 1000000/ },
    ];
    const pods = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    for (const c of cases) {
      const seen = (await warnings(w, c.reason)).length;
      const before = await raw(servicePath(w.ns));
      if (c.service) await annotateService(w.kc, w.ns, SVC, c.service);
      if (c.pod) await w.core.patchNamespacedPod({ name: w.standby, namespace: w.ns, body: { metadata: { annotations: c.pod } } }, pods);
      // The event the adapter would send for the change: a Service update, or a Pod update.
      // (A Service event at a version baton wrote itself is an echo and needs no look.)
      const changed = c.pod ? resourceEvent('Pod', 'update', await raw(podPath(w.ns, w.standby))) : resourceEvent('Service', 'update', await raw(servicePath(w.ns)));
      const answer = await deliver(w.failover.url, changed);
      assert.equal(answer.status, 200, `${c.name}: HTTP ${answer.status} ${answer.error}`);
      const event = await waitFor(`a ${c.reason} Warning Event for ${c.name}`, async () => {
        const list = await warnings(w, c.reason);
        return list.length > seen ? list.find((e) => c.message.test(e.message ?? '')) : undefined;
      });
      assert.ok((event.message ?? '').length <= 1024, 'the Event message is bounded');
      if (c.service?.[K.switchoverTo] === 'stranger') strangerRefusal = event.message ?? '';
      outcomes.push(`failover annotation: ${c.name.padEnd(34)} ${answer.outcome} (${(await loggedDetail(w.failover, answer.requestId)).slice(0, 60)}) → Warning ${c.reason}`);
      const after = await raw(servicePath(w.ns));
      const sel = (s: Json): unknown => (s['spec'] as { selector?: unknown }).selector;
      assert.deepEqual(sel(after), sel(before), `${c.name}: the selector changed`);
      assert.equal((after.metadata['annotations'] as Record<string, string>)[K.term], '2', `${c.name}: the term changed`);
      // Put things back (as the admin, which the audit count ignores).
      if (c.service) await annotateService(w.kc, w.ns, SVC, Object.fromEntries(Object.keys(c.service).map((k) => [k, null])));
      if (c.pod) await w.core.patchNamespacedPod({ name: w.standby, namespace: w.ns, body: { metadata: { annotations: { [K.priority]: null } } } }, pods);
    }
    await settle(1_000);
    const writes = acceptedWrites(requestsSince(planeDir, from, USER)).map(describeRequest);
    // One Warning Event per case; the two refused switchovers also clear their request
    // (documented: "Cleared either way") — the only Service writes.
    assert.deepEqual(tally(writes), { 'create events': cases.length, 'patch services': 2 }, JSON.stringify(writes));
    assert.deepEqual((await readyEndpoints(w.kc, w.ns, SVC)).ready, [w.active]);
    assert.equal(w.failover.process.exitCode, null);
  });

  await t.test("a refused switchover to another app's pod says why", () => {
    assert.match(strangerRefusal, /"stranger" does not match the selector/);
  });

  for (const line of outcomes) t.diagnostic(line);
});
