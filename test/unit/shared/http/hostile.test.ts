import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { binary, loadEnvelope, structured, type WireRequest } from '../../../fixtures/apiserversource.js';
import { errorOf, post, start, type Harness } from './harness.js';

const CE_JSON = { 'content-type': 'application/cloudevents+json' };
const DEPTH = 100_000;

function nestedObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function podWithoutName(): WireRequest {
  const envelope = loadEnvelope('podUpdateNotReady');
  delete (envelope.data['metadata'] as Record<string, unknown>)['name'];
  return binary(envelope);
}

function binaryWith(mutate: (headers: Record<string, string>) => void, body?: Buffer | string): WireRequest {
  const wire = binary(loadEnvelope('podDelete'));
  mutate(wire.headers);
  return body === undefined ? wire : { headers: wire.headers, body: Buffer.from(body) };
}

interface Row {
  readonly name: string;
  readonly wire: () => { headers: Record<string, string>; body: Buffer | string };
  readonly status: number;
  readonly message: RegExp;
}

const rows: readonly Row[] = [
  { name: 'not JSON', wire: () => ({ headers: CE_JSON, body: 'definitely not json' }), status: 400, message: /not valid JSON/ },
  { name: 'empty body', wire: () => ({ headers: CE_JSON, body: '' }), status: 400, message: /empty body/ },
  { name: 'JSON null', wire: () => ({ headers: CE_JSON, body: 'null' }), status: 400, message: /JSON object/ },
  { name: 'wrong content-type', wire: () => ({ headers: { 'content-type': 'text/html' }, body: '<h1>hi</h1>' }), status: 415, message: /text\/html/ },
  { name: 'XML event format', wire: () => ({ headers: { 'content-type': 'application/cloudevents+xml' }, body: '<e/>' }), status: 415, message: /cloudevents\+xml/ },
  { name: 'batch content type', wire: () => ({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]' }), status: 415, message: /batch/ },
  { name: 'batch as array', wire: () => ({ headers: CE_JSON, body: JSON.stringify([loadEnvelope('serviceAdd')]) }), status: 400, message: /batch/ },
  { name: 'no ce-* headers at all', wire: () => ({ headers: { 'content-type': 'application/json' }, body: '{}' }), status: 400, message: /not a CloudEvent/ },
  { name: 'missing ce-source', wire: () => binaryWith((h) => delete h['ce-source']), status: 400, message: /"source" \(header ce-source\)/ },
  { name: 'missing ce-id', wire: () => binaryWith((h) => delete h['ce-id']), status: 400, message: /"id" \(header ce-id\)/ },
  { name: 'specversion 0.1', wire: () => binaryWith((h) => (h['ce-specversion'] = '0.1')), status: 400, message: /specversion "0.1"/ },
  { name: 'data not the kind it claims', wire: podWithoutName, status: 400, message: /data does not match kind Pod: data\.metadata\.name/ },
  { name: 'data not JSON', wire: () => binaryWith(() => undefined, '<pod/>'), status: 400, message: /data is not valid JSON/ },
  { name: 'data not UTF-8', wire: () => ({ headers: binary(loadEnvelope('podDelete')).headers, body: Buffer.from([0xc3, 0x28]) }), status: 400, message: /UTF-8/ },
  { name: '2 MB body', wire: () => ({ headers: CE_JSON, body: Buffer.alloc(2 * 1024 * 1024, 0x20) }), status: 413, message: /exceeds the limit/ },
  { name: `object nested ${DEPTH} levels`, wire: () => ({ headers: CE_JSON, body: nestedObject(DEPTH) }), status: 400, message: /missing required CloudEvent attribute/ },
  { name: `array nested ${DEPTH} levels`, wire: () => ({ headers: CE_JSON, body: `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}` }), status: 400, message: /batch/ },
  {
    name: `Pod data nested ${DEPTH} levels`,
    wire: () => binaryWith(() => undefined, nestedObject(DEPTH)),
    status: 400,
    message: /data does not match kind Pod/,
  },
  {
    name: `deep nesting inside a real Pod's metadata`,
    wire: () => {
      const envelope = loadEnvelope('podDelete');
      const data = JSON.stringify(envelope.data).replace('"metadata":{', `"metadata":{"deep":${nestedObject(DEPTH)},`);
      return { headers: binary(envelope).headers, body: Buffer.from(data) };
    },
    status: 200,
    message: /^$/,
  },
];

describe('HTTP server: hostile input', () => {
  let h: Harness;
  before(async () => {
    h = await start();
  });
  after(async () => {
    await h.server.close();
  });

  for (const row of rows) {
    it(`${row.name} → ${row.status}, and the server keeps answering`, async () => {
      const response = await post(h.url, row.wire());
      assert.equal(response.status, row.status);
      if (row.status >= 400) assert.match(await errorOf(response), row.message);
      else assert.equal(await response.text(), '');

      assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
      const valid = await post(h.url, structured(loadEnvelope('serviceAdd')));
      assert.equal(valid.status, 200);
    });
  }

  it('answers an unknown CloudEvent type with 200 "ignored", not an error Knative would retry', async () => {
    const envelope = { ...loadEnvelope('serviceAdd'), type: 'com.example.unrelated' };
    const response = await post(h.url, structured(envelope));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('baton-outcome'), 'ignored');
    assert.equal(response.headers.get('baton-detail'), null, 'the reason is for the log, not the caller');
    const line = h.lines.find((l) => l['requestId'] === response.headers.get('x-request-id') && l['msg'] === 'request');
    assert.match(String(line?.['reason']), /com\.example\.unrelated/);
  });

  it('an event whose attributes carry line breaks and JSON cannot forge a log line, and long ones are clipped', async () => {
    const forge = '\n{"level":"error","msg":"forged","requestId":"x"}\r\n\u2028';
    const envelope = { ...loadEnvelope('serviceAdd'), id: `id${forge}`, subject: `s${forge}${'y'.repeat(20_000)}`, type: `com.example${forge}` };
    const seen = h.lines.length;
    const response = await post(h.url, structured(envelope));
    assert.equal(response.status, 200);
    await response.text();
    const fresh = h.lines.slice(seen);
    assert.equal(fresh.filter((l) => l['msg'] === 'forged').length, 0, 'no forged line');
    const line = fresh.find((l) => l['requestId'] === response.headers.get('x-request-id') && l['msg'] === 'request');
    assert.ok(line, 'the request has its one line');
    assert.equal(line['eventId'], `id${forge}`, 'kept verbatim, escaped by the JSON encoding');
    assert.ok(String(line['subject']).length <= 300, `subject clipped (${String(line['subject']).length} characters)`);
  });

  it('a 4xx message quoting the request is clipped, in the reply and in the log', async () => {
    const response = await post(h.url, { headers: { 'content-type': `text/${'z'.repeat(8000)}` }, body: 'a' });
    assert.equal(response.status, 415);
    const message = await errorOf(response);
    assert.match(message, /unsupported content-type text\/z+/);
    assert.ok(message.length <= 400, `reply message of ${message.length} characters`);
    const line = h.lines.find((l) => l['requestId'] === response.headers.get('x-request-id') && l['msg'] === 'request');
    assert.ok(String(line?.['detail']).length <= 1100, 'log detail clipped');
  });
});
