// The balancer against hostile or broken surroundings, on the real plane: forged
// failover hints sent over HTTP by someone who can read Services (pinning, black hole,
// term lock), hints after an opt-out and opt-in by the real baton, and an API
// connection that accepts and never answers (idle watches must not leak sockets).
//
// Every scenario compares with what the slices alone would give: a balancer without
// the events endpoint, following the same Service at the same time.
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as k8s from '@kubernetes/client-node';
import { EndpointsBalancer, balancerEvents, DETAIL_HEADER, OUTCOME_HEADER, type BalancerOptions } from '../../../shared/balancer/index.js';
import { auditSubject, PROMOTED } from '../../../shared/audit/schemas.js';
import { waitFor } from '../../../plane/wait.js';
import { adminConfig } from './plane.js';
import { type PodNetwork } from './podnet.js';
import { startTraffic, type Sent, type Traffic } from './traffic.js';

export const OPT_IN = { 'baton.dev/mode': 'active-standby' };

export interface PodInfo {
  readonly name: string;
  readonly uid: string;
  readonly ip: string;
}

export async function readyPods(ns: string, app: string, n: number): Promise<PodInfo[]> {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  return waitFor(`${n} ready pods of ${app}`, async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
    const ready = pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === n ? ready.map((p) => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, ip: p.status!.podIP! })).sort((a, b) => a.name.localeCompare(b.name)) : undefined;
  });
}

export function balancer(t: TestContext, options: BalancerOptions): EndpointsBalancer {
  const b = new EndpointsBalancer(options);
  t.after(() => b.shutdown());
  return b;
}

export async function serviceRecord(ns: string, name: string): Promise<{ uid: string; term: number | undefined; active: string | undefined }> {
  const s = await adminConfig().makeApiClient(k8s.CoreV1Api).readNamespacedService({ name, namespace: ns });
  const term = s.metadata?.annotations?.['baton.dev/term'];
  return { uid: s.metadata!.uid!, term: term === undefined ? undefined : Number(term), active: s.metadata?.annotations?.['baton.dev/active'] };
}

export interface Delivery {
  readonly at: number;
  readonly id: string;
  readonly type: string;
  readonly term: number | undefined;
  readonly outcome: string;
  readonly detail: string;
}

/** The application's events endpoint on loopback, recording every delivery's outcome. */

export async function eventsApp(t: TestContext, balancers: readonly EndpointsBalancer[]): Promise<{ url: string; deliveries: Delivery[] }> {
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

export async function forge(url: string, ns: string, service: string, serviceUid: string, term: number, to: { name: string; uid: string }): Promise<string> {
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

export const promotedOf = (serviceUid: string, term: number) => (d: Delivery): boolean =>
  d.type === PROMOTED && d.id.endsWith('.promoted') && (d.id === `${serviceUid}.${term}.promoted` || d.id.startsWith(`${serviceUid}.${term}-`));

/** Repeats `step` every `everyMs` for `durationMs`; returns the outcomes it reported. */

export async function attack(durationMs: number, everyMs: number, step: (i: number) => Promise<string>): Promise<string[]> {
  const outcomes: string[] = [];
  const end = Date.now() + durationMs;
  for (let i = 0; Date.now() < end; i++) {
    outcomes.push(await step(i));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return outcomes;
}

export interface Figures {
  readonly requests: number;
  readonly availability: number;
  readonly share: Record<string, number>;
}

export function figures(sent: readonly Sent[], from: number, to: number, pods: readonly string[]): Figures {
  const window = sent.filter((s) => s.at >= from && s.at < to);
  const ok = window.filter((s) => s.ok);
  const share: Record<string, number> = {};
  for (const p of pods) share[p] = ok.length === 0 ? 0 : ok.filter((s) => s.chosen === p).length / ok.length;
  return { requests: window.length, availability: window.length === 0 ? 0 : ok.length / window.length, share };
}

export const fmt = (f: Figures): string => `${f.requests} requests, ${(f.availability * 100).toFixed(1)} % answered, shares ${Object.values(f.share).map((s) => `${(s * 100).toFixed(0)} %`).join('/')}`;

/** Runs traffic through both balancers while `during` runs; returns both clients' figures for that window. */

export async function measure(podnet: PodNetwork, plain: EndpointsBalancer, exposed: EndpointsBalancer, pods: readonly string[], during: () => Promise<unknown>): Promise<{ plain: Figures; exposed: Figures }> {
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
export const SHARE_NOISE = 0.1;

export const AVAILABILITY_NOISE = 0.02;

export function assertSame(what: string, m: { plain: Figures; exposed: Figures }): void {
  assert.ok(m.plain.requests > 50 && m.exposed.requests > 50, `${what}: too little traffic to compare (${m.plain.requests}, ${m.exposed.requests})`);
  assert.ok(m.exposed.availability >= m.plain.availability - AVAILABILITY_NOISE, `${what}: the events endpoint cost availability: exposed ${fmt(m.exposed)}; plain ${fmt(m.plain)}`);
  for (const [pod, share] of Object.entries(m.plain.share)) {
    assert.ok(Math.abs((m.exposed.share[pod] ?? 0) - share) <= SHARE_NOISE, `${what}: ${pod} got ${((m.exposed.share[pod] ?? 0) * 100).toFixed(0)} % through the exposed balancer, ${(share * 100).toFixed(0)} % through the plain one`);
  }
}

export interface ApiProxy {
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

export async function startApiProxy(target: URL): Promise<ApiProxy> {
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
