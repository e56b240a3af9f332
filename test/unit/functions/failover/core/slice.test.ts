// Direct mode's slice: desiredSlice (what the slice holds for a record) and planSlice (the
// one write that gets it there), as tables and properties.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { desiredSlice, MANAGED_BY_LABEL, planSlice, resolvePort, type DesiredSlice, type ObservedSlice } from '../../../../../functions/failover/core/slice.js';
import type { PodView, ServicePort } from '../../../../../functions/failover/core/model.js';
import { readRecord } from '../../../../../shared/record.js';
import { keys, pod } from './fixtures.js';
import { directService } from './direct-fixtures.js';

const net = (p: PodView, ip = '10.0.0.7'): PodView => ({ ...p, ips: [ip], nodeName: 'node-1', containerPorts: [{ name: 'web', containerPort: 8080, protocol: 'TCP' }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] });
const a = net(pod('a'));
const b = net(pod('b'), '10.0.0.8');

function observedFrom(slice: DesiredSlice, resourceVersion = '7', controllerUids = [slice.owner.uid]): ObservedSlice {
  return {
    name: slice.name,
    uid: 'slice-uid',
    resourceVersion,
    labels: slice.labels,
    annotations: slice.annotations,
    controllerUids,
    addressType: slice.addressType,
    endpoints: slice.endpoints.map((e) => ({ ...e, conditions: { ...e.conditions } })),
    ports: slice.ports,
  };
}

describe('desiredSlice', () => {
  it('one endpoint, the recorded active, with everything the controller would write', () => {
    const service = directService({ active: a, term: 3 });
    const slice = desiredSlice(service, readRecord(service, keys), [a, b], keys);
    assert.equal(slice.name, 'web-baton');
    assert.deepEqual(slice.labels, { 'kubernetes.io/service-name': 'web', [MANAGED_BY_LABEL]: 'baton.example.com' });
    assert.deepEqual(slice.annotations, { [keys.term]: '3' });
    assert.deepEqual(slice.owner, { name: 'web', uid: 'svc-uid' });
    assert.deepEqual(slice.endpoints, [
      { addresses: ['10.0.0.7'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-1', targetRef: { kind: 'Pod', namespace: 'shop', name: 'a', uid: a.uid } },
    ]);
    assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: undefined }]);
  });

  const cases: Array<[string, PodView | undefined, unknown]> = [
    ['unready active: kept, not ready', net(pod('a', { ready: false })), { ready: false, serving: false, terminating: false }],
    ['terminating active: serving, not ready, terminating', { ...a, deleting: true }, { ready: false, serving: true, terminating: true }],
    ['active without an IP yet: no endpoint', { ...a, ips: [] }, undefined],
    ['active with an IPv6 address only: no endpoint (the slice is IPv4)', { ...a, ips: ['fd00::7'] }, undefined],
    ['active gone from the list: no endpoint', undefined, undefined],
    ['active no longer matching the pods annotation: no endpoint', { ...a, labels: { app: 'other' } }, undefined],
  ];
  for (const [name, active, conditions] of cases) {
    it(name, () => {
      const service = directService({ active: a });
      const slice = desiredSlice(service, readRecord(service, keys), active ? [active, b] : [b], keys);
      assert.deepEqual(slice.endpoints[0]?.conditions, conditions);
      assert.ok(slice.endpoints.length <= 1);
    });
  }

  it('no record yet: an empty slice stamped term 0', () => {
    const service = directService();
    const slice = desiredSlice(service, readRecord(service, keys), [a, b], keys);
    assert.deepEqual([slice.endpoints, slice.ports, slice.annotations[keys.term]], [[], [], '0']);
  });

  it('dual-stack pod: the IPv4 address', () => {
    const service = directService({ active: a });
    const slice = desiredSlice(service, readRecord(service, keys), [{ ...a, ips: ['fd00::7', '10.0.0.9'] }], keys);
    assert.deepEqual(slice.endpoints[0]?.addresses, ['10.0.0.9']);
  });
});

