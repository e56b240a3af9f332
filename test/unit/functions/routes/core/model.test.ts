import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ingressNameFor, LEGACY_HOST_KEY, MANAGED_BY_LABEL, MANAGED_BY_VALUE, matchedPath, portText, routeKeysFor, sameRoute, type Route } from '../../../../../functions/routes/core/model.js';

const base: Route = { host: 'a.example.com', path: '/api', port: { number: 80 }, tlsSecret: undefined, ingressClass: undefined };

describe('routes model', () => {
  it('names the keys under the prefix, and the fixed ones as the cluster knows them', () => {
    assert.deepEqual(routeKeysFor('example.org'), {
      host: 'example.org/host',
      path: 'example.org/path',
      port: 'example.org/port',
      tlsSecret: 'example.org/tls-secret',
      legacyHost: 'serviceloadbalancer/lb.host',
      service: 'example.org/service',
    });
    assert.equal(LEGACY_HOST_KEY, 'serviceloadbalancer/lb.host');
    assert.equal(MANAGED_BY_LABEL, 'app.kubernetes.io/managed-by');
    assert.equal(MANAGED_BY_VALUE, 'baton');
    assert.equal(ingressNameFor('web'), 'baton-web');
  });

  it('portText shows a number or a name', () => {
    assert.equal(portText({ number: 8080 }), '8080');
    assert.equal(portText({ name: 'http' }), 'http');
  });

  const differences: Array<[string, Partial<Route>]> = [
    ['host', { host: 'b.example.com' }],
    ['path', { path: '/other' }],
    ['TLS Secret', { tlsSecret: 'tls' }],
    ['port number', { port: { number: 81 } }],
    ['port by name instead of number', { port: { name: 'http' } }],
  ];
  for (const [what, change] of differences) {
    it(`sameRoute sees a different ${what}, both ways`, () => {
      assert.equal(sameRoute(base, { ...base, ...change }), false);
      assert.equal(sameRoute({ ...base, ...change }, base), false);
    });
  }

  it('sameRoute compares port names', () => {
    const named: Route = { ...base, port: { name: 'http' } };
    assert.equal(sameRoute(named, { ...named }), true);
    assert.equal(sameRoute(named, { ...named, port: { name: 'grpc' } }), false);
  });

  it('sameRoute: a configured class must match; with none configured, any class the API server filled in is the same', () => {
    assert.equal(sameRoute({ ...base, ingressClass: 'nginx' }, { ...base, ingressClass: 'nginx' }), true);
    assert.equal(sameRoute({ ...base, ingressClass: 'other' }, { ...base, ingressClass: 'nginx' }), false);
    assert.equal(sameRoute({ ...base, ingressClass: undefined }, { ...base, ingressClass: 'nginx' }), false);
    assert.equal(sameRoute({ ...base, ingressClass: 'cluster-default' }, base), true);
  });

  const paths: Array<[string, string]> = [
    ['/', '/'],
    ['//', '/'],
    ['/api', '/api'],
    ['/api/', '/api'],
    ['/api///', '/api'],
    ['/a//b/', '/a//b'],
  ];
  for (const [path, matched] of paths) it(`matchedPath(${path}) = ${matched}`, () => assert.equal(matchedPath(path), matched));

  it('property: matchedPath drops trailing slashes only, and is idempotent', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\/[a-z/]{0,12}$/), (path) => {
        const m = matchedPath(path);
        assert.equal(matchedPath(m), m);
        assert.ok(m === '/' || !m.endsWith('/'));
        assert.ok(path.startsWith(m === '/' ? '/' : m));
      }),
    );
  });
});
