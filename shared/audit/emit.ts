// Sends audit events to K_SINK. Auditing is a side channel: a failed send is reported
// to the caller and logged, never thrown, so it can not undo or block a failover.
import { CloudEvent, HTTP } from 'cloudevents';
import type { Logger } from '../log.js';
import { auditEvent, type AuditDraft, type AuditEvent } from './schemas.js';

export interface EmitterOptions {
  readonly sink?: string | undefined;
  readonly source: string;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** From K_CE_OVERRIDES; see loadConfig's ceExtensions. */
  readonly extensions?: Readonly<Record<string, string>>;
  readonly attempts?: number;
  /** First backoff; doubles per retry. */
  readonly backoffMs?: number;
}

export type EmitResult =
  | { readonly delivered: true; readonly status: number; readonly attempts: number }
  | { readonly delivered: false; readonly skipped: true }
  | {
      readonly delivered: false;
      readonly status?: number;
      readonly error: string;
      readonly attempts: number;
    };

export interface Emitter {
  /** Accepts a draft or a full event; the envelope constants come from the emitter. */
  emit(event: AuditDraft | AuditEvent): Promise<EmitResult>;
}

export function createEmitter(options: EmitterOptions): Emitter {
  const attempts = Math.max(1, options.attempts ?? 3);
  const backoffMs = options.backoffMs ?? 50;
  const { sink, logger } = options;

  return {
    async emit(draft) {
      const built = build(draft, options.source, options.extensions ?? {});
      if (!built.ok) {
        logger.error({ auditType: draft.type, auditId: draft.id, error: built.error }, 'audit event is invalid; not sent');
        return { delivered: false, error: built.error, attempts: 0 };
      }
      const fields = { auditType: built.event.type, auditId: built.event.id, subject: built.event.subject };
      if (sink === undefined) {
        logger.debug({ ...fields, audit: built.event }, 'audit event not sent: no K_SINK');
        return { delivered: false, skipped: true };
      }

      const message = HTTP.binary(built.cloudEvent);
      const headers = stringHeaders(message.headers);
      const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);

      let last: { status?: number; error: string } = { error: 'not attempted' };
      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2));
        const outcome = await post(sink, headers, body, options.timeoutMs);
        if (outcome.ok) {
          logger.info({ ...fields, status: outcome.status, attempt }, 'audit event delivered');
          return { delivered: true, status: outcome.status, attempts: attempt };
        }
        last = outcome;
        if (!outcome.retryable) return fail(logger, fields, last, attempt);
      }
      return fail(logger, fields, last, attempts);
    },
  };
}

type Built = { ok: true; event: AuditEvent; cloudEvent: CloudEvent<unknown> } | { ok: false; error: string };

function build(draft: AuditDraft | AuditEvent, source: string, extensions: Readonly<Record<string, string>>): Built {
  const parsed = auditEvent.safeParse({
    ...draft,
    specversion: '1.0',
    source,
    datacontenttype: 'application/json',
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    return { ok: false, error: issues.join('; ') };
  }
  try {
    // Extensions first: they may add attributes, never replace the event's own.
    return { ok: true, event: parsed.data, cloudEvent: new CloudEvent<unknown>({ ...extensions, ...parsed.data }) };
  } catch (err) {
    return { ok: false, error: `not a valid CloudEvent: ${describe(err)}` };
  }
}

type PostOutcome = { ok: true; status: number } | { ok: false; retryable: boolean; status?: number; error: string };

async function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<PostOutcome> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Drain so the keep-alive connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return { ok: true, status: response.status };
    const { status } = response;
    return { ok: false, retryable: status >= 500 || status === 429, status, error: `sink answered ${status}` };
  } catch (err) {
    const error =
      err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
        ? `no answer within ${timeoutMs} ms`
        : `network error: ${describe(err)}`;
    return { ok: false, retryable: true, error };
  }
}

function fail(
  logger: Logger,
  fields: Record<string, string>,
  last: { status?: number; error: string },
  attempts: number,
): EmitResult {
  logger.warn({ ...fields, status: last.status, attempts, error: last.error }, 'audit event not delivered');
  return { delivered: false, error: last.error, attempts, ...(last.status !== undefined ? { status: last.status } : {}) };
}

function stringHeaders(headers: Readonly<Record<string, string | readonly string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = typeof value === 'string' ? value : value.join(',');
  }
  return out;
}

// undici hides the reason (ECONNREFUSED, ...) in `cause`.
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
