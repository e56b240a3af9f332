// Where the keys that sign ServiceAccount tokens come from: the API server's own OIDC
// discovery (/.well-known/openid-configuration gives the issuer) and key set
// (/openid/v1/jwks), fetched with the function's own credentials over the connection
// it already trusts (the cluster CA from its kubeconfig). The discovery document's
// jwks_uri names the same keys for verifiers outside the cluster, often on a host the
// pod cannot or should not reach (the issuer's public name, a bucket); the API server
// serves them itself, so baton asks it and follows no URL taken from a document.
//
// Keys are cached. A token whose key id is unknown triggers a re-fetch (the API server
// may have rotated its key), at most once per `minRefreshMs`, so a sender inventing key
// ids costs the API server one request per interval, not one per delivery. The cache is
// also re-fetched when older than `maxAgeMs`, so a key the API server dropped stops
// being trusted; if that fetch fails the old keys are kept and the failure logged, since
// the alternative is refusing every delivery while the API server is away.
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { KeysUnavailableError, type KeySource, type TrustedIssuer } from './auth.js';

export const DISCOVERY_PATH = '/.well-known/openid-configuration';
export const JWKS_PATH = '/openid/v1/jwks';
const MAX_DOCUMENT_BYTES = 1 << 20;
const FIRST_LOAD_RETRY_MS = 1_000;

/** GET of an API server path, parsed as JSON; throws on anything but 200. */
export type FetchJson = (path: string) => Promise<unknown>;

const discoverySchema = z.object({ issuer: z.string().min(1), jwks_uri: z.string().min(1) });
const jwksSchema = z.object({ keys: z.array(z.looseObject({ kty: z.string() })).min(1) });

export interface KeySourceOptions {
  readonly fetchJson: FetchJson;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly minRefreshMs?: number;
  readonly maxAgeMs?: number;
}

interface Snapshot {
  readonly issuer: string;
  readonly generation: number;
  readonly keyIds: readonly string[];
  readonly resolve: JWTVerifyGetKey;
  readonly fetchedAt: number;
}

export interface CachedKeySource extends KeySource {
  /** How many times the keys were fetched (for tests and the start-up log). */
  readonly fetches: number;
}

export function createKeySource(options: KeySourceOptions): CachedKeySource {
  const now = options.now ?? Date.now;
  const minRefreshMs = options.minRefreshMs ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  let snapshot: Snapshot | undefined;
  let loading: Promise<Snapshot> | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let fetches = 0;

  // One fetch at a time; concurrent callers share it.
  const refresh = (): Promise<Snapshot> => {
    loading ??= (async () => {
      lastAttempt = now();
      fetches += 1;
      try {
        const discovery = discoverySchema.parse(await options.fetchJson(DISCOVERY_PATH));
        const jwks = jwksSchema.parse(await options.fetchJson(JWKS_PATH)) as JSONWebKeySet;
        const fresh: Snapshot = {
          issuer: discovery.issuer,
          generation: fetches,
          keyIds: jwks.keys.map((k) => k.kid ?? '(no kid)'),
          resolve: createLocalJWKSet(jwks),
          fetchedAt: now(),
        };
        if (snapshot === undefined || snapshot.issuer !== fresh.issuer || snapshot.keyIds.join() !== fresh.keyIds.join()) {
          options.logger.info({ issuer: fresh.issuer, keyIds: fresh.keyIds }, 'token signing keys loaded from the API server');
        }
        snapshot = fresh;
        return fresh;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  const resolver = (held: Snapshot): JWTVerifyGetKey => async (header, token) => {
    try {
      return await held.resolve(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // Perhaps a rotated key: judge with newer keys if another delivery already fetched
      // them, wait for a fetch in flight, or fetch once more if the interval allows.
      let fresh: Snapshot;
      if (snapshot !== undefined && snapshot !== held) fresh = snapshot;
      else if (loading === undefined && now() - lastAttempt < minRefreshMs) throw error;
      else {
        try {
          fresh = await refresh();
        } catch (failure) {
          throw new KeysUnavailableError(failure instanceof Error ? failure.message : String(failure));
        }
      }
      return fresh.resolve(header, token);
    }
  };

  return {
    async current(): Promise<TrustedIssuer> {
      let held = snapshot;
      if (held === undefined) {
        // Never loaded: the API server was away. Try again, but not for every delivery.
        if (loading === undefined && now() - lastAttempt < FIRST_LOAD_RETRY_MS) throw new KeysUnavailableError('the last attempt to fetch them failed a moment ago');
        held = await refresh().catch((error: unknown) => {
          throw new KeysUnavailableError(error instanceof Error ? error.message : String(error));
        });
      } else if (now() - held.fetchedAt >= maxAgeMs && now() - lastAttempt >= minRefreshMs) {
        const old = held;
        held = await refresh().catch((error: unknown) => {
          options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not re-fetch the token signing keys; keeping the cached ones');
          return old;
        });
      }
      return { issuer: held.issuer, generation: held.generation, key: resolver(held) };
    },
    get fetches() {
      return fetches;
    },
  };
}


/** FetchJson against the API server `kubeConfig` names, with its credentials and CA. */
export function apiServerFetcher(kubeConfig: k8s.KubeConfig, timeoutMs: number): FetchJson {
  return async (path) => {
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('no API server in the kubeconfig');
    // Appended, not resolved: an API server behind a proxy may live under a path prefix.
    const url = new URL(`${server.replace(/\/+$/, '')}${path}`);
    // The key set is served as application/jwk-set+json and refused (406) to a client accepting only JSON.
    const options: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json, application/jwk-set+json' } };
    await kubeConfig.applyToHTTPSOptions(options);
    return new Promise<unknown>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(url, { ...options, timeout: timeoutMs }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_DOCUMENT_BYTES) request.destroy(new Error(`GET ${path}: more than ${MAX_DOCUMENT_BYTES} bytes`));
          else chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode !== 200) {
            reject(new Error(`GET ${path}: HTTP ${response.statusCode ?? '?'}`));
            return;
          }
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
          } catch (error) {
            reject(new Error(`GET ${path}: not JSON (${error instanceof Error ? error.message : String(error)})`));
          }
        });
      });
      request.on('timeout', () => request.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
      request.on('error', reject);
      request.end();
    });
  };
}
