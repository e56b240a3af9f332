// Knative 1.20 installed on the plane's real node as a user's cluster has it (release YAML
// of the pinned modules, images built here and pulled from the plane's registry): a
// Knative Service answers through Kourier from the host, a Broker's Trigger delivers, a
// PingSource fires, and `cluster down` takes it all away. Needs the real node: see `skip`
// (alone: `node scripts/test.mjs e2e --only=e2e/knative-install`). It starts and stops a
// plane of its own because one machine holds one real node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startPlane, stopPlane } from '../../plane/plane.js';
import { readState, type PlaneState } from '../../plane/state.js';
import { KNATIVE_DOMAIN, KNATIVE_NAMESPACES, realNodeNamespaceAnnotations } from '../../plane/knative/manifests.js';
import { ECHO_IMAGE } from '../../plane/node/images.js';
import { REAL_NODE_GATEWAY, REAL_NODE_NAME, REGISTRY_HOST } from '../../plane/node/network.js';
import { waitFor } from '../../plane/wait.js';
import { processesMentioning } from './real-node-host.js';
import { startSink, type Sink } from './support/sink.js';
import { skip } from './support/real-node.js';
import { podRss, post, ready, type KnativeObject } from './support/knative.js';

describe('Knative 1.20 on the real node', { skip }, () => {
  let dir = '';
  let plane: PlaneState | undefined;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let sink: Sink | undefined;

  const get = async (group: string, version: string, ns: string, plural: string, name: string): Promise<KnativeObject> =>
    (await custom.getNamespacedCustomObject({ group, version, namespace: ns, plural, name })) as KnativeObject;
  const readyObject = (what: string, group: string, version: string, ns: string, plural: string, name: string): Promise<KnativeObject> =>
    waitFor(`${what} to be Ready`, async () => {
      const o = await get(group, version, ns, plural, name);
      return ready(o) ? o : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 }).catch(async (e: Error) => {
      const o = await get(group, version, ns, plural, name).catch(() => undefined);
      throw new Error(`${e.message}; its conditions: ${JSON.stringify(o?.status?.conditions)}`);
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-knative-'));
    const started = Date.now();
    plane = await startPlane({ dir, nodes: 1, realNode: true, knative: true, progress: (m) => console.error(`[knative] ${m}`) });
    console.error(`[knative] plane, real node and Knative ready ${((Date.now() - started) / 1000).toFixed(1)} s after the start; Knative's part (ms): ${JSON.stringify(plane.knative?.ms)}`);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    // The subscriber and the PingSource's sink: on the bridge address, where pods reach the host.
    sink = await startSink(REAL_NODE_GATEWAY);
  });

  after(async () => {
    await sink?.close();
    if (readState(dir)) await stopPlane(dir);
  });

  it('runs every component on the real node, from the images pushed here and pinned by digest', async () => {
    const pods: k8s.V1Pod[] = [];
    for (const ns of KNATIVE_NAMESPACES) pods.push(...(await core.listNamespacedPod({ namespace: ns })).items);
    // Serving 4, Kourier 2, Eventing core 4, the in-memory channel 2, the MT Broker 3.
    assert.ok(pods.length >= 15, `only ${pods.length} Knative pods`);
    for (const pod of pods) {
      const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      assert.equal(pod.spec?.nodeName, REAL_NODE_NAME, `${name} is not on the real node`);
      assert.equal(pod.status?.phase, 'Running', `${name} is ${pod.status?.phase}`);
      for (const c of pod.spec?.containers ?? []) {
        assert.match(c.image ?? '', new RegExp(`^${REGISTRY_HOST.replace(/\./g, '\\.')}/knative/[a-z-]+@sha256:[0-9a-f]{64}$`), `${name}: ${c.image}`);
        const status = pod.status?.containerStatuses?.find((s) => s.name === c.name);
        assert.ok(status?.imageID?.endsWith(c.image!.split('@')[1]!), `${name} runs ${status?.imageID}, not ${c.image}`);
      }
    }
    const rss = podRss(pods.map((p) => p.metadata?.uid ?? ''));
    const total = [...rss.values()].reduce((a, b) => a + b, 0);
    assert.equal(rss.size, pods.length, 'every Knative pod has processes on the node');
    console.error(`[knative] RSS of the ${pods.length} Knative pods (pause containers left out): ${(total / 1024 / 1024).toFixed(0)} MiB; by pod (MiB): ${JSON.stringify(Object.fromEntries(pods.map((p) => [p.metadata?.name, Math.round((rss.get(p.metadata?.uid ?? '') ?? 0) / 1024 / 1024)])))}`);
  });

  it('makes a Knative Service Ready, which answers through the Kourier gateway from the host', async () => {
    const ns = 'kn-hello';
    // The namespace's pods go to the real node the same way KnativeObject's own do.
    await core.createNamespace({ body: { metadata: { name: ns, annotations: realNodeNamespaceAnnotations() } } });
    await custom.createNamespacedCustomObject({
      group: 'serving.knative.dev',
      version: 'v1',
      namespace: ns,
      plural: 'services',
      body: {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'hello' },
        spec: { template: { spec: { containers: [{ image: ECHO_IMAGE, env: [{ name: 'POD_NAME', value: 'hello-knative' }] }] } } },
      },
    });
    const ksvc = await readyObject('the Knative Service', 'serving.knative.dev', 'v1', ns, 'services', 'hello');
    assert.equal(ksvc.status?.url, `http://hello.${ns}.${KNATIVE_DOMAIN}`);
    const gateway = await core.readNamespacedService({ name: 'kourier', namespace: 'kourier-system' });
    const host = new URL(ksvc.status.url).host;
    const reply = await waitFor('the Service to answer through Kourier', async () => {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: gateway.spec?.clusterIP, port: 80, path: '/', headers: { host }, timeout: 5_000 }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      }).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal(reply.body.trim(), 'hello-knative');
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'serving.knative.dev/service=hello' });
    assert.ok(pods.items.length >= 1 && pods.items.every((p) => p.spec?.nodeName === REAL_NODE_NAME), 'the revision runs on the real node');
    assert.ok(pods.items[0]!.spec?.containers.some((c) => c.name === 'queue-proxy' && c.image?.startsWith(`${REGISTRY_HOST}/knative/serving-queue@sha256:`)), 'the queue-proxy sidecar comes from the pushed image');
  });

  it('delivers a CloudEvent through a Broker (in-memory channel) to a Trigger whose filter matches, and only that one', async () => {
    const ns = 'kn-events';
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const create = (group: string, plural: string, body: Record<string, unknown>): Promise<unknown> => custom.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, body });
    await create('eventing.knative.dev', 'brokers', { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'default', annotations: { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' } } });
    await create('eventing.knative.dev', 'triggers', {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'hello' },
      spec: { broker: 'default', filter: { attributes: { type: 'dev.baton.test.hello' } }, subscriber: { uri: sink!.url } },
    });
    const broker = await readyObject('the Broker', 'eventing.knative.dev', 'v1', ns, 'brokers', 'default');
    await readyObject('the Trigger', 'eventing.knative.dev', 'v1', ns, 'triggers', 'hello');
    const channels = await custom.listNamespacedCustomObject({ group: 'messaging.knative.dev', version: 'v1', namespace: ns, plural: 'inmemorychannels' }) as { items: KnativeObject[] };
    assert.equal(channels.items.length, 1, 'the Broker is backed by an InMemoryChannel');
    // The Broker's address is a cluster DNS name; the host reaches its Service's ClusterIP.
    const url = new URL(broker.status!.address!.url!);
    assert.equal(url.host, 'broker-ingress.knative-eventing.svc.cluster.local');
    const ingress = await core.readNamespacedService({ name: 'broker-ingress', namespace: 'knative-eventing' });
    const send = (id: string, type: string): Promise<number> =>
      post(ingress.spec!.clusterIP!, 80, url.pathname, { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/baton/e2e', 'ce-type': type, 'content-type': 'application/json' }, JSON.stringify({ id }));
    const other = `other-${Date.now()}`;
    const id = `hello-${Date.now()}`;
    assert.equal(await send(other, 'dev.baton.test.other'), 202);
    // The ingress may answer before the channel's dispatcher knows the subscriber: resend until it arrives.
    const got = await waitFor('the Trigger to deliver', async () => {
      const seen = sink!.events.find((e) => e.id === id);
      if (seen) return seen;
      await send(id, 'dev.baton.test.hello');
      return undefined;
    }, { timeoutMs: 60_000, intervalMs: 2_000 });
    assert.equal(got.type, 'dev.baton.test.hello');
    assert.equal(got.source, '/baton/e2e');
    assert.deepEqual(got.data, { id });
    assert.equal(sink!.events.filter((e) => e.id === other).length, 0, 'the Trigger filter let a non-matching event through');
  });

  it('fires a PingSource at its sink', async () => {
    const ns = 'kn-events';
    await custom.createNamespacedCustomObject({
      group: 'sources.knative.dev',
      version: 'v1',
      namespace: ns,
      plural: 'pingsources',
      body: { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', metadata: { name: 'tick' }, spec: { schedule: '*/2 * * * * *', contentType: 'application/json', data: '{"tick":true}', sink: { uri: `${sink!.url}ping` } } },
    });
    await readyObject('the PingSource', 'sources.knative.dev', 'v1', ns, 'pingsources', 'tick');
    const tick = await sink!.waitFor('a ping', (e) => e.type === 'dev.knative.sources.ping', 60_000);
    assert.equal(tick.source, `/apis/v1/namespaces/${ns}/pingsources/tick`);
    assert.deepEqual(tick.data, { tick: true });
  });

  it('cluster down removes Knative with the plane: no process of it is left', async () => {
    const running = processesMentioning('/ko-app/').length;
    assert.ok(running >= 15, `only ${running} Knative processes found while running`);
    await stopPlane(dir);
    assert.deepEqual(processesMentioning(dir), []);
    assert.deepEqual(processesMentioning('/ko-app/'), []);
    assert.deepEqual(processesMentioning('/usr/local/bin/envoy'), []);
  });
});
