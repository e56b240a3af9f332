import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readClaim, type Claim } from '../../../../../functions/routes/core/claim.js';
import { keys, svc } from './fixtures.js';

const route = (claim: Claim) => {
  assert.equal(claim.kind, 'route', JSON.stringify(claim));
  return claim.route;
};
const problems = (claim: Claim) => {
  assert.equal(claim.kind, 'invalid', JSON.stringify(claim));
  return claim.problems;
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

  it('refuses the legacy example\'s underscore host, naming RFC 1123 and showing a corrected name', () => {
    const s = svc('grafana', { 'serviceloadbalancer/lb.host': 'grafana.under.my_domain.name:30800' }, { ports: [{ name: undefined, port: 3000 }] });
    const found = problems(readClaim(s, keys, undefined));
    assert.equal(found.length, 1);
    assert.equal(found[0]!.key, 'serviceloadbalancer/lb.host');
    assert.match(found[0]!.message, /RFC 1123/);
    assert.match(found[0]!.message, /for example grafana\.under\.my-domain\.name/);
  });

  it('reads the legacy port as the old entry port: a one-port Service routes to its port', () => {
    const s = svc('grafana', { 'serviceloadbalancer/lb.host': 'grafana.example.com:30800' }, { ports: [{ name: undefined, port: 3000 }] });
    assert.deepEqual(route(readClaim(s, keys, undefined)), { host: 'grafana.example.com', path: '/', port: { number: 3000 }, tlsSecret: undefined, ingressClass: undefined, legacyEntryPort: 30800 });
  });

  const legacyPorts: Array<[string, string, Array<{ name: string | undefined; port: number }>, Record<string, string>, { port: number | string } | RegExp]> = [
    ['several ports, one matches', 'web.example.com:8080', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], {}, { port: 8080 }],
    ['several ports, none matches', 'web.example.com:30800', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], {}, /2 ports \(http=8080, metrics=9090\) and none is 30800, the old load balancer's entry port; add baton\.dev\/port with the one to route to, e\.g\. baton\.dev\/port: http/],
    ['several ports, baton.dev/port says which', 'web.example.com:30800', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], { 'baton.dev/port': 'metrics' }, { port: 'metrics' }],
    ['no port in the annotation, several ports', 'web.example.com', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], {}, /say which one with baton\.dev\/port/],
    ['no port in the annotation, one port', 'web.example.com', [{ name: 'http', port: 8080 }], {}, { port: 8080 }],
    ['a port name that matches', 'web.example.com:metrics', [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], {}, { port: 'metrics' }],
  ];
  for (const [what, value, ports, extra, expected] of legacyPorts) {
    it(`legacy lb.host: ${what}`, () => {
      const claim = readClaim(svc('web', { 'serviceloadbalancer/lb.host': value, ...extra }, { ports }), keys, undefined);
      if (expected instanceof RegExp) {
        const [p] = problems(claim);
        assert.match(p!.message, expected);
        // The entry port that matched nothing is reported on the annotation that named it.
        if (what.endsWith('none matches')) assert.equal(p!.key, 'serviceloadbalancer/lb.host');
      } else {
        const port = route(claim).port;
        assert.deepEqual(port, typeof expected.port === 'number' ? { number: expected.port } : { name: expected.port });
      }
    });
  }

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['encoded slash in the path', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/a%2fb' }, /^the path may not contain an encoded "\/" \(%2F\)$/],
    ['a stray percent in the path', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/a%zz' }, /^a "%" in a path starts an escape of two hex digits/],
    ['empty host', { 'baton.dev/host': '' }, /^expected a host name, got an empty value$/],
    // Anchored: the generic RFC 1123 message speaks of lowercase letters too.
    ['uppercase host', { 'baton.dev/host': 'A.example.com' }, /^host names must be lowercase$/],
    ['IP host', { 'baton.dev/host': '10.0.0.1' }, /^expected a DNS name; Ingress rules do not route IP addresses$/],
    ['host with port', { 'baton.dev/host': 'a.example.com:80' }, /^a host name carries no port; set the port separately$/],
    ['underscore', { 'baton.dev/host': 'a_b.example.com' }, /^not a valid host name under RFC 1123: .*; for example a-b\.example\.com$/],
    ['bare wildcard', { 'baton.dev/host': '*.' }, /^a wildcard needs a domain after "\*\."$/],
    ['relative path', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': 'api' }, /^expected an absolute path starting with "\/"$/],
    ['dot segment', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/a/../b' }, /^the path may not contain "\/\/", "\/\.\/" or "\/\.\.\/", nor end in "\/\." or "\/\.\."$/],
    ['space in path', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': '/a b' }, /^only URL path characters are allowed/],
    ['unknown port', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': '81' }, /^the Service exposes no port 81 \(it has http=8080\)$/],
    ['bad port name', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': 'HTTP!' }, /^expected a port number or the name of one of the Service's ports$/],
    ['port out of range', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': '70000' }, /^a port number is from 1 to 65535$/],
    ['bad secret', { 'baton.dev/host': 'a.example.com', 'baton.dev/tls-secret': 'Bad_Secret' }, /^expected the name of a Secret in the Service's namespace \(DNS-1123 subdomain\)$/],
    ['path without host', { 'baton.dev/path': '/x' }, /^has no effect without baton\.dev\/host; set the host to route, or remove this annotation$/],
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
