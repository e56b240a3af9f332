// Turns one HTTP delivery into a typed event, or into the 4xx that says why not.
// Every rejection is a 400/415 because Knative does not retry those: a malformed event
// will not become well-formed on the next attempt.
import { CloudEvent, HTTP } from 'cloudevents';
import { isJsonMediaType, isUtf8, parseMediaType } from './content-type.js';
import { classify } from './classify.js';
import { clip, decodeBody, decodeData, errorText, isRecord, lowerCaseHeaders, parseJson } from './decode.js';
import { fail, type Failure, type IncomingRequest, type ParseResult, type Screen } from './inbound.js';

export type { Action, EventMeta, InboundEvent, IncomingRequest, OtherEvent, ParseResult, ResourceEvent, Screen } from './inbound.js';

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
