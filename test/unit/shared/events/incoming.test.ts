
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIncoming } from '../../../../shared/events/incoming.js';
import { binary, loadEnvelope, structured, FIXTURES, type FixtureName } from '../../../fixtures/apiserversource.js';
import { accepted, rejected, expectations } from './fixtures.js';

describe('parseIncoming: recorded ApiServerSource events', () => {
  for (const name of Object.keys(FIXTURES) as FixtureName[]) {
    for (const [mode, encode] of [
      ['structured', structured],
      ['binary', binary],
    ] as const) {
      it(`${name} in ${mode} mode`, () => {
        const envelope = loadEnvelope(name);
        const event = accepted(parseIncoming(encode(envelope)));
        const want = expectations[name];
        assert.equal(event.kind, want.kind);
        assert.ok(event.kind !== 'Other');
        assert.equal(event.action, want.action);
        assert.equal(event.object.metadata.name, want.name);
        assert.equal(event.object.metadata.namespace, 'demo');
        assert.equal(event.id, envelope['id']);
        assert.equal(event.source, 'https://127.0.0.1:6443');
        assert.equal(event.subject, envelope['subject']);
        assert.equal(event.time, envelope['time']);
      });
    }
  }

  it('keeps the fields baton reads from a Pod and passes the rest through', () => {
    const event = accepted(parseIncoming(binary(loadEnvelope('podUpdateNotReady'))));
    assert.equal(event.kind, 'Pod');
    if (event.kind !== 'Pod') return;
    const ready = event.object.status?.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual(
      { status: ready?.status, since: ready?.lastTransitionTime },
      { status: 'False', since: '2025-03-14T09:26:53Z' },
    );
    assert.equal(event.object.status?.phase, 'Running');
    assert.equal(event.object.metadata.uid, '8d3f4c2b-7a61-4e0f-b9d8-2c5e1a7f6b90');
    assert.equal(event.object.metadata.labels?.['baton.dev/pod-id'], '8d3f4c2b-7a61-4e0f-b9d8-2c5e1a7f6b90');
    assert.equal(event.object.metadata.deletionTimestamp, undefined);
    assert.ok(Array.isArray(event.object.metadata['managedFields']), 'managedFields passed through');
  });

  it('sees the deletionTimestamp of a deleted Pod', () => {
    const event = accepted(parseIncoming(structured(loadEnvelope('podDelete'))));
    assert.ok(event.kind === 'Pod');
    assert.equal(event.object.metadata.deletionTimestamp, '2025-03-14T09:31:07Z');
  });

  it('reads the Service selector and the EndpointSlice endpoints', () => {
    const service = accepted(parseIncoming(structured(loadEnvelope('serviceAdd'))));
    assert.ok(service.kind === 'Service');
    assert.deepEqual(service.object.spec.selector, { app: 'web' });

    const slice = accepted(parseIncoming(binary(loadEnvelope('endpointSliceUpdate'))));
    assert.ok(slice.kind === 'EndpointSlice');
    assert.equal(slice.object.metadata.labels['kubernetes.io/service-name'], 'web');
    assert.deepEqual(slice.object.endpoints?.[0]?.targetRef, {
      kind: 'Pod',
      name: 'web-1',
      namespace: 'demo',
      uid: '3e1b9f6a-2d4c-48e7-95a0-b7c6d8e2f415',
    });
    assert.equal(slice.object.endpoints?.[0]?.conditions?.ready, true);
  });
});

