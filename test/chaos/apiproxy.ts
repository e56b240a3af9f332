// A plain-HTTP front for the kube-apiserver that the function instances talk to, so
// API failures can be injected where the functions cannot tell them from real ones:
// 409 on writes, 429 and 500 on anything (all answered without forwarding, so the
// server state is untouched), requests held past the client's timeout, and
// connections reset before the request reaches the server. Everything else is
// forwarded over TLS (verified against the plane's CA) with the caller's own token,
// so the apiserver still authorizes and audits each request as that ServiceAccount.
import http from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { rng } from './random.js';

export interface ApiFaults {
  /** Per request; 409 only for PATCH/PUT, since a read can never conflict. */
  readonly conflict: number;
  readonly tooManyRequests: number;
  readonly serverError: number;
  readonly timeout: number;
  readonly reset: number;
  /**
   * The request IS forwarded and applied, then the connection is cut before the answer
   * reaches the client: a write that happened although its author saw it fail.
   */
  readonly lostResponse: number;
  /** How long a "timeout" is held; must exceed the function's BATON_API_TIMEOUT_MS. */
  readonly holdMs: number;
}

export const DEFAULT_API_FAULTS: ApiFaults = { conflict: 0.05, tooManyRequests: 0.03, serverError: 0.03, timeout: 0.02, reset: 0.03, lostResponse: 0, holdMs: 2_500 };

export interface ApiCounts {
  requests: number;
  forwarded: number;
  conflict: number;
  tooManyRequests: number;
  serverError: number;
  timeout: number;
  reset: number;
  lostResponse: number;
  /** The apiserver itself could not be reached (e.g. while it restarts). */
  upstreamDown: number;
}

/** A request that reached the apiserver while its author was told it failed. */
export interface LostResponse {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The request body (first 4 kB): for a Service patch it names the term it wrote. */
  readonly body: string;
}

export interface ApiProxy {
  readonly url: string;
  readonly counts: Readonly<ApiCounts>;
  readonly lostResponses: readonly LostResponse[];
  setFaults(enabled: boolean): void;
  /** Writes a kubeconfig that sends `token` through this proxy. */
  writeKubeconfig(path: string, token: string, user: string): string;
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `chaos: ${message}`, reason, code });
}

export async function startApiProxy(options: { server: string; caFile: string; seed: number; faults?: Partial<ApiFaults> }): Promise<ApiProxy> {
  const faults: ApiFaults = { ...DEFAULT_API_FAULTS, ...options.faults };
  const random = rng(options.seed, 'apiproxy');
  const upstream = new URL(options.server);
  const agent = new https.Agent({ ca: readFileSync(options.caFile), keepAlive: true, maxSockets: 64 });
  const counts: ApiCounts = { requests: 0, forwarded: 0, conflict: 0, tooManyRequests: 0, serverError: 0, timeout: 0, reset: 0, lostResponse: 0, upstreamDown: 0 };
  const lostResponses: LostResponse[] = [];
  let enabled = false;
  const holds = new Set<NodeJS.Timeout>();

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, onResponse: (res: http.IncomingMessage | undefined, error?: Error) => void): void => {
    counts.forwarded += 1;
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    delete headers.connection;
    const up = https.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent, timeout: 30_000 }, (r) => onResponse(r));
    up.on('timeout', () => up.destroy(new Error('upstream timed out')));
    up.on('error', (error) => onResponse(undefined, error));
    // A client that gave up no longer reads; an unread upstream answer would block the
    // apiserver's handler and pin one of the agent's sockets until it times out.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.end(body);
  };

  const reply = (res: http.ServerResponse, code: number, reason: string, message: string, extra: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(code, { 'content-type': 'application/json', ...extra }).end(status(code, reason, message));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      counts.requests += 1;
      const body = Buffer.concat(chunks);
      const write = req.method === 'PATCH' || req.method === 'PUT';
      const fault = enabled
        ? random.weighted({
            conflict: write ? faults.conflict : 0,
            tooManyRequests: faults.tooManyRequests,
            serverError: faults.serverError,
            timeout: faults.timeout,
            reset: faults.reset,
            lostResponse: faults.lostResponse,
            none: Math.max(0, 1 - (write ? faults.conflict : 0) - faults.tooManyRequests - faults.serverError - faults.timeout - faults.reset - faults.lostResponse),
          })
        : 'none';
      switch (fault) {
        case 'conflict':
          counts.conflict += 1;
          return reply(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
        case 'tooManyRequests':
          counts.tooManyRequests += 1;
          return reply(res, 429, 'TooManyRequests', 'too many requests, please try again later', { 'retry-after': '1' });
        case 'serverError':
          counts.serverError += 1;
          return reply(res, 500, 'InternalError', 'an error on the server has prevented the request from succeeding');
        case 'timeout': {
          counts.timeout += 1;
          // Never forwarded: the client gives up first, then the connection just dies.
          const timer = setTimeout(() => {
            holds.delete(timer);
            req.socket.destroy();
          }, faults.holdMs);
          holds.add(timer);
          return;
        }
        case 'reset':
          counts.reset += 1;
          req.socket.destroy();
          return;
        case 'lostResponse':
          counts.lostResponse += 1;
          return forward(req, res, body, (up) => {
            if (up) lostResponses.push({ method: req.method ?? '?', path: req.url ?? '?', status: up.statusCode ?? 0, body: body.subarray(0, 4096).toString('utf8') });
            up?.resume();
            up?.on('end', () => req.socket.destroy());
            if (!up) req.socket.destroy();
          });
        case 'none':
          return forward(req, res, body, (up, error) => {
            if (!up) {
              counts.upstreamDown += 1;
              if (!res.headersSent) reply(res, 503, 'ServiceUnavailable', `apiserver unreachable: ${error?.message ?? 'unknown'}`);
              else res.destroy();
              return;
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    counts,
    lostResponses,
    setFaults: (on) => {
      enabled = on;
    },
    writeKubeconfig: (path, token, user) => {
      // client-node accepts a plain-HTTP server only with insecure-skip-tls-verify set.
      const yaml = [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: chaos-proxy',
        '  cluster:',
        `    server: ${url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        `- name: ${user}`,
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: chaos-proxy',
        '  context:',
        '    cluster: chaos-proxy',
        `    user: ${user}`,
        'current-context: chaos-proxy',
        '',
      ].join('\n');
      writeFileSync(path, yaml, { mode: 0o600 });
      return path;
    },
    close: async () => {
      for (const t of holds) clearTimeout(t);
      holds.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
