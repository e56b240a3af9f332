// What `skaffold run` would deploy, checked without a Docker engine: skaffold (built
// from its Go module) accepts skaffold.yaml and renders knative/ for every profile,
// the API server accepts every rendered object in a server-side dry run (Knative CRDs
// installed), the shipped RBAC is the RBAC the other e2e tests run under, and the
// settings that matter on purpose (warm failover, private routes, probes, limits,
// scope) are what the README says.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describeConfig, loadConfig } from '../../shared/config/env.js';
import { repoRoot } from '../../plane/paths.js';
import { ensureSkaffold } from '../../plane/skaffold.js';
import { adminConfig, statusOf, testPlane } from './support/plane.js';

// image: what the profile builds, and so what the functions must run (local uses a
// name Knative does not resolve in a registry).
const PROFILES = [
  { name: 'default', args: [] as string[], overlay: 'knative/overlays/production', image: 'baton' },
  { name: 'local', args: ['-p', 'local'], overlay: 'knative/overlays/local', image: 'dev.local/baton' },
  { name: 'production', args: ['-p', 'production'], overlay: 'knative/overlays/production', image: 'baton' },
] as const;

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

let skaffoldPath = '';
let home = '';
const rendered = new Map<string, Obj[]>();
const renderedText = new Map<string, string>();

const root = repoRoot();
const kubectlPath = (): string => testPlane().binaries.paths.kubectl;

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // skaffold keeps a global config (telemetry prompt, update check) under $HOME;
    // a private one keeps the test from writing to the user's and from phoning home.
    HOME: home,
    SKAFFOLD_UPDATE_CHECK: 'false',
    KUBECONFIG: testPlane().kubeconfig,
    // skaffold renders kustomize through `kubectl kustomize` when no kustomize binary
    // is installed: the plane's kubectl comes first.
    PATH: [dirname(kubectlPath()), process.env.PATH ?? ''].join(delimiter),
  };
}

