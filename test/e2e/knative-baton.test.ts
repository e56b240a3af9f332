// baton deployed the way its README tells a user, on real Knative: `skaffold run -p plane`
// builds the image, pushes it to the plane's registry and applies knative/overlays/plane
// (the local overlay plus the plane's registry and real node). Then every path runs through
// Knative's own components: ApiServerSource → Broker → Trigger → baton-failover, the
// SinkBinding's K_SINK back to the Broker, a subscriber Trigger, the dead-letter sink, the
// PingSource's sweep, and a tuning change rolled out as a new revision. `skaffold delete`
// takes it away. Needs the real node: see `skip` (alone:
// `node scripts/test.mjs e2e --only=e2e/knative-baton`). It starts and stops a plane of its
// own because one machine holds one real node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startPlane, stopPlane } from '../../plane/plane.js';
import { readState, type PlaneState } from '../../plane/state.js';
import { repoRoot } from '../../plane/paths.js';
import { REAL_NODE_NAME, REGISTRY_HOST } from '../../plane/node/network.js';
import { waitFor } from '../../plane/wait.js';
import { runSkaffold, skip } from './support/real-node.js';
import { watchSlices } from './support/slices.js';
import { createDeployment, setPodReady } from './support/workloads.js';
import { post, ready, type KnativeObject } from './support/knative.js';
import { batonCli } from './support/cli.js';
import { BATON_OBJECTS, readyKnative, skaffoldEnv as planeSkaffoldEnv } from '../../plane/knative/baton.js';

const NS = 'baton-system';
// The namespace knative/overlays/local scopes baton to (scope.yaml, BATON_NAMESPACES).
const APP_NS = 'default';

