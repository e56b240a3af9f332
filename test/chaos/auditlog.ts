// Reads the plane's apiserver audit log: what a ServiceAccount really asked of the
// API server, counted by the server, not by the client that might under-report.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ApiRequest {
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly code: number;
}

interface Entry {
  readonly stage?: string;
  readonly verb?: string;
  readonly user?: { readonly username?: string };
  readonly objectRef?: { readonly resource?: string; readonly subresource?: string; readonly namespace?: string; readonly name?: string };
  readonly responseStatus?: { readonly code?: number };
}

export const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export function serviceAccountUser(name: string, namespace = 'baton-system'): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export function auditLogPath(planeDir: string): string {
  return join(planeDir, 'logs', 'audit.log');
}

/** Where the log ends now; pass it to requestsSince() later. */
export function auditOffset(planeDir: string): number {
  const path = auditLogPath(planeDir);
  if (!existsSync(path)) throw new Error(`no audit log at ${path}: the plane must run with auditLog: true`);
  return statSync(path).size;
}

/**
 * The whole lines written after byte `from`. The API server may be half-way through a
 * line at either end: a line cut at `from` began before the window, and a line cut at
 * the end is not finished yet, so both are left out.
 */
export function linesSince(log: Buffer, from: number): string[] {
  const NL = 0x0a;
  const start = from === 0 || log[from - 1] === NL ? from : log.indexOf(NL, from) + 1;
  const end = log.lastIndexOf(NL) + 1;
  if (start === 0 && from > 0) return [];
  if (start >= end) return [];
  return log.subarray(start, end).toString('utf8').split('\n').filter((line) => line.trim() !== '');
}

/** Completed requests by `user` written after byte `from`. */
export function requestsSince(planeDir: string, from: number, user: string): ApiRequest[] {
  const out: ApiRequest[] = [];
  for (const line of linesSince(readFileSync(auditLogPath(planeDir)), from)) {
    const entry = JSON.parse(line) as Entry;
    if (entry.stage !== 'ResponseComplete' || entry.user?.username !== user) continue;
    const ref = entry.objectRef ?? {};
    out.push({
      verb: entry.verb ?? '?',
      resource: `${ref.resource ?? '?'}${ref.subresource ? `/${ref.subresource}` : ''}`,
      namespace: ref.namespace,
      name: ref.name,
      code: entry.responseStatus?.code ?? 0,
    });
  }
  return out;
}

/** "patch services" (with " 404" appended for a refused request): easy to compare as a list. */
export function describeRequest(r: ApiRequest): string {
  return `${r.verb} ${r.resource}${r.code >= 300 ? ` ${r.code}` : ''}`;
}

/** Writes that the server accepted. Refused attempts (409, 404, 403) changed nothing. */
export function acceptedWrites(requests: readonly ApiRequest[]): ApiRequest[] {
  return requests.filter((r) => WRITE_VERBS.has(r.verb) && r.code >= 200 && r.code < 300);
}

export function tally(items: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of [...items].sort()) out[item] = (out[item] ?? 0) + 1;
  return out;
}
