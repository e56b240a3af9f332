// A stand-in for the Broker between the ApiServerSource adapter and the failover
// function instances, that misbehaves on purpose. It accepts every event at once (so
// the adapter never blocks) and then delivers it to one of the instances, or not:
// dropped, duplicated, held back until later events overtook it, or delayed by up to
// seconds. Like a Broker, it redelivers on 5xx and network errors, a few times.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rng, type Rng } from './random.js';

export interface RelayFaults {
  /** Probabilities per received event; at most one fault per event. */
  readonly drop: number;
  readonly duplicate: number;
  readonly reorder: number;
  readonly delay: number;
  /** Upper bound of an injected delay. */
  readonly maxDelayMs: number;
  /** A reordered event waits until this many later events went past it (1..n), or maxDelayMs. */
  readonly maxOvertakers: number;
}

export const DEFAULT_RELAY_FAULTS: RelayFaults = { drop: 0.05, duplicate: 0.08, reorder: 0.08, delay: 0.1, maxDelayMs: 3_000, maxOvertakers: 3 };

export interface RelayCounts {
  received: number;
  /** Deliveries answered with 2xx (a duplicate counts twice). */
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  /** Extra attempts after a 5xx or a network error, as a Broker's retry policy makes. */
  redelivered: number;
  /** Deliveries abandoned after the last attempt: lost events only resync can heal. */
  gaveUp: number;
  /** Answers of the instances by HTTP status ("net" for no answer). */
  statuses: Record<string, number>;
  maxDelayMs: number;
}

export interface Relay {
  readonly url: string;
  readonly counts: Readonly<RelayCounts>;
  setTargets(urls: readonly string[]): void;
  setFaults(enabled: boolean): void;
  /** Events received so far whose ce-subject contains `text`. */
  seen(text: string): number;
  /** Turns faults off, releases every held event and waits until nothing is in flight. */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

interface Captured {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly subject: string;
}

interface Held {
  readonly event: Captured;
  overtakers: number;
  readonly timer: NodeJS.Timeout;
}

const ATTEMPTS = 5;
const BACKOFF_MS = 100;
const DELIVERY_TIMEOUT_MS = 10_000;

export async function startRelay(options: { seed: number; faults?: Partial<RelayFaults> }): Promise<Relay> {
  const faults: RelayFaults = { ...DEFAULT_RELAY_FAULTS, ...options.faults };
  const random: Rng = rng(options.seed, 'relay');
  const counts: RelayCounts = { received: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, redelivered: 0, gaveUp: 0, statuses: {}, maxDelayMs: 0 };
  const subjects: string[] = [];
  let targets: readonly string[] = [];
  let nextTarget = 0;
  let enabled = false;
  let closed = false;
  let inFlight = 0;
  const held = new Set<Held>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void): void => {
    inFlight += 1;
    const timer = setTimeout(() => {
      timers.delete(timer);
      inFlight -= 1;
      fn();
    }, ms);
    timers.add(timer);
  };

  const attempt = async (event: Captured, target: string): Promise<number | 'net'> => {
    try {
      const response = await fetch(target, { method: 'POST', headers: event.headers, body: event.body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
      await response.arrayBuffer().catch(() => undefined);
      return response.status;
    } catch {
      return 'net';
    }
  };

  // Round robin, and each retry goes to the next instance, as a Broker's dispatcher
  // would pick whichever pod is behind the Service at that moment.
  const send = async (event: Captured): Promise<void> => {
    inFlight += 1;
    try {
      for (let i = 0; i < ATTEMPTS && !closed; i++) {
        if (targets.length === 0) return;
        if (i > 0) {
          counts.redelivered += 1;
          await new Promise((r) => setTimeout(r, BACKOFF_MS * 2 ** (i - 1)));
        }
        const target = targets[nextTarget++ % targets.length]!;
        const status = await attempt(event, target);
        counts.statuses[String(status)] = (counts.statuses[String(status)] ?? 0) + 1;
        if (status !== 'net' && status < 300) {
          counts.delivered += 1;
          return;
        }
        // 4xx is final for a Broker too: the event will never be acceptable.
        if (status !== 'net' && status < 500) return;
      }
      counts.gaveUp += 1;
    } finally {
      inFlight -= 1;
    }
  };

  const forward = (event: Captured): void => {
    void send(event);
    for (const h of [...held]) {
      h.overtakers -= 1;
      if (h.overtakers <= 0) release(h);
    }
  };

  const release = (h: Held): void => {
    if (!held.delete(h)) return;
    clearTimeout(h.timer);
    inFlight -= 1;
    void send(h.event);
  };

  const accept = (event: Captured): void => {
    counts.received += 1;
    subjects.push(event.subject);
    if (!enabled) return forward(event);
    const kind = random.weighted({
      drop: faults.drop,
      duplicate: faults.duplicate,
      reorder: faults.reorder,
      delay: faults.delay,
      none: Math.max(0, 1 - faults.drop - faults.duplicate - faults.reorder - faults.delay),
    });
    switch (kind) {
      case 'drop':
        counts.dropped += 1;
        return;
      case 'duplicate': {
        counts.duplicated += 1;
        forward(event);
        later(random.int(0, 1_000), () => void send(event));
        return;
      }
      case 'reorder': {
        counts.reordered += 1;
        inFlight += 1;
        const h: Held = { event, overtakers: random.int(1, Math.max(1, faults.maxOvertakers)), timer: setTimeout(() => release(h), faults.maxDelayMs) };
        held.add(h);
        return;
      }
      case 'delay': {
        counts.delayed += 1;
        const ms = random.int(50, faults.maxDelayMs);
        counts.maxDelayMs = Math.max(counts.maxDelayMs, ms);
        later(ms, () => forward(event));
        return;
      }
      case 'none':
        forward(event);
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && (name.startsWith('ce-') || name === 'content-type')) headers[name] = value;
      }
      // Accepted before delivery: the adapter must not learn anything from the faults.
      res.writeHead(202).end();
      accept({ headers, body: Buffer.concat(chunks), subject: headers['ce-subject'] ?? '' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/`,
    counts,
    setTargets: (urls) => {
      targets = [...urls];
    },
    setFaults: (on) => {
      enabled = on;
    },
    seen: (text) => subjects.filter((s) => s.includes(text)).length,
    drain: async (timeoutMs) => {
      enabled = false;
      for (const h of [...held]) release(h);
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0) {
        if (Date.now() > deadline) throw new Error(`relay: ${inFlight} deliveries still in flight ${timeoutMs} ms after faults stopped`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      closed = true;
      for (const h of held) clearTimeout(h.timer);
      held.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
