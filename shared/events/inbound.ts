// What parsing a delivery yields: the typed events, and the 4xx that says why not.
import type { EndpointSlice, Ingress, Node, Pod, Service } from './objects.js';

export type Action = 'add' | 'update' | 'delete';

export interface IncomingRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw bytes, text, or an object a framework already parsed. */
  readonly body: unknown;
}

export interface EventMeta {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly time?: string;
}

export type ResourceEvent = EventMeta & { readonly action: Action } & (
    | { readonly kind: 'Pod'; readonly object: Pod }
    | { readonly kind: 'Service'; readonly object: Service }
    | { readonly kind: 'EndpointSlice'; readonly object: EndpointSlice }
    | { readonly kind: 'Ingress'; readonly object: Ingress }
    | { readonly kind: 'Node'; readonly object: Node }
  );

/** A valid CloudEvent baton does not act on; `reason` says why, for the log line. */
export interface OtherEvent extends EventMeta {
  readonly kind: 'Other';
  readonly reason: string;
}

export type InboundEvent = ResourceEvent | OtherEvent;

/**
 * Looks at a resource event before its data is read: a reason to ignore it, or
 * undefined to read on. It sees the attributes (ApiServerSource sets the kind, name and
 * namespace extensions) and, in binary mode, the raw body; it must not need the data.
 */
export type Screen = (event: { readonly kind: string; readonly namespace: string | undefined; readonly body: Uint8Array | undefined }) => string | undefined;

export type ParseResult =
  | { readonly ok: true; readonly event: InboundEvent }
  | { readonly ok: false; readonly status: 400 | 415; readonly message: string };

export type Failure = Extract<ParseResult, { ok: false }>;

export function ok(event: InboundEvent): ParseResult {
  return { ok: true, event };
}

export function other(meta: EventMeta, reason: string): ParseResult {
  return ok({ ...meta, kind: 'Other', reason });
}

export function fail(status: 400 | 415, message: string): Failure {
  return { ok: false, status, message };
}
