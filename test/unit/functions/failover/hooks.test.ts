// The hook calls against a real HTTP server on 127.0.0.1: answers, failures, hangs,
// redirects, refused connections, and how many attempts each one costs.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HookCall } from '../../../../functions/failover/core/model.js';
import { callHook, hookUrl } from '../../../../functions/failover/hooks.js';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly type: string | undefined;
  readonly body: string;
}

/** A server whose answer to the n-th request (from 1) a test sets; it records each request. */
function fakePod(): { server: Server; seen: Seen[]; port: () => number; set: (f: (n: number, res: ServerResponse) => void) => void } {
  const seen: Seen[] = [];
  let answer = (_n: number, res: ServerResponse): void => void res.end('ok');
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', type: req.headers['content-type'], body });
      answer(seen.length, res);
    });
  });
  return { server, seen, port: () => (server.address() as AddressInfo).port, set: (f) => (answer = f) };
}

const listen = (server: Server): Promise<void> => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const close = (server: Server): Promise<void> => new Promise((resolve) => {
  server.closeAllConnections();
  server.close(() => resolve());
});

function call(port: number, overrides: Partial<HookCall> = {}): HookCall {
  return {
    hook: 'demote',
    pod: { name: 'web-0', uid: 'uid-web-0' },
    ip: '127.0.0.1',
    unreachable: undefined,
    port,
    path: '/demote',
    timeoutMs: 1_000,
    retries: 2,
    body: { service: 'shop/web', term: 7, role: 'standby' },
    ...overrides,
  };
}

describe('hook calls', () => {
  const pod = fakePod();
  const elsewhere = fakePod();
  const waits: number[] = [];
  const deps = {
    sleep: (ms: number): Promise<void> => {
      waits.push(ms);
      return Promise.resolve();
    },
  };

  before(async () => {
    await listen(pod.server);
    await listen(elsewhere.server);
  });
  after(async () => {
    await close(pod.server);
    await close(elsewhere.server);
  });
  const reset = (): void => {
    pod.seen.length = 0;
    elsewhere.seen.length = 0;
    waits.length = 0;
  };

  it('a 200 is ok after one attempt: a POST of the JSON body to the path', async () => {
    reset();
    pod.set((_n, res) => void res.end('fine'));
    const result = await callHook(call(pod.port()), deps);
    assert.deepEqual(result, { outcome: 'ok', status: 200, attempts: 1, detail: `POST http://127.0.0.1:${pod.port()}/demote answered 200` });
    assert.deepEqual(pod.seen, [{ method: 'POST', path: '/demote', type: 'application/json', body: '{"service":"shop/web","term":7,"role":"standby"}' }]);
    assert.deepEqual(waits, []);
  });

  it('a 500 on every attempt fails after 1 + retries attempts, backing off 200 then 400 ms', async () => {
    reset();
    pod.set((_n, res) => void res.writeHead(500).end('no'));
    const result = await callHook(call(pod.port()), deps);
    assert.deepEqual([result.outcome, result.status, result.attempts], ['failed', 500, 3]);
    assert.equal(pod.seen.length, 3);
    assert.deepEqual(waits, [200, 400]);
  });

  it('a 500 and then a 204 is ok on the second attempt', async () => {
    reset();
    pod.set((n, res) => void res.writeHead(n === 1 ? 500 : 204).end());
    const result = await callHook(call(pod.port()), deps);
    assert.deepEqual([result.outcome, result.status, result.attempts], ['ok', 204, 2]);
  });

  it('retries 0: one attempt only', async () => {
    reset();
    pod.set((_n, res) => void res.writeHead(503).end());
    const result = await callHook(call(pod.port(), { retries: 0 }), deps);
    assert.deepEqual([result.outcome, result.attempts, pod.seen.length], ['failed', 1, 1]);
  });

  it('a hook that never answers times out on each attempt', async () => {
    reset();
    pod.set(() => undefined);
    const result = await callHook(call(pod.port(), { timeoutMs: 150, retries: 1 }), deps);
    assert.deepEqual([result.outcome, result.status, result.attempts], ['timeout', null, 2]);
    assert.match(result.detail, /did not answer within 150 ms/);
    assert.equal(pod.seen.length, 2);
  });

  it('a redirect is a failure and is not followed', async () => {
    reset();
    pod.set((_n, res) => void res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port()}/steal` }).end());
    const result = await callHook(call(pod.port(), { retries: 1 }), deps);
    assert.deepEqual([result.outcome, result.status, result.attempts], ['failed', 302, 2]);
    assert.match(result.detail, /redirect; not followed/);
    assert.equal(elsewhere.seen.length, 0, 'the redirect target was called');
  });

  it('a refused connection fails with no status', async () => {
    reset();
    const closed = fakePod();
    await listen(closed.server);
    const port = closed.port();
    await close(closed.server);
    const result = await callHook(call(port, { retries: 1 }), deps);
    assert.deepEqual([result.outcome, result.status, result.attempts], ['failed', null, 2]);
    assert.match(result.detail, /ECONNREFUSED/);
  });

  it('a pod without an address is not called at all', async () => {
    reset();
    const result = await callHook(call(pod.port(), { ip: undefined, unreachable: 'the pod has no IP in its status' }), deps);
    assert.deepEqual(result, { outcome: 'failed', status: null, attempts: 0, detail: 'the pod has no IP in its status' });
    assert.equal(pod.seen.length, 0);
  });

  it('an IPv6 address is bracketed in the URL', () => {
    assert.equal(hookUrl(call(8080), 'fd00::5'), 'http://[fd00::5]:8080/demote');
    assert.equal(hookUrl(call(8080), '10.1.2.3'), 'http://10.1.2.3:8080/demote');
  });

  it('the backoff doubles and stops growing at 2 s', async () => {
    reset();
    pod.set((_n, res) => void res.writeHead(500).end());
    await callHook(call(pod.port(), { retries: 5 }), deps);
    assert.deepEqual(waits, [200, 400, 800, 1_600, 2_000]);
  });
});
