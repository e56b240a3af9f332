// Sender authentication: who may deliver events to a function. With Knative's OIDC
// feature on, every delivery (Broker filter, channel dispatcher, sources) carries
// `Authorization: Bearer <JWT>`, a ServiceAccount token the API server issued for the
// function's audience. A function checks it before the body is read: signature (against
// the API server's own keys, oidc.ts), issuer, audience, expiry, and optionally the
// subject. This is defence in depth: the handlers already treat every event as a hint,
// so a valid token grants no more than a look; an invalid one does not even get that.
//
// The decisions (what the header holds, what a failure means, whether a subject is
// allowed) are pure functions; verification itself is jose's, on keys from a KeySource.
import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AuthMode } from '../config/knobs.js';

/** BATON_AUTH as the authenticator sees it: with "off" no authenticator is made. */
type EnforcedMode = Exclude<AuthMode, 'off'>;

/** What the Authorization header presents. */
export type Presented = { readonly kind: 'absent' } | { readonly kind: 'bearer'; readonly token: string } | { readonly kind: 'malformed'; readonly why: string };

/** A JWT is three base64url parts; anything longer than this is not a token Kubernetes issued. */
const MAX_TOKEN_LENGTH = 8192;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function presentedToken(header: string | undefined): Presented {
  if (header === undefined || header.trim() === '') return { kind: 'absent' };
  const match = /^bearer +(\S+) *$/i.exec(header);
  if (match === null) return { kind: 'malformed', why: 'the Authorization header is not "Bearer <token>"' };
  const token = match[1]!;
  if (token.length > MAX_TOKEN_LENGTH) return { kind: 'malformed', why: `the token is longer than ${MAX_TOKEN_LENGTH} characters` };
  if (!JWT_SHAPE.test(token)) return { kind: 'malformed', why: 'the token is not a JWT' };
  return { kind: 'bearer', token };
}

export type AuthVerdict =
  /** `sender`: the verified subject; absent when no token was sent and none is required. */
  | { readonly ok: true; readonly sender?: string }
  /** `message` is for the caller (short, names nothing of the function's state); `log` for the log. */
  | { readonly ok: false; readonly status: 401; readonly message: string; readonly log: string }
  /** The keys to check with cannot be had right now: the sender should retry, not give up. */
  | { readonly ok: false; readonly status: 503; readonly message: string; readonly log: string };

export type Authenticator = (authorization: string | undefined) => Promise<AuthVerdict>;

/** The issuer and its signing keys, as the API server published them. */
export interface TrustedIssuer {
  readonly issuer: string;
  /** Changes whenever the keys are fetched again, so that what was verified with older keys is verified again. */
  readonly generation: number;
  /** Resolves a token's key by its header (kid, alg); throws jose's JWKSNoMatchingKey when none fits. */
  readonly key: JWTVerifyGetKey;
}

/** The signing keys could not be had: a reason to ask the sender to retry, not a verdict on its token. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

export interface KeySource {
  /** Throws when the keys cannot be fetched and none are cached. */
  current(): Promise<TrustedIssuer>;
}

export interface AuthenticatorOptions {
  readonly mode: EnforcedMode;
  readonly audience: string;
  /** Empty: any subject. */
  readonly subjects: readonly string[];
  readonly keys: KeySource;
  /** Tolerated clock difference with the API server, for exp, nbf and iat. */
  readonly leewaySeconds?: number;
  /** For tests: the time tokens are judged at. */
  readonly now?: () => number;
  /** Tokens remembered as verified; 0 verifies every delivery afresh. */
  readonly cacheSize?: number;
}

/** Kubernetes signs ServiceAccount tokens with RSA or ECDSA keys; nothing else is accepted (no HMAC, no "none"). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

export const DEFAULT_LEEWAY_SECONDS = 30;
const DEFAULT_CACHE_SIZE = 1024;

interface Verified {
  readonly sender: string;
  /** Seconds since the epoch, from the verified token. */
  readonly exp: number;
  readonly generation: number;
}

