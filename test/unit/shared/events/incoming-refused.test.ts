
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIncoming } from '../../../../shared/events/incoming.js';
import { binary, loadEnvelope, structured } from '../../../fixtures/apiserversource.js';
import { accepted, rejected } from './fixtures.js';

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
