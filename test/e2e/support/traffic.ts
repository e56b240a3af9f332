// A client that sends requests back to back through a balancer and the pod network,
// recording what it chose and what came back, for failover figures and checks.
import type { EndpointsBalancer } from '../../../shared/balancer/index.js';
import type { PodNetwork } from './podnet.js';

export interface Sent {
  readonly seq: number;
  /** When the request started, and when its answer (or error) came back. */
  readonly at: number;
  readonly done: number;
  /** The pod the balancer chose (from the endpoint's targetRef), or undefined when next() threw. */
  readonly chosen: string | undefined;
  readonly ok: boolean;
  readonly why: string | undefined;
}

export interface Traffic {
  readonly sent: Sent[];
  /** The sequence number the next request will get. */
  readonly seq: number;
  stop(): Promise<void>;
}

export function startTraffic(balancer: EndpointsBalancer, net: PodNetwork, client: string, pauseMs = 2): Traffic {
  const sent: Sent[] = [];
  let seq = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = seq++;
      const at = Date.now();
      let chosen: string | undefined;
      try {
        const e = balancer.next();
        chosen = e.pod?.name ?? e.address;
        const r = await net.send(e.address, e.port, client, n);
        sent.push({ seq: n, at, done: Date.now(), chosen, ok: r.ok, why: r.ok ? undefined : r.why });
      } catch (error) {
        sent.push({ seq: n, at, done: Date.now(), chosen, ok: false, why: error instanceof Error ? error.name : String(error) });
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    sent,
    get seq() {
      return seq;
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
