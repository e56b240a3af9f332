// The limits of the routing annotations, each at its edge, with the exact message a user
// sees: host length 253, path length 1024, ports 0/1/65535/65536, port names, Secret
// names, the legacy host:port, and trimming.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { correctedHost, hostProblem, pathProblem } from '../../../../../functions/routes/core/claim.js';
import { HOST_RULE, hostOfLength } from './claim.limits.shared.js';

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
