// Least privilege, shown against the real RBAC authorizer: the functions' ServiceAccount
// (knative/base/rbac.yaml) may do exactly what baton needs and nothing else; a function
// scoped to one namespace does not look at another; and a function whose Role lost a
// verb answers with a clear logged error instead of crashing or retrying forever.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { apiGet } from '../../plane/api.js';
import { repoRoot } from '../../plane/paths.js';
import { waitFor } from '../../plane/wait.js';
import { auditOffset, describeRequest, requestsSince, serviceAccountUser, tally } from '../chaos/auditlog.js';
import { deliver, ping, resourceEvent, type Kind } from '../chaos/forge.js';
import { installRbac, loggedDetail, serviceAccountKubeconfig, startFunction } from './support/baton.js';
import { adminConfig, statusOf, testNamespace, testPlane } from './support/plane.js';

const SYSTEM = 'baton-system';
const LIMITED = 'baton-failover-limited';
const OPT_IN = { 'baton.dev/mode': 'active-standby' };

interface Rule {
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
}

/** The verbs knative/base/rbac.yaml grants a ClusterRole, one entry per group/resource/verb. */
function granted(role: string): Rule[] {
  const docs = k8s.loadAllYaml(readFileSync(join(repoRoot(), 'knative', 'base', 'rbac.yaml'), 'utf8')) as k8s.V1ClusterRole[];
  const found = docs.find((d) => d.kind === 'ClusterRole' && d.metadata?.name === role);
  if (!found) throw new Error(`no ClusterRole ${role} in knative/base/rbac.yaml`);
  return (found.rules ?? []).flatMap((r) => (r.apiGroups ?? ['']).flatMap((group) => (r.resources ?? []).flatMap((resource) => r.verbs.map((verb) => ({ group, resource, verb })))));
}

function kubeconfig(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

async function allowed(kc: k8s.KubeConfig, rule: Rule, namespace?: string): Promise<boolean> {
  const [resource, subresource] = rule.resource.split('/');
  const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { group: rule.group, resource, verb: rule.verb, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}) } } },
  });
  return review.status?.allowed === true;
}

const label = (r: Rule): string => `${r.verb} ${r.group ? `${r.group}/` : ''}${r.resource}`;

async function denied(what: string, request: () => Promise<unknown>): Promise<void> {
  await assert.rejects(request, (error: unknown) => {
    assert.equal(statusOf(error), 403, `${what}: expected 403 Forbidden, got ${String(error).slice(0, 200)}`);
    return true;
  });
}

async function optedInService(t: TestContext, prefix: string): Promise<{ ns: string; pods: string[] }> {
  const ns = await testNamespace(t, prefix);
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const pods = ['app-0', 'app-1'];
  for (const name of pods) await core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: 'app' } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'app', labels: OPT_IN }, spec: { selector: { app: 'app', 'baton.dev/pod-id': 'none' }, ports: [{ port: 80 }] } } });
  await waitFor(`2 ready pods in ${ns}`, async () => {
    const list = await core.listNamespacedPod({ namespace: ns });
    return list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 2 ? true : undefined;
  });
  return { ns, pods };
}

type Raw = Record<string, unknown> & { metadata: Record<string, unknown> };

