// Which verb and resource an API request is, from its method and URL, for the request
// counter. Pure, so its table test covers every shape the ports send; anything it does
// not recognise counts as "other" rather than growing a label from a URL.
import { API_RESOURCES, API_VERBS, type ApiResource, type ApiVerb } from './metrics.js';

const APPLY_PATCH = 'application/apply-patch+yaml';

export function describeRequest(method: string, url: string, contentType?: string): { verb: ApiVerb; resource: ApiResource } {
  let parsed: URL;
  try {
    parsed = new URL(url, 'https://api.invalid');
  } catch {
    return { verb: 'other', resource: 'other' };
  }
  const segments = parsed.pathname.split('/').filter((s) => s !== '');
  // /api/v1/… or /apis/<group>/<version>/…
  const rest = segments[0] === 'api' ? segments.slice(2) : segments[0] === 'apis' ? segments.slice(3) : undefined;
  if (rest === undefined) return { verb: 'other', resource: 'other' };
  const scoped = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const name = scoped[0];
  const resource: ApiResource = name !== undefined && (API_RESOURCES as readonly string[]).includes(name) ? (name as ApiResource) : 'other';
  const named = scoped.length >= 2;
  const verb = verbOf(method.toUpperCase(), named, parsed.searchParams.get('watch'), contentType);
  return { verb, resource };
}

function verbOf(method: string, named: boolean, watch: string | null, contentType: string | undefined): ApiVerb {
  let verb: string;
  if (method === 'GET') verb = watch === 'true' || watch === '1' ? 'watch' : named ? 'get' : 'list';
  else if (method === 'POST') verb = 'create';
  else if (method === 'PUT') verb = 'update';
  else if (method === 'PATCH') verb = contentType?.startsWith(APPLY_PATCH) ? 'apply' : 'patch';
  else if (method === 'DELETE') verb = 'delete';
  else verb = 'other';
  return (API_VERBS as readonly string[]).includes(verb) ? (verb as ApiVerb) : 'other';
}
