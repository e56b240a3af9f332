import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { requestObserver, type ObservedRequest } from '../../../../shared/k8s/observe.js';

const context = (method: k8s.HttpMethod, url: string): k8s.RequestContext => new k8s.RequestContext(url, method);
const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('requestObserver', () => {
  it('pairs each reply with its own request when calls overlap', async () => {
    const seen: ObservedRequest[] = [];
    const t = requestObserver((r) => seen.push(r));
    // The slow call sends first and is answered last: the replies cross.
    const slow = t.around(async () => {
      t.sent(context(k8s.HttpMethod.GET, 'https://h/api/v1/namespaces/a/pods'));
      await tick(20);
      t.answered(500);
    });
    const fast = t.around(async () => {
      await tick(1);
      t.sent(context(k8s.HttpMethod.PATCH, 'https://h/api/v1/namespaces/a/services/s'));
      t.answered(409);
    });
    await Promise.all([slow, fast]);
    assert.deepEqual(
      seen.map((r) => [r.method, r.url.split('/').pop(), r.status]),
      [
        ['PATCH', 's', 409],
        ['GET', 'pods', 500],
      ],
    );
  });

  it('reports a request without a reply as such, and a call that sent nothing not at all', async () => {
    const seen: ObservedRequest[] = [];
    const t = requestObserver((r) => seen.push(r));
    await assert.rejects(
      t.around(async () => {
        t.sent(context(k8s.HttpMethod.GET, 'https://h/api/v1/namespaces/a/services/s'));
        throw new Error('timeout');
      }),
    );
    await t.around(async () => undefined);
    assert.deepEqual(seen.map((r) => r.status), [undefined]);
  });

  it('never lets a failing observer fail the call', async () => {
    const t = requestObserver(() => {
      throw new Error('broken metrics');
    });
    const result = await t.around(async () => {
      t.sent(context(k8s.HttpMethod.GET, 'https://h/api/v1/namespaces/a/services/s'));
      t.answered(200);
      return 'ok';
    });
    assert.equal(result, 'ok');
  });
});
