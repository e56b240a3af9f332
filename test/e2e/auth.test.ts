// Sender authentication with the plane's own ServiceAccount tokens (TokenRequest, as
// Knative's OIDC feature obtains them) and tokens signed with the plane's own signing
// key, against the failover function under its shipped RBAC. A delivery the function
// accepts adopts an opted-in Service (a write); every refused one must leave it as it is
// and cause no write at all, which the API server's audit log shows.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { decodeJwt, exportJWK, generateKeyPair, importPKCS8, SignJWT, type CryptoKey } from 'jose';
import { apiGet } from '../../plane/api.js';
import { waitFor } from '../../plane/wait.js';
import { acceptedWrites, auditOffset, describeRequest, requestsSince, serviceAccountUser, tally } from '../chaos/auditlog.js';
import { deliver, resourceEvent, type Wire } from '../chaos/forge.js';
import { installRbac, loggedDetail, serviceAccountKubeconfig, startFunction } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';

const AUDIENCE = 'serving.knative.dev/service/baton-system/baton-failover';
const USER = serviceAccountUser('baton-failover');

async function planeJson(path: string): Promise<Record<string, unknown>> {
  const r = await apiGet(testPlane(), path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}`);
  return JSON.parse(r.body) as Record<string, unknown>;
}

const withToken = (wire: Wire, token: string | undefined): Wire => ({ headers: { ...wire.headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, body: wire.body });

test('sender authentication: real tokens for the audience are accepted; wrong audience, expired, another issuer, a stranger, or none → 401 and no write', { timeout: 120_000 }, async (t) => {
  const ns = await testNamespace(t, 'auth');
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'web-0', labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } });
  // Opted in, not yet adopted: the first delivery the function accepts writes to it.
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web', labels: { 'baton.dev/mode': 'active-standby' } }, spec: { selector: { app: 'web', 'baton.dev/pod-id': 'none' }, ports: [{ port: 80 }] } } });
  for (const name of ['sender', 'intruder']) await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  await waitFor('web-0 ready', async () => ((await core.readNamespacedPod({ name: 'web-0', namespace: ns })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined));

  const issue = async (account: string, audience: string): Promise<string> =>
    (await core.createNamespacedServiceAccountToken({ name: account, namespace: ns, body: { spec: { audiences: [audience], expirationSeconds: 600 } } })).status!.token;
  const right = await issue('sender', AUDIENCE);
  const claims = decodeJwt(right);
  const discovery = await planeJson('/.well-known/openid-configuration');
  const jwks = (await planeJson('/openid/v1/jwks')) as { keys: Array<{ kid?: string }> };
  assert.equal(claims.iss, discovery['issuer'], 'the plane issues tokens under its discovery issuer');
  const kid = jwks.keys[0]?.kid ?? '';
  const planeKey = await importPKCS8(readFileSync(join(testPlane().dir, 'pki', 'sa.key'), 'utf8'), 'RS256');
  const signed = (key: CryptoKey, keyId: string, payload: Record<string, unknown>): Promise<string> => new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: keyId }).sign(key);
  const nowS = Math.floor(Date.now() / 1000);
  const foreign = await generateKeyPair('RS256', { extractable: true });
  t.diagnostic(`issuer ${String(claims.iss)}, kid ${kid}, foreign key ${JSON.stringify(await exportJWK(foreign.publicKey)).length} bytes of JWK`);

  await installRbac();
  const fn = await startFunction('failover', {
    KUBECONFIG: await serviceAccountKubeconfig('baton-failover'),
    BATON_NAMESPACES: ns,
    BATON_INDEX_REFRESH_MS: '3600000',
    BATON_AUTH: 'require',
    BATON_AUTH_AUDIENCE: AUDIENCE,
    BATON_AUTH_SUBJECTS: `system:serviceaccount:${ns}:sender`,
  });
  t.after(() => fn.stop());
  assert.ok(fn.logs.some((l) => l.includes('token signing keys loaded from the API server')), `keys fetched at start-up under the shipped RBAC:\n${fn.logs.slice(0, 8).join('\n')}`);

  const event = async (): Promise<Wire> => {
    const r = await apiGet(testPlane(), `/api/v1/namespaces/${ns}/services/web`);
    return resourceEvent('Service', 'update', JSON.parse(r.body) as { metadata: object });
  };
  const refused: Array<[string, () => Promise<string | undefined>, RegExp]> = [
    ['no token', () => Promise.resolve(undefined), /^a bearer token is required$/],
    ['a real token for another audience', () => issue('sender', 'https://kubernetes.default.svc'), /^bearer token is for another audience$/],
    ['a token signed with the plane key, expired an hour ago', () => signed(planeKey, kid, { ...claims, iat: nowS - 7200, nbf: nowS - 7200, exp: nowS - 3600 }), /^bearer token expired$/],
    ['a token from another issuer with its own key', () => signed(foreign.privateKey, 'elsewhere', { ...claims, iss: 'https://issuer.example', exp: nowS + 600 }), /^bearer token is not signed by this cluster$/],
    ['a forged token under the plane key id, signed with another key', () => signed(foreign.privateKey, kid, { ...claims, exp: nowS + 600 }), /^bearer token is not signed by this cluster$/],
    ['the plane key, another issuer', () => signed(planeKey, kid, { ...claims, iss: 'https://issuer.example', exp: nowS + 600 }), /^bearer token is from another issuer$/],
    ['a real token for the audience, from a ServiceAccount not allowed', () => issue('intruder', AUDIENCE), /^sender not allowed$/],
  ];

  const before = await core.readNamespacedService({ name: 'web', namespace: ns });
  const from = auditOffset(testPlane().dir);
  for (const [what, token, message] of refused) {
    const answer = await deliver(fn.url, withToken(await event(), await token()));
    assert.equal(answer.status, 401, `${what}: HTTP ${answer.status} ${answer.body}`);
    assert.match(answer.error, message, `${what}: the message`);
    assert.match(answer.headers, /www-authenticate: Bearer/i, `${what}: WWW-Authenticate`);
    t.diagnostic(`${what.padEnd(70)} → 401 "${answer.error}"; logged: ${await loggedDetail(fn, answer.requestId)}`);
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = await core.readNamespacedService({ name: 'web', namespace: ns });
  assert.equal(after.metadata?.resourceVersion, before.metadata?.resourceVersion, 'a refused delivery changed the Service');
  const requests = requestsSince(testPlane().dir, from, USER);
  assert.deepEqual(acceptedWrites(requests).map(describeRequest), [], 'writes caused by refused deliveries');
  t.diagnostic(`API requests by the function during the refused deliveries: ${JSON.stringify(tally(requests.map(describeRequest)))}`);

  // The same delivery with the right token is handled: the Service is adopted.
  const accepted = await deliver(fn.url, withToken(await event(), right));
  assert.equal(accepted.status, 200, accepted.body);
  assert.equal(accepted.outcome, 'handled');
  const line = await waitFor('the accepted request in the log', () => fn.logs.find((l) => l.includes(`"requestId":"${accepted.requestId ?? ''}"`) && l.includes('"msg":"request"')));
  assert.equal((JSON.parse(line) as { sender?: string }).sender, `system:serviceaccount:${ns}:sender`);
  await waitFor('the Service adopted', async () => ((await core.readNamespacedService({ name: 'web', namespace: ns })).metadata?.annotations?.['baton.dev/term'] === '1' ? true : undefined), { timeoutMs: 10_000 });
  assert.equal((await fetch(`${fn.url}/healthz`)).status, 200, 'probes need no token');
});
