// Makes the hook calls a switch plans (core/hooks.ts decides them): an HTTP POST to the
// pod's own IP, one timeout per attempt, a bounded number of retries with backoff.
// Redirects are not followed: a hook answers for itself, and a 3xx is a failure, so a
// pod cannot send baton's request anywhere but to itself.
//
// Calls are at-least-once: two instances racing, or a look retried after a conflict,
// can call the same hook twice for one switch. The body carries the term, so the pod can
// drop a call for a term it has already handled.
import type { HookCall } from './core/model.js';

/** The part of `fetch` the calls use; tests inject their own. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HookOutcome {
  readonly outcome: 'ok' | 'failed' | 'timeout';
  /** The last attempt's HTTP status, or null when none came (timeout, refused connection, no IP). */
  readonly status: number | null;
  /** Attempts made: 0 when the pod has no address to call. */
  readonly attempts: number;
  readonly detail: string;
}

export interface HookDeps {
  readonly fetch?: FetchLike;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The wait before the first retry; it doubles with each one, up to MAX_BACKOFF_MS. */
  readonly backoffMs?: number;
}

export const FIRST_BACKOFF_MS = 200;
export const MAX_BACKOFF_MS = 2_000;

/** The URL of a call: the pod's IP (bracketed when IPv6), the port and path of the annotation. */
export function hookUrl(call: HookCall, ip: string): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `http://${host}:${call.port}${call.path}`;
}

export async function callHook(call: HookCall, deps: HookDeps = {}): Promise<HookOutcome> {
  if (call.ip === undefined) return { outcome: 'failed', status: null, attempts: 0, detail: call.unreachable ?? 'no address to call' };
  const fetchImpl = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const url = hookUrl(call, call.ip);
  const body = JSON.stringify(call.body);
  let last: HookOutcome = { outcome: 'failed', status: null, attempts: 0, detail: 'not called' };
  for (let attempt = 1; attempt <= call.retries + 1; attempt++) {
    if (attempt > 1) await sleep(Math.min(MAX_BACKOFF_MS, (deps.backoffMs ?? FIRST_BACKOFF_MS) * 2 ** (attempt - 2)));
    last = { ...(await once(fetchImpl, url, body, call.timeoutMs)), attempts: attempt };
    if (last.outcome === 'ok') return last;
  }
  return last;
}

async function once(fetchImpl: FetchLike, url: string, body: string, timeoutMs: number): Promise<Omit<HookOutcome, 'attempts'>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'baton-failover' },
      body,
      redirect: 'manual',
      signal: controller.signal,
    });
    // The answer's body is not read: only its status counts, and nothing the pod says is
    // used or repeated.
    await response.body?.cancel().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    const what = response.status >= 300 && response.status < 400 ? ' (a redirect; not followed)' : '';
    return { outcome: ok ? 'ok' : 'failed', status: response.status, detail: `POST ${url} answered ${response.status}${what}` };
  } catch (error) {
    if (controller.signal.aborted) return { outcome: 'timeout', status: null, detail: `POST ${url} did not answer within ${timeoutMs} ms` };
    return { outcome: 'failed', status: null, detail: `POST ${url} failed: ${describe(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

// fetch reports a refused connection as "fetch failed", with the reason in `cause`.
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  return code ?? cause?.message ?? error.message;
}