describe('baton on real Knative, deployed by skaffold run', { skip }, () => {
  let dir = '';
  let plane: PlaneState | undefined;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let net: k8s.NetworkingV1Api;
  let work = '';
  const progress = (m: string): void => console.error(`[knative-baton] ${m}`);
  // skaffold deploys with kubectl: the plane's own, first on PATH.
  const skaffoldEnv = (): NodeJS.ProcessEnv => planeSkaffoldEnv(plane!);

  const get = async (group: string, plural: string, name: string, ns = NS, version = 'v1'): Promise<KnativeObject> =>
    (await custom.getNamespacedCustomObject({ group, version, namespace: ns, plural, name })) as KnativeObject;
  const readyObject = (group: string, plural: string, name: string, ns = NS): Promise<KnativeObject> => readyKnative(plane!, group, plural, name, ns);
  /** The container log lines (CRI format) of the pods of a Knative Service, read from the node's log folder. */
  const logsOf = (service: string): string => {
    const root = plane!.realNode!.podLogsDir;
    let text = '';
    for (const pod of readdirSync(root).filter((d) => d.startsWith(`${NS}_${service}-`))) {
      for (const container of readdirSync(join(root, pod)).filter((c) => c !== 'queue-proxy')) {
        for (const f of readdirSync(join(root, pod, container))) text += readFileSync(join(root, pod, container, f), 'utf8');
      }
    }
    return text;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-knative-baton-'));
    work = mkdtempSync(join(tmpdir(), 'baton-knative-work-'));
    const started = Date.now();
    plane = await startPlane({ dir, nodes: 1, realNode: true, knative: true, progress });
    progress(`plane, real node and Knative ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    net = kc.makeApiClient(k8s.NetworkingV1Api);
    const t0 = Date.now();
    // What the README tells a user of the plane to type (the test checks readiness itself).
    await runSkaffold(['run', '-p', 'plane', `--default-repo=${REGISTRY_HOST}`, '--status-check=false'], progress, skaffoldEnv());
    progress(`skaffold run returned after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    if (readState(dir)) await stopPlane(dir);
    rmSync(work, { recursive: true, force: true });
  });

  it('makes the functions, the source, the Broker, the Triggers and the SinkBinding Ready, on the real node, with K_SINK injected', async () => {
    const t0 = Date.now();
    for (const [group, plural, name] of BATON_OBJECTS) await readyObject(group, plural, name);
    const broker = await get('eventing.knative.dev', 'brokers', 'baton');
    progress(`everything Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after skaffold returned`);
    // The functions' pods run the image skaffold pushed, on the real node, with K_SINK
    // pointing at the Broker (the SinkBinding's doing: knative/ never sets it).
    let image: string | undefined;
    for (const fn of ['failover', 'resync', 'routes']) {
      // The first revision, made before the SinkBinding bound the Service, may still run
      // and may even be the ready one for a moment: wait for the bound one to serve.
      const pod = await waitFor(`a running ${fn} pod with K_SINK`, async () => {
        const revision = (await get('serving.knative.dev', 'services', `baton-${fn}`)).status?.latestReadyRevisionName ?? '';
        const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `serving.knative.dev/revision=${revision}` });
        return pods.items.find((p) => p.status?.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready) && p.spec?.containers.some((c) => c.env?.some((e) => e.name === 'K_SINK')));
      }, { timeoutMs: 120_000, intervalMs: 500 });
      assert.equal(pod.spec?.nodeName, REAL_NODE_NAME, `${fn} runs on the real node`);
      const container = pod.spec.containers.find((c) => c.name === fn)!;
      // skaffold pushed the image and pinned it by digest; every function runs the same one.
      assert.match(container.image ?? '', new RegExp(`^${REGISTRY_HOST.replace(/\./g, '\\.')}/dev_local_baton:.+@sha256:[0-9a-f]{64}$`), `${fn} runs the image skaffold pushed`);
      image ??= container.image;
      assert.equal(container.image, image, `${fn} runs the same image as the others`);
      assert.equal(container.env?.find((e) => e.name === 'K_SINK')?.value, broker.status?.address?.url, `${fn} has K_SINK from the SinkBinding`);
    }
    const adapter = await core.listNamespacedPod({ namespace: NS, labelSelector: 'eventing.knative.dev/source=apiserver-source-controller' });
    assert.ok(adapter.items.some((p) => p.spec?.nodeName === REAL_NODE_NAME && p.status?.phase === 'Running'), 'the ApiServerSource adapter runs on the real node');
  });

  it('deploys again with nothing changed without rolling a new revision', async () => {
    const revisions = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const fn of ['failover', 'resync', 'routes']) out.push((await get('serving.knative.dev', 'services', `baton-${fn}`)).status?.latestCreatedRevisionName ?? '');
      return out;
    };
    const before = await revisions();
    const running = await core.listNamespacedPod({ namespace: NS, labelSelector: 'serving.knative.dev/service=baton-failover' });
    const image = running.items[0]?.spec?.containers.find((c) => c.name === 'failover')?.image;
    assert.ok(image, 'a running failover pod');
    // skaffold stamps a new run id on what it deploys; on a revision template that would be a new revision.
    await runSkaffold(['deploy', '-p', 'plane', `--images=dev.local/baton=${image}`, '--status-check=false'], progress, skaffoldEnv());
    await new Promise((r) => setTimeout(r, 5_000));
    assert.deepEqual(await revisions(), before);
    const failover = await get('serving.knative.dev', 'services', 'baton-failover');
    assert.equal(failover.spec?.template?.metadata?.labels?.['skaffold.dev/run-id'], undefined, 'no run id on the template');
  });

  it('fails an opted-in Service over through ApiServerSource → Broker → Trigger → baton-failover, and a subscriber Trigger gets promoted and completed', async (t) => {
    // The subscriber of knative/examples, as a user applies it, with the plane's copy of event_display.
    await deployOverlay('examples', 'knative/examples', [
      'images:',
      '  - name: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display',
      `    newName: ${REGISTRY_HOST}/knative/eventing-event-display`,
      '    newTag: knative',
    ]);
    await readyObject('serving.knative.dev', 'services', 'failover-audit');
    await readyObject('eventing.knative.dev', 'triggers', 'failover-audit');

    const slices = await watchSlices(t, APP_NS, kc);
    await createDeployment(kc, APP_NS, 'db', 3, { serviceLabels: { 'baton.dev/mode': 'active-standby' } });
    const svc = (): Promise<k8s.V1Service> => core.readNamespacedService({ name: 'db', namespace: APP_NS });
    const first = await waitFor('baton to adopt db through the Broker', async () => {
      const s = await svc();
      const current = slices.current('db');
      return s.metadata?.annotations?.['baton.dev/term'] && current.length === 1 ? current[0] : undefined;
    }, { timeoutMs: 120_000, intervalMs: 250 });
    const since = Date.now();
    const term = Number((await svc()).metadata?.annotations?.['baton.dev/term']);
    const t0 = Date.now();
    await setPodReady(kc, APP_NS, first, false);
    const second = await waitFor('the failover through the Broker', async () => {
      const current = slices.current('db');
      return current.length === 1 && current[0] !== first ? current[0] : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50 });
    progress(`failover through the Broker: the slice named the new active ${Date.now() - t0} ms after the old one was marked not ready (polled every 50 ms)`);
    assert.deepEqual(slices.violations('db', since), [], `db had more than one ready endpoint: ${JSON.stringify(slices.history('db'))}`);
    assert.ok(Number((await svc()).metadata?.annotations?.['baton.dev/term']) > term, 'a new term');
    // The audit events went from the function to the Broker (K_SINK) and on to the subscriber.
    const logs = await waitFor('the subscriber to log promoted and completed', async () => {
      const text = logsOf('failover-audit');
      return text.includes('type: dev.baton.failover.promoted') && text.includes('type: dev.baton.failover.completed') && text.includes(second) ? text : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.match(logs, /source: baton\.dev\/failover/);
  });

  it('sends an event the function rejects to the dead-letter sink', async () => {
    const broker = await get('eventing.knative.dev', 'brokers', 'baton');
    const url = new URL(broker.status!.address!.url!);
    const ingress = await core.readNamespacedService({ name: 'broker-ingress', namespace: 'knative-eventing' });
    const id = `malformed-${Date.now()}`;
    // Matches the failover Trigger (an ApiServerSource type, kind Pod), but its data is no Pod.
    const status = await post(ingress.spec!.clusterIP!, 80, url.pathname, {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': 'https://198.19.0.1:443',
      'ce-type': 'dev.knative.apiserver.resource.update',
      'ce-kind': 'Pod',
      'content-type': 'application/json',
    }, JSON.stringify({ kind: 'Pod', metadata: 'not an object' }));
    assert.equal(status, 202, 'the Broker took the event');
    await waitFor('the dead-letter sink to log the rejected event', async () => (logsOf('baton-dead-letter').includes(`id: ${id}`) ? true : undefined), { timeoutMs: 90_000, intervalMs: 500 });
  });

  it('makes an Ingress for a Service that claims a host its namespace may claim', async () => {
    await core.createNamespacedService({ namespace: APP_NS, body: { metadata: { name: 'web', annotations: { 'baton.dev/host': `web.${APP_NS}.localhost` } }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    const ingress = await waitFor('baton-routes to make the Ingress', async () => net.readNamespacedIngress({ name: 'baton-web', namespace: APP_NS }).catch(() => undefined), { timeoutMs: 60_000, intervalMs: 250 });
    assert.equal(ingress.spec?.rules?.[0]?.host, `web.${APP_NS}.localhost`);
  });

  it('rolls a changed tuning value out as a new revision, which acts on it', async () => {
    // A claim outside the local overlay's policy is refused...
    await core.createNamespacedService({ namespace: APP_NS, body: { metadata: { name: 'shop', annotations: { 'baton.dev/host': 'shop.example.test' } }, spec: { selector: { app: 'shop' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    await waitFor('the refusal of shop.example.test', async () => {
      const events = await core.listNamespacedEvent({ namespace: APP_NS, fieldSelector: 'involvedObject.name=shop' });
      return events.items.some((e) => e.reason === 'InvalidRoute') ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const before = await get('serving.knative.dev', 'services', 'baton-routes');
    // ...until the user widens the policy in an overlay of their own and deploys again,
    // with the image already deployed: a tuning change needs no build.
    const running = await core.listNamespacedPod({ namespace: NS, labelSelector: 'serving.knative.dev/service=baton-routes' });
    const image = running.items[0]?.spec?.containers.find((c) => c.name === 'routes')?.image;
    assert.ok(image, 'a running routes pod');
    await deployOverlay('mine', 'knative/overlays/plane', [
      'configMapGenerator:',
      '  - name: baton-config',
      '    namespace: baton-system',
      '    behavior: merge',
      '    literals:',
      '      - BATON_ROUTE_HOSTS=*=*.{namespace}.localhost;default=shop.example.test,*.default.localhost',
    ], [`--images=dev.local/baton=${image}`]);
    const after = await waitFor('a new ready revision of baton-routes', async () => {
      const o = await get('serving.knative.dev', 'services', 'baton-routes');
      return ready(o) && o.status?.latestReadyRevisionName !== before.status?.latestReadyRevisionName ? o : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    progress(`baton-routes: ${before.status?.latestReadyRevisionName} → ${after.status?.latestReadyRevisionName}`);
    const ingress = await waitFor('baton-routes to route shop.example.test', async () => net.readNamespacedIngress({ name: 'baton-shop', namespace: APP_NS }).catch(() => undefined), { timeoutMs: 90_000, intervalMs: 500 });
    assert.equal(ingress.spec?.rules?.[0]?.host, 'shop.example.test');
  });

  it('mends a Service whose event was dropped, through the PingSource sweep', async (t) => {
    // Events about db stop reaching baton-failover: its Trigger now asks for a kind no event has.
    const trigger = await get('eventing.knative.dev', 'triggers', 'baton-failover');
    const saved = JSON.stringify(trigger.spec);
    await custom.patchNamespacedCustomObject({ group: 'eventing.knative.dev', version: 'v1', namespace: NS, plural: 'triggers', name: 'baton-failover', body: [{ op: 'replace', path: '/spec/filters', value: [{ exact: { kind: 'NoSuchKind' } }] }] }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch));
    await readyObject('eventing.knative.dev', 'triggers', 'baton-failover');
    // Give the dispatcher time to take the new filter before the change it must not see.
    await new Promise((r) => setTimeout(r, 5_000));
    const slices = await watchSlices(t, APP_NS, kc);
    const active = await waitFor('db to have one active', async () => (slices.current('db').length === 1 ? slices.current('db')[0] : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    const since = Date.now();
    await setPodReady(kc, APP_NS, active, false);
    const t0 = Date.now();
    const next = await waitFor('the sweep to fail db over', async () => {
      const current = slices.current('db');
      return current.length === 1 && current[0] !== active ? current[0] : undefined;
    }, { timeoutMs: 120_000, intervalMs: 250 });
    progress(`with its events dropped, db moved to ${next} ${((Date.now() - t0) / 1000).toFixed(1)} s after its active went not ready (sweep every 30 s)`);
    assert.deepEqual(slices.violations('db', since), [], JSON.stringify(slices.history('db')));
    await custom.patchNamespacedCustomObject({ group: 'eventing.knative.dev', version: 'v1', namespace: NS, plural: 'triggers', name: 'baton-failover', body: [{ op: 'replace', path: '/spec', value: JSON.parse(saved) as unknown }] }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch));
  });

  it('runs `baton demo --knative` on this plane: the same timeline, through the Broker, to a Trigger of its own', async (t) => {
    // The demo reuses the plane of BATON_STATE_DIR, as it does a user's running plane.
    const demo = await batonCli(['demo', '--knative', '--no-wait'], { BATON_STATE_DIR: dir });
    for (const line of demo.out.split('\n').filter((l) => /^ +\+ +\d+ ms|^failover took/.test(l))) t.diagnostic(line);
    assert.equal(demo.code, 0, demo.out);
    assert.match(demo.out, /reusing the local plane that is already running/);
    assert.match(demo.out, /events reach baton: ApiServerSource → Broker → Trigger → baton-failover, on Knative/);
    assert.match(demo.out, /active: \S+ {3}standbys: \S+, \S+/);
    assert.match(demo.out, /\+ +\d+ ms {2}baton-failover decided: failover \S+ → \S+ \(term 2\)/);
    assert.match(demo.out, /audit event dev\.baton\.failover\.completed received/);
    assert.match(demo.out, /failover took \d+ ms \(Ready=False written → EndpointSlice shows only the new active\)/);
    // The demo's Trigger is gone; baton stays deployed, and the demo's app stays in default to play with.
    assert.equal(await get('eventing.knative.dev', 'triggers', 'baton-demo').then(() => 'present', () => 'gone'), 'gone');
    await readyObject('serving.knative.dev', 'services', 'baton-failover');
  });

  it('skaffold delete removes every object it made', async () => {
    // The subscriber lives in baton-system too, and skaffold did not deploy it: a user
    // removes it first, as the READMEs say.
    await runSkaffold(['delete', '-f', join(work, 'examples', 'skaffold.yaml')], progress, skaffoldEnv());
    await runSkaffold(['delete', '-p', 'plane'], progress, skaffoldEnv());
    // The namespace goes once everything in it is finalized and its pods have stopped
    // (Knative gives a revision's pods a grace period of its timeout, up to 300 s). It
    // took 161.5 s and 167.2 s in two runs on the plane, over 120 s in a third; what it
    // waits for is not known yet.
    const t0 = Date.now();
    await waitFor('baton-system to be gone', async () => core.readNamespace({ name: NS }).then(() => undefined, () => true), { timeoutMs: 330_000, intervalMs: 500 }).catch(async (e: Error) => {
      const ns = await core.readNamespace({ name: NS }).catch(() => undefined);
      const pods = await core.listNamespacedPod({ namespace: NS }).catch(() => undefined);
      const left = pods?.items.map((p) => `${p.metadata?.name} (${p.status?.phase}, grace ${p.spec?.terminationGracePeriodSeconds} s)`).join(', ');
      throw new Error(`${e.message}; the namespace says ${JSON.stringify(ns?.status?.conditions?.filter((c) => c.status === 'True').map((c) => c.message))}; pods left: ${left}`);
    });
    progress(`baton-system was gone ${((Date.now() - t0) / 1000).toFixed(1)} s after skaffold delete returned`);
    const roles = await kc.makeApiClient(k8s.RbacAuthorizationV1Api).listClusterRole();
    assert.deepEqual(roles.items.map((r) => r.metadata?.name).filter((n) => n?.startsWith('baton-')), [], 'no ClusterRole of baton is left');
  });

  /**
   * An overlay of the user's own in `work/<name>` (over `base`, a folder of the repository,
   * plus `extra` kustomization lines), deployed with `skaffold deploy` as a user would.
   */
  async function deployOverlay(name: string, base: string, extra: readonly string[], skaffoldArgs: readonly string[] = []): Promise<void> {
    const folder = join(work, name);
    mkdirSync(folder);
    writeFileSync(join(folder, 'kustomization.yaml'), ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', `  - ${relative(folder, join(repoRoot(), base))}`, ...extra, ''].join('\n'));
    const skaffoldFile = join(folder, 'skaffold.yaml');
    writeFileSync(skaffoldFile, ['apiVersion: skaffold/v4beta13', 'kind: Config', 'manifests:', '  kustomize:', `    paths: [${folder}]`, 'deploy:', '  kubectl: {}', ''].join('\n'));
    await runSkaffold(['deploy', '-f', skaffoldFile, ...skaffoldArgs, '--status-check=false'], progress, skaffoldEnv());
  }
});
