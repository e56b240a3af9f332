// Plain HTTPS requests to the plane's apiserver as admin, for start-up and status,
// before (or without) a client library.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { PlaneState } from './state.js';

/** GET against the apiserver with the admin token; resolves to status and body. */
export async function apiGet(state: Pick<PlaneState, 'server' | 'adminToken' | 'caFile'>, path: string): Promise<{ status: number; body: string }> {
  const ca = readFileSync(state.caFile);
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.server}${path}`,
      { method: 'GET', headers: { authorization: `Bearer ${state.adminToken}` }, agent: new Agent({ ca }), timeout: 5_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function apiWrite(state: Pick<PlaneState, 'server' | 'adminToken' | 'caFile'>, method: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  const ca = readFileSync(state.caFile);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.server}${path}`,
      {
        method,
        headers: { authorization: `Bearer ${state.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        agent: new Agent({ ca }),
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}