describe('parseIncoming: content types', () => {
  const variants = [
    'application/cloudevents+json',
    'application/cloudevents+json; charset=utf-8',
    'application/cloudevents+json;charset=utf-8',
    'application/cloudevents+json;charset=UTF-8',
    'Application/CloudEvents+JSON; charset="utf-8"',
  ];
  for (const contentType of variants) {
    it(`structured mode with ${contentType}`, () => {
      const event = accepted(parseIncoming(structured(loadEnvelope('serviceAdd'), contentType)));
      assert.equal(event.kind, 'Service');
    });
  }

  for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8']) {
    it(`binary mode with data content type ${contentType}`, () => {
      const wire = binary(loadEnvelope('podDelete'));
      wire.headers['content-type'] = contentType;
      assert.equal(accepted(parseIncoming(wire)).kind, 'Pod');
    });
  }

  it('accepts the body as text or as an already parsed object', () => {
    const envelope = loadEnvelope('serviceAdd');
    const asText = parseIncoming({ headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(envelope) });
    const asObject = parseIncoming({ headers: { 'content-type': 'application/cloudevents+json' }, body: envelope });
    assert.equal(accepted(asText).kind, 'Service');
    assert.equal(accepted(asObject).kind, 'Service');
  });

  it('accepts data given as a JSON string or as data_base64 in structured mode', () => {
    const envelope = loadEnvelope('serviceAdd');
    const data = JSON.stringify(envelope.data);
    const asString = { ...envelope, data };
    const { data: _ignored, ...rest } = envelope;
    const asBase64 = { ...rest, data_base64: Buffer.from(data).toString('base64') };
    assert.equal(accepted(parseIncoming(structured(asString))).kind, 'Service');
    assert.equal(accepted(parseIncoming(structured(asBase64))).kind, 'Service');
  });

  it('takes header names in any case and repeated values', () => {
    const wire = binary(loadEnvelope('podDelete'));
    const shouting: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(wire.headers)) shouting[name.toUpperCase()] = value;
    shouting['X-Forwarded-For'] = ['10.0.0.1', '10.0.0.2'];
    assert.equal(accepted(parseIncoming({ headers: shouting, body: wire.body })).kind, 'Pod');
  });

  it('rejects batch mode by content type (415) and by array body (400)', () => {
    const envelope = loadEnvelope('serviceAdd');
    rejected(
      parseIncoming({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify([envelope]) }),
      415,
      /batch mode/,
    );
    rejected(parseIncoming(structured([envelope] as unknown as Record<string, unknown>)), 400, /batch mode.*array/);
  });

  it('rejects other structured formats and charsets with 415', () => {
    const envelope = loadEnvelope('serviceAdd');
    rejected(parseIncoming(structured(envelope, 'application/cloudevents+xml')), 415, /cloudevents\+xml/);
    rejected(parseIncoming(structured(envelope, 'application/cloudevents+json; charset=latin1')), 415, /charset latin1/);
  });

  it('rejects a non-CloudEvent content type with 415 and plain JSON without ce-* headers with 400', () => {
    rejected(parseIncoming({ headers: { 'content-type': 'text/plain' }, body: 'hello' }), 415, /text\/plain/);
    rejected(parseIncoming({ headers: { 'content-type': 'application/json' }, body: '{}' }), 400, /not a CloudEvent/);
    rejected(parseIncoming({ headers: {}, body: undefined }), 400, /not a CloudEvent/);
  });
});

describe('parseIncoming: Node events (cluster-scoped, no namespace)', () => {
  const envelope = (spec: Record<string, unknown>): Record<string, unknown> => ({
    specversion: '1.0',
    id: 'node-ev-1',
    source: 'https://127.0.0.1:6443',
    type: 'dev.knative.apiserver.resource.update',
    subject: '/apis/v1/namespaces//nodes/kwok-node-1',
    datacontenttype: 'application/json',
    kind: 'Node',
    name: 'kwok-node-1',
    namespace: '',
    data: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'kwok-node-1', uid: 'n-1', resourceVersion: '90', creationTimestamp: '2025-03-14T09:00:00Z' }, spec },
  });

  it('a cordoned Node parses, with its claim to be unschedulable', () => {
    for (const encode of [structured, binary]) {
      const event = accepted(parseIncoming(encode(envelope({ unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }))));
      assert.ok(event.kind === 'Node');
      assert.equal(event.object.metadata.name, 'kwok-node-1');
      assert.equal(event.object.spec?.unschedulable, true);
    }
  });

  it('a schedulable Node parses without the claim; a malformed one is a 400', () => {
    const event = accepted(parseIncoming(binary(envelope({}))));
    assert.ok(event.kind === 'Node' && event.object.spec?.unschedulable === undefined);
    rejected(parseIncoming(binary(envelope({ unschedulable: 'yes' }))), 400, /data does not match kind Node: data\.spec\.unschedulable/);
  });
});
