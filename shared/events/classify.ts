// From a CloudEvent's attributes and data to the event baton acts on: ApiServerSource
// resource events of the watched kinds, typed by zod; anything else is "other" or a 400.
import type { ZodError } from 'zod';
import { describeIssues, isRecord, clip } from './decode.js';
import { fail, ok, other, type Action, type EventMeta, type Failure, type ParseResult, type Screen } from './inbound.js';
import { isWatchedKind, objectSchemas, type WatchedKind } from './objects.js';

const RESOURCE_ACTIONS: Readonly<Record<string, Action>> = {
  'dev.knative.apiserver.resource.add': 'add',
  'dev.knative.apiserver.resource.update': 'update',
  'dev.knative.apiserver.resource.delete': 'delete',
};

const REFERENCE_TYPE_PREFIX = 'dev.knative.apiserver.ref.';

export function classify(
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
    case 'Node': {
      const parsed = objectSchemas.Node.safeParse(data);
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
