// `npm run bench:balancer`: figures of the client-side balancer (shared/balancer) on one
// local control plane:
//   1. next() calls per second on a synced balancer (3 and 100 endpoints);
//   2. time from an EndpointSlice write to the balancer offering the new endpoint, next
//      to a bare watch of the same slices (the floor);
//   3. requests failed while baton fails over, with continuous traffic through the
//      loopback pod network, for a balancer that follows slices only and one that is
//      also fed baton's audit events.
// Prints as it goes and writes bench/results/<date>-balancer.md.
//   node dist/bench/balancer.js [--reps N] [--failovers N]
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import express from 'express';
import * as k8s from '@kubernetes/client-node';
import { EndpointsBalancer, balancerEvents, OUTCOME_HEADER } from '../shared/balancer/index.js';
import { repoRoot } from '../plane/paths.js';
import { startPlane, stopPlane } from '../plane/plane.js';
import { waitFor } from '../plane/wait.js';
import { startBaton } from '../test/e2e/support/baton.js';
import { clientKubeconfig } from '../test/e2e/support/client-account.js';
import { adminConfig, testNamespace } from '../test/e2e/support/plane.js';
import { startPodNetwork, type PodServer } from '../test/e2e/support/podnet.js';
import { startTraffic, type Traffic } from '../test/e2e/support/traffic.js';
import { createDeployment, createService, readyEndpoints, setPodReady } from '../test/e2e/support/workloads.js';
import { describeMachine, type Machine } from './machine.js';
import { connectApi } from './api.js';
import { median, round, summarize, type Summary } from './util.js';

const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '50' }, failovers: { type: 'string', default: '5' } } });
const REPS = Number(args.reps);
const FAILOVERS = Number(args.failovers);
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const perFailover: string[] = [];

type Cleanup = () => unknown;
const cleanups: Cleanup[] = [];
const ctx = { after: (fn: Cleanup): void => void cleanups.push(fn) };

