// Hostile input for both functions, as separate processes under their own
// ServiceAccount: malformed deliveries, absurd annotations on a real opted-in Service,
// and forged events. What the functions wrote meanwhile is counted by the apiserver's
// audit log, not by the functions.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { apiGet } from '../../plane/plane.js';
import { waitFor } from '../../plane/wait.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, serviceAccountUser, tally, WRITE_VERBS } from '../chaos/auditlog.js';
import { deliver, ping, resourceEvent, type Answer, type Wire } from '../chaos/forge.js';
import { installRbac, loggedDetail, serviceAccountKubeconfig, startFunction, type RunningFunction } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { startSink } from './support/sink.js';
import { annotateService, readyEndpoints } from './support/workloads.js';

const USER = serviceAccountUser('baton-failover');
const SVC = 'web';
const K = {
  mode: 'baton.dev/mode',
  podId: 'baton.dev/pod-id',
  role: 'baton.dev/role',
  term: 'baton.dev/term',
  completed: 'baton.dev/completed-term',
  switchoverTo: 'baton.dev/switchover-to',
  minSwitchInterval: 'baton.dev/min-switch-interval',
  failback: 'baton.dev/failback',
  originalSelector: 'baton.dev/original-selector',
  priority: 'baton.dev/priority',
};

type Json = Record<string, unknown> & { metadata: Record<string, unknown> & { resourceVersion?: string } };

