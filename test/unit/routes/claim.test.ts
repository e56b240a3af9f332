import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readClaim, type Claim } from '../../../shared/routes/claim.js';
import { keys, svc } from './fixtures.js';

const route = (claim: Claim) => {
  assert.equal(claim.kind, 'route', JSON.stringify(claim));
  return (claim as Extract<Claim, { kind: 'route' }>).route;
};
const problems = (claim: Claim) => {
  assert.equal(claim.kind, 'invalid', JSON.stringify(claim));
  return (claim as Extract<Claim, { kind: 'invalid' }>).problems;
};

describe('readClaim', () => {
  it('asks for nothing without routing annotations', () => {
    assert.deepEqual(readClaim(svc('a', { 'baton.dev/mode': 'active-standby' }), keys, undefined), { kind: 'none' });
  });

  it('routes a host to the only port, at /, with the configured class', () => {
    assert.deepEqual(route(readClaim(svc('a', { 'baton.dev/host': 'a.example.com' }), keys, 'nginx')), {
      host: 'a.example.com',
      path: '/',
      port: { number: 8080 },
      tlsSecret: undefined,
      ingressClass: 'nginx',
    });
  });

  it('takes path, port by name or number, and TLS secret', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/api', 'baton.dev/port': 'metrics', 'baton.dev/tls-secret': 'a-tls' }, { ports: [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }] });
    assert.deepEqual(route(readClaim(s, keys, undefined)), { host: 'a.example.com', path: '/api', port: { name: 'metrics' }, tlsSecret: 'a-tls', ingressClass: undefined });
    const n = svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': '9090' }, { ports: [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }] });
    assert.deepEqual(route(readClaim(n, keys, undefined)).port, { number: 9090 });
  });

  it('accepts the legacy service-loadbalancer annotation with and without a port', () => {
    assert.equal(route(readClaim(svc('a', { 'serviceloadbalancer/lb.host': 'grafana.example.com' }), keys, undefined)).host, 'grafana.example.com');
    const s = svc('a', { 'serviceloadbalancer/lb.host': 'grafana.example.com:3000' }, { ports: [{ name: undefined, port: 3000 }, { name: 'x', port: 9 }] });
    assert.deepEqual(route(readClaim(s, keys, undefined)).port, { number: 3000 });
  });

  it('prefers baton.dev/host over the legacy annotation', () => {
    const s = svc('a', { 'baton.dev/host': 'new.example.com', 'serviceloadbalancer/lb.host': 'old.example.com' });
    assert.equal(route(readClaim(s, keys, undefined)).host, 'new.example.com');
  });

  it('reports the legacy example whose host and port are both wrong, naming each problem', () => {
    // The retired service-loadbalancer's own example: an underscore in the host, and a
    // port the Service does not expose.
    const s = svc('grafana', { 'serviceloadbalancer/lb.host': 'grafana.under.my_domain.name:30800' }, { ports: [{ name: undefined, port: 3000 }] });
    const found = problems(readClaim(s, keys, undefined));
    assert.equal(found.length, 1);
    assert.match(found[0]!.message, /DNS-1123/);
    const fixed = svc('grafana', { 'serviceloadbalancer/lb.host': 'grafana.example.com:30800' }, { ports: [{ name: undefined, port: 3000 }] });
    assert.match(problems(readClaim(fixed, keys, undefined))[0]!.message, /no port 30800 \(it has 3000\)/);
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['empty host', { 'baton.dev/host': '' }, /empty/],
    ['uppercase host', { 'baton.dev/host': 'A.example.com' }, /lowercase/],
    ['IP host', { 'baton.dev/host': '10.0.0.1' }, /not route IP/],
    ['host with port', { 'baton.dev/host': 'a.example.com:80' }, /no port/],
    ['underscore', { 'baton.dev/host': 'a_b.example.com' }, /DNS-1123/],
    ['bare wildcard', { 'baton.dev/host': '*.' }, /wildcard/],
    ['relative path', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': 'api' }, /absolute path/],
    ['dot segment', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/a/../b' }, /"\/\.\.\/"/],
    ['space in path', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/a b' }, /URL path characters/],
    ['unknown port', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': '81' }, /no port 81/],
    ['bad port name', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': 'HTTP!' }, /port number or the name/],
    ['port out of range', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': '70000' }, /1 to 65535/],
    ['bad secret', { 'baton.dev/host': 'a.example.com', 'baton.dev/tls-secret': 'Bad_Secret' }, /Secret/],
    ['path without host', { 'baton.dev/path': '/x' }, /no effect without baton.dev\/host/],
  ];
  for (const [what, annotations, message] of bad) {
    it(`refuses ${what} with a message`, () => {
      const found = problems(readClaim(svc('a', annotations), keys, undefined));
      assert.ok(found.some((p) => message.test(p.message)), JSON.stringify(found));
    });
  }

  it('names every problem at once', () => {
    const found = problems(readClaim(svc('a', { 'baton.dev/host': 'A', 'baton.dev/path': 'x', 'baton.dev/tls-secret': '_' }), keys, undefined));
    assert.deepEqual(found.map((p) => p.key).sort(), ['baton.dev/host', 'baton.dev/path', 'baton.dev/tls-secret']);
  });

  it('asks which port when the Service has several and none is named', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com' }, { ports: [{ name: 'http', port: 80 }, { name: 'grpc', port: 9000 }] });
    const [p] = problems(readClaim(s, keys, undefined));
    assert.equal(p!.key, 'baton.dev/port');
    assert.match(p!.message, /2 ports \(http=80, grpc=9000\); say which one/);
  });

  it('refuses a Service without ports', () => {
    assert.match(problems(readClaim(svc('a', { 'baton.dev/host': 'a.example.com' }, { ports: [] }), keys, undefined))[0]!.message, /exposes no ports/);
  });

  it('accepts a wildcard host', () => {
    assert.equal(route(readClaim(svc('a', { 'baton.dev/host': '*.apps.example.com' }), keys, undefined)).host, '*.apps.example.com');
  });
});
