// The admission policies in knative/base/admission.yaml, on the real API server, with
// baton running behind the real adapter and an independent EndpointSlice watch.
//
// The shipped bindings are cluster-wide; other e2e tests in the same run remove the
// pod-id key on purpose (to test re-pinning), so each test here binds the shipped
// policy, under a name of its own, to its own namespace only.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { watchSlices } from './support/slices.js';
import { OPT_IN, POD_ID, merge, shipped, enforce, kubectl, manifest, PLACEHOLDER, placeholderService, zeroWindows, probeService, Verdict, verdict } from './support/admission.js';

test('pinned-selector policy: re-applying the placeholder is refused and the Service never routes to nothing; the coexistence recipes work', async (t) => {
  const ns = await testNamespace(t, 'adm-svc');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const probe = await probeService(core, ns);
  await enforce(t, ns, shipped('baton-pinned-selector'), probe);
  await core.deleteNamespacedService({ name: 'probe', namespace: ns });
  const slices = await watchSlices(t, ns);
  const withPlaceholder = manifest(ns, PLACEHOLDER);
  const { uid, since } = await placeholderService(t, ns, slices, withPlaceholder, ['apply']);
  const selectorNow = async (): Promise<Record<string, string> | undefined> => (await core.readNamespacedService({ name: 'db', namespace: ns })).spec?.selector;

  // The same manifest again (what every sync does): refused, with the way out.
  const again = await kubectl(['apply', '-f', withPlaceholder]);
  t.diagnostic(`re-apply of the placeholder manifest: exit ${again.code}: ${again.stderr.trim()}`);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /ValidatingAdmissionPolicy 'baton-pinned-selector-/);
  assert.match(again.stderr, new RegExp(`baton\\.dev/pod-id ${uid} -> none`));
  assert.match(again.stderr, /Re-applied manifests must leave baton\.dev\/pod-id out of the selector/);
  assert.deepEqual(await selectorNow(), { app: 'db', [POD_ID]: uid });

  // Client-side apply remembers the declared key in last-applied-configuration, so
  // dropping it from the manifest would delete it: refused too ("removed")...
  const keyless = manifest(ns, { app: 'db' }, { note: 'keyless' });
  const dropped = await kubectl(['apply', '-f', keyless]);
  assert.notEqual(dropped.code, 0, dropped.stdout);
  assert.match(dropped.stderr, new RegExp(`baton\\.dev/pod-id ${uid} removed`));
  // ...until last-applied is rewritten; from then on apply keeps the key it never declared.
  const set = await kubectl(['apply', 'set-last-applied', '-f', keyless]);
  assert.equal(set.code, 0, set.stderr);
  const kept = await kubectl(['apply', '-f', keyless]);
  assert.equal(kept.code, 0, kept.stderr);
  const afterKeyless = await core.readNamespacedService({ name: 'db', namespace: ns });
  assert.equal(afterKeyless.metadata?.annotations?.['note'], 'keyless', 'the keyless apply took effect');
  assert.deepEqual(afterKeyless.spec?.selector, { app: 'db', [POD_ID]: uid });

  // Server-side apply: spec.selector is an atomic map that baton's last write owns, so
  // the manifest's selector conflicts; forcing it would replace the whole map, and is refused.
  const ssa = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', keyless]);
  assert.notEqual(ssa.code, 0, ssa.stdout);
  assert.match(ssa.stderr, /conflict.*\.spec\.selector/is);
  const forced = await kubectl(['apply', '--server-side', '--field-manager=gitops', '--force-conflicts', '-f', keyless]);
  assert.notEqual(forced.code, 0, forced.stdout);
  assert.match(forced.stderr, new RegExp(`baton\\.dev/pod-id ${uid} removed`));

  // Opting out is always allowed, and baton restores the plain selector.
  const until = Date.now();
  await core.patchNamespacedService({ name: 'db', namespace: ns, body: { metadata: { labels: { 'baton.dev/mode': null } } } }, merge);
  await waitFor('baton to restore the selector', async () => ((await selectorNow())?.[POD_ID] === undefined ? true : undefined));

  const adoptedWindow = slices.history('db').filter((o) => o.at >= since && o.at < until);
  assert.deepEqual(zeroWindows(slices, since).filter((z) => z.at < until), [], `no zero-endpoint window: ${JSON.stringify(adoptedWindow)}`);
  assert.deepEqual(slices.violations('db', since).filter((o) => o.at < until), [], JSON.stringify(adoptedWindow));
});

