// An express handler that feeds baton's audit CloudEvents to balancers, so they move to
// a promoted pod as soon as baton announces it. Mount it where a Knative Trigger (or
// any CloudEvents sender) delivers dev.baton.failover.* events:
//
//   app.use('/baton-events', balancerEvents(balancer));
//
// Replies follow Knative delivery: 200 with an empty body for every well-formed event,
// used or not (the outcome is in headers), 400/415 for input that will never parse.
//
// Anyone who can reach this endpoint can send a well-formed event. What a hint can do is
// bounded (hint.ts), but the endpoint should still be reachable only from the Broker
// (a NetworkPolicy, or an internal-only route), and `authorize` can check the sender,
// e.g. the Knative OIDC token a Broker sends with each delivery.
import express, { type Request, type Router } from 'express';
import { CloudEvent, HTTP } from 'cloudevents';
import { AUDIT_TYPES, parseAuditEvent, type AuditEvent } from '../audit/schemas.js';
import { isUtf8, parseMediaType } from '../events/content-type.js';
import type { EndpointsBalancer, HintResult } from './balancer.js';

export const OUTCOME_HEADER = 'Balancer-Outcome';
export const DETAIL_HEADER = 'Balancer-Detail';

export type AuditParse =
  | { readonly ok: true; readonly event: AuditEvent }
  | { readonly ok: true; readonly event: undefined; readonly reason: string }
  | { readonly ok: false; readonly status: 400 | 415; readonly message: string };

const STRUCTURED = 'application/cloudevents+json';

/** One HTTP delivery (binary or structured mode) to a validated audit event. Never throws. */
export function parseAuditDelivery(request: { readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: unknown }): AuditParse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const media = parseMediaType(headers['content-type']);
  if (media?.essence.startsWith('application/cloudevents')) {
    if (media.essence !== STRUCTURED) return { ok: false, status: 415, message: `unsupported event format ${media.essence}: send one event per request, binary or ${STRUCTURED}` };
    if (!isUtf8(media.charset)) return { ok: false, status: 415, message: `unsupported charset ${media.charset ?? ''}` };
    // The SDK recognises structured mode only by this exact string.
    headers['content-type'] = STRUCTURED;
  } else if (!Object.keys(headers).some((h) => h.startsWith('ce-'))) {
    return { ok: false, status: 400, message: 'not a CloudEvent: no ce-* headers and not application/cloudevents+json' };
  }
  let body: unknown = request.body;
  if (body instanceof Uint8Array) {
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return { ok: false, status: 400, message: 'body is not valid UTF-8' };
    }
  }
  let event: CloudEvent<unknown>;
  try {
    const received = HTTP.toEvent({ headers, body });
    if (Array.isArray(received)) return { ok: false, status: 415, message: 'batches are not supported: send one event per request' };
    event = received as CloudEvent<unknown>;
    // toEvent does not validate on its own.
    event.validate();
  } catch (error) {
    return { ok: false, status: 400, message: `invalid CloudEvent: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300) };
  }
  if (!(AUDIT_TYPES as readonly string[]).includes(event.type)) return { ok: true, event: undefined, reason: `type ${event.type} is not a baton audit event` };
  const parsed = parseAuditEvent({ ...event.toJSON(), data: event.data });
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`);
    return { ok: false, status: 400, message: `${event.type} does not match its schema: ${issues.join('; ')}` };
  }
  return { ok: true, event: parsed.data };
}

/** Applies one event to several balancers; "applied" if any of them used it. */
export function applyToAll(balancers: readonly EndpointsBalancer[], event: AuditEvent): HintResult {
  let result: HintResult = { applied: false, reason: 'other-service' };
  for (const b of balancers) {
    const r = b.applyEvent(event);
    if (r.applied) result = r;
    else if (!result.applied && r.reason !== 'other-service') result = r;
  }
  return result;
}

export interface BalancerEventsOptions {
  /** Largest body read, in bytes. Default 1 MiB. */
  readonly bodyLimit?: number;
  /**
   * Checks the sender before the body is read. false: 401 and nothing is applied. A
   * throw or rejection: 503 (the sender retries), with no detail in the reply.
   */
  readonly authorize?: (request: Request) => boolean | Promise<boolean>;
}

export function balancerEvents(balancers: EndpointsBalancer | readonly EndpointsBalancer[], { bodyLimit = 1_048_576, authorize }: BalancerEventsOptions = {}): Router {
  const list = Array.isArray(balancers) ? balancers : [balancers as EndpointsBalancer];
  const router = express.Router();
  const checkSender = (req: Request, res: express.Response, next: express.NextFunction): void => {
    if (!authorize) return next();
    Promise.resolve()
      .then(() => authorize(req))
      .then(
        (allowed) => {
          if (allowed === true) next();
          else res.status(401).json({ error: 'sender not authorized' });
        },
        () => res.status(503).json({ error: 'could not check the sender; retry later' }),
      );
  };
  router.post('/', checkSender, express.raw({ type: () => true, limit: bodyLimit }), (req, res) => {
    const parsed = parseAuditDelivery({ headers: req.headers, body: req.body as unknown });
    if (!parsed.ok) {
      res.status(parsed.status).json({ error: parsed.message });
      return;
    }
    if (!parsed.event) {
      res.status(200).setHeader(OUTCOME_HEADER, 'ignored').setHeader(DETAIL_HEADER, parsed.reason).end();
      return;
    }
    const result = applyToAll(list, parsed.event);
    res.status(200).setHeader(OUTCOME_HEADER, result.applied ? 'applied' : 'ignored');
    if (!result.applied) res.setHeader(DETAIL_HEADER, result.reason);
    res.end();
  });
  return router;
}
