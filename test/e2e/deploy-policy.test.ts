// What `skaffold run` would deploy, checked without a Docker engine: skaffold (built
// from its Go module) accepts skaffold.yaml and renders knative/ for every profile,
// the API server accepts every rendered object in a server-side dry run (Knative CRDs
// installed), the shipped RBAC is the RBAC the other e2e tests run under, and the
// settings that matter on purpose (warm failover, private routes, probes, limits,
// scope) are what the README says.
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describeConfig, loadConfig } from '../../shared/config/env.js';
import { PROFILES, render, root, run, ok, find, ksvc, spec, at, items, text } from './support/deploy.js';

test('the functions are private, probed, bounded, and failover is kept warm', () => {
  for (const p of PROFILES) {
    const objs = render(p.name).objs;
    for (const name of ['baton-failover', 'baton-resync', 'baton-routes', 'baton-dead-letter']) {
      assert.equal(ksvc(objs, name).metadata.labels?.['networking.knative.dev/visibility'], 'cluster-local', `${p.name}: ${name} has no public route`);
    }
    const failover = at(ksvc(objs, 'baton-failover'), 'spec', 'template');
    assert.equal(at(failover, 'metadata', 'annotations', 'autoscaling.knative.dev/min-scale'), '1', `${p.name}: failover must not pay a cold start`);
    // Knative scales to zero only after its 60 s stable window plus a 30 s grace without
    // traffic: a sweep posted every minute keeps the pod up, so a "0" would be a claim
    // the cluster never honours.
    const schedule = at(spec(find(objs, 'PingSource', 'baton-resync')), 'schedule');
    const resyncMin = at(ksvc(objs, 'baton-resync'), 'spec', 'template', 'metadata', 'annotations', 'autoscaling.knative.dev/min-scale');
    if (schedule === '* * * * *') assert.notEqual(resyncMin, '0', `${p.name}: resync cannot reach zero under a one-minute schedule`);
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
    const objs = render(p.name).objs;
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
    const objs = render(p.name).objs;
    const source = spec(find(objs, 'ApiServerSource', 'baton-cluster'));
    assert.equal(at(source, 'mode'), 'Resource');
    assert.deepEqual(items(at(source, 'resources')).map((r) => at(r, 'kind')).sort(), ['EndpointSlice', 'Ingress', 'Node', 'Pod', 'Service']);
    // Only baton's own Ingresses: every other Ingress in the cluster would be noise.
    assert.deepEqual(at(items(at(source, 'resources')).find((r) => at(r, 'kind') === 'Ingress'), 'selector'), { matchLabels: { 'app.kubernetes.io/managed-by': 'baton' } });
    assert.deepEqual(at(source, 'sink', 'ref'), { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'baton' });
    for (const [name, kinds] of [['baton-failover', ['Pod', 'EndpointSlice', 'Service', 'Node']], ['baton-routes', ['Service', 'Ingress']]] as const) {
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
    const objs = render(p.name).objs;
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
  const localConfig = render('local').objs.find((o) => o.kind === 'ConfigMap')!;
  assert.equal(loadConfig(localConfig['data'] as Record<string, string>).logLevel, 'debug');
});

test('the example subscriber type-checks against the published audit schemas', () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  ok(run(process.execPath, [tsc, '-p', join('knative', 'examples', 'subscriber', 'tsconfig.json')]), 'tsc on knative/examples/subscriber');
});
