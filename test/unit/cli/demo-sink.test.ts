// The demo's event sink listens where any pod of the plane can reach it: only baton's
// own `promoted` and `completed` events, well formed, may reach the timeline.
import test from 'node:test';
import assert from 'node:assert/strict';
import { printable, startDemoSink, type DemoSink } from '../../../cli/demo-sink.js';

const service = { namespace: 'default', name: 'web', uid: 'u-1' };
const at = '2026-11-30T15:00:00.000Z';

function post(sink: DemoSink, type: string, subject: string | undefined, data: unknown, extra: Record<string, string> = {}): Promise<number> {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  return fetch(sink.url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': `id-${Math.random()}`, 'ce-source': 'baton.dev/failover', 'ce-type': type, ...(subject ? { 'ce-subject': subject } : {}), 'content-type': 'application/json', ...extra },
    body,
  }).then((r) => r.status);
}

test('the demo sink keeps baton\'s well-formed promoted and completed events, by subject and term', async (t) => {
  const sink = await startDemoSink('127.0.0.1');
  t.after(() => sink.close());
  assert.equal(await post(sink, 'dev.baton.failover.promoted', 'default/web', { service, term: 2, from: { name: 'web-a', uid: 'a' }, to: { name: 'web-b', uid: 'b' }, reason: 'failover', decidedAt: at }), 202);
  assert.equal(await post(sink, 'dev.baton.failover.completed', 'default/web', { service, term: 2, active: { name: 'web-b', uid: 'b' }, decidedAt: at, observedAt: at, latencyMs: 12 }), 202);
  assert.equal(sink.promoted('default/web', 2)?.data.to.name, 'web-b');
  assert.equal(sink.completed('default/web', 2)?.data.latencyMs, 12);
  assert.equal(sink.completed('default/web', 3), undefined, 'an older term does not count');
  assert.equal(sink.completed('default/other', 2), undefined, 'another Service does not count');
});

test('the demo sink drops forged and malformed events, and refuses oversized bodies', async (t) => {
  const sink = await startDemoSink('127.0.0.1');
  t.after(() => sink.close());
  // A completed event with no data, with data of the wrong shape, with no subject, and of another type.
  assert.equal(await post(sink, 'dev.baton.failover.completed', 'default/web', {}), 202);
  assert.equal(await post(sink, 'dev.baton.failover.completed', 'default/web', { service, term: 2, active: { name: 'x', uid: 'x' }, decidedAt: at, observedAt: at, latencyMs: '\u001b[2J' }), 202);
  assert.equal(await post(sink, 'dev.baton.failover.completed', undefined, { service, term: 2, active: { name: 'x', uid: 'x' }, decidedAt: at, observedAt: at, latencyMs: 1 }), 202);
  assert.equal(await post(sink, 'dev.baton.failover.released', 'default/web', { service, term: 2 }), 202);
  assert.equal(await post(sink, 'dev.baton.failover.promoted', 'default/web', { service, term: 2, reason: 'failover', decidedAt: at }), 202, 'a promoted event without `to`');
  assert.ok([202, 400].includes(await post(sink, 'dev.baton.failover.completed', 'default/web', 'not json at all')), 'a body that is not JSON is answered and dropped');
  assert.equal(await post(sink, 'dev.baton.failover.completed', 'default/web', 'x'.repeat(200_000)).catch(() => 413), 413);
  assert.equal(sink.completed('default/web', 0), undefined);
  assert.equal(sink.promoted('default/web', 0), undefined);
});

test('printable keeps a forged name from writing control sequences to the terminal', () => {
  assert.equal(printable('web-b'), 'web-b');
  assert.equal(printable('web\u001b[2J\nb'), 'web?[2J?b');
});
