// Sender authentication without a cluster: tokens are signed here with real keys
// (jose, WebCrypto), so every check runs the same crypto as in production; only the
// key source is local. The e2e test (test/e2e/auth.test.ts) uses the plane's own tokens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createAuthenticator, KeysUnavailableError, presentedToken, subjectAllowed, type KeySource, type AuthVerdict } from '../../../../shared/http/auth.js';
import { binary, loadEnvelope } from '../../../fixtures/apiserversource.js';
import { errorOf, post, start } from './harness.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'serving.knative.dev/service/baton-system/baton-failover';
const SENDER = 'system:serviceaccount:knative-eventing:eventing-controller';
const NOW = Date.parse('2026-11-30T04:00:00Z');
const seconds = (ms: number): number => Math.floor(ms / 1000);

interface Signer {
  readonly jwk: JWK;
  readonly privateKey: CryptoKey;
}

async function signer(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, privateKey };
}

interface Claims {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
}

async function token(s: Signer, claims: Claims = {}, alg = s.jwk.alg ?? 'RS256'): Promise<string> {
  const payload = { iss: ISSUER, aud: [AUDIENCE], sub: SENDER, iat: seconds(NOW) - 60, exp: seconds(NOW) + 3600, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg, kid: s.jwk.kid ?? '' }).sign(s.privateKey);
}

function keysOf(...signers: Signer[]): KeySource {
  return { current: () => Promise.resolve({ issuer: ISSUER, generation: 1, key: createLocalJWKSet({ keys: signers.map((x) => x.jwk) }) }) };
}

const trusted = await signer('cluster-key');
const stranger = await signer('cluster-key'); // same kid, another key: a forger who read the kid
const elsewhere = await signer('other-cluster');
const ecdsa = await signer('ec-key', 'ES256');

function authenticator(mode: 'verify' | 'require', subjects: readonly string[] = []) {
  return createAuthenticator({ mode, audience: AUDIENCE, subjects, keys: keysOf(trusted, ecdsa), now: () => NOW });
}

function denied(verdict: AuthVerdict): { status: number; message: string; log: string } {
  assert.equal(verdict.ok, false, 'expected a refusal');
  if (verdict.ok) throw new Error('unreachable');
  return verdict;
}

describe('presentedToken', () => {
  const rows: Array<[string | undefined, string]> = [
    [undefined, 'absent'],
    ['', 'absent'],
    ['   ', 'absent'],
    ['Bearer a.b.c', 'bearer'],
    ['bearer a.b.c', 'bearer'],
    ['BEARER  a-b.c_d.e', 'bearer'],
    ['Basic dXNlcjpwYXNz', 'malformed'],
    ['Bearer', 'malformed'],
    ['Bearer a.b', 'malformed'],
    ['Bearer a.b.c d', 'malformed'],
    ['Bearer a.b.c=', 'malformed'],
    [`Bearer a.${'b'.repeat(9000)}.c`, 'malformed'],
  ];
  for (const [header, kind] of rows) {
    it(`${JSON.stringify(header)?.slice(0, 40)} → ${kind}`, () => assert.equal(presentedToken(header).kind, kind));
  }
  it('never throws, whatever the header', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (header) => ['absent', 'bearer', 'malformed'].includes(presentedToken(header).kind)));
  });
});

describe('subjectAllowed', () => {
  it('an empty list allows any subject; otherwise only exact members', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.string({ minLength: 1 }), { maxLength: 5 }), (subject, list) => {
        assert.equal(subjectAllowed(subject, []), true);
        assert.equal(subjectAllowed(subject, list), list.length === 0 || list.includes(subject));
      }),
    );
    assert.equal(subjectAllowed('system:serviceaccount:a:b', ['system:serviceaccount:a:bb']), false);
  });
});