async function raw(path: string): Promise<Raw> {
  const r = await apiGet(testPlane(), path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}`);
  return JSON.parse(r.body) as Raw;
}

async function event(kind: Kind, action: 'add' | 'update', path: string): Promise<ReturnType<typeof resourceEvent>> {
  return resourceEvent(kind, action, await raw(path));
}

test('the functions ServiceAccount: exactly the verbs baton needs, everything else denied', async (t) => {
  await installRbac();
  const sa = kubeconfig(await serviceAccountKubeconfig('baton-failover'));
  const needed = granted('baton-failover');
  t.diagnostic(`baton-failover needs: ${needed.map(label).join(', ')}`);
  for (const rule of needed) assert.ok(await allowed(sa, rule), `${label(rule)} should be allowed`);

  const forbidden: Rule[] = [
    { group: '', resource: 'secrets', verb: 'get' },
    { group: '', resource: 'secrets', verb: 'list' },
    { group: '', resource: 'secrets', verb: 'watch' },
    { group: '', resource: 'configmaps', verb: 'get' },
    { group: '', resource: 'pods', verb: 'get' },
    { group: '', resource: 'pods', verb: 'watch' },
    { group: '', resource: 'pods', verb: 'create' },
    { group: '', resource: 'pods', verb: 'delete' },
    { group: '', resource: 'pods/status', verb: 'patch' },
    { group: '', resource: 'pods/exec', verb: 'create' },
    { group: '', resource: 'services', verb: 'create' },
    { group: '', resource: 'services', verb: 'update' },
    { group: '', resource: 'services', verb: 'delete' },
    { group: '', resource: 'services/status', verb: 'patch' },
    { group: '', resource: 'events', verb: 'patch' },
    { group: '', resource: 'events', verb: 'delete' },
    { group: '', resource: 'namespaces', verb: 'create' },
    { group: '', resource: 'namespaces', verb: 'delete' },
    // Nodes are read (cordons), never changed: cordoning and draining stay the operator's.
    { group: '', resource: 'nodes', verb: 'patch' },
    { group: '', resource: 'nodes', verb: 'update' },
    { group: '', resource: 'nodes', verb: 'delete' },
    { group: '', resource: 'nodes/status', verb: 'patch' },
    { group: '', resource: 'serviceaccounts/token', verb: 'create' },
    { group: '', resource: 'users', verb: 'impersonate' },
    // Direct mode creates, updates (guarded) and deletes its own slice; nothing more.
    { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'patch' },
    { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'deletecollection' },
    { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'watch' },
    { group: 'apps', resource: 'deployments', verb: 'patch' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'update' },
    { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create' },
    { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'escalate' },
  ];
  const leaks: string[] = [];
  for (const rule of forbidden) {
    if (await allowed(sa, rule)) leaks.push(label(rule));
    if (await allowed(sa, rule, 'default')) leaks.push(`${label(rule)} in default`);
  }
  assert.deepEqual(leaks, [], 'verbs the functions do not need but are allowed');
  t.diagnostic(`denied (SelfSubjectAccessReview, cluster-wide and in default): ${forbidden.map(label).join(', ')}`);

  // The same, as real requests: the authorizer answers 403 before anything else happens.
  const { ns, pods } = await optedInService(t, 'priv-real');
  const core = sa.makeApiClient(k8s.CoreV1Api);
  await denied('get a Secret', () => core.readNamespacedSecret({ name: 'anything', namespace: 'kube-system' }));
  await denied('list Secrets', () => core.listSecretForAllNamespaces());
  await denied('delete a pod', () => core.deleteNamespacedPod({ name: pods[0]!, namespace: ns }));
  const svc = await core.readNamespacedService({ name: 'app', namespace: ns });
  await denied('update (replace) a Service', () => core.replaceNamespacedService({ name: 'app', namespace: ns, body: svc }));
  await denied('create a namespace', () => core.createNamespace({ body: { metadata: { name: `${ns}-x` } } }));
  await denied('patch a node', () => core.patchNode({ name: 'kwok-node-0', body: { metadata: { labels: { pwned: 'yes' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)));
  await denied('mint a token', () => core.createNamespacedServiceAccountToken({ name: 'baton-failover', namespace: SYSTEM, body: { spec: { audiences: [] } } }));
  await denied('exec into a pod (create pods/exec)', () => core.connectPostNamespacedPodExec({ name: pods[0]!, namespace: ns, command: 'sh', stdout: true }));

  // The adapter's account reads and watches what it reports, and writes nothing.
  const source = kubeconfig(await serviceAccountKubeconfig('baton-source'));
  for (const rule of granted('baton-source')) assert.ok(await allowed(source, rule), `baton-source: ${label(rule)} should be allowed`);
  for (const rule of [{ group: '', resource: 'services', verb: 'patch' }, { group: '', resource: 'pods', verb: 'patch' }, { group: '', resource: 'events', verb: 'create' }, { group: '', resource: 'secrets', verb: 'list' }]) {
    assert.equal(await allowed(source, rule), false, `baton-source: ${label(rule)} should be denied`);
  }
});

test('a function scoped to namespace a ignores events from namespace b: 200 ignored, not one API call', async (t) => {
  await installRbac();
  const a = await optedInService(t, 'priv-a');
  const b = await optedInService(t, 'priv-b');
  const planeDir = testPlane().dir;
  const user = serviceAccountUser('baton-failover');
  const start = auditOffset(planeDir);
  const env = { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), BATON_NAMESPACES: a.ns, BATON_INDEX_REFRESH_MS: '3600000', BATON_RESYNC_INTERVAL_MS: '3600000' };
  const [failover, resync] = await Promise.all([startFunction('failover', env), startFunction('resync', env)]);
  t.after(() => failover.stop());
  t.after(() => resync.stop());
  // resync sweeps once at start; let that and the failover index refresh finish first.
  await waitFor(`resync to adopt ${a.ns}/app`, async () => ((await raw(`/api/v1/namespaces/${a.ns}/services/app`)).metadata['annotations'] as Record<string, string> | undefined)?.['baton.dev/term'] === '1' ? true : undefined);
  await new Promise((r) => setTimeout(r, 500));

  const from = auditOffset(planeDir);
  const fromB = [
    await event('Pod', 'update', `/api/v1/namespaces/${b.ns}/pods/${b.pods[0]}`),
    await event('Service', 'add', `/api/v1/namespaces/${b.ns}/services/app`),
    ...(await adminConfig().makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: b.ns })).items.map((s) => resourceEvent('EndpointSlice', 'update', JSON.parse(JSON.stringify(s)) as Raw)),
  ];
  for (const wire of fromB) {
    const answer = await deliver(failover.url, wire);
    assert.equal(answer.status, 200);
    assert.equal(answer.outcome, 'ignored');
    assert.match(await loggedDetail(failover, answer.requestId), new RegExp(`namespace ${b.ns} is out of scope`));
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(requestsSince(planeDir, from, user).map(describeRequest), [], `API requests caused by ${fromB.length} events from ${b.ns}`);

  // A resync tick does not reach into b either, and b's Service stays as created.
  assert.equal((await deliver(resync.url, ping())).status, 200);
  const all = requestsSince(planeDir, start, user);
  t.diagnostic(`every request of both functions since they started: ${JSON.stringify(tally(all.map((r) => `${describeRequest(r)} in ${r.namespace ?? '(cluster)'}`)))}`);
  // Nodes belong to no namespace: which are cordoned is read cluster-wide (failover's
  // watch, one list per sweep), and says nothing about namespace b. Nothing else may leave a.
  const nodeReads = (r: (typeof all)[number]): boolean => r.namespace === undefined && /^(list|watch) nodes$/.test(describeRequest(r));
  assert.deepEqual(all.filter((r) => r.namespace !== a.ns && !nodeReads(r)).map((r) => `${describeRequest(r)} in ${r.namespace ?? '(cluster)'}`), [], 'requests outside the configured namespace');
  const bService = await raw(`/api/v1/namespaces/${b.ns}/services/app`);
  assert.equal((bService['spec'] as { selector: Record<string, string> }).selector['baton.dev/pod-id'], 'none');
});

test('a Role without "patch services": a clear logged error, 200 (no retry storm), and the function keeps answering', async (t) => {
  await installRbac();
  const admin = adminConfig();
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const ignoreExists = (e: unknown): void => {
    if (statusOf(e) !== 409) throw e;
  };
  // The shipped rules, minus one verb: what an operator's trimmed Role would look like.
  const rules: k8s.V1PolicyRule[] = [];
  for (const r of granted('baton-failover')) {
    if (r.resource === 'services' && r.verb === 'patch') continue;
    rules.push({ apiGroups: [r.group], resources: [r.resource], verbs: [r.verb] });
  }
  await core.createNamespacedServiceAccount({ namespace: SYSTEM, body: { metadata: { name: LIMITED } } }).catch(ignoreExists);
  await rbac.createClusterRole({ body: { metadata: { name: LIMITED }, rules } }).catch(ignoreExists);
  await rbac.createClusterRoleBinding({ body: { metadata: { name: LIMITED }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: LIMITED }, subjects: [{ kind: 'ServiceAccount', name: LIMITED, namespace: SYSTEM }] } }).catch(ignoreExists);
  t.after(async () => {
    await rbac.deleteClusterRoleBinding({ name: LIMITED }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: LIMITED }).catch(() => undefined);
    await core.deleteNamespacedServiceAccount({ name: LIMITED, namespace: SYSTEM }).catch(() => undefined);
  });
  const limited = kubeconfig(await serviceAccountKubeconfig(LIMITED));
  await waitFor('the trimmed ClusterRole to be in force', async () => ((await allowed(limited, { group: '', resource: 'services', verb: 'get' })) ? true : undefined));
  assert.equal(await allowed(limited, { group: '', resource: 'services', verb: 'patch' }), false);

  const { ns } = await optedInService(t, 'priv-rbac');
  const env = { KUBECONFIG: await serviceAccountKubeconfig(LIMITED), BATON_NAMESPACES: ns, BATON_INDEX_REFRESH_MS: '3600000', BATON_RESYNC_INTERVAL_MS: '3600000' };
  const failover = await startFunction('failover', env);
  t.after(() => failover.stop());
  const before = await raw(`/api/v1/namespaces/${ns}/services/app`);

  for (let attempt = 1; attempt <= 2; attempt++) {
    const answer = await deliver(failover.url, await event('Service', 'update', `/api/v1/namespaces/${ns}/services/app`));
    // Forbidden will not heal by redelivery: a 200 keeps a Broker from retrying it forever.
    assert.equal(answer.status, 200, `attempt ${attempt}: HTTP ${answer.status} ${answer.error}`);
    assert.match(await loggedDetail(failover, answer.requestId), /failed: patch service .*HTTP 403/, `attempt ${attempt}`);
    assert.equal(failover.process.exitCode, null, 'the function exited');
  }
  const logged = await waitFor('the refusal in the log', () => failover.logs.find((l) => l.includes('API refused the request') && l.includes('"status":403')));
  const line = JSON.parse(logged) as { level: string; err: string };
  assert.equal(line.level, 'error');
  assert.match(line.err, new RegExp(`cannot patch resource "services".*${LIMITED}|${LIMITED}.*cannot patch resource "services"`));
  t.diagnostic(`logged: ${line.err.slice(0, 240)}`);
  assert.equal((await fetch(`${failover.url}/healthz`)).status, 200);

  const after = await raw(`/api/v1/namespaces/${ns}/services/app`);
  assert.deepEqual(after['spec'] && (after['spec'] as { selector: unknown }).selector, (before['spec'] as { selector: unknown }).selector, 'the Service changed without patch rights');

  // resync under the same Role: the sweep reports the failure per Service and answers.
  const resync = await startFunction('resync', env);
  t.after(() => resync.stop());
  const tick = await deliver(resync.url, ping());
  assert.equal(tick.status, 200);
  assert.match(await loggedDetail(resync, tick.requestId), /1 errors: .*app: patch service .*HTTP 403/);
  assert.equal(resync.process.exitCode, null);
});

test('the routes ServiceAccount: Services read-only, Ingress verbs only, nothing else', async (t) => {
  await installRbac();
  const sa = kubeconfig(await serviceAccountKubeconfig('baton-routes'));
  const needed = granted('baton-routes');
  t.diagnostic(`baton-routes needs: ${needed.map(label).join(', ')}`);
  for (const rule of needed) assert.ok(await allowed(sa, rule), `${label(rule)} should be allowed`);
  const forbidden: Rule[] = [
    { group: '', resource: 'services', verb: 'patch' },
    { group: '', resource: 'services', verb: 'update' },
    { group: '', resource: 'services', verb: 'delete' },
    { group: '', resource: 'pods', verb: 'list' },
    { group: '', resource: 'pods', verb: 'patch' },
    { group: '', resource: 'secrets', verb: 'get' },
    { group: '', resource: 'secrets', verb: 'list' },
    { group: 'networking.k8s.io', resource: 'ingresses', verb: 'update' },
    { group: 'networking.k8s.io', resource: 'ingresses', verb: 'watch' },
    { group: 'networking.k8s.io', resource: 'ingresses/status', verb: 'patch' },
    { group: 'networking.k8s.io', resource: 'ingressclasses', verb: 'create' },
    { group: 'networking.k8s.io', resource: 'networkpolicies', verb: 'create' },
    { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'list' },
    { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create' },
  ];
  const leaks: string[] = [];
  for (const rule of forbidden) if (await allowed(sa, rule, 'default')) leaks.push(label(rule));
  assert.deepEqual(leaks, [], 'verbs the routes function does not need but is allowed');
  await denied('read a Secret (TLS Secrets are only named)', () => sa.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: 'anything', namespace: 'kube-system' }));
});
