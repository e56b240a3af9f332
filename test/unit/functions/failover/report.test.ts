import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { auditId, COMPLETED, CONFIG_INVALID, PROMOTED, RELEASED, SWITCHOVER, SWITCHOVER_REFUSED, UNAVAILABLE } from '../../../../shared/audit/schemas.js';
import type { Plan } from '../../../../functions/failover/core/model.js';
import type { ConfigProblem } from '../../../../shared/audit/schemas.js';
import { createReporter, REASONS, type Reporter } from '../../../../functions/failover/report.js';
import { TransientError } from '../../../../shared/k8s/errors.js';
import { FakeCluster } from './fake-cluster.js';
import { flush, KEYS, makeService, NS, RecordingEmitter, silentLogger, SVC_UID, T0, uidOf } from './world.js';

interface Bench {
  readonly cluster: FakeCluster;
  readonly emitter: RecordingEmitter;
  readonly reporter: Reporter;
  readonly clock: { now: number };
}

function bench(): Bench {
  const cluster = new FakeCluster();
  const emitter = new RecordingEmitter();
  const clock = { now: T0 };
  const reporter = createReporter({ cluster, emitter, logger: silentLogger(), keys: KEYS, now: () => clock.now });
  return { cluster, emitter, reporter, clock };
}

const SERVICE = { ...makeService({ active: 'web-1', term: 3 }), resourceVersion: '77' };
const BAD_FAILBACK: ConfigProblem = { key: KEYS.failback, value: 'yes', message: 'expected "true" or "false"' };
const BAD_INTERVAL: ConfigProblem = { key: KEYS.minSwitchInterval, value: 'soon', message: 'not a duration' };
const MINUTE = 60_000;

describe('report: invalidConfig suppression', () => {
  const steps: ReadonlyArray<{ name: string; run: (b: Bench) => void; emitted: number }> = [
    { name: 'once', run: (b) => b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]), emitted: 1 },
    {
      name: 'repeated within the window',
      run: (b) => {
        for (let i = 0; i < 5; i++) {
          b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
          b.clock.now += MINUTE;
        }
      },
      emitted: 1,
    },
    {
      name: 'the same problems in another order and repeated: same id, suppressed',
      run: (b) => {
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK, BAD_INTERVAL]);
        b.reporter.invalidConfig(SERVICE, [BAD_INTERVAL, BAD_FAILBACK, BAD_INTERVAL]);
      },
      emitted: 1,
    },
    {
      name: 'different problems are reported separately',
      run: (b) => {
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
        b.reporter.invalidConfig(SERVICE, [BAD_INTERVAL]);
      },
      emitted: 2,
    },
    {
      name: 'the same problems on another Service are reported separately',
      run: (b) => {
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
        b.reporter.invalidConfig({ ...SERVICE, name: 'api', uid: 'svc-uid-api' }, [BAD_FAILBACK]);
      },
      emitted: 2,
    },
    {
      name: 'just before the 10-minute window ends: still suppressed',
      run: (b) => {
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
        b.clock.now += 10 * MINUTE - 1;
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
      },
      emitted: 1,
    },
    {
      name: 'after the window: reported again',
      run: (b) => {
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
        b.clock.now += 10 * MINUTE;
        b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
      },
      emitted: 2,
    },
  ];
  for (const s of steps) {
    it(`${s.name}: ${s.emitted} audit event(s) and Kubernetes Event(s)`, async () => {
      const b = bench();
      s.run(b);
      await flush();
      assert.equal(b.emitter.drafts.length, s.emitted);
      assert.ok(b.emitter.drafts.every((d) => d.type === CONFIG_INVALID));
      assert.equal(b.cluster.count('recordEvent'), s.emitted);
      assert.ok(b.cluster.calls.every((c) => c.method === 'recordEvent' && c.note.type === 'Warning' && c.note.reason === REASONS.invalidConfig));
    });
  }

  it('the Kubernetes Event names the key and value', async () => {
    const b = bench();
    b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
    await flush();
    const call = b.cluster.calls[0];
    assert.equal(call?.method === 'recordEvent' && call.note.message, `left unchanged: ${KEYS.failback}="yes": expected "true" or "false"`);
  });

  it('podProblems: one Kubernetes Event per pod problem, suppressed when repeated', async () => {
    const b = bench();
    const problem = { pod: 'web-1', key: KEYS.priority, value: 'high', message: 'expected a base-10 integer; using 0' };
    b.reporter.podProblems(SERVICE, [problem]);
    b.reporter.podProblems(SERVICE, [problem]);
    b.reporter.podProblems(SERVICE, [{ ...problem, pod: 'web-2' }]);
    await flush();
    assert.deepEqual(
      b.cluster.calls.map((c) => (c.method === 'recordEvent' ? c.note.reason : c.method)),
      [REASONS.invalidPodAnnotation, REASONS.invalidPodAnnotation],
    );
    assert.equal(b.emitter.drafts.length, 0);
  });
});

