import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { best, rank } from '../../../../../functions/failover/core/elect.js';
import type { PodView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod } from './fixtures.js';

const names = (pods: readonly PodView[]): string[] => pods.map((p) => p.name);

describe('rank', () => {
  it('orders by priority, highest first', () => {
    const pods = [pod('a', { priority: '1' }), pod('b', { priority: '-5' }), pod('c', { priority: '20' })];
    assert.deepEqual(names(rank(pods, keys)), ['c', 'a', 'b']);
  });

  it('breaks priority ties by longest ready', () => {
    const pods = [
      pod('a', { readySince: NOW - 5 }),
      pod('b', { readySince: NOW - 50 }),
      pod('c', { readySince: NOW - 10 }),
    ];
    assert.deepEqual(names(rank(pods, keys)), ['b', 'c', 'a']);
  });

  it('puts an unknown ready time after a known one', () => {
    const unknown: PodView = { ...pod('a', { createdAt: 0 }), readySince: undefined };
    assert.deepEqual(names(rank([unknown, pod('b')], keys)), ['b', 'a']);
  });

  it('then by oldest creation, then name, then uid', () => {
    const t = NOW - 1000;
    const pods: PodView[] = [
      // uids run against names here, so a name tie-break and a uid tie-break disagree.
      { ...pod('d', { readySince: t, createdAt: 5 }), uid: 'a-d' },
      pod('c', { readySince: t, createdAt: 1 }),
      { ...pod('b', { readySince: t, createdAt: 5 }), uid: 'x-2' },
      { ...pod('b', { readySince: t, createdAt: 5 }), uid: 'x-1' },
    ];
    assert.deepEqual(
      rank(pods, keys).map((p) => `${p.name}/${p.uid}`),
      ['c/uid-c', 'b/x-1', 'b/x-2', 'd/a-d'],
    );
  });

  it('leaves out pods that are not healthy', () => {
    const pods = [
      pod('a', { ready: false, priority: '9' }),
      pod('b', { phase: 'Pending', priority: '9' }),
      pod('c', { deleting: true, priority: '9' }),
      pod('d'),
    ];
    assert.deepEqual(names(rank(pods, keys)), ['d']);
  });

  it('treats a bad priority as 0', () => {
    const pods = [pod('a', { priority: 'high', readySince: NOW - 99 }), pod('b', { priority: '1' })];
    assert.deepEqual(names(rank(pods, keys)), ['b', 'a']);
  });

  it('does not reorder its input', () => {
    const pods = [pod('a'), pod('b', { priority: '3' })];
    rank(pods, keys);
    assert.deepEqual(names(pods), ['a', 'b']);
  });
});

describe('best', () => {
  it('is the first of the ranking', () => {
    assert.equal(best([pod('a'), pod('b', { priority: '2' })], keys)?.name, 'b');
  });

  it('is undefined when nobody is healthy', () => {
    assert.equal(best([pod('a', { ready: false })], keys), undefined);
  });
});
