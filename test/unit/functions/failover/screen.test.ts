// Events the failover function can tell from their attributes (and, for the pod-id
// label, their raw bytes) that it will ignore are answered before their data is read:
// no UTF-8 decoding, no JSON, no zod. Through the real server, as Knative delivers them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { listen, type RunningServer } from '../../../../shared/http/listen.js';
import { createServer, OUTCOME_HEADER, REQUEST_ID_HEADER } from '../../../../shared/http/server.js';
import { captureLogs } from '../../../fixtures/log-capture.js';
import { FakeCluster } from './fake-cluster.js';
import { KEYS, makePod, makeService, NS, rig } from './world.js';

function wire(namespace: string, body: string, kind = 'Pod'): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'e-1',
      'ce-source': 'https://127.0.0.1:6443',
      'ce-type': 'dev.knative.apiserver.resource.update',
      'ce-subject': `/apis/v1/namespaces/${namespace}/pods/x`,
      'ce-kind': kind,
      'ce-name': 'x',
      'ce-namespace': namespace,
    },
    body,
  };
}

describe('failover screen: ignored before the data is read', () => {
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active' }));
  cluster.putService(makeService({ active: 'web-0' }));
  const r = rig(cluster, { namespaces: [NS, 'quiet'] });
  r.index.observe(cluster.service(NS, 'web'));
  let server: RunningServer;
  // The reason an event was ignored is in the request's log line, not in the reply.
  const { logger, lines } = captureLogs('info', 'screen-test');
  before(async () => {
    server = await listen(createServer({ handle: createFailoverHandler(r.deps), logger, bodyLimit: 1 << 20 }), { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());
  const post = async (w: ReturnType<typeof wire>): Promise<[number, string | null, string | null]> => {
    const res = await fetch(server.url, { method: 'POST', headers: w.headers, body: w.body });
    await res.arrayBuffer();
    const line = lines.find((l) => l['requestId'] === res.headers.get(REQUEST_ID_HEADER) && l['msg'] === 'request');
    const detail = line?.['detail'] ?? line?.['reason'];
    return [res.status, res.headers.get(OUTCOME_HEADER), typeof detail === 'string' ? detail : null];
  };

  it('a pod in a namespace with no opted-in Service: its data is never read (not even when it is not JSON)', async () => {
    assert.deepEqual(await post(wire('quiet', 'not json at all')), [200, 'ignored', 'no opted-in service selects this pod']);
    assert.equal(cluster.requestCount, 0);
  });

  it('a namespace out of scope, any kind', async () => {
    assert.deepEqual(await post(wire('elsewhere', 'not json')), [200, 'ignored', 'namespace elsewhere is out of scope']);
    assert.deepEqual(await post(wire('elsewhere', 'not json', 'Service')), [200, 'ignored', 'namespace elsewhere is out of scope']);
  });

  it('a slice in a namespace with no opted-in Service', async () => {
    assert.deepEqual(await post(wire('quiet', 'not json', 'EndpointSlice')), [200, 'ignored', 'slice of a service that is not opted in']);
  });

  it('a pod whose bytes carry the pod-id label is read: the index may be behind', async () => {
    const [status] = await post(wire('quiet', `{"metadata":{"labels":{"${KEYS.podId}":"u"}`));
    assert.equal(status, 400, 'read, and found to be broken');
  });

  it('a pod in a namespace with an opted-in Service is read', async () => {
    const [status] = await post(wire(NS, 'not json'));
    assert.equal(status, 400);
  });

  it('a Service event is always read: it may be an opt-in the index has not seen', async () => {
    const [status] = await post(wire('quiet', 'not json', 'Service'));
    assert.equal(status, 400);
  });
});
