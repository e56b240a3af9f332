import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostPort, resolve, RoundRobin, slicesFrom, withoutSlice, withSlice, type Endpoint, type Resolution } from '../../../../shared/balancer/model.js';
import { HTTP, slice } from './slices.js';

const addresses = (r: Resolution): string[] => (r.kind === 'ok' ? r.endpoints.map((e) => `${e.address}:${e.port}`) : [`unknown-port ${r.available.map((p) => p.name).join(',')}`]);

describe('resolve: slices to the endpoints of one port', () => {
  const cases: ReadonlyArray<{ name: string; slices: ReturnType<typeof slice>[]; port: string | number | undefined; want: string[] }> = [
    { name: 'only ready endpoints', slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }, { ip: '10.0.0.3', ready: true }])], port: 'http', want: ['10.0.0.1:8080', '10.0.0.3:8080'] },
    { name: 'every slice, not the first', slices: [slice('a', HTTP, [{ ip: '10.0.0.2' }]), slice('b', HTTP, [{ ip: '10.0.0.1' }])], port: 'http', want: ['10.0.0.1:8080', '10.0.0.2:8080'] },
    { name: 'an endpoint listed in two slices counts once', slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }]), slice('b', HTTP, [{ ip: '10.0.0.1' }])], port: 'http', want: ['10.0.0.1:8080'] },
    { name: 'by number: the port on the pods', slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }])], port: 8080, want: ['10.0.0.1:8080'] },
    { name: 'the Service port number is not the endpoint port', slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }])], port: 80, want: ['unknown-port http'] },
    { name: 'a name the slices do not carry', slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }])], port: 'grpc', want: ['unknown-port http'] },
    { name: 'no port named, one port: used', slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }])], port: undefined, want: ['10.0.0.1:8080'] },
    {
      name: 'no port named, two ports: ambiguous',
      slices: [slice('a', [...HTTP, { name: 'grpc', port: 9090 }], [{ ip: '10.0.0.1' }])],
      port: undefined,
      want: ['unknown-port grpc,http'],
    },
    {
      name: 'a named port per slice: numbers may differ between slices',
      slices: [slice('a', HTTP, [{ ip: '10.0.0.1' }]), slice('b', [{ name: 'http', port: 8081 }], [{ ip: '10.0.0.2' }])],
      port: 'http',
      want: ['10.0.0.1:8080', '10.0.0.2:8081'],
    },
    { name: 'slices without ports (nothing selected yet): no endpoints, not an unknown port', slices: [slice('a', null, [])], port: 'http', want: [] },
    { name: 'no slices at all', slices: [], port: 'http', want: [] },
    { name: 'an unnamed single port is the empty name', slices: [slice('a', [{ port: 5432 }], [{ ip: '10.0.0.1' }])], port: '', want: ['10.0.0.1:5432'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(addresses(resolve(slicesFrom(c.slices), c.port)), c.want));
  }

  it('keeps the pod reference of each endpoint', () => {
    const r = resolve(slicesFrom([slice('a', HTTP, [{ ip: '10.0.0.1', pod: 'web-0' }])]), 'http');
    assert.equal(r.kind, 'ok');
    assert.deepEqual(r.kind === 'ok' ? r.endpoints[0]?.pod : undefined, { name: 'web-0', uid: 'uid-web-0' });
  });
});

describe('slices by name', () => {
  it('an update replaces the slice, a deletion drops its endpoints', () => {
    let s = slicesFrom([slice('a', HTTP, [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }])]);
    s = withSlice(s, slice('a', HTTP, [{ ip: '10.0.0.2' }]));
    assert.deepEqual(addresses(resolve(s, 'http')), ['10.0.0.2:8080']);
    s = withoutSlice(s, 'a');
    assert.deepEqual(addresses(resolve(s, 'http')), []);
  });
});

describe('RoundRobin', () => {
  const ep = (address: string): Endpoint => ({ address, port: 80, pod: undefined, nodeName: undefined, zone: undefined });
  it('cycles through the list', () => {
    const rr = new RoundRobin();
    rr.replace([ep('a'), ep('b'), ep('c')]);
    assert.deepEqual([1, 2, 3, 4].map(() => rr.next()?.address), ['a', 'b', 'c', 'a']);
  });
  it('after a change continues after the last endpoint returned, not at the front', () => {
    const rr = new RoundRobin();
    rr.replace([ep('a'), ep('b'), ep('c')]);
    rr.next();
    rr.next(); // b
    rr.replace([ep('a'), ep('c'), ep('d')]);
    assert.equal(rr.next()?.address, 'c');
  });
  it('returns nothing for an empty list', () => {
    const rr = new RoundRobin();
    rr.replace([]);
    assert.equal(rr.next(), undefined);
  });
});

it('hostPort brackets IPv6', () => {
  assert.equal(hostPort({ address: 'fd00::1', port: 80 }), '[fd00::1]:80');
  assert.equal(hostPort({ address: '10.0.0.1', port: 80 }), '10.0.0.1:80');
});
