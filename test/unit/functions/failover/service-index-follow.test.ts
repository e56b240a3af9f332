import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Observed, ServiceView } from '../../../../functions/failover/core/model.js';
import { createServiceIndex } from '../../../../functions/failover/service-index.js';
import type { WatchEvent, WatchSource } from '../../../../shared/k8s/watch.js';
import { FakeCluster } from './fake-cluster.js';
import { KEYS, makeService, NS, silentLogger, T0 } from './world.js';

type Svc = Observed<ServiceView>;

/** A feed whose list and watch the test drives by hand. */
interface Feed {
  source: WatchSource<Svc>;
  list: Svc[];
  listed: number;
  send(event: WatchEvent<Svc>): void;
  end(): void;
}

function feed(): Feed {
  let push: ((event: WatchEvent<Svc>) => void) | undefined;
  let close: (() => void) | undefined;
  const state: Feed = {
    list: [] as Svc[],
    listed: 0,
    source: {
      list: async () => {
        state.listed += 1;
        return { items: state.list, resourceVersion: '100' };
      },
      watch: (_rv: string, onEvent: (event: WatchEvent<Svc>) => void, signal: AbortSignal) =>
        new Promise<void>((resolve) => {
          push = onEvent;
          close = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    },
    send: (event: WatchEvent<Svc>) => push?.(event),
    end: () => close?.(),
  };
  return state;
}

const at = (name: string, rv: string, optedIn = true): Svc => ({ ...makeService({ name, optedIn }), resourceVersion: rv });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('service index: follow', () => {
  it('lists, then applies added, modified and deleted Services in order; a re-list replaces its scope', async () => {
    const r = createServiceIndex({ cluster: new FakeCluster(), keys: KEYS, namespaces: [NS], logger: silentLogger(), now: () => T0 });
    const f = feed();
    f.list = [at('a', '10'), at('b', '11')];
    const stop = new AbortController();
    await r.follow([{ namespace: NS, source: f.source }], stop.signal, () => undefined);
    assert.deepEqual(r.inNamespace(NS).map((s) => s.name).sort(), ['a', 'b']);
    assert.equal(r.refreshedAt, T0);
    await tick();
    f.send({ type: 'ADDED', object: at('c', '12'), resourceVersion: '12' });
    f.send({ type: 'MODIFIED', object: { ...at('b', '13'), annotations: { note: 'x' } }, resourceVersion: '13' });
    // Opting out shows up as DELETED on a label-selected watch.
    f.send({ type: 'DELETED', object: at('a', '14'), resourceVersion: '14' });
    assert.deepEqual(r.inNamespace(NS).map((s) => s.name).sort(), ['b', 'c']);
    assert.equal(r.get(NS, 'b')?.annotations['note'], 'x');
    // The server ends the stream; the loop resumes the watch without listing again.
    f.end();
    await tick();
    assert.equal(f.listed, 1);
    stop.abort();
  });

  it('a list replaces only its own namespace', async () => {
    const r = createServiceIndex({ cluster: new FakeCluster(), keys: KEYS, namespaces: [NS, 'other'], logger: silentLogger(), now: () => T0 });
    r.observe({ ...makeService({ name: 'x', namespace: 'other' }), resourceVersion: '5' });
    const f = feed();
    f.list = [at('a', '10')];
    const stop = new AbortController();
    await r.follow([{ namespace: NS, source: f.source }], stop.signal, () => undefined);
    assert.ok(r.get('other', 'x'), 'another namespace\'s Service stays');
    assert.ok(r.get(NS, 'a'));
    stop.abort();
  });
});
