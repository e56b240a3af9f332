import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointSliceSchema, podSchema, serviceSchema } from '../../../../shared/events/objects.js';

const metadata = {
  name: 'web-0',
  namespace: 'demo',
  uid: 'u-1',
  resourceVersion: '7',
  creationTimestamp: '2025-03-14T09:02:11Z',
};

describe('object schemas', () => {
  it('accept a minimal Pod and keep unknown fields', () => {
    const parsed = podSchema.parse({ metadata: { ...metadata, futureField: 1 }, spec: { nodeName: 'n' } });
    assert.equal(parsed.metadata.name, 'web-0');
    assert.equal(parsed.metadata['futureField'], 1);
    assert.deepEqual(parsed['spec'], { nodeName: 'n' });
    assert.equal(parsed.status, undefined);
  });

  it('accept an empty EndpointSlice, whose endpoints the API sends as null', () => {
    const parsed = endpointSliceSchema.parse({
      metadata: { ...metadata, labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: null,
    });
    assert.equal(parsed.endpoints, undefined);
  });

  it('turn null timestamps (metav1.Time zero value) into undefined', () => {
    const parsed = podSchema.parse({
      metadata: { ...metadata, deletionTimestamp: null },
      status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: null, lastProbeTime: null }] },
    });
    assert.equal(parsed.metadata.deletionTimestamp, undefined);
    assert.equal(parsed.status?.conditions?.[0]?.lastTransitionTime, undefined);
  });

  for (const field of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'] as const) {
    it(`require metadata.${field}`, () => {
      const { [field]: _dropped, ...rest } = metadata;
      const result = podSchema.safeParse({ metadata: rest });
      assert.equal(result.success, false);
      assert.deepEqual(result.error?.issues[0]?.path, ['metadata', field]);
    });
  }

  it('reject labels that are not strings', () => {
    assert.equal(podSchema.safeParse({ metadata: { ...metadata, labels: { a: 1 } } }).success, false);
  });

  it('require a Service spec but not a selector', () => {
    assert.equal(serviceSchema.safeParse({ metadata }).success, false);
    assert.equal(serviceSchema.safeParse({ metadata, spec: { type: 'ExternalName' } }).success, true);
  });

  it('require the service-name label on an EndpointSlice and tolerate a targetRef without uid', () => {
    const labels = { 'kubernetes.io/service-name': 'web', other: 'x' };
    const slice = {
      metadata: { ...metadata, labels },
      endpoints: [{ addresses: ['10.0.0.1'], targetRef: { kind: 'Pod', name: 'web-0' } }],
    };
    const parsed = endpointSliceSchema.parse(slice);
    assert.equal(parsed.metadata.labels['kubernetes.io/service-name'], 'web');
    assert.equal(parsed.endpoints?.[0]?.targetRef?.uid, undefined);
    assert.equal(endpointSliceSchema.safeParse({ metadata: { ...metadata, labels: { other: 'x' } } }).success, false);
    assert.equal(endpointSliceSchema.safeParse({ metadata: { ...metadata, labels } }).success, true, 'no endpoints is fine');
  });
});
