// The balancer against hostile or broken surroundings, on the real plane: forged
// failover hints sent over HTTP by someone who can read Services (pinning, black hole,
// term lock), hints after an opt-out and opt-in by the real baton, and an API
// connection that accepts and never answers (idle watches must not leak sockets).
//
// Every scenario compares with what the slices alone would give: a balancer without
// the events endpoint, following the same Service at the same time.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as k8s from '@kubernetes/client-node';
import { EndpointsBalancer, balancerEvents, DETAIL_HEADER, OUTCOME_HEADER, type BalancerOptions } from '../../shared/balancer/index.js';
import { auditSubject, PROMOTED } from '../../shared/audit/schemas.js';
import { waitFor } from '../../plane/wait.js';
import { startBaton } from './support/baton.js';
import { clientKubeconfig } from './support/client-account.js';
import { adminConfig, testNamespace } from './support/plane.js';
import { startPodNetwork, type PodNetwork } from './support/podnet.js';
import { startTraffic, type Sent, type Traffic } from './support/traffic.js';
import { createDeployment, labelService, setPodReady } from './support/workloads.js';

const OPT_IN = { 'baton.dev/mode': 'active-standby' };

interface PodInfo {
  readonly name: string;
  readonly uid: string;
  readonly ip: string;
}

async function readyPods(ns: string, app: string, n: number): Promise<PodInfo[]> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  return waitFor(`${n} ready pods of ${app}`, async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
    const ready = pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === n ? ready.map((p) => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, ip: p.status!.podIP! })).sort((a, b) => a.name.localeCompare(b.name)) : undefined;
  });
}

function balancer(t: TestContext, options: BalancerOptions): EndpointsBalancer {
  const b = new EndpointsBalancer(options);
  t.after(() => b.shutdown());
  return b;
}

async function serviceRecord(ns: string, name: string): Promise<{ uid: string; term: number | undefined; active: string | undefined }> {
  const s = await adminConfig().makeApiClient(k8s.CoreV1Api).readNamespacedService({ name, namespace: ns });
  const term = s.metadata?.annotations?.['baton.dev/term'];
  return { uid: s.metadata!.uid!, term: term === undefined ? undefined : Number(term), active: s.metadata?.annotations?.['baton.dev/active'] };
}

interface Delivery {
  readonly at: number;
  readonly id: string;
  readonly type: string;
  readonly term: number | undefined;
  readonly outcome: string;
  readonly detail: string;
}

