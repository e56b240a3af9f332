import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, runWatchLoop, type WatchEvent, type WatchSource } from '../../../../shared/k8s/watch.js';

interface Obj {
  readonly name: string;
}

/** A scripted server: each watch call plays the next script entry. */
function scripted(lists: string[][], watches: Array<(rv: string, emit: (e: WatchEvent<Obj>) => void) => Promise<void>>) {
  const calls: string[] = [];
  let list = 0;
  let watch = 0;
  const source: WatchSource<Obj> = {
    list: async () => {
      const items = lists[Math.min(list, lists.length - 1)]!.map((name) => ({ name }));
      calls.push(`list#${list}`);
      list += 1;
      return { items, resourceVersion: `L${list}` };
    },
    watch: async (rv, emit, signal) => {
      calls.push(`watch@${rv}`);
      const step = watches[watch++];
      // Past the script the server stays quiet until the loop is stopped, as a real watch would.
      if (!step) return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return step(rv, emit);
    },
  };
  return { source, calls };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('runWatchLoop', () => {
  it('watches from the list version, resumes from the last version seen, lists again only on 410', async () => {
    const state = new Map<string, Obj>();
    const errors: unknown[] = [];
    const { source, calls } = scripted(
      [['a'], ['c']],
      [
        async (_rv, emit) => {
          emit({ type: 'ADDED', object: { name: 'b' }, resourceVersion: '5' });
          emit({ type: 'BOOKMARK', resourceVersion: '7' });
          throw new Error('connection reset');
        },
        async (_rv, emit) => {
          emit({ type: 'DELETED', object: { name: 'a' }, resourceVersion: '8' });
          emit({ type: 'ERROR', code: 410, message: 'too old resource version' });
        },
      ],
    );
    const stop = new AbortController();
    const loop = runWatchLoop(
      source,
      {
        replace: (items) => {
          state.clear();
          for (const i of items) state.set(i.name, i);
        },
        apply: (e) => (e.type === 'DELETED' ? state.delete(e.object.name) : state.set(e.object.name, e.object)),
        failed: (e) => errors.push(e),
      },
      { signal: stop.signal, backoff: { initialMs: 1, maxMs: 2 } },
    );
    await until('the third watch', () => calls.length >= 5);
    stop.abort();
    await loop;
    assert.deepEqual(calls, ['list#0', 'watch@L1', 'watch@7', 'list#1', 'watch@L2']);
    assert.deepEqual([...state.keys()], ['c'], 'a re-list replaces the copy');
    assert.equal(errors.length, 1);
  });

  it('a failing list is retried after a backoff, and shutdown ends the loop', async () => {
    let attempts = 0;
    const source: WatchSource<Obj> = {
      list: async () => {
        attempts += 1;
        throw new Error('ECONNREFUSED');
      },
      watch: async () => undefined,
    };
    const stop = new AbortController();
    const loop = runWatchLoop(source, { replace: () => undefined, apply: () => undefined, failed: () => undefined }, { signal: stop.signal, backoff: { initialMs: 20, maxMs: 20 } });
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    await loop;
    assert.ok(attempts >= 2 && attempts <= 12, `attempts: ${attempts}`);
  });

  it('backoff grows to its cap', () => {
    const b = { initialMs: 100, maxMs: 1_000 };
    assert.equal(backoffDelay(1, b, () => 1), 100);
    assert.equal(backoffDelay(3, b, () => 1), 400);
    assert.equal(backoffDelay(10, b, () => 1), 1_000);
    assert.equal(backoffDelay(10, b, () => 0), 50);
  });
});
