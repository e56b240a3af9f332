import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handled, ignored, retry } from '../../../../shared/http/outcome.js';
import { binary, loadEnvelope, structured } from '../../../fixtures/apiserversource.js';
import { errorOf, post, start, type Harness } from './harness.js';

/** The reply names nothing of what the handler saw: no detail header, no word of `secrets`. */
function assertNothingTold(response: Response, body: string, secrets: readonly string[]): void {
  const told = [...response.headers.entries()].map(([name, value]) => `${name}: ${value}`).join('\n') + '\n' + body;
  assert.equal(response.headers.get('baton-detail'), null, 'no Baton-Detail header');
  for (const secret of secrets) assert.ok(!told.includes(secret), `the reply mentions ${JSON.stringify(secret)}:\n${told}`);
}

function logLineOf(h: Harness, response: Response): Record<string, unknown> {
  const id = response.headers.get('x-request-id');
  const line = h.lines.find((l) => l['requestId'] === id && l['msg'] === 'request');
  assert.ok(line, `no log line for request ${id}`);
  return line;
}

describe('HTTP server: events', () => {
  let h: Harness;
  before(async () => {
    h = await start();
  });
  after(async () => {
    await h.server.close();
  });

  it('hands a structured-mode event to the handler and answers 200 with an empty body', async () => {
    const envelope = loadEnvelope('podUpdateNotReady');
    const response = await post(h.url, structured(envelope));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '', 'a Broker treats a non-CloudEvent body as a failed delivery');
    assert.equal(response.headers.get('baton-outcome'), 'handled');
    const call = h.calls.at(-1);
    assert.equal(call?.event.id, envelope['id']);
    assert.equal(call?.event.kind, 'Pod');
    assert.equal(call?.context.requestId, response.headers.get('x-request-id'));
  });

  it('hands a binary-mode event to the handler', async () => {
    const envelope = loadEnvelope('endpointSliceUpdate');
    const response = await post(h.url, binary(envelope));
    assert.equal(response.status, 200);
    assert.equal(h.calls.at(-1)?.event.kind, 'EndpointSlice');
  });

  it('keeps a well-formed caller request id and replaces a hostile one', async () => {
    const wire = binary(loadEnvelope('serviceAdd'));
    const kept = await post(h.url, { ...wire, headers: { ...wire.headers, 'x-request-id': 'abc-123' } });
    assert.equal(kept.headers.get('x-request-id'), 'abc-123');
    assert.equal(h.calls.at(-1)?.context.requestId, 'abc-123');
    const replaced = await post(h.url, { ...wire, headers: { ...wire.headers, 'x-request-id': 'a b\tc' } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('answers 400 with a JSON message and does not call the handler for a broken event', async () => {
    const before = h.calls.length;
    const envelope: Record<string, unknown> = loadEnvelope('serviceAdd');
    delete envelope['source'];
    const response = await post(h.url, structured(envelope));
    assert.equal(response.status, 400);
    assert.match(await errorOf(response), /missing required CloudEvent attribute "source"/);
    assert.equal(h.calls.length, before);
  });

  it('answers 400 for malformed JSON in structured mode', async () => {
    const response = await post(h.url, { headers: { 'content-type': 'application/cloudevents+json' }, body: '{"id":' });
    assert.equal(response.status, 400);
    assert.match(await errorOf(response), /not valid JSON/);
  });

  it('answers 415 for a content type that is no CloudEvent', async () => {
    const response = await post(h.url, { headers: { 'content-type': 'text/csv' }, body: 'a,b' });
    assert.equal(response.status, 415);
    assert.match(await errorOf(response), /text\/csv/);
  });

  it('answers 404 JSON for other paths and methods', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['POST', '/events'],
      ['PUT', '/'],
      ['DELETE', '/healthz'],
    ] as const) {
      const response = await fetch(`${h.url}${path}`, { method });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.match(await errorOf(response), new RegExp(`${method} ${path}`));
    }
  });

  it('writes one log line per request with the event identity, outcome and duration', async () => {
    const envelope = loadEnvelope('podDelete');
    const response = await post(h.url, binary(envelope));
    await response.text();
    const requestId = response.headers.get('x-request-id');
    const lines = h.lines.filter((l) => l['requestId'] === requestId && l['msg'] === 'request');
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line['eventId'], envelope['id']);
    assert.equal(line['eventType'], 'dev.knative.apiserver.resource.delete');
    assert.equal(line['subject'], '/apis/v1/namespaces/demo/pods/web-0');
    assert.equal(line['outcome'], 'handled');
    assert.equal(line['status'], 200);
    assert.equal(line['level'], 'info');
    assert.equal(typeof line['durationMs'], 'number');
  });
});

