
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireNodeLock, NodeLockError, releaseNodeLock, writeLockFor } from '../../../../plane/node/lock.js';

describe('one real node per machine', () => {
  const lockPath = (): string => join(mkdtempSync(join(tmpdir(), 'baton-lock-')), 'node.lock');

  it('is taken by the first plane, refused to a second while the first runs, and released only by its owner', () => {
    const path = lockPath();
    acquireNodeLock('/plane/a', () => true, path);
    acquireNodeLock('/plane/a', () => true, path); // the owner again: fine
    assert.throws(() => acquireNodeLock('/plane/b', (owner) => owner === '/plane/a', path), (e: Error) => e instanceof NodeLockError && /already runs from \/plane\/a/.test(e.message) && /BATON_STATE_DIR=\/plane\/a baton cluster down/.test(e.message));
    releaseNodeLock('/plane/b', path);
    assert.equal(readFileSync(path, 'utf8'), '/plane/a');
    releaseNodeLock('/plane/a', path);
    acquireNodeLock('/plane/b', () => true, path);
    assert.equal(readFileSync(path, 'utf8'), '/plane/b');
  });

  it('is taken over from a plane that no longer runs', () => {
    const path = lockPath();
    writeLockFor('/plane/gone', path);
    acquireNodeLock('/plane/c', () => false, path);
    assert.equal(readFileSync(path, 'utf8'), '/plane/c');
  });
});
