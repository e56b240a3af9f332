// The admission policies in knative/base/admission.yaml, on the real API server, with
// baton running behind the real adapter and an independent EndpointSlice watch.
//
// The shipped bindings are cluster-wide; other e2e tests in the same run remove the
// pod-id key on purpose (to test re-pinning), so each test here binds the shipped
// policy, under a name of its own, to its own namespace only.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../plane/paths.js';
import { waitFor } from '../../plane/wait.js';
import { startBaton } from './support/baton.js';
import { adminConfig, statusOf, testNamespace, testPlane } from './support/plane.js';
import { watchSlices, type SliceWatcher } from './support/slices.js';
import { createDeployment, setPodReady } from './support/workloads.js';

const OPT_IN = { 'baton.dev/mode': 'active-standby' };
const POD_ID = 'baton.dev/pod-id';
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

type PolicyName = 'baton-pod-id' | 'baton-pinned-selector';

interface Shipped {
  readonly policy: k8s.V1ValidatingAdmissionPolicy;
  readonly binding: k8s.V1ValidatingAdmissionPolicyBinding;
}

function policiesIn(yaml: string, name: PolicyName): Shipped {
  const docs = k8s.loadAllYaml(yaml) as k8s.KubernetesObject[];
  const policy = docs.find((d): d is k8s.V1ValidatingAdmissionPolicy => d.kind === 'ValidatingAdmissionPolicy' && d.metadata?.name === name);
  const binding = docs.find((d): d is k8s.V1ValidatingAdmissionPolicyBinding => d.kind === 'ValidatingAdmissionPolicyBinding' && d.metadata?.name === name);
  assert.ok(policy?.spec && binding?.spec, `the manifests hold ${name} and its binding`);
  assert.equal(binding.spec.policyName, name);
  return { policy, binding };
}

/** The policy and binding named `name`, as knative/base/admission.yaml ships them. */
function shipped(name: PolicyName): Shipped {
  return policiesIn(readFileSync(join(repoRoot(), 'knative', 'base', 'admission.yaml'), 'utf8'), name);
}

/**
 * Creates the policy under a name of its own, and a binding with the shipped
 * validation actions limited to `ns`; both are deleted when the test ends. Resolves
 * once `probe` sees the API server enforce it (policies are loaded asynchronously).
 */
async function enforce(t: TestContext, ns: string, { policy, binding }: Shipped, probe: () => Promise<boolean>): Promise<void> {
  const api = adminConfig().makeApiClient(k8s.AdmissionregistrationV1Api);
  const own = `${policy.metadata!.name!}-${ns}`;
  await api.createValidatingAdmissionPolicy({ body: { apiVersion: policy.apiVersion, kind: policy.kind, metadata: { name: own }, spec: policy.spec } });
  t.after(() => api.deleteValidatingAdmissionPolicy({ name: own }).then(() => undefined, () => undefined));
  await api.createValidatingAdmissionPolicyBinding({
    body: {
      apiVersion: binding.apiVersion,
      kind: binding.kind,
      metadata: { name: own },
      spec: {
        ...binding.spec,
        policyName: own,
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
      },
    },
  });
  t.after(() => api.deleteValidatingAdmissionPolicyBinding({ name: own }).then(() => undefined, () => undefined));
  await waitFor(`${own} to be enforced in ${ns}`, async () => ((await probe()) ? true : undefined), { timeoutMs: 20_000, intervalMs: 200 });
}

/** Enforcement probe: a dry-run create of a pod labelled `key: probe` is refused. */
function podProbe(core: k8s.CoreV1Api, ns: string, key = POD_ID): () => Promise<boolean> {
  return async () => {
    const r = await core
      .createNamespacedPod({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'probe', labels: { [key]: 'probe' } }, spec: { containers: [{ name: 'c', image: 'example.com/app:1' }] } } })
      .then(() => undefined, (e: unknown) => statusOf(e));
    return r === 422;
  };
}

interface Refusal {
  readonly code: number | undefined;
  readonly message: string;
}

