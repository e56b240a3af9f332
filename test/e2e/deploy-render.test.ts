// What `skaffold run` would deploy, checked without a Docker engine: skaffold (built
// from its Go module) accepts skaffold.yaml and renders knative/ for every profile,
// the API server accepts every rendered object in a server-side dry run (Knative CRDs
// installed), the shipped RBAC is the RBAC the other e2e tests run under, and the
// settings that matter on purpose (warm failover, private routes, probes, limits,
// scope) are what the README says.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { adminConfig } from './support/plane.js';
import { REGISTRY_HOST } from '../../plane/node/network.js';
import { PROFILES, skaffoldPath, render, root, kubectlPath, run, ok, parse, find, ksvc, spec, ensureSystemNamespace, dryRun, at, items } from './support/deploy.js';

test('skaffold diagnose --yaml-only accepts skaffold.yaml for every profile', () => {
  for (const p of PROFILES) {
    const out = ok(run(skaffoldPath, ['diagnose', '--yaml-only', ...p.args]), `skaffold diagnose (${p.name})`);
    const config: unknown = parse(out)[0];
    assert.equal(at(config, 'apiVersion'), 'skaffold/v4beta13', p.name);
    assert.deepEqual(
      // The plane's builder is buildah behind a custom command; it builds the same file.
      items(at(config, 'build', 'artifacts')).map((a) => [at(a, 'image'), p.name === 'plane' ? items(at(a, 'custom', 'dependencies', 'paths')).find((f) => f === 'Dockerfile') : at(a, 'docker', 'dockerfile')]),
      [[p.image, 'Dockerfile']],
      `${p.name}: one image, built from the Dockerfile`,
    );
    assert.deepEqual(at(config, 'manifests', 'kustomize', 'paths'), [join(root, p.overlay)], p.name);
    assert.ok(at(config, 'deploy', 'kubectl'), `${p.name} deploys with kubectl`);
    if (p.name === 'local') assert.equal(at(config, 'build', 'local', 'push'), false);
    if (p.name === 'production' || p.name === 'plane') assert.equal(at(config, 'build', 'local', 'push'), true);
    if (p.name === 'plane') {
      assert.deepEqual(at(config, 'build', 'insecureRegistries'), [REGISTRY_HOST], 'plane: pushes to the real node\'s registry over plain HTTP');
      const custom = at(items(at(config, 'build', 'artifacts'))[0], 'custom');
      assert.equal(at(custom, 'buildCommand'), 'node scripts/plane-image.mjs');
      // The custom artifact's inputs, by path: everything the Dockerfile copies from the
      // context, the Dockerfile itself and the builder, so that a change to any of them
      // is a new artifact (skaffold's cache, `skaffold dev`).
      const copies = readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n').filter((l) => /^COPY /.test(l) && !/^COPY --from=/.test(l));
      const copied = copies.flatMap((l) => {
        // Only the plain form is read here; another form (flags, JSON array) must be taught to this test.
        const m = /^COPY ((?:[\w./-]+ )+)[\w./-]+$/.exec(l);
        assert.ok(m, `a COPY line this test cannot read: ${l}`);
        return m[1]!.trim().split(' ');
      });
      assert.ok(copied.length > 0, 'the Dockerfile copies from the context');
      const paths = items(at(custom, 'dependencies', 'paths'));
      for (const needed of ['scripts/plane-image.mjs', 'plane/node/project-image.ts', ...copied]) assert.ok(paths.includes(needed), `plane: ${needed} is among the artifact's dependencies`);
    }
  }
});

test('skaffold render --offline gives the same objects as kubectl kustomize, for every profile', () => {
  for (const p of PROFILES) {
    const { objs } = render(p.name);
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

test('every rendered manifest passes kubectl apply --dry-run=server against the plane with Knative CRDs', async () => {
  await ensureSystemNamespace();
  for (const p of PROFILES) {
    const { objs, text } = render(p.name);
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
    const objs = render(p.name).objs;
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
