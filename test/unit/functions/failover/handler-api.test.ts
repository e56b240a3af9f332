
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { listen } from '../../../../shared/http/listen.js';
import { createServer } from '../../../../shared/http/server.js';
import { ForbiddenError, TransientError } from '../../../../shared/k8s/errors.js';
import { loadEnvelope, structured } from '../../../fixtures/apiserversource.js';
import { CONTEXT, KEYS, NS, silentLogger, uidOf } from './world.js';
import { recorded, failoverWorld } from './handler-fixtures.js';

describe('failover handler: API failures', () => {
  it('a TransientError becomes a retry outcome, and HTTP 503 with Retry-After', async () => {
    const r = failoverWorld(false);
    r.cluster.inject({ method: 'listPods', action: { kind: 'throw', error: () => new TransientError('list pods in demo: HTTP 503: etcd leader changed', 503) } });
    const handle = createFailoverHandler(r.deps);
    const outcome = await handle(recorded('podUpdateNotReady'), CONTEXT);
    assert.deepEqual(outcome, { status: 'retry', retryAfterSeconds: 1, detail: 'list pods in demo: HTTP 503: etcd leader changed' });
    assert.equal(r.cluster.writes.length, 0);

    const server = await listen(createServer({ handle, logger: silentLogger(), bodyLimit: 1 << 20 }), { host: '127.0.0.1', port: 0 });
    try {
      const wire = structured(loadEnvelope('podUpdateNotReady'));
      const response = await fetch(server.url, { method: 'POST', headers: wire.headers, body: wire.body });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '1');
      await response.arrayBuffer();
    } finally {
      await server.close();
    }
    assert.equal(r.cluster.writes.length, 0);
  });

  it('a ForbiddenError on the write is handled (no redelivery) and nothing is written', async () => {
    const r = failoverWorld(true);
    r.cluster.inject({ method: 'patchService', action: { kind: 'throw', error: () => new ForbiddenError('patch service demo/web: HTTP 403: forbidden', 403) } });
    const outcome = await createFailoverHandler(r.deps)(recorded('podUpdateNotReady'), CONTEXT);
    assert.deepEqual(outcome, { status: 'handled', detail: 'failed: patch service demo/web: HTTP 403: forbidden' });
    assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-0'));
    assert.equal(r.emitter.drafts.length, 0);
  });

  it('a Service that keeps changing yields conflicted, which the handler answers with a retry', async () => {
    const r = failoverWorld(true);
    r.cluster.inject({ method: 'patchService', action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web') } });
    const outcome = await createFailoverHandler({ ...r.deps, conflictRetries: 1 })(recorded('podUpdateNotReady'), CONTEXT);
    assert.equal(outcome.status, 'retry');
    assert.equal(r.cluster.count('patchService'), 2);
    assert.equal(r.cluster.writes.length, 0);
  });
});
