// Hand-made deliveries for the functions: events shaped exactly like the
// ApiServerSource adapter's (binary mode, its extensions), but with whatever object
// the test wants to claim, and raw requests that are not events at all.
import { randomUUID } from 'node:crypto';

export interface Wire {
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
}

export interface Answer {
  readonly status: number;
  readonly outcome: string | null;
  /** X-Request-Id: the key of the function's log line for this request, where the detail is. */
  readonly requestId: string | null;
  /** Every reply header, one "name: value" a line, and the raw body: all a caller learns. */
  readonly headers: string;
  readonly body: string;
  /** The JSON `error` of a 4xx/5xx answer, or the raw body when it is not that shape. */
  readonly error: string;
}

export type Kind = 'Pod' | 'Service' | 'EndpointSlice' | 'Ingress';

const PATHS: Record<Kind, (ns: string, name: string) => string> = {
  Pod: (ns, name) => `/apis/v1/namespaces/${ns}/pods/${name}`,
  Service: (ns, name) => `/apis/v1/namespaces/${ns}/services/${name}`,
  EndpointSlice: (ns, name) => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}`,
  Ingress: (ns, name) => `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/${name}`,
};

const API_VERSIONS: Record<Kind, string> = { Pod: 'v1', Service: 'v1', EndpointSlice: 'discovery.k8s.io/v1', Ingress: 'networking.k8s.io/v1' };

export interface ObjectLike {
  readonly metadata?: object;
}

function field(meta: object | undefined, key: string): string | undefined {
  const value: unknown = meta && key in meta ? (meta as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** An adapter-style resource event carrying `object` (any shape: it is what is claimed). */
export function resourceEvent(kind: Kind, action: 'add' | 'update' | 'delete', object: ObjectLike, extra: Record<string, string> = {}): Wire {
  const ns = field(object.metadata, 'namespace') ?? 'default';
  const name = field(object.metadata, 'name') ?? 'unnamed';
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': 'https://127.0.0.1:6443',
      'ce-type': `dev.knative.apiserver.resource.${action}`,
      'ce-subject': PATHS[kind](ns, name),
      'ce-time': new Date().toISOString(),
      'ce-kind': kind,
      'ce-name': name,
      'ce-namespace': ns,
      'ce-apiversion': API_VERSIONS[kind],
      ...extra,
    },
    body: JSON.stringify(object),
  };
}

/** What a PingSource sends the resync function. */
export function ping(): Wire {
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': '/apis/v1/namespaces/baton-system/pingsources/resync',
      'ce-type': 'dev.knative.sources.ping',
    },
    body: '{}',
  };
}

export async function deliver(url: string, wire: Wire, { method = 'POST', path = '/' } = {}): Promise<Answer> {
  const response = await fetch(new URL(path, url), { method, headers: wire.headers, ...(method === 'GET' ? {} : { body: wire.body }), signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let error = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string') error = parsed.error;
  } catch {
    // Not JSON: keep the raw text, the assertion will show it.
  }
  return {
    status: response.status,
    outcome: response.headers.get('baton-outcome'),
    requestId: response.headers.get('x-request-id'),
    headers: [...response.headers.entries()].map(([name, value]) => `${name}: ${value}`).join('\n'),
    body: text,
    error,
  };
}