/** The API server's refusal of `call`; fails the test if the call succeeds. */
async function refused(what: string, call: () => Promise<unknown>): Promise<Refusal> {
  try {
    await call();
  } catch (error) {
    const body = error && typeof error === 'object' && 'body' in error ? error.body : undefined;
    const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    const message = parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string' ? parsed.message : String(error);
    return { code: statusOf(error), message };
  }
  assert.fail(`${what} was accepted`);
}

function isReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

async function readyPods(core: k8s.CoreV1Api, ns: string, app: string, n: number): Promise<k8s.V1Pod[]> {
  return waitFor(`${n} ready pods of ${app}`, async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items.filter(isReady);
    return pods.length === n ? pods : undefined;
  });
}

/** Waits until baton has pinned `svc` to one pod and the slices show it; returns that pod and when. */
async function adopted(core: k8s.CoreV1Api, slices: SliceWatcher, ns: string, svc: string): Promise<{ active: string; uid: string; since: number }> {
  return waitFor(`baton to adopt ${svc}`, async () => {
    const s = await core.readNamespacedService({ name: svc, namespace: ns });
    const uid = s.spec?.selector?.[POD_ID];
    const active = s.metadata?.annotations?.['baton.dev/active'];
    const current = slices.current(svc);
    return uid && uid !== 'none' && active && current.length === 1 && current[0] === active ? { active, uid, since: Date.now() } : undefined;
  });
}

/** A pod like the Deployment's, not owned by it: what `kubectl debug --copy-to --keep-labels` makes. */
function copyOf(pod: k8s.V1Pod, name: string, labels: Record<string, string>): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, ports: c.ports })) } };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

test('pod-id policy: a pod carrying another pod\'s UID is refused at create and at update; baton\'s own labels pass', async (t) => {
  const ns = await testNamespace(t, 'adm-pod');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await enforce(t, ns, shipped('baton-pod-id'), podProbe(core, ns));
  const slices = await watchSlices(t, ns);
  await startBaton(t, ns);
  // Every pod-id label baton writes from here on goes through the policy.
  await createDeployment(kc, ns, 'db', 2, { serviceLabels: OPT_IN });
  await readyPods(core, ns, 'db', 2);
  const { active, uid, since } = await adopted(core, slices, ns, 'db');
  const activePod = await core.readNamespacedPod({ name: active, namespace: ns });

  // CREATE: the copy of the active, with its labels, is refused, and the message shows
  // that metadata.uid was already filled in when validating admission ran.
  const atCreate = await refused('a copy carrying the active\'s pod-id', () =>
    core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'db-copy', { ...activePod.metadata!.labels! }) }),
  );
  t.diagnostic(`refused at create (${atCreate.code}): ${atCreate.message}`);
  assert.equal(atCreate.code, 422);
  assert.match(atCreate.message, /ValidatingAdmissionPolicy 'baton-pod-id-/);
  assert.match(atCreate.message, /Remove baton\.dev\/pod-id from the pod template or manifest; baton sets it itself/);
  const uidAtCreate = new RegExp(`pod's own UID \\((${UUID.source})\\), not ${uid}`).exec(atCreate.message);
  assert.ok(uidAtCreate, `object.metadata.uid is set during validating admission at CREATE: ${atCreate.message}`);
  assert.notEqual(uidAtCreate[1], uid);
  await assert.rejects(core.readNamespacedPod({ name: 'db-copy', namespace: ns }), (e: unknown) => statusOf(e) === 404);

  // UPDATE: a pod made without the label cannot be given the active's UID later, may
  // carry its own (the write baton makes), and may drop it again.
  const bystander = await core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'bystander', { app: 'db' }) });
  const atUpdate = await refused('relabelling a pod with the active\'s pod-id', () =>
    core.patchNamespacedPod({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: uid } } } }, merge),
  );
  assert.equal(atUpdate.code, 422);
  assert.match(atUpdate.message, new RegExp(`pod's own UID \\(${bystander.metadata!.uid}\\), not ${uid}`));
  // A status write can change labels too (pods/status is in the policy's rules).
  const viaStatus = await refused('relabelling through pods/status', () =>
    core.patchNamespacedPodStatus({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: uid } } } }, merge),
  );
  assert.equal(viaStatus.code, 422);
  await core.patchNamespacedPod({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: bystander.metadata!.uid! } } } }, merge);
  await core.patchNamespacedPod({ name: 'bystander', namespace: ns, body: { metadata: { labels: { [POD_ID]: null } } } }, merge);

  // A workload whose template carries the label: its ReplicaSet reports the refusal.
  await createDeployment(kc, ns, 'copied', 1, { podLabels: { app: 'copied', [POD_ID]: uid }, service: false });
  const failed = await waitFor('a FailedCreate event that says what to do', async () => {
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=FailedCreate' });
    return events.items.find((e) => /Remove baton\.dev\/pod-id from the pod template/.test(e.message ?? ''));
  });
  assert.equal(failed.involvedObject.kind, 'ReplicaSet');

  // baton's own writes under the policy: a failover labels the standby and moves the
  // selector; every pod of the Deployment ends up with its own UID.
  await setPodReady(kc, ns, active, false);
  const next = await waitFor('a failover', () => {
    const now = slices.current('db');
    return now.length === 1 && now[0] !== active ? now[0] : undefined;
  });
  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=db' })).items;
  assert.ok(
    pods.filter((p) => p.metadata?.name !== 'bystander').every((p) => p.metadata?.labels?.[POD_ID] === p.metadata?.uid),
    JSON.stringify(pods.map((p) => [p.metadata?.name, p.metadata?.uid, p.metadata?.labels?.[POD_ID]])),
  );
  assert.equal((await core.readNamespacedService({ name: 'db', namespace: ns })).metadata?.annotations?.['baton.dev/active'], next);
  assert.deepEqual(slices.violations('db', since), [], JSON.stringify(slices.history('db')));
});