// A sender reuses one token for many deliveries until it nears expiry (Knative caches
// them per audience), and a check costs some 200 µs of RSA. So a token that passed is
// remembered by its exact text: the same bytes carry the same signature and claims, so
// the verdict can only change with time (exp, checked on every use) or with the keys
// (the generation). Only accepted tokens are remembered; a refusal costs a full check.
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const leeway = options.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const verified = new Map<string, Verified>();
  const clock = options.now ?? Date.now;
  return async (authorization) => {
    const presented = presentedToken(authorization);
    if (presented.kind === 'absent') {
      return options.mode === 'require' ? deny('a bearer token is required', 'no Authorization header') : { ok: true };
    }
    if (presented.kind === 'malformed') return deny('malformed bearer token', presented.why);

    const unavailable = (error: unknown): AuthVerdict => ({ ok: false, status: 503, message: 'cannot check the bearer token right now; retry later', log: `signing keys unavailable: ${messageOf(error)}` });
    let trusted: TrustedIssuer;
    try {
      trusted = await options.keys.current();
    } catch (error) {
      return unavailable(error);
    }
    const known = verified.get(presented.token);
    if (known !== undefined) {
      if (known.generation === trusted.generation && clock() / 1000 <= known.exp + leeway) return { ok: true, sender: known.sender };
      verified.delete(presented.token);
    }
    try {
      const { payload } = await jwtVerify(presented.token, trusted.key, {
        issuer: trusted.issuer,
        audience: options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: leeway,
        requiredClaims: ['exp', 'sub'],
        ...(options.now ? { currentDate: new Date(options.now()) } : {}),
      });
      const subject = typeof payload.sub === 'string' ? payload.sub : '';
      if (!subjectAllowed(subject, options.subjects)) return deny('sender not allowed', `subject ${clip(subject)} is not in BATON_AUTH_SUBJECTS`);
      if (cacheSize > 0 && typeof payload.exp === 'number') {
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value ?? '');
        verified.set(presented.token, { sender: subject, exp: payload.exp, generation: trusted.generation });
      }
      return { ok: true, sender: subject };
    } catch (error) {
      if (error instanceof KeysUnavailableError) return unavailable(error);
      const why = rejection(error);
      if (why === undefined) throw error;
      return deny(why.message, why.log);
    }
  };
}

export function subjectAllowed(subject: string, allowed: readonly string[]): boolean {
  return allowed.length === 0 || allowed.includes(subject);
}

/**
 * What a verification failure tells the caller, and the log. undefined: not a verdict on
 * the token (a bug or an infrastructure failure), for the caller to treat as an error.
 * Claims are quoted in the log only once the signature held: before that they are the
 * sender's word.
 */
export function rejection(error: unknown): { message: string; log: string } | undefined {
  if (error instanceof errors.JWTExpired) return { message: 'bearer token expired', log: `token expired (exp ${String(error.payload.exp)}, sub ${clip(String(error.payload.sub))})` };
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claims = error.payload;
    switch (error.claim) {
      case 'aud':
        return { message: 'bearer token is for another audience', log: `audience ${clip(JSON.stringify(claims.aud ?? null))} not accepted (sub ${clip(String(claims.sub))})` };
      case 'iss':
        return { message: 'bearer token is from another issuer', log: `issuer ${clip(JSON.stringify(claims.iss ?? null))} not accepted` };
      case 'nbf':
      case 'iat':
        return { message: 'bearer token is not valid yet', log: `"${error.claim}" is in the future (sub ${clip(String(claims.sub))})` };
      default:
        return { message: 'invalid bearer token', log: `claim "${clip(error.claim)}" ${error.reason}` };
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return { message: 'bearer token is not signed by this cluster', log: 'no signing key of the API server matches the token' };
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return { message: 'bearer token is not signed by this cluster', log: 'signature verification failed' };
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return { message: 'bearer token uses an algorithm that is not accepted', log: messageOf(error) };
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) return { message: 'malformed bearer token', log: messageOf(error) };
  return undefined;
}

function deny(message: string, log: string): AuthVerdict {
  return { ok: false, status: 401, message, log };
}

function messageOf(error: unknown): string {
  return clip(error instanceof Error ? error.message : String(error));
}

function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