describe('HTTP server: outcomes', () => {
  it('answers ignored with 200 and the outcome only; the reason goes to the log', async () => {
    const h = await start({ handle: () => ignored('not opted in: demo/web') });
    try {
      const response = await post(h.url, binary(loadEnvelope('serviceAdd')));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('baton-outcome'), 'ignored');
      assertNothingTold(response, await response.text(), ['demo/web', 'opted']);
      assert.equal(logLineOf(h, response)['detail'], 'not opted in: demo/web');
    } finally {
      await h.server.close();
    }
  });

  it('answers a handled event with 200 and the outcome only, however much the handler knows', async () => {
    // What the failover function used to put in a header: other namespaces' pods and their health.
    const h = await start({ handle: () => handled('web: steady (db-primary-0 is active and healthy) in tenant-b') });
    try {
      const response = await post(h.url, binary(loadEnvelope('serviceAdd')));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('baton-outcome'), 'handled');
      assertNothingTold(response, await response.text(), ['db-primary-0', 'tenant-b', 'steady']);
      assert.match(String(logLineOf(h, response)['detail']), /db-primary-0 is active/);
    } finally {
      await h.server.close();
    }
  });

  it('answers retry with 503, Retry-After and a generic message; the cause goes to the log', async () => {
    const h = await start({ handle: () => retry(6.2, 'conflict on demo/web; re-reading') });
    try {
      const response = await post(h.url, binary(loadEnvelope('serviceAdd')));
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '7');
      const text = await response.text();
      assertNothingTold(response, text, ['demo/web', 'conflict']);
      assert.match(String((JSON.parse(text) as { error?: unknown }).error), /retry/);
      assert.match(String(logLineOf(h, response)['detail']), /conflict on demo\/web/);
    } finally {
      await h.server.close();
    }
  });

  it('answers 500 when the handler throws or rejects, logs it, and keeps serving', async () => {
    let mode: 'throw' | 'reject' | 'ok' = 'throw';
    const h = await start({
      handle: async () => {
        if (mode === 'throw') throw new Error('boom: sync');
        if (mode === 'reject') return Promise.reject(new Error('boom: async'));
        return handled();
      },
    });
    try {
      for (const failing of ['throw', 'reject'] as const) {
        mode = failing;
        const response = await post(h.url, binary(loadEnvelope('serviceAdd')));
        assert.equal(response.status, 500);
        const message = await errorOf(response);
        assert.doesNotMatch(message, /boom/, 'internals stay in the log');
        const line = h.lines.find((l) => l['requestId'] === response.headers.get('x-request-id'));
        assert.equal(line?.['level'], 'error');
        assert.match(JSON.stringify(line?.['err']), /boom/);
      }
      mode = 'ok';
      assert.equal((await post(h.url, binary(loadEnvelope('serviceAdd')))).status, 200);
    } finally {
      await h.server.close();
    }
  });

  it('logs a detail with line breaks and quotes as one JSON line, and clips it', async () => {
    const forged = `pod web-0 ready\n{"level":"error","msg":"forged"}\r\u2028"${'x'.repeat(5000)}`;
    const h = await start({ handle: () => handled(forged) });
    try {
      const response = await post(h.url, binary(loadEnvelope('serviceAdd')));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-evil'), null);
      const line = logLineOf(h, response);
      assert.ok(String(line['detail']).startsWith('pod web-0 ready\n{"level":"error"'), 'the text is kept, escaped');
      assert.ok(String(line['detail']).length <= 1100, 'and clipped');
      assert.equal(h.lines.filter((l) => l['msg'] === 'forged').length, 0, 'no forged line');
    } finally {
      await h.server.close();
    }
  });
});

describe('HTTP server: limits and probes', () => {
  it('answers 413 with the limit for an oversized body', async () => {
    const h = await start({ bodyLimit: 1024 });
    try {
      const response = await post(h.url, { headers: { 'content-type': 'application/cloudevents+json' }, body: 'x'.repeat(2048) });
      assert.equal(response.status, 413);
      assert.match(await errorOf(response), /exceeds the limit of 1024 bytes/);
      assert.equal(h.calls.length, 0);
    } finally {
      await h.server.close();
    }
  });

  it('answers /healthz always and /readyz as ready() says', async () => {
    let ready = false;
    let broken = false;
    const h = await start({
      ready: () => {
        if (broken) throw new Error('readiness check crashed');
        return ready;
      },
    });
    try {
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${h.url}/readyz`)).status, 503);
      ready = true;
      assert.equal((await fetch(`${h.url}/readyz`)).status, 200);
      broken = true;
      assert.equal((await fetch(`${h.url}/readyz`)).status, 503);
      const probeLines = h.lines.filter((l) => l['path'] === '/healthz');
      assert.ok(probeLines.every((l) => l['level'] === 'debug'), 'probes do not flood the info log');
    } finally {
      await h.server.close();
    }
  });
});
