// Objects exactly as the API server serves them (JSON, string timestamps): the shape an
// ApiServerSource adapter puts into an event's data, for tests that deliver events by hand.
import { apiGet } from '../../../plane/api.js';
import { testPlane } from './plane.js';

export type Json = Record<string, unknown> & {
  metadata: Record<string, unknown> & { resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
};

export async function raw(path: string): Promise<Json> {
  const r = await apiGet(testPlane(), path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as Json;
}

export const servicePath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/services/${name}`;
export const podPath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/pods/${name}`;
