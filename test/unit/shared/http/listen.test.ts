import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { listen } from '../../../../shared/http/listen.js';
import { handled, type Outcome } from '../../../../shared/http/outcome.js';
import { binary, loadEnvelope } from '../../../fixtures/apiserversource.js';
import { deferred, post, start } from './harness.js';

/** Resolves when the handler has been entered, so close() really races an in-flight request. */
function gate() {
  const entered = deferred<void>();
  const release = deferred<Outcome>();
  return {
    entered: entered.promise,
    release: (outcome: Outcome) => release.resolve(outcome),
    handle: () => {
      entered.resolve();
      return release.promise;
    },
  };
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('listen', () => {
  it('binds port 0 to a free port and reports it', async () => {
    const h = await start();
    try {
      assert.ok(h.server.port > 0);
      assert.equal(h.server.url, `http://127.0.0.1:${h.server.port}`);
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
    } finally {
      await h.server.close();
    }
  });

  it('rejects when the port is taken', async () => {
    const h = await start();
    try {
      await assert.rejects(listen(() => undefined, { host: '127.0.0.1', port: h.server.port }), /EADDRINUSE/);
    } finally {
      await h.server.close();
    }
  });

  it('finishes an in-flight event, refuses new connections, then closes', async () => {
    const g = gate();
    const h = await start({ handle: g.handle });
    const inFlight = post(h.url, binary(loadEnvelope('serviceAdd')));
    await within(2000, 'handler entry', g.entered);

    const closed = h.server.close();
    assert.equal(h.server.closing, true);
    let closeDone = false;
    void closed.then(() => (closeDone = true));

    await assert.rejects(
      fetch(`${h.url}/healthz`, { headers: { connection: 'close' } }),
      'a new connection after close() is refused',
    );
    assert.equal(closeDone, false, 'close waits for the in-flight request');

    g.release(handled('late but done'));
    const response = await within(2000, 'in-flight response', inFlight);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('baton-outcome'), 'handled');
    assert.equal(response.headers.get('connection'), 'close');
    await within(2000, 'close after the last response', closed);
  });

  it('closes idle keep-alive connections at once instead of waiting for their timeout', async () => {
    const h = await start();
    const agentRequest = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${h.url}/healthz`, { headers: { connection: 'keep-alive' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await agentRequest(), 200);
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
    // Node's keep-alive timeout is 5 s; finishing well inside it proves idle sockets were cut.
    await within(1000, 'close with idle keep-alive connections', h.server.close());
  });

  it('cuts a request that outlives the shutdown deadline', async () => {
    const g = gate();
    const h = await start({ handle: g.handle, shutdownTimeoutMs: 100 });
    const inFlight = post(h.url, binary(loadEnvelope('serviceAdd')));
    await within(2000, 'handler entry', g.entered);
    const started = performance.now();
    await within(2000, 'close at the deadline', h.server.close());
    assert.ok(performance.now() - started >= 90, 'waited for the deadline first');
    await assert.rejects(inFlight);
    g.release(handled());
  });

  it('is idempotent', async () => {
    const h = await start();
    const first = h.server.close();
    assert.equal(h.server.close(), first);
    await first;
    await h.server.close();
  });
});
