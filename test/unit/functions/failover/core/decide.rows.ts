// The decision table: one row per situation, with the summary of the plan it must give.
import { keys, NOW, pod, service } from './fixtures.js';
import { a, aDown, ago, b, bHigh, failbackOn, type Row } from './decide.shared.js';

export const rows: Row[] = [
  {
    name: 'adoption picks the highest priority',
    service: service(),
    pods: [pod('a'), pod('b', { priority: '10' })],
    expect: { kind: 'switch', to: 'b', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'adoption with equal priority picks the longest ready',
    service: service(),
    pods: [pod('a', { readySince: NOW - 10_000 }), pod('b', { readySince: NOW - 100_000 })],
    expect: { kind: 'switch', to: 'b', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'adoption with no healthy pod is unavailable at term 0',
    service: service(),
    pods: [pod('a', { ready: false })],
    expect: { kind: 'unavailable', active: undefined, term: 0, reports: true },
  },
  {
    name: 'a healthy active stays even when a higher priority exists (failback off)',
    service: service({ active: a }),
    pods: [a, bHigh],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'failback "false" behaves like absent',
    service: service({ active: a, annotations: { [keys.failback]: 'false' } }),
    pods: [a, bHigh],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'an unready active fails over',
    service: service({ active: aDown, term: 4 }),
    pods: [aDown, b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 5, from: 'a' },
  },
  {
    name: 'a Failed active fails over',
    service: service({ active: a }),
    pods: [pod('a', { role: 'active', phase: 'Failed' }), b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'a vanished active fails over, from taken from the annotations',
    service: service({ active: a }),
    pods: [b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'an active that no longer matches the edited selector fails over',
    service: service({ active: a, selector: { app: 'web', track: 'stable' } }),
    pods: [a, pod('b', { role: 'standby', labels: { app: 'web', track: 'stable' } })],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'failback on: a healthy higher priority pod takes over',
    service: service({ active: a, annotations: failbackOn }),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'b', reason: 'failback', term: 2, from: 'a' },
  },
  {
    name: 'failback on: equal priority stays',
    service: service({ active: a, annotations: failbackOn }),
    pods: [a, pod('b', { role: 'standby', readySince: NOW - 999_999 })],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'failback on: an unhealthy higher priority pod is not a reason to move',
    service: service({ active: a, annotations: failbackOn }),
    pods: [a, pod('b', { role: 'standby', priority: '10', ready: false })],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'failback is held until min-switch-interval has passed',
    service: service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '2m', [keys.switchedAt]: ago(30_000) },
    }),
    pods: [a, bHigh],
    expect: { kind: 'hold', retryAfterMs: 90_000 },
  },
  {
    name: 'failback proceeds once min-switch-interval has passed',
    service: service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '2m', [keys.switchedAt]: ago(120_000) },
    }),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'b', reason: 'failback', term: 2, from: 'a' },
  },
  {
    name: 'an unreadable switched-at never holds a failback',
    service: service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '2m', [keys.switchedAt]: 'yesterday' },
    }),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'b', reason: 'failback', term: 2, from: 'a' },
  },
  {
    name: 'failover is never held by min-switch-interval',
    service: service({
      active: aDown,
      annotations: { [keys.minSwitchInterval]: '10m', [keys.switchedAt]: ago(1_000) },
    }),
    pods: [aDown, b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'switchover to a healthy lower priority pod is accepted, ignoring the interval',
    service: service({
      active: pod('a', { role: 'active', priority: '10' }),
      annotations: {
        [keys.switchoverTo]: 'b',
        [keys.minSwitchInterval]: '10m',
        [keys.switchedAt]: ago(1_000),
      },
    }),
    pods: [pod('a', { role: 'active', priority: '10' }), b],
    expect: { kind: 'switch', to: 'b', reason: 'switchover', term: 2, from: 'a' },
  },
  {
    name: 'switchover to an unknown pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'zed' } }),
    pods: [a, b],
    expect: { kind: 'refuse-switchover', requested: 'zed', why: 'no pod named "zed" in namespace shop' },
  },
  {
    name: 'switchover to an unready pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { ready: false })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'pod "b" is not ready' },
  },
  {
    name: 'switchover to a Pending pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { phase: 'Pending', ready: false })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'pod "b" is Pending, not Running' },
  },
  {
    name: 'switchover to a deleting pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { deleting: true })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'pod "b" is being deleted' },
  },
  {
    name: 'switchover to a pod outside the selector is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { labels: { app: 'db' } })],
    expect: {
      kind: 'refuse-switchover',
      requested: 'b',
      why: 'pod "b" does not match the selector of Service web',
    },
  },
  {
    name: 'switchover to a same-named pod in another namespace is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { namespace: 'elsewhere' })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'no pod named "b" in namespace shop' },
  },
  {
    name: 'switchover to the current active is refused as already active',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'a' } }),
    pods: [a, b],
    expect: { kind: 'refuse-switchover', requested: 'a', why: 'pod "a" is already active' },
  },
  {
    name: 'no healthy candidate is reported as unavailable',
    service: service({ active: aDown, term: 3 }),
    pods: [aDown, pod('b', { phase: 'Pending', ready: false })],
    expect: { kind: 'unavailable', active: 'a', term: 3, reports: true },
  },
  {
    name: 'unavailable is reported only once per term',
    service: service({ active: aDown, term: 3, annotations: { [keys.unavailableTerm]: '3' } }),
    pods: [aDown],
    expect: { kind: 'unavailable', active: 'a', term: 3, reports: false },
  },
  {
    name: 'a stale unavailable-term from an earlier term is reported again',
    service: service({ active: aDown, term: 3, annotations: { [keys.unavailableTerm]: '2' } }),
    pods: [aDown],
    expect: { kind: 'unavailable', active: 'a', term: 3, reports: true },
  },
  {
    name: 'opting out releases the Service',
    service: service({ active: a, optedIn: false }),
    pods: [a, b],
    expect: { kind: 'release' },
  },
  {
    name: 'a Service baton never touched is ignored',
    service: service({ optedIn: false }),
    pods: [a, b],
    expect: { kind: 'ignore' },
  },
  {
    name: 'failback "yes" is invalid',
    service: service({ active: a, annotations: { [keys.failback]: 'yes' } }),
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.failback}=yes`] },
  },
  {
    name: 'a negative interval is invalid',
    service: service({ active: a, annotations: { [keys.minSwitchInterval]: '-5s' } }),
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.minSwitchInterval}=-5s`] },
  },
  {
    name: 'a 10 kB interval string is invalid',
    service: service({ active: a, annotations: { [keys.minSwitchInterval]: '1'.repeat(10_240) + 's' } }),
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.minSwitchInterval}=${'1'.repeat(10_240)}s`] },
  },
  {
    name: 'a damaged original-selector does not stop a failover: the live selector is enough',
    service: service({ active: a, annotations: { [keys.originalSelector]: '{app: web' } }),
    pods: [pod('a', { ready: false }), b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'a damaged original-selector is invalid when the live selector holds only baton\'s key',
    service: { ...service({ active: a, annotations: { [keys.originalSelector]: '{app: web' } }), selector: { [keys.podId]: a.uid } },
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.originalSelector}={app: web`] },
  },
  {
    name: 'every problem is reported at once',
    service: service({
      active: a,
      annotations: { [keys.originalSelector]: '[]', [keys.failback]: 'True', [keys.switchoverTo]: 'Pod_B' },
    }),
    pods: [a, b],
    expect: {
      kind: 'invalid-config',
      problems: [`${keys.failback}=True`, `${keys.switchoverTo}=Pod_B`],
    },
  },
  {
    name: 'a bad priority ranks as 0',
    service: service(),
    pods: [pod('a', { priority: 'high' }), pod('b', { priority: '-5' })],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'pods outside the selector or namespace are ignored',
    service: service(),
    pods: [
      pod('a'),
      pod('db', { labels: { app: 'db' }, priority: '100' }),
      pod('far', { namespace: 'elsewhere', priority: '100' }),
    ],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'a deleting pod is not eligible, even if ready',
    service: service(),
    pods: [pod('a'), pod('b', { priority: '10', deleting: true })],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'a deleting active fails over',
    service: service({ active: a }),
    pods: [pod('a', { role: 'active', deleting: true }), b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'garbage term counts as 0',
    service: service({ active: aDown, annotations: { [keys.term]: 'seven' } }),
    pods: [aDown, b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 1, from: 'a' },
  },
  {
    name: 'a selector that lost the pod-id key is re-pinned to the same active',
    service: (() => {
      const s = service({ active: a, term: 6 });
      return { ...s, selector: { app: 'web' } };
    })(),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 7, from: 'a' },
  },
];