test('pinned-selector policy off (the old behaviour): a re-apply empties the Service until baton re-pins; a forced server-side apply routes to every pod', async (t) => {
  const ns = await testNamespace(t, 'adm-svc-off');
  const slices = await watchSlices(t, ns);
  const withPlaceholder = manifest(ns, PLACEHOLDER);
  const { since } = await placeholderService(t, ns, slices, withPlaceholder, ['apply']);

  const again = await kubectl(['apply', '-f', withPlaceholder]);
  assert.equal(again.code, 0, again.stderr);
  const zero = await waitFor('the Service to route to no pod', () => zeroWindows(slices, since)[0]);
  const repinned = await waitFor('baton to pin it again', () => slices.history('db').find((o) => o.at > zero.at && o.ready.length === 1));
  t.diagnostic(`zero ready endpoints for ${repinned.at - zero.at} ms after the re-apply (until baton re-pinned)`);

  // SSA of a manifest without the key, forced over baton's ownership: the key is gone
  // and the Service selects every pod until baton notices.
  const keyless = manifest(ns, { app: 'db' });
  const mark = Date.now();
  const forced = await kubectl(['apply', '--server-side', '--field-manager=gitops', '--force-conflicts', '-f', keyless]);
  assert.equal(forced.code, 0, forced.stderr);
  const all = await waitFor('more than one ready endpoint', () => slices.violations('db', mark)[0]);
  const back = await waitFor('baton to pin it again', () => slices.history('db').find((o) => o.at > all.at && o.ready.length === 1), { timeoutMs: 15_000 }).catch(() => undefined);
  t.diagnostic(`forced server-side apply: [${all.ready.join(',')}] ready; ${back ? `one pod again after ${back.at - all.at} ms` : 'not re-pinned within 15 s'}`);
});

test('pinned-selector policy with server-side apply: the placeholder conflicts, forcing it is refused, leaving spec.selector out keeps the pin', async (t) => {
  const ns = await testNamespace(t, 'adm-ssa');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const probe = await probeService(core, ns);
  await enforce(t, ns, shipped('baton-pinned-selector'), probe);
  await core.deleteNamespacedService({ name: 'probe', namespace: ns });
  const slices = await watchSlices(t, ns);
  const ssa = ['apply', '--server-side', '--field-manager=gitops'];
  const withPlaceholder = manifest(ns, PLACEHOLDER);
  const { uid, since } = await placeholderService(t, ns, slices, withPlaceholder, ssa);

  // baton's patch took spec.selector (an atomic map) from the applier, so the same
  // manifest now conflicts and changes nothing...
  const again = await kubectl([...ssa, '-f', withPlaceholder]);
  assert.notEqual(again.code, 0, again.stdout);
  assert.match(again.stderr, /conflict.*\.spec\.selector/is);
  // ...forcing it would put the placeholder back: refused...
  const forced = await kubectl([...ssa, '--force-conflicts', '-f', withPlaceholder]);
  assert.notEqual(forced.code, 0, forced.stdout);
  assert.match(forced.stderr, new RegExp(`baton\\.dev/pod-id ${uid} -> none`));
  // ...and a manifest without spec.selector applies cleanly and leaves the pin alone.
  const without = await kubectl([...ssa, '-f', manifest(ns, undefined, { note: 'no selector' })]);
  assert.equal(without.code, 0, without.stderr);
  const svc = await core.readNamespacedService({ name: 'db', namespace: ns });
  assert.equal(svc.metadata?.annotations?.['note'], 'no selector');
  assert.deepEqual(svc.spec?.selector, { app: 'db', [POD_ID]: uid });
  assert.deepEqual(zeroWindows(slices, since), [], JSON.stringify(slices.history('db')));
  assert.deepEqual(slices.violations('db', since), [], JSON.stringify(slices.history('db')));
});

