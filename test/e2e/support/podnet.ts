// A virtual pod network on loopback. Pod IPs (198.18.0.0/15, from kwok) are not routable
// here and servers may only listen on 127.0.0.0/8, so every "pod" gets a small HTTP
// server on 127.0.0.1 and an HTTP forward proxy maps <pod IP>:<port> to it. Clients send
// ordinary proxied requests (absolute URL to the proxy, as with HTTP_PROXY) to the
// address the balancer returned: the balancer is untouched and deals in real pod IPs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly client: string;
  readonly seq: number;
  readonly at: number;
}

export interface PodServer {
  readonly pod: string;
  readonly received: Received[];
  /** From now on answer 503 and close connections, like an app whose probe fails. */
  fail(): void;
}

export interface PodNetwork {
  /** Starts a server for the pod and routes <ip>:<port> to it. */
  addPod(pod: string, ip: string, port: number): Promise<PodServer>;
  /** One request to <address>:<port> through the proxy; resolves with the answering pod or the failure. */
  send(address: string, port: number, client: string, seq: number): Promise<{ ok: true; pod: string } | { ok: false; why: string }>;
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function startPodNetwork(): Promise<PodNetwork> {
  const routes = new Map<string, number>();
  const servers: http.Server[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const proxy = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URL expected');
      return;
    }
    const local = routes.get(target.host);
    if (local === undefined) {
      // What a real network would do for an address no pod has: nothing answers.
      res.writeHead(502).end(`no route to ${target.host}`);
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: local, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers, agent, timeout: 2_000 }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502).end(`upstream: ${e.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  });
  servers.push(proxy);
  const proxyPort = await listen(proxy);
  const clientAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  return {
    addPod: async (pod, ip, port) => {
      const received: Received[] = [];
      let failing = false;
      const server = http.createServer((req, res) => {
        const client = String(req.headers['x-client'] ?? '');
        const seq = Number(req.headers['x-seq'] ?? -1);
        received.push({ client, seq, at: Date.now() });
        if (failing) {
          res.writeHead(503, { connection: 'close' }).end('not ready');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }).end(pod);
      });
      servers.push(server);
      routes.set(`${ip}:${port}`, await listen(server));
      return {
        pod,
        received,
        fail: () => {
          failing = true;
        },
      };
    },
    send: (address, port, client, seq) =>
      new Promise((resolve) => {
        const req = http.request(
          { host: '127.0.0.1', port: proxyPort, path: `http://${address}:${port}/`, headers: { host: `${address}:${port}`, 'x-client': client, 'x-seq': String(seq) }, agent: clientAgent, timeout: 2_000 },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(res.statusCode === 200 ? { ok: true, pod: body } : { ok: false, why: `HTTP ${res.statusCode}` }));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve({ ok: false, why: e.message }));
        req.end();
      }),
    close: async () => {
      agent.destroy();
      clientAgent.destroy();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
