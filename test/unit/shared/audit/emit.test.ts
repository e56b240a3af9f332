import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { HTTP } from 'cloudevents';
import { createEmitter, type EmitterOptions } from '../../../../shared/audit/emit.js';
import { auditId, parseAuditEvent, PROMOTED } from '../../../../shared/audit/schemas.js';
import { captureLogs } from '../../../fixtures/log-capture.js';
import { deadUrl, startSink, type Reply, type Sink } from '../../../fixtures/sink.js';
import { drafts } from './samples.js';

const promoted = drafts[0]!;
const sinks: Sink[] = [];
after(async () => {
  await Promise.all(sinks.map((s) => s.close()));
});

async function sink(...replies: Reply[]): Promise<Sink> {
  const started = await startSink(replies);
  sinks.push(started);
  return started;
}

function emitter(overrides: Partial<EmitterOptions> = {}) {
  const logs = captureLogs();
  const options: EmitterOptions = { source: 'baton.dev/failover', timeoutMs: 2000, logger: logs.logger, backoffMs: 1, ...overrides };
  return { emitter: createEmitter(options), logs };
}

describe('createEmitter', () => {
  it('skips and logs at debug when no sink is configured', async () => {
    const { emitter: e, logs } = emitter({ sink: undefined });
    assert.deepEqual(await e.emit(promoted), { delivered: false, skipped: true });
    const line = logs.lines.find((l) => l['auditId'] === promoted.id);
    assert.equal(line?.['level'], 'debug');
    assert.match(String(line?.['msg']), /no K_SINK/);
  });

  it('sends a binary-mode CloudEvent a subscriber can parse back', async () => {
    const s = await sink(202);
    const { emitter: e } = emitter({ sink: s.url, extensions: { team: 'sre' } });
    assert.deepEqual(await e.emit(promoted), { delivered: true, status: 202, attempts: 1 });

    assert.equal(s.received.length, 1);
    const { headers, body } = s.received[0]!;
    assert.equal(headers['ce-id'], auditId({ type: PROMOTED, serviceUid: promoted.data.service.uid, term: 3, decidedAt: 1_790_000_000_000 }));
    assert.equal(headers['ce-type'], PROMOTED);
    assert.equal(headers['ce-source'], 'baton.dev/failover');
    assert.equal(headers['ce-subject'], 'demo/web');
    assert.equal(headers['ce-specversion'], '1.0');
    assert.equal(headers['ce-team'], 'sre');
    assert.match(String(headers['content-type']), /^application\/json/);

    const event = HTTP.toEvent({ headers, body });
    assert.ok(!Array.isArray(event));
    const parsed = parseAuditEvent({ ...event });
    assert.ok(parsed.success, parsed.error?.message);
    assert.deepEqual(parsed.data.data, promoted.data);
  });

  it('never lets an extension replace a core attribute', async () => {
    const s = await sink(200);
    const { emitter: e } = emitter({ sink: s.url, extensions: { type: 'evil', id: 'evil' } });
    assert.equal((await e.emit(promoted)).delivered, true);
    assert.equal(s.received[0]?.headers['ce-type'], PROMOTED);
    assert.equal(s.received[0]?.headers['ce-id'], promoted.id);
  });

  it('retries 5xx, 429 and dropped connections, then succeeds', async () => {
    const s = await sink(503, 'reset', 429, 200);
    const { emitter: e } = emitter({ sink: s.url, attempts: 4 });
    assert.deepEqual(await e.emit(promoted), { delivered: true, status: 200, attempts: 4 });
    assert.equal(s.received.length, 4);
  });

  it('gives up after three tries by default and reports the last status', async () => {
    const s = await sink(500);
    const { emitter: e, logs } = emitter({ sink: s.url });
    const result = await e.emit(promoted);
    assert.deepEqual(result, { delivered: false, status: 500, error: 'sink answered 500', attempts: 3 });
    assert.equal(s.received.length, 3);
    assert.ok(logs.lines.some((l) => l['level'] === 'warn' && l['auditId'] === promoted.id));
  });

  it('backs off between tries', async () => {
    const s = await sink(500);
    const { emitter: e } = emitter({ sink: s.url, backoffMs: 40 });
    const started = performance.now();
    await e.emit(promoted);
    assert.ok(performance.now() - started >= 40 + 80 - 5, 'waited 40 ms then 80 ms');
  });

  it('does not retry a 4xx other than 429', async () => {
    const s = await sink(400, 200);
    const { emitter: e } = emitter({ sink: s.url });
    assert.deepEqual(await e.emit(promoted), { delivered: false, status: 400, error: 'sink answered 400', attempts: 1 });
    assert.equal(s.received.length, 1);
  });

  it('reports a network error without throwing', async () => {
    const { emitter: e } = emitter({ sink: await deadUrl() });
    const result = await e.emit(promoted);
    assert.equal(result.delivered, false);
    assert.ok('error' in result && /network error/.test(result.error), JSON.stringify(result));
    assert.ok('attempts' in result && result.attempts === 3);
  });

  it('gives up on a sink that does not answer within the timeout', async () => {
    const s = await sink('hang');
    const { emitter: e } = emitter({ sink: s.url, timeoutMs: 100, attempts: 1 });
    const result = await e.emit(promoted);
    assert.ok('error' in result && result.error === 'no answer within 100 ms', JSON.stringify(result));
  });

  it('refuses to send an event that breaks the public schema', async () => {
    const s = await sink(200);
    const { emitter: e, logs } = emitter({ sink: s.url });
    const result = await e.emit({ ...promoted, subject: 'demo/someone-else' });
    assert.equal(result.delivered, false);
    assert.ok('error' in result && /subject/.test(result.error));
    assert.equal(s.received.length, 0);
    assert.ok(logs.lines.some((l) => l['level'] === 'error'));
  });
});
