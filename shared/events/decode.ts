// Bytes, text and JSON of a delivery turned into values, and errors into short messages.
import { ValidationError } from 'cloudevents';
import type { ZodError } from 'zod';
import { isJsonMediaType, parseMediaType } from './content-type.js';
import { fail, type Failure, type IncomingRequest } from './inbound.js';

export function decodeBody(body: unknown): { value: unknown } | Failure {
  if (body instanceof Uint8Array) {
    try {
      return { value: new TextDecoder('utf-8', { fatal: true }).decode(body) };
    } catch {
      return fail(400, 'body is not valid UTF-8');
    }
  }
  return { value: body };
}

export function decodeData(raw: unknown, contentType: string | undefined): { value: unknown } | Failure {
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

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

export function describeIssues(error: ZodError): string {
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

export function lowerCaseHeaders(headers: IncomingRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function errorText(err: unknown): string {
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
export function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