describe('createAuthenticator', () => {
  const cases: Array<{ name: string; mode: 'verify' | 'require'; subjects?: string[]; header: () => Promise<string | undefined>; ok: boolean; message?: RegExp; sender?: string }> = [
    { name: 'a valid token', mode: 'require', header: async () => `Bearer ${await token(trusted)}`, ok: true, sender: SENDER },
    { name: 'a valid ES256 token', mode: 'require', header: async () => `Bearer ${await token(ecdsa)}`, ok: true, sender: SENDER },
    { name: 'the audience as a plain string', mode: 'require', header: async () => `Bearer ${await token(trusted, { aud: AUDIENCE })}`, ok: true },
    { name: 'no token, verify mode', mode: 'verify', header: () => Promise.resolve(undefined), ok: true },
    { name: 'no token, require mode', mode: 'require', header: () => Promise.resolve(undefined), ok: false, message: /^a bearer token is required$/ },
    { name: 'Basic credentials', mode: 'verify', header: () => Promise.resolve('Basic dXNlcjpwYXNz'), ok: false, message: /malformed bearer token/ },
    { name: 'not a JWT', mode: 'verify', header: () => Promise.resolve('Bearer abc.def.ghi'), ok: false, message: /malformed bearer token/ },
    { name: 'another audience', mode: 'verify', header: async () => `Bearer ${await token(trusted, { aud: ['https://kubernetes.default.svc'] })}`, ok: false, message: /another audience/ },
    { name: 'no audience', mode: 'require', header: async () => `Bearer ${await token(trusted, { aud: [] })}`, ok: false, message: /another audience/ },
    { name: 'expired an hour ago', mode: 'require', header: async () => `Bearer ${await token(trusted, { exp: seconds(NOW) - 3600, iat: seconds(NOW) - 7200 })}`, ok: false, message: /expired/ },
    { name: 'expired 10 s ago (within the leeway)', mode: 'require', header: async () => `Bearer ${await token(trusted, { exp: seconds(NOW) - 10 })}`, ok: true },
    { name: 'expired 40 s ago (beyond the leeway)', mode: 'require', header: async () => `Bearer ${await token(trusted, { exp: seconds(NOW) - 40 })}`, ok: false, message: /expired/ },
    { name: 'not valid for another hour', mode: 'require', header: async () => `Bearer ${await token(trusted, { nbf: seconds(NOW) + 3600 })}`, ok: false, message: /not valid yet/ },
    { name: 'another issuer, signed with the right key', mode: 'require', header: async () => `Bearer ${await token(trusted, { iss: 'https://evil.example' })}`, ok: false, message: /another issuer/ },
    { name: 'a forger who copied the key id', mode: 'require', header: async () => `Bearer ${await token(stranger)}`, ok: false, message: /not signed by this cluster/ },
    { name: 'a key this cluster does not know', mode: 'require', header: async () => `Bearer ${await token(elsewhere)}`, ok: false, message: /not signed by this cluster/ },
    { name: 'the payload of one token with the signature of another', mode: 'require', header: async () => {
      const [h, , sig] = (await token(trusted, { sub: 'system:serviceaccount:a:b' })).split('.');
      const [, body] = (await token(trusted, { sub: SENDER })).split('.');
      return `Bearer ${h}.${body}.${sig}`;
    }, ok: false, message: /not signed by this cluster/ },
    { name: 'no expiry at all', mode: 'require', header: async () => `Bearer ${await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: SENDER }).setProtectedHeader({ alg: 'RS256', kid: 'cluster-key' }).sign(trusted.privateKey)}`, ok: false, message: /invalid bearer token/ },
    { name: 'alg none', mode: 'require', header: () => Promise.resolve(`Bearer ${Buffer.from('{"alg":"none","kid":"cluster-key"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: SENDER, exp: seconds(NOW) + 60 })).toString('base64url')}.x`), ok: false, message: /algorithm|malformed|not signed/ },
    { name: 'an allowed subject', mode: 'require', subjects: [SENDER], header: async () => `Bearer ${await token(trusted)}`, ok: true, sender: SENDER },
    { name: 'a subject not on the list', mode: 'require', subjects: ['system:serviceaccount:knative-eventing:mt-broker-filter'], header: async () => `Bearer ${await token(trusted)}`, ok: false, message: /^sender not allowed$/ },
  ];
  for (const c of cases) {
    it(`${c.mode}: ${c.name} → ${c.ok ? 'accepted' : '401'}`, async () => {
      const verdict = await authenticator(c.mode, c.subjects)(await c.header());
      if (c.ok) {
        assert.equal(verdict.ok, true, JSON.stringify(verdict));
        if (c.sender && verdict.ok) assert.equal(verdict.sender, c.sender);
        return;
      }
      const refusal = denied(verdict);
      assert.equal(refusal.status, 401);
      assert.match(refusal.message, c.message ?? /./);
      assert.ok(refusal.message.length < 80, 'short');
      assert.ok(!refusal.message.includes(AUDIENCE) && !refusal.message.includes(ISSUER), 'the reply names nothing of the configuration');
      assert.ok(refusal.log.length > 0);
    });
  }

  it('answers 503, not 401, when the keys cannot be had: the sender should retry', async () => {
    const keys: KeySource = { current: () => Promise.reject(new KeysUnavailableError('GET /openid/v1/jwks: HTTP 500')) };
    const verdict = await createAuthenticator({ mode: 'require', audience: AUDIENCE, subjects: [], keys, now: () => NOW })(`Bearer ${await token(trusted)}`);
    const refusal = denied(verdict);
    assert.equal(refusal.status, 503);
    assert.doesNotMatch(refusal.message, /jwks|500/);
    assert.match(refusal.log, /HTTP 500/);
  });

  it('a remembered token still expires, and is checked again when the keys change', async () => {
    const clock = { now: NOW };
    let published = { generation: 1, keys: [trusted.jwk] };
    const keys: KeySource = { current: () => Promise.resolve({ issuer: ISSUER, generation: published.generation, key: createLocalJWKSet({ keys: published.keys }) }) };
    const check = createAuthenticator({ mode: 'require', audience: AUDIENCE, subjects: [], keys, now: () => clock.now });
    const short = `Bearer ${await token(trusted, { exp: seconds(NOW) + 60 })}`;
    assert.equal((await check(short)).ok, true);
    clock.now += 60_000 + 29_000;
    assert.equal((await check(short)).ok, true, 'within exp + leeway');
    clock.now += 2_000;
    assert.equal(denied(await check(short)).message, 'bearer token expired', 'remembered, yet expired');

    clock.now = NOW;
    const long = `Bearer ${await token(trusted)}`;
    assert.equal((await check(long)).ok, true);
    published = { generation: 2, keys: [ecdsa.jwk] };
    assert.equal(denied(await check(long)).message, 'bearer token is not signed by this cluster', 'the key was dropped: checked again');
  });

  it('no mutation of a valid token is accepted', async () => {
    const good = await token(trusted);
    const check = createAuthenticator({ mode: 'require', audience: AUDIENCE, subjects: [], keys: keysOf(trusted), now: () => NOW, cacheSize: 0 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), async (at, char) => {
        fc.pre(good[at] !== char && good[at] !== '.');
        const mutated = `${good.slice(0, at)}${char}${good.slice(at + 1)}`;
        const verdict = await check(`Bearer ${mutated}`);
        // A change in the last base64url character's padding bits can decode to the same bytes.
        if (verdict.ok) assert.equal(Buffer.from(mutated.split('.')[2]!, 'base64url').equals(Buffer.from(good.split('.')[2]!, 'base64url')), true, 'a changed token was accepted');
      }),
      { numRuns: 200 },
    );
  });
});

