// The one conflict loop (shared/k8s/retry.ts): bounded, pausing a random, growing time
// between attempts, a 409 treated as "read again", any other error passed on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryOnConflict, stale } from '../../../shared/k8s/retry.js';
import { ConflictError, TransientError } from '../../../shared/k8s/errors.js';

type Done = { readonly outcome: 'done'; readonly detail: string };

function recorder(random = 0.5) {
  const pauses: number[] = [];
  const retried: Array<[number, string]> = [];
  return { pauses, retried, policy: { sleep: async (ms: number) => void pauses.push(ms), random: () => random, onRetry: (n: number, why: string) => void retried.push([n, why]) } };
}

describe('retryOnConflict', () => {
  it('returns the first attempt that is not stale, with no pause before the first', async () => {
    const r = recorder();
    const result = await retryOnConflict<Done>({ attempts: 4, what: 'service', ...r.policy }, async (n) => (n < 3 ? stale(`lost race ${n}`) : { outcome: 'done', detail: `attempt ${n}` }));
    assert.deepEqual(result, { outcome: 'done', detail: 'attempt 3' });
    assert.deepEqual(r.pauses, [10, 20], 'half of 10·2 and of 10·4 ms with random() = 0.5');
    assert.deepEqual(r.retried, [[2, 'lost race 1'], [3, 'lost race 2']]);
  });

  it('a ConflictError thrown by an attempt is a lost race too', async () => {
    const r = recorder(0);
    let calls = 0;
    const result = await retryOnConflict<Done>({ attempts: 2, what: 'service', ...r.policy }, async () => {
      calls += 1;
      if (calls === 1) throw new ConflictError('the object has been modified', 409);
      return { outcome: 'done', detail: 'ok' };
    });
    assert.deepEqual(result, { outcome: 'done', detail: 'ok' });
    assert.deepEqual(r.retried, [[2, 'the object has been modified']]);
  });

  it('gives up as conflicted after the bound, having made exactly that many attempts', async () => {
    for (const attempts of [1, 2, 5]) {
      const r = recorder(0.999);
      let calls = 0;
      const result = await retryOnConflict<Done>({ attempts, what: 'routes', ...r.policy }, async () => {
        calls += 1;
        return stale('again');
      });
      assert.deepEqual(result, { outcome: 'conflicted', detail: `routes kept changing; gave up after ${attempts} attempts` });
      assert.equal(calls, attempts);
      assert.equal(r.pauses.length, attempts - 1);
      r.pauses.forEach((ms, i) => assert.ok(ms < 10 * 2 ** (i + 1), `pause ${i + 1} within its bound: ${ms}`));
    }
  });

  it('at least one attempt, whatever the bound says', async () => {
    const result = await retryOnConflict<Done>({ attempts: 0, what: 'service', sleep: async () => undefined }, async () => ({ outcome: 'done', detail: 'once' }));
    assert.deepEqual(result, { outcome: 'done', detail: 'once' });
  });

  it('any other error ends the loop at once', async () => {
    let calls = 0;
    await assert.rejects(
      retryOnConflict<Done>({ attempts: 5, what: 'service', sleep: async () => undefined }, async () => {
        calls += 1;
        throw new TransientError('etcd leader changed', 503);
      }),
      TransientError,
    );
    assert.equal(calls, 1);
  });
});
