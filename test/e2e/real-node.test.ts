// A real node beside the kwok nodes: a pod from an image built here runs in containerd,
// answers through a ClusterIP that kube-proxy programs in iptables, and `cluster down`
// leaves the machine as it found it. Needs root and cgroup v1: see `skip` for when it runs
// (alone: `node scripts/test.mjs e2e --only=e2e/real-node`). It starts and stops a plane
// of its own because one machine holds one real node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startPlane, stopPlane } from '../../plane/plane.js';
import { readState, type PlaneState } from '../../plane/state.js';
import { overlaps, REAL_NODE_NAME, REAL_NODE_SUBNET, REGISTRY_HOST, SERVICE_RANGE, nodeNames } from '../../plane/node/network.js';
import { waitFor } from '../../plane/wait.js';
import { processesMentioning, snapshotHost, type HostSnapshot } from './real-node-host.js';
import { startBaton } from './support/baton.js';
import { testNamespace } from './support/plane.js';
import { skip, httpGet, echoPod, fetchFromPod, hookCallsOf, hookedPair, skaffoldBuild } from './support/real-node.js';

describe('a real node', { skip }, () => {
  let dir = '';
  let plane: PlaneState | undefined;
  let before0: HostSnapshot | undefined;
  let core: k8s.CoreV1Api;

  before(async () => {
    before0 = snapshotHost();
    dir = mkdtempSync(join(tmpdir(), 'baton-real-node-'));
    const started = Date.now();
    plane = await startPlane({ dir, nodes: 1, realNode: true, progress: (m) => console.error(`[real node] ${m}`) });
    console.error(`[real node] plane and real node ready ${((Date.now() - started) / 1000).toFixed(1)} s after the start (binaries and packages included when missing)`);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
  });

  after(async () => {
    // Only when a test failed before the teardown test ran.
    if (readState(dir)) await stopPlane(dir);
  });

  it('runs a pod of an image built here, which answers through its ClusterIP from the host', async () => {
    const ns = 'real-node-echo';
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedPod({ namespace: ns, body: echoPod('echo-real', true) });
    // Without the toleration a pod must not land there (it goes to the kwok node).
    await core.createNamespacedPod({ namespace: ns, body: { ...echoPod('echo-fake', false), metadata: { name: 'echo-fake', labels: { app: 'other' } } } });
    const svc = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    const clusterIP = svc.spec?.clusterIP ?? '';
    assert.ok(overlaps(`${clusterIP}/32`, SERVICE_RANGE), `ClusterIP ${clusterIP} is outside ${SERVICE_RANGE}`);

    const pod = await waitFor('echo-real to be Ready', async () => {
      const p = await core.readNamespacedPod({ name: 'echo-real', namespace: ns });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    assert.equal(pod.spec?.nodeName, REAL_NODE_NAME);
    assert.ok(overlaps(`${pod.status?.podIP}/32`, REAL_NODE_SUBNET), `pod IP ${pod.status?.podIP} is outside ${REAL_NODE_SUBNET}`);
    const fake = await waitFor('echo-fake to be scheduled', async () => (await core.readNamespacedPod({ name: 'echo-fake', namespace: ns })).spec?.nodeName);
    assert.notEqual(fake, REAL_NODE_NAME);

    // kube-proxy programs the Service a moment after the EndpointSlice changes.
    const reply = await waitFor('the ClusterIP to answer', async () => {
      const r = await httpGet(clusterIP, 80, '/').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.equal(reply.body.trim(), 'echo-real');
    // And the Service's rules are real iptables rules, not a shortcut.
    assert.ok(snapshotHost().rules.some((l) => l.includes(clusterIP) && l.includes('KUBE-SVC-')), `no KUBE-SVC rule for ${clusterIP}`);
  });

  it('a pod reaches another pod through its ClusterIP, and the API server through the kubernetes Service', async () => {
    const ns = 'real-node-echo';
    const echo = await core.readNamespacedService({ name: 'echo', namespace: ns });
    const viaService = await fetchFromPod(core, ns, 'client-svc', `http://${echo.spec?.clusterIP}/`);
    assert.deepEqual(viaService, { phase: 'Succeeded', message: '200 echo-real\n' });

    assert.ok(plane);
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'plane-ca' }, data: { 'ca.crt': readFileSync(plane.caFile, 'utf8') } } });
    const kubernetes = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    const api = await fetchFromPod(
      core,
      ns,
      'client-api',
      `https://${kubernetes.spec?.clusterIP}/readyz`,
      { env: [{ name: 'CA_FILE', value: '/ca/ca.crt' }], volumeMounts: [{ name: 'ca', mountPath: '/ca', readOnly: true }] },
      [{ name: 'ca', configMap: { name: 'plane-ca' } }],
    );
    // TLS verified against the plane's CA: the serving certificate names the Service's IP.
    assert.deepEqual(api, { phase: 'Succeeded', message: '200 ok' });
  });

  it('resolves <svc>.<ns>.svc.cluster.local inside pods through CoreDNS, and nothing outside cluster.local', async () => {
    const ns = 'real-node-echo';
    const byName = await fetchFromPod(core, ns, 'client-dns', `http://echo.${ns}.svc.cluster.local/`);
    assert.deepEqual(byName, { phase: 'Succeeded', message: '200 echo-real\n' });
    // No forward plugin: an outside name gets no answer (and no query leaves the machine).
    const outside = await fetchFromPod(core, ns, 'client-outside', 'http://example.com/');
    assert.equal(outside.phase, 'Failed');
    assert.match(outside.message, /lookup example\.com/);
  });

  it("the project's own image, from `skaffold build -p plane` and pulled from the plane's registry, answers /healthz through a ClusterIP from the host and from another pod", async () => {
    assert.ok(plane?.realNode);
    const ns = 'real-node-echo';
    const started = Date.now();
    const image = await skaffoldBuild((m) => console.error(`[skaffold] ${m}`));
    console.error(`[skaffold] built and pushed ${image} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(image.startsWith(`${REGISTRY_HOST}/`), `skaffold built ${image}, not an image of the plane's registry`);
    const digest = /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
    assert.ok(digest, `skaffold reported no digest: ${image}`);
    // No ServiceAccount admission plugin runs, so the pod asks for its token volume itself.
    const pod = echoPod('baton-failover', true);
    pod.metadata = { name: 'baton-failover', labels: { app: 'baton-failover' } };
    pod.spec!.serviceAccountName = 'default';
    pod.spec!.volumes = [
      {
        name: 'sa',
        projected: {
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
            { configMap: { name: 'plane-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ];
    pod.spec!.containers = [
      {
        name: 'failover',
        image,
        // Always: containerd must fetch it from the registry, not find it by chance.
        imagePullPolicy: 'Always',
        args: ['failover'],
        ports: [{ containerPort: 8080 }],
        volumeMounts: [{ name: 'sa', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
        resources: { limits: { memory: '256Mi', cpu: '1' } },
        securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      },
    ];
    await core.createNamespacedPod({ namespace: ns, body: pod });
    const svc = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'baton-failover' }, spec: { selector: { app: 'baton-failover' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    const ready = await waitFor('the function pod to be Ready', async () => {
      const p = await core.readNamespacedPod({ name: 'baton-failover', namespace: ns });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    // The kubelet reports what containerd pulled: the registry's copy, by the pushed digest.
    const imageID = ready.status?.containerStatuses?.[0]?.imageID ?? '';
    assert.ok(imageID.startsWith(`${REGISTRY_HOST}/`) && imageID.endsWith(`@${digest}`), `the pod runs ${imageID}, not ${image}`);
    const fromHost = await waitFor('the function ClusterIP to answer', async () => {
      const r = await httpGet(svc.spec!.clusterIP!, 80, '/healthz').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.deepEqual(JSON.parse(fromHost.body), { status: 'ok' });
    const fromPod = await fetchFromPod(core, ns, 'client-fn', `http://baton-failover.${ns}.svc.cluster.local/healthz`);
    assert.equal(fromPod.phase, 'Succeeded');
    assert.deepEqual(JSON.parse(fromPod.message.replace(/^200 /, '')), { status: 'ok' });
  });

  // Without fencing (the baseline: kube-proxy steers only new connections, so open ones
  // stay on the old active), then with `baton.dev/fence: evict`.
  for (const fenced of [false, true]) {
  it(`fails over under traffic${fenced ? ', fenced' : ''}: what clients of the ClusterIP see, on new and on already open connections`, async (t) => {
    assert.ok(plane);
    // The e2e helpers find the plane through this variable; this file runs in its own process.
    process.env.BATON_TEST_PLANE = dir;
    const ns = await testNamespace(t, fenced ? 'rn-fence' : 'rn-fo');
    const baton = await startBaton(t, ns);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const template = echoPod('web', true);
    template.metadata = { labels: { app: 'web' } };
    template.spec!.containers[0]!.readinessProbe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 1 };
    await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template } },
    });
    const svc = await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'web', labels: { 'baton.dev/mode': 'active-standby' }, annotations: fenced ? { 'baton.dev/fence': 'evict' } : {} }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    const ip = svc.spec!.clusterIP!;
    const old = await waitFor('baton to adopt web and the ClusterIP to reach only the active', async () => {
      const s = await core.readNamespacedService({ name: 'web', namespace: ns });
      const active = s.metadata?.annotations?.['baton.dev/active'];
      if (!active || !s.spec?.selector?.['baton.dev/pod-id']) return undefined;
      for (let i = 0; i < 5; i++) {
        const r = await httpGet(ip, 80, '/', false).catch(() => undefined);
        if (r?.body.trim() !== active) return undefined;
      }
      return active;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    const oldPod = await core.readNamespacedPod({ name: old, namespace: ns });

    interface Reply { readonly at: number; readonly pod: string | undefined; readonly port: number }
    const fresh: Reply[] = [];
    const reused: Reply[] = [];
    let running = true;
    const newConnections = (async () => {
      while (running) {
        const at = Date.now();
        const r = await httpGet(ip, 80, '/', false).catch(() => undefined);
        fresh.push({ at, pod: r?.status === 200 ? r.body.trim() : undefined, port: r?.localPort ?? 0 });
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const openConnections = [0, 1, 2, 3].map(async () => {
      while (running) {
        const at = Date.now();
        const r = await httpGet(ip, 80, '/', agent).catch(() => undefined);
        reused.push({ at, pod: r?.status === 200 ? r.body.trim() : undefined, port: r?.localPort ?? 0 });
        await new Promise((res) => setTimeout(res, 10));
      }
    });
    await new Promise((res) => setTimeout(res, 1_000));
    // The active's readiness probe starts failing; the process keeps serving.
    const trigger = await httpGet(oldPod.status!.podIP!, 8080, '/unready', false, 'POST');
    assert.equal(trigger.status, 200);
    const t0 = Date.now();
    const next = await waitFor('new connections to reach another pod', () => fresh.find((r) => r.at >= t0 && r.pod !== undefined && r.pod !== old)?.pod, { timeoutMs: 60_000, intervalMs: 50 });
    await new Promise((res) => setTimeout(res, 5_000));
    running = false;
    await Promise.all([newConnections, ...openConnections]);
    agent.destroy();

    const after = fresh.filter((r) => r.at >= t0);
    // From this request on, every new connection reached the new active.
    let stableFrom = after.length;
    while (stableFrom > 0 && after[stableFrom - 1]!.pod === next) stableFrom--;
    const switchedAt = after[stableFrom]?.at ?? Number.NaN;
    const failed = [...fresh, ...reused].filter((r) => r.at >= t0 && r.pod === undefined).length;
    const oldOverOpen = reused.filter((r) => r.at >= switchedAt && r.pod === old).length;
    const openAfter = reused.filter((r) => r.at >= switchedAt).length;
    t.diagnostic(`failover ${old} -> ${next}: new connections reach the new active ${switchedAt - t0} ms after the probe started failing`);
    t.diagnostic(`requests failed after the trigger: ${failed} of ${[...fresh, ...reused].filter((r) => r.at >= t0).length}`);
    t.diagnostic(`requests served by the old active over connections opened before the switch, after it: ${oldOverOpen} of ${openAfter} (${fenced ? 'fencing on' : 'fencing baseline'})`);
    assert.notEqual(next, old);
    assert.ok(stableFrom < after.length, 'new connections never settled on the new active');
    assert.ok(after.slice(stableFrom).length >= 10, 'too few requests after the switch to tell');
    // The open-connection figure means something only if connections were in fact reused:
    // before the trigger, four sockets at most, each carrying many requests. (After it,
    // fencing closes them and the clients open new ones.)
    const early = reused.filter((r) => r.at < t0 && r.pod !== undefined);
    const earlyPorts = new Set(early.map((r) => r.port));
    assert.ok(earlyPorts.size <= 4 && early.length >= 5 * earlyPorts.size, `keep-alive connections were not reused (${early.length} requests over ${earlyPorts.size} ports before the trigger)`);
    if (fenced) {
      const event = baton.sink.events.find((e) => e.type === 'dev.baton.failover.fenced');
      assert.ok(event, 'no fenced event');
      assert.deepEqual([(event.data as { outcome: string }).outcome, (event.data as { pod: { name: string } }).pod.name], ['evicted', old]);
      t.diagnostic(`fenced event received ${Date.parse(event.time ?? '') - t0} ms after the probe started failing`);
      // Once evicted and shut down, the old active serves nobody: the last requests of the
      // window, on the connections opened before the switch too, all reached the new one.
      const tail = reused.filter((r) => r.at >= Date.now() - 2_500 && r.pod !== undefined);
      assert.ok(tail.length >= 10, 'too few requests at the end of the window to tell');
      assert.deepEqual(tail.filter((r) => r.pod === old).length, 0, 'the old active still served open connections after it was fenced');
    }
  });
  }

  it('direct mode: traffic through kube-proxy and cluster DNS reaches the one pod in baton\'s own EndpointSlice, and moves on failover', async (t) => {
    assert.ok(plane);
    process.env.BATON_TEST_PLANE = dir;
    const ns = await testNamespace(t, 'rn-direct');
    await startBaton(t, ns);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const template = echoPod('direct', true);
    template.metadata = { labels: { app: 'direct' } };
    template.spec!.containers[0]!.ports = [{ name: 'http', containerPort: 8080 }];
    template.spec!.containers[0]!.readinessProbe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 1 };
    await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'direct' }, spec: { replicas: 3, selector: { matchLabels: { app: 'direct' } }, template } } });
    // No selector: baton.dev/pods names the candidates, and baton writes the slice. The
    // named targetPort is resolved from the pod's container, as the controller would.
    const direct = { 'baton.dev/mode': 'active-standby' };
    const svc = await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db', labels: direct, annotations: { 'baton.dev/pods': 'app=direct' } }, spec: { ports: [{ port: 80, targetPort: 'http' }] } } });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'db-headless', labels: direct, annotations: { 'baton.dev/pods': 'app=direct', 'baton.dev/follow': 'db' } }, spec: { clusterIP: 'None', ports: [{ port: 8080, targetPort: 'http' }] } } });
    const ip = svc.spec!.clusterIP!;
    const active = await waitFor('baton to elect and the ClusterIP to reach only the active', async () => {
      const s = await core.readNamespacedService({ name: 'db', namespace: ns });
      const a = s.metadata?.annotations?.['baton.dev/active'];
      if (!a) return undefined;
      for (let i = 0; i < 5; i++) if ((await httpGet(ip, 80, '/', false).catch(() => undefined))?.body.trim() !== a) return undefined;
      return a;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    const slices = await kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=db' });
    assert.deepEqual(slices.items.map((x) => [x.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'], x.endpoints.map((e) => e.targetRef?.name), x.ports?.map((p) => p.port)]), [['baton.dev', [active], [8080]]]);
    // Cluster DNS: the ClusterIP by name, and the headless twin's one address (the active).
    const byName = await fetchFromPod(core, ns, 'client-direct', `http://db.${ns}.svc.cluster.local/`);
    assert.deepEqual(byName, { phase: 'Succeeded', message: `200 ${active}\n` });
    const headless = await fetchFromPod(core, ns, 'client-headless', `http://db-headless.${ns}.svc.cluster.local:8080/`);
    assert.deepEqual(headless, { phase: 'Succeeded', message: `200 ${active}\n` });

    const pod = await core.readNamespacedPod({ name: active, namespace: ns });
    assert.equal((await httpGet(pod.status!.podIP!, 8080, '/unready', false, 'POST')).status, 200);
    const next = await waitFor('new connections to reach another pod', async () => {
      const r = await httpGet(ip, 80, '/', false).catch(() => undefined);
      return r?.status === 200 && r.body.trim() !== active ? r.body.trim() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50 });
    // A headless name is only as fresh as DNS caching lets it be (CoreDNS here caches for
    // 5 s): ask with new client pods until the answer names the new active, and say when.
    const switched = Date.now();
    let asked = 0;
    await waitFor('the headless name to resolve to the new active', async () => {
      const r = await fetchFromPod(core, ns, `client-headless-${++asked}`, `http://db-headless.${ns}.svc.cluster.local:8080/`);
      assert.equal(r.phase, 'Succeeded', r.message);
      assert.ok([`200 ${next}\n`, `200 ${active}\n`].includes(r.message), `the headless name reached ${r.message}`);
      return r.message === `200 ${next}\n` ? true : undefined;
    }, { timeoutMs: 90_000, intervalMs: 200 });
    t.diagnostic(`direct mode on the real node: ${active} -> ${next} through kube-proxy; the headless twin's DNS name answered with the new active ${Date.now() - switched} ms later (${asked} client pods)`);
  });

  it("the pod reads its role from a downward-API volume: how long after baton's label write", async (t) => {
    assert.ok(plane);
    process.env.BATON_TEST_PLANE = dir;
    const ns = await testNamespace(t, 'rn-role');
    await startBaton(t, ns, { BATON_ROLE_LABELS: 'true' });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const template = echoPod('role', true);
    template.metadata = { labels: { app: 'role' } };
    const container = template.spec!.containers[0]!;
    container.env = [...(container.env ?? []), { name: 'SERVE_FILE', value: '/etc/podinfo/labels' }];
    container.volumeMounts = [{ name: 'podinfo', mountPath: '/etc/podinfo', readOnly: true }];
    container.readinessProbe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1, failureThreshold: 1 };
    template.spec!.volumes = [{ name: 'podinfo', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }];
    await kc.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'role' }, spec: { replicas: 2, selector: { matchLabels: { app: 'role' } }, template } } });
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'role', labels: { 'baton.dev/mode': 'active-standby' } }, spec: { selector: { app: 'role' }, ports: [{ port: 80, targetPort: 8080 }] } } });

    const roleOf = async (pod: string): Promise<{ api: string | undefined; file: string | undefined; ip: string }> => {
      const p = await core.readNamespacedPod({ name: pod, namespace: ns });
      const ip = p.status?.podIP ?? '';
      const r = ip ? await httpGet(ip, 8080, '/file', false).catch(() => undefined) : undefined;
      const file = r?.status === 200 ? /^baton\.dev\/role="([a-z]+)"$/m.exec(r.body)?.[1] : undefined;
      return { api: p.metadata?.labels?.['baton.dev/role'], file, ip };
    };
    /** When the API showed `role` on the pod, and when the pod's own file did. */
    const timeRole = async (pod: string, role: string): Promise<{ api: number; file: number }> => {
      let api = 0;
      return waitFor(`${pod} to read role ${role} from its file`, async () => {
        const seen = await roleOf(pod);
        if (api === 0 && seen.api === role) api = Date.now();
        return api !== 0 && seen.file === role ? { api, file: Date.now() } : undefined;
      }, { timeoutMs: 180_000, intervalMs: 100 });
    };

    const first = await waitFor('adoption', async () => (await core.readNamespacedService({ name: 'role', namespace: ns })).metadata?.annotations?.['baton.dev/active'], { timeoutMs: 90_000, intervalMs: 200 });
    const adopted = await timeRole(first, 'active');
    t.diagnostic(`adoption: ${first} read role=active from its downward-API file ${adopted.file - adopted.api} ms after the API showed the label (polled every 100 ms)`);

    const before = await roleOf(first);
    assert.equal((await httpGet(before.ip, 8080, '/unready', false, 'POST')).status, 200);
    const next = await waitFor('failover', async () => {
      const a = (await core.readNamespacedService({ name: 'role', namespace: ns })).metadata?.annotations?.['baton.dev/active'];
      return a && a !== first ? a : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    const [promoted, demoted] = await Promise.all([timeRole(next, 'active'), timeRole(first, 'standby')]);
    t.diagnostic(`failover: ${next} read role=active ${promoted.file - promoted.api} ms after the API showed it; ${first} read role=standby ${demoted.file - demoted.api} ms after`);
    assert.deepEqual([(await roleOf(next)).file, (await roleOf(first)).file], ['active', 'standby']);
  });

  /** Waits until baton saw term `term` of the Service completed, so that no write of its own races the next request. */
  const completed = (ns: string, name: string, term: number): Promise<true> =>
    waitFor(`term ${term} of ${name} to complete`, async () => ((await core.readNamespacedService({ name, namespace: ns })).metadata?.annotations?.['baton.dev/completed-term'] === String(term) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const annotate = (ns: string, name: string, annotations: Record<string, string | null>): Promise<unknown> => core.patchNamespacedService({ name, namespace: ns, body: { metadata: { annotations } } }, merge);
  interface HookEventData { hook: string; pod: { name: string }; outcome: string; status: number | null; attempts: number; aborted: boolean; term: number }

  it('hooks: a switchover calls demote on the old active, then switches, then calls promote on the new one', async (t) => {
    assert.ok(plane);
    process.env.BATON_TEST_PLANE = dir;
    const ns = await testNamespace(t, 'rn-hooks');
    const baton = await startBaton(t, ns);
    const { active, other } = await hookedPair(core, ns, 'hooks', [], { 'baton.dev/promote-hook': '8080/promote', 'baton.dev/demote-hook': '8080/demote' });
    // The adoption promotes its active (term 1) and demotes nobody.
    const adopted = await waitFor('the adoption\'s promote call', async () => {
      const calls = await hookCallsOf(core, ns, active);
      return calls.length > 0 ? calls : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual(adopted.map((c) => [c.path, c.body, c.status]), [['/promote', { service: `${ns}/hooks`, term: 1, role: 'active' }, 200]]);
    assert.deepEqual(await hookCallsOf(core, ns, other), []);
    await completed(ns, 'hooks', 1);

    await annotate(ns, 'hooks', { 'baton.dev/switchover-to': other });
    const promoted = await waitFor(`the promote call on ${other}`, async () => (await hookCallsOf(core, ns, other)).find((c) => c.path === '/promote'), { timeoutMs: 60_000, intervalMs: 100 });
    const demoted = (await hookCallsOf(core, ns, active)).filter((c) => c.path === '/demote');
    assert.deepEqual(demoted.map((c) => [c.body, c.status]), [[{ service: `${ns}/hooks`, term: 2, role: 'standby' }, 200]]);
    assert.deepEqual(promoted.body, { service: `${ns}/hooks`, term: 2, role: 'active' });
    const svc = await core.readNamespacedService({ name: 'hooks', namespace: ns });
    assert.equal(svc.metadata?.annotations?.['baton.dev/active'], other);
    // The switch's moment: the function's log line for it, written once the Service write
    // returned and before the promote call went out. The pods run on this machine: one clock.
    const line = baton.failover.logs.find((l) => l.includes(`${other} is now the active pod`) && l.includes('term 2'));
    assert.ok(line, 'no log line for the switch');
    const switchedAt = Date.parse((JSON.parse(line) as { time: string }).time);
    const demoteAnswered = demoted[0]!.answeredAt;
    assert.ok(demoteAnswered <= switchedAt && switchedAt <= promoted.at, `out of order: demote answered ${demoteAnswered}, switch logged ${switchedAt}, promote arrived ${promoted.at}`);
    t.diagnostic(`switchover ${active} -> ${other}: demote arrived ${demoted[0]!.at}, answered ${demoteAnswered}; Service written and logged ${switchedAt} (+${switchedAt - demoteAnswered} ms); promote arrived ${promoted.at} (+${promoted.at - switchedAt} ms)`);
    const events = await waitFor('both hook events', () => {
      const hooks = baton.sink.events.filter((e) => e.type === 'dev.baton.failover.hook' && (e.data as HookEventData).term === 2);
      return hooks.length === 2 ? hooks.map((e) => e.data as HookEventData) : undefined;
    }, { timeoutMs: 10_000 });
    assert.deepEqual(events.map((h) => [h.hook, h.pod.name, h.outcome, h.status, h.attempts, h.aborted]).sort(), [['demote', active, 'ok', 200, 1, false], ['promote', other, 'ok', 200, 1, false]]);
  });

  it('hooks: a demote hook that never answers refuses the switchover under abort, and delays it under continue', async (t) => {
    assert.ok(plane);
    process.env.BATON_TEST_PLANE = dir;
    const ns = await testNamespace(t, 'rn-hang');
    const baton = await startBaton(t, ns);
    const hooks = { 'baton.dev/promote-hook': '8080/promote', 'baton.dev/demote-hook': '8080/demote', 'baton.dev/hook-timeout': '500ms', 'baton.dev/hook-retries': '1', 'baton.dev/demote-policy': 'abort' };
    const { active, other } = await hookedPair(core, ns, 'hang', [{ name: 'DEMOTE_MODE', value: 'hang' }], hooks);
    await completed(ns, 'hang', 1);
    const activeUid = (await core.readNamespacedPod({ name: active, namespace: ns })).metadata?.uid;

    await annotate(ns, 'hang', { 'baton.dev/switchover-to': other });
    const refused = await baton.sink.waitFor('the refusal', (e) => e.type === 'dev.baton.failover.switchover.refused', 60_000);
    assert.match((refused.data as { reason: string }).reason, new RegExp(`demote hook of ${active} failed .*did not answer within 500 ms`));
    // Term 1's promote (the adoption's) aside: the calls for the switch to term 2.
    const forTerm2 = (): HookEventData[] => baton.sink.events.filter((e) => e.type === 'dev.baton.failover.hook').map((e) => e.data as HookEventData).filter((h) => h.term === 2);
    const aborted = forTerm2();
    assert.deepEqual(aborted.map((h) => [h.hook, h.pod.name, h.outcome, h.status, h.attempts, h.aborted, h.term]), [['demote', active, 'timeout', null, 2, true, 2]]);
    const kept = await core.readNamespacedService({ name: 'hang', namespace: ns });
    assert.equal(kept.spec?.selector?.['baton.dev/pod-id'], activeUid, 'the Service moved although the demote hook never answered');
    assert.equal(kept.metadata?.annotations?.['baton.dev/switchover-to'], undefined, 'the refused request was not consumed');
    assert.equal(kept.metadata?.annotations?.['baton.dev/term'], '1');
    const hung = (await hookCallsOf(core, ns, active)).filter((c) => c.path === '/demote');
    assert.deepEqual(hung.map((c) => [c.body?.term, c.answeredAt]), [[2, 0], [2, 0]]);
    assert.deepEqual(await hookCallsOf(core, ns, other), [], 'the new pod was promoted though nothing switched');

    await annotate(ns, 'hang', { 'baton.dev/demote-policy': 'continue', 'baton.dev/switchover-to': other });
    await baton.sink.waitFor('the switchover', (e) => e.type === 'dev.baton.failover.switchover' && (e.data as { to: { name: string } }).to.name === other, 60_000);
    const promoted = await waitFor(`the promote call on ${other}`, async () => (await hookCallsOf(core, ns, other)).find((c) => c.path === '/promote'), { timeoutMs: 30_000, intervalMs: 100 });
    assert.deepEqual(promoted.body, { service: `${ns}/hang`, term: 2, role: 'active' });
    const demotes = (await hookCallsOf(core, ns, active)).filter((c) => c.path === '/demote');
    assert.equal(demotes.length, 4, 'two calls per look, two looks');
    const continued = await waitFor('the promote call\'s event', () => {
      const events = forTerm2().filter((h) => !h.aborted);
      return events.some((h) => h.hook === 'promote') ? events : undefined;
    }, { timeoutMs: 10_000 });
    assert.deepEqual(continued.map((h) => [h.hook, h.outcome, h.attempts]).sort(), [['demote', 'timeout', 2], ['promote', 'ok', 1]]);
    t.diagnostic(`a hanging demote hook (500 ms timeout, 1 retry): abort refused the switchover, continue switched ${active} -> ${other} after the second timeout; the promote call arrived ${promoted.at - demotes[3]!.at} ms after the last demote attempt`);
  });

  it('hooks: a failback whose demote hook answers 500 is held under abort, and happens under continue', async (t) => {
    assert.ok(plane);
    process.env.BATON_TEST_PLANE = dir;
    const ns = await testNamespace(t, 'rn-fail');
    const baton = await startBaton(t, ns);
    const hooks = { 'baton.dev/promote-hook': '8080/promote', 'baton.dev/demote-hook': '8080/demote', 'baton.dev/hook-retries': '0', 'baton.dev/demote-policy': 'abort', 'baton.dev/failback': 'true' };
    const { active, other } = await hookedPair(core, ns, 'fail', [{ name: 'DEMOTE_MODE', value: 'fail' }], hooks);
    await completed(ns, 'fail', 1);
    const activeUid = (await core.readNamespacedPod({ name: active, namespace: ns })).metadata?.uid;
    // The standby now outranks the active: failback wants to move to it.
    await core.patchNamespacedPod({ name: other, namespace: ns, body: { metadata: { annotations: { 'baton.dev/priority': '10' } } } }, merge);
    const held = await baton.sink.waitFor('the aborted demote', (e) => e.type === 'dev.baton.failover.hook' && (e.data as HookEventData).aborted, 60_000);
    assert.deepEqual(((d: HookEventData) => [d.hook, d.pod.name, d.outcome, d.status, d.attempts, d.term])(held.data as HookEventData), ['demote', active, 'failed', 500, 1, 2]);
    const kept = await core.readNamespacedService({ name: 'fail', namespace: ns });
    assert.equal(kept.spec?.selector?.['baton.dev/pod-id'], activeUid, 'the failback happened although the demote hook failed under abort');
    assert.equal(kept.metadata?.annotations?.['baton.dev/term'], '1');
    assert.ok((await hookCallsOf(core, ns, active)).some((c) => c.path === '/demote' && c.status === 500));
    assert.deepEqual(await hookCallsOf(core, ns, other), [], 'the new pod was promoted though nothing switched');

    await annotate(ns, 'fail', { 'baton.dev/demote-policy': 'continue' });
    const promoted = await waitFor(`the failback's promote call on ${other}`, async () => (await hookCallsOf(core, ns, other)).find((c) => c.path === '/promote'), { timeoutMs: 60_000, intervalMs: 100 });
    assert.deepEqual(promoted.body, { service: `${ns}/fail`, term: 2, role: 'active' });
    const moved = await core.readNamespacedService({ name: 'fail', namespace: ns });
    assert.deepEqual([moved.metadata?.annotations?.['baton.dev/active'], moved.metadata?.annotations?.['baton.dev/reason']], [other, 'failback']);
    const demotes = (await hookCallsOf(core, ns, active)).filter((c) => c.path === '/demote');
    t.diagnostic(`failback with a demote hook answering 500: held under abort (${demotes.length - 1} call(s) before the policy changed), done under continue; ${active} -> ${other}`);
  });

  it("every process of the node is alive, and what each holds in memory (RSS)", (t) => {
    const state = readState(dir);
    assert.ok(state);
    const node = state.processes.filter((p) => ['containerd', 'kubelet', 'kube-proxy', 'coredns', 'api-relay', 'registry', 'registry-relay'].includes(p.name));
    assert.equal(node.length, 7, node.map((p) => p.name).join(', '));
    const rss = node.map((p) => {
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1];
      assert.ok(kb, `${p.name} (pid ${p.pid}) is not running`);
      return { name: p.name, mib: Number(kb) / 1024 };
    });
    t.diagnostic(`RSS of the node's processes (MiB): ${rss.map((r) => `${r.name} ${r.mib.toFixed(1)}`).join(', ')}; total ${rss.reduce((n, r) => n + r.mib, 0).toFixed(1)} (containers and their shims not counted)`);
  });

  it('`cluster down` removes every process, veth, bridge, rule, mount and cgroup it made', async () => {
    assert.ok(plane && before0);
    const names = nodeNames(dir);
    const during = snapshotHost();
    // The snapshot sees the node's objects, so an unchanged snapshot after down means something.
    assert.ok(during.links.includes(names.bridge), 'bridge missing while running');
    assert.ok(during.links.some((l) => l.startsWith('veth')), 'no veth while running');
    assert.ok(during.rules.some((l) => l.includes(':KUBE-SERVICES')), 'no kube-proxy chain while running');
    assert.ok(during.mounts.some((m) => m.startsWith(`${dir}/`)), 'no mount under the plane folder while running');
    assert.ok(during.cgroups.some((c) => c.endsWith(`/${names.cgroupRoot}`)), 'no node cgroup while running');
    assert.ok(processesMentioning(dir).length >= 3, 'node processes not found while running');

    await stopPlane(dir);
    const after = snapshotHost();
    assert.deepEqual(after, before0);
    assert.deepEqual(processesMentioning(dir), []);
    assert.equal(existsSync(dir), false);
  });
});
