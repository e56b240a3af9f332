import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import * as k8s from '@kubernetes/client-node';
import { CloudEvent, HTTP } from 'cloudevents';
import { EndpointsBalancer } from '../../../../shared/balancer/balancer.js';
import { balancerEvents, parseAuditDelivery, OUTCOME_HEADER, DETAIL_HEADER } from '../../../../shared/balancer/events.js';
import { complete, drafts } from '../audit/samples.js';

const promoted = complete(drafts[0]!);

function offlineConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  // Nothing listens on port 1: these tests never reach the API.
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  return kc;
}

describe('parseAuditDelivery', () => {
  it('reads a structured-mode event, whatever the spacing of its content type', () => {
    const r = parseAuditDelivery({ headers: { 'content-type': 'application/cloudevents+json;charset=utf-8' }, body: Buffer.from(JSON.stringify(promoted)) });
    assert.ok(r.ok && r.event);
    assert.equal(r.ok && r.event?.type, promoted.type);
  });
  it('reads a binary-mode event', () => {
    const wire = HTTP.binary(new CloudEvent<unknown>({ ...promoted }));
    const r = parseAuditDelivery({ headers: wire.headers, body: wire.body });
    assert.ok(r.ok && r.event && r.event.type === 'dev.baton.failover.promoted' && r.event.data.to.name === 'web-1');
  });
  it('lets through, unused, a valid CloudEvent that is not one of baton’s', () => {
    const wire = HTTP.binary(new CloudEvent({ type: 'com.example.other', source: 'x', data: { a: 1 } }));
    const r = parseAuditDelivery({ headers: wire.headers, body: wire.body });
    assert.deepEqual(r.ok && r.event === undefined, true);
  });
  it('rejects a baton type whose data does not match its schema, and input that is no CloudEvent', () => {
    const bad = { ...promoted, data: { ...promoted.data, term: 'three' } };
    const r1 = parseAuditDelivery({ headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(bad) });
    const r2 = parseAuditDelivery({ headers: { 'content-type': 'application/json' }, body: '{}' });
    const r3 = parseAuditDelivery({ headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]' });
    assert.deepEqual([r1, r2, r3].map((r) => (r.ok ? 'ok' : r.status)), [400, 400, 415]);
  });
});

describe('balancerEvents (express)', () => {
  it('answers 200 with an empty body and the outcome in headers, 400 for garbage', async (t) => {
    const balancer = new EndpointsBalancer({ namespace: 'demo', service: 'web', kubeconfig: offlineConfig() });
    t.after(() => balancer.shutdown());
    const app = express();
    app.use('/events', balancerEvents(balancer));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;

    const ok = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(promoted) });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '');
    assert.equal(ok.headers.get(OUTCOME_HEADER), 'ignored');
    assert.equal(ok.headers.get(DETAIL_HEADER), 'not-synced', 'no hint is taken before the Service uid is known');

    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(bad.status, 400);
  });

  it('authorize: checked before the body is read; false is 401, a failing check 503, true goes on', async (t) => {
    const balancer = new EndpointsBalancer({ namespace: 'demo', service: 'web', kubeconfig: offlineConfig() });
    t.after(() => balancer.shutdown());
    const seen: Array<{ token: string | undefined; bodyRead: boolean }> = [];
    const app = express();
    app.use(
      '/events',
      balancerEvents(balancer, {
        authorize: (req) => {
          const token = req.headers.authorization;
          seen.push({ token, bodyRead: req.body !== undefined });
          if (token === 'Bearer broken') throw new Error('issuer unreachable: secret detail');
          return token === 'Bearer good';
        },
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    t.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
    const send = (authorization: string | undefined) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify(promoted) });

    const none = await send(undefined);
    const bad = await send('Bearer forged');
    const broken = await send('Bearer broken');
    const good = await send('Bearer good');
    assert.deepEqual([none.status, bad.status, broken.status, good.status], [401, 401, 503, 200]);
    assert.equal(bad.headers.get(OUTCOME_HEADER), null, 'a refused delivery is not looked at');
    assert.doesNotMatch(await broken.text(), /secret detail/);
    assert.equal(good.headers.get(DETAIL_HEADER), 'not-synced');
    assert.ok(seen.every((s) => !s.bodyRead));
  });

  it('shutdown is idempotent and next() then says so', async () => {
    const balancer = new EndpointsBalancer({ namespace: 'demo', service: 'web', kubeconfig: offlineConfig() });
    await Promise.all([balancer.shutdown(), balancer.shutdown()]);
    await balancer.shutdown();
    assert.throws(() => balancer.next(), { name: 'BalancerClosedError' });
  });
});

describe('EndpointsBalancer options', () => {
  it('a value that would make a bound meaningless is refused at construction, naming the option', () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['hintTimeoutMs', { hintTimeoutMs: Number.NaN }],
      ['hintTimeoutMs', { hintTimeoutMs: -1 }],
      ['hintTimeoutMs', { hintTimeoutMs: 60_000 }],
      ['watchIdleMs', { watchIdleMs: 0 }],
      ['requestTimeoutMs', { requestTimeoutMs: Number.POSITIVE_INFINITY }],
      ['prefix', { prefix: 'Baton.Dev/' }],
    ];
    for (const [name, extra] of bad) {
      assert.throws(() => new EndpointsBalancer({ namespace: 'demo', service: 'web', kubeconfig: offlineConfig(), ...extra }), (e: unknown) => e instanceof RangeError && e.message.includes(name), name);
    }
  });
  it('the defaults and a zero hint window (no hints) are fine', async () => {
    for (const extra of [{}, { hintTimeoutMs: 0, prefix: 'example.com' }]) await new EndpointsBalancer({ namespace: 'demo', service: 'web', kubeconfig: offlineConfig(), ...extra }).shutdown();
  });
});
