import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isHealthy, matchesSelector } from '../../../../../functions/failover/core/health.js';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import { readPriority, readSettings, userSelector } from '../../../../../functions/failover/core/settings.js';
import { NO_HOOKS } from './hooks.fixtures.js';
import { keys, pod, service } from './fixtures.js';

describe('readSettings', () => {
  it('defaults when nothing is set', () => {
    assert.deepEqual(readSettings(service(), keys), {
      ok: true,
      settings: { failback: false, minSwitchIntervalMs: 0, switchoverTo: undefined, follow: undefined, fence: 'off', hooks: NO_HOOKS },
    });
  });

  it('reads every setting', () => {
    const svc = service({
      annotations: { [keys.failback]: 'true', [keys.minSwitchInterval]: '1m30s', [keys.switchoverTo]: 'web-1.b' },
    });
    assert.deepEqual(readSettings(svc, keys), {
      ok: true,
      settings: { failback: true, minSwitchIntervalMs: 90_000, switchoverTo: 'web-1.b', follow: undefined, fence: 'off', hooks: NO_HOOKS },
    });
  });

  for (const bad of ['TRUE', 'yes', '1', '', ' true']) {
    it(`rejects failback "${bad}"`, () => {
      const result = readSettings(service({ annotations: { [keys.failback]: bad } }), keys);
      assert.deepEqual(result, {
        ok: false,
        problems: [{ key: keys.failback, value: bad, message: 'expected "true" or "false"' }],
      });
    });
  }

  for (const bad of ['', 'Web', 'web_1', '-web', 'web-', 'a..b', 'x'.repeat(254)]) {
    it(`rejects switchover-to "${bad.length > 20 ? `${bad.length} chars` : bad}"`, () => {
      const result = readSettings(service({ annotations: { [keys.switchoverTo]: bad } }), keys);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.deepEqual(
        result.problems.map((p) => p.key),
        [keys.switchoverTo],
      );
    });
  }

  it('accepts a 253-character pod name', () => {
    const name = 'x'.repeat(253);
    const result = readSettings(service({ annotations: { [keys.switchoverTo]: name } }), keys);
    assert.equal(result.ok && result.settings.switchoverTo, name);
  });
});

describe('readPriority', () => {
  const cases: ReadonlyArray<readonly [string | undefined, number, boolean]> = [
    [undefined, 0, false],
    ['10', 10, false],
    ['-5', -5, false],
    ['0', 0, false],
    ['1000000', 1_000_000, false],
    ['-1000000', -1_000_000, false],
    ['1000001', 0, true],
    ['1e3', 0, true],
    ['0x10', 0, true],
    ['1.0', 0, true],
    [' 1', 0, true],
    ['+1', 0, true],
    ['', 0, true],
  ];
  for (const [text, priority, isProblem] of cases) {
    it(`reads ${JSON.stringify(text)} as ${priority}${isProblem ? ' with a problem' : ''}`, () => {
      const result = readPriority(pod('p', text === undefined ? {} : { priority: text }), keys);
      assert.equal(result.priority, priority);
      assert.equal(result.problem !== undefined, isProblem);
      if (result.problem !== undefined) {
        assert.equal(result.problem.pod, 'p');
        assert.equal(result.problem.key, keys.priority);
        assert.equal(result.problem.value, text);
      }
    });
  }
});

describe('userSelector', () => {
  const withSelector = (selector: Record<string, string>, saved?: string): ServiceView => ({
    ...service(),
    selector,
    annotations: saved === undefined ? {} : { [keys.originalSelector]: saved },
  });

  it('is the live selector minus the pod-id key when nothing was saved', () => {
    assert.deepEqual(userSelector(withSelector({ app: 'web', [keys.podId]: 'u' }), keys), {
      ok: true,
      selector: { app: 'web' },
    });
  });

  it('prefers a user edit of the live selector over the saved copy', () => {
    const svc = withSelector({ app: 'web', track: 'x', [keys.podId]: 'u' }, '{"app":"web"}');
    assert.deepEqual(userSelector(svc, keys), { ok: true, selector: { app: 'web', track: 'x' } });
  });

  it('falls back to the saved copy when only the pod-id key is live', () => {
    const svc = withSelector({ [keys.podId]: 'u' }, '{"app":"web"}');
    assert.deepEqual(userSelector(svc, keys), { ok: true, selector: { app: 'web' } });
  });

  for (const bad of ['nope', '[]', 'null', '"app"', '{}', '{"app":1}', `{"${keys.podId}":"u"}`]) {
    it(`a saved selector ${bad} does not matter while the live selector has the user's labels`, () => {
      assert.deepEqual(userSelector(withSelector({ app: 'web' }, bad), keys), { ok: true, selector: { app: 'web' } });
    });
    it(`reports saved selector ${bad} when the live selector holds only baton's key`, () => {
      const result = userSelector(withSelector({ [keys.podId]: 'u' }, bad), keys);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.deepEqual(
        result.problems.map((p) => [p.key, p.value]),
        [[keys.originalSelector, bad]],
      );
    });
  }

  it('reports a Service with no selector of its own', () => {
    const result = userSelector(withSelector({ [keys.podId]: 'u' }), keys);
    assert.equal(result.ok, false);
  });
});

describe('health', () => {
  it('needs Running, ready and not deleting', () => {
    assert.equal(isHealthy(pod('a')), true);
    assert.equal(isHealthy(pod('a', { ready: false })), false);
    assert.equal(isHealthy(pod('a', { phase: 'Succeeded' })), false);
    assert.equal(isHealthy(pod('a', { deleting: true })), false);
  });

  it('matches when every selector pair is present', () => {
    assert.equal(matchesSelector({ app: 'web', tier: 'x' }, { app: 'web' }), true);
    assert.equal(matchesSelector({ app: 'web' }, { app: 'web', tier: 'x' }), false);
    assert.equal(matchesSelector({ app: 'db' }, { app: 'web' }), false);
  });

  it('matches nothing with an empty selector', () => {
    assert.equal(matchesSelector({ app: 'web' }, {}), false);
  });

  it('ignores inherited names', () => {
    assert.equal(matchesSelector({}, { constructor: Object.prototype.constructor.name }), false);
  });
});
