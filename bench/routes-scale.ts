// `node dist/bench/routes-scale.js`: the routes function at scale on one local control
// plane. Creates N namespaces × M Services (every K-th asks for a host; each carries a
// 1 KiB last-applied annotation, as kubectl-applied Services do), starts the function
// as its container runs it (the image's heap cap) under the shipped RBAC, and reports:
//   - time from start to /readyz, and the first pass (which writes every Ingress);
//   - a steady pass (nothing to write);
//   - RSS (now and peak) after each;
//   - the API requests one route change costs, counted by the API server's audit log.
// Writes bench/results/<date>-routes-scale.md. A benchmark, not a test: nothing here
// passes or fails on a figure.
//   node dist/bench/routes-scale.js [--namespaces 200] [--per-namespace 50] [--routed-every 10]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, serviceAccountUser, tally } from '../test/chaos/auditlog.js';
import { deliver, resourceEvent, type ObjectLike } from '../test/chaos/forge.js';
import { repoRoot } from '../plane/paths.js';
import { startPlane, stopPlane } from '../plane/plane.js';
import { waitFor } from '../plane/wait.js';
import { installRbac, serviceAccountKubeconfig, startFunction, type RunningFunction } from '../test/e2e/support/baton.js';
import { connectApi } from './api.js';
import { describeMachine } from './machine.js';
import { mapLimit, round } from './util.js';

const { values: args } = parseArgs({
  options: { namespaces: { type: 'string', default: '200' }, 'per-namespace': { type: 'string', default: '50' }, 'routed-every': { type: 'string', default: '10' } },
});
const NAMESPACES = Number(args.namespaces);
const PER = Number(args['per-namespace']);
const EVERY = Number(args['routed-every']);
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const ROUTES_USER = serviceAccountUser('baton-routes');

/** Resident set now and at its peak, from the kernel's own accounting of the process. */
function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: round(kib('VmRSS') / 1024), peakMiB: round(kib('VmHWM') / 1024) };
}

interface PassLine {
  readonly ms: number;
  readonly applied: number;
  readonly removed: number;
}

