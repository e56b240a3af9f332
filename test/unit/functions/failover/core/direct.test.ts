// Direct mode's pure parts: the `<prefix>/pods` selector, the mode a Service is in, and
// what decide() writes on a Service in that mode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseLabelSelector, serviceMode, sliceName } from '../../../../../functions/failover/core/direct.js';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { fenceStep } from '../../../../../functions/failover/core/fence.js';
import { matchesSelector } from '../../../../../functions/failover/core/health.js';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod } from './fixtures.js';
import { directService } from './direct-fixtures.js';

describe('parseLabelSelector', () => {
  const rows: Array<[string, Record<string, string> | RegExp]> = [
    ['app=web', { app: 'web' }],
    ['app==web', { app: 'web' }],
    ['app=web,tier=db', { app: 'web', tier: 'db' }],
    ['example.com/role=primary', { 'example.com/role': 'primary' }],
    ['app=', { app: '' }],
    ['app=web,app=web', { app: 'web' }],
    ['', /empty/],
    ['app = web', /without spaces/],
    ['app!=web', /only key=value/],
    ['!app', /only key=value/],
    ['app in (a,b)', /without spaces/],
    ['app', /not a key=value/],
    ['app=web,', /not a key=value/],
    ['app=web=x', /not a key=value/],
    ['-app=web', /not a label key/],
    ['Example.com/app=web', /not a label key/],
    ['app=-web', /not a label value/],
    [`app=${'x'.repeat(64)}`, /not a label value/],
    ['app=a,app=b', /two different values/],
  ];
  for (const [text, want] of rows) {
    it(JSON.stringify(text), () => {
      const got = parseLabelSelector(text);
      if (want instanceof RegExp) {
        assert.equal(got.ok, false);
        if (!got.ok) assert.match(got.message, want);
      } else assert.deepEqual(got, { ok: true, selector: want });
    });
  }

  it('property: a selector written from labels reads back as those labels, and matches exactly them', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
    fc.assert(
      fc.property(fc.dictionary(name, name, { minKeys: 1, maxKeys: 5 }), (labels) => {
        const text = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
        const got = parseLabelSelector(text);
        assert.ok(got.ok);
        if (got.ok) {
          assert.deepEqual(got.selector, { ...labels });
          assert.ok(matchesSelector(labels, got.selector));
        }
      }),
    );
  });

  it('property: any text either parses or is refused with a message; never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (text) => {
        const got = parseLabelSelector(text);
        assert.ok(got.ok || got.message.length > 0);
      }),
    );
  });
});

describe('serviceMode', () => {
  it('no annotation: selector mode', () => assert.deepEqual(serviceMode({ ...directService(), annotations: {}, selector: { app: 'web' } }, keys), { kind: 'selector' }));
  it('annotation and no selector: direct mode', () => assert.deepEqual(serviceMode(directService(), keys), { kind: 'direct', selector: { app: 'web' } }));
  it('a leftover pod-id key alone does not make it ambiguous', () => assert.equal(serviceMode(directService({ selector: { [keys.podId]: 'uid-a' } }), keys).kind, 'direct'));
  it('annotation beside a selector of the user\'s: ambiguous, reported', () => {
    const mode = serviceMode(directService({ selector: { app: 'web' } }), keys);
    assert.equal(mode.kind, 'invalid-direct');
    if (mode.kind === 'invalid-direct') assert.match(mode.problem.message, /also has spec.selector \(app\)/);
  });
  it('malformed annotation: reported', () => assert.equal(serviceMode(directService({ annotations: { [keys.pods]: 'app!=web' } }), keys).kind, 'invalid-direct'));
  it('slice name', () => assert.equal(sliceName({ name: 'db' }), 'db-baton'));
});