test('pod-id policy off (the old behaviour): a pod carrying the active\'s UID becomes a second endpoint', async (t) => {
  const ns = await testNamespace(t, 'adm-pod-off');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const slices = await watchSlices(t, ns);
  const baton = await startBaton(t, ns);
  await createDeployment(kc, ns, 'db', 2, { serviceLabels: OPT_IN });
  await readyPods(core, ns, 'db', 2);
  const { active, uid, since } = await adopted(core, slices, ns, 'db');
  const activePod = await core.readNamespacedPod({ name: active, namespace: ns });
  // The labels the Service selects (a copy that also kept pod-template-hash would be
  // adopted by the ReplicaSet, which would then delete one of its pods).
  const impostor = { app: 'db', [POD_ID]: uid };

  // With baton's event feed up, baton relabels a candidate it sees with the wrong id;
  // whether the copy is a second endpoint first is a race with its readiness. Recorded.
  const created = Date.now();
  await core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'db-copy', impostor) });
  const relabelled = await waitFor('baton to give the copy its own pod-id', async () => {
    const p = await core.readNamespacedPod({ name: 'db-copy', namespace: ns });
    return p.metadata?.labels?.[POD_ID] === p.metadata?.uid ? Date.now() : undefined;
  });
  const raced = slices.violations('db', since).filter((o) => o.ready.includes('db-copy'));
  t.diagnostic(`feed up: baton relabelled the copy within ${relabelled - created} ms of the create call; second endpoint seen ${raced.length} time(s)`);

  // With the feed down (an adapter restart, or the events it drops), nothing stands in
  // the way until the next sweep: the copy serves next to the active.
  await baton.adapter.stop();
  const mark = Date.now();
  await core.createNamespacedPod({ namespace: ns, body: copyOf(activePod, 'db-copy-2', impostor) });
  const two = await waitFor('the second copy to be a second ready endpoint', () => slices.violations('db', mark).find((o) => o.ready.includes('db-copy-2') && o.ready.includes(active)));
  t.diagnostic(`feed down: [${two.ready.join(',')}] ready behind one pod-id, ${two.at - mark} ms after the create`);
});

