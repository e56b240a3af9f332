// The limits of the routing annotations, each at its edge, with the exact message a user
// sees: host length 253, path length 1024, ports 0/1/65535/65536, port names, Secret
// names, the legacy host:port, and trimming.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { correctedHost, hostProblem, pathProblem, readClaim, type Claim } from '../../../../../functions/routes/core/claim.js';
import type { RouteProblem, ServicePort } from '../../../../../functions/routes/core/model.js';
import { keys, svc } from './fixtures.js';

const HOST_RULE =
  'not a valid host name under RFC 1123: dot-separated labels of lowercase letters, digits and "-", each starting and ending with a letter or digit (a leading "*." is allowed)';
const PORT_RANGE = 'a port number is from 1 to 65535';
const PORT_NAME = "expected a port number or the name of one of the Service's ports";
const SECRET = "expected the name of a Secret in the Service's namespace (DNS-1123 subdomain)";
const NO_PORTS = 'the Service exposes no ports, so there is nothing to route to';

const problemsOf = (claim: Claim): readonly RouteProblem[] => {
  assert.equal(claim.kind, 'invalid', JSON.stringify(claim));
  return (claim).problems;
};
const routeOf = (claim: Claim) => {
  assert.equal(claim.kind, 'route', JSON.stringify(claim));
  return (claim).route;
};
/** A host of exactly `length` characters: labels of 63 and a shorter last one. */
function hostOfLength(length: number): string {
  const labels: string[] = [];
  let left = length;
  while (left > 63) {
    labels.push('a'.repeat(63));
    left -= 64;
  }
  labels.push('a'.repeat(left));
  const host = labels.join('.');
  assert.equal(host.length, length);
  return host;
}

describe('hostProblem at its limits', () => {
  it('accepts 253 characters and refuses 254 with the length message', () => {
    assert.equal(hostProblem(hostOfLength(253)), undefined);
    assert.equal(hostProblem(hostOfLength(254)), 'a host name has at most 253 characters');
  });

  it('says "lowercase" for an uppercase host, not the generic RFC message', () => {
    assert.equal(hostProblem('Web.example.com'), 'host names must be lowercase');
    assert.equal(hostProblem('web.EXAMPLE.com'), 'host names must be lowercase');
  });

  it('gives each kind of bad host its own message', () => {
    assert.equal(hostProblem(''), 'expected a host name, got an empty value');
    assert.equal(hostProblem('10.0.0.1'), 'expected a DNS name; Ingress rules do not route IP addresses');
    assert.equal(hostProblem('::1'), 'expected a DNS name; Ingress rules do not route IP addresses');
    assert.equal(hostProblem('a.example.com:80'), 'a host name carries no port; set the port separately');
    assert.equal(hostProblem('*.'), 'a wildcard needs a domain after "*."');
    assert.equal(hostProblem('*'), 'a wildcard needs a domain after "*."');
    assert.equal(hostProblem('*..'), 'a wildcard needs a domain after "*."');
  });

  it('refuses a wildcard with an empty label after the domain with the RFC message, not the wildcard one', () => {
    assert.equal(hostProblem('*.a.'), `${HOST_RULE}; for example *.a`);
    assert.equal(hostProblem('*..a'), `${HOST_RULE}; for example *.a`);
  });

  it('offers no example when nothing valid can be made of the host', () => {
    assert.equal(hostProblem('-'), HOST_RULE);
    assert.equal(hostProblem('.'), HOST_RULE);
    assert.equal(hostProblem('..'), HOST_RULE);
    assert.equal(hostProblem('*.-'), HOST_RULE);
  });

  it('refuses a wildcard anywhere but first', () => {
    assert.equal(hostProblem('a.*.example.com'), `${HOST_RULE}; for example a.example.com`);
  });

  it('accepts labels of 1 and 63 characters and refuses 64', () => {
    assert.equal(hostProblem('a.b'), undefined);
    assert.equal(hostProblem(`${'a'.repeat(63)}.example.com`), undefined);
    assert.equal(hostProblem(`${'a'.repeat(64)}.example.com`), `${HOST_RULE}; for example ${'a'.repeat(63)}.example.com`);
  });

  it('refuses labels that start or end with "-", and labels with other characters', () => {
    assert.equal(hostProblem('-a.example.com'), `${HOST_RULE}; for example a.example.com`);
    assert.equal(hostProblem('a-.example.com'), `${HOST_RULE}; for example a.example.com`);
    assert.equal(hostProblem('a..example.com'), `${HOST_RULE}; for example a.example.com`);
    assert.equal(hostProblem('xa b.example.com'), `${HOST_RULE}; for example xa-b.example.com`);
  });

  it('property: a host of valid labels is accepted, and one with an uppercase letter gets the lowercase message', () => {
    const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 2, maxLength: 5 }), fc.boolean(), (labels, wildcard) => {
        const host = `${wildcard ? '*.' : ''}${labels.join('.')}`;
        assert.equal(hostProblem(host), undefined);
        assert.equal(hostProblem(host.toUpperCase()), 'host names must be lowercase');
      }),
    );
  });
});

