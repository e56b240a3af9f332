// The host policy: its grammar (start-up errors), and what it lets a namespace claim.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../../../../shared/config/env.js';
import { ConfigError } from '../../../../../shared/config/errors.js';
import { DENY_ALL, parseHostPolicy, POLICY_OFF, type HostPolicy } from '../../../../../shared/config/host-policy.js';
import { policyRefusal } from '../../../../../functions/routes/core/policy.js';

const policy = (text: string): HostPolicy => {
  const parsed = parseHostPolicy(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
  return parsed.policy;
};

describe('host policy', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['shop=shop.example.com', 'shop', 'shop.example.com', true],
    ['shop=shop.example.com', 'shop', 'www.shop.example.com', false],
    ['shop=*.shop.example.com', 'shop', 'www.shop.example.com', true],
    ['shop=*.shop.example.com', 'shop', 'a.b.shop.example.com', true],
    ['shop=*.shop.example.com', 'shop', '*.shop.example.com', true],
    ['shop=*.shop.example.com', 'shop', 'shop.example.com', false],
    ['shop=*.shop.example.com', 'shop', 'evilshop.example.com', false],
    ['shop=*.shop.example.com', 'other', 'www.shop.example.com', false],
    ['shop=a.example.com;*=*.{namespace}.apps.example.com', 'team', 'x.team.apps.example.com', true],
    ['shop=a.example.com;*=*.{namespace}.apps.example.com', 'team', 'x.shop.apps.example.com', false],
    // A namespace's own entry replaces the default.
    ['shop=a.example.com;*=*.{namespace}.apps.example.com', 'shop', 'x.shop.apps.example.com', false],
    ['off', 'anyone', 'anything.example.com', true],
  ];
  for (const [text, namespace, host, allowed] of cases) {
    it(`${text}: ${namespace} ${allowed ? 'may' : 'may not'} claim ${host}`, () => {
      assert.equal(policyRefusal(policy(text), namespace, host) === undefined, allowed);
    });
  }

  it('unset, nobody may claim anything, and the refusal says where the policy is set', () => {
    assert.match(policyRefusal(DENY_ALL, 'team', 'a.example.com')!, /namespace team may claim no host under the host policy \(BATON_ROUTE_HOSTS\)/);
  });

  it('names the patterns that apply in a refusal', () => {
    assert.equal(policyRefusal(policy('team=a.example.com,*.b.example.com'), 'team', 'c.example.com'), 'c.example.com is outside the host policy for namespace team (BATON_ROUTE_HOSTS allows a.example.com, *.b.example.com)');
  });

  for (const bad of ['team', 'Team=a.example.com', 'team=*.com', 'team=a_b.example.com', 'team=a.example.com;team=b.example.com', 'team=http://a.example.com']) {
    it(`rejects "${bad}" at start-up, naming the variable`, () => {
      assert.throws(() => loadConfig({ BATON_ROUTE_HOSTS: bad }), (error: unknown) => error instanceof ConfigError && error.message.includes('BATON_ROUTE_HOSTS'));
    });
  }

  it('is off only when an admin says so', () => {
    assert.deepEqual(loadConfig({ BATON_ROUTE_HOSTS: 'off' }).routeHosts, POLICY_OFF);
    assert.equal(loadConfig({}).routeHosts, undefined);
  });

  it('never lets a namespace claim a host outside every pattern it was given (property)', () => {
    const label = fc.constantFrom('a', 'b', 'shop', 'x1');
    const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => `${ls.join('.')}.example.com`);
    fc.assert(
      fc.property(host, fc.array(fc.tuple(fc.boolean(), host), { maxLength: 3 }), fc.boolean(), (claimed, patterns, wildcardClaim) => {
        const asked = wildcardClaim ? `*.${claimed}` : claimed;
        const text = patterns.length === 0 ? '' : `team=${patterns.map(([wild, h]) => (wild ? `*.${h}` : h)).join(',')}`;
        const allowed = policyRefusal(policy(text), 'team', asked) === undefined;
        // Allowed exactly when some pattern names the host, or the host lies under a wildcard's domain.
        const expected = patterns.some(([wild, h]) => (wild ? asked.endsWith(`.${h}`) : asked === h));
        assert.equal(allowed, expected);
        // And never for another namespace.
        assert.ok(policyRefusal(policy(text), 'other', asked) !== undefined);
      }),
      { numRuns: 300 },
    );
  });
});