/** Runs the plane's kubectl without blocking the event loop (the slice watch runs in this process). */
function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const plane = testPlane();
  return new Promise((resolve) => {
    execFile(plane.binaries.paths.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A Service manifest as a user keeps it in git, written to a file for kubectl; no `selector` leaves spec.selector out. */
function manifest(ns: string, selector: Record<string, string> | undefined, annotations: Record<string, string> = {}): string {
  const file = join(mkdtempSync(join(tmpdir(), 'baton-adm-')), 'svc.yaml');
  const doc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: ns, labels: OPT_IN, annotations }, spec: { ...(selector ? { selector } : {}), ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

const PLACEHOLDER = { app: 'db', [POD_ID]: 'none' };

/** Pods first, then the Service from `file` (the zero-window opt-in), adopted by baton. */
async function placeholderService(t: TestContext, ns: string, slices: SliceWatcher, file: string, apply: string[]): Promise<{ uid: string; since: number }> {
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await startBaton(t, ns);
  await createDeployment(kc, ns, 'db', 3, { service: false });
  await readyPods(core, ns, 'db', 3);
  const created = await kubectl([...apply, '-f', file]);
  assert.equal(created.code, 0, created.stderr);
  return adopted(core, slices, ns, 'db');
}

function zeroWindows(slices: SliceWatcher, since: number): Array<{ at: number; ms: number | undefined }> {
  const h = slices.history('db').filter((o) => o.at >= since);
  return h.flatMap((o, i) => (o.ready.length === 0 ? [{ at: o.at, ms: h[i + 1] ? h[i + 1]!.at - o.at : undefined }] : []));
}

async function probeService(core: k8s.CoreV1Api, ns: string): Promise<() => Promise<boolean>> {
  // A Service baton never sees (it starts later), pinned to a made-up pod-id: the
  // policy is enforced once a dry run that resets it is refused.
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'probe', labels: OPT_IN }, spec: { selector: { app: 'probe', [POD_ID]: 'probe' }, ports: [{ port: 80 }] } } });
  return async () => {
    const r = await core
      .patchNamespacedService({ name: 'probe', namespace: ns, dryRun: 'All', body: { spec: { selector: { [POD_ID]: 'none' } } } }, merge)
      .then(() => undefined, (e: unknown) => statusOf(e));
    return r === 422;
  };
}

