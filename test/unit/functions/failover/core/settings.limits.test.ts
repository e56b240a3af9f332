// The limits of the Service and pod annotations, each at its edge, with the exact
// message: pod and Service names, priorities, saved selectors (terms: test/unit/shared/record.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import {
  isPodName,
  isServiceName,
  MAX_PRIORITY,
  ownsRecord,
  readPriority,
  readSettings,
  savedSelector,
  userSelector,
} from '../../../../../functions/failover/core/settings.js';
import { NO_HOOKS } from './hooks.fixtures.js';
import { keys, pod, service } from './fixtures.js';

const POD_NAME = 'expected a pod name (DNS-1123 subdomain: at most 253 lowercase letters, digits, "-" and ".")';
const SERVICE_NAME = 'expected the name of a Service in this namespace (a DNS-1035 label)';
const PRIORITY = `expected a base-10 integer between -${MAX_PRIORITY} and ${MAX_PRIORITY}; using 0`;

describe('names', () => {
  it('isPodName: 1 and 253 characters, dotted labels; not empty, 254, or bad labels', () => {
    for (const ok of ['a', '0', 'a-b', 'a.b', 'web-1.b', 'x'.repeat(253), `${'a'.repeat(100)}.${'b'.repeat(152)}`]) assert.equal(isPodName(ok), true, ok);
    for (const bad of ['', 'x'.repeat(254), 'A', 'a_b', '-a', 'a-', 'a.', '.a', 'a..b', 'a.-b', 'a.b-', 'a.B']) assert.equal(isPodName(bad), false, bad);
  });

  it('isServiceName: a DNS-1035 label of 1 to 63 characters starting with a letter', () => {
    for (const ok of ['a', 'db', 'a1', 'a-b', `a${'b'.repeat(62)}`]) assert.equal(isServiceName(ok), true, ok);
    for (const bad of ['', '1a', '-a', 'a-', 'A', 'a_b', 'a.b', `a${'b'.repeat(63)}`, 'a--']) assert.equal(isServiceName(bad), false, bad);
  });

  it('property: a DNS-1035 label is also a pod name; one with an uppercase letter is neither', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/), (name) => {
        assert.equal(isServiceName(name), true);
        assert.equal(isPodName(name), true);
        assert.equal(isServiceName(name.toUpperCase()), false);
        assert.equal(isPodName(name.toUpperCase()), false);
      }),
    );
  });
});

describe('readSettings messages', () => {
  const problems = (annotations: Record<string, string>, name?: string) => {
    const svc: ServiceView = { ...service({ annotations }), ...(name ? { name } : {}) };
    const result = readSettings(svc, keys);
    assert.equal(result.ok, false, JSON.stringify(result));
    return result.ok ? [] : result.problems;
  };

  it('a bad switchover target', () => {
    assert.deepEqual(problems({ [keys.switchoverTo]: 'Web_1' }), [{ key: keys.switchoverTo, value: 'Web_1', message: POD_NAME }]);
  });

  it('a follow that is not a Service name, or names the Service itself', () => {
    assert.deepEqual(problems({ [keys.follow]: 'Db' }), [{ key: keys.follow, value: 'Db', message: SERVICE_NAME }]);
    assert.deepEqual(problems({ [keys.follow]: 'web' }), [{ key: keys.follow, value: 'web', message: 'a Service cannot follow itself' }]);
  });

  it('a follow together with a switchover request: the request belongs on the leader', () => {
    assert.deepEqual(problems({ [keys.follow]: 'db', [keys.switchoverTo]: 'web-1' }), [
      { key: keys.switchoverTo, value: 'web-1', message: 'this Service follows db; request the switchover there' },
    ]);
  });

  it('a bad min-switch-interval, with the duration message', () => {
    const [p] = problems({ [keys.minSwitchInterval]: '25h' });
    assert.deepEqual(p, { key: keys.minSwitchInterval, value: '25h', message: 'duration "25h" exceeds 24h; expected "0" or a whole number of h, m, s and/or ms in that order, e.g. "500ms", "30s", "2m", "1h", "1m30s", at most 24h' });
  });

  it('reports every problem at once, in order', () => {
    assert.deepEqual(problems({ [keys.failback]: 'yes', [keys.minSwitchInterval]: 'x', [keys.switchoverTo]: '_', [keys.follow]: '_' }).map((p) => p.key), [keys.failback, keys.minSwitchInterval, keys.switchoverTo, keys.follow, keys.switchoverTo]);
  });

  it('reads failback "false" and a valid follow', () => {
    assert.deepEqual(readSettings(service({ annotations: { [keys.failback]: 'false', [keys.follow]: 'db' } }), keys), {
      ok: true,
      settings: { failback: false, minSwitchIntervalMs: 0, switchoverTo: undefined, follow: 'db', fence: 'off', hooks: NO_HOOKS },
    });
  });
});

