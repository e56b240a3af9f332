// Turns one HTTP delivery into a typed event, or into the 4xx that says why not.
// Every rejection is a 400/415 because Knative does not retry those: a malformed event
// will not become well-formed on the next attempt.
import { CloudEvent, HTTP, ValidationError } from 'cloudevents';
import type { ZodError } from 'zod';
import { isJsonMediaType, isUtf8, parseMediaType } from './content-type.js';
import {
  isWatchedKind,
  objectSchemas,
  type EndpointSlice,
  type Ingress,
  type Pod,
  type Service,
  type WatchedKind,
} from './objects.js';

export interface IncomingRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw bytes, text, or an object a framework already parsed. */
  readonly body: unknown;
}

export type Action = 'add' | 'update' | 'delete';

const RESOURCE_ACTIONS: Readonly<Record<string, Action>> = {
  'dev.knative.apiserver.resource.add': 'add',
  'dev.knative.apiserver.resource.update': 'update',
  'dev.knative.apiserver.resource.delete': 'delete',
};

const REFERENCE_TYPE_PREFIX = 'dev.knative.apiserver.ref.';

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

type Failure = Extract<ParseResult, { ok: false }>;

const REQUIRED_ATTRIBUTES = ['id', 'source', 'type', 'specversion'] as const;
const STRUCTURED = 'application/cloudevents+json';
const BATCH = 'application/cloudevents-batch+json';

/** Never throws: anything unexpected becomes a 400 rather than a crashed request. */
export function parseIncoming(request: IncomingRequest, screen?: Screen): ParseResult {
  try {
    return parse(request, screen);
  } catch (err) {
    return fail(400, `not a valid CloudEvent: ${errorText(err)}`);
  }
}

function parse(request: IncomingRequest, screen: Screen | undefined): ParseResult {
  const headers = lowerCaseHeaders(request.headers);
  const media = parseMediaType(headers['content-type']);

  if (media?.essence === BATCH) {
    return fail(415, `batch mode (${BATCH}) is not supported: send one event per request`);
  }
  if (media?.essence.startsWith('application/cloudevents')) {
    if (media.essence !== STRUCTURED) {
      return fail(415, `unsupported event format ${media.essence}: only ${STRUCTURED} is accepted`);
    }
    if (!isUtf8(media.charset)) return fail(415, `unsupported charset ${media.charset ?? ''}: use utf-8`);
    return parseStructured(request.body, screen);
  }
  if (Object.keys(headers).some((name) => name.startsWith('ce-'))) {
    return parseBinary(headers, request.body, screen);
  }
  if (media !== undefined && !isJsonMediaType(media.essence)) {
    return fail(
      415,
      `unsupported content-type ${media.essence}: send a CloudEvent in binary mode (ce-* headers) or structured mode (${STRUCTURED})`,
    );
  }
  return fail(400, `not a CloudEvent: no ce-* headers (binary mode) and content-type is not ${STRUCTURED} (structured mode)`);
}

function parseStructured(body: unknown, screen: Screen | undefined): ParseResult {
  const decoded = decodeBody(body);
  if ('status' in decoded) return decoded;
  let envelope: unknown = decoded.value;
  if (typeof envelope === 'string') {
    if (envelope.trim() === '') return fail(400, 'empty body: a structured-mode event is a JSON object');
    const parsed = parseJson(envelope);
    if (!parsed.ok) return fail(400, `body is not valid JSON: ${parsed.error}`);
    envelope = parsed.value;
  }
  if (Array.isArray(envelope)) {
    return fail(400, 'batch mode is not supported: the body is a JSON array; send one event per request');
  }
  if (!isRecord(envelope)) return fail(400, 'structured-mode body must be a JSON object');

  const missing = checkRequired((name) => envelope[name], (name) => `"${name}"`);
  if (missing) return missing;

  // data stays out of the SDK: it would turn data_base64 into a Uint32Array and wrap
  // non-JSON text in quotes. The SDK only judges the attributes.
  const { data, data_base64: dataBase64, ...attributes } = envelope;
  const sdk = sdkValidate({ headers: { 'content-type': STRUCTURED }, body: attributes });
  if (sdk) return sdk;

  const rawData = typeof dataBase64 === 'string' ? Buffer.from(dataBase64, 'base64') : data;
  const contentType = typeof envelope['datacontenttype'] === 'string' ? envelope['datacontenttype'] : undefined;
  return classify(attributes, () => decodeData(rawData, contentType), screen, undefined);
}