/** The application's events endpoint on loopback, recording every delivery's outcome. */
async function eventsApp(t: TestContext, balancers: readonly EndpointsBalancer[]): Promise<{ url: string; deliveries: Delivery[] }> {
  const deliveries: Delivery[] = [];
  const app = express();
  app.use((req, res, next) => {
    const term = Number(req.headers['x-test-term'] ?? Number.NaN);
    res.on('finish', () =>
      deliveries.push({
        at: Date.now(),
        id: String(req.headers['ce-id'] ?? ''),
        type: String(req.headers['ce-type'] ?? 'structured'),
        term: Number.isFinite(term) ? term : undefined,
        outcome: String(res.getHeader(OUTCOME_HEADER) ?? res.statusCode),
        detail: String(res.getHeader(DETAIL_HEADER) ?? ''),
      }),
    );
    next();
  });
  app.use('/baton-events', balancerEvents(balancers));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/baton-events`, deliveries };
}

/** A forged promoted event: well-formed, right subject and uid, built from what `get services` shows. */
async function forge(url: string, ns: string, service: string, serviceUid: string, term: number, to: { name: string; uid: string }): Promise<string> {
  const data = { service: { namespace: ns, name: service, uid: serviceUid }, term, from: null, to, reason: 'failover', decidedAt: new Date().toISOString() };
  const event = {
    specversion: '1.0',
    // Any id will do: nothing checks it, and a forger can copy baton's format.
    id: `${serviceUid}.${term}.promoted`,
    source: 'baton.dev/failover',
    type: PROMOTED,
    subject: auditSubject({ namespace: ns, name: service }),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json', 'x-test-term': String(term) }, body: JSON.stringify(event) });
  assert.equal(r.status, 200, `the events endpoint refused a well-formed event: ${r.status}`);
  return `${r.headers.get(OUTCOME_HEADER) ?? '?'}${r.headers.get(DETAIL_HEADER) ? `(${r.headers.get(DETAIL_HEADER)})` : ''}`;
}

/** baton's own promoted event of this term (its id is `<uid>.<term>[-<decision time>].promoted`). */
const promotedOf = (serviceUid: string, term: number) => (d: Delivery): boolean =>
  d.type === PROMOTED && d.id.endsWith('.promoted') && (d.id === `${serviceUid}.${term}.promoted` || d.id.startsWith(`${serviceUid}.${term}-`));

/** Repeats `step` every `everyMs` for `durationMs`; returns the outcomes it reported. */
async function attack(durationMs: number, everyMs: number, step: (i: number) => Promise<string>): Promise<string[]> {
  const outcomes: string[] = [];
  const end = Date.now() + durationMs;
  for (let i = 0; Date.now() < end; i++) {
    outcomes.push(await step(i));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return outcomes;
}

interface Figures {
  readonly requests: number;
  readonly availability: number;
  readonly share: Record<string, number>;
}

function figures(sent: readonly Sent[], from: number, to: number, pods: readonly string[]): Figures {
  const window = sent.filter((s) => s.at >= from && s.at < to);
  const ok = window.filter((s) => s.ok);
  const share: Record<string, number> = {};
  for (const p of pods) share[p] = ok.length === 0 ? 0 : ok.filter((s) => s.chosen === p).length / ok.length;
  return { requests: window.length, availability: window.length === 0 ? 0 : ok.length / window.length, share };
}

const fmt = (f: Figures): string => `${f.requests} requests, ${(f.availability * 100).toFixed(1)} % answered, shares ${Object.values(f.share).map((s) => `${(s * 100).toFixed(0)} %`).join('/')}`;

/** Runs traffic through both balancers while `during` runs; returns both clients' figures for that window. */
async function measure(podnet: PodNetwork, plain: EndpointsBalancer, exposed: EndpointsBalancer, pods: readonly string[], during: () => Promise<unknown>): Promise<{ plain: Figures; exposed: Figures }> {
  const clients: Record<'plain' | 'exposed', Traffic> = { plain: startTraffic(plain, podnet, 'plain'), exposed: startTraffic(exposed, podnet, 'exposed') };
  const from = Date.now();
  try {
    await during();
  } finally {
    await Promise.all([clients.plain.stop(), clients.exposed.stop()]);
  }
  const to = Date.now();
  return { plain: figures(clients.plain.sent, from, to, pods), exposed: figures(clients.exposed.sent, from, to, pods) };
}

// Round robin over three pods gives each a third; a few requests either way are noise.
const SHARE_NOISE = 0.1;
const AVAILABILITY_NOISE = 0.02;

function assertSame(what: string, m: { plain: Figures; exposed: Figures }): void {
  assert.ok(m.plain.requests > 50 && m.exposed.requests > 50, `${what}: too little traffic to compare (${m.plain.requests}, ${m.exposed.requests})`);
  assert.ok(m.exposed.availability >= m.plain.availability - AVAILABILITY_NOISE, `${what}: the events endpoint cost availability: exposed ${fmt(m.exposed)}; plain ${fmt(m.plain)}`);
  for (const [pod, share] of Object.entries(m.plain.share)) {
    assert.ok(Math.abs((m.exposed.share[pod] ?? 0) - share) <= SHARE_NOISE, `${what}: ${pod} got ${((m.exposed.share[pod] ?? 0) * 100).toFixed(0)} % through the exposed balancer, ${(share * 100).toFixed(0)} % through the plain one`);
  }
}

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

interface ApiProxy {
  readonly url: string;
  /** Client connections open now. */
  open(): number;
  /** Connections accepted since hang() was called. */
  acceptedWhileHung(): number;
  /** From now on: existing connections go silent, new ones are accepted and never answered. */
  hang(): void;
  close(): Promise<void>;
}

/** A TCP proxy on loopback in front of the API server; it counts the sockets the client holds open. */
async function startApiProxy(target: URL): Promise<ApiProxy> {
  const clients = new Set<net.Socket>();
  const silencers = new Set<() => void>();
  let hung = false;
  let acceptedWhileHung = 0;
  const server = net.createServer((client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    if (hung) {
      acceptedWhileHung += 1;
      // Read and drop what the client sends, so a close on its side is noticed here.
      client.resume();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    const closeClient = (): void => void client.destroy();
    const closeUpstream = (): void => void upstream.destroy();
    upstream.on('error', closeClient);
    upstream.on('close', closeClient);
    client.on('close', closeUpstream);
    client.pipe(upstream);
    upstream.pipe(client);
    silencers.add(() => {
      upstream.off('close', closeClient);
      upstream.off('error', closeClient);
      upstream.on('error', () => undefined);
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.destroy();
      client.resume();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => clients.size,
    acceptedWhileHung: () => acceptedWhileHung,
    hang: () => {
      hung = true;
      for (const silence of silencers) silence();
      silencers.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.destroy();
        server.close(() => resolve());
      }),
  };
}

test('an API connection that accepts and never answers: idle watches are aborted, and shutdown leaves no socket', async (t) => {
  const ns = await testNamespace(t, 'bal-hang');
  const kc = adminConfig();
  await createDeployment(kc, ns, 'quiet', 2);
  await readyPods(ns, 'quiet', 2);
  const account = new k8s.KubeConfig();
  account.loadFromFile(await clientKubeconfig(ns, 'app'));
  const proxy = await startApiProxy(new URL(account.getCurrentCluster()!.server));
  t.after(() => proxy.close());
  const proxied = new k8s.KubeConfig();
  proxied.loadFromOptions({ clusters: account.clusters.map((c) => ({ ...c, server: proxy.url })), users: account.users, contexts: account.contexts, currentContext: account.currentContext });

  const b = new EndpointsBalancer({ namespace: ns, service: 'quiet', port: 'http', kubeconfig: proxied, watchIdleMs: 300, requestTimeoutMs: 1_000, backoff: { initialMs: 20, maxMs: 50 } });
  let shutDown = false;
  t.after(() => (shutDown ? undefined : b.shutdown()));
  await b.startBackgroundSync();
  await waitFor('two endpoints', () => (b.endpoints().length === 2 ? true : undefined), { intervalMs: 10 });
  const healthy = proxy.open();

  proxy.hang();
  // Each idle period ends one watch attempt; twenty of them over the two watches.
  await waitFor('twenty watch attempts into the silent proxy', () => (proxy.acceptedWhileHung() >= 20 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
  // A socket being closed and its replacement being opened can overlap for a moment, so
  // "at most one per watch" is waited for, briefly; a leak only grows.
  const during = await waitFor('at most one socket per watch', () => (proxy.open() <= 2 ? proxy.open() : undefined), { timeoutMs: 2_000, intervalMs: 10 }).catch(() => proxy.open());
  const served = b.endpoints().length;
  const closing = b.shutdown();
  shutDown = true;
  await closing;
  const after = await waitFor('the sockets to close after shutdown()', () => (proxy.open() === 0 ? 0 : undefined), { timeoutMs: 3_000, intervalMs: 20 }).catch(() => proxy.open());
  t.diagnostic(`sockets open at the proxy: ${healthy} while healthy, ${during} after ${proxy.acceptedWhileHung()} attempts into the silent proxy, ${after} after shutdown() resolved`);
  assert.equal(served, 2, 'next() must keep the last known endpoints while the API is silent');
  assert.ok(during <= 2, `idle watches leaked sockets: ${during} open, at most one per watch (2) expected`);
  assert.equal(after, 0, 'shutdown() left sockets open');
});
