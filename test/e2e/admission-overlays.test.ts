// The admission policies in knative/base/admission.yaml, on the real API server, with
// baton running behind the real adapter and an independent EndpointSlice watch.
//
// The shipped bindings are cluster-wide; other e2e tests in the same run remove the
// pod-id key on purpose (to test re-pinning), so each test here binds the shipped
// policy, under a name of its own, to its own namespace only.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../plane/paths.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { POD_ID, policiesIn, enforce, podProbe, refused, kubectl } from './support/admission.js';

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