function parseBinary(headers: Record<string, string>, body: unknown, screen: Screen | undefined): ParseResult {
  const missing = checkRequired((name) => headers[`ce-${name}`], (name) => `"${name}" (header ce-${name})`);
  if (missing) return missing;

  const { 'content-type': contentType, ...ceHeaders } = headers;
  const sdkHeaders: Record<string, string> = { ...ceHeaders };
  if (contentType !== undefined) sdkHeaders['content-type'] = contentType;
  const sdk = sdkValidate({ headers: sdkHeaders, body: undefined });
  if (sdk) return sdk;

  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(ceHeaders)) {
    if (name.startsWith('ce-')) attributes[name.slice(3)] = value;
  }
  return classify(
    attributes,
    () => {
      const decoded = decodeBody(body);
      return 'status' in decoded ? decoded : decodeData(decoded.value, contentType);
    },
    screen,
    body instanceof Uint8Array ? body : undefined,
  );
}

function classify(
  attributes: Record<string, unknown>,
  readData: () => { value: unknown } | Failure,
  screen: Screen | undefined,
  rawBody: Uint8Array | undefined,
): ParseResult {
  const meta = eventMeta(attributes);
  if ('status' in meta) return meta;

  const action = RESOURCE_ACTIONS[meta.type];
  if (action === undefined) {
    const reason = meta.type.startsWith(REFERENCE_TYPE_PREFIX)
      ? 'Reference-mode ApiServerSource event; baton needs mode: Resource'
      : `type ${meta.type} is not an ApiServerSource resource event`;
    return other(meta, reason);
  }

  const kindExtension = typeof attributes['kind'] === 'string' ? attributes['kind'] : undefined;
  // An unwatched kind is ignored before its data is even read, so a broken Deployment
  // event can never cost a retry loop.
  if (kindExtension !== undefined && !isWatchedKind(kindExtension)) {
    return other(meta, `kind ${kindExtension} is not watched by baton`);
  }
  // Likewise an event the function can tell from its attributes it will not act on
  // (e.g. a pod in a namespace with no opted-in Service): no decoding, no JSON, no zod.
  if (kindExtension !== undefined && screen !== undefined) {
    const namespace = typeof attributes['namespace'] === 'string' ? attributes['namespace'] : undefined;
    const reason = screen({ kind: kindExtension, namespace, body: rawBody });
    if (reason !== undefined) return other(meta, reason);
  }

  const data = readData();
  if ('status' in data) return data;
  if (data.value === undefined || data.value === null) {
    return fail(400, 'data: required; a resource event carries the object');
  }
  const dataKind = isRecord(data.value) && typeof data.value['kind'] === 'string' ? data.value['kind'] : undefined;
  if (kindExtension !== undefined && dataKind !== undefined && dataKind !== kindExtension) {
    return fail(400, `data.kind: "${dataKind}" does not match the kind extension "${kindExtension}"`);
  }
  const kind = kindExtension ?? dataKind;
  if (kind === undefined) return other(meta, 'resource event names no kind');
  if (!isWatchedKind(kind)) return other(meta, `kind ${kind} is not watched by baton`);

  return resourceEvent(meta, action, kind, data.value);
}

function resourceEvent(meta: EventMeta, action: Action, kind: WatchedKind, data: unknown): ParseResult {
  const mismatch = (error: ZodError): ParseResult =>
    fail(400, `data does not match kind ${kind}: ${describeIssues(error)}`);
  // One branch per kind keeps the object's type tied to its discriminant without casts.
  switch (kind) {
    case 'Pod': {
      const parsed = objectSchemas.Pod.safeParse(data);
      return parsed.success ? ok({ ...meta, action, kind, object: parsed.data }) : mismatch(parsed.error);
    }
    case 'Service': {
      const parsed = objectSchemas.Service.safeParse(data);
      return parsed.success ? ok({ ...meta, action, kind, object: parsed.data }) : mismatch(parsed.error);
    }
    case 'EndpointSlice': {
      const parsed = objectSchemas.EndpointSlice.safeParse(data);
      return parsed.success ? ok({ ...meta, action, kind, object: parsed.data }) : mismatch(parsed.error);
    }
    case 'Ingress': {
      const parsed = objectSchemas.Ingress.safeParse(data);
      return parsed.success ? ok({ ...meta, action, kind, object: parsed.data }) : mismatch(parsed.error);
    }
  }
}