test('pinned-selector policy: re-applying the placeholder is refused and the Service never routes to nothing; the coexistence recipes work', async (t) => {
  const ns = await testNamespace(t, 'adm-svc');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const probe = await probeService(core, ns);
  await enforce(t, ns, shipped('baton-pinned-selector'), probe);
  await core.deleteNamespacedService({ name: 'probe', namespace: ns });
  const slices = await watchSlices(t, ns);
  const withPlaceholder = manifest(ns, PLACEHOLDER);
  const { uid, since } = await placeholderService(t, ns, slices, withPlaceholder, ['apply']);
  const selectorNow = async (): Promise<Record<string, string> | undefined> => (await core.readNamespacedService({ name: 'db', namespace: ns })).spec?.selector;

  // The same manifest again (what every sync does): refused, with the way out.
  const again = await kubectl(['apply', '-f', withPlaceholder]);
  t.diagnostic(`re-apply of the placeholder manifest: exit ${again.code}: ${again.stderr.trim()}`);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /ValidatingAdmissionPolicy 'baton-pinned-selector-/);
  assert.match(again.stderr, new RegExp(`baton\\.dev/pod-id ${uid} -> none`));
  assert.match(again.stderr, /Re-applied manifests must leave baton\.dev\/pod-id out of the selector/);
  assert.deepEqual(await selectorNow(), { app: 'db', [POD_ID]: uid });

  // Client-side apply remembers the declared key in last-applied-configuration, so
  // dropping it from the manifest would delete it: refused too ("removed")...
  const keyless = manifest(ns, { app: 'db' }, { note: 'keyless' });
  const dropped = await kubectl(['apply', '-f', keyless]);
  assert.notEqual(dropped.code, 0, dropped.stdout);
  assert.match(dropped.stderr, new RegExp(`baton\\.dev/pod-id ${uid} removed`));
  // ...until last-applied is rewritten; from then on apply keeps the key it never declared.
  const set = await kubectl(['apply', 'set-last-applied', '-f', keyless]);
  assert.equal(set.code, 0, set.stderr);
  const kept = await kubectl(['apply', '-f', keyless]);
  assert.equal(kept.code, 0, kept.stderr);
  const afterKeyless = await core.readNamespacedService({ name: 'db', namespace: ns });
  assert.equal(afterKeyless.metadata?.annotations?.['note'], 'keyless', 'the keyless apply took effect');
  assert.deepEqual(afterKeyless.spec?.selector, { app: 'db', [POD_ID]: uid });

  // Server-side apply: spec.selector is an atomic map that baton's last write owns, so
  // the manifest's selector conflicts; forcing it would replace the whole map, and is refused.
  const ssa = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', keyless]);
  assert.notEqual(ssa.code, 0, ssa.stdout);
  assert.match(ssa.stderr, /conflict.*\.spec\.selector/is);
  const forced = await kubectl(['apply', '--server-side', '--field-manager=gitops', '--force-conflicts', '-f', keyless]);
  assert.notEqual(forced.code, 0, forced.stdout);
  assert.match(forced.stderr, new RegExp(`baton\\.dev/pod-id ${uid} removed`));

  // Opting out is always allowed, and baton restores the plain selector.
  const until = Date.now();
  await core.patchNamespacedService({ name: 'db', namespace: ns, body: { metadata: { labels: { 'baton.dev/mode': null } } } }, merge);
  await waitFor('baton to restore the selector', async () => ((await selectorNow())?.[POD_ID] === undefined ? true : undefined));

  const adoptedWindow = slices.history('db').filter((o) => o.at >= since && o.at < until);
  assert.deepEqual(zeroWindows(slices, since).filter((z) => z.at < until), [], `no zero-endpoint window: ${JSON.stringify(adoptedWindow)}`);
  assert.deepEqual(slices.violations('db', since).filter((o) => o.at < until), [], JSON.stringify(adoptedWindow));
});

test('pinned-selector policy off (the old behaviour): a re-apply empties the Service until baton re-pins; a forced server-side apply routes to every pod', async (t) => {
  const ns = await testNamespace(t, 'adm-svc-off');
  const slices = await watchSlices(t, ns);
  const withPlaceholder = manifest(ns, PLACEHOLDER);
  const { since } = await placeholderService(t, ns, slices, withPlaceholder, ['apply']);

  const again = await kubectl(['apply', '-f', withPlaceholder]);
  assert.equal(again.code, 0, again.stderr);
  const zero = await waitFor('the Service to route to no pod', () => zeroWindows(slices, since)[0]);
  const repinned = await waitFor('baton to pin it again', () => slices.history('db').find((o) => o.at > zero.at && o.ready.length === 1));
  t.diagnostic(`zero ready endpoints for ${repinned.at - zero.at} ms after the re-apply (until baton re-pinned)`);

  // SSA of a manifest without the key, forced over baton's ownership: the key is gone
  // and the Service selects every pod until baton notices.
  const keyless = manifest(ns, { app: 'db' });
  const mark = Date.now();
  const forced = await kubectl(['apply', '--server-side', '--field-manager=gitops', '--force-conflicts', '-f', keyless]);
  assert.equal(forced.code, 0, forced.stderr);
  const all = await waitFor('more than one ready endpoint', () => slices.violations('db', mark)[0]);
  const back = await waitFor('baton to pin it again', () => slices.history('db').find((o) => o.at > all.at && o.ready.length === 1), { timeoutMs: 15_000 }).catch(() => undefined);
  t.diagnostic(`forced server-side apply: [${all.ready.join(',')}] ready; ${back ? `one pod again after ${back.at - all.at} ms` : 'not re-pinned within 15 s'}`);
});

