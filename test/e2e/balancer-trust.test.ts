// The balancer against hostile or broken surroundings, on the real plane: forged
// failover hints sent over HTTP by someone who can read Services (pinning, black hole,
// term lock), hints after an opt-out and opt-in by the real baton, and an API
// connection that accepts and never answers (idle watches must not leak sockets).
//
// Every scenario compares with what the slices alone would give: a balancer without
// the events endpoint, following the same Service at the same time.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { waitFor } from '../../plane/wait.js';
import { startBaton } from './support/baton.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { startPodNetwork } from './support/podnet.js';
import { createDeployment, labelService, setPodReady } from './support/workloads.js';
import { OPT_IN, PodInfo, readyPods, balancer, serviceRecord, eventsApp, forge, promotedOf, attack, fmt, measure, assertSame } from './support/balancer-trust.js';

test('forged failover hints (pinning, black hole, term lock) move no traffic: with the events endpoint as without it', async (t) => {
  const ns = await testNamespace(t, 'bal-forge');
  const kc = adminConfig();
  const podnet = await startPodNetwork();
  t.after(() => podnet.close());
  const account = await clientKubeconfig(ns, 'app');
  // spread: active/active (pinning); vault: opted in (black hole); db: opted in (term lock).
  const follow = (service: string) => balancer(t, { namespace: ns, service, port: 'http', kubeconfig: account });
  const plain = { spread: follow('spread'), vault: follow('vault'), db: follow('db') };
  const exposed = { spread: follow('spread'), vault: follow('vault'), db: follow('db') };
  const app = await eventsApp(t, Object.values(exposed));
  // baton's own audit events reach the same endpoint, as through a Trigger.
  await startBaton(t, ns, { K_SINK: app.url });

  await createDeployment(kc, ns, 'spread', 3);
  await createDeployment(kc, ns, 'vault', 3, { serviceLabels: OPT_IN });
  await createDeployment(kc, ns, 'db', 3, { serviceLabels: OPT_IN });
  const spreadPods = await readyPods(ns, 'spread', 3);
  const vaultPods = await readyPods(ns, 'vault', 3);
  const dbPods = await readyPods(ns, 'db', 3);
  for (const p of [...spreadPods, ...vaultPods, ...dbPods]) await podnet.addPod(p.name, p.ip, 8080);
  const adoption = (service: string) =>
    waitFor(`baton to adopt ${service}`, async () => {
      const r = await serviceRecord(ns, service);
      return r.term !== undefined && r.active ? r : undefined;
    });
  const vaultAdopted = await adoption('vault');
  const adopted = await adoption('db');
  await Promise.all([...Object.values(plain), ...Object.values(exposed)].map((b) => b.startBackgroundSync()));
  const onlyActive = async (service: 'vault' | 'db', pods: readonly PodInfo[], active: string): Promise<void> => {
    const ip = pods.find((p) => p.name === active)!.ip;
    for (const b of [plain[service], exposed[service]]) await waitFor(`${service} balancers to show only ${active}`, () => (b.endpoints().map((e) => e.address).join() === ip ? true : undefined), { intervalMs: 10 });
  };
  await onlyActive('vault', vaultPods, vaultAdopted.active!);
  await onlyActive('db', dbPods, adopted.active!);
  for (const b of [plain.spread, exposed.spread]) await waitFor('spread balancers to show three pods', () => (b.endpoints().length === 3 ? true : undefined), { intervalMs: 10 });
  const spreadUid = (await serviceRecord(ns, 'spread')).uid;

  // Pinning: a real ready pod of an active/active Service, a new term every 500 ms.
  let pinOutcomes: string[] = [];
  const pin = await measure(podnet, plain.spread, exposed.spread, spreadPods.map((p) => p.name), async () => {
    pinOutcomes = await attack(3_000, 500, (i) => forge(app.url, ns, 'spread', spreadUid, i + 1, spreadPods[0]!));
  });
  t.diagnostic(`pinning: plain ${fmt(pin.plain)}; exposed ${fmt(pin.exposed)}; endpoint said ${[...new Set(pinOutcomes)].join(', ')}`);

  // Black hole: a pod that does not exist, terms raised every 150 ms from what the Service shows.
  const ghost = { name: 'ghost', uid: randomUUID() };
  let holeOutcomes: string[] = [];
  const hole = await measure(podnet, plain.vault, exposed.vault, vaultPods.map((p) => p.name), async () => {
    holeOutcomes = await attack(3_000, 150, async (i) => forge(app.url, ns, 'vault', vaultAdopted.uid, (await serviceRecord(ns, 'vault')).term! + 1 + i, ghost));
  });
  t.diagnostic(`black hole: plain ${fmt(hole.plain)}; exposed ${fmt(hole.exposed)}; endpoint said ${[...new Set(holeOutcomes)].join(', ')}`);

  // Term lock: one huge term naming the current active, then a genuine failover by baton.
  const lockOutcome = await forge(app.url, ns, 'db', adopted.uid, 2_000_000_000, { name: adopted.active!, uid: dbPods.find((p) => p.name === adopted.active)!.uid });
  const before = Date.now();
  await setPodReady(kc, ns, adopted.active!, false);
  const after = await waitFor('baton to fail db over', async () => {
    const r = await serviceRecord(ns, 'db');
    return r.term !== undefined && r.term > adopted.term! ? r : undefined;
  });
  // baton may deliver a copy of an earlier event late; only this term's event counts.
  const genuine = promotedOf(adopted.uid, after.term!);
  const promoted = await waitFor('baton’s genuine promoted event to reach the application', () => app.deliveries.find((d) => d.at >= before && genuine(d)), { timeoutMs: 30_000 });
  const hintTerm = exposed.db.status().hintTerm;
  t.diagnostic(`term lock: forged term 2000000000 → ${lockOutcome}; genuine promoted event (term ${after.term}) → ${promoted.outcome}${promoted.detail ? `(${promoted.detail})` : ''}; hint term then ${hintTerm}`);

  assertSame('pinning', pin);
  assertSame('black hole', hole);
  assert.notEqual(promoted.detail, 'stale-term', 'a forged huge term locked out baton’s genuine event');
  assert.equal(promoted.outcome, 'applied');
  assert.equal(hintTerm, after.term, 'the balancer’s term must follow the Service record, not the forged term');
});

