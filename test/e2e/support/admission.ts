// The admission policies in knative/base/admission.yaml, on the real API server, with
// baton running behind the real adapter and an independent EndpointSlice watch.
//
// The shipped bindings are cluster-wide; other e2e tests in the same run remove the
// pod-id key on purpose (to test re-pinning), so each test here binds the shipped
// policy, under a name of its own, to its own namespace only.
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../../plane/paths.js';
import { waitFor } from '../../../plane/wait.js';
import { startBaton } from './baton.js';
import { adminConfig, statusOf, testPlane } from './plane.js';
import { type SliceWatcher } from './slices.js';
import { createDeployment } from './workloads.js';

export const OPT_IN = { 'baton.dev/mode': 'active-standby' };

export const POD_ID = 'baton.dev/pod-id';

export const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export type PolicyName = 'baton-pod-id' | 'baton-pinned-selector';

export interface Shipped {
  readonly policy: k8s.V1ValidatingAdmissionPolicy;
  readonly binding: k8s.V1ValidatingAdmissionPolicyBinding;
}

export function policiesIn(yaml: string, name: PolicyName): Shipped {
  const docs = k8s.loadAllYaml(yaml) as k8s.KubernetesObject[];
  const policy = docs.find((d): d is k8s.V1ValidatingAdmissionPolicy => d.kind === 'ValidatingAdmissionPolicy' && d.metadata?.name === name);
  const binding = docs.find((d): d is k8s.V1ValidatingAdmissionPolicyBinding => d.kind === 'ValidatingAdmissionPolicyBinding' && d.metadata?.name === name);
  assert.ok(policy?.spec && binding?.spec, `the manifests hold ${name} and its binding`);
  assert.equal(binding.spec.policyName, name);
  return { policy, binding };
}

/** The policy and binding named `name`, as knative/base/admission.yaml ships them. */

export function shipped(name: PolicyName): Shipped {
  return policiesIn(readFileSync(join(repoRoot(), 'knative', 'base', 'admission.yaml'), 'utf8'), name);
}

/**
 * Creates the policy under a name of its own, and a binding with the shipped
 * validation actions limited to `ns`; both are deleted when the test ends. Resolves
 * once `probe` sees the API server enforce it (policies are loaded asynchronously).
 */

export async function enforce(t: TestContext, ns: string, { policy, binding }: Shipped, probe: () => Promise<boolean>): Promise<void> {
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

export function podProbe(core: k8s.CoreV1Api, ns: string, key = POD_ID): () => Promise<boolean> {
  return async () => {
    const r = await core
      .createNamespacedPod({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'probe', labels: { [key]: 'probe' } }, spec: { containers: [{ name: 'c', image: 'example.com/app:1' }] } } })
      .then(() => undefined, (e: unknown) => statusOf(e));
    return r === 422;
  };
}

export interface Refusal {
  readonly code: number | undefined;
  readonly message: string;
}

/** The API server's refusal of `call`; fails the test if the call succeeds. */

export async function refused(what: string, call: () => Promise<unknown>): Promise<Refusal> {
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

export function isReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export async function readyPods(core: k8s.CoreV1Api, ns: string, app: string, n: number): Promise<k8s.V1Pod[]> {
  return waitFor(`${n} ready pods of ${app}`, async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items.filter(isReady);
    return pods.length === n ? pods : undefined;
  });
}

/** Waits until baton has pinned `svc` to one pod and the slices show it; returns that pod and when. */

export async function adopted(core: k8s.CoreV1Api, slices: SliceWatcher, ns: string, svc: string): Promise<{ active: string; uid: string; since: number }> {
  return waitFor(`baton to adopt ${svc}`, async () => {
    const s = await core.readNamespacedService({ name: svc, namespace: ns });
    const uid = s.spec?.selector?.[POD_ID];
    const active = s.metadata?.annotations?.['baton.dev/active'];
    const current = slices.current(svc);
    return uid && uid !== 'none' && active && current.length === 1 && current[0] === active ? { active, uid, since: Date.now() } : undefined;
  });
}

/** A pod like the Deployment's, not owned by it: what `kubectl debug --copy-to --keep-labels` makes. */

export function copyOf(pod: k8s.V1Pod, name: string, labels: Record<string, string>): k8s.V1Pod {
  return { metadata: { name, labels }, spec: { containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, ports: c.ports })) } };
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** Runs the plane's kubectl without blocking the event loop (the slice watch runs in this process). */

export function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const plane = testPlane();
  return new Promise((resolve) => {
    execFile(plane.binaries.paths.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A Service manifest as a user keeps it in git, written to a file for kubectl; no `selector` leaves spec.selector out. */

export function manifest(ns: string, selector: Record<string, string> | undefined, annotations: Record<string, string> = {}): string {
  const file = join(mkdtempSync(join(tmpdir(), 'baton-adm-')), 'svc.yaml');
  const doc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: ns, labels: OPT_IN, annotations }, spec: { ...(selector ? { selector } : {}), ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

export const PLACEHOLDER = { app: 'db', [POD_ID]: 'none' };

/** Pods first, then the Service from `file` (the zero-window opt-in), adopted by baton. */

export async function placeholderService(t: TestContext, ns: string, slices: SliceWatcher, file: string, apply: string[]): Promise<{ uid: string; since: number }> {
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await startBaton(t, ns);
  await createDeployment(kc, ns, 'db', 3, { service: false });
  await readyPods(core, ns, 'db', 3);
  const created = await kubectl([...apply, '-f', file]);
  assert.equal(created.code, 0, created.stderr);
  return adopted(core, slices, ns, 'db');
}

export function zeroWindows(slices: SliceWatcher, since: number): Array<{ at: number; ms: number | undefined }> {
  const h = slices.history('db').filter((o) => o.at >= since);
  return h.flatMap((o, i) => (o.ready.length === 0 ? [{ at: o.at, ms: h[i + 1] ? h[i + 1]!.at - o.at : undefined }] : []));
}

export async function probeService(core: k8s.CoreV1Api, ns: string): Promise<() => Promise<boolean>> {
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

export type Verdict = 'allowed' | 'refused';

/** The verdict of a dry-run write: admission runs in full, nothing is stored. */

export async function verdict(write: () => Promise<unknown>): Promise<Verdict> {
  try {
    await write();
    return 'allowed';
  } catch (error) {
    if (statusOf(error) === 422) return 'refused';
    throw error;
  }
}