function run(cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: root, env: env(), encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

// YAML to plain objects. client-node's loadAllYaml maps every document onto its
// built-in models, so a Knative Service comes back as a core Service without its
// spec; kubectl's --local mode converts without a server and drops nothing (removing
// a label nobody has is the no-op that makes it print the objects).
function parse(text: string): Obj[] {
  const file = join(mkdtempSync(join(tmpdir(), 'baton-yaml-')), 'in.yaml');
  writeFileSync(file, text);
  const out = ok(run(kubectlPath(), ['label', '--local', '-o', 'json', '-f', file, 'baton.dev/unused-']), `converting ${file} to JSON`);
  return out
    .trim()
    .split(/\n(?=\{)/)
    .filter((chunk) => chunk !== '')
    .map((chunk) => JSON.parse(chunk) as Obj);
}
const find = (objs: Obj[], kind: string, name: string, apiVersion?: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name && (!apiVersion || x.apiVersion === apiVersion));
  assert.ok(o, `no ${kind} ${name} in the rendered manifests`);
  return o;
};
const ksvc = (objs: Obj[], name: string): Obj => find(objs, 'Service', name, 'serving.knative.dev/v1');
const spec = (o: Obj): unknown => o['spec'];
// Walks a parsed manifest by path; a missing step gives undefined, so the assertion on
// the result fails rather than the walk throwing.
function at(value: unknown, ...path: ReadonlyArray<string | number>): unknown {
  let here = value;
  for (const step of path) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}
const items = (value: unknown): unknown[] => {
  assert.ok(Array.isArray(value), `not a list: ${JSON.stringify(value)}`);
  return value as unknown[];
};
const text = (value: unknown): string => {
  assert.equal(typeof value, 'string', `not a string: ${JSON.stringify(value)}`);
  return value as string;
};

before(async () => {
  const started = Date.now();
  const skaffold = await ensureSkaffold((m) => console.error(`[skaffold ${((Date.now() - started) / 1000).toFixed(0)} s] ${m}`));
  skaffoldPath = skaffold.path;
  home = mkdtempSync(join(tmpdir(), 'baton-skaffold-home-'));
  mkdirSync(join(home, '.skaffold'));
  writeFileSync(join(home, '.skaffold', 'config'), 'global:\n  collect-metrics: false\n  update-check: false\n  survey:\n    disable-prompt: true\n');
});

test('skaffold diagnose --yaml-only accepts skaffold.yaml for every profile', () => {
  for (const p of PROFILES) {
    const out = ok(run(skaffoldPath, ['diagnose', '--yaml-only', ...p.args]), `skaffold diagnose (${p.name})`);
    const config: unknown = parse(out)[0];
    assert.equal(at(config, 'apiVersion'), 'skaffold/v4beta13', p.name);
    assert.deepEqual(
      items(at(config, 'build', 'artifacts')).map((a) => [at(a, 'image'), at(a, 'docker', 'dockerfile')]),
      [[p.image, 'Dockerfile']],
      `${p.name}: one image, built from the Dockerfile`,
    );
    assert.deepEqual(at(config, 'manifests', 'kustomize', 'paths'), [join(root, p.overlay)], p.name);
    assert.ok(at(config, 'deploy', 'kubectl'), `${p.name} deploys with kubectl`);
    if (p.name === 'local') assert.equal(at(config, 'build', 'local', 'push'), false);
    if (p.name === 'production') assert.equal(at(config, 'build', 'local', 'push'), true);
  }
});

test('skaffold render --offline gives the same objects as kubectl kustomize, for every profile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-render-'));
  for (const p of PROFILES) {
    const file = join(dir, `${p.name}.yaml`);
    ok(run(skaffoldPath, ['render', '--offline', '--digest-source=none', ...p.args, '-o', file]), `skaffold render (${p.name})`);
    const text = readFileSync(file, 'utf8');
    const objs = parse(text);
    rendered.set(p.name, objs);
    renderedText.set(p.name, text);
    const kustomized = parse(ok(run(kubectlPath(), ['kustomize', p.overlay]), `kubectl kustomize ${p.overlay}`));
    assert.deepEqual(objs, kustomized, `${p.name}: skaffold must not change what kustomize renders`);
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ApiServerSource/baton-cluster',
      'Broker/baton',
      'ClusterRole/baton-failover',
      'ClusterRole/baton-routes',
      'ClusterRole/baton-source',
      'ClusterRoleBinding/baton-failover',
      'ClusterRoleBinding/baton-routes',
      'ClusterRoleBinding/baton-source',
      `ConfigMap/${objs.find((o) => o.kind === 'ConfigMap')?.metadata.name}`,
      'Namespace/baton-system',
      'NetworkPolicy/baton-functions',
      'PingSource/baton-resync',
      'Service/baton-dead-letter',
      'Service/baton-failover',
      'Service/baton-resync',
      'Service/baton-routes',
      'ServiceAccount/baton-failover',
      'ServiceAccount/baton-routes',
      'ServiceAccount/baton-source',
      'SinkBinding/baton-audit',
      'Trigger/baton-failover',
      'Trigger/baton-routes',
      'ValidatingAdmissionPolicy/baton-pinned-selector',
      'ValidatingAdmissionPolicy/baton-pod-id',
      'ValidatingAdmissionPolicyBinding/baton-pinned-selector',
      'ValidatingAdmissionPolicyBinding/baton-pod-id',
    ]);
    // skaffold only swaps in the built tag where the manifest names its artifact.
    assert.equal(at(ksvc(objs, 'baton-failover'), 'spec', 'template', 'spec', 'containers', 0, 'image'), p.image, p.name);
    assert.equal(at(ksvc(objs, 'baton-resync'), 'spec', 'template', 'spec', 'containers', 0, 'image'), p.image, p.name);
    assert.equal(at(ksvc(objs, 'baton-routes'), 'spec', 'template', 'spec', 'containers', 0, 'image'), p.image, p.name);
  }
});