describe('correctedHost', () => {
  const cases: Array<[string, string | undefined]> = [
    ['a_b.example.com', 'a-b.example.com'],
    ['a__b.example.com', 'a-b.example.com'],
    ['A_B.Example.com', 'a-b.example.com'],
    ['--a--.example.com', 'a.example.com'],
    ['a..example.com', 'a.example.com'],
    ['*.a_b.example.com', '*.a-b.example.com'],
    ['*._.example.com', '*.example.com'],
    [`${'a'.repeat(62)}_b.example.com`, `${'a'.repeat(62)}.example.com`],
    [`${'a'.repeat(70)}.example.com`, `${'a'.repeat(63)}.example.com`],
    [`${'a'.repeat(61)}--b.example.com`, `${'a'.repeat(61)}.example.com`],
    ['a.example.com', undefined],
    ['*.example.com', undefined],
    ['___', undefined],
    ['*.___', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(correctedHost(input), expected));
  }

  it('offers no correction longer than 253 characters, and one of exactly 253', () => {
    const long = `${Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.')}_x`;
    assert.equal(correctedHost(long), undefined);
    const fits = `${Array.from({ length: 3 }, () => 'a'.repeat(63)).join('.')}.${'b'.repeat(61)}_`;
    assert.equal(correctedHost(fits)?.length, 253);
  });

  it('property: a correction, when offered, is itself a valid host', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (input) => {
        const fixed = correctedHost(input);
        if (fixed !== undefined) assert.equal(hostProblem(fixed), undefined, `${JSON.stringify(input)} → ${fixed}`);
      }),
    );
  });
});

describe('pathProblem at its limits', () => {
  it('accepts 1024 characters and refuses 1025 with the length message', () => {
    assert.equal(pathProblem(`/${'a'.repeat(1023)}`), undefined);
    assert.equal(pathProblem(`/${'a'.repeat(1024)}`), 'a path has at most 1024 characters');
  });

  it('gives each kind of bad path its own message', () => {
    const DOTS = 'the path may not contain "//", "/./" or "/../", nor end in "/." or "/.."';
    assert.equal(pathProblem('api'), 'expected an absolute path starting with "/"');
    assert.equal(pathProblem('/a b'), "only URL path characters are allowed (letters, digits and -._~!$&'()*+,;=:@/%)");
    assert.equal(pathProblem('/a//b'), DOTS);
    assert.equal(pathProblem('/a/./b'), DOTS);
    assert.equal(pathProblem('/a/.'), DOTS);
    assert.equal(pathProblem('/a/..'), DOTS);
    assert.equal(pathProblem('/a/../b'), DOTS);
    assert.equal(pathProblem('/a%2Fb'), 'the path may not contain an encoded "/" (%2F)');
    assert.equal(pathProblem('/a%2fb'), 'the path may not contain an encoded "/" (%2F)');
    assert.equal(pathProblem('/a%2'), 'a "%" in a path starts an escape of two hex digits, like %20');
    assert.equal(pathProblem('/a%2g'), 'a "%" in a path starts an escape of two hex digits, like %20');
  });

  it('accepts dots that are not whole segments, and complete escapes', () => {
    for (const ok of ['/', '/.well-known', '/a.b', '/a/..b', '/a/.b/c', '/a%20b', '/a%C3%A9', "/-._~!$&'()*+,;=:@"]) assert.equal(pathProblem(ok), undefined, ok);
  });

  it('property: paths of unreserved characters in non-empty segments are accepted', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/);
    fc.assert(fc.property(fc.array(segment, { maxLength: 8 }), (segments) => assert.equal(pathProblem(`/${segments.join('/')}`), undefined)));
  });
});

