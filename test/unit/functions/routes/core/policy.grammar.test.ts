// BATON_ROUTE_HOSTS's grammar, each refusal with its exact start-up message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DENY_ALL, parseHostPolicy, patternsFor, policyRefusal, POLICY_OFF } from '../../../../../functions/routes/core/policy.js';

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
    assert.equal(policyRefusal(DENY_ALL, 'team', 'a.example.com'), 'namespace team may claim no host under the host policy (BATON_ROUTE_HOSTS); a cluster admin adds it there');
  });

  it('accepts a 63-character namespace', () => assert.equal(parseHostPolicy(`${'a'.repeat(63)}=a.example.com`).ok, true));
});

describe('patternsFor and policyRefusal', () => {
  it('fills in {namespace} in every label it stands for, and gives "any" with no policy', () => {
    const parsed = parseHostPolicy('*={namespace}.example.com,*.{namespace}.{namespace}.io');
    assert.ok(parsed.ok);
    assert.deepEqual(patternsFor(parsed.policy, 'team'), ['team.example.com', '*.team.team.io']);
    assert.equal(patternsFor(POLICY_OFF, 'team'), 'any');
  });

  it('names the allowed patterns in the refusal', () => {
    const parsed = parseHostPolicy('team=a.example.com,*.b.example.com');
    assert.ok(parsed.ok);
    assert.equal(policyRefusal(parsed.policy, 'team', 'c.example.com'), 'c.example.com is outside the host policy for namespace team (BATON_ROUTE_HOSTS allows a.example.com, *.b.example.com)');
    assert.equal(policyRefusal(parsed.policy, 'other', 'a.example.com'), 'namespace other may claim no host under the host policy (BATON_ROUTE_HOSTS); a cluster admin adds it there');
  });

  it('property: *.domain allows exactly the hosts that end in ".domain"', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 2, maxLength: 3 }), fc.array(label, { minLength: 1, maxLength: 3 }), (domain, host) => {
        const parsed = parseHostPolicy(`ns=*.${domain.join('.')}`);
        assert.ok(parsed.ok);
        const name = host.join('.');
        const under = `${name}.${domain.join('.')}`;
        assert.equal(policyRefusal(parsed.policy, 'ns', under), undefined);
        assert.equal(policyRefusal(parsed.policy, 'ns', domain.join('.')) === undefined, false);
        assert.equal(policyRefusal(parsed.policy, 'ns', `${name}${domain.join('.')}`) === undefined, `${name}${domain.join('.')}`.endsWith(`.${domain.join('.')}`));
      }),
    );
  });
});
