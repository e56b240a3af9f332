// patternsFor and policyRefusal: which hosts a namespace may claim, with exact messages (the grammar: test/unit/shared/config/host-policy.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { patternsFor, policyRefusal } from '../../../../../functions/routes/core/policy.js';
import { DENY_ALL, parseHostPolicy, POLICY_OFF } from '../../../../../shared/config/host-policy.js';

describe('patternsFor and policyRefusal', () => {
  it('the unset policy lets a namespace claim nothing, and says who can change that', () => {
    assert.equal(policyRefusal(DENY_ALL, 'team', 'a.example.com'), 'namespace team may claim no host under the host policy (BATON_ROUTE_HOSTS); a cluster admin adds it there');
  });

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