test('pinned-selector policy with server-side apply: the placeholder conflicts, forcing it is refused, leaving spec.selector out keeps the pin', async (t) => {
  const ns = await testNamespace(t, 'adm-ssa');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const probe = await probeService(core, ns);
  await enforce(t, ns, shipped('baton-pinned-selector'), probe);
  await core.deleteNamespacedService({ name: 'probe', namespace: ns });
  const slices = await watchSlices(t, ns);
  const ssa = ['apply', '--server-side', '--field-manager=gitops'];
  const withPlaceholder = manifest(ns, PLACEHOLDER);
  const { uid, since } = await placeholderService(t, ns, slices, withPlaceholder, ssa);

  // baton's patch took spec.selector (an atomic map) from the applier, so the same
  // manifest now conflicts and changes nothing...
  const again = await kubectl([...ssa, '-f', withPlaceholder]);
  assert.notEqual(again.code, 0, again.stdout);
  assert.match(again.stderr, /conflict.*\.spec\.selector/is);
  // ...forcing it would put the placeholder back: refused...
  const forced = await kubectl([...ssa, '--force-conflicts', '-f', withPlaceholder]);
  assert.notEqual(forced.code, 0, forced.stdout);
  assert.match(forced.stderr, new RegExp(`baton\\.dev/pod-id ${uid} -> none`));
  // ...and a manifest without spec.selector applies cleanly and leaves the pin alone.
  const without = await kubectl([...ssa, '-f', manifest(ns, undefined, { note: 'no selector' })]);
  assert.equal(without.code, 0, without.stderr);
  const svc = await core.readNamespacedService({ name: 'db', namespace: ns });
  assert.equal(svc.metadata?.annotations?.['note'], 'no selector');
  assert.deepEqual(svc.spec?.selector, { app: 'db', [POD_ID]: uid });
  assert.deepEqual(zeroWindows(slices, since), [], JSON.stringify(slices.history('db')));
  assert.deepEqual(slices.violations('db', since), [], JSON.stringify(slices.history('db')));
});

