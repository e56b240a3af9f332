import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardMetrics } from '../../../../shared/balancer/metrics.js';

describe('balancer metrics hook', () => {
  it('passes calls through, and swallows what a broken callback throws', () => {
    const seen: unknown[] = [];
    const m = guardMetrics({
      picked: (ok) => seen.push(ok),
      endpoints: () => {
        throw new Error('broken');
      },
    });
    m.picked?.(true);
    assert.doesNotThrow(() => m.endpoints?.(3));
    assert.deepEqual(seen, [true]);
    assert.equal(m.hint, undefined, 'an absent callback stays absent');
    assert.deepEqual(guardMetrics(undefined), {});
  });
});
