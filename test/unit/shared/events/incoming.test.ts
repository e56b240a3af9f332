import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIncoming, type ParseResult, type InboundEvent } from '../../../../shared/events/incoming.js';
import { binary, loadEnvelope, structured, FIXTURES, type FixtureName } from '../../../fixtures/apiserversource.js';

function accepted(result: ParseResult): InboundEvent {
  if (!result.ok) assert.fail(`expected the event to be accepted, got ${result.status}: ${result.message}`);
  return result.event;
}

function rejected(result: ParseResult, status: 400 | 415, pattern: RegExp): void {
  if (result.ok) assert.fail(`expected ${status}, got an accepted ${result.event.kind} event`);
  assert.equal(result.status, status, result.message);
  assert.match(result.message, pattern);
}

const expectations: Record<FixtureName, { kind: string; action: string; name: string }> = {
  podUpdateNotReady: { kind: 'Pod', action: 'update', name: 'web-0' },
  serviceAdd: { kind: 'Service', action: 'add', name: 'web' },
  endpointSliceUpdate: { kind: 'EndpointSlice', action: 'update', name: 'web-x7k2p' },
  podDelete: { kind: 'Pod', action: 'delete', name: 'web-0' },
};

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

describe('parseIncoming: broken events', () => {
  for (const attribute of ['id', 'source', 'type', 'specversion']) {
    it(`names the missing attribute "${attribute}" in structured mode`, () => {
      const envelope: Record<string, unknown> = loadEnvelope('serviceAdd');
      delete envelope[attribute];
      rejected(parseIncoming(structured(envelope)), 400, new RegExp(`missing required CloudEvent attribute "${attribute}"`));
    });

    it(`names the missing header ce-${attribute} in binary mode`, () => {
      const wire = binary(loadEnvelope('serviceAdd'));
      delete wire.headers[`ce-${attribute}`];
      rejected(parseIncoming(wire), 400, new RegExp(`"${attribute}" \\(header ce-${attribute}\\)`));
    });
  }

  it('treats an empty id as missing (the SDK would invent one)', () => {
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), id: '' })), 400, /"id"/);
  });

  it('rejects a non-string attribute, another specversion, and a bad time', () => {
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), id: 42 })), 400, /"id" must be a string/);
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), specversion: '0.3' })), 400, /specversion "0.3"/);
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), time: 'yesterday' })), 400, /"time"/);
  });

  it('reports what the SDK finds invalid, attribute by attribute', () => {
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), subject: 5 })), 400, /invalid CloudEvent: subject: must be string/);
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), source: 'has spaces' })), 400, /invalid CloudEvent: source:.*uri-reference/);
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), Bad_Ext: 'x' })), 400, /invalid attribute name: "Bad_Ext"/);
    rejected(parseIncoming(structured({ ...loadEnvelope('serviceAdd'), time: 5 })), 400, /"time"/);
  });

  it('rejects a body that is not JSON', () => {
    rejected(parseIncoming(structured({}, undefined)), 400, /missing required/);
    rejected(
      parseIncoming({ headers: { 'content-type': 'application/cloudevents+json' }, body: Buffer.from('{"id": ') }),
      400,
      /body is not valid JSON/,
    );
    rejected(parseIncoming({ headers: { 'content-type': 'application/cloudevents+json' }, body: '   ' }), 400, /empty body/);
    rejected(parseIncoming({ headers: { 'content-type': 'application/cloudevents+json' }, body: '"just a string"' }), 400, /JSON object/);
  });

  it('rejects binary-mode data that is not JSON or not UTF-8', () => {
    const wire = binary(loadEnvelope('podDelete'));
    rejected(parseIncoming({ ...wire, body: Buffer.from('not json at all') }), 400, /data is not valid JSON/);
    rejected(parseIncoming({ ...wire, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 400, /UTF-8/);
  });

  it('rejects a resource event whose data content type is not JSON', () => {
    const wire = binary(loadEnvelope('podDelete'));
    wire.headers['content-type'] = 'application/xml';
    rejected(parseIncoming(wire), 415, /application\/xml is not JSON/);
  });

  it('rejects a resource event without data', () => {
    const wire = binary(loadEnvelope('podDelete'));
    rejected(parseIncoming({ ...wire, body: Buffer.alloc(0) }), 400, /data: required/);
  });

  it('names the field path when the data is not the kind it claims', () => {
    const envelope = loadEnvelope('podUpdateNotReady');
    const metadata = envelope.data['metadata'] as Record<string, unknown>;
    delete metadata['name'];
    rejected(parseIncoming(structured(envelope)), 400, /data does not match kind Pod: data\.metadata\.name:/);
  });

  it('names bracketed label keys and array indexes in field paths', () => {
    const slice = loadEnvelope('endpointSliceUpdate');
    const labels = (slice.data['metadata'] as { labels: Record<string, string> }).labels;
    delete labels['kubernetes.io/service-name'];
    rejected(parseIncoming(binary(slice)), 400, /data\.metadata\.labels\["kubernetes\.io\/service-name"\]/);

    const broken = loadEnvelope('endpointSliceUpdate');
    (broken.data['endpoints'] as Array<Record<string, unknown>>)[0]!['addresses'] = 'not-a-list';
    rejected(parseIncoming(binary(broken)), 400, /data\.endpoints\[0\]\.addresses/);
  });

  it('rejects data whose kind contradicts the kind extension', () => {
    const envelope = loadEnvelope('serviceAdd');
    envelope['kind'] = 'Pod';
    rejected(parseIncoming(structured(envelope)), 400, /data\.kind: "Service" does not match the kind extension "Pod"/);
  });

  it('never throws, whatever the input', () => {
    const bodies: unknown[] = [null, 0, true, Symbol('x'), () => 1, new Uint8Array(3), { toString: null }];
    for (const body of bodies) {
      for (const headers of [{}, { 'content-type': 'application/cloudevents+json' }, { 'ce-id': '1' }]) {
        const result = parseIncoming({ headers, body });
        assert.equal(result.ok, false, `accepted ${String(typeof body)} with ${JSON.stringify(headers)}`);
      }
    }
  });
});

