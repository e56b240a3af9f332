import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiserverArgs, controllerManagerArgs } from '../../../plane/flags.js';

const flag = (args: string[], name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

describe('the plane\'s API server and controller-manager flags', () => {
  const base = { pki: '/p', logs: '/l', apiPort: 1, etcdPort: 2, auditPolicy: undefined };

  it('mounts no ServiceAccount tokens by default (kwok pods need none), and the namespace annotations plugins are on but inert', () => {
    const args = apiserverArgs(base);
    assert.equal(flag(args, 'disable-admission-plugins'), 'ServiceAccount,TaintNodesByCondition');
    assert.equal(flag(args, 'enable-admission-plugins'), 'PodNodeSelector,PodTolerationRestriction');
    assert.doesNotMatch(flag(controllerManagerArgs('/k', '/p', '/ca', 3), 'controllers') ?? '', /root-ca-cert-publisher/);
  });

  it('gives pods their tokens and the cluster CA as a real cluster does when Knative runs there', () => {
    const args = apiserverArgs({ ...base, serviceAccounts: true });
    assert.equal(flag(args, 'disable-admission-plugins'), 'TaintNodesByCondition');
    assert.equal(flag(args, 'enable-admission-plugins'), 'PodNodeSelector,PodTolerationRestriction,ServiceAccount');
    assert.match(flag(controllerManagerArgs('/k', '/p', '/ca', 3, true), 'controllers') ?? '', /,root-ca-cert-publisher$/);
  });
});
