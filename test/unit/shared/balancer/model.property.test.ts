import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolve, RoundRobin, withoutSlice, withSlice, type Slices } from '../../../../shared/balancer/model.js';
import { HTTP, slice, type EndpointSpec } from './slices.js';

const RUNS = { numRuns: 300 };
const SLICE_NAMES = ['s1', 's2', 's3'] as const;
// Few addresses, so the same endpoint often sits in two slices, as it does mid-move.
const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'] as const;

type Op = { readonly kind: 'upsert'; readonly name: string; readonly endpoints: readonly EndpointSpec[] } | { readonly kind: 'delete'; readonly name: string };

const arbEndpoint: fc.Arbitrary<EndpointSpec> = fc.record({ ip: fc.constantFrom(...IPS), ready: fc.constantFrom(true, false, undefined) });
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('upsert' as const), name: fc.constantFrom(...SLICE_NAMES), endpoints: fc.array(arbEndpoint, { maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), name: fc.constantFrom(...SLICE_NAMES) }) },
);

// The oracle: a plain record of each slice's latest endpoints, written independently of the model.
function oracleReady(ops: readonly Op[]): string[] {
  const latest: Record<string, readonly EndpointSpec[]> = {};
  for (const op of ops) {
    if (op.kind === 'delete') delete latest[op.name];
    else latest[op.name] = op.endpoints;
  }
  const ready = new Set<string>();
  for (const endpoints of Object.values(latest)) for (const e of endpoints) if (e.ready !== false) ready.add(e.ip);
  return [...ready].sort();
}

function play(ops: readonly Op[]): Slices {
  let s: Slices = new Map();
  for (const op of ops) s = op.kind === 'delete' ? withoutSlice(s, op.name) : withSlice(s, slice(op.name, HTTP, op.endpoints));
  return s;
}

function readyOf(s: Slices): string[] {
  const r = resolve(s, 'http');
  assert.equal(r.kind, 'ok');
  return r.kind === 'ok' ? r.endpoints.map((e) => e.address) : [];
}

describe('model properties', () => {
  it('the endpoints are exactly the ready ones of the latest copy of every slice still present', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 30 }), (ops) => {
        assert.deepEqual(readyOf(play(ops)), oracleReady(ops));
      }),
      RUNS,
    );
  });

  it('next() never returns a non-ready endpoint and covers every ready one in one round', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 30 }), fc.nat(20), (ops, warmup) => {
        const want = oracleReady(ops);
        const rr = new RoundRobin();
        const r = resolve(play(ops), 'http');
        rr.replace(r.kind === 'ok' ? r.endpoints : []);
        for (let i = 0; i < warmup; i++) rr.next();
        const round = want.map(() => rr.next()?.address ?? 'none');
        assert.deepEqual([...round].sort(), want);
      }),
      RUNS,
    );
  });

  it('an endpoint whose slices were deleted or updated without it is never returned again', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 20 }), fc.array(arbOp, { maxLength: 20 }), (before, after) => {
        const rr = new RoundRobin();
        const s1 = play(before);
        const r1 = resolve(s1, 'http');
        rr.replace(r1.kind === 'ok' ? r1.endpoints : []);
        rr.next();
        const all = [...before, ...after];
        const r2 = resolve(play(all), 'http');
        rr.replace(r2.kind === 'ok' ? r2.endpoints : []);
        const allowed = new Set(oracleReady(all));
        for (let i = 0; i < IPS.length * 2; i++) {
          const e = rr.next();
          if (e) assert.ok(allowed.has(e.address), `${e.address} is not ready any more`);
        }
      }),
      RUNS,
    );
  });

  it('after any change, one round still returns every endpoint exactly once', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 20 }), fc.array(arbOp, { maxLength: 20 }), fc.nat(10), (a, b, calls) => {
        const rr = new RoundRobin();
        const r1 = resolve(play(a), 'http');
        rr.replace(r1.kind === 'ok' ? r1.endpoints : []);
        for (let i = 0; i < calls; i++) rr.next();
        const r2 = resolve(play([...a, ...b]), 'http');
        const list = r2.kind === 'ok' ? r2.endpoints : [];
        rr.replace(list);
        const round = list.map(() => rr.next()!.address);
        assert.equal(new Set(round).size, list.length);
      }),
      RUNS,
    );
  });
});