describe('readPriority limits', () => {
  it(`accepts ±${MAX_PRIORITY} and refuses one more, with the message`, () => {
    assert.deepEqual(readPriority(pod('p', { priority: String(MAX_PRIORITY) }), keys), { priority: MAX_PRIORITY });
    assert.deepEqual(readPriority(pod('p', { priority: String(-MAX_PRIORITY) }), keys), { priority: -MAX_PRIORITY });
    for (const bad of [String(MAX_PRIORITY + 1), String(-MAX_PRIORITY - 1), '9999999', '10000000', '1e3', ' 5', '+5', '5.0', '']) {
      assert.deepEqual(readPriority(pod('p', { priority: bad }), keys), { priority: 0, problem: { pod: 'p', key: keys.priority, value: bad, message: PRIORITY } }, bad);
    }
  });

  it('reads "-0" as plain 0', () => {
    const { priority } = readPriority(pod('p', { priority: '-0' }), keys);
    assert.equal(Object.is(priority, 0), true);
  });

  it('property: every integer in range reads back as itself, every one outside is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_PRIORITY, max: MAX_PRIORITY }), fc.integer({ min: MAX_PRIORITY + 1, max: 9_999_999 }), (good, bad) => {
        assert.equal(readPriority(pod('p', { priority: String(good) }), keys).priority, good);
        assert.equal(readPriority(pod('p', { priority: String(bad) }), keys).problem?.message, PRIORITY);
        assert.equal(readPriority(pod('p', { priority: String(-bad) }), keys).problem?.message, PRIORITY);
      }),
    );
  });
});

describe('record helpers', () => {
  it('ownsRecord: only a record naming this Service\'s own, non-empty uid', () => {
    const svc = service({ annotations: { [keys.recordOf]: 'svc-uid' } });
    assert.equal(ownsRecord(svc, keys), true);
    assert.equal(ownsRecord({ ...svc, annotations: { [keys.recordOf]: 'other' } }, keys), false);
    assert.equal(ownsRecord({ ...svc, uid: '', annotations: { [keys.recordOf]: '' } }, keys), false);
  });
});

describe('savedSelector and userSelector messages', () => {
  const saved = (text: string | undefined) => savedSelector(service({ annotations: text === undefined ? {} : { [keys.originalSelector]: text } }), keys);
  const invalid = (text: string, message: string) => ({ kind: 'invalid', problem: { key: keys.originalSelector, value: text, message } });

  it('absent, valid, and each kind of invalid', () => {
    assert.deepEqual(saved(undefined), { kind: 'absent' });
    assert.deepEqual(saved('{"app":"web","tier":"db"}'), { kind: 'valid', selector: { app: 'web', tier: 'db' } });
    assert.deepEqual(saved(`{"app":"web","${keys.podId}":"x"}`), { kind: 'valid', selector: { app: 'web' } });
    assert.deepEqual(saved('{app'), invalid('{app', 'not valid JSON; expected a JSON object of string label values'));
    for (const text of ['[]', 'null', '"app"', '5']) assert.deepEqual(saved(text), invalid(text, 'expected a JSON object of string label values'), text);
    assert.deepEqual(saved('{"app":5}'), invalid('{"app":5}', 'label "app" must have a string value'));
    assert.deepEqual(saved('{}'), invalid('{}', 'expected a non-empty selector'));
    assert.deepEqual(saved(`{"${keys.podId}":"x"}`), invalid(`{"${keys.podId}":"x"}`, 'expected a non-empty selector'));
  });

  it('userSelector: a Service with no selector of its own and no saved copy', () => {
    const svc: ServiceView = { ...service(), selector: { [keys.podId]: 'uid-x' } };
    assert.deepEqual(userSelector(svc, keys), {
      ok: false,
      problems: [{ key: 'spec.selector', value: JSON.stringify({ [keys.podId]: 'uid-x' }), message: `the Service has no selector of its own; baton needs one to find candidate pods (or ${keys.pods} naming them, for direct mode)` }],
    });
  });
});