describe('parseIncoming: events baton does not act on', () => {
  it('turns another CloudEvent type into Other with a reason', () => {
    const envelope: Record<string, unknown> = { ...loadEnvelope('serviceAdd'), type: 'com.example.something', data: 'anything at all' };
    const event = accepted(parseIncoming(structured(envelope)));
    assert.deepEqual(
      { kind: event.kind, type: event.type, id: event.id },
      { kind: 'Other', type: 'com.example.something', id: envelope['id'] },
    );
    assert.ok(event.kind === 'Other');
    assert.match(event.reason, /not an ApiServerSource resource event/);
  });

  it('points Reference-mode events at the mode setting', () => {
    const envelope = { ...loadEnvelope('podDelete'), type: 'dev.knative.apiserver.ref.delete' };
    const event = accepted(parseIncoming(binary(envelope)));
    assert.ok(event.kind === 'Other');
    assert.match(event.reason, /mode: Resource/);
  });

  it('ignores unwatched kinds without reading their data', () => {
    const wire = binary({ ...loadEnvelope('podDelete'), kind: 'Deployment', apiversion: 'apps/v1' });
    const event = accepted(parseIncoming({ ...wire, body: Buffer.from('this is not json') }));
    assert.ok(event.kind === 'Other');
    assert.match(event.reason, /kind Deployment/);
  });

  it('falls back to data.kind when the kind extension is absent', () => {
    const envelope: Record<string, unknown> = loadEnvelope('serviceAdd');
    delete envelope['kind'];
    assert.equal(accepted(parseIncoming(structured(envelope))).kind, 'Service');

    const configMap = { ...envelope, data: { ...loadEnvelope('serviceAdd').data, kind: 'ConfigMap' } };
    const other = accepted(parseIncoming(structured(configMap)));
    assert.ok(other.kind === 'Other');
    assert.match(other.reason, /ConfigMap/);
  });
});

describe('parseIncoming: arbitrary input', () => {
  it('answers every JSON body and header set with an event or a 400/415', () => {
    const header = fc.constantFrom('content-type', 'ce-id', 'ce-source', 'ce-type', 'ce-specversion', 'ce-kind', 'x-other');
    const value = fc.oneof(
      fc.constantFrom('application/cloudevents+json', 'application/json', '1.0', 'dev.knative.apiserver.resource.update', 'Pod'),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.dictionary(header, value), fc.jsonValue(), fc.boolean(), (headers, json, asBytes) => {
        const text = JSON.stringify(json) ?? '';
        const result = parseIncoming({ headers, body: asBytes ? Buffer.from(text) : text });
        assert.ok(result.ok || result.status === 400 || result.status === 415);
        if (!result.ok) assert.ok(result.message.length > 0);
      }),
      { numRuns: 500 },
    );
  });
});