/** Creates baton-system for real: a dry run cannot create the namespace its objects go in. */
async function ensureSystemNamespace(): Promise<void> {
  await adminConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name: 'baton-system' } } })
    .catch((e: unknown) => {
      if (statusOf(e) !== 409) throw e;
    });
}

function dryRun(yaml: string, count: number, what: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-dry-'));
  const file = join(dir, 'all.yaml');
  writeFileSync(file, yaml);
  // kubectl's default --validate=strict: a misspelt field is an error, not pruned.
  const out = ok(run(kubectlPath(), ['--kubeconfig', testPlane().kubeconfig, 'apply', '--dry-run=server', '-f', file]), `dry run of ${what}`);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, count, `${what}: one line per object:\n${out}`);
  for (const line of lines) assert.match(line, /\(server dry run\)$/, what);
  return out;
}

test('every rendered manifest passes kubectl apply --dry-run=server against the plane with Knative CRDs', async () => {
  await ensureSystemNamespace();
  for (const p of PROFILES) {
    const objs = rendered.get(p.name);
    const text = renderedText.get(p.name);
    assert.ok(objs && text, 'render test ran first');
    const out = dryRun(text, objs.length, `profile ${p.name}`);
    assert.match(out, /apiserversource\.sources\.knative\.dev\/baton-cluster (created|configured|unchanged) \(server dry run\)/);
    assert.match(out, /service\.serving\.knative\.dev\/baton-failover (created|configured|unchanged) \(server dry run\)/);
  }
  const examples = ok(run(kubectlPath(), ['kustomize', 'knative/examples']), 'kubectl kustomize knative/examples');
  dryRun(examples, parse(examples).length, 'knative/examples');
  const list = (await adminConfig()
    .makeApiClient(k8s.CustomObjectsApi)
    .listNamespacedCustomObject({ group: 'serving.knative.dev', version: 'v1', namespace: 'baton-system', plural: 'services' })) as { items: unknown[] };
  assert.equal(list.items.length, 0, 'a dry run must not create anything');
});

test('the rendered RBAC is exactly knative/base/rbac.yaml, the RBAC the e2e tests run under', () => {
  const shipped = parse(readFileSync(join(root, 'knative', 'base', 'rbac.yaml'), 'utf8'));
  const rbacKinds = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  for (const p of PROFILES) {
    const objs = rendered.get(p.name)!;
    const rbac = objs.filter((o) => rbacKinds.has(o.kind));
    assert.deepEqual(
      rbac.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(),
      shipped.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(),
      `${p.name}: no RBAC object added or dropped`,
    );
    for (const want of shipped) {
      const got = find(rbac, want.kind, want.metadata.name);
      // Everything but metadata (kustomize adds the part-of label): rules, roleRef,
      // subjects, in the same order.
      const { metadata: _a, ...wantBody } = want;
      const { metadata: _b, ...gotBody } = got;
      assert.equal(JSON.stringify(gotBody), JSON.stringify(wantBody), `${p.name}: ${want.kind} ${want.metadata.name}`);
    }
    // Whatever the source watches, its account may get, list and watch: the
    // ApiServerSource controller refuses to start the adapter otherwise.
    const sourceRules = find(objs, 'ClusterRole', 'baton-source')['rules'];
    const source = spec(find(objs, 'ApiServerSource', 'baton-cluster'));
    assert.equal(at(source, 'serviceAccountName'), 'baton-source');
    for (const r of at(source, 'resources') as Array<{ apiVersion: string; kind: string }>) {
      const group = r.apiVersion.includes('/') ? (r.apiVersion.split('/')[0] ?? '') : '';
      // Every kind the source watches pluralises regularly except Ingress.
      const plural = r.kind === 'Ingress' ? 'ingresses' : `${r.kind.toLowerCase()}s`;
      const verbs = new Set(
        (sourceRules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>)
          .filter((rule) => rule.apiGroups.includes(group) && rule.resources.includes(plural))
          .flatMap((rule) => rule.verbs),
      );
      for (const verb of ['get', 'list', 'watch']) assert.ok(verbs.has(verb), `${p.name}: baton-source may not ${verb} ${plural}`);
    }
    for (const name of ['baton-failover', 'baton-resync']) assert.equal(at(ksvc(objs, name), 'spec', 'template', 'spec', 'serviceAccountName'), 'baton-failover', name);
    assert.equal(at(ksvc(objs, 'baton-routes'), 'spec', 'template', 'spec', 'serviceAccountName'), 'baton-routes');
  }
});