describe('resolvePort', () => {
  const port = (targetPort: ServicePort['targetPort'], protocol = 'TCP'): ServicePort => ({ name: 'p', port: 80, targetPort, protocol, appProtocol: undefined });
  const rows: Array<[string, ServicePort, number | undefined]> = [
    ['a number as is', port(9090), 9090],
    ['none: the Service port', port(undefined), 80],
    ['a name the pod declares', port('web'), 8080],
    ['a name with another protocol: unresolved', port('web', 'UDP'), undefined],
    ['a UDP name', port('dns', 'UDP'), 53],
    ['a name no container declares: unresolved', port('metrics'), undefined],
  ];
  for (const [name, p, want] of rows) it(name, () => assert.equal(resolvePort(p, a), want));

  it('an unresolvable named port is left out of the slice, the others kept', () => {
    const service = { ...directService({ active: a }), ports: [port('metrics'), { ...port('web'), name: 'http' }] };
    assert.deepEqual(desiredSlice(service, readRecord(service, keys), [a], keys).ports.map((p) => [p.name, p.port]), [['http', 8080]]);
  });
});

describe('planSlice', () => {
  const service = directService({ active: a, term: 3 });
  const want = desiredSlice(service, readRecord(service, keys), [a], keys);

  it('absent: create', () => assert.deepEqual(planSlice(want, [], service, keys).write, { kind: 'create', slice: want }));
  it('same content: nothing to write', () => assert.equal(planSlice(want, [observedFrom(want)], service, keys).write.kind, 'none'));
  it('different content at the same term: update guarded by its resourceVersion', () => {
    const old = desiredSlice(service, readRecord(service, keys), [{ ...a, ips: ['10.0.0.1'] }], keys);
    assert.deepEqual(planSlice(want, [observedFrom(old, '11')], service, keys).write, { kind: 'update', slice: want, resourceVersion: '11' });
  });
  it('stamped with a higher term: blocked, never replaced', () => {
    const newer = { ...observedFrom(want), annotations: { [keys.term]: '4' } };
    assert.equal(planSlice(want, [newer], service, keys).write.kind, 'blocked');
  });
  it('its name taken by a slice baton did not write (other owner): blocked, reported', () => {
    const squatter = observedFrom(want, '7', ['someone-else']);
    const plan = planSlice(want, [squatter], service, keys);
    assert.equal(plan.write.kind, 'blocked');
    assert.deepEqual(plan.foreign, ['web-baton (managed by baton.example.com)']);
  });
  it('another slice of the Service: reported as foreign, baton\'s own still written', () => {
    const other = { ...observedFrom(want), name: 'web-abcde', labels: { 'kubernetes.io/service-name': 'web', [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io' } };
    const plan = planSlice(want, [other], service, keys);
    assert.deepEqual([plan.write.kind, plan.foreign], ['create', ['web-abcde (managed by endpointslice-controller.k8s.io)']]);
  });

  it('property: whatever the slices and records, the plan never writes more than one endpoint and never lowers a term', () => {
    const term = fc.integer({ min: 0, max: 6 });
    const pods = fc.subarray([a, b, net(pod('c', { ready: false })), { ...b, deleting: true }]);
    fc.assert(
      fc.property(term, term, pods, fc.constantFrom('a', 'b', 'c'), (recordTerm, sliceTerm, listed, activeName) => {
        const active = [a, b, pod('c')].find((p) => p.name === activeName)!;
        const svc = directService({ active, term: Math.max(1, recordTerm) });
        const desired = desiredSlice(svc, readRecord(svc, keys), listed, keys);
        const existing = { ...observedFrom(desiredSlice(svc, readRecord(svc, keys), [a], keys)), annotations: { [keys.term]: String(sliceTerm) } };
        const plan = planSlice(desired, [existing], svc, keys);
        assert.ok(desired.endpoints.length <= 1);
        if (plan.write.kind === 'create' || plan.write.kind === 'update') {
          assert.ok(sliceTerm <= Math.max(1, recordTerm), 'a slice stamped with a higher term was replaced');
          for (const e of plan.write.slice.endpoints) assert.equal(e.targetRef.uid, active.uid);
        }
      }),
    );
  });
});