describe('port requests at their limits', () => {
  const withPort = (port: string, ports = [{ name: 'http', port: 1 }, { name: 'max', port: 65535 }]) =>
    readClaim(svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': port }, { ports }), keys, undefined);

  it('accepts 1 and 65535, refuses 0 and 65536 with the range message', () => {
    assert.deepEqual(routeOf(withPort('1')).port, { number: 1 });
    assert.deepEqual(routeOf(withPort('65535')).port, { number: 65535 });
    assert.deepEqual(problemsOf(withPort('0')), [{ key: 'baton.dev/port', value: '0', message: PORT_RANGE }]);
    assert.deepEqual(problemsOf(withPort('65536')), [{ key: 'baton.dev/port', value: '65536', message: PORT_RANGE }]);
  });

  it('takes a port name of 1 and 15 characters, refuses 16, digits only, a leading or trailing "-", and anything not whole', () => {
    const names = ['h', 'abcdefghijklmno', 'a-b', '9a'];
    for (const name of names) assert.deepEqual(routeOf(withPort(name, [{ name, port: 80 }, { name: 'other', port: 81 }])).port, { name }, name);
    for (const bad of ['abcdefghijklmnop', '-ab', 'ab-', 'HTTP', 'ab_c', ' x y', '8a!', 'a:b', 'x80.']) {
      assert.deepEqual(problemsOf(withPort(bad)), [{ key: 'baton.dev/port', value: bad, message: PORT_NAME }], bad);
    }
    // "80a" is a name, not a number followed by garbage; " 80" is trimmed to a number.
    assert.deepEqual(problemsOf(withPort('80a')), [{ key: 'baton.dev/port', value: '80a', message: 'the Service exposes no port 80a (it has http=1, max=65535)' }]);
    assert.deepEqual(problemsOf(withPort('a80')), [{ key: 'baton.dev/port', value: 'a80', message: 'the Service exposes no port a80 (it has http=1, max=65535)' }]);
    assert.deepEqual(routeOf(withPort(' 65535 ')).port, { number: 65535 });
  });

  it('refuses a well-formed port name the Service lacks, listing what it has', () => {
    const claim = readClaim(svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': 'grpc' }, { ports: [{ name: 'http', port: 80 }, { name: undefined, port: 81 }] }), keys, undefined);
    assert.deepEqual(problemsOf(claim), [{ key: 'baton.dev/port', value: 'grpc', message: 'the Service exposes no port grpc (it has http=80, 81)' }]);
  });

  it('property: every number from 1 to 65535 the Service has is routed; anything above is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 65536, max: 10_000_000 }), (good, bad) => {
        assert.deepEqual(routeOf(withPort(String(good), [{ name: 'x', port: good }, { name: 'y', port: 1 }])).port, { number: good });
        assert.deepEqual(problemsOf(withPort(String(bad))), [{ key: 'baton.dev/port', value: String(bad), message: PORT_RANGE }]);
      }),
    );
  });

  it('refuses a Service without ports even with a port named', () => {
    const claim = readClaim(svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/port': '80' }, { ports: [] }), keys, undefined);
    assert.deepEqual(problemsOf(claim), [{ key: 'baton.dev/port', value: '80', message: NO_PORTS }]);
  });

  it('reports a missing port for a Service without ports on the port key, with an empty value', () => {
    const claim = readClaim(svc('a', { 'baton.dev/host': 'a.example.com' }, { ports: [] }), keys, undefined);
    assert.deepEqual(problemsOf(claim), [{ key: 'baton.dev/port', value: '', message: NO_PORTS }]);
  });
});