function eventMeta(attributes: Record<string, unknown>): EventMeta | Failure {
  const text = (name: string): string | undefined => {
    const value = attributes[name];
    return typeof value === 'string' ? value : undefined;
  };
  const time = text('time');
  // The SDK silently replaces an unparseable time with "now"; say so instead.
  if ((attributes['time'] !== undefined && time === undefined) || (time !== undefined && Number.isNaN(Date.parse(time)))) {
    return fail(400, `attribute "time" is not an RFC 3339 timestamp: ${clip(String(attributes['time']))}`);
  }
  const subject = text('subject');
  return {
    id: text('id') ?? '',
    type: text('type') ?? '',
    source: text('source') ?? '',
    ...(subject !== undefined ? { subject } : {}),
    ...(time !== undefined ? { time } : {}),
  };
}

function checkRequired(
  read: (name: string) => unknown,
  label: (name: string) => string,
): Failure | undefined {
  for (const name of REQUIRED_ATTRIBUTES) {
    const value = read(name);
    if (value === undefined || value === null || value === '') {
      return fail(400, `missing required CloudEvent attribute ${label(name)}`);
    }
    if (typeof value !== 'string') return fail(400, `CloudEvent attribute ${label(name)} must be a string`);
  }
  const version = read('specversion');
  if (version !== '1.0') return fail(400, `unsupported specversion "${clip(String(version))}": only "1.0" is accepted`);
  return undefined;
}

function sdkValidate(message: { headers: Record<string, string>; body: unknown }): Failure | undefined {
  try {
    const event = HTTP.toEvent(message);
    if (Array.isArray(event)) return fail(400, 'batch mode is not supported: send one event per request');
    if (!(event instanceof CloudEvent)) return fail(400, 'not a CloudEvent');
    event.validate();
    return undefined;
  } catch (err) {
    return fail(400, `invalid CloudEvent: ${errorText(err)}`);
  }
}

function decodeBody(body: unknown): { value: unknown } | Failure {
  if (body instanceof Uint8Array) {
    try {
      return { value: new TextDecoder('utf-8', { fatal: true }).decode(body) };
    } catch {
      return fail(400, 'body is not valid UTF-8');
    }
  }
  return { value: body };
}

function decodeData(raw: unknown, contentType: string | undefined): { value: unknown } | Failure {
  const media = parseMediaType(contentType);
  if (media !== undefined && !isJsonMediaType(media.essence)) {
    return fail(415, `data content type ${media.essence} is not JSON; resource events carry application/json`);
  }
  if (raw instanceof Uint8Array) {
    const decoded = decodeBody(raw);
    if ('status' in decoded) return decoded;
    raw = decoded.value;
  }
  if (typeof raw !== 'string') return { value: raw };
  if (raw.trim() === '') return { value: undefined };
  const parsed = parseJson(raw);
  return parsed.ok ? { value: parsed.value } : fail(400, `data is not valid JSON: ${parsed.error}`);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

function describeIssues(error: ZodError): string {
  const shown = error.issues.slice(0, 5).map((issue) => `${fieldPath(['data', ...issue.path])}: ${issue.message}`);
  const more = error.issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

// Brackets for keys like "kubernetes.io/service-name", which a dotted path would garble.
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (/^[A-Za-z_$][\w$]*$/.test(name)) return index === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}

function lowerCaseHeaders(headers: IncomingRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function errorText(err: unknown): string {
  if (err instanceof ValidationError && Array.isArray(err.errors) && err.errors.length > 0) {
    const details = err.errors.map((e: unknown) => {
      if (typeof e === 'string') return e;
      if (isRecord(e)) {
        const where = typeof e['instancePath'] === 'string' ? e['instancePath'].replace(/^\//, '') : '';
        return `${where ? `${where}: ` : ''}${String(e['message'])}`;
      }
      return String(e);
    });
    return clip(details.join('; '));
  }
  return clip(err instanceof Error ? err.message : String(err));
}

// Messages end up in logs and in the dead-letter's error extension; keep them bounded.
function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ok(event: InboundEvent): ParseResult {
  return { ok: true, event };
}

function other(meta: EventMeta, reason: string): ParseResult {
  return ok({ ...meta, kind: 'Other', reason });
}

function fail(status: 400 | 415, message: string): Failure {
  return { ok: false, status, message };
}
