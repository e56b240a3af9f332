// Scenario 2: many opted-in Services lose their active pod at the same moment. Each
// Service has two bare pods; every active's Ready=False goes out concurrently on
// pre-opened connections, and each Service's latency runs from its own write.
import type { Breakdown } from './analysis.js';
import { connectApi, type Api } from './api.js';
import { auditMark } from './audit.js';
import type { PlaneState } from '../plane/state.js';
import { IDEAL_POD_LABEL, type Ideal } from './ideal.js';
import { exactlyOneOtherThan, type SliceWatch } from './slices.js';
import { mapLimit, now, sleep, summarize, type Summary } from './util.js';
import { createPods, createService, waitReadyPods } from './workloads.js';

export interface BurstResult {
  readonly services: number;
  /** From the first write to the last Service showing only its new pod. */
  readonly convergedMs: number;
  /** From the first write sent to the last one acknowledged: how "at once" the burst really was. */
  readonly writesDoneMs: number;
  readonly latency: Summary;
  readonly samples: readonly number[];
  readonly throttled: number;
  /** Where the time went, per Service (medians over the Services). */
  readonly breakdown?: Breakdown;
  /** baton only: how long the function took to answer each of the burst's pod events. */
  readonly handlerMs?: Summary;
}

export interface BurstRun {
  readonly result: BurstResult;
  readonly traces: ReadonlyArray<{ readonly service: string; readonly old: string; readonly sentAt: number; readonly seenAt: number }>;
  readonly auditFrom: number;
  readonly auditTo: number;
}

export interface BurstSetup {
  readonly namespace: string;
  readonly services: readonly string[];
}

export function burstNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `b${String(i).padStart(3, '0')}`);
}

/** Two bare pods per Service, each labelled with its own name (what the ideal selects on). */
export async function createBurstPods(api: Api, namespace: string, services: readonly string[]): Promise<void> {
  await createPods(
    api,
    namespace,
    services.flatMap((s) => [0, 1].map((i) => ({ name: `${s}-${i}`, labels: { app: s, [IDEAL_POD_LABEL]: `${s}-${i}` } }))),
  );
  await waitReadyPods(api, namespace, IDEAL_POD_LABEL, services.length * 2, 180_000);
}

export async function setupBatonBurst(api: Api, namespace: string, services: readonly string[]): Promise<void> {
  await createBurstPods(api, namespace, services);
  // The zero-window opt-in: routed to nothing until baton has chosen.
  await mapLimit(services, 16, (s) => createService(api, namespace, s, { app: s, 'baton.dev/pod-id': 'none' }, { 'baton.dev/mode': 'active-standby' }));
}

export async function setupIdealBurst(api: Api, namespace: string, services: readonly string[], ideal: Ideal): Promise<void> {
  await createBurstPods(api, namespace, services);
  await mapLimit(services, 16, async (s) => {
    await createService(api, namespace, s, { app: s, [IDEAL_POD_LABEL]: `${s}-0` });
    await ideal.adopt(s, s, `${s}-0`);
  });
}

export async function runBurst(plane: PlaneState, slices: SliceWatch, auditLog: string, setup: BurstSetup, timeoutMs: number): Promise<BurstRun> {
  const { namespace, services } = setup;
  await mapLimit(services, 32, (s) => slices.until(namespace, s, 'exactly one ready pod before the burst', (r) => r.length === 1, 0, 120_000));
  const actives = services.map((s) => ({ service: s, old: slices.ready(namespace, s)[0]! }));
  // One connection per write, opened beforehand: otherwise the TLS handshakes, not
  // the failovers, would spread the burst out.
  const api = connectApi(plane, { maxSockets: services.length });
  let throttled = 0;
  try {
    await Promise.all(services.map(() => api.request('GET', '/version')));
    const auditFrom = auditMark(auditLog);
    const sends = await Promise.all(
      actives.map(async ({ service, old }) => {
        const sentAt = now();
        for (let attempt = 0; ; attempt++) {
          const reply = await api.request(
            'PATCH',
            `/api/v1/namespaces/${namespace}/pods/${old}/status`,
            { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date().toISOString() }] } },
            'application/strategic-merge-patch+json',
          );
          if (reply.status >= 200 && reply.status < 300) return { service, old, sentAt, ackAt: now() };
          // The API server's in-flight limit is part of the plane; retry, keep the first send time.
          if (reply.status === 429 && attempt < 20) {
            throttled += 1;
            await sleep(50);
            continue;
          }
          throw new Error(`burst write for ${namespace}/${old}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`);
        }
      }),
    );
    const seen = await Promise.all(sends.map((s) => slices.until(namespace, s.service, `exactly one ready pod other than ${s.old}`, exactlyOneOtherThan(s.old), s.sentAt, timeoutMs)));
    const first = Math.min(...sends.map((s) => s.sentAt));
    const samples = seen.map((o, i) => o.at - sends[i]!.sentAt);
    // Let trailing writes (baton's completion records) land before the window closes.
    await sleep(1_000);
    const result: BurstResult = {
      services: services.length,
      convergedMs: Math.max(...seen.map((o) => o.at)) - first,
      writesDoneMs: Math.max(...sends.map((s) => s.ackAt)) - first,
      latency: summarize(samples),
      samples: samples.map((v) => Math.round(v * 100) / 100),
      throttled,
    };
    return { result, traces: sends.map((s, i) => ({ service: s.service, old: s.old, sentAt: s.sentAt, seenAt: seen[i]!.at })), auditFrom, auditTo: auditMark(auditLog) };
  } finally {
    api.close();
  }
}
