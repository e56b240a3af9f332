// The HTTP face of a baton function: CloudEvent in, status code out.
//
// Replies follow Knative delivery semantics: 400/413/415 for input that will never
// parse (not retried), 503 + Retry-After for "try again", 500 for a bug (retried, in
// case it was transient), and 2xx with an EMPTY body otherwise — a Broker's filter
// treats a non-empty reply that is not a CloudEvent as a failed delivery (502), so the
// outcome travels in a header, not in the body.
//
// A reply tells the caller the outcome and nothing else. Whoever can reach the function
// can post an event naming any Service, so what the function saw there (pods, health,
// the active, API errors) goes to the log line of the request, which the reply's
// X-Request-Id finds; never to the caller. Text from the request that a 4xx message
// quotes is bounded, and JSON-encoded like every log field, so it cannot forge a line.
import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { parseIncoming, type InboundEvent, type Screen } from '../events/incoming.js';
import type { Logger } from '../log.js';
import type { Authenticator } from './auth.js';
import type { Outcome } from './outcome.js';
import type { DeliveryObserver } from './observe.js';

export interface HandlerContext {
  readonly requestId: string;
  /** Child logger already carrying requestId and the event's identity. */
  readonly logger: Logger;
}

export type Handler = ((event: InboundEvent, context: HandlerContext) => Promise<Outcome> | Outcome) & {
  /** Events it can tell from their attributes that it will ignore, before their data is read. */
  readonly screen?: Screen;
};

export interface ServerOptions {
  readonly handle: Handler;
  readonly logger: Logger;
  /** Bytes. */
  readonly bodyLimit: number;
  readonly ready?: () => boolean;
  /** Checks the sender of each delivery before its body is read; absent: anyone may deliver. */
  readonly authenticate?: Authenticator;
  /** Told when each delivery starts and ends (metrics); absent: nothing is recorded. */
  readonly onDelivery?: DeliveryObserver;
  /** Serves GET /metrics; absent: no such route (404 like any other path). */
  readonly metricsPage?: RequestHandler;
}

export const OUTCOME_HEADER = 'Baton-Outcome';
export const REQUEST_ID_HEADER = 'X-Request-Id';

/** Longest text from a request a reply quotes; the log keeps a little more. */
const REPLY_TEXT_MAX = 300;
const LOG_TEXT_MAX = 1000;
/** Event attributes in a log line: ids and subjects of real events are far shorter. */
const LOG_ATTRIBUTE_MAX = 256;
const RETRY_MESSAGE = 'the event could not be handled now; retry later';

interface RequestRecord {
  readonly requestId: string;
  readonly started: number;
  /** Wall-clock arrival, for the delivery delay (the event's time is wall-clock too). */
  readonly arrivedAt: number;
  eventTime?: string | undefined;
  fields: Record<string, unknown>;
  error?: unknown;
}

