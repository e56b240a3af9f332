// The grammar of BATON_ROUTE_HOSTS, at its edges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DENY_ALL, parseHostPolicy, POLICY_OFF } from '../../../../shared/config/host-policy.js';

describe('parseHostPolicy', () => {
  it('reads entries, trimming around names, patterns and separators, and skipping empty ones', () => {
    assert.deepEqual(parseHostPolicy(' shop = shop.example.com , *.shop.example.com ,, ; ;*=*.{namespace}.apps.example.com; '), {
      ok: true,
      policy: {
        kind: 'patterns',
        byNamespace: new Map([['shop', ['shop.example.com', '*.shop.example.com']]]),
        fallback: ['*.{namespace}.apps.example.com'],
      },
    });
  });

  it('reads "off" with spaces around it as no policy', () => assert.deepEqual(parseHostPolicy('  off '), { ok: true, policy: POLICY_OFF }));

  it('accepts a one-letter namespace, a single-label host, a namespace with no patterns, and *.domain.tld', () => {
    const parsed = parseHostPolicy('a=localhost;b=;c=*.example.com');
    assert.deepEqual(parsed, { ok: true, policy: { kind: 'patterns', byNamespace: new Map([['a', ['localhost']], ['b', []], ['c', ['*.example.com']]]), fallback: undefined } });
  });

  const refusals: Array<[string, string]> = [
    ['shop', '"shop" is not namespace=pattern[,pattern…]'],
    ['=a.example.com', '"" is not a namespace name or *'],
    ['Shop=a.example.com', '"Shop" is not a namespace name or *'],
    ['shop_=a.example.com', '"shop_" is not a namespace name or *'],
    ['-shop=a.example.com', '"-shop" is not a namespace name or *'],
    [`${'a'.repeat(64)}=a.example.com`, `"${'a'.repeat(64)}" is not a namespace name or *`],
    ['shop=a.example.com;shop=b.example.com', 'namespace shop has two entries'],
    ['*=a.example.com;*=b.example.com', 'namespace * has two entries'],
    ['shop=*', '"*" is not a host name or *.domain'],
    ['shop=*.com', '"*.com" would allow a whole top-level domain'],
    ['shop=a..com', '"a..com" is not a host name or *.domain'],
    ['shop=a.*.com', '"a.*.com" is not a host name or *.domain'],
    ['shop=A.com', '"A.com" is not a host name or *.domain'],
    ['shop=a_.com', '"a_.com" is not a host name or *.domain'],
    ['shop=ok.com,{ns}.com', '"{ns}.com" is not a host name or *.domain'],
  ];
  for (const [text, message] of refusals) it(`refuses ${JSON.stringify(text)}: ${message}`, () => assert.deepEqual(parseHostPolicy(text), { ok: false, message }));

  it('a namespace entry after the * entry is its own, not a second * entry', () => {
    assert.deepEqual(parseHostPolicy('*=a.example.com;shop=b.example.com'), { ok: true, policy: { kind: 'patterns', byNamespace: new Map([['shop', ['b.example.com']]]), fallback: ['a.example.com'] } });
  });

  it('unset means a patterns policy that allows nothing', () => {
    assert.deepEqual(DENY_ALL, { kind: 'patterns', byNamespace: new Map(), fallback: undefined });
  });

  it('accepts a 63-character namespace', () => assert.equal(parseHostPolicy(`${'a'.repeat(63)}=a.example.com`).ok, true));
});
