import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyPhases, cpuMillis, KNATIVE_DOMAIN, KOURIER_INGRESS_CLASS, prepareManifests, realNodeNamespaceAnnotations, type Doc } from '../../../../plane/knative/manifests.js';

const images = {
  ko: new Map([
    ['ko://knative.dev/serving/cmd/controller', '198.18.128.1:5000/knative/serving-controller@sha256:aa'],
    ['ko://knative.dev/serving/cmd/queue', '198.18.128.1:5000/knative/serving-queue@sha256:bb'],
  ]),
  envoy: '198.18.128.1:5000/knative/envoy@sha256:cc',
};

const deployment = (image: string, env: Array<{ name: string; value: string }> = []): Doc => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'controller', namespace: 'knative-serving' },
  spec: { template: { spec: { containers: [{ name: 'c', image, env }] } } },
});

describe('the Knative release YAML as the plane applies it', () => {
  it('pins every ko:// reference, in images and in values alike, and Kourier\'s Envoy', () => {
    const [d, cm, gw] = prepareManifests(
      [
        deployment('ko://knative.dev/serving/cmd/controller', [{ name: 'QUEUE_IMAGE', value: 'ko://knative.dev/serving/cmd/queue' }]),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-deployment', namespace: 'knative-serving' }, data: { 'queue-sidecar-image': 'ko://knative.dev/serving/cmd/queue' } },
        { ...deployment('docker.io/envoyproxy/envoy:v1.36-latest'), metadata: { name: '3scale-kourier-gateway', namespace: 'kourier-system' } },
      ],
      images,
    );
    assert.match(JSON.stringify(d), /serving-controller@sha256:aa/);
    assert.match(JSON.stringify(d), /"value":"198\.18\.128\.1:5000\/knative\/serving-queue@sha256:bb"/);
    assert.equal((cm!.data as Record<string, string>)['queue-sidecar-image'], images.ko.get('ko://knative.dev/serving/cmd/queue'));
    assert.match(JSON.stringify(gw), /knative\/envoy@sha256:cc/);
    assert.doesNotMatch(JSON.stringify([d, cm, gw]), /ko:\/\/|docker\.io/);
  });

  it('refuses a ko:// reference it has no image for, naming it', () => {
    assert.throws(() => prepareManifests([deployment('ko://knative.dev/eventing/cmd/jobsink')], images), /no image built for ko:\/\/knative\.dev\/eventing\/cmd\/jobsink/);
  });

  it('leaves any other image alone', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9./:@-]{1,40}$/), (image) => {
        fc.pre(!image.startsWith('ko://') && !image.startsWith('docker.io/envoyproxy/envoy:'));
        const [d] = prepareManifests([deployment(image)], images);
        assert.deepEqual(d, deployment(image));
      }),
    );
  });

  it('makes Kourier the ingress, sets the local domain, skips tag resolution for images made here, and keeps upstream\'s other settings', () => {
    const docs = prepareManifests(
      [
        { kind: 'ConfigMap', metadata: { name: 'config-network', namespace: 'knative-serving' }, data: { _example: 'x', 'ingress-class': 'istio.ingress.networking.knative.dev' } },
        { kind: 'ConfigMap', metadata: { name: 'config-domain', namespace: 'knative-serving' }, data: { _example: 'x' } },
        { kind: 'ConfigMap', metadata: { name: 'config-deployment', namespace: 'knative-serving' }, data: { 'queue-sidecar-image': 'ko://knative.dev/serving/cmd/queue' } },
        { kind: 'ConfigMap', metadata: { name: 'config-network', namespace: 'elsewhere' }, data: {} },
      ],
      images,
    );
    assert.deepEqual(docs[0]!.data, { _example: 'x', 'ingress-class': KOURIER_INGRESS_CLASS });
    assert.deepEqual(docs[1]!.data, { [KNATIVE_DOMAIN]: '' });
    assert.match((docs[2]!.data as Record<string, string>)['registries-skipping-tag-resolving']!, /^kind\.local,ko\.local,dev\.local,baton\.local,198\.18\.128\.1:5000$/);
    assert.deepEqual(docs[3]!.data, {}, 'a ConfigMap of the same name elsewhere is not Knative\'s');
  });

  it('gives the Kourier gateway a ClusterIP, never NodePorts on the host\'s addresses', () => {
    const [svc] = prepareManifests([{ kind: 'Service', metadata: { name: 'kourier', namespace: 'kourier-system' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }], images);
    assert.deepEqual(svc!.spec, { type: 'ClusterIP', ports: [{ port: 80 }] });
  });

  it('puts the pods of Knative\'s namespaces on the real node, and no other namespace\'s', () => {
    const docs = prepareManifests(
      ['knative-serving', 'knative-eventing', 'kourier-system', 'default'].map((name) => ({ kind: 'Namespace', metadata: { name, annotations: { keep: 'me' } } })),
      images,
    );
    for (const d of docs.slice(0, 3)) assert.deepEqual(d.metadata?.annotations, { keep: 'me', ...realNodeNamespaceAnnotations() });
    assert.deepEqual(docs[3]!.metadata?.annotations, { keep: 'me' });
    const a = realNodeNamespaceAnnotations();
    assert.equal(a['scheduler.alpha.kubernetes.io/node-selector'], 'baton.dev/real-node=true');
    assert.deepEqual(JSON.parse(a['scheduler.alpha.kubernetes.io/defaultTolerations']!), [{ key: 'baton.dev/real-node', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  it('drops empty documents, and applies namespaces and CRDs first, each phase in upstream\'s order', () => {
    const docs = prepareManifests([null as unknown as Doc, { kind: 'ConfigMap', metadata: { name: 'a' } }, { kind: 'CustomResourceDefinition', metadata: { name: 'b' } }, { kind: 'Namespace', metadata: { name: 'c' } }, { kind: 'Deployment', metadata: { name: 'd' } }], images);
    const [first, rest] = applyPhases(docs);
    assert.deepEqual(first.map((d) => d.metadata?.name), ['b', 'c']);
    assert.deepEqual(rest.map((d) => d.metadata?.name), ['a', 'd']);
  });

  it('asks a quarter of upstream\'s CPU for Knative\'s own pods (at least 10m), keeping limits and every other field', () => {
    const withCpu = (ns: string, requests: Record<string, string>): Doc => ({
      kind: 'Deployment',
      metadata: { name: 'activator', namespace: ns },
      spec: { replicas: 1, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'a', resources: { requests, limits: { cpu: '1', memory: '600Mi' } } }, { name: 'b' }] } } },
    });
    const [a, b, c] = prepareManifests([withCpu('knative-serving', { cpu: '300m', memory: '60Mi' }), withCpu('kourier-system', { cpu: '20m' }), withCpu('default', { cpu: '300m' })], images);
    assert.deepEqual(a, withCpu('knative-serving', { cpu: '75m', memory: '60Mi' }));
    assert.deepEqual(b, withCpu('kourier-system', { cpu: '10m' }));
    assert.deepEqual(c, withCpu('default', { cpu: '300m' }), 'a Deployment outside Knative\'s namespaces is left alone');
    assert.equal(cpuMillis('1'), 1000);
    assert.equal(cpuMillis('0.5'), 500);
    assert.equal(cpuMillis('250m'), 250);
    assert.equal(cpuMillis('lots'), undefined);
  });
});