function endpointSlice(service: string, name: string, ips: readonly string[]): k8s.V1EndpointSlice {
  return {
    metadata: { name, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'baton-bench' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

async function selectorlessService(ns: string, name: string, ips: readonly string[]): Promise<void> {
  const kc = adminConfig();
  await createService(kc, ns, name, {});
  await kc.makeApiClient(k8s.CoreV1Api).patchNamespacedService({ name, namespace: ns, body: { spec: { selector: null } } }, merge);
  await kc.makeApiClient(k8s.DiscoveryV1Api).createNamespacedEndpointSlice({ namespace: ns, body: endpointSlice(name, `${name}-0`, ips) });
}

const ips = (n: number, third: number): string[] => Array.from({ length: n }, (_, i) => `198.19.${third + Math.floor(i / 250)}.${(i % 250) + 1}`);

async function nextThroughput(ns: string, account: string, size: number): Promise<number> {
  await selectorlessService(ns, `tp${size}`, ips(size, 10 + size));
  const b = new EndpointsBalancer({ namespace: ns, service: `tp${size}`, port: 'http', kubeconfig: account });
  ctx.after(() => b.shutdown());
  await b.sync();
  if (b.endpoints().length !== size) throw new Error(`expected ${size} endpoints, got ${b.endpoints().length}`);
  const rates: number[] = [];
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const n = 2_000_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += b.next().port;
    rates.push(n / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  if (sink === 0) throw new Error('unreachable');
  return median(rates);
}

interface Propagation {
  readonly balancer: Summary;
  readonly watch: Summary;
}

async function sliceToBalancer(ns: string, account: string): Promise<Propagation> {
  const service = 'prop';
  await selectorlessService(ns, service, ['198.19.200.1', '198.19.200.2']);
  const b = new EndpointsBalancer({ namespace: ns, service, port: 'http', kubeconfig: account });
  ctx.after(() => b.shutdown());
  await b.startBackgroundSync();
  // The floor: a bare watch of the same slices, no list, no model, in the same process.
  const seenByWatch = new Map<string, number>();
  const watch = await new k8s.Watch(adminConfig()).watch(
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
    { labelSelector: `kubernetes.io/service-name=${service}` },
    (_type: string, slice: k8s.V1EndpointSlice) => {
      for (const e of slice.endpoints ?? []) if (e.addresses[0] && !seenByWatch.has(e.addresses[0])) seenByWatch.set(e.addresses[0], Date.now());
    },
    () => undefined,
  );
  ctx.after(() => watch.abort());
  const seenByBalancer = new Map<string, number>();
  b.onChange((list) => {
    for (const e of list) if (!seenByBalancer.has(e.address)) seenByBalancer.set(e.address, Date.now());
  });
  const discovery = adminConfig().makeApiClient(k8s.DiscoveryV1Api);
  const viaBalancer: number[] = [];
  const viaWatch: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const fresh = `198.19.201.${i + 1}`;
    const written = Date.now();
    await discovery.patchNamespacedEndpointSlice({ name: `${service}-0`, namespace: ns, body: { endpoints: [{ addresses: ['198.19.200.1'], conditions: { ready: true } }, { addresses: [fresh], conditions: { ready: true } }] } }, merge);
    await waitFor(`the balancer to offer ${fresh}`, () => (seenByBalancer.has(fresh) && seenByWatch.has(fresh) ? true : undefined), { timeoutMs: 10_000, intervalMs: 2 });
    if (!b.endpoints().some((e) => e.address === fresh)) throw new Error(`${fresh} not offered by next()`);
    viaBalancer.push(seenByBalancer.get(fresh)! - written);
    viaWatch.push(seenByWatch.get(fresh)! - written);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { balancer: summarize(viaBalancer), watch: summarize(viaWatch) };
}

interface FailoverRun {
  readonly client: 'slices' | 'slices+events';
  readonly requests: number;
  readonly failed: number;
  readonly droppedOldMs: number;
  readonly recoveredMs: number;
  readonly toOldAfterSwitch: number;
}

async function failovers(account: string, ns: string): Promise<FailoverRun[]> {
  const kc = adminConfig();
  const podnet = await startPodNetwork();
  ctx.after(() => podnet.close());
  const plain = new EndpointsBalancer({ namespace: ns, service: 'web', port: 'http', kubeconfig: account });
  const hinted = new EndpointsBalancer({ namespace: ns, service: 'web', port: 'http', kubeconfig: account });
  ctx.after(() => Promise.all([plain.shutdown(), hinted.shutdown()]));
  const app = express();
  let applied = 0;
  app.use((_req, res, next) => {
    res.on('finish', () => void (res.getHeader(OUTCOME_HEADER) === 'applied' && applied++));
    next();
  });
  app.use('/events', balancerEvents(hinted));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  ctx.after(() => server.close());
  await startBaton(ctx, ns, { K_SINK: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, LOG_LEVEL: 'info' });
  const replicas = FAILOVERS + 1;
  await createDeployment(kc, ns, 'web', replicas, { serviceLabels: { 'baton.dev/mode': 'active-standby' } });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const pods = await waitFor(`${replicas} ready pods`, async () => {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    const ready = list.items.filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === replicas ? ready : undefined;
  }, { timeoutMs: 60_000 });
  const servers = new Map<string, PodServer>();
  for (const p of pods) servers.set(p.metadata!.name!, await podnet.addPod(p.metadata!.name!, p.status!.podIP!, 8080));
  await Promise.all([plain.startBackgroundSync(), hinted.startBackgroundSync()]);

  const runs: FailoverRun[] = [];
  for (let rep = 0; rep < FAILOVERS; rep++) {
    const active = await waitFor('one active', async () => {
      const { ready } = await readyEndpoints(kc, ns, 'web');
      const svc = await core.readNamespacedService({ name: 'web', namespace: ns });
      return ready.length === 1 && svc.metadata?.annotations?.['baton.dev/active'] === ready[0] && plain.endpoints().length === 1 && hinted.endpoints().length === 1 ? ready[0] : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const clients: Array<[FailoverRun['client'], EndpointsBalancer, Traffic]> = [
      ['slices', plain, startTraffic(plain, podnet, `plain-${rep}`)],
      ['slices+events', hinted, startTraffic(hinted, podnet, `hinted-${rep}`)],
    ];
    const dropped = new Map<string, { at: number; seq: number }>();
    const unsubscribe = clients.map(([name, b, traffic]) =>
      b.onChange((list) => {
        if (!dropped.has(name) && !list.some((e) => e.pod?.name === active)) dropped.set(name, { at: Date.now(), seq: traffic.seq });
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    servers.get(active)!.fail();
    await setPodReady(kc, ns, active, false);
    await waitFor('both clients served by the new active', () => (clients.every(([, , c]) => c.sent.filter((s) => s.at >= t0 && s.ok && s.chosen !== active).length >= 30) ? true : undefined), { timeoutMs: 30_000 });
    for (const [, , c] of clients) await c.stop();
    unsubscribe.forEach((u) => u());
    for (const [name, , c] of clients) {
      const during = c.sent.filter((s) => s.at >= t0);
      const seen = dropped.get(name);
      const old = servers.get(active)!.received.filter((r) => r.client.startsWith(name === 'slices' ? 'plain' : 'hinted') && r.client.endsWith(`-${rep}`) && seen !== undefined && r.seq >= seen.seq);
      const run: FailoverRun = {
        client: name,
        requests: during.length,
        failed: during.filter((s) => !s.ok).length,
        droppedOldMs: seen ? seen.at - t0 : Number.NaN,
        recoveredMs: (during.find((s) => s.ok && s.chosen !== active)?.at ?? Number.NaN) - t0,
        toOldAfterSwitch: old.length,
      };
      runs.push(run);
      const line = `failover ${rep + 1} ${name.padEnd(13)}: ${run.failed}/${run.requests} requests failed, old active dropped after ${run.droppedOldMs} ms, served again after ${run.recoveredMs} ms, ${run.toOldAfterSwitch} reached the old active after the switch`;
      perFailover.push(line);
      say(`  ${line}`);
    }
  }
  say(`  audit events applied by the events-fed balancer: ${applied}`);
  return runs;
}

function table(runs: readonly FailoverRun[], client: FailoverRun['client']): string {
  const mine = runs.filter((r) => r.client === client);
  const med = (f: (r: FailoverRun) => number): number => median(mine.map(f));
  return `| ${client} | ${mine.map((r) => r.failed).join(', ')} | ${med((r) => r.failed)} | ${med((r) => r.droppedOldMs)} ms | ${med((r) => r.recoveredMs)} ms | ${mine.reduce((a, r) => a + r.toOldAfterSwitch, 0)} |`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-balancer-'));
  const started = Date.now();
  await startPlane({ dir, nodes: 2, progress: (m) => say(`[plane ${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`) });
  process.env['BATON_TEST_PLANE'] = dir;
  try {
    const plane = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(dir, 'state.json'), 'utf8'))) as { server: string; adminToken: string; caFile: string };
    const machine: Machine = await describeMachine(connectApi(plane));
    say(`machine: ${machine.nproc} cores ${machine.cpuModel}, Node ${machine.node}, Kubernetes ${machine.kube}, load ${machine.loadAtStart}`);
    const ns = await testNamespace(ctx, 'bench-bal');
    const account = await clientKubeconfig(ns, 'app');

    const rate3 = await nextThroughput(ns, account, 3);
    const rate100 = await nextThroughput(ns, account, 100);
    say(`next(): ${Math.round(rate3).toLocaleString('en')} calls/s with 3 endpoints, ${Math.round(rate100).toLocaleString('en')} with 100`);

    const prop = await sliceToBalancer(ns, account);
    say(`EndpointSlice write → balancer offers the endpoint (${REPS} reps): p50 ${prop.balancer.p50} ms, p90 ${prop.balancer.p90} ms, max ${prop.balancer.max} ms (bare watch: p50 ${prop.watch.p50} ms, p90 ${prop.watch.p90} ms)`);

    const foNs = await testNamespace(ctx, 'bench-fo');
    const runs = await failovers(await clientKubeconfig(foNs, 'app'), foNs);

    const date = new Date().toISOString().slice(0, 10);
    const md = [
      `# Client-side balancer figures, ${date}`,
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${machine.memoryGb} GB, ${machine.os}, Node ${machine.node}, Kubernetes ${machine.kube}; load average ${machine.loadAtStart} at start (other engineers' test suites share the machine).`,
      `Command: \`npm run bench:balancer\` (${REPS} slice changes, ${FAILOVERS} failovers).`,
      '',
      '## next()',
      '',
      `| endpoints | calls per second |`,
      `|---|---|`,
      `| 3 | ${Math.round(rate3).toLocaleString('en')} |`,
      `| 100 | ${Math.round(rate100).toLocaleString('en')} |`,
      '',
      '## EndpointSlice change → balancer uses it',
      '',
      'From sending a PATCH that adds an endpoint to a slice, to the balancer offering it to next() (onChange fired), against a bare watch of the same slices in the same process.',
      '',
      '| | p50 | p90 | p99 | max |',
      '|---|---|---|---|---|',
      `| balancer | ${prop.balancer.p50} ms | ${prop.balancer.p90} ms | ${prop.balancer.p99} ms | ${prop.balancer.max} ms |`,
      `| bare watch | ${prop.watch.p50} ms | ${prop.watch.p90} ms | ${prop.watch.p99} ms | ${prop.watch.max} ms |`,
      '',
      '## One failover under continuous traffic',
      '',
      'baton runs behind the real ApiServerSource adapter; two clients send requests back to back (2 ms pause) through their balancer and the loopback pod network. At t=0 the active pod starts answering 503 and its Ready=False is written; "failed" counts requests from t=0 until each client had 30 successes on the new active (503s from the failing pod and next() throwing while no endpoint was ready).',
      '',
      '| client | failed requests per failover | median failed | median: old active dropped | median: served again | requests to the old active after the balancer dropped it |',
      '|---|---|---|---|---|---|',
      table(runs, 'slices'),
      table(runs, 'slices+events'),
      '',
      '"slices+events" is the same balancer fed baton\'s audit events through `balancerEvents`. Times are from the Ready=False write. A request takes about 10 ms here under load, and a client whose next() throws tries again after 2 ms, so the failed counts depend on the client\'s pace; the time windows do not.',
      '',
      '```',
      ...perFailover,
      '```',
      '',
    ].join('\n');
    const out = join(repoRoot(), 'bench', 'results', `${date}-balancer.md`);
    writeFileSync(out, md);
    say(`wrote ${out}`);
    say(`summary: ${JSON.stringify({ rate3: round(rate3, 0), rate100: round(rate100, 0), prop })}`);
  } finally {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    await stopPlane(dir);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:balancer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