interface World {
  readonly ns: string;
  readonly kc: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly failover: RunningFunction;
  readonly resync: RunningFunction;
  /** Pods of the Service, by role after the set-up switchover. */
  readonly active: string;
  readonly standby: string;
  /** The Service as it was at term 1: a genuine object with an old resourceVersion. */
  readonly termOne: Json;
  /** The current active's Pod as it was at term 1, when it was the standby. */
  readonly oldActivePod: Json;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function raw(path: string): Promise<Json> {
  const r = await apiGet(testPlane(), path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as Json;
}

const servicePath = (ns: string): string => `/api/v1/namespaces/${ns}/services/${SVC}`;
const podPath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/pods/${name}`;

async function createPod(core: k8s.CoreV1Api, ns: string, name: string, app: string): Promise<void> {
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } });
}

/** Sweeps until the Service records completion of `term` and both pods carry their roles. */
async function settleService(w: Pick<World, 'ns' | 'core' | 'resync'>, term: string): Promise<{ active: string; standby: string }> {
  return waitFor(
    `${SVC} to settle at term ${term} (completion recorded, role labels written)`,
    async () => {
      await deliver(w.resync.url, ping());
      const svc = await w.core.readNamespacedService({ name: SVC, namespace: w.ns });
      const a = svc.metadata?.annotations ?? {};
      if (a[K.term] !== term || a[K.completed] !== term) return undefined;
      const pods = (await w.core.listNamespacedPod({ namespace: w.ns, labelSelector: `app=${SVC}` })).items;
      const uid = svc.spec?.selector?.[K.podId];
      const active = pods.find((p) => p.metadata?.uid === uid && p.metadata?.labels?.[K.role] === 'active');
      const standby = pods.find((p) => p.metadata?.uid !== uid && p.metadata?.labels?.[K.role] === 'standby' && p.metadata?.labels?.[K.podId] === p.metadata?.uid);
      return active && standby ? { active: active.metadata!.name!, standby: standby.metadata!.name! } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 300 },
  );
}

/**
 * A namespace with one opted-in Service over two bare pods (plus a pod of another app),
 * adopted by resync's first sweep, then switched over once so that an older
 * resourceVersion with a different active exists, and left fully converged.
 */
async function world(t: TestContext): Promise<World> {
  const ns = await testNamespace(t, 'hostile');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (const name of ['web-0', 'web-1']) await createPod(core, ns, name, SVC);
  await createPod(core, ns, 'stranger', 'other');
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: SVC, labels: { [K.mode]: 'active-standby' } }, spec: { selector: { app: SVC, [K.podId]: 'none' }, ports: [{ port: 80 }] } } });
  await waitFor('3 ready pods', async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns })).items;
    return pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
  });

  await installRbac();
  const sink = await startSink();
  t.after(() => sink.close());
  const env = { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), K_SINK: sink.url, BATON_NAMESPACES: ns, BATON_INDEX_REFRESH_MS: '3600000', BATON_RESYNC_INTERVAL_MS: '3600000', BATON_ROLE_LABELS: 'true' };
  const [failover, resync] = await Promise.all([startFunction('failover', env), startFunction('resync', env)]);
  t.after(() => failover.stop());
  t.after(() => resync.stop());

  const first = await settleService({ ns, core, resync }, '1');
  const termOne = await raw(servicePath(ns));
  const oldActivePod = await raw(podPath(ns, first.standby));
  await annotateService(kc, ns, SVC, { [K.switchoverTo]: first.standby });
  const switched = await deliver(failover.url, resourceEvent('Service', 'update', await raw(servicePath(ns))));
  assert.equal(switched.status, 200);
  assert.match(await loggedDetail(failover, switched.requestId), /switched/);
  await waitFor(`${first.standby} to be the only ready endpoint`, async () => ((await readyEndpoints(kc, ns, SVC)).ready.join() === first.standby ? true : undefined));
  const second = await settleService({ ns, core, resync }, '2');
  assert.equal(second.active, first.standby);
  return { ns, kc, core, failover, resync, active: second.active, standby: second.standby, termOne, oldActivePod };
}

/** An opted-in Service that does not exist, selecting the pods of `app`. */
function forgedService(ns: string, app: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `ghost-${app}`, namespace: ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: { [K.mode]: 'active-standby' } },
    spec: { selector: { app } },
  };
}

interface Case {
  readonly name: string;
  readonly wire: () => Wire;
  readonly method?: string;
  readonly path?: string;
  /** Expected answers: failover, then resync (which sweeps on any valid CloudEvent). */
  readonly failover: { status: number; error?: RegExp; outcome?: string };
  readonly resync: { status: number; error?: RegExp };
}

const CE = { 'content-type': 'application/cloudevents+json' };
const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

function corpus(pod: Json): Case[] {
  const podEvent = (extra: Record<string, string> = {}, body?: string | Buffer): Wire => {
    const wire = resourceEvent('Pod', 'update', pod, extra);
    return body === undefined ? wire : { headers: wire.headers, body };
  };
  const without = (header: string): Wire => {
    const wire = podEvent();
    const headers = { ...wire.headers };
    delete headers[header];
    return { headers, body: wire.body };
  };
  const same = (status: number, error?: RegExp): Pick<Case, 'failover' | 'resync'> => ({ failover: { status, ...(error ? { error } : {}) }, resync: { status, ...(error ? { error } : {}) } });
  const cases: Case[] = [
    { name: 'structured mode, body not JSON', wire: () => ({ headers: CE, body: 'definitely { not json' }), ...same(400, /not valid JSON/) },
    { name: 'structured mode, empty body', wire: () => ({ headers: CE, body: '' }), ...same(400, /empty body/) },
    { name: 'no content-type, no ce-* headers', wire: () => ({ headers: {}, body: Buffer.from('{"hello":"world"}') }), ...same(400, /not a CloudEvent/) },
    { name: 'content-type text/html', wire: () => ({ headers: { 'content-type': 'text/html' }, body: '<h1>hi</h1>' }), ...same(415, /unsupported content-type text\/html/) },
    { name: 'content-type application/xml', wire: () => ({ headers: { 'content-type': 'application/xml' }, body: '<event/>' }), ...same(415, /application\/xml/) },
    { name: 'binary mode, data declared text/plain', wire: () => podEvent({ 'content-type': 'text/plain' }, 'hello'), ...same(415, /text\/plain is not JSON/) },
    { name: 'batch mode', wire: () => ({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]' }), ...same(415, /batch/) },
    { name: 'missing ce-id', wire: () => without('ce-id'), ...same(400, /"id" \(header ce-id\)/) },
    { name: 'missing ce-source', wire: () => without('ce-source'), ...same(400, /"source" \(header ce-source\)/) },
    { name: 'missing ce-type', wire: () => without('ce-type'), ...same(400, /"type" \(header ce-type\)/) },
    { name: 'missing ce-specversion', wire: () => without('ce-specversion'), ...same(400, /"specversion"/) },
    { name: 'ce-specversion 0.3', wire: () => podEvent({ 'ce-specversion': '0.3' }), ...same(400, /specversion "0.3"/) },
    { name: 'ce-time not a timestamp', wire: () => podEvent({ 'ce-time': 'yesterday' }), ...same(400, /"time" is not an RFC 3339 timestamp/) },
    {
      name: 'unknown event type',
      wire: () => podEvent({ 'ce-type': 'com.example.unrelated.happened' }),
      failover: { status: 200, outcome: 'ignored' },
      resync: { status: 200 },
    },
    {
      name: 'Reference-mode event',
      wire: () => podEvent({ 'ce-type': 'dev.knative.apiserver.ref.update' }),
      failover: { status: 200, outcome: 'ignored' },
      resync: { status: 200 },
    },
    {
      name: 'unwatched kind (Deployment)',
      wire: () => podEvent({ 'ce-kind': 'Deployment' }),
      failover: { status: 200, outcome: 'ignored' },
      resync: { status: 200 },
    },
    { name: 'claims Pod, carries a Service', wire: () => podEvent({}, JSON.stringify({ ...pod, kind: 'Service' })), ...same(400, /data\.kind: "Service" does not match the kind extension "Pod"/) },
    { name: 'claims Pod, carries no metadata', wire: () => podEvent({}, JSON.stringify({ kind: 'Pod', spec: {} })), ...same(400, /data does not match kind Pod: data\.metadata/) },
    { name: 'claims Pod, data is a JSON string', wire: () => podEvent({}, JSON.stringify('a pod, honestly')), ...same(400, /data does not match kind Pod/) },
    { name: 'resource event with data null', wire: () => podEvent({}, 'null'), ...same(400, /data: required/) },
    { name: 'binary data not valid UTF-8', wire: () => podEvent({}, Buffer.from([0xc3, 0x28, 0xff])), ...same(400, /UTF-8/) },
    { name: '2 MB body', wire: () => ({ headers: CE, body: Buffer.alloc(2 * 1024 * 1024, 0x20) }), ...same(413, /exceeds the limit of 1048576 bytes/) },
    { name: 'JSON nested 100000 levels', wire: () => ({ headers: CE, body: nested(100_000) }), ...same(400, /missing required CloudEvent attribute/) },
    { name: 'Pod data nested 100000 levels', wire: () => podEvent({}, nested(100_000)), ...same(400, /data does not match kind Pod/) },
    { name: 'GET / instead of POST', wire: () => ({ headers: {}, body: '' }), method: 'GET', ...same(404, /no route for GET \//) },
    { name: 'POST to another path', wire: () => podEvent(), path: '/admin', ...same(404, /no route for POST \/admin/) },
  ];
  return cases;
}

function check(answer: Answer, expected: { status: number; error?: RegExp; outcome?: string }, what: string): void {
  assert.equal(answer.status, expected.status, `${what}: HTTP ${answer.status} (${answer.error.slice(0, 300)})`);
  if (expected.status >= 400) {
    assert.ok(expected.error, `${what}: a 4xx case must name its message`);
    assert.match(answer.error, expected.error, `${what}: the JSON message does not say why`);
  }
  if (expected.outcome) assert.equal(answer.outcome, expected.outcome, `${what}: Baton-Outcome`);
}

async function warnings(w: World, reason: string): Promise<k8s.CoreV1Event[]> {
  const list = await w.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: `involvedObject.name=${SVC},type=Warning` });
  return list.items.filter((e) => e.reason === reason);
}

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
