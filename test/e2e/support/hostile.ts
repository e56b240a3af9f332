// Hostile input for both functions, as separate processes under their own
// ServiceAccount: malformed deliveries, absurd annotations on a real opted-in Service,
// and forged events. What the functions wrote meanwhile is counted by the apiserver's
// audit log, not by the functions.
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { apiGet } from '../../../plane/api.js';
import { waitFor } from '../../../plane/wait.js';
import { serviceAccountUser } from '../../chaos/auditlog.js';
import { deliver, ping, resourceEvent, type Answer, type Wire } from '../../chaos/forge.js';
import { installRbac, loggedDetail, serviceAccountKubeconfig, startFunction, type RunningFunction } from './baton.js';
import { adminConfig, testNamespace, testPlane } from './plane.js';
import { startSink } from './sink.js';
import { annotateService, readyEndpoints } from './workloads.js';

export const USER = serviceAccountUser('baton-failover');

export const SVC = 'web';

export const K = {
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

export type Json = Record<string, unknown> & { metadata: Record<string, unknown> & { resourceVersion?: string } };

export interface World {
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

export const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function raw(path: string): Promise<Json> {
  const r = await apiGet(testPlane(), path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as Json;
}

export const servicePath = (ns: string): string => `/api/v1/namespaces/${ns}/services/${SVC}`;

export const podPath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/pods/${name}`;

export async function createPod(core: k8s.CoreV1Api, ns: string, name: string, app: string): Promise<void> {
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } });
}

/** Sweeps until the Service records completion of `term` and both pods carry their roles. */
export async function settleService(w: Pick<World, 'ns' | 'core' | 'resync'>, term: string): Promise<{ active: string; standby: string }> {
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
export async function world(t: TestContext): Promise<World> {
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
export function forgedService(ns: string, app: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `ghost-${app}`, namespace: ns, uid: randomUUID(), resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: { [K.mode]: 'active-standby' } },
    spec: { selector: { app } },
  };
}

export interface Case {
  readonly name: string;
  readonly wire: () => Wire;
  readonly method?: string;
  readonly path?: string;
  /** Expected answers: failover, then resync (which sweeps on any valid CloudEvent). */
  readonly failover: { status: number; error?: RegExp; outcome?: string };
  readonly resync: { status: number; error?: RegExp };
}

export const CE = { 'content-type': 'application/cloudevents+json' };

export const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

export function corpus(pod: Json): Case[] {
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

export function check(answer: Answer, expected: { status: number; error?: RegExp; outcome?: string }, what: string): void {
  assert.equal(answer.status, expected.status, `${what}: HTTP ${answer.status} (${answer.error.slice(0, 300)})`);
  if (expected.status >= 400) {
    assert.ok(expected.error, `${what}: a 4xx case must name its message`);
    assert.match(answer.error, expected.error, `${what}: the JSON message does not say why`);
  }
  if (expected.outcome) assert.equal(answer.outcome, expected.outcome, `${what}: Baton-Outcome`);
}

export async function warnings(w: World, reason: string): Promise<k8s.CoreV1Event[]> {
  const list = await w.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: `involvedObject.name=${SVC},type=Warning` });
  return list.items.filter((e) => e.reason === reason);
}