describe('Secret names at their limits', () => {
  const withSecret = (name: string) => readClaim(svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/tls-secret': name }), keys, undefined);
  const secretOf253 = `${Array.from({ length: 3 }, () => 'a'.repeat(63)).join('.')}.${'b'.repeat(61)}`;

  it('accepts a dotted name of 253 characters and refuses 254', () => {
    assert.equal(secretOf253.length, 253);
    assert.equal(routeOf(withSecret(secretOf253)).tlsSecret, secretOf253);
    assert.deepEqual(problemsOf(withSecret(`${secretOf253}b`)), [{ key: 'baton.dev/tls-secret', value: `${secretOf253}b`, message: SECRET }]);
  });

  it('refuses an empty name, a blank one, and one with a bad label anywhere', () => {
    for (const bad of ['', '  ', 'a..b', 'ok.Bad', 'a.-b', 'good.bad_label']) assert.deepEqual(problemsOf(withSecret(bad)), [{ key: 'baton.dev/tls-secret', value: bad, message: SECRET }], bad);
  });

  it('trims the name', () => assert.equal(routeOf(withSecret(' web-tls ')).tlsSecret, 'web-tls'));
});

describe('the legacy host:port', () => {
  const legacy = (value: string, ports: readonly ServicePort[] = [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }], extra: Record<string, string> = {}) =>
    readClaim(svc('web', { 'serviceloadbalancer/lb.host': value, ...extra }, { ports }), keys, undefined);

  it('refuses a bad port after the host with the port message, on lb.host', () => {
    assert.deepEqual(problemsOf(legacy('web.example.com:0')), [{ key: 'serviceloadbalancer/lb.host', value: 'web.example.com:0', message: PORT_RANGE }]);
    assert.deepEqual(problemsOf(legacy('web.example.com:99999')), [{ key: 'serviceloadbalancer/lb.host', value: 'web.example.com:99999', message: PORT_RANGE }]);
    assert.deepEqual(problemsOf(legacy('web.example.com:HTTP')), [{ key: 'serviceloadbalancer/lb.host', value: 'web.example.com:HTTP', message: PORT_NAME }]);
    assert.deepEqual(problemsOf(legacy('web.example.com:')), [{ key: 'serviceloadbalancer/lb.host', value: 'web.example.com:', message: PORT_NAME }]);
  });

  it('refuses two colons as a host with a port in it', () => {
    assert.deepEqual(problemsOf(legacy('web.example.com:80:81')), [
      { key: 'serviceloadbalancer/lb.host', value: 'web.example.com:80:81', message: 'a host name carries no port; set the port separately' },
    ]);
  });

  it('trims the value, and keeps the entry port only as information', () => {
    const route = routeOf(legacy('  web.example.com:9090  '));
    assert.deepEqual(route, { host: 'web.example.com', path: '/', port: { number: 9090 }, tlsSecret: undefined, ingressClass: undefined, legacyEntryPort: 9090 });
  });

  it('keeps no entry port for a named one, and none when baton.dev/host is set too', () => {
    assert.equal('legacyEntryPort' in routeOf(legacy('web.example.com:metrics')), false);
    const both = routeOf(legacy('old.example.com:9090', [{ name: 'http', port: 9090 }], { 'baton.dev/host': 'new.example.com' }));
    assert.equal(both.host, 'new.example.com');
    assert.equal('legacyEntryPort' in both, false);
    // baton.dev/host wins, so the legacy port does not pick among the Service's ports.
    assert.deepEqual(problemsOf(readClaim(svc('web', { 'baton.dev/host': 'new.example.com', 'serviceloadbalancer/lb.host': 'old.example.com:9090' }, { ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }] }), keys, undefined)), [
      { key: 'baton.dev/port', value: '', message: 'the Service exposes 2 ports (http=8080, metrics=9090); say which one with baton.dev/port' },
    ]);
  });

  it('names the first port as the example when the entry port matches none', () => {
    const [p] = problemsOf(legacy('web.example.com:30800', [{ name: undefined, port: 7000 }, { name: 'b', port: 7001 }]));
    assert.deepEqual(p, {
      key: 'serviceloadbalancer/lb.host',
      value: 'web.example.com:30800',
      message: "the Service exposes 2 ports (7000, b=7001) and none is 30800, the old load balancer's entry port; add baton.dev/port with the one to route to, e.g. baton.dev/port: 7000",
    });
  });

  it('with baton.dev/port given, a port problem is reported on baton.dev/port', () => {
    const [p] = problemsOf(legacy('web.example.com:30800', undefined, { 'baton.dev/port': '7' }));
    assert.deepEqual(p, { key: 'baton.dev/port', value: '7', message: 'the Service exposes no port 7 (it has http=8080, metrics=9090)' });
  });

  it('a legacy Service without ports is refused', () => {
    assert.deepEqual(problemsOf(legacy('web.example.com:80', [])), [{ key: 'serviceloadbalancer/lb.host', value: 'web.example.com:80', message: NO_PORTS }]);
  });
});

describe('stray annotations and trimming', () => {
  const STRAY = 'has no effect without baton.dev/host; set the host to route, or remove this annotation';
  const strays: Array<[string, string, RouteProblem[]]> = [
    ['baton.dev/path', '/v', []],
    ['baton.dev/path', 'v', [{ key: 'baton.dev/path', value: 'v', message: 'expected an absolute path starting with "/"' }]],
    ['baton.dev/port', 'http', []],
    ['baton.dev/tls-secret', 'web-tls', []],
  ];
  for (const [key, value, more] of strays) {
    it(`reports ${key}: ${value} alone as stray, on its own key`, () => {
      assert.deepEqual(problemsOf(readClaim(svc('a', { [key]: value }), keys, undefined)), [{ key, value, message: STRAY }, ...more]);
    });
  }

  it('names the first stray annotation in the order path, port, tls-secret', () => {
    const found = problemsOf(readClaim(svc('a', { 'baton.dev/tls-secret': 'web-tls', 'baton.dev/port': 'http' }), keys, undefined));
    assert.deepEqual(found, [{ key: 'baton.dev/port', value: 'http', message: STRAY }]);
  });

  it('trims host and path', () => {
    const route = routeOf(readClaim(svc('a', { 'baton.dev/host': ' a.example.com ', 'baton.dev/path': ' /api ' }), keys, undefined));
    assert.equal(route.host, 'a.example.com');
    assert.equal(route.path, '/api');
  });

  it('checks the path it was given, even "/"-less after trimming', () => {
    assert.deepEqual(problemsOf(readClaim(svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': ' ' }), keys, undefined)), [
      { key: 'baton.dev/path', value: ' ', message: 'expected an absolute path starting with "/"' },
    ]);
  });
});
