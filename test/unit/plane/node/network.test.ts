
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CLUSTER_RANGE, conflicts, describeConflicts, KWOK_POD_RANGE, MAX_KWOK_NODES_WITH_REAL_NODE, nodeNames, overlaps, parseCidr, parseInUse, POD_RANGE, REAL_NODE_GATEWAY, REAL_NODE_SUBNET, SERVICE_RANGE } from '../../../../plane/node/network.js';
import { PRIVATE, cidr } from './fixtures.js';

describe('address plan', () => {
  it('pods and Services sit in separate halves of 198.18.0.0/15, clear of the private ranges', () => {
    assert.ok(overlaps(POD_RANGE, CLUSTER_RANGE) && overlaps(SERVICE_RANGE, CLUSTER_RANGE));
    assert.equal(overlaps(POD_RANGE, SERVICE_RANGE), false);
    for (const r of [CLUSTER_RANGE, POD_RANGE, SERVICE_RANGE, REAL_NODE_SUBNET, KWOK_POD_RANGE, `${REAL_NODE_GATEWAY}/32`]) {
      for (const p of PRIVATE) assert.equal(overlaps(r, p), false, `${r} overlaps ${p}`);
    }
    assert.ok(overlaps(REAL_NODE_SUBNET, POD_RANGE));
    // kwok's fake pod addresses and the kwok nodes' /24s stay below the real node's subnet.
    assert.equal(overlaps(KWOK_POD_RANGE, REAL_NODE_SUBNET), false);
    assert.equal(overlaps(`198.18.${MAX_KWOK_NODES_WITH_REAL_NODE - 1}.0/24`, REAL_NODE_SUBNET), false);
  });

  it('parseCidr rejects what is not an IPv4 CIDR', () => {
    for (const bad of ['198.18.0.0', '198.18.0.256/24', '198.18.0.0/33', 'fd00::/64', '', '1.2.3.4/24 ']) assert.throws(() => parseCidr(bad), /not an IPv4 CIDR/);
    assert.deepEqual(parseCidr('198.18.128.7/24'), { base: ((198 << 24) >>> 0) + (18 << 16) + (128 << 8), prefix: 24 });
  });

  it('overlaps is symmetric, reflexive, and true exactly when one range contains the other', () => {
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        assert.equal(overlaps(a, b), overlaps(b, a));
        assert.equal(overlaps(a, a), true);
        const x = parseCidr(a);
        const y = parseCidr(b);
        const containsFirst = (outer: typeof x, inner: typeof y): boolean =>
          outer.prefix <= inner.prefix && (outer.prefix === 0 || inner.base >>> (32 - outer.prefix) === outer.base >>> (32 - outer.prefix));
        assert.equal(overlaps(a, b), containsFirst(x, y) || containsFirst(y, x));
      }),
    );
  });

  it('names every kernel object after the plane folder, within interface-name limits', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (dir) => {
        const n = nodeNames(`/tmp/${dir}`);
        assert.ok(n.bridge.length <= 15);
        assert.match(n.bridge, /^btn[0-9a-f]{8}$/);
        assert.equal(n.cgroupRoot, `baton-${n.id}`);
      }),
    );
    assert.notEqual(nodeNames('/tmp/a').bridge, nodeNames('/tmp/b').bridge);
  });

  it('finds addresses and routes that collide with the cluster range, except on our own bridge', () => {
    const addr = JSON.stringify([
      { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
      { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 24 }, { family: 'inet6', local: 'fd00::2', prefixlen: 64 }] },
      { ifname: 'btnown', addr_info: [{ family: 'inet', local: '198.18.128.1', prefixlen: 24 }] },
      { ifname: 'docker0', addr_info: [{ family: 'inet', local: '198.19.0.1', prefixlen: 16 }] },
    ]);
    const routes = JSON.stringify([{ dst: 'default', dev: 'eth0' }, { dst: '198.18.0.0/15', dev: 'btnown' }, { dst: '198.16.0.0/14', dev: 'tun0' }, { dst: '192.0.2.0/24', dev: 'eth0' }]);
    const found = conflicts(parseInUse(addr, routes), 'btnown');
    assert.deepEqual(found, [
      { dev: 'docker0', cidr: '198.19.0.1/16', kind: 'address' },
      { dev: 'tun0', cidr: '198.16.0.0/14', kind: 'route' },
    ]);
    const message = describeConflicts(found);
    assert.match(message, /198\.18\.0\.0\/15/);
    assert.match(message, /docker0/);
    assert.match(message, /baton cluster down/);
    assert.deepEqual(conflicts(parseInUse(addr, routes), 'btnown').length > 0, true);
    assert.deepEqual(conflicts(parseInUse('[]', JSON.stringify([{ dst: 'default', dev: 'eth0' }, { type: 'unreachable', dst: '203.0.113.0/24' }, { dev: 'lo' }])), 'x'), []);
    // Output of another shape is refused, not misread as "nothing in use".
    assert.throws(() => parseInUse(JSON.stringify([{ ifname: 'eth0', addr_info: [{ family: 'inet', local: 7 }] }]), '[]'));
  });
});