describe('report: deterministic ids', () => {
  const switchPlan = (reason: 'initial' | 'failover' | 'failback' | 'switchover' | 'cordon', term: number): Extract<Plan, { kind: 'switch' }> => ({
    kind: 'switch',
    reason,
    from: { name: 'web-0', uid: uidOf('web-0') },
    to: { name: 'web-1', uid: uidOf('web-1') },
    term,
    prerequisites: [],
    service: { selector: {}, annotations: {} },
    podWrites: [],
    demote: undefined,
    promote: undefined,
  });

  const cases: ReadonlyArray<{ name: string; send: (r: Reporter) => Promise<void>; id: string; type: string; reason: string }> = [
    { name: 'failover', send: (r) => r.switched(SERVICE, switchPlan('failover', 3), T0), id: `${SVC_UID}.3-${T0}.promoted`, type: PROMOTED, reason: REASONS.failedOver },
    { name: 'initial', send: (r) => r.switched(SERVICE, switchPlan('initial', 1), T0), id: `${SVC_UID}.1-${T0}.promoted`, type: PROMOTED, reason: REASONS.promoted },
    { name: 'failback', send: (r) => r.switched(SERVICE, switchPlan('failback', 4), T0), id: `${SVC_UID}.4-${T0}.promoted`, type: PROMOTED, reason: REASONS.failedBack },
    { name: 'switchover', send: (r) => r.switched(SERVICE, switchPlan('switchover', 5), T0), id: `${SVC_UID}.5-${T0}.switchover`, type: SWITCHOVER, reason: REASONS.switchedOver },
    { name: 'cordon', send: (r) => r.switched(SERVICE, switchPlan('cordon', 6), T0), id: `${SVC_UID}.6-${T0}.promoted`, type: PROMOTED, reason: REASONS.movedOffCordonedNode },
    {
      name: 'unavailable',
      send: (r) => r.unavailable(SERVICE, { kind: 'unavailable', active: 'web-1', term: 3, service: undefined }, 2),
      id: `${SVC_UID}.3-${T0 - 3_600_000}.unavailable`,
      type: UNAVAILABLE,
      reason: REASONS.unavailable,
    },
    {
      name: 'completed',
      send: (r) => r.completed(SERVICE, { term: 3, active: { name: 'web-1', uid: uidOf('web-1') }, decidedAt: T0 - 500, observedAt: T0 }),
      id: `${SVC_UID}.3-${T0 - 500}.completed`,
      type: COMPLETED,
      reason: REASONS.completed,
    },
    {
      name: 'released',
      send: (r) => r.released(SERVICE, { kind: 'release', service: { selector: { app: 'web' }, annotations: {} }, podWrites: [] }, { term: 3, decidedAt: T0 }),
      id: `${SVC_UID}.3-${T0}.released`,
      type: RELEASED,
      reason: REASONS.released,
    },
    {
      name: 'switchover refused',
      send: (r) => r.refused(SERVICE, { kind: 'refuse-switchover', requested: 'web-9', why: 'pod "web-9" does not exist', service: { selector: {}, annotations: {} } }),
      id: auditId({ type: SWITCHOVER_REFUSED, serviceUid: SVC_UID, term: 3, decidedAt: Date.parse(SERVICE.annotations[KEYS.switchedAt] ?? ''), requested: 'web-9' }),
      type: SWITCHOVER_REFUSED,
      reason: REASONS.switchoverRefused,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: id ${c.id.replace(SVC_UID, '<uid>')}, the same on every send`, async () => {
      const a = bench();
      const b = bench();
      b.clock.now = T0 + 3_600_000;
      await c.send(a.reporter);
      await c.send(a.reporter);
      await c.send(b.reporter);
      assert.deepEqual(
        [...a.emitter.drafts, ...b.emitter.drafts].map((d) => d.id),
        [c.id, c.id, c.id],
      );
      assert.equal(a.emitter.drafts[0]?.type, c.type);
      const event = a.cluster.calls[0];
      assert.equal(event?.method === 'recordEvent' && event.note.reason, c.reason);
      assert.equal(event?.method === 'recordEvent' && `${event.namespace}/${event.name}`, `${NS}/web`);
    });
  }

  it('refused ids differ by requested pod and by term', () => {
    const id = (requested: string, term: number): string => auditId({ type: SWITCHOVER_REFUSED, serviceUid: SVC_UID, term, decidedAt: T0, requested });
    assert.notEqual(id('web-9', 3), id('web-8', 3));
    assert.notEqual(id('web-9', 3), id('web-9', 4));
    assert.match(id('web-9', 3), new RegExp(`^${SVC_UID}\\.[0-9a-f]{16}$`));
  });

  it('a failing Kubernetes Event is swallowed: the send resolves and the audit event still goes out', async () => {
    const b = bench();
    b.cluster.inject({ method: 'recordEvent', action: { kind: 'throw', error: () => new TransientError('create event: HTTP 500', 500) } });
    await b.reporter.switched(SERVICE, switchPlan('failover', 3), T0);
    assert.equal(b.emitter.drafts.length, 1);
    b.reporter.invalidConfig(SERVICE, [BAD_FAILBACK]);
    await flush();
    assert.equal(b.emitter.drafts.length, 2);
  });
});
