// The key cache: fetched once, re-fetched for an unknown key id at most once per
// interval, re-fetched when old, and kept when the API server is away. The fetcher is a
// local function serving documents of the API server's shape; the e2e test fetches the real ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createAuthenticator } from '../../../../shared/http/auth.js';
import { createKeySource, DISCOVERY_PATH, JWKS_PATH } from '../../../../shared/http/oidc.js';
import { captureLogs } from '../../../fixtures/log-capture.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'baton';

async function key(kid: string): Promise<{ jwk: JWK; privateKey: CryptoKey }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }, privateKey };
}

function rig(published: { keys: JWK[] }, clock: { now: number }) {
  const requests: string[] = [];
  let failing = false;
  const fetchJson = async (path: string): Promise<unknown> => {
    requests.push(path);
    // A round trip's worth of waiting, so that concurrent deliveries overlap a fetch.
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (failing) throw new Error(`GET ${path}: HTTP 503`);
    if (path === DISCOVERY_PATH) return { issuer: ISSUER, jwks_uri: `${ISSUER}${JWKS_PATH}` };
    if (path === JWKS_PATH) return { keys: [...published.keys] };
    throw new Error(`unexpected ${path}`);
  };
  const { logger, lines } = captureLogs('info');
  const keys = createKeySource({ fetchJson, logger, now: () => clock.now, minRefreshMs: 10_000, maxAgeMs: 300_000 });
  const check = createAuthenticator({ mode: 'require', audience: AUDIENCE, subjects: [], keys, now: () => clock.now });
  return { keys, check, requests, lines, fail: (on: boolean) => (failing = on) };
}

async function sign(k: { jwk: JWK; privateKey: CryptoKey }, clock: { now: number }): Promise<string> {
  const t = Math.floor(clock.now / 1000);
  return `Bearer ${await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'system:serviceaccount:a:b', iat: t, exp: t + 600 }).setProtectedHeader({ alg: 'RS256', kid: k.jwk.kid ?? '' }).sign(k.privateKey)}`;
}

describe('key source', () => {
  it('fetches discovery and keys once for many deliveries', async () => {
    const clock = { now: Date.parse('2026-11-30T04:00:00Z') };
    const k1 = await key('k1');
    const r = rig({ keys: [k1.jwk] }, clock);
    const results = await Promise.all(Array.from({ length: 20 }, async () => r.check(await sign(k1, clock))));
    assert.ok(results.every((v) => v.ok));
    assert.deepEqual(r.requests, [DISCOVERY_PATH, JWKS_PATH]);
  });

  it('a rotated key is fetched on first sight; invented key ids cost one fetch per interval', async () => {
    const clock = { now: Date.parse('2026-11-30T04:00:00Z') };
    const k1 = await key('k1');
    const k2 = await key('k2');
    const published = { keys: [k1.jwk] };
    const r = rig(published, clock);
    assert.equal((await r.check(await sign(k1, clock))).ok, true);
    clock.now += 60_000;
    published.keys.push(k2.jwk);
    const withNewKey = await sign(k2, clock);
    const first = await Promise.all(Array.from({ length: 5 }, () => r.check(withNewKey)));
    assert.ok(first.every((v) => v.ok), `every concurrent delivery with the new key is accepted: ${JSON.stringify(first)}`);
    assert.equal(r.keys.fetches, 2, 'one fetch for all of them');

    const forger = await key('k-invented');
    const before = r.keys.fetches;
    for (let i = 0; i < 50; i++) {
      const v = await r.check(await sign(forger, clock));
      assert.equal(v.ok, false);
    }
    assert.equal(r.keys.fetches, before, 'within the interval since the last fetch: no fetch');
    clock.now += 10_000;
    await Promise.all(Array.from({ length: 10 }, async () => r.check(await sign(forger, clock))));
    assert.equal(r.keys.fetches, before + 1, 'after the interval: one fetch, shared by concurrent deliveries');
  });

  it('re-fetches old keys, drops a key the API server dropped, and keeps the cache when the API server is away', async () => {
    const clock = { now: Date.parse('2026-11-30T04:00:00Z') };
    const k1 = await key('k1');
    const k2 = await key('k2');
    const published = { keys: [k1.jwk, k2.jwk] };
    const r = rig(published, clock);
    assert.equal((await r.check(await sign(k1, clock))).ok, true);
    published.keys.splice(0, 1);
    clock.now += 300_000;
    const dropped = await r.check(await sign(k1, clock));
    assert.equal(dropped.ok, false, 'a key no longer published is no longer trusted');
    clock.now += 300_000;
    r.fail(true);
    assert.equal((await r.check(await sign(k2, clock))).ok, true, 'cached keys still serve while the API server is away');
    assert.ok(r.lines.some((l) => l['msg'] === "could not re-fetch the token signing keys; keeping the cached ones"));
  });

  it('answers 503 while the keys were never had, without a fetch per delivery', async () => {
    const clock = { now: Date.parse('2026-11-30T04:00:00Z') };
    const k1 = await key('k1');
    const r = rig({ keys: [k1.jwk] }, clock);
    r.fail(true);
    const token = await sign(k1, clock);
    for (let i = 0; i < 5; i++) {
      const v = await r.check(token);
      assert.equal(v.ok, false);
      if (!v.ok) assert.equal(v.status, 503);
    }
    assert.equal(r.keys.fetches, 1);
    r.fail(false);
    clock.now += 1_000;
    assert.equal((await r.check(token)).ok, true);
  });
});