test('hints keep working after an opt-out and a new opt-in (baton restarts terms at 1)', async (t) => {
  const ns = await testNamespace(t, 'bal-reopt');
  const kc = adminConfig();
  const account = await clientKubeconfig(ns, 'app');
  const hinted = balancer(t, { namespace: ns, service: 'cycle', port: 'http', kubeconfig: account });
  const app = await eventsApp(t, [hinted]);
  await startBaton(t, ns, { K_SINK: app.url });
  await createDeployment(kc, ns, 'cycle', 3, { serviceLabels: OPT_IN });
  const pods = await readyPods(ns, 'cycle', 3);
  await hinted.startBackgroundSync();

  const termReaches = (term: number) => waitFor(`term ${term} on the Service`, async () => {
    const r = await serviceRecord(ns, 'cycle');
    return r.term === term && r.active ? r : undefined;
  });
  // Two failovers: terms 1 → 3, so the balancer has seen terms higher than a new opt-in starts with.
  let record = await termReaches(1);
  for (const term of [2, 3]) {
    await setPodReady(kc, ns, record.active!, false);
    record = await termReaches(term);
  }
  await labelService(kc, ns, 'cycle', { 'baton.dev/mode': null });
  await waitFor('baton to release cycle', async () => ((await serviceRecord(ns, 'cycle')).term === undefined ? true : undefined));
  for (const p of pods) await setPodReady(kc, ns, p.name, true);
  await labelService(kc, ns, 'cycle', OPT_IN);
  record = await termReaches(1);
  const before = Date.now();
  await setPodReady(kc, ns, record.active!, false);
  record = await termReaches(2);
  // The first opt-in also had a term 2; only a delivery after this failover counts.
  const genuine = promotedOf(record.uid, 2);
  const promoted = await waitFor('the promoted event of the new term 2', () => app.deliveries.find((d) => d.at >= before && genuine(d)), { timeoutMs: 30_000 });
  t.diagnostic(`deliveries: ${app.deliveries.filter((d) => d.type.startsWith('dev.baton')).map((d) => `${d.type.replace('dev.baton.failover.', '')}=${d.outcome}${d.detail ? `(${d.detail})` : ''}`).join(', ')}; hint term ${hinted.status().hintTerm}`);
  assert.equal(promoted.outcome, 'applied', `the genuine event after the new opt-in was ignored: ${promoted.detail}`);
  assert.equal(hinted.status().hintTerm, 2);
});