describe('HTTP server with sender authentication', () => {
  it('checks the token before the body: a bad token on a broken body is 401, and the handler never runs', async () => {
    const h = await start({ authenticate: authenticator('require') });
    try {
      const noToken = await post(h.url, { headers: { 'content-type': 'application/cloudevents+json' }, body: '{ not json' });
      assert.equal(noToken.status, 401);
      assert.equal(await errorOf(noToken), 'a bearer token is required');
      assert.match(noToken.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = binary(loadEnvelope('serviceAdd'));
      const expired = await post(h.url, { headers: { ...wrong.headers, authorization: `Bearer ${await token(trusted, { exp: seconds(NOW) - 3600, iat: seconds(NOW) - 7200 })}` }, body: wrong.body });
      assert.equal(expired.status, 401);
      assert.equal(await errorOf(expired), 'bearer token expired');
      assert.equal(h.calls.length, 0, 'the handler ran for an unauthenticated delivery');
      const line = h.lines.find((l) => l['requestId'] === expired.headers.get('x-request-id') && l['msg'] === 'request');
      assert.equal(line?.['outcome'], 'unauthenticated');
      assert.match(String(line?.['detail']), /token expired/);

      const good = await post(h.url, { headers: { ...wrong.headers, authorization: `Bearer ${await token(trusted)}` }, body: wrong.body });
      assert.equal(good.status, 200);
      assert.equal(h.calls.length, 1);
      const goodLine = h.lines.find((l) => l['requestId'] === good.headers.get('x-request-id') && l['msg'] === 'request');
      assert.equal(goodLine?.['sender'], SENDER, 'the verified sender is logged');
    } finally {
      await h.server.close();
    }
  });

  it('probes need no token', async () => {
    const h = await start({ authenticate: authenticator('require') });
    try {
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${h.url}/readyz`)).status, 200);
    } finally {
      await h.server.close();
    }
  });
});