test('the functions are private, probed, bounded, and failover is kept warm', () => {
  for (const p of PROFILES) {
    const objs = rendered.get(p.name)!;
    for (const name of ['baton-failover', 'baton-resync', 'baton-routes', 'baton-dead-letter']) {
      assert.equal(ksvc(objs, name).metadata.labels?.['networking.knative.dev/visibility'], 'cluster-local', `${p.name}: ${name} has no public route`);
    }
    const failover = at(ksvc(objs, 'baton-failover'), 'spec', 'template');
    assert.equal(at(failover, 'metadata', 'annotations', 'autoscaling.knative.dev/min-scale'), '1', `${p.name}: failover must not pay a cold start`);
    for (const [name, fn] of [['baton-failover', 'failover'], ['baton-resync', 'resync'], ['baton-routes', 'routes']] as const) {
      const container = at(ksvc(objs, name), 'spec', 'template', 'spec', 'containers', 0);
      assert.deepEqual(at(container, 'args'), [fn]);
      assert.equal(at(container, 'readinessProbe', 'httpGet', 'path'), '/readyz', name);
      assert.equal(at(container, 'livenessProbe', 'httpGet', 'path'), '/healthz', name);
      for (const kind of ['requests', 'limits']) {
        assert.ok(at(container, 'resources', kind, 'cpu') && at(container, 'resources', kind, 'memory'), `${p.name}: ${name} has cpu and memory ${kind}`);
      }
      assert.equal(at(container, 'securityContext', 'runAsNonRoot'), true);
    }
  }
});

// The plane's kwok nodes have no CNI, so enforcement itself cannot be shown here; what
// can be checked is that the policy covers every function and admits nothing more than
// Knative's namespaces.
test('a NetworkPolicy admits only Knative to every function pod', () => {
  for (const p of PROFILES) {
    const objs = rendered.get(p.name)!;
    const policy = spec(find(objs, 'NetworkPolicy', 'baton-functions'));
    const ksvcs = objs.filter((o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service').map((o) => o.metadata.name).sort();
    assert.deepEqual(at(policy, 'podSelector'), { matchExpressions: [{ key: 'serving.knative.dev/service', operator: 'In', values: ksvcs }] }, `${p.name}: every Knative Service of baton, and only those`);
    assert.deepEqual(at(policy, 'policyTypes'), ['Ingress'], p.name);
    assert.equal(items(at(policy, 'ingress')).length, 1, p.name);
    const from = at(policy, 'ingress', 0, 'from') as Array<Record<string, unknown>>;
    assert.ok(at(policy, 'ingress', 0, 'ports') === undefined, `${p.name}: ports are not narrowed (queue-proxy's differ between Knative versions)`);
    assert.deepEqual(from, [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['knative-eventing', 'knative-serving', 'kourier-system'] }] } }], `${p.name}: no pod selector, IP block or empty rule that would let others in`);
  }
});

