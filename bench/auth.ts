// What sender authentication (BATON_AUTH) costs per delivery, without a cluster:
//   1. the check alone: one RS256 ServiceAccount-shaped token (2048-bit key, as the API
//      server's) verified by the authenticator, keys already cached;
//   2. a whole delivery through the real HTTP server on loopback (keep-alive, an event
//      the handler ignores at once), with BATON_AUTH off and with require.
// Prints medians of several rounds; nothing is asserted.
//   node dist/bench/auth.js [--n 5000] [--rounds 5]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createAuthenticator, type Authenticator } from '../shared/http/auth.js';
import { listen } from '../shared/http/listen.js';
import { ignored } from '../shared/http/outcome.js';
import { createServer, type Handler } from '../shared/http/server.js';
import { createLogger } from '../shared/log.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '5' } } });
const N = Number(values.n);
const ROUNDS = Number(values.rounds);
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'serving.knative.dev/service/baton-system/baton-failover';

const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256', use: 'sig' };
const keys = { current: () => Promise.resolve({ issuer: ISSUER, generation: 1, key: createLocalJWKSet({ keys: [jwk] }) }) };
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ iss: ISSUER, aud: [AUDIENCE], sub: 'system:serviceaccount:knative-eventing:mt-broker-filter', iat: now, nbf: now, exp: now + 3600 })
  .setProtectedHeader({ alg: 'RS256', kid: 'k' })
  .sign(privateKey);
// Knative reuses a token for many deliveries, so the remembered path is the common one;
// the full check is what a fresh token (or an attacker's invalid one) costs.
const authenticate: Authenticator = createAuthenticator({ mode: 'require', audience: AUDIENCE, subjects: [], keys });
const fullCheck: Authenticator = createAuthenticator({ mode: 'require', audience: AUDIENCE, subjects: [], keys, cacheSize: 0 });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;

async function checkAlone(check: Authenticator): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const verdict = await check(`Bearer ${token}`);
    if (!verdict.ok) throw new Error('the token was refused');
  }
  return (performance.now() - start) / N;
}

async function deliveries(authenticate: Authenticator | undefined): Promise<number> {
  const withAuth = authenticate !== undefined;
  const handle: Handler = () => ignored('bench');
  const logger = createLogger({ level: 'error', name: 'bench-auth' });
  const app = createServer({ handle, logger, bodyLimit: 1 << 20, ...(withAuth ? { authenticate } : {}) });
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': 'bench',
    'ce-source': 'bench',
    'ce-type': 'com.example.bench',
    ...(withAuth ? { authorization: `Bearer ${token}` } : {}),
  };
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(server.url, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end('{}');
    });
  for (let i = 0; i < 200; i++) await one();
  const start = performance.now();
  for (let i = 0; i < N; i++) await one();
  const perRequest = (performance.now() - start) / N;
  agent.destroy();
  await server.close();
  return perRequest;
}

await checkAlone(fullCheck); // warm-up
const full: number[] = [];
const remembered: number[] = [];
const off: number[] = [];
const onFull: number[] = [];
const on: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  full.push(await checkAlone(fullCheck));
  remembered.push(await checkAlone(authenticate));
  off.push(await deliveries(undefined));
  onFull.push(await deliveries(fullCheck));
  on.push(await deliveries(authenticate));
}
process.stdout.write(
  [
    `node ${process.version}, ${N} per round, median of ${ROUNDS} rounds`,
    `token check alone, full (RS256, 2048-bit, keys cached): ${us(median(full))} per token`,
    `token check alone, token remembered:                  ${us(median(remembered))} per token`,
    `delivery through the HTTP server, BATON_AUTH=off:                     ${us(median(off))}`,
    `delivery through the HTTP server, BATON_AUTH=require, full check:     ${us(median(onFull))} (+${us(median(onFull) - median(off))})`,
    `delivery through the HTTP server, BATON_AUTH=require, token reused:   ${us(median(on))} (+${us(median(on) - median(off))})`,
    '',
  ].join('\n'),
);