test('another BATON_PREFIX: the overlay patch documented in knative/README.md moves both policies to it', async (t) => {
  const ns = await testNamespace(t, 'adm-prefix');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  // The overlay of knative/README.md#admission-policies, word for word.
  const overlay = mkdtempSync(join(tmpdir(), 'baton-adm-overlay-'));
  writeFileSync(
    join(overlay, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${relative(overlay, join(repoRoot(), 'knative', 'base'))}`,
      'patches:',
      '  - target: { group: admissionregistration.k8s.io, kind: ValidatingAdmissionPolicy }',
      '    patch: |-',
      '      - op: replace',
      '        path: /spec/variables/0/expression',
      `        value: "'failover.example.com'"`,
      '',
    ].join('\n'),
  );
  const rendered = await kubectl(['kustomize', overlay]);
  assert.equal(rendered.code, 0, rendered.stderr);
  for (const name of ['baton-pod-id', 'baton-pinned-selector'] as const) {
    const variable = policiesIn(rendered.stdout, name).policy.spec?.variables?.[0];
    assert.deepEqual({ name: variable?.name, expression: variable?.expression }, { name: 'prefix', expression: "'failover.example.com'" }, name);
  }
  await enforce(t, ns, policiesIn(rendered.stdout, 'baton-pod-id'), podProbe(core, ns, 'failover.example.com/pod-id'));
  const stale = await refused('a pod with a made-up failover.example.com/pod-id', () =>
    core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p1', labels: { 'failover.example.com/pod-id': 'x' } }, spec: { containers: [{ name: 'c', image: 'example.com/app:1' }] } } }),
  );
  assert.match(stale.message, /label failover\.example\.com\/pod-id must be the pod's own UID/);
  // The default prefix is now just a label like any other.
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'p2', labels: { [POD_ID]: 'x' } }, spec: { containers: [{ name: 'c', image: 'example.com/app:1' }] } } });
});

type Verdict = 'allowed' | 'refused';

/** The verdict of a dry-run write: admission runs in full, nothing is stored. */
async function verdict(write: () => Promise<unknown>): Promise<Verdict> {
  try {
    await write();
    return 'allowed';
  } catch (error) {
    if (statusOf(error) === 422) return 'refused';
    throw error;
  }
}

test('pod-id policy, decision table: dry-run writes judged by the API server', async (t) => {
  const ns = await testNamespace(t, 'adm-pod-table');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const spec = { containers: [{ name: 'c', image: 'example.com/app:1' }] };
  const other = '0b6c6f1e-0000-4000-8000-000000000000';
  // Made before the policy: one plain pod, one that already carries a wrong pod-id.
  const plain = await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'plain' }, spec } });
  const own = plain.metadata!.uid!;
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'old', labels: { [POD_ID]: other } }, spec } });
  await enforce(t, ns, shipped('baton-pod-id'), podProbe(core, ns));
  const create = (labels: Record<string, string>) => () => core.createNamespacedPod({ namespace: ns, dryRun: 'All', body: { metadata: { generateName: 'row-', labels }, spec } });
  const label = (name: string, labels: Record<string, string | null>) => () => core.patchNamespacedPod({ name, namespace: ns, dryRun: 'All', body: { metadata: { labels } } }, merge);
  const status = (name: string, labels: Record<string, string | null>) => () => core.patchNamespacedPodStatus({ name, namespace: ns, dryRun: 'All', body: { metadata: { labels } } }, merge);
  const rows: Array<[string, () => Promise<unknown>, Verdict]> = [
    ['create without the label', create({ app: 'x' }), 'allowed'],
    ['create with a made-up value', create({ [POD_ID]: 'x' }), 'refused'],
    ['create with another pod\'s UID', create({ [POD_ID]: own }), 'refused'],
    ['create with the placeholder', create({ [POD_ID]: 'none' }), 'refused'],
    ['create with a label of another prefix', create({ 'example.com/pod-id': 'x' }), 'allowed'],
    ['update: add its own UID (baton\'s write)', label('plain', { [POD_ID]: own }), 'allowed'],
    ['update: add another UID', label('plain', { [POD_ID]: other }), 'refused'],
    ['update: add an empty value', label('plain', { [POD_ID]: '' }), 'refused'],
    ['status: add another UID', status('plain', { [POD_ID]: other }), 'refused'],
    ['status: unrelated label', status('plain', { x: '1' }), 'allowed'],
    ['old wrong value: unrelated label', label('old', { x: '1' }), 'allowed'],
    ['old wrong value: status write', status('old', { x: '1' }), 'allowed'],
    ['old wrong value: changed to another wrong one', label('old', { [POD_ID]: own }), 'refused'],
    ['old wrong value: removed', label('old', { [POD_ID]: null }), 'allowed'],
  ];
  const got: Array<[string, Verdict]> = [];
  for (const [name, write] of rows) got.push([name, await verdict(write)]);
  assert.deepEqual(got, rows.map(([name, , want]) => [name, want]));
});

test('pinned-selector policy, decision table: dry-run updates judged by the API server', async (t) => {
  const ns = await testNamespace(t, 'adm-svc-table');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const U = '11111111-1111-4111-8111-111111111111';
  const V = '22222222-2222-4222-8222-222222222222';
  // No baton runs here: each Service keeps the state it is created with.
  let n = 0;
  const service = async (labels: Record<string, string>, selector: Record<string, string>): Promise<string> => {
    const name = `s${n++}`;
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name, labels }, spec: { selector, ports: [{ port: 80 }] } } });
    return name;
  };
  const pinned = (): Promise<string> => service(OPT_IN, { app: 'db', [POD_ID]: U });
  const update = (name: string, body: object) => () => core.patchNamespacedService({ name, namespace: ns, dryRun: 'All', body }, merge);
  const probeName = await pinned();
  await enforce(t, ns, shipped('baton-pinned-selector'), async () => (await verdict(update(probeName, { spec: { selector: { [POD_ID]: 'none' } } }))) === 'refused');
  const rows: Array<[string, string, object, Verdict]> = [
    ['pinned -> placeholder', await pinned(), { spec: { selector: { [POD_ID]: 'none' } } }, 'refused'],
    ['pinned -> key removed', await pinned(), { spec: { selector: { [POD_ID]: null } } }, 'refused'],
    ['pinned -> selector removed', await pinned(), { spec: { selector: null } }, 'refused'],
    ['pinned -> placeholder in the same write as an opt-out (mode changed)', await pinned(), { metadata: { labels: { 'baton.dev/mode': 'off' } }, spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
    ['pinned -> another UID (a switch)', await pinned(), { spec: { selector: { [POD_ID]: V } } }, 'allowed'],
    ['pinned -> user part of the selector changed', await pinned(), { spec: { selector: { app: 'db2' } } }, 'allowed'],
    ['pinned -> annotation only', await pinned(), { metadata: { annotations: { note: 'x' } } }, 'allowed'],
    ['pinned -> opt-out and plain selector', await pinned(), { metadata: { labels: { 'baton.dev/mode': null } }, spec: { selector: { [POD_ID]: null } } }, 'allowed'],
    ['placeholder -> a UID (adoption)', await service(OPT_IN, { app: 'db', [POD_ID]: 'none' }), { spec: { selector: { [POD_ID]: U } } }, 'allowed'],
    ['placeholder -> key removed', await service(OPT_IN, { app: 'db', [POD_ID]: 'none' }), { spec: { selector: { [POD_ID]: null } } }, 'allowed'],
    ['no pod-id -> placeholder (baton\'s pin while no pod is healthy)', await service(OPT_IN, { app: 'db' }), { spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
    ['not opted in, pod-id -> placeholder', await service({}, { app: 'db', [POD_ID]: U }), { spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
    ['opting in over a stale pod-id -> placeholder', await service({}, { app: 'db', [POD_ID]: U }), { metadata: { labels: OPT_IN }, spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
  ];
  const got: Array<[string, Verdict]> = [];
  for (const [name, svc, body] of rows) got.push([name, await verdict(update(svc, body))]);
  assert.deepEqual(got, rows.map(([name, , , want]) => [name, want]));
});

test('every shipped overlay renders both policies with its own BATON_PREFIX, Fail, Deny, and kube-system left out', async () => {
  for (const overlay of ['knative/overlays/production', 'knative/overlays/local']) {
    const rendered = await kubectl(['kustomize', join(repoRoot(), overlay)]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const docs = k8s.loadAllYaml(rendered.stdout) as k8s.KubernetesObject[];
    const config = docs.find((d): d is k8s.V1ConfigMap => d.kind === 'ConfigMap' && d.metadata?.name?.startsWith('baton-config') === true);
    const prefix = config?.data?.['BATON_PREFIX'];
    assert.ok(prefix, `${overlay}: BATON_PREFIX is set`);
    for (const name of ['baton-pod-id', 'baton-pinned-selector'] as const) {
      const { policy, binding } = policiesIn(rendered.stdout, name);
      assert.equal(policy.spec?.variables?.[0]?.expression, `'${prefix}'`, `${overlay}: ${name} uses the functions' prefix`);
      assert.equal(policy.spec?.failurePolicy, 'Fail', `${overlay}: ${name}`);
      assert.deepEqual(binding.spec?.validationActions, ['Deny'], `${overlay}: ${name}`);
      const excluded = binding.spec?.matchResources?.namespaceSelector?.matchExpressions?.map((e) => ({ key: e.key, operator: e.operator, values: e.values }));
      assert.deepEqual(excluded, [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }], `${overlay}: ${name}`);
    }
  }
});
