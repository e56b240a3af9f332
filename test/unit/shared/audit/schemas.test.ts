import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import {
  AUDIT_TYPES,
  auditId,
  CONFIG_INVALID,
  parseAuditEvent,
  PROMOTED,
  RELEASED,
  SWITCHOVER_REFUSED,
  UNAVAILABLE,
  type ConfigProblem,
} from '../../../../shared/audit/schemas.js';
import { complete, drafts, service } from './samples.js';

describe('audit event schemas', () => {
  it('cover every audit type with a sample', () => {
    assert.deepEqual(new Set(drafts.map((d) => d.type)), new Set(AUDIT_TYPES));
  });

  for (const draft of drafts) {
    it(`round-trip ${draft.type} through JSON`, () => {
      const event = complete(draft);
      const parsed = parseAuditEvent(JSON.parse(JSON.stringify(event)));
      assert.ok(parsed.success, parsed.error?.message);
      assert.deepEqual(parsed.data, event);
    });

    it(`round-trip ${draft.type} through the cloudevents SDK (binary and structured)`, () => {
      const event = complete(draft);
      for (const encode of [HTTP.binary, HTTP.structured]) {
        const message = encode(new CloudEvent<unknown>({ ...event, team: 'sre' }));
        const received = HTTP.toEvent(message);
        assert.ok(!Array.isArray(received));
        const parsed = parseAuditEvent({ ...received });
        assert.ok(parsed.success, parsed.error?.message);
        assert.deepEqual(parsed.data.data, event.data);
        assert.equal(parsed.data.id, event.id);
      }
    });
  }

  it('tolerate unknown attributes and data fields, and drop them', () => {
    const event = complete(drafts[0]!);
    const parsed = parseAuditEvent({ ...event, traceparent: '00-abc', data: { ...event.data, newField: true } });
    assert.ok(parsed.success);
    assert.equal('traceparent' in parsed.data, false);
    assert.equal('newField' in parsed.data.data, false);
  });

  const broken: Array<[string, (e: Record<string, unknown>) => void, string]> = [
    ['an unknown type', (e) => (e['type'] = 'dev.baton.failover.exploded'), 'type'],
    ['a subject that is not the data service', (e) => (e['subject'] = 'demo/other'), 'subject'],
    ['term 0 on promoted', (e) => (e['data'] = { ...(e['data'] as object), term: 0 }), 'data.term'],
    ['a fractional term', (e) => (e['data'] = { ...(e['data'] as object), term: 1.5 }), 'data.term'],
    ['an unknown reason', (e) => (e['data'] = { ...(e['data'] as object), reason: 'whim' }), 'data.reason'],
    ['a time without zone', (e) => (e['time'] = '2025-03-14T09:26:54'), 'time'],
    ['specversion 0.3', (e) => (e['specversion'] = '0.3'), 'specversion'],
    ['missing to', (e) => (e['data'] = { ...(e['data'] as object), to: undefined }), 'data.to'],
  ];
  for (const [what, mutate, path] of broken) {
    it(`reject ${what} at ${path}`, () => {
      const event: Record<string, unknown> = { ...complete(drafts[0]!) };
      mutate(event);
      const parsed = parseAuditEvent(event);
      assert.equal(parsed.success, false);
      assert.ok(
        parsed.error?.issues.some((issue) => issue.path.join('.') === path),
        `issues: ${JSON.stringify(parsed.error?.issues.map((i) => i.path.join('.')))}`,
      );
    });
  }

  it('accept unavailable at term 0 with no last active pod, but not negative candidates', () => {
    const event = complete(drafts.find((d) => d.type === UNAVAILABLE)!);
    assert.ok(parseAuditEvent({ ...event, data: { ...event.data, term: 0, lastActive: null } }).success);
    assert.equal(parseAuditEvent({ ...event, data: { ...event.data, candidates: -1 } }).success, false);
  });
});

describe('auditId', () => {
  it('names service, term and short type for term-scoped events', () => {
    assert.equal(auditId({ type: PROMOTED, serviceUid: 'uid-1', term: 3, decidedAt: 1000 }), 'uid-1.3-1000.promoted');
    assert.equal(auditId({ type: RELEASED, serviceUid: 'uid-1', term: 3, decidedAt: 1000 }), 'uid-1.3-1000.released');
    assert.equal(auditId({ type: UNAVAILABLE, serviceUid: 'uid-1', term: 0, decidedAt: 0 }), 'uid-1.0-0.unavailable');
  });

  it('a term counted again (after an opt-out, or a damaged term annotation) gets a new id', () => {
    const first = auditId({ type: PROMOTED, serviceUid: 'uid-1', term: 1, decidedAt: 1000 });
    const again = auditId({ type: PROMOTED, serviceUid: 'uid-1', term: 1, decidedAt: 2000 });
    assert.notEqual(first, again);
  });

  it('hashes the request and term of a refused switchover', () => {
    const id = auditId({ type: SWITCHOVER_REFUSED, serviceUid: 'uid-1', term: 4, decidedAt: 1000, requested: 'web-9' });
    assert.match(id, /^uid-1\.[0-9a-f]{16}$/);
    assert.equal(id, auditId({ type: SWITCHOVER_REFUSED, serviceUid: 'uid-1', term: 4, decidedAt: 1000, requested: 'web-9' }));
    assert.notEqual(id, auditId({ type: SWITCHOVER_REFUSED, serviceUid: 'uid-1', term: 5, decidedAt: 1000, requested: 'web-9' }));
    assert.notEqual(id, auditId({ type: SWITCHOVER_REFUSED, serviceUid: 'uid-1', term: 4, decidedAt: 1000, requested: 'web-8' }));
  });

  it('gives the same id for the same config problems in any order or repetition', () => {
    const problem = fc.record({ key: fc.string({ minLength: 1 }), value: fc.string(), message: fc.string({ minLength: 1 }) });
    fc.assert(
      fc.property(fc.uniqueArray(problem, { minLength: 1, maxLength: 6, selector: (p) => JSON.stringify(p) }), fc.integer(), (problems, seed) => {
        const shuffled = [...problems].sort(() => (seed % 2 === 0 ? 1 : -1));
        const repeated = [...shuffled, problems[0]!];
        const id = auditId({ type: CONFIG_INVALID, serviceUid: service.uid, problems });
        assert.match(id, new RegExp(`^${service.uid}\\.[0-9a-f]{16}$`));
        assert.equal(auditId({ type: CONFIG_INVALID, serviceUid: service.uid, problems: repeated }), id);
      }),
    );
  });

  it('changes the config id when any problem field changes', () => {
    const base: ConfigProblem[] = [{ key: 'baton.dev/priority', value: 'high', message: 'not an integer' }];
    const id = auditId({ type: CONFIG_INVALID, serviceUid: 'uid-1', problems: base });
    for (const field of ['key', 'value', 'message'] as const) {
      const changed = [{ ...base[0]!, [field]: `${base[0]![field]}x` }];
      assert.notEqual(auditId({ type: CONFIG_INVALID, serviceUid: 'uid-1', problems: changed }), id, field);
    }
  });
});