describe('decide in direct mode', () => {
  const a = pod('a', { readySince: NOW - 90_000 });
  const b = pod('b', { readySince: NOW - 60_000 });

  it('adoption: records the active and the slice name, writes no selector and no pod labels', () => {
    const { plan } = decide({ service: directService(), pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.to.name, 'a');
    assert.deepEqual(plan.service.selector, {});
    assert.equal(plan.service.annotations[keys.endpointSlice], 'web-baton');
    assert.equal(plan.service.annotations[keys.activeUid], a.uid);
    assert.equal(plan.service.annotations[keys.term], '1');
    assert.equal(Object.hasOwn(plan.service.annotations, keys.originalSelector), false);
    assert.deepEqual(plan.prerequisites, []);
    assert.deepEqual(plan.podWrites, []);
  });

  it('a healthy recorded active is steady, with no write', () => {
    const { plan } = decide({ service: directService({ active: a }), pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'steady');
    if (plan.kind === 'steady') assert.equal(plan.record, undefined);
  });

  it('failover when the active turns unready, term up by one', () => {
    const down = pod('a', { ready: false });
    const { plan } = decide({ service: directService({ active: down, term: 4 }), pods: [down, b], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind === 'switch') assert.deepEqual([plan.reason, plan.to.name, plan.term], ['failover', 'b', 5]);
  });

  it('the term counts on from a slice stamped higher than the record', () => {
    const down = pod('a', { ready: false });
    const { plan } = decide({ service: directService({ active: down, term: 4 }), pods: [down, b], keys, now: NOW, termFloor: 9 });
    assert.equal(plan.kind === 'switch' ? plan.term : undefined, 10);
  });

  it('no healthy candidate: the record stays on the last active, reported once', () => {
    const down = pod('a', { ready: false });
    const { plan } = decide({ service: directService({ active: down, term: 2 }), pods: [down], keys, now: NOW });
    assert.equal(plan.kind, 'unavailable');
    if (plan.kind !== 'unavailable') return;
    assert.equal(plan.active, 'a');
    assert.deepEqual(plan.service?.selector, {});
    assert.equal(plan.service?.annotations[keys.unavailableTerm], '2');
  });

  it('never adopted and nothing healthy: the slice name is recorded, no selector written', () => {
    const { plan } = decide({ service: directService(), pods: [pod('a', { ready: false })], keys, now: NOW });
    assert.equal(plan.kind, 'unavailable');
    if (plan.kind === 'unavailable') {
      assert.deepEqual(plan.service?.selector, {});
      assert.equal(plan.service?.annotations[keys.endpointSlice], 'web-baton');
    }
  });

  it('ambiguous (selector and annotation): invalid config, nothing written', () => {
    const { plan } = decide({ service: directService({ selector: { app: 'web' }, active: a }), pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'invalid-config');
  });

  it('a pod-id left in the selector from selector mode is taken out by pinning the same pod again', () => {
    const { plan } = decide({ service: directService({ active: a, selector: { [keys.podId]: a.uid } }), pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind === 'switch') {
      assert.equal(plan.to.name, 'a');
      assert.deepEqual(plan.service.selector, {});
    }
  });

  it('from selector mode: the saved selector is dropped and the slice name recorded, on a steady active', () => {
    const service = directService({ active: a, annotations: { [keys.originalSelector]: '{"app":"web"}', [keys.endpointSlice]: '' } });
    const { plan } = decide({ service, pods: [a], keys, now: NOW });
    assert.equal(plan.kind, 'steady');
    if (plan.kind === 'steady') assert.deepEqual(plan.record?.annotations, { [keys.endpointSlice]: 'web-baton', [keys.originalSelector]: null });
  });

  it('back in selector mode: the slice name is removed with the next record write', () => {
    const direct = directService({ active: a });
    const annotations = Object.fromEntries(Object.entries(direct.annotations).filter(([k]) => k !== keys.pods));
    const service: ServiceView = { ...direct, annotations, selector: { app: 'web', [keys.podId]: a.uid } };
    const { plan } = decide({ service, pods: [{ ...a, labels: { app: 'web', [keys.podId]: a.uid } }], keys, now: NOW });
    assert.equal(plan.kind, 'steady');
    if (plan.kind === 'steady') assert.equal(plan.record?.annotations[keys.endpointSlice], null);
  });

  it('opt-out: release restores no selector and removes the slice name', () => {
    const { plan } = decide({ service: directService({ active: a, optedIn: false }), pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'release');
    if (plan.kind === 'release') {
      assert.deepEqual(plan.service.selector, {});
      assert.equal(plan.service.annotations[keys.endpointSlice], null);
      assert.deepEqual(plan.podWrites, []);
    }
  });

  it('a follower in direct mode routes to a direct leader\'s recorded pod', () => {
    const leader = { ...directService({ active: b, term: 3 }), name: 'lead', uid: 'lead-uid' };
    const follower = directService({ annotations: { [keys.follow]: 'lead' } });
    const { plan } = decide({ service: follower, pods: [a, b], keys, now: NOW, leader });
    assert.equal(plan.kind, 'switch');
    if (plan.kind === 'switch') assert.equal(plan.to.name, 'b');
  });
});

describe('fencing in direct mode', () => {
  it('a fence mark naming the active pod is cleared, never evicted (direct mode routes by the record)', () => {
    const a = pod('a');
    const service = directService({ active: a, term: 2, annotations: { [keys.fencePending]: a.uid, [keys.completedTerm]: '2', [keys.fence]: 'evict' } });
    assert.equal(fenceStep(service, keys).kind, 'clear');
  });
  it('a completed term with the left pod marked: evicted, as in selector mode', () => {
    const a = pod('a');
    const service = directService({ active: a, term: 2, annotations: { [keys.fencePending]: 'uid-b', [keys.completedTerm]: '2', [keys.fence]: 'evict' } });
    assert.deepEqual(fenceStep(service, keys), { kind: 'evict', claim: ['uid-b'], resume: [], drop: [], term: 2 });
  });
});