export function createServer(options: ServerOptions): Express {
  const { handle, logger, bodyLimit } = options;
  const records = new WeakMap<Response, RequestRecord>();
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use((req, res, next) => {
    const record: RequestRecord = { requestId: requestIdOf(req), started: performance.now(), arrivedAt: Date.now(), fields: {} };
    records.set(res, record);
    const delivery = req.method === 'POST' && req.path === '/' ? options.onDelivery : undefined;
    const ended = delivery?.started();
    res.setHeader(REQUEST_ID_HEADER, record.requestId);
    // Every body is JSON or empty; no client should guess otherwise.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    let logged = false;
    const logLine = (): void => {
      if (logged) return;
      logged = true;
      const line = {
        requestId: record.requestId,
        method: req.method,
        path: clip(req.path, LOG_ATTRIBUTE_MAX),
        status: res.writableFinished ? res.statusCode : 'aborted',
        durationMs: Math.round((performance.now() - record.started) * 10) / 10,
        ...record.fields,
        ...(record.error !== undefined ? { err: record.error } : {}),
      };
      // Probes and scrapes come every few seconds: logged at debug, like the probes.
      const probe = req.path === '/healthz' || req.path === '/readyz' || (req.path === '/metrics' && req.method === 'GET');
      if (res.statusCode >= 500) logger.error(line, 'request');
      else if (res.statusCode >= 400) logger.warn(line, 'request');
      else if (probe) logger.debug(line, 'request');
      else logger.info(line, 'request');
      if (delivery) {
        ended?.();
        const { kind, outcome } = record.fields;
        delivery.ended({
          kind: typeof kind === 'string' ? kind : undefined,
          outcome: res.writableFinished && typeof outcome === 'string' ? outcome : 'aborted',
          seconds: (performance.now() - record.started) / 1000,
          arrivedAt: record.arrivedAt,
          eventTime: record.eventTime,
        });
      }
    };
    res.on('finish', logLine);
    res.on('close', logLine);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res) => {
    let ready: boolean;
    try {
      ready = options.ready?.() ?? true;
    } catch {
      ready = false;
    }
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });

  // Before the body is read: an unauthenticated sender costs no parsing. Without an
  // authenticator the route has no such step at all.
  const authenticate = options.authenticate;
  const checkSender = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (authenticate === undefined) {
      next();
      return;
    }
    const record = recordOf(records, res);
    const verdict = await authenticate(req.headers.authorization);
    if (verdict.ok) {
      if (verdict.sender !== undefined) record.fields = { ...record.fields, sender: clip(verdict.sender, LOG_ATTRIBUTE_MAX) };
      next();
      return;
    }
    record.fields = { ...record.fields, outcome: verdict.status === 401 ? 'unauthenticated' : 'retry', detail: clip(verdict.log, LOG_TEXT_MAX) };
    if (verdict.status === 401) res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
    else res.setHeader('Retry-After', '1');
    // The body is not read: close the connection rather than drain it.
    res.setHeader('Connection', 'close');
    res.status(verdict.status).json({ error: verdict.message });
  };

  const readBody = express.raw({ type: () => true, limit: bodyLimit });
  app.post('/', ...(authenticate ? [checkSender, readBody] : [readBody]), async (req: Request, res: Response) => {
    const record = recordOf(records, res);
    const body: unknown = req.body;
    const parsed = parseIncoming({ headers: req.headers, body }, handle.screen);
    if (!parsed.ok) {
      record.fields = { ...record.fields, outcome: 'rejected', detail: clip(parsed.message, LOG_TEXT_MAX) };
      res.status(parsed.status).json({ error: clip(parsed.message, REPLY_TEXT_MAX) });
      return;
    }
    const { event } = parsed;
    record.fields = { ...record.fields, ...eventFields(event) };
    record.eventTime = event.time;
    // Most events are ignored without a word: the child logger is made when first used.
    let child: Logger | undefined;
    const bindings = { requestId: record.requestId, ...record.fields };
    const context: HandlerContext = {
      requestId: record.requestId,
      get logger() {
        return (child ??= logger.child(bindings));
      },
    };

    let outcome: Outcome;
    try {
      outcome = await handle(event, context);
    } catch (err) {
      record.error = err;
      record.fields = { ...record.fields, outcome: 'error' };
      if (!res.headersSent) res.status(500).json({ error: 'internal error while handling the event; see the function log' });
      return;
    }
    record.fields = { ...record.fields, outcome: outcome.status, ...(outcome.detail !== undefined ? { detail: clip(outcome.detail, LOG_TEXT_MAX) } : {}) };
    if (res.headersSent) return;
    if (outcome.status === 'retry') {
      const seconds = retryAfter(outcome.retryAfterSeconds);
      res.status(503).setHeader('Retry-After', String(seconds));
      res.json({ error: RETRY_MESSAGE, retryAfterSeconds: seconds });
      return;
    }
    res.status(200).setHeader(OUTCOME_HEADER, outcome.status);
    res.end();
  });

  if (options.metricsPage) app.get('/metrics', options.metricsPage);

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${clip(req.path, 200)}` });
  });

  // Express recognises error middleware by its four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const record = records.get(res);
    const status = httpStatusOf(err);
    let message: string;
    if (status === 413) message = `request body exceeds the limit of ${bodyLimit} bytes (BATON_BODY_LIMIT)`;
    // body-parser's 4xx messages may quote the request (an unknown Content-Encoding).
    else if (status !== undefined && status < 500) message = clip(err instanceof Error ? err.message : 'bad request', REPLY_TEXT_MAX);
    else message = 'internal error; see the function log';
    if (record) {
      record.fields = { ...record.fields, outcome: 'rejected', detail: message };
      if (status === undefined || status >= 500) record.error = err;
    }
    if (res.headersSent) return;
    res.status(status ?? 500).json({ error: message });
  });

  return app;
}

// Attributes are the sender's text: bounded here, escaped by the JSON encoding.
function eventFields(event: InboundEvent): Record<string, unknown> {
  return {
    eventId: clip(event.id, LOG_ATTRIBUTE_MAX),
    eventType: clip(event.type, LOG_ATTRIBUTE_MAX),
    subject: event.subject === undefined ? undefined : clip(event.subject, LOG_ATTRIBUTE_MAX),
    kind: event.kind,
    ...(event.kind === 'Other' ? { reason: clip(event.reason, LOG_TEXT_MAX) } : { action: event.action }),
  };
}

function recordOf(records: WeakMap<Response, RequestRecord>, res: Response): RequestRecord {
  const record = records.get(res);
  if (record) return record;
  const fresh: RequestRecord = { requestId: randomUUID(), started: performance.now(), arrivedAt: Date.now(), fields: {} };
  records.set(res, fresh);
  return fresh;
}

// Reuse a caller's id so one delivery can be followed across components, but only
// if it is short and printable: it is echoed in a header and in every log line.
function requestIdOf(req: Request): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = 'status' in err ? err.status : 'statusCode' in err ? err.statusCode : undefined;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : undefined;
}

function retryAfter(seconds: number): number {
  if (!Number.isFinite(seconds)) return 1;
  return Math.min(3600, Math.max(1, Math.ceil(seconds)));
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