test('pinned-selector policy, decision table: dry-run updates judged by the API server', async (t) => {
  const ns = await testNamespace(t, 'adm-svc-table');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const U = '11111111-1111-4111-8111-111111111111';
  const V = '22222222-2222-4222-8222-222222222222';
  // No baton runs here: each Service keeps the state it is created with.
  let n = 0;
  const service = async (labels: Record<string, string>, selector: Record<string, string>): Promise<string> => {
    const name = `s${n++}`;
    await core.createNamespacedService({ namespace: ns, body: { metadata: { name, labels }, spec: { selector, ports: [{ port: 80 }] } } });
    return name;
  };
  const pinned = (): Promise<string> => service(OPT_IN, { app: 'db', [POD_ID]: U });
  const update = (name: string, body: object) => () => core.patchNamespacedService({ name, namespace: ns, dryRun: 'All', body }, merge);
  const probeName = await pinned();
  await enforce(t, ns, shipped('baton-pinned-selector'), async () => (await verdict(update(probeName, { spec: { selector: { [POD_ID]: 'none' } } }))) === 'refused');
  const rows: Array<[string, string, object, Verdict]> = [
    ['pinned -> placeholder', await pinned(), { spec: { selector: { [POD_ID]: 'none' } } }, 'refused'],
    ['pinned -> key removed', await pinned(), { spec: { selector: { [POD_ID]: null } } }, 'refused'],
    ['pinned -> selector removed', await pinned(), { spec: { selector: null } }, 'refused'],
    ['pinned -> placeholder in the same write as an opt-out (mode changed)', await pinned(), { metadata: { labels: { 'baton.dev/mode': 'off' } }, spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
    ['pinned -> another UID (a switch)', await pinned(), { spec: { selector: { [POD_ID]: V } } }, 'allowed'],
    ['pinned -> user part of the selector changed', await pinned(), { spec: { selector: { app: 'db2' } } }, 'allowed'],
    ['pinned -> annotation only', await pinned(), { metadata: { annotations: { note: 'x' } } }, 'allowed'],
    // Direct mode: the Service leaves its selector to baton's slice.
    ['pinned -> direct mode (selector removed, pods annotation set)', await pinned(), { metadata: { annotations: { 'baton.dev/pods': 'app=db' } }, spec: { selector: null } }, 'allowed'],
    ['pinned -> pods annotation beside the user\'s selector, pod-id removed', await pinned(), { metadata: { annotations: { 'baton.dev/pods': 'app=db' } }, spec: { selector: { [POD_ID]: null } } }, 'refused'],
    // Nothing of the user's is left in the selector: direct mode, and baton's slice routes.
    ['pinned -> pods annotation and only the placeholder left', await pinned(), { metadata: { annotations: { 'baton.dev/pods': 'app=db' } }, spec: { selector: { app: null, [POD_ID]: 'none' } } }, 'allowed'],
    ['pinned -> opt-out and plain selector', await pinned(), { metadata: { labels: { 'baton.dev/mode': null } }, spec: { selector: { [POD_ID]: null } } }, 'allowed'],
    ['placeholder -> a UID (adoption)', await service(OPT_IN, { app: 'db', [POD_ID]: 'none' }), { spec: { selector: { [POD_ID]: U } } }, 'allowed'],
    ['placeholder -> key removed', await service(OPT_IN, { app: 'db', [POD_ID]: 'none' }), { spec: { selector: { [POD_ID]: null } } }, 'allowed'],
    ['no pod-id -> placeholder (baton\'s pin while no pod is healthy)', await service(OPT_IN, { app: 'db' }), { spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
    ['not opted in, pod-id -> placeholder', await service({}, { app: 'db', [POD_ID]: U }), { spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
    ['opting in over a stale pod-id -> placeholder', await service({}, { app: 'db', [POD_ID]: U }), { metadata: { labels: OPT_IN }, spec: { selector: { [POD_ID]: 'none' } } }, 'allowed'],
  ];
  const got: Array<[string, Verdict]> = [];
  for (const [name, svc, body] of rows) got.push([name, await verdict(update(svc, body))]);
  assert.deepEqual(got, rows.map(([name, , , want]) => [name, want]));
});