/** The function's own log of its passes (JSON lines with the pass's duration). */
function passes(fn: RunningFunction): PassLine[] {
  return fn.logs
    .filter((l) => l.includes('"msg":"routes pass'))
    .map((l) => JSON.parse(l) as PassLine);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-routes-scale-'));
  process.env['BATON_TEST_PLANE'] = dir;
  const t0 = Date.now();
  const plane = await startPlane({ dir, nodes: 1, auditLog: true, progress: (m) => say(`[plane ${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`) });
  let fn: RunningFunction | undefined;
  const api = connectApi(plane, { maxSockets: 16, timeoutMs: 60_000 });
  try {
    const total = NAMESPACES * PER;
    const routed = Math.floor(PER / EVERY) * NAMESPACES;
    say(`creating ${NAMESPACES} namespaces and ${total} Services (${routed} with a host)…`);
    const names = Array.from({ length: NAMESPACES }, (_, i) => `scale-${String(i).padStart(3, '0')}`);
    await mapLimit(names, 8, (name) => api.create('/api/v1/namespaces', { metadata: { name } }));
    const filler = 'x'.repeat(1024);
    const started = Date.now();
    const jobs = names.flatMap((ns) => Array.from({ length: PER }, (_, j) => ({ ns, j })));
    await mapLimit(jobs, 16, ({ ns, j }) =>
      api.create(`/api/v1/namespaces/${ns}/services`, {
        metadata: {
          name: `svc-${j}`,
          annotations: {
            'kubectl.kubernetes.io/last-applied-configuration': filler,
            ...(j % EVERY === 0 ? { 'baton.dev/host': `svc-${j}.${ns}.example.com` } : {}),
          },
        },
        spec: { selector: { app: `svc-${j}` }, ports: [{ name: 'http', port: 80 }] },
      }),
    );
    say(`  created in ${round((Date.now() - started) / 1000)} s`);

    await installRbac();
    const spawned = Date.now();
    fn = await startFunction('routes', {
      KUBECONFIG: await serviceAccountKubeconfig('baton-routes'),
      BATON_ROUTE_HOSTS: 'off',
      BATON_INDEX_REFRESH_MS: '20000',
      LOG_LEVEL: 'debug',
    });
    const readyMs = Date.now() - spawned;
    const running = fn;
    const pid = running.process.pid!;
    say(`ready after ${readyMs} ms`);
    const first = await waitFor('the first pass', () => passes(running)[0], { timeoutMs: 600_000, intervalMs: 200 });
    const afterFirst = memory(pid);
    say(`first pass: ${first.ms} ms, ${first.applied} Ingresses written; RSS ${afterFirst.rssMiB} MiB (peak ${afterFirst.peakMiB} MiB)`);
    const steady = await waitFor('a steady pass', () => passes(running)[1], { timeoutMs: 120_000, intervalMs: 200 });
    const afterSteady = memory(pid);
    say(`steady pass: ${steady.ms} ms, ${steady.applied} written; RSS ${afterSteady.rssMiB} MiB (peak ${afterSteady.peakMiB} MiB)`);

    // One route change, delivered as the adapter would deliver it: the Service as the
    // API server returned it after the change. The reply comes after the pass.
    const ns = names[Math.floor(NAMESPACES / 2)]!;
    const from = auditOffset(dir);
    await api.patch(`/api/v1/namespaces/${ns}/services/svc-0`, { metadata: { annotations: { 'baton.dev/host': `moved.${ns}.example.com` } } }, 'merge');
    const changed = await api.get<ObjectLike>(`/api/v1/namespaces/${ns}/services/svc-0`);
    const sent = Date.now();
    const answer = await deliver(running.url, resourceEvent('Service', 'update', changed));
    const changeMs = Date.now() - sent;
    if (answer.status !== 200) throw new Error(`the route change was answered ${answer.status}: ${answer.error}`);
    const requests = requestsSince(dir, from, ROUTES_USER);
    const costs = tally(requests.map(describeRequest));
    const writes = acceptedWrites(requests).map(describeRequest);
    say(`one route change: ${requests.length} requests in ${changeMs} ms: ${JSON.stringify(costs)}`);
    const end = memory(pid);

    const date = new Date().toISOString().slice(0, 10);
    const machine = await describeMachine(api);
    const lines = [
      `# Routes at scale (${date})`,
      '',
      `\`node dist/bench/routes-scale.js --namespaces ${NAMESPACES} --per-namespace ${PER} --routed-every ${EVERY}\` on the local plane`,
      `(one kube-apiserver, etcd; the function under the image's NODE_OPTIONS and the shipped RBAC).`,
      `Machine: ${JSON.stringify(machine)}`,
      '',
      `${total} Services in ${NAMESPACES} namespaces, ${routed} of them with a host; each Service carries a 1 KiB`,
      'last-applied annotation, which the function drops as it reads each page.',
      '',
      '| figure | value |',
      '|---|---|',
      `| start to /readyz (ready once a pass has listed) | ${readyMs} ms |`,
      `| first pass (lists, plans, writes ${first.applied} Ingresses) | ${first.ms} ms |`,
      `| RSS after the first pass (peak) | ${afterFirst.rssMiB} MiB (${afterFirst.peakMiB} MiB) |`,
      `| steady pass (nothing to write) | ${steady.ms} ms |`,
      `| RSS after a steady pass (peak) | ${afterSteady.rssMiB} MiB (${afterSteady.peakMiB} MiB) |`,
      `| one route change: requests | ${requests.length} |`,
      `| one route change: delivery to reply | ${changeMs} ms |`,
      `| RSS at the end (peak) | ${end.rssMiB} MiB (${end.peakMiB} MiB) |`,
      '',
      `Requests of the route change, by the API server's audit log: \`${JSON.stringify(costs)}\``,
      `(writes: \`${JSON.stringify(writes)}\`).`,
      '',
      'A route change is a focused pass: the Service, the Services the last full pass saw',
      'claiming the same host (and the one it held), and their Ingresses, read by name, then',
      'the writes. Its cost depends on how many claim that host, not on how many Services exist.',
      '',
    ];
    const out = join(repoRoot(), 'bench', 'results', `${date}-routes-scale.md`);
    writeFileSync(out, lines.join('\n'));
    say(`wrote ${out}`);
  } finally {
    api.close();
    if (fn) await fn.stop().catch(() => undefined);
    await stopPlane(dir);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
