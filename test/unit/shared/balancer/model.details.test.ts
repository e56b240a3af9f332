// The balancer core's edges: named ports across several slices and port names, the
// ports offered when a name is unknown, slices without names, duplicates, and round
// robin across a change of the endpoint list.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { endpointKey, resolve, RoundRobin, slicesFrom, withoutSlice, withSlice, type Endpoint, type SliceLike } from '../../../../shared/balancer/model.js';
import { slice } from './slices.js';

const ep = (address: string, port = 80): Endpoint => ({ address, port, pod: undefined, nodeName: undefined, zone: undefined });
const addresses = (r: ReturnType<typeof resolve>) => {
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  return r.kind === 'ok' ? r.endpoints.map((e) => `${e.address}:${e.port}`) : [];
};

describe('resolve with several port names', () => {
  const web = slice('web-1', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]);
  const other = slice('web-2', [{ name: 'metrics', port: 9191 }, { name: 'http', port: 8181 }], [{ ip: '10.0.0.3' }]);

  it('picks each slice\'s own port for the name', () => {
    const slices = slicesFrom([web, other]);
    assert.deepEqual(addresses(resolve(slices, 'http')), ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8181']);
    assert.deepEqual(addresses(resolve(slices, 'metrics')), ['10.0.0.1:9090', '10.0.0.2:9090', '10.0.0.3:9191']);
    assert.deepEqual(addresses(resolve(slices, 9191)), ['10.0.0.3:9191']);
  });

  it('asks which port when none is given and there are several names, listing them sorted by name then port', () => {
    assert.deepEqual(resolve(slicesFrom([other, web]), undefined), {
      kind: 'unknown-port',
      available: [
        { name: 'http', port: 8080 },
        { name: 'http', port: 8181 },
        { name: 'metrics', port: 9090 },
        { name: 'metrics', port: 9191 },
      ],
    });
  });

  it('an unknown name lists what there is; a port without a number is not listed', () => {
    const odd: SliceLike = { metadata: { name: 'odd' }, ports: [{ name: 'x' }, { port: 7 }], endpoints: [] };
    assert.deepEqual(resolve(slicesFrom([web, odd]), 'grpc'), {
      kind: 'unknown-port',
      available: [
        { name: '', port: 7 },
        { name: 'http', port: 8080 },
        { name: 'metrics', port: 9090 },
      ],
    });
  });

  it('an unnamed port is matched by the empty name and is the only port when none is asked for', () => {
    const unnamed = slicesFrom([{ metadata: { name: 's' }, ports: [{ port: 80 }], endpoints: [{ addresses: ['10.0.0.9'] }] }]);
    assert.deepEqual(addresses(resolve(unnamed, undefined)), ['10.0.0.9:80']);
    assert.deepEqual(addresses(resolve(unnamed, '')), ['10.0.0.9:80']);
  });

  it('a port without a number never matches, even when none is asked for', () => {
    const s = slicesFrom([{ metadata: { name: 's' }, ports: [{ name: 'http' }, { name: 'http', port: 81 }], endpoints: [{ addresses: ['10.0.0.9'] }] }]);
    assert.deepEqual(addresses(resolve(s, undefined)), ['10.0.0.9:81']);
  });

  it('slices without ports or endpoints give nothing, and no unknown port', () => {
    assert.deepEqual(resolve(slicesFrom([{ metadata: { name: 's' }, ports: null, endpoints: null }]), 'http'), { kind: 'ok', endpoints: [] });
    assert.deepEqual(resolve(slicesFrom([{ metadata: { name: 's' }, ports: [{ name: 'http', port: 1 }], endpoints: null }]), 'http'), { kind: 'ok', endpoints: [] });
  });

  it('skips endpoints without an address and not-ready ones; lists an address once, the first copy', () => {
    const a: SliceLike = { metadata: { name: 'a' }, ports: [{ name: 'http', port: 80 }], endpoints: [{ addresses: [] }, { addresses: ['10.0.0.2'], conditions: { ready: false } }, { addresses: ['10.0.0.1'], targetRef: { name: 'p', uid: 'u' } }] };
    const b: SliceLike = { metadata: { name: 'b' }, ports: [{ name: 'http', port: 80 }], endpoints: [{ addresses: ['10.0.0.1'], targetRef: { name: 'q', uid: 'v' } }] };
    const r = resolve(slicesFrom([a, b]), 'http');
    assert.equal(r.kind, 'ok');
    assert.deepEqual(r.kind === 'ok' && r.endpoints, [{ address: '10.0.0.1', port: 80, pod: { name: 'p', uid: 'u' }, nodeName: undefined, zone: undefined }]);
  });

  it('orders endpoints by address and port key, whatever the slice order', () => {
    const s1 = slice('s1', [{ name: 'http', port: 80 }], [{ ip: '10.0.0.3' }, { ip: '10.0.0.1' }]);
    const s2 = slice('s2', [{ name: 'http', port: 80 }], [{ ip: '10.0.0.2' }]);
    assert.deepEqual(addresses(resolve(slicesFrom([s2, s1]), 'http')), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
  });
});

describe('slice maps', () => {
  it('ignores a slice without a name, and returns the same map for an unknown removal', () => {
    const slices = slicesFrom([slice('a', null, [])]);
    assert.equal(withSlice(slices, { metadata: { name: '' } }), slices);
    assert.equal(withSlice(slices, {}), slices);
    assert.equal(withoutSlice(slices, 'nope'), slices);
    const without = withoutSlice(slices, 'a');
    assert.equal(without.size, 0);
    assert.equal(slices.size, 1, 'the old map is left as it was');
  });
});

describe('RoundRobin across changes', () => {
  it('continues after the last endpoint it returned when the list changes', () => {
    const rr = new RoundRobin();
    assert.equal(rr.next(), undefined);
    rr.replace([ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]);
    assert.equal(rr.next()?.address, '10.0.0.1');
    assert.equal(rr.next()?.address, '10.0.0.2');
    rr.replace([ep('10.0.0.1'), ep('10.0.0.3'), ep('10.0.0.4')]);
    assert.equal(rr.next()?.address, '10.0.0.3');
    assert.equal(rr.next()?.address, '10.0.0.4');
    assert.equal(rr.next()?.address, '10.0.0.1');
  });

  it('does not return the last endpoint twice when it is still listed', () => {
    const rr = new RoundRobin();
    rr.replace([ep('10.0.0.1'), ep('10.0.0.2')]);
    rr.next();
    rr.replace([ep('10.0.0.1'), ep('10.0.0.2')]);
    assert.equal(rr.next()?.address, '10.0.0.2');
  });

  it('wraps to the front when nothing is ordered after the last one', () => {
    const rr = new RoundRobin();
    rr.replace([ep('10.0.0.1'), ep('10.0.0.9')]);
    rr.next();
    rr.next();
    rr.replace([ep('10.0.0.1'), ep('10.0.0.5')]);
    assert.equal(rr.next()?.address, '10.0.0.1');
  });

  it('an empty list in between does not lose its place, and the list it uses is exposed', () => {
    const rr = new RoundRobin();
    rr.replace([ep('10.0.0.1'), ep('10.0.0.2')]);
    rr.next();
    rr.replace([]);
    assert.equal(rr.next(), undefined);
    assert.deepEqual(rr.endpoints, []);
    const list = [ep('10.0.0.1'), ep('10.0.0.2')];
    rr.replace(list);
    assert.equal(rr.endpoints, list);
    assert.equal(rr.next()?.address, '10.0.0.2');
  });

  it('wraps when the list shrank under the index without a replace in between', () => {
    const rr = new RoundRobin();
    rr.replace([ep('10.0.0.1')]);
    assert.equal(rr.next()?.address, '10.0.0.1');
    assert.equal(rr.next()?.address, '10.0.0.1');
  });

  it('property: between changes every endpoint is served once per round, and after a change the next one follows the last by key', () => {
    const ips = fc.uniqueArray(fc.integer({ min: 1, max: 250 }), { minLength: 1, maxLength: 8 }).map((xs) => xs.map((x) => ep(`10.0.1.${x}`)).sort((p, q) => (endpointKey(p) < endpointKey(q) ? -1 : 1)));
    fc.assert(
      fc.property(ips, ips, fc.nat(20), (first, second, calls) => {
        const rr = new RoundRobin();
        rr.replace(first);
        const round = first.map(() => rr.next()!.address);
        assert.deepEqual(round, first.map((e) => e.address));
        let last: Endpoint | undefined;
        for (let i = 0; i < calls; i += 1) last = rr.next();
        rr.replace(second);
        const next = rr.next()!;
        const lastKey = endpointKey(last ?? first[first.length - 1]!);
        const expected = second.find((e) => endpointKey(e) > lastKey) ?? second[0]!;
        assert.equal(next, expected);
      }),
    );
  });
});