test('events are wired: source → Broker → failover and routes with retries and a dead letter, ping → resync, audit → Broker', () => {
  for (const p of PROFILES) {
    const objs = rendered.get(p.name)!;
    const source = spec(find(objs, 'ApiServerSource', 'baton-cluster'));
    assert.equal(at(source, 'mode'), 'Resource');
    assert.deepEqual(items(at(source, 'resources')).map((r) => at(r, 'kind')).sort(), ['EndpointSlice', 'Ingress', 'Pod', 'Service']);
    // Only baton's own Ingresses: every other Ingress in the cluster would be noise.
    assert.deepEqual(at(items(at(source, 'resources')).find((r) => at(r, 'kind') === 'Ingress'), 'selector'), { matchLabels: { 'app.kubernetes.io/managed-by': 'baton' } });
    assert.deepEqual(at(source, 'sink', 'ref'), { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'baton' });
    for (const [name, kinds] of [['baton-failover', ['Pod', 'EndpointSlice', 'Service']], ['baton-routes', ['Service', 'Ingress']]] as const) {
      const trigger = spec(find(objs, 'Trigger', name));
      assert.equal(at(trigger, 'broker'), 'baton');
      assert.deepEqual(at(trigger, 'filters'), [{ prefix: { type: 'dev.knative.apiserver.resource.' } }, { any: kinds.map((kind) => ({ exact: { kind } })) }]);
      assert.equal(at(trigger, 'subscriber', 'ref', 'name'), name);
      assert.equal(at(trigger, 'delivery', 'backoffPolicy'), 'exponential');
      assert.ok(Number(at(trigger, 'delivery', 'retry')) > 0);
      ksvc(objs, text(at(trigger, 'delivery', 'deadLetterSink', 'ref', 'name')));
    }
    const ping = spec(find(objs, 'PingSource', 'baton-resync'));
    assert.equal(at(ping, 'sink', 'ref', 'name'), 'baton-resync');
    // The binding's selector must pick every function and nothing else.
    const binding = spec(find(objs, 'SinkBinding', 'baton-audit'));
    assert.equal(at(binding, 'sink', 'ref', 'kind'), 'Broker');
    const selected = objs
      .filter((o) => o.apiVersion === at(binding, 'subject', 'apiVersion') && o.kind === at(binding, 'subject', 'kind'))
      .filter((o) => (at(binding, 'subject', 'selector', 'matchExpressions') as Array<{ key: string; values: string[] }>).every((e) => e.values.includes(o.metadata.labels?.[e.key] ?? '')))
      .map((o) => o.metadata.name)
      .sort();
    assert.deepEqual(selected, ['baton-failover', 'baton-resync', 'baton-routes'], p.name);
  }
});

test('each overlay configures the functions with values they accept, and one consistent scope', () => {
  const known = new Set(describeConfig().map((k) => k.name));
  for (const p of PROFILES) {
    const objs = rendered.get(p.name)!;
    const config = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('baton-config-'));
    assert.ok(config, `${p.name}: baton-config is generated with a content hash`);
    const data = config['data'] as Record<string, string>;
    for (const key of Object.keys(data)) assert.ok(known.has(key), `${p.name}: ${key} is not a baton setting`);
    assert.ok(!('PORT' in data), 'Knative sets PORT itself');
    // Throws a ConfigError naming the variable if an overlay sets a bad value.
    const loaded = loadConfig(data);
    for (const name of ['baton-failover', 'baton-resync', 'baton-routes']) {
      assert.equal(at(ksvc(objs, name), 'spec', 'template', 'spec', 'containers', 0, 'envFrom', 0, 'configMapRef', 'name'), config.metadata.name, `${p.name}: ${name} reads the generated ConfigMap`);
    }
    // What the source watches and what the functions act on must be the same set.
    const selector = at(spec(find(objs, 'ApiServerSource', 'baton-cluster')), 'namespaceSelector');
    if (loaded.namespaces.length === 0) assert.deepEqual(selector, {}, `${p.name}: all namespaces on both sides`);
    else assert.deepEqual(selector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...loaded.namespaces] }] }, p.name);
  }
  const localConfig = rendered.get('local')!.find((o) => o.kind === 'ConfigMap')!;
  assert.equal(loadConfig(localConfig['data'] as Record<string, string>).logLevel, 'debug');
});

test('the example subscriber type-checks against the published audit schemas', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  ok(run(process.execPath, [tsc, '-p', join('knative', 'examples', 'subscriber', 'tsconfig.json')]), 'tsc on knative/examples/subscriber');
});
